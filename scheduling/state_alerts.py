"""Pump-state alerts (ALERT-1) raised and resolved on persisted state: past empty, past
alarm, refill overdue, refill due and not booked; and the words of these and of the
replacement alerts, read from the pump's current projection whenever shown or sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import models, transaction

import therapy
from alerts import messages
from alerts.models import Alert, AlertKind, Severity
from alerts.services import alert_raise, alert_resolve
from patients.models import Clinic, Pump, PumpStatus
from pumpcare import clinical, clock
from refills.models import PumpProjection
from refills.projections import Counts, by_clinic, loaded_projection, projections_refresh_stale

from .models import Appointment, AppointmentKind, AppointmentStatus
from .replacements import replacement_alert_words
from .worklist import refill_booked, worklist


@dataclass
class StateAlertsResult(Counts):
    raised: int = 0
    resolved: int = 0


def state_alerts_run(clinic: Clinic, *, pump_ids: list[int] | None = None) -> StateAlertsResult:
    """ALERT-1 on persisted state: each active pump past its projected empty time (worst
    case), past its alarm time, overdue (refill-by passed without a refill, booked or not),
    or due within the alert window with no refill booked has one alert of that kind, raised
    once and kept until the state ends (a refill, a booking) — acknowledging stops its
    emails, not the alert's record. What an alert says is worded from the pump's current
    dates whenever it is shown or sent (``alert_text``). ``pump_ids`` limits the pass to
    those pumps (a refill resolves its pump's alerts in its own transaction)."""
    result = StateAlertsResult()
    now = clock.now()
    today = now.astimezone(clinic.tz).date()
    due_soon = today + timedelta(days=clinical.alert_due_within_days())
    active = Pump.objects.filter(patient__clinic=clinic, status=PumpStatus.ACTIVE)
    if pump_ids is not None:
        active = active.filter(pk__in=pump_ids)
    # Never from a stale projection: recomputed first; a pump another transaction is
    # recomputing keeps its alerts as they are until the next pass.
    held = projections_refresh_stale(active)
    alarm_ahead = models.Q(projection__low_reservoir_alarm_at_worst_case__gt=now) | models.Q(
        projection__low_reservoir_alarm_at_worst_case__isnull=True
    )
    conditions = [
        models.Q(projection__empty_at_worst_case__lte=now),
        # Past the alarm and not yet empty — or never to be empty: therapy stopped or the
        # reservoir emptied (MRI-1) after the alarm, which leaves the pump past it.
        models.Q(projection__low_reservoir_alarm_at_worst_case__lte=now)
        & (
            models.Q(projection__empty_at_worst_case__gt=now)
            | models.Q(projection__empty_at_worst_case__isnull=True)
        ),
        alarm_ahead & models.Q(projection__refill_by__lt=today),
        alarm_ahead
        & models.Q(
            projection__refill_by__gte=today, projection__refill_by__lte=due_soon, refill_booked=False
        ),
    ]
    in_a_state = conditions[0] | conditions[1] | conditions[2] | conditions[3]
    # One query for the four states (the pumps in none are not read); a pump in several
    # takes the last, listed where the first would list it. A few pumps (a refill's, a
    # booking's): which of them are in a state is asked first, in a lighter query than the
    # worklist's ranking (nearly always: none, and nothing more is read).
    if pump_ids is None:
        pumps = worklist(clinic, now=now).exclude(pk__in=held).filter(in_a_state)
    else:
        ids = list(
            active.exclude(pk__in=held)
            .annotate(refill_booked=refill_booked())
            .filter(in_a_state)
            .values_list("pk", flat=True)
        )
        pumps = worklist(clinic, now=now).filter(in_a_state, pk__in=ids) if ids else []
    found = []
    for pump in pumps:
        matched = _states_of(pump, now, today, due_soon)
        if matched:
            found.append((matched[0], matched[-1], pump))
    states: dict[int, tuple[str, Pump]] = {}
    for _, kind, pump in sorted(found, key=lambda row: row[0]):  # stable: the worklist's order
        states[pump.pk] = (STATE_ORDER[kind], pump)
    open_alerts = Alert.objects.filter(
        clinic=clinic, kind__in=list(STATE_ALERTS), resolved_at__isnull=True
    ).select_for_update()
    if pump_ids is not None:
        open_alerts = open_alerts.filter(pump_id__in=pump_ids)
    with transaction.atomic():
        have = set()
        for alert in open_alerts.exclude(pump_id__in=held):
            if states.get(alert.pump_id, (None,))[0] == alert.kind:
                have.add(alert.pump_id)
            else:
                alert_resolve(alert=alert, why="the pump is no longer in that state")
                result.resolved += 1
        for pump_id, (kind, pump) in states.items():
            if pump_id in have:
                continue
            message = state_alert_text(kind, pump, clinic, now) or ""
            alert_raise(clinic=clinic, pump=pump, kind=kind, severity=STATE_ALERTS[kind], message=message)
            result.raised += 1
    return result


STATE_ORDER = [
    AlertKind.PAST_EMPTY,
    AlertKind.PAST_ALARM,
    AlertKind.REFILL_OVERDUE,
    AlertKind.REFILL_UNBOOKED,
]


def _states_of(pump: Pump, now, today, due_soon) -> list[int]:
    """The indexes in ``STATE_ORDER`` of the states the pump is in, by the conditions of
    ``state_alerts_run``'s query read the way the database reads them (a missing date
    matches no comparison)."""
    projection = getattr(pump, "projection", None)
    if projection is None:
        return []
    empty, alarm = projection.empty_at_worst_case, projection.low_reservoir_alarm_at_worst_case
    refill_by = projection.refill_by
    alarm_ahead = alarm is None or alarm > now
    matched = [
        empty is not None and empty <= now,
        alarm is not None and alarm <= now and (empty is None or empty > now),
        alarm_ahead and refill_by is not None and refill_by < today,
        alarm_ahead and refill_by is not None and today <= refill_by <= due_soon and not pump.refill_booked,
    ]
    return [index for index, yes in enumerate(matched) if yes]


# --- what an alert says (ALERT-1: the pump's current dates, when shown or sent) ------------

STATE_ALERTS = {
    AlertKind.PAST_EMPTY: Severity.CRITICAL,
    AlertKind.PAST_ALARM: Severity.WARNING,
    AlertKind.REFILL_OVERDUE: Severity.WARNING,
    AlertKind.REFILL_UNBOOKED: Severity.WARNING,
}


def _local(instant, clinic: Clinic) -> str:
    """An instant as the clinic's staff read it: ``Wed 25 Nov 2026 14:35 CET``."""
    return therapy.units.instant_text(instant, clinic.tz)


def _refill_by_words(projection: PumpProjection, clinic: Clinic) -> str:
    if projection.refill_by_reason == "drug_stability":
        return "the drug's maximum time in the reservoir"
    if projection.refill_by_reason == "emptied":
        return "the reservoir was emptied that day"
    alarm = projection.low_reservoir_alarm_at_worst_case
    if alarm is None:
        return "the worst-case alarm date less the safety margin"
    alarm_on = alarm.astimezone(clinic.tz).date()
    return f"worst-case alarm {therapy.day_text(alarm_on)} less {clinic.safety_margin_days} days"


def _booked_words(pump: Pump) -> str:
    booked = (
        Appointment.objects.filter(pump=pump, kind=AppointmentKind.REFILL, status=AppointmentStatus.BOOKED)
        .order_by("day")
        .first()
    )
    if booked is None:
        return "No refill is booked: book it on the earliest working day."
    return f"A refill is booked on {therapy.day_text(booked.day)}."


def state_alert_text(kind: str, pump: Pump, clinic: Clinic, now) -> str | None:
    """ALERT-1: the words of a pump's state alert from its stored projection as it is now
    (None when the pump has no projection to word it from)."""
    projection = loaded_projection(pump)  # loaded with the pump where shown in lists
    if projection is None:
        return None
    who = f"Pump {pump} ({pump.patient})"
    if kind == AlertKind.PAST_EMPTY and projection.empty_at_worst_case:
        return (
            f"{who} is past its projected empty time (worst case, "
            f"{_local(projection.empty_at_worst_case, clinic)}) without a refill: withdrawal risk, "
            "reach the patient now."
        )
    if kind == AlertKind.PAST_ALARM and projection.low_reservoir_alarm_at_worst_case:
        empty = projection.empty_at_worst_case
        return (
            f"{who} is past its low-reservoir alarm time (worst case, "
            f"{_local(projection.low_reservoir_alarm_at_worst_case, clinic)}) without a refill"
            + (f"; projected empty (worst case) {_local(empty, clinic)}." if empty else ".")
        )
    if projection.refill_by is None:
        return None
    today = now.astimezone(clinic.tz).date()
    if kind == AlertKind.REFILL_OVERDUE:
        days = therapy.refill_overdue_days(projection.refill_by, today)
        if days is None:
            return None  # no longer overdue: the record of what was raised is shown
        return (
            f"{who}: the refill is overdue by {days} day{'s' if days != 1 else ''}. The refill-by date "
            f"was {therapy.day_text(projection.refill_by)} ({_refill_by_words(projection, clinic)}). "
            + _booked_words(pump)
        )
    if kind == AlertKind.REFILL_UNBOOKED:
        return (
            f"{who} must be refilled by {therapy.day_text(projection.refill_by)} "
            f"({_refill_by_words(projection, clinic)}) and no refill is booked."
        )
    return None


def _alert_text(alert: Alert) -> str | None:
    pump = alert.pump
    return state_alert_text(alert.kind, pump, pump.patient.clinic, clock.now())


def register_alert_texts() -> None:
    """Word the state and replacement alerts from the pump's current projection wherever
    they are shown or sent (``alerts.messages``; called when the app is ready)."""
    for kind in STATE_ALERTS:
        messages.register(kind, _alert_text)
    for kind in (AlertKind.REPLACEMENT_PLANNING, AlertKind.REPLACEMENT_OVERDUE):
        messages.register(kind, replacement_alert_words)


def state_alerts_run_all() -> StateAlertsResult:
    return sum((state_alerts_run(clinic) for clinic in Clinic.objects.all()), StateAlertsResult())


def on_pump_projection_changed(sender, *, pumps, **kwargs) -> None:
    """A refill, prescription or explant changed the pumps' projections: their state alerts
    are raised or resolved in the same transaction (a refill ends its past-alarm escalations)."""
    for clinic, pump_ids in by_clinic(pumps):
        state_alerts_run(clinic, pump_ids=pump_ids)
