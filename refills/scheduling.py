"""Appointments: the refill proposals of the scheduling job (LRA-5) and what nurses do with
appointments (book, move, cancel, no-show). Writes go through here, each in one
transaction, audited like every clinical change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Count, Exists, OuterRef

import therapy
from alerts import messages
from alerts.models import Alert, AlertKind, Severity
from alerts.outbox import appointment_reminders_plan
from alerts.services import alert_raise, alert_resolve
from patients.models import Clinic, Pump, PumpStatus
from patients.permissions import PATIENT_WRITERS, require_role
from patients.services import save_audited
from pumpcare import clinical, clock

from . import selectors
from .models import OPEN_STATUSES, Appointment, AppointmentKind, AppointmentStatus, PumpProjection
from .projections import Counts


@dataclass
class SchedulingResult(Counts):
    proposed: int = 0
    no_slot: int = 0
    overdue: int = 0
    over_capacity: int = 0
    withdrawn: int = 0
    no_shows: int = 0
    closed_day_alerts: int = 0


def local_today(clinic: Clinic) -> date:
    return clock.now().astimezone(clinic.tz).date()


def _calendar(clinic: Clinic) -> tuple[set[int], set[date]]:
    return set(clinic.working_days), set(clinic.closures.values_list("date", flat=True))


@transaction.atomic
def refill_proposals_run(clinic: Clinic) -> SchedulingResult:
    """LRA-5 for one clinic, in order:

    1. a booked refill whose day has passed without a refill is a no-show;
    2. a proposal on a day that has passed, that the clinic no longer works, or that no
       longer fits the refill-by date is withdrawn (and made again below, at once);
    3. a booked appointment on a day the clinic no longer works raises an alert for a nurse
       to move it;
    4. every active pump with a refill-by date and no open refill appointment gets a
       proposal (``therapy.refill_day``): the latest working day with a free slot before
       refill-by, else the earliest working day from today — overdue when refill-by has
       passed, and with an alert that the clinic is over capacity when that day is full.
       A pump is never left without a proposal; only a clinic without working days is
       alerted instead.

    Two runs racing create no duplicate: the database allows one open refill appointment
    per pump, and a proposal that loses the race is dropped.
    """
    result = SchedulingResult()
    today = local_today(clinic)
    weekdays, closures = _calendar(clinic)
    result.no_shows = _passed_bookings_no_show(clinic, today)
    result.withdrawn = _withdraw_stale_proposals(clinic, today, weekdays, closures)
    result.closed_day_alerts = _closed_day_alerts(clinic, today, weekdays, closures)
    open_refill = Appointment.objects.filter(
        pump=OuterRef("pk"), kind=AppointmentKind.REFILL, status__in=OPEN_STATUSES
    )
    pumps = list(
        Pump.objects.filter(
            patient__clinic=clinic, status=PumpStatus.ACTIVE, projection__refill_by__isnull=False
        )
        .exclude(Exists(open_refill))
        .select_related("projection", "patient")
        .order_by("projection__refill_by", "pk")
    )
    booked = dict(
        Appointment.objects.filter(
            pump__patient__clinic=clinic,
            kind=AppointmentKind.REFILL,
            status__in=OPEN_STATUSES,
            day__gte=today,
        )
        .values_list("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    slots = clinic.refill_slots_per_day
    for pump in pumps:
        full = {day for day, n in booked.items() if slots is not None and n >= slots}
        try:
            choice = therapy.refill_day(
                pump.projection.refill_by,
                today=today,
                working_weekdays=weekdays,
                closures=closures,
                full_days=full,
            )
        except therapy.CalculationError as refusal:
            result.no_slot += _no_slot_alert(pump, refusal.message)
            continue
        if _propose(pump, choice.day, overdue=choice.overdue):
            booked[choice.day] = booked.get(choice.day, 0) + 1
            result.proposed += 1
            result.overdue += choice.overdue
            if choice.over_capacity:
                result.over_capacity += _over_capacity_alert(pump, choice.day, slots)
    for alert in Alert.objects.filter(
        clinic=clinic, kind=AlertKind.OVER_CAPACITY, resolved_at__isnull=True
    ).exclude(
        Exists(
            Appointment.objects.filter(
                pump=OuterRef("pump"), kind=AppointmentKind.REFILL, status=AppointmentStatus.PROPOSED
            )
        )
    ):
        alert_resolve(alert=alert, why="the proposal was booked, withdrawn or the pump refilled")
    for alert in Alert.objects.filter(
        clinic=clinic, kind=AlertKind.NO_REFILL_SLOT, resolved_at__isnull=True
    ).filter(
        Exists(
            Appointment.objects.filter(
                pump=OuterRef("pump"), kind=AppointmentKind.REFILL, status__in=OPEN_STATUSES
            )
        )
    ):
        alert_resolve(alert=alert, why="the pump has a refill proposal or booking")
    return result


def _passed_bookings_no_show(clinic: Clinic, today: date) -> int:
    """LRA-5: a booked refill whose day has passed without a refill (which would have
    completed it) is a no-show; the pump is proposed again at once."""
    count = 0
    for appointment in Appointment.objects.select_for_update(of=("self",)).filter(
        pump__patient__clinic=clinic,
        kind=AppointmentKind.REFILL,
        status=AppointmentStatus.BOOKED,
        day__lt=today,
    ):
        appointment.status = AppointmentStatus.NO_SHOW
        save_audited(appointment, actor=None, reason="no-show: the day passed without a refill")
        appointment_reminders_plan(appointment)
        count += 1
    return count


def _withdraw_stale_proposals(clinic: Clinic, today: date, weekdays: set[int], closures: set[date]) -> int:
    """LRA-5: a proposal is withdrawn, to be proposed again at once, when its day has passed,
    when the clinic no longer works that day (a closure, a change of working days), when it
    falls after a refill-by date that still leaves a working day before it (a refill, a dose
    or a catalog change moved refill-by), or when the refill is overdue and an earlier
    working day is open."""
    count = 0
    proposals = Appointment.objects.filter(
        pump__patient__clinic=clinic, kind=AppointmentKind.REFILL, status=AppointmentStatus.PROPOSED
    ).select_related("pump__projection")
    earliest = None
    for appointment in proposals.select_for_update(of=("self",)):
        projection = getattr(appointment.pump, "projection", None)
        refill_by = projection.refill_by if projection else None
        why = ""
        if appointment.day < today:
            why = "the day passed"
        elif appointment.day.isoweekday() not in weekdays or appointment.day in closures:
            why = "the clinic does not work that day any more"
        elif refill_by is not None and appointment.day > refill_by:
            if not therapy.refill_overdue(
                refill_by, today=today, working_weekdays=weekdays, closures=closures
            ):
                why = "the refill-by date moved before it"
            else:
                if earliest is None:
                    earliest = therapy.earliest_working_day(
                        today, working_weekdays=weekdays, closures=closures
                    )
                if appointment.day != earliest:
                    why = "the refill is overdue and an earlier working day is open"
        if why:
            appointment.status = AppointmentStatus.CANCELLED
            save_audited(appointment, actor=None, reason=f"proposal withdrawn: {why}")
            count += 1
    return count


def _closed_day_alerts(clinic: Clinic, today: date, weekdays: set[int], closures: set[date]) -> int:
    """LRA-5: a booked appointment on a day the clinic no longer works raises an alert (once
    per pump) for a nurse to move it; the alert is resolved once no such booking is left."""
    on_closed = {}
    for appointment in Appointment.objects.filter(
        pump__patient__clinic=clinic, status=AppointmentStatus.BOOKED, day__gte=today
    ).select_related("pump__patient"):
        if appointment.day.isoweekday() not in weekdays or appointment.day in closures:
            on_closed.setdefault(appointment.pump_id, appointment)
    raised = 0
    have = set()
    for alert in Alert.objects.filter(
        clinic=clinic, kind=AlertKind.APPOINTMENT_DAY_CLOSED, resolved_at__isnull=True
    ):
        if alert.pump_id in on_closed:
            have.add(alert.pump_id)
        else:
            alert_resolve(alert=alert, why="the appointment was moved or cancelled")
    for pump_id, appointment in on_closed.items():
        if pump_id in have:
            continue
        pump = appointment.pump
        alert_raise(
            clinic=clinic,
            pump=pump,
            kind=AlertKind.APPOINTMENT_DAY_CLOSED,
            severity=Severity.WARNING,
            message=(
                f"{pump.patient}: the {appointment.get_kind_display().lower()} booked on "
                f"{therapy.day_text(appointment.day)} falls on a day the clinic is closed: move it "
                "and tell the patient."
            ),
        )
        raised += 1
    return raised


def _propose(pump: Pump, day: date, *, overdue: bool = False) -> bool:
    appointment = Appointment(pump=pump, kind=AppointmentKind.REFILL, day=day, proposed_by_job=True)
    reason = "proposed by the scheduling job (LRA-5)" + (
        ": overdue, on the earliest working day" if overdue else ""
    )
    try:
        with transaction.atomic():
            save_audited(appointment, actor=None, reason=reason)
    except (IntegrityError, ValidationError):
        # Another run proposed one first: its commit is seen by full_clean (ValidationError)
        # or, while it is still running, by the unique index (IntegrityError).
        if Appointment.objects.filter(
            pump=pump, kind=AppointmentKind.REFILL, status__in=OPEN_STATUSES
        ).exists():
            return False
        raise
    return True


def _no_slot_alert(pump: Pump, why: str) -> int:
    if Alert.objects.filter(
        pump=pump, kind=AlertKind.NO_REFILL_SLOT, acknowledged_at__isnull=True, resolved_at__isnull=True
    ).exists():
        return 0
    alert_raise(
        clinic=pump.patient.clinic,
        pump=pump,
        kind=AlertKind.NO_REFILL_SLOT,
        severity=Severity.WARNING,
        message=f"No refill appointment could be proposed for pump {pump} ({pump.patient}): {why}.",
    )
    return 1


def _over_capacity_alert(pump: Pump, day: date, slots: int | None) -> int:
    if Alert.objects.filter(pump=pump, kind=AlertKind.OVER_CAPACITY, resolved_at__isnull=True).exists():
        return 0
    alert_raise(
        clinic=pump.patient.clinic,
        pump=pump,
        kind=AlertKind.OVER_CAPACITY,
        severity=Severity.WARNING,
        message=(
            f"The clinic is over capacity: no day with a free refill slot (of {slots} a day) is left "
            f"before the refill-by date of pump {pump} ({pump.patient}), so its refill is proposed on "
            f"{therapy.day_text(day)}, a full day. Add a slot that day or book the refill another way."
        ),
    )
    return 1


@dataclass
class ReplacementResult(Counts):
    opened: int = 0
    escalated: int = 0


@transaction.atomic
def replacement_planning_run(clinic: Clinic) -> ReplacementResult:
    """ERI-2 for one clinic: from 6 months before ERI, a pump without a booked replacement
    gets a task for staff (an alert); once book-by (ERI − 90 days) has passed without one,
    the task escalates to an overdue alert, emailed to the on-call address daily until
    acknowledged (ALERT-1). Each is raised once and stays until a replacement is booked."""
    result = ReplacementResult()
    today = local_today(clinic)
    booked = Appointment.objects.filter(
        pump=OuterRef("pk"), kind=AppointmentKind.REPLACEMENT, status=AppointmentStatus.BOOKED
    )
    booked_for_alert = Appointment.objects.filter(
        pump=OuterRef("pump"), kind=AppointmentKind.REPLACEMENT, status=AppointmentStatus.BOOKED
    )
    for alert in Alert.objects.filter(
        clinic=clinic,
        kind__in=[AlertKind.REPLACEMENT_PLANNING, AlertKind.REPLACEMENT_OVERDUE],
        resolved_at__isnull=True,
    ).filter(models.Q(Exists(booked_for_alert)) | ~models.Q(pump__status=PumpStatus.ACTIVE)):
        alert_resolve(alert=alert, why="a replacement is booked or the pump is no longer active")
    pumps = (
        Pump.objects.filter(
            patient__clinic=clinic,
            status=PumpStatus.ACTIVE,
            projection__replacement_planning_opens_on__lte=today,
        )
        .exclude(Exists(booked))
        .select_related("projection", "patient", "model")
    )
    for pump in pumps:
        if pump.projection.replacement_book_by < today:
            kind, severity = AlertKind.REPLACEMENT_OVERDUE, Severity.WARNING
        else:
            kind, severity = AlertKind.REPLACEMENT_PLANNING, Severity.WARNING
        message = replacement_alert_text(kind, pump) or ""
        if Alert.objects.filter(pump=pump, kind=kind, resolved_at__isnull=True).exists():
            continue
        alert_raise(clinic=clinic, pump=pump, kind=kind, severity=severity, message=message)
        if kind == AlertKind.REPLACEMENT_OVERDUE:
            result.escalated += 1
        else:
            result.opened += 1
    return result


def replacement_alert_text(kind: str, pump: Pump) -> str | None:
    """ERI-2 / ALERT-1: the words of a replacement alert from the pump's current plan."""
    plan = getattr(pump, "projection", None)  # loaded with the pump where shown in lists
    if plan is None or plan.eri_on is None or plan.replacement_book_by is None:
        return None
    eri, book_by = therapy.day_text(plan.eri_on), therapy.day_text(plan.replacement_book_by)
    eos = therapy.day_text(plan.eos_on) if plan.eos_on else "unknown"
    if kind == AlertKind.REPLACEMENT_OVERDUE:
        return (
            f"Pump {pump} ({pump.patient}): the replacement had to be booked by {book_by} "
            f"(ERI {eri}{', estimated' if plan.eri_estimated else ''}; the pump stops at EOS {eos})."
        )
    return (
        f"Pump {pump} ({pump.patient}) reaches ERI on {eri}{' (estimated)' if plan.eri_estimated else ''}: "
        f"book the replacement surgery by {book_by}."
    )


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
    from .worklist import worklist

    result = StateAlertsResult()
    now = clock.now()
    today = now.astimezone(clinic.tz).date()
    due_soon = today + timedelta(days=clinical.alert_due_within_days())
    pumps = worklist(clinic, now=now)
    if pump_ids is not None:
        pumps = pumps.filter(pk__in=pump_ids)
    alarm_ahead = models.Q(projection__low_reservoir_alarm_at_worst_case__gt=now) | models.Q(
        projection__low_reservoir_alarm_at_worst_case__isnull=True
    )
    states: dict[int, tuple[str, Pump]] = {}
    for pump in pumps.filter(projection__empty_at_worst_case__lte=now):
        states[pump.pk] = (AlertKind.PAST_EMPTY, pump)
    for pump in pumps.filter(
        projection__low_reservoir_alarm_at_worst_case__lte=now, projection__empty_at_worst_case__gt=now
    ):
        states[pump.pk] = (AlertKind.PAST_ALARM, pump)
    for pump in pumps.filter(alarm_ahead, projection__refill_by__lt=today):
        states[pump.pk] = (AlertKind.REFILL_OVERDUE, pump)
    for pump in pumps.filter(
        alarm_ahead,
        projection__refill_by__gte=today,
        projection__refill_by__lte=due_soon,
        refill_booked=False,
    ):
        states[pump.pk] = (AlertKind.REFILL_UNBOOKED, pump)
    open_alerts = Alert.objects.filter(
        clinic=clinic, kind__in=list(STATE_ALERTS), resolved_at__isnull=True
    ).select_for_update()
    if pump_ids is not None:
        open_alerts = open_alerts.filter(pump_id__in=pump_ids)
    with transaction.atomic():
        have = set()
        for alert in open_alerts:
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
    projection = getattr(pump, "projection", None)  # loaded with the pump where shown in lists
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


