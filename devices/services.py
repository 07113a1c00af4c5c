"""Writes of the device record: interrogations with their alarms (DEVICE-1, ERI-1) and
MRIs with their follow-up (MRI-1). Each checks roles, asks the core what the input means,
stores and audits it in one transaction (a refusal writes nothing), and tells scheduling
that the pump's MRI follow-up may have changed (``signals.mri_follow_up_changed``)."""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction

import therapy
from alerts.models import AlertKind, Severity
from alerts.services import alert_raise
from patients.models import Pump
from patients.permissions import CLINICAL_WRITERS, require_role
from patients.services import pump_update, save_audited
from pumpcare import clock
from refills.models import Refill
from refills.services import local_time, lock_active_pump, prescription_create
from therapy.device import EMPTY_BEFORE, INTERROGATE_AFTER, alarm_words

from .models import Interrogation, Mri
from .signals import mri_follow_up_changed

# TITRATE-2: emptying the pump stops the therapy, recorded as a prescription of 0 mcg/day.
ZERO_DOSE = {"mode": "simple_continuous", "daily_dose_mcg": "0"}


def _check_at(pump: Pump, at: datetime, field: str) -> None:
    """Not in the future, not before the implant (REFILL-2's rule for an event's time)."""
    therapy.check_event_time(
        at=at, now=clock.now(), implanted_on=pump.implanted_on, tz=pump.clinic.tz, field=field
    )


@transaction.atomic
def interrogation_record(
    *,
    actor,
    pump: Pump,
    interrogated_at: datetime,
    alarms: list[str],
    eri_since: date | None = None,
    notes: str = "",
) -> Interrogation:
    """DEVICE-1: log an interrogation and the alarms read. A critical alarm (motor stall,
    memory error, end of service) raises a critical alert, escalated to the on-call address
    until acknowledged; an ERI alarm enters the pump's ERI date through the pump service
    (ERI-1: no longer an estimate), so the projection and replacement planning (ERI-2)
    read it. An interrogation at or after a SynchroMed II's scan completes that MRI's
    follow-up."""
    pump = lock_active_pump(pump)
    clinic = pump.clinic
    require_role(actor, clinic, CLINICAL_WRITERS, "Recording a pump interrogation")
    _check_at(pump, interrogated_at, "interrogated_at")
    findings = therapy.interrogation_findings(
        alarms=list(alarms),
        interrogated_at=interrogated_at,
        tz=clinic.tz,
        implanted_on=pump.implanted_on,
        eri_since=eri_since,
    )
    interrogation = Interrogation(
        pump=pump,
        interrogated_at=interrogated_at,
        interrogated_by=actor,
        alarms=list(alarms),
        eri_on=findings.eri_on,
        notes=notes,
    )
    save_audited(
        interrogation, actor=actor, reason="interrogated" + (f": {alarm_words(alarms)}" if alarms else "")
    )
    if findings.critical:
        alert_raise(
            clinic=clinic,
            pump=pump,
            kind=AlertKind.DEVICE_ALARM,
            severity=Severity.CRITICAL,
            message=(
                f"Pump {pump} ({pump.patient}) showed {alarm_words(findings.critical)} at its "
                f"interrogation of {local_time(interrogated_at, clinic)} by {actor}: the pump may not "
                f"deliver. Withdrawal risk ({therapy.titration.WITHDRAWAL_SIGNS}): reach the patient "
                "and the physician now."
            ),
            actor=actor,
        )
    if findings.eri_on is not None and findings.eri_on != pump.eri_on:
        pump_update(
            actor=actor,
            pump=pump,
            changes={"eri_on": findings.eri_on},
            reason=f"ERI alarm read at the interrogation of {local_time(interrogated_at, clinic)}",
        )
    for mri in Mri.objects.select_for_update().filter(
        pump=pump,
        follow_up=INTERROGATE_AFTER,
        interrogation__isnull=True,
        cancelled_at__isnull=True,
        scan_at__lte=interrogated_at,
    ):
        mri.interrogation = interrogation
        mri.completed_at = clock.now()
        save_audited(mri, actor=actor, reason="interrogated after the scan")
    mri_follow_up_changed.send(sender=Interrogation, pump=pump)
    return interrogation


