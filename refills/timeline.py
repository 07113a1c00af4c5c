"""The therapy record's part of a patient's timeline: the screening trial (SCREEN-1), the
implant fill and the monitoring after it (IMPLANT-1), refills with their observed delivery
(DRIFT-1), visit assessments (MONITOR-1), prescriptions between refills, and the end of a
pump's therapy (replacement or explant)."""

from __future__ import annotations

from decimal import Decimal

import therapy
from patients.models import Patient
from patients.timeline import Event, on_day, register

from .models import ImplantMonitoring, Prescription, PumpExplant, Refill, ScreeningBolus, VisitAssessment


def _n(value: Decimal | None) -> str:
    """A stored quantity without trailing zeros: 20.00 → 20, 0.156 → 0.156."""
    return "" if value is None else format(value.normalize(), "f")


def _user(user) -> str:
    return user.username if user else ""


def _voided_title(entry) -> str:
    return "Voided — " if entry.voided_at is not None else ""


def _voided(entry) -> str:
    """Who voided an entry, when and why, in the clinic's zone."""
    when = therapy.instant_text(entry.voided_at, entry.pump.patient.clinic.tz)
    return f"voided {when} by {_user(entry.voided_by)}: {entry.void_reason}"


def therapy_events(patient: Patient) -> list[Event]:
    events: list[Event] = []
    for bolus in ScreeningBolus.objects.filter(trial__patient=patient).select_related("recorded_by"):
        response = "response" if bolus.responded else "no response"
        if bolus.responded and bolus.effect_duration_hours is not None:
            response += f" lasting {_n(bolus.effect_duration_hours)} h"
        events.append(
            Event(
                at=bolus.given_at,
                kind="screening_bolus",
                title=f"Screening bolus {_n(bolus.dose_mcg)} mcg: {response}",
                detail=f"adverse reactions: {bolus.adverse_reactions}" if bolus.adverse_reactions else "",
                by=bolus.observed_by,
            )
        )
    # Voided entries stay on the timeline, said to be voided, with who and why.
    refills = Refill.all_objects.filter(pump__patient=patient).select_related(
        "pump__patient__clinic", "performed_by", "prescription", "voided_by"
    )
    for refill in refills:
        dose = getattr(refill, "prescription", None)
        what = f"{_n(refill.volume_added_ml)} mL at {_n(refill.concentration_mcg_per_ml)} mcg/mL"
        if dose is not None:
            what += f", {_n(dose.daily_dose_mcg)} mcg/day"
        details = []
        if refill.priming_volume_ml is not None:
            details.append(f"new catheter primed with {_n(refill.priming_volume_ml)} mL")
        if refill.discrepancy:
            details.append(
                f"residual {refill.get_discrepancy_display().lower()} ({_n(refill.discrepancy_ml)} mL)"
            )
        if refill.delivery_ratio is not None:  # DRIFT-1
            ratio = f"observed delivery ratio {_n(refill.delivery_ratio)}"
            if refill.delivery_drift:
                ratio += f" ({refill.get_delivery_drift_display().lower()})"
            details.append(ratio)
        if refill.bridge_path_volume_ml is not None:
            details.append(
                f"concentration changed from {_n(refill.bridge_from_concentration_mcg_per_ml)} mcg/mL: "
                f"bridge bolus {_n(refill.bridge_path_volume_ml)} mL over {_n(refill.bridge_duration_hours)} h"
            )
        if refill.voided_at is not None:
            details.insert(0, _voided(refill))
        events.append(
            Event(
                at=refill.performed_at,
                kind="implant_fill" if refill.implant_fill else "refill",
                title=_voided_title(refill)
                + ("Implant fill: " if refill.implant_fill else "Refill: ")
                + what,
                detail="; ".join(details),
                by=_user(refill.performed_by),
                pump=refill.pump,
            )
        )
    between = Prescription.all_objects.filter(pump__patient=patient, refill__isnull=True).select_related(
        "pump__patient__clinic", "prescriber", "created_by", "voided_by"
    )
    for row in between:
        events.append(
            Event(
                at=row.effective_at,
                kind="prescription",
                title=_voided_title(row)
                + f"Prescription: {_n(row.daily_dose_mcg)} mcg/day ({row.get_mode_display().lower()})",
                detail=(_voided(row) + "; " if row.voided_at is not None else "")
                + row.reason
                + (f"; override: {row.override_reason}" if row.override_reason else ""),
                by=_user(row.prescriber) or _user(row.created_by),
                pump=row.pump,
            )
        )
    for visit in VisitAssessment.objects.filter(pump__patient=patient).select_related("pump", "assessed_by"):
        withdrawal = [words for words, is_withdrawal in visit.observed if is_withdrawal]
        side_effects = [words for words, is_withdrawal in visit.observed if not is_withdrawal]
        found = []
        if withdrawal:
            found.append("withdrawal signs: " + ", ".join(withdrawal))
        if side_effects:
            found.append("signs of too much drug: " + ", ".join(side_effects))
        events.append(
            Event(
                at=visit.assessed_at,
                kind="assessment",
                title=f"Assessment ({visit.get_visit_kind_display().lower()}): "
                + ("; ".join(found) or "no sign observed"),
                detail=visit.notes,
                by=_user(visit.assessed_by),
                pump=visit.pump,
                rank=2,  # after the refill it was made at
            )
        )
    for record in ImplantMonitoring.objects.filter(refill__pump__patient=patient).select_related(
        "refill__pump"
    ):
        until = (
            f" until {therapy.units.instant_text(record.ended_at, patient.clinic.tz)}"
            if record.ended_at
            else " (under way)"
        )
        events.append(
            Event(
                at=record.started_at,
                kind="implant_monitoring",
                title="Monitoring after the implant" + until,
                detail=record.findings,
                by=record.observed_by,
                pump=record.refill.pump,
            )
        )
    for explant in PumpExplant.objects.filter(pump__patient=patient).select_related(
        "pump", "replaced_by", "recorded_by"
    ):
        if explant.replaced_by_id:
            title = f"Pump replaced by serial {explant.replaced_by.serial_number}: the therapy continues"
        else:
            title = "Pump explanted without a replacement: the therapy stopped"
        events.append(
            Event(
                at=on_day(explant.explanted_on, patient),
                kind="replacement" if explant.replaced_by_id else "explant",
                title=title,
                detail=explant.reason
                + (f"; override: {explant.override_reason}" if explant.override_reason else ""),
                by=_user(explant.recorded_by),
                pump=explant.pump,
                all_day=True,
                rank=0,
            )
        )
    return events


def register_timeline() -> None:
    register("therapy", therapy_events)