def _replacement_text(alert: Alert) -> str | None:
    return replacement_alert_text(alert.kind, alert.pump)


def register_alert_texts() -> None:
    """Word the state and replacement alerts from the pump's current projection wherever
    they are shown or sent (``alerts.messages``; called when the app is ready)."""
    for kind in STATE_ALERTS:
        messages.register(kind, _alert_text)
    for kind in (AlertKind.REPLACEMENT_PLANNING, AlertKind.REPLACEMENT_OVERDUE):
        messages.register(kind, _replacement_text)


def state_alerts_run_all() -> StateAlertsResult:
    return sum((state_alerts_run(clinic) for clinic in Clinic.objects.all()), StateAlertsResult())


def replacement_planning_run_all() -> ReplacementResult:
    return sum((replacement_planning_run(clinic) for clinic in Clinic.objects.all()), ReplacementResult())


def refill_proposals_run_all() -> SchedulingResult:
    return sum((refill_proposals_run(clinic) for clinic in Clinic.objects.all()), SchedulingResult())


# --- what nurses do --------------------------------------------------------------------


def _check_day(pump: Pump, kind: str, day: date) -> list[dict]:
    """Refuse a day in the past, a non-working day or a closure; a refill after a refill-by
    date that still leaves a working day before it (LRA-5: an overdue refill is never
    refused, it is flagged); a replacement after EOS (ERI-2). Returns warnings (an overdue
    refill, a replacement after ERI)."""
    clinic = pump.patient.clinic
    today = local_today(clinic)
    if day < today:
        raise therapy.CalculationError(
            "day", f"{therapy.day_text(day)} is in the past: choose today or a later working day"
        )
    weekdays, closures = _calendar(clinic)
    if day.isoweekday() not in weekdays or day in closures:
        raise therapy.CalculationError(
            "day", f"{therapy.day_text(day)} is not a working day of the clinic: choose another day"
        )
    warnings = []
    if kind == AppointmentKind.REFILL:
        projection = PumpProjection.objects.filter(pump=pump).first()
        if projection and projection.refill_by:
            refill_by = projection.refill_by
            if (
                therapy.check_refill_day(
                    day, refill_by=refill_by, today=today, working_weekdays=weekdays, closures=closures
                )
                == "overdue"
            ):
                earliest = therapy.earliest_working_day(today, working_weekdays=weekdays, closures=closures)
                later = (
                    f" {therapy.day_text(earliest)} is the earliest working day: refill sooner if you can."
                    if day > earliest
                    else ""
                )
                warnings.append(
                    {
                        "code": "overdue",
                        "message": f"The refill is overdue: its refill-by date was "
                        f"{therapy.day_text(refill_by)}.{later}",
                    }
                )
    elif kind == AppointmentKind.REPLACEMENT:
        plan = selectors.replacement_plan(pump)
        if therapy.check_replacement_date(day, plan) == "after_eri":
            warnings.append(
                {
                    "code": "after_eri",
                    "message": f"The surgery on {therapy.day_text(day)} is after the ERI date "
                    f"{therapy.day_text(plan.eri_on)}.",
                }
            )
    return warnings


