"""The end of a pump's therapy: a replacement, which continues the therapy, or an explant
without one, which stops it (TITRATE-2, IMPLANT-1).

These live in ``refills``, not in ``patients``, because they carry the therapy: a
replacement pump's first prescription is checked against the doses of the pump it replaces
(TITRATE-1, the history is the patient's), and a pump explanted without a replacement
implanted the same day is a discontinuation that needs a prescriber's override with a
reason and raises a critical alert. ``patients.services.pump_update`` refuses status
changes, so these two services are the only ways a pump stops being active.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction

import therapy
from alerts.models import AlertKind, Severity
from alerts.services import alert_raise
from patients.models import CatheterModel, Pump, PumpModel, PumpStatus
from patients.permissions import PRESCRIBERS, PUMP_WRITERS, require_role
from patients.services import pump_create, save_audited
from pumpcare import clock

from . import drift
from .models import PumpExplant
from .projections import projections_refresh
from .services import lock_active_pump
from .signals import pump_projection_changed, pump_retired


def pump_explant(*, actor, pump: Pump, explanted_on: date, reason: str, override_reason: str) -> PumpExplant:
    """TITRATE-2: explant a pump (or take it out of service) with no replacement implanted
    the same day. The patient's intrathecal therapy stops: this needs the prescriber role
    and a written reason, keeps a dose of 0 in the patient's history from the day it
    stopped (so a later pump restarts only with a prescriber's override) and raises a
    critical discontinuation alert."""
    # a block, not @transaction.atomic: mutmut does not mutate a decorated function
    with transaction.atomic():
        pump = lock_active_pump(pump)
        clinic = pump.clinic
        if not (override_reason or "").strip():
            raise therapy.CalculationError(
                "override_reason",
                "Explanting a pump without a replacement implanted the same day stops the therapy, "
                f"which causes withdrawal ({therapy.titration.WITHDRAWAL_SIGNS}), typically within "
                "1–3 days. It needs a prescriber's override with a written reason. To replace the "
                "pump, record a replacement instead.",
                code="discontinuation_requires_override",
            )
        require_role(
            actor, clinic, PRESCRIBERS, "Explanting a pump without a replacement (stopping the therapy)"
        )
        last_event = _check_explant_day(pump, explanted_on)
        day_starts = datetime.combine(explanted_on, time(0), tzinfo=clinic.tz)
        stopped_at = max(day_starts, last_event + timedelta(seconds=1)) if last_event else day_starts
        _mark_explanted(
            actor, pump, explanted_on, f"explanted without replacement: {override_reason}", replaced=False
        )
        record = PumpExplant(
            pump=pump,
            explanted_on=explanted_on,
            stopped_at=stopped_at,
            reason=(reason or "").strip() or "explanted without replacement",
            override_reason=override_reason,
            recorded_by=actor,
        )
        save_audited(record, actor=actor, reason=f"discontinuation — override: {override_reason}")
        alert_raise(
            clinic=clinic,
            pump=pump,
            kind=AlertKind.DISCONTINUATION,
            severity=Severity.CRITICAL,
            message=(
                f"Pump {pump} of {pump.patient} was explanted on {therapy.day_text(explanted_on)} without a "
                f"replacement, by {actor}: {override_reason}. Intrathecal therapy has stopped. Watch for "
                f"withdrawal ({therapy.titration.WITHDRAWAL_SIGNS}), typically within 1–3 days."
            ),
            actor=actor,
        )
        pump_projection_changed.send(sender=PumpExplant, pumps=[pump])
        return record


@transaction.atomic
def pump_replace(
    *,
    actor,
    old_pump: Pump,
    explanted_on: date,
    reason: str,
    model: PumpModel,
    serial_number: str,
    catheter_model: CatheterModel,
    catheter_length_cm: Decimal,
    low_reservoir_alarm_ml: Decimal | None = None,
    eri_on: date | None = None,
) -> Pump:
    """Replace a pump: explant ``old_pump`` and implant the new one for the same patient on
    the same day, in one transaction. The therapy continues (no discontinuation): the new
    pump's first fill is checked against the patient's dose history (TITRATE-1) and its
    concentration against the patient's (IMPLANT-1), when it is recorded."""
    old_pump = lock_active_pump(old_pump)
    require_role(actor, old_pump.clinic, PUMP_WRITERS, "Replacing a pump")
    if not (reason or "").strip():
        raise therapy.CalculationError(
            "reason", "Say why the pump is replaced (for example: end of battery life)."
        )
    _check_explant_day(old_pump, explanted_on)
    _mark_explanted(actor, old_pump, explanted_on, f"replaced: {reason}", replaced=True)
    new_pump = pump_create(
        actor=actor,
        patient=old_pump.patient,
        model=model,
        serial_number=serial_number,
        implanted_on=explanted_on,
        catheter_model=catheter_model,
        catheter_length_cm=catheter_length_cm,
        low_reservoir_alarm_ml=low_reservoir_alarm_ml,
        eri_on=eri_on,
    )
    record = PumpExplant(
        pump=old_pump, explanted_on=explanted_on, replaced_by=new_pump, reason=reason, recorded_by=actor
    )
    save_audited(record, actor=actor, reason=f"replaced by {new_pump}: {reason}")
    pump_projection_changed.send(sender=PumpExplant, pumps=[old_pump])
    return new_pump


def _check_explant_day(pump: Pump, explanted_on: date) -> datetime | None:
    """The explant day is a local date of the clinic: not in the future, not before the
    implant, not before the pump's last recorded refill or prescription. Returns that last
    event's instant."""
    clinic = pump.clinic
    today = clock.now().astimezone(clinic.tz).date()
    if explanted_on > today:
        raise therapy.CalculationError(
            "explanted_on", "The explant date is in the future: record an explant once it has happened."
        )
    if explanted_on < pump.implanted_on:
        raise therapy.CalculationError(
            "explanted_on",
            f"The explant date is before the pump was implanted ({therapy.day_text(pump.implanted_on)}).",
        )
    events = [
        pump.refills.order_by("-performed_at").values_list("performed_at", flat=True).first(),
        pump.prescriptions.order_by("-effective_at").values_list("effective_at", flat=True).first(),
    ]
    events = [e for e in events if e is not None]
    last_event = max(events) if events else None
    if last_event is not None and explanted_on < last_event.astimezone(clinic.tz).date():
        raise therapy.CalculationError(
            "explanted_on",
            "The explant date is before the pump's last recorded refill or prescription "
            f"({therapy.instant_text(last_event, clinic.tz)}).",
        )
    return last_event


def _mark_explanted(actor, pump: Pump, explanted_on: date, why: str, *, replaced: bool) -> None:
    pump.status = PumpStatus.EXPLANTED
    pump.explanted_on = explanted_on
    save_audited(pump, actor=actor, reason=why)
    projections_refresh([pump.pk])
    drift.drift_alerts_resolve(pump, why="the pump was explanted")  # DRIFT-1
    # its open appointments end with it (scheduling), and their reminders with them
    pump_retired.send(sender=PumpExplant, pump=pump, actor=actor, replaced=replaced)
