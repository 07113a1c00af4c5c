"""Appointments: the refill proposals of the scheduling job (LRA-5) and what nurses do with
appointments (book, move, cancel, no-show). Writes go through here, each in one
transaction, audited like every clinical change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Count, Exists, F, OuterRef

import therapy
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


def local_today(clinic: Clinic) -> date:
    return clock.now().astimezone(clinic.tz).date()


@transaction.atomic
def refill_proposals_run(clinic: Clinic) -> SchedulingResult:
    """LRA-5 for one clinic: every active pump with a refill-by date and no open refill
    appointment gets a proposal on the latest working day within the clinic's window before
    refill-by that still has a free slot — never after refill-by, never in the past. When no
    such day exists, an alert is raised (once, until acknowledged) instead of missing silently.

    Two runs racing create no duplicate: the database allows one open refill appointment
    per pump, and a proposal that loses the race is dropped.
    """
    result = SchedulingResult()
    today = local_today(clinic)
    _withdraw_stale_proposals(clinic, today)
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
    if not pumps:
        return result
    closures = set(clinic.closures.values_list("date", flat=True))
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
        refill_by = pump.projection.refill_by
        earliest = max(today, refill_by - timedelta(days=clinic.scheduling_window_days - 1))
        full = {day for day, n in booked.items() if slots is not None and n >= slots}
        try:
            day = therapy.appointment_day(
                refill_by,
                working_weekdays=set(clinic.working_days),
                closures=closures,
                earliest=earliest,
                full_days=full,
            )
        except therapy.CalculationError as refusal:
            result.no_slot += _no_slot_alert(pump, refusal.message)
            continue
        if _propose(pump, day):
            booked[day] = booked.get(day, 0) + 1
            result.proposed += 1
    return result


def _withdraw_stale_proposals(clinic: Clinic, today: date) -> None:
    """A proposal that now falls after the refill-by date (a refill, a dose change or a
    catalog change moved it) or in the past is withdrawn, to be proposed again."""
    stale = Appointment.objects.filter(
        pump__patient__clinic=clinic, kind=AppointmentKind.REFILL, status=AppointmentStatus.PROPOSED
    ).filter(models.Q(day__lt=today) | models.Q(day__gt=F("pump__projection__refill_by")))
    for appointment in stale.select_for_update(of=("self",)):
        appointment.status = AppointmentStatus.CANCELLED
        save_audited(appointment, actor=None, reason="proposal withdrawn: refill-by moved or the day passed")


def _propose(pump: Pump, day: date) -> bool:
    appointment = Appointment(pump=pump, kind=AppointmentKind.REFILL, day=day, proposed_by_job=True)
    try:
        with transaction.atomic():
            save_audited(appointment, actor=None, reason="proposed by the scheduling job (LRA-5)")
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
    if Alert.objects.filter(pump=pump, kind=AlertKind.NO_REFILL_SLOT, acknowledged_at__isnull=True).exists():
        return 0
    alert_raise(
        clinic=pump.patient.clinic,
        pump=pump,
        kind=AlertKind.NO_REFILL_SLOT,
        severity=Severity.WARNING,
        message=f"No refill appointment could be proposed for pump {pump} ({pump.patient}): {why}.",
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
        plan = pump.projection
        if plan.replacement_book_by < today:
            kind, severity = AlertKind.REPLACEMENT_OVERDUE, Severity.WARNING
            message = (
                f"Pump {pump} ({pump.patient}): the replacement had to be booked by {plan.replacement_book_by} "
                f"(ERI {plan.eri_on}{', estimated' if plan.eri_estimated else ''}; the pump stops at EOS {plan.eos_on})."
            )
        else:
            kind, severity = AlertKind.REPLACEMENT_PLANNING, Severity.WARNING
            message = (
                f"Pump {pump} ({pump.patient}) reaches ERI on {plan.eri_on}"
                f"{' (estimated)' if plan.eri_estimated else ''}: book the replacement surgery by "
                f"{plan.replacement_book_by}."
            )
        if Alert.objects.filter(pump=pump, kind=kind, resolved_at__isnull=True).exists():
            continue
        alert_raise(clinic=clinic, pump=pump, kind=kind, severity=severity, message=message)
        if kind == AlertKind.REPLACEMENT_OVERDUE:
            result.escalated += 1
        else:
            result.opened += 1
    return result


@dataclass
class StateAlertsResult(Counts):
    raised: int = 0
    resolved: int = 0


def state_alerts_run(clinic: Clinic, *, pump_ids: list[int] | None = None) -> StateAlertsResult:
    """ALERT-1 on persisted state: each active pump past its projected empty time (worst
    case), past its alarm time, or due within the alert window with no refill booked has
    one alert of that kind, raised once and kept until the state ends (a refill, a booking)
    — acknowledging stops its emails, not the alert's record. ``pump_ids`` limits the pass
    to those pumps (a refill resolves its pump's alerts in its own transaction)."""
    from .worklist import worklist

    result = StateAlertsResult()
    now = clock.now()
    today = now.astimezone(clinic.tz).date()
    due_soon = today + timedelta(days=clinical.alert_due_within_days())
    pumps = worklist(clinic, now=now)
    if pump_ids is not None:
        pumps = pumps.filter(pk__in=pump_ids)
    states: dict[int, tuple[str, Pump]] = {}
    for pump in pumps.filter(projection__empty_at_worst_case__lte=now):
        states[pump.pk] = (AlertKind.PAST_EMPTY, pump)
    for pump in pumps.filter(
        projection__low_reservoir_alarm_at_worst_case__lte=now, projection__empty_at_worst_case__gt=now
    ):
        states[pump.pk] = (AlertKind.PAST_ALARM, pump)
    for pump in pumps.filter(
        projection__refill_by__lte=due_soon,
        refill_booked=False,
        projection__low_reservoir_alarm_at_worst_case__gt=now,
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
            severity, message = STATE_ALERTS[kind](pump, clinic)
            alert_raise(clinic=clinic, pump=pump, kind=kind, severity=severity, message=message)
            result.raised += 1
    return result


def _local(instant, clinic: Clinic) -> str:
    return instant.astimezone(clinic.tz).strftime("%Y-%m-%d %H:%M %Z")


STATE_ALERTS = {
    AlertKind.PAST_EMPTY: lambda pump, clinic: (
        Severity.CRITICAL,
        f"Pump {pump} ({pump.patient}) is past its projected empty time (worst case, "
        f"{_local(pump.projection.empty_at_worst_case, clinic)}) without a refill: withdrawal risk, "
        f"reach the patient now.",
    ),
    AlertKind.PAST_ALARM: lambda pump, clinic: (
        Severity.WARNING,
        f"Pump {pump} ({pump.patient}) is past its low-reservoir alarm time (worst case, "
        f"{_local(pump.projection.low_reservoir_alarm_at_worst_case, clinic)}) without a refill; "
        f"projected empty (worst case) {_local(pump.projection.empty_at_worst_case, clinic)}.",
    ),
    AlertKind.REFILL_UNBOOKED: lambda pump, clinic: (
        Severity.WARNING,
        f"Pump {pump} ({pump.patient}) must be refilled by {pump.projection.refill_by.isoformat()} "
        f"({pump.projection.refill_by_reason}) and no refill is booked.",
    ),
}


def state_alerts_run_all() -> StateAlertsResult:
    return sum((state_alerts_run(clinic) for clinic in Clinic.objects.all()), StateAlertsResult())


def replacement_planning_run_all() -> ReplacementResult:
    return sum((replacement_planning_run(clinic) for clinic in Clinic.objects.all()), ReplacementResult())


def refill_proposals_run_all() -> SchedulingResult:
    return sum((refill_proposals_run(clinic) for clinic in Clinic.objects.all()), SchedulingResult())


# --- what nurses do --------------------------------------------------------------------


def _check_day(pump: Pump, kind: str, day: date) -> list[dict]:
    """Refuse a day in the past, a non-working day or a closure; a refill after refill-by
    (LRA-5); a replacement after EOS (ERI-2). Returns warnings (a replacement after ERI)."""
    clinic = pump.patient.clinic
    if day < local_today(clinic):
        raise therapy.CalculationError("day", f"{day.isoformat()} is in the past")
    if day.isoweekday() not in clinic.working_days or clinic.closures.filter(date=day).exists():
        raise therapy.CalculationError(
            "day", f"{day.isoformat()} is not a working day of clinic {clinic.code}"
        )
    warnings = []
    if kind == AppointmentKind.REFILL:
        projection = PumpProjection.objects.filter(pump=pump).first()
        if projection and projection.refill_by and day > projection.refill_by:
            raise therapy.CalculationError(
                "day",
                f"{day.isoformat()} is after the refill-by date {projection.refill_by.isoformat()} "
                f"({projection.refill_by_reason}); book on or before it",
                code="after_refill_by",
            )
    elif kind == AppointmentKind.REPLACEMENT:
        plan = selectors.replacement_plan(pump)
        if therapy.check_replacement_date(day, plan) == "after_eri":
            warnings.append(
                {
                    "code": "after_eri",
                    "message": f"The surgery on {day.isoformat()} is after the ERI date {plan.eri_on.isoformat()}.",
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
    moved = day is not None and day != appointment.day
    appointment.day = day or appointment.day
    warnings = _check_day(appointment.pump, appointment.kind, appointment.day)
    appointment.time = at if at is not None else appointment.time
    appointment.nurse = nurse if nurse is not None else appointment.nurse
    reason = "moved" if moved and appointment.status == AppointmentStatus.BOOKED else "booked"
    if moved:  # a confirmation was for the old day
        appointment.confirmed_at, appointment.confirmed_by = None, ""
    appointment.status = AppointmentStatus.BOOKED
    save_audited(appointment, actor=actor, reason=reason)
    appointment_reminders_plan(appointment)  # moved: the old reminders are cancelled, new ones due
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
