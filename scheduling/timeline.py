"""Scheduling's part of a patient's timeline: titration visits and replacement surgeries
that took place, and every appointment the patient missed (a no-show)."""

from __future__ import annotations

from datetime import datetime

from patients.models import Patient
from patients.timeline import Event, on_day, register

from .models import Appointment, AppointmentKind, AppointmentStatus


def appointment_events(patient: Patient) -> list[Event]:
    events = []
    rows = (
        Appointment.objects.filter(pump__patient=patient)
        .filter(status__in=[AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW])
        .exclude(kind=AppointmentKind.REFILL, status=AppointmentStatus.COMPLETED)  # the refill says it
        .select_related("pump", "nurse")
    )
    for appointment in rows:
        timed = appointment.time is not None
        at = (
            datetime.combine(appointment.day, appointment.time, tzinfo=patient.clinic.tz)
            if timed
            else on_day(appointment.day, patient)
        )
        missed = appointment.status == AppointmentStatus.NO_SHOW
        kind = appointment.get_kind_display()
        events.append(
            Event(
                at=at,
                kind="no_show" if missed else appointment.kind,
                title=f"Missed: {kind.lower()} (no-show)" if missed else kind,
                detail=appointment.notes,
                by=appointment.nurse.username if appointment.nurse else "",
                pump=appointment.pump,
                all_day=not timed,
            )
        )
    return events


def register_timeline() -> None:
    register("appointments", appointment_events)
