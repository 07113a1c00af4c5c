"""Reads of the device record: a pump's interrogations and MRIs, and where an MRI's
follow-up stands (MRI-1, from the core)."""

from __future__ import annotations

from datetime import datetime

import therapy
from patients.models import Pump
from therapy.device import alarm_class

from .models import Interrogation, Mri


def pump_interrogations(pump: Pump):
    return (
        Interrogation.objects.filter(pump=pump).select_related("interrogated_by").order_by("-interrogated_at")
    )


def pump_mris(pump: Pump):
    return (
        Mri.objects.filter(pump=pump)
        .select_related("planned_by", "interrogation", "pump__patient__clinic")
        .order_by("-scan_at")
    )


def alarms_by_class(interrogation: Interrogation) -> dict[str, list[str]]:
    """DEVICE-1: the alarms read, as ``{critical: [...], eri: [...], logged: [...]}``."""
    found: dict[str, list[str]] = {"critical": [], "eri": [], "logged": []}
    for code in interrogation.alarms:
        found[alarm_class(code)].append(code)
    return found


def mri_state(mri: Mri, now: datetime) -> therapy.MriState:
    """MRI-1: where the MRI's follow-up stands now. A Prometra II's follow-up is complete
    once its refill after the scan was booked on the scan day (``scheduling.mri`` decides
    it and records ``completed_at``)."""
    tz = mri.pump.patient.clinic.tz
    due_on = therapy.units.local_date(mri.scan_at, tz)
    return therapy.mri_state(
        follow_up=mri.follow_up,
        scan_at=mri.scan_at,
        now=now,
        tz=tz,
        cancelled=mri.cancelled_at is not None,
        interrogated_at=mri.interrogation.interrogated_at if mri.interrogation_id else None,
        emptied_at=mri.emptied_at,
        refill_booked_on=due_on if mri.completed_at is not None else None,
    )


def open_mris(clinic=None, pump_ids=None):
    """MRIs whose follow-up is neither done nor cancelled."""
    mris = Mri.objects.filter(completed_at__isnull=True, cancelled_at__isnull=True).select_related(
        "pump__patient__clinic", "pump__model", "interrogation"
    )
    if clinic is not None:
        mris = mris.filter(pump__patient__clinic=clinic)
    if pump_ids is not None:
        mris = mris.filter(pump_id__in=pump_ids)
    return mris
