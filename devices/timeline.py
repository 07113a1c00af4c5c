"""The devices' part of a patient's timeline: interrogations with the alarms read (DEVICE-1)
and MRIs with their follow-up (MRI-1). A Prometra II emptied before its scan shows as the
zero-dose prescription it was recorded as (TITRATE-2), from the therapy record."""

from __future__ import annotations

import therapy
from patients.models import Patient
from patients.timeline import Event, register
from therapy.device import alarm_words

from .models import Interrogation, Mri


def device_events(patient: Patient) -> list[Event]:
    events = []
    for row in Interrogation.objects.filter(pump__patient=patient).select_related("pump", "interrogated_by"):
        alarms = alarm_words(row.alarms)
        details = [f"ERI date set to {therapy.day_text(row.eri_on)}"] if row.eri_on else []
        if row.notes:
            details.append(row.notes)
        events.append(
            Event(
                at=row.interrogated_at,
                kind="interrogation",
                title=f"Pump interrogated: {alarms or 'no alarm'}",
                detail="; ".join(details),
                by=row.interrogated_by.username,
                pump=row.pump,
            )
        )
    for mri in Mri.objects.filter(pump__patient=patient).select_related("pump", "planned_by"):
        if mri.cancelled_at:
            state = f"cancelled ({mri.cancel_reason})" if mri.cancel_reason else "cancelled"
        elif mri.completed_at:
            state = "follow-up done"
        else:
            state = "follow-up open"
        events.append(
            Event(
                at=mri.scan_at,
                kind="mri",
                title=f"MRI: {mri.get_follow_up_display().lower()} — {state}",
                detail=mri.notes,
                by=mri.planned_by.username,
                pump=mri.pump,
            )
        )
    return events


def register_timeline() -> None:
    register("devices", device_events)