@transaction.atomic
def appointment_create(
    *, actor, pump: Pump, kind: str, day: date, at: time | None = None, nurse=None, notes: str = ""
) -> tuple[Appointment, list[dict]]:
    """A nurse books an appointment directly (status booked)."""
    require_role(actor, pump.patient.clinic, PATIENT_WRITERS, "Booking an appointment")
    warnings = _check_day(pump, kind, day)
    appointment = Appointment(
        pump=pump, kind=kind, status=AppointmentStatus.BOOKED, day=day, time=at, nurse=nurse, notes=notes
    )
    if Appointment.objects.filter(pump=pump, kind=kind, status__in=OPEN_STATUSES).exists():
        raise therapy.CalculationError(
            "pump",
            f"the pump already has an open {kind} appointment: book or move that one",
            code="already_open",
        )
    save_audited(appointment, actor=actor, reason="booked")
    appointment_reminders_plan(appointment)
    return appointment, warnings


@transaction.atomic
def appointment_book(
    *, actor, appointment: Appointment, day: date | None = None, at: time | None = None, nurse=None
) -> tuple[Appointment, list[dict]]:
    """Book a proposal, or move a booked appointment (to ``day``/``at``)."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    require_role(actor, appointment.pump.patient.clinic, PATIENT_WRITERS, "Booking an appointment")
    if appointment.status not in OPEN_STATUSES:
        raise therapy.CalculationError(
            "status", f"a {appointment.status} appointment cannot be booked", code="not_open"
        )
    moved = (day is not None and day != appointment.day) or (at is not None and at != appointment.time)
    appointment.day = day or appointment.day
    warnings = _check_day(appointment.pump, appointment.kind, appointment.day)
    appointment.time = at if at is not None else appointment.time
    appointment.nurse = nurse if nurse is not None else appointment.nurse
    reason = "moved" if moved and appointment.status == AppointmentStatus.BOOKED else "booked"
    if moved:  # a confirmation was for the old day or time
        appointment.confirmed_at, appointment.confirmed_by = None, ""
    appointment.status = AppointmentStatus.BOOKED
    save_audited(appointment, actor=actor, reason=reason)
    # moved (another day, or another time that day): the old slot's pending reminders are
    # cancelled, the new slot's planned, and whoever was already told the old one is told again
    appointment_reminders_plan(appointment)
    return appointment, warnings


@transaction.atomic
def appointment_cancel(*, actor, appointment: Appointment, reason: str) -> Appointment:
    """Cancel (or reject a proposal); the scheduling job proposes again."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    require_role(actor, appointment.pump.patient.clinic, PATIENT_WRITERS, "Cancelling an appointment")
    if appointment.status not in OPEN_STATUSES:
        raise therapy.CalculationError(
            "status", f"a {appointment.status} appointment cannot be cancelled", code="not_open"
        )
    if not (reason or "").strip():
        raise therapy.CalculationError("reason", "is required: say why the appointment is cancelled")
    appointment.status = AppointmentStatus.CANCELLED
    save_audited(appointment, actor=actor, reason=f"cancelled: {reason}")
    appointment_reminders_plan(appointment)
    return appointment


