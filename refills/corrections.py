"""Corrections of the therapy record: a refill or a prescription entered by mistake is
voided with a reason by the roles that may record it (a prescription: a prescriber), never
deleted; a correction voids it and records the right entry in the same transaction, the new
entry pointing to the one it corrects. The history keeps the original, the correction, who
and why (django-simple-history, with the reason).

Only the pump's latest entry can be voided: every later entry was checked against it (a
prescription between refills applies to the refill's concentration, a refill's expected
residual comes from the record before it), so later entries are voided first, newest first.
Projections, alerts, appointments and the drift trend follow at once, in the transaction.
"""

from __future__ import annotations

from django.db import transaction

import therapy
from patients.permissions import CLINICAL_WRITERS, PRESCRIBERS, require_role
from patients.services import save_audited
from pumpcare import clock

from . import drift
from .models import ImplantMonitoring, Prescription, Refill
from .projections import projections_refresh
from .services import TherapyChange, local_time, lock_active_pump, prescription_create, refill_record
from .signals import pump_projection_changed, refill_voided


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise therapy.CalculationError("reason", "is required: say why the entry is voided or corrected")
    return reason


def _not_voided(entry, what: str) -> None:
    if entry.voided_at is not None:
        by = f" by {entry.voided_by}" if entry.voided_by else ""
        raise therapy.CalculationError(
            what,
            f"this {what} was already voided on {local_time(entry.voided_at, entry.pump.clinic)}{by}",
            code="voided",
        )


def _later_entries(pump, at, *, own_prescription: int | None = None) -> str:
    """What was recorded on the pump after ``at`` (words), or ``""``."""
    later = [
        f"the refill of {local_time(r.performed_at, pump.clinic)}"
        for r in Refill.objects.filter(pump=pump, performed_at__gt=at).order_by("performed_at")
    ]
    prescriptions = Prescription.objects.filter(pump=pump, effective_at__gte=at).exclude(pk=own_prescription)
    later += [
        f"the prescription of {local_time(p.effective_at, pump.clinic)}"
        for p in prescriptions.order_by("effective_at")
        if p.effective_at > at or p.refill_id is not None
    ]
    return ", ".join(later)


def _void(entry, *, actor, reason: str) -> None:
    entry.voided_at, entry.voided_by, entry.void_reason = clock.now(), actor, reason
    save_audited(entry, actor=actor, reason=f"voided: {reason}")


def _after(pump, *, actor) -> None:
    projections_refresh([pump.pk], force=True)
    drift.drift_alert_update(pump, actor=actor)
    pump_projection_changed.send(sender=Refill, pumps=[pump])


@transaction.atomic
def refill_void(*, actor, refill: Refill, reason: str) -> Refill:
    """Void a refill entered by mistake, with the prescription programmed at it. The pump's
    record is then what it was before the refill."""
    pump = lock_active_pump(refill.pump)
    require_role(actor, pump.clinic, CLINICAL_WRITERS, "Voiding a refill")
    reason = _reason(reason)
    refill = Refill.all_objects.select_related("pump__patient__clinic", "voided_by").get(pk=refill.pk)
    _not_voided(refill, "refill")
    own = Prescription.objects.filter(refill=refill).first()
    if later := _later_entries(pump, refill.performed_at, own_prescription=own.pk if own else None):
        raise therapy.CalculationError(
            "refill", f"{later} came after this refill: void them first, newest first", code="later_entries"
        )
    if own is not None:
        _void(own, actor=actor, reason=reason)
    _void(refill, actor=actor, reason=reason)
    refill_voided.send(sender=Refill, refill=refill, actor=actor)
    _after(pump, actor=actor)
    return refill


@transaction.atomic
def refill_correct(*, actor, refill: Refill, correction_reason: str, **fields) -> TherapyChange:
    """Void a refill and record the right one in its place (the same checks as any refill)."""
    reason = _reason(correction_reason)
    voided = refill_void(actor=actor, refill=refill, reason=f"corrected: {reason}")
    change = refill_record(actor=actor, pump=voided.pump, **fields)
    change.refill.corrects = voided
    save_audited(
        change.refill,
        actor=actor,
        reason=f"corrects the refill of {local_time(voided.performed_at, voided.pump.clinic)}: {reason}",
    )
    # IMPLANT-1: the monitoring after an implant happened whatever was mistyped about the fill:
    # it follows the corrected implant fill (and is checked against its time), and stays with
    # the voided one only when the correction says the fill was not the implant fill.
    monitoring = ImplantMonitoring.objects.filter(refill=voided).first()
    if monitoring is not None and change.refill.implant_fill:
        monitoring.refill = change.refill
        save_audited(monitoring, actor=actor, reason=f"follows the corrected implant fill: {reason}")
    return change


@transaction.atomic
def prescription_void(*, actor, prescription: Prescription, reason: str) -> Prescription:
    """Void a prescription entered by mistake between refills (a prescriber). A refill's own
    prescription is voided with the refill; an MRI emptying's is not voided here."""
    pump = lock_active_pump(prescription.pump)
    require_role(actor, pump.clinic, PRESCRIBERS, "Voiding a prescription")
    reason = _reason(reason)
    prescription = Prescription.all_objects.select_related("pump__patient__clinic", "voided_by").get(
        pk=prescription.pk
    )
    _not_voided(prescription, "prescription")
    if prescription.refill_id is not None:
        raise therapy.CalculationError(
            "prescription",
            "this prescription was programmed at a refill: void or correct the refill instead",
            code="refill_prescription",
        )
    if prescription.empties_reservoir:
        raise therapy.CalculationError(
            "prescription",
            "this prescription records the pump's emptying before an MRI: it cannot be voided",
            code="emptying",
        )
    if later := _later_entries(pump, prescription.effective_at, own_prescription=prescription.pk):
        raise therapy.CalculationError(
            "prescription",
            f"{later} came after this prescription: void them first, newest first",
            code="later_entries",
        )
    _void(prescription, actor=actor, reason=reason)
    _after(pump, actor=actor)
    return prescription


@transaction.atomic
def prescription_correct(*, actor, entry: Prescription, correction_reason: str, **fields) -> TherapyChange:
    """Void a prescription and record the right one in its place (TITRATE-1/2 checked
    against the record without the voided one)."""
    reason = _reason(correction_reason)
    voided = prescription_void(actor=actor, prescription=entry, reason=f"corrected: {reason}")
    change = prescription_create(actor=actor, pump=voided.pump, **fields)
    change.prescription.corrects = voided
    save_audited(
        change.prescription,
        actor=actor,
        reason=f"corrects the prescription of {local_time(voided.effective_at, voided.pump.clinic)}: {reason}",
    )
    return change
