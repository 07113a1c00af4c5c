"""A clinic's whole registry in the import's columns (CSV or XLSX): an import of an export
is a no-op. One row per active pump; a patient without an active pump gets one row with
the pump columns empty. A row holds one caregiver: the patient's first is on each of their
rows, and each further caregiver on a row of its own, with the patient's columns and no
pump (docs/import.md), which the import reads as "this caregiver, for this patient"."""

from __future__ import annotations

from datetime import datetime

from patients.models import Clinic, Patient, PumpStatus
from refills.models import Prescription, Refill
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus

from .notation import prescription_text
from .spreadsheet import write


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _num(value) -> str:
    return format(value.normalize(), "f") if value is not None else ""


def local_text(at: datetime, tz) -> str:
    """The local date-time the import reads back as the same instant: seconds when they are
    not zero, the UTC offset when the local time occurs twice (a daylight-saving change)."""
    local = at.astimezone(tz)
    naive = local.replace(tzinfo=None)
    text = naive.strftime("%Y-%m-%d %H:%M" if naive.second == 0 else "%Y-%m-%d %H:%M:%S")
    other = naive.replace(tzinfo=tz, fold=1 - local.fold)
    if other.utcoffset() != local.utcoffset():
        minutes = int(local.utcoffset().total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        text += f" {sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return text


def registry_rows(clinic: Clinic) -> list[dict[str, str]]:
    """The clinic's registry as rows of text keyed by column."""
    tz = clinic.tz
    patients = (
        Patient.objects.filter(clinic=clinic)
        .prefetch_related("caregivers", "pumps__model", "pumps__catheter_model")
        .order_by("mrn")
    )
    last_refills: dict[int, Refill] = {}
    for refill in Refill.objects.filter(pump__patient__clinic=clinic).order_by("performed_at", "pk"):
        last_refills[refill.pump_id] = refill
    current: dict[int, Prescription] = {}
    for row in Prescription.objects.filter(pump__patient__clinic=clinic).order_by("effective_at", "pk"):
        current[row.pump_id] = row
    booked = {
        a.pump_id: a
        for a in Appointment.objects.filter(
            pump__patient__clinic=clinic, kind=AppointmentKind.REFILL, status=AppointmentStatus.BOOKED
        )
    }
    rows = []
    for patient in patients:
        caregivers = sorted(patient.caregivers.all(), key=lambda c: c.pk)
        base = {
            "mrn": patient.mrn,
            "family_name": patient.family_name,
            "given_name": patient.given_name,
            "birth_date": patient.birth_date.isoformat(),
            "origin": patient.spasticity_origin,
            "phone": patient.phone,
            "email": patient.email,
            "consent": _yes(patient.communication_consent),
        }
        patient_only = dict(base)
        if caregivers:
            base |= _caregiver(caregivers[0])
        pumps = sorted(
            (p for p in patient.pumps.all() if p.status == PumpStatus.ACTIVE), key=lambda p: p.implanted_on
        )
        if not pumps:
            rows.append(base)
        for pump in pumps:
            row = base | {
                "pump_model": pump.model.code,
                "pump_serial": pump.serial_number,
                "implanted_on": pump.implanted_on.isoformat(),
                "catheter_model": pump.catheter_model.code,
                "catheter_length_cm": _num(pump.catheter_length_cm),
                "eri_on": pump.eri_on.isoformat() if pump.eri_on else "",
            }
            refill = last_refills.get(pump.pk)
            prescription = current.get(pump.pk)
            if refill is not None and prescription is not None:
                row |= {
                    "last_refill_at": local_text(refill.performed_at, tz),
                    "volume_ml": _num(refill.volume_added_ml),
                    "concentration_mcg_per_ml": _num(refill.concentration_mcg_per_ml),
                    "compounded": _yes(refill.compounded_confirmed),
                    "prescription": prescription_text(prescription.schedule),
                }
            appointment = booked.get(pump.pk)
            if appointment is not None:
                row["next_appointment"] = appointment.day.isoformat() + (
                    f" {appointment.time:%H:%M}" if appointment.time else ""
                )
            rows.append(row)
        rows += [patient_only | _caregiver(c) for c in caregivers[1:]]
    return rows


def _caregiver(caregiver) -> dict[str, str]:
    return {
        "caregiver_name": caregiver.name,
        "caregiver_relation": caregiver.relation,
        "caregiver_phone": caregiver.phone,
        "caregiver_email": caregiver.email,
        "caregiver_consent": _yes(caregiver.communication_consent),
    }


def registry_export(clinic: Clinic, kind: str) -> bytes:
    """The clinic's registry as a ``csv`` or ``xlsx`` file."""
    return write(registry_rows(clinic), kind)