@transaction.atomic
def appointment_no_show(*, actor, appointment: Appointment, notes: str = "") -> Appointment:
    """The patient did not come: the pump goes back to the top of the worklist."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    require_role(actor, appointment.pump.patient.clinic, PATIENT_WRITERS, "Recording a no-show")
    if appointment.status != AppointmentStatus.BOOKED:
        raise therapy.CalculationError(
            "status", "only a booked appointment can be a no-show", code="not_booked"
        )
    if appointment.day > local_today(appointment.pump.patient.clinic):
        raise therapy.CalculationError("day", "the appointment has not happened yet", code="not_yet")
    appointment.status = AppointmentStatus.NO_SHOW
    save_audited(appointment, actor=actor, reason=f"no-show{': ' + notes if notes else ''}")
    appointment_reminders_plan(appointment)
    return appointment


def appointments_after_refill(*, actor, refill) -> None:
    """A refill completes the pump's booked refill appointment and withdraws its proposal
    (the job proposes the next one from the new refill-by date)."""
    for appointment in Appointment.objects.select_for_update().filter(
        pump=refill.pump, kind=AppointmentKind.REFILL, status__in=OPEN_STATUSES
    ):
        if appointment.status == AppointmentStatus.BOOKED:
            appointment.status, appointment.refill = AppointmentStatus.COMPLETED, refill
            save_audited(appointment, actor=actor, reason="completed by the refill")
        else:
            appointment.status = AppointmentStatus.CANCELLED
            save_audited(appointment, actor=actor, reason="proposal withdrawn: the pump was refilled")
        appointment_reminders_plan(appointment)


# --- a day stops (or starts) being a working day ------------------------------------------


def clinic_calendar_changed(sender, instance, created=False, raw=False, **kwargs) -> None:
    """LRA-5: a closure added, moved or removed, or the clinic's working days changed (any
    save of the clinic): once the change commits, the clinic's proposals on days it no longer
    works are withdrawn and made again, and bookings on them alerted — at once, not at the
    next nightly run. Connected to the signals of ``Clinic`` and ``ClinicClosure``."""
    if raw:  # a fixture being loaded: its clinic's pumps are not there yet
        return
    if isinstance(instance, Clinic):
        if created:
            return
        clinic_id = instance.pk
    else:
        clinic_id = instance.clinic_id
    # robust: the change is committed; a failed run is logged and the nightly run repeats it
    transaction.on_commit(lambda: _calendar_rerun(clinic_id), robust=True)


def _calendar_rerun(clinic_id: int) -> None:
    clinic = Clinic.objects.filter(pk=clinic_id).first()
    if clinic is not None:
        refill_proposals_run(clinic)