@transaction.atomic
def mri_plan(*, actor, pump: Pump, scan_at: datetime, notes: str = "") -> Mri:
    """MRI-1: record a planned (or already done) MRI. Its follow-up is the pump model's
    from the catalog; a model without MRI guidance on file is refused, never guessed."""
    pump = lock_active_pump(pump)
    require_role(actor, pump.clinic, CLINICAL_WRITERS, "Planning an MRI")
    follow_up = therapy.mri_follow_up(pump.model.mri_follow_up, model=str(pump.model.code))
    if therapy.units.local_date(scan_at, pump.clinic.tz) < pump.implanted_on:
        raise therapy.CalculationError("scan_at", "is before the pump was implanted")
    mri = Mri(pump=pump, scan_at=scan_at, follow_up=follow_up, planned_by=actor, notes=notes)
    save_audited(mri, actor=actor, reason="MRI planned")
    mri_follow_up_changed.send(sender=Mri, pump=pump)
    return mri


@transaction.atomic
def mri_emptying_record(*, actor, mri: Mri, emptied_at: datetime, override_reason: str) -> Mri:
    """MRI-1 / TITRATE-2: a Prometra II is emptied before the scan. Emptying stops the
    therapy and leaves nothing in the reservoir: it is recorded as a prescription of
    0 mcg/day that empties the reservoir (projected as holding 0 mL from then) through the therapy record,
    which refuses it without a prescriber's override and a written reason and raises the
    discontinuation alert. The refill after the scan is then to be booked the same day."""
    mri = Mri.objects.select_for_update().select_related("pump__patient__clinic").get(pk=mri.pk)
    pump = mri.pump
    require_role(actor, pump.clinic, CLINICAL_WRITERS, "Recording the emptying of a pump")
    if mri.follow_up != EMPTY_BEFORE:
        raise therapy.CalculationError(
            "mri",
            f"pump model {pump.model.code} is not emptied for an MRI: it is interrogated after the scan",
        )
    if not mri.is_open:
        raise therapy.CalculationError("mri", "this MRI is cancelled or its follow-up is done", code="closed")
    if mri.emptied_at is not None:
        raise therapy.CalculationError(
            "mri", f"the pump was already emptied for this MRI ({local_time(mri.emptied_at, pump.clinic)})"
        )
    therapy.check_emptying_time(emptied_at=emptied_at, scan_at=mri.scan_at, tz=pump.clinic.tz)
    change = prescription_create(
        actor=actor,
        pump=pump,
        effective_at=emptied_at,
        prescription=ZERO_DOSE,
        reason=f"pump emptied before the MRI of {local_time(mri.scan_at, pump.clinic)}",
        override_reason=override_reason,
        empties_reservoir=True,
    )
    mri.emptied_at, mri.emptying = emptied_at, change.prescription
    save_audited(mri, actor=actor, reason="pump emptied before the scan")
    mri_follow_up_changed.send(sender=Mri, pump=pump)
    return mri


@transaction.atomic
def mri_cancel(*, actor, mri: Mri, reason: str) -> Mri:
    """The MRI will not happen: its follow-up is no longer due."""
    mri = Mri.objects.select_for_update().select_related("pump__patient__clinic").get(pk=mri.pk)
    require_role(actor, mri.pump.clinic, CLINICAL_WRITERS, "Cancelling an MRI")
    if not (reason or "").strip():
        raise therapy.CalculationError("reason", "is required: say why the MRI is cancelled")
    if not mri.is_open:
        raise therapy.CalculationError(
            "mri", "this MRI is already cancelled or its follow-up is done", code="closed"
        )
    mri.cancelled_at, mri.cancel_reason = clock.now(), reason.strip()
    save_audited(mri, actor=actor, reason=f"MRI cancelled: {reason.strip()}")
    mri_follow_up_changed.send(sender=Mri, pump=mri.pump)
    return mri


@transaction.atomic
def mri_complete(*, mri: Mri, why: str, refill: Refill | None = None) -> Mri:
    """The follow-up is done (scheduling decides it for a Prometra II: its refill after the
    scan booked on the scan day, or ``refill``, the refill after the scan, recorded)."""
    mri = Mri.objects.select_for_update().get(pk=mri.pk)
    if mri.completed_at is None:
        mri.completed_at, mri.completed_by_refill = clock.now(), refill
        save_audited(mri, actor=None, reason=f"follow-up done: {why}")
    return mri


@transaction.atomic
def mri_reopen(*, actor, mri: Mri, why: str) -> Mri:
    """The follow-up a refill completed is open again: that refill did not happen (it was
    voided), so the pump was not refilled after the scan (scheduling decides it). The MRI's
    follow-up is then worked out again, and its alert raised if it is due."""
    mri = Mri.objects.select_for_update().select_related("pump").get(pk=mri.pk)
    if mri.completed_at is None or mri.cancelled_at is not None:
        return mri
    mri.completed_at, mri.completed_by_refill = None, None
    save_audited(mri, actor=actor, reason=f"follow-up open again: {why}")
    mri_follow_up_changed.send(sender=Mri, pump=mri.pump)
    return mri
