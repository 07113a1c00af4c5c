"""Refill proposals (LRA-5): the scheduling job's daily pass over a clinic, and what a
change of the clinic's calendar (working days, closures) does at once. Writes are audited
and each run is one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef

import therapy
from alerts.models import Alert, AlertKind, Severity
from alerts.services import alert_raise, alert_resolve
from patients.models import Clinic, Pump, PumpStatus
from patients.services import save_audited
from pumpcare import clock
from refills.projections import Counts, by_clinic, projections_refresh_stale, stale_ids

from .models import OPEN_STATUSES, Appointment, AppointmentKind, AppointmentStatus
from .reminders import appointment_reminders_plan


@dataclass
class SchedulingResult(Counts):
    proposed: int = 0
    no_slot: int = 0
    overdue: int = 0
    over_capacity: int = 0
    withdrawn: int = 0
    no_shows: int = 0
    closed_day_alerts: int = 0
    late_booking_alerts: int = 0


def local_today(clinic: Clinic) -> date:
    return clock.now().astimezone(clinic.tz).date()


def working_calendar(clinic: Clinic) -> tuple[set[int], set[date]]:
    return set(clinic.working_days), set(clinic.closures.values_list("date", flat=True))


def refill_proposals_run(clinic: Clinic) -> SchedulingResult:
    """LRA-5 for one clinic, in order:

    1. a booked refill whose day has passed without a refill is a no-show;
    2. a proposal on a day that has passed, that the clinic no longer works, or that no
       longer fits the refill-by date is withdrawn (and made again below, at once);
    3. a booked appointment on a day the clinic no longer works raises an alert for a nurse
       to move it, and so does a booked refill that falls after the pump's refill-by date
       while a working day is left before it (``late_booking_alerts``);
    4. every active pump with a refill-by date and no open refill appointment gets a
       proposal (``therapy.refill_day``): the latest working day with a free slot before
       refill-by, else the earliest working day from today — overdue when refill-by has
       passed, and with an alert that the clinic is over capacity when that day is full.
       A pump is never left without a proposal; only a clinic without working days is
       alerted instead.

    Two runs racing create no duplicate: the database allows one open refill appointment
    per pump, and a proposal that loses the race is dropped.
    """
    # Never from a stale projection: those an edit marked stale are recomputed first, before
    # this run's transaction; those still marked in it (another transaction is recomputing
    # them) wait for the next run.
    active = Pump.objects.filter(patient__clinic=clinic, status=PumpStatus.ACTIVE)
    projections_refresh_stale(active)
    # a block, not @transaction.atomic: mutmut does not mutate a decorated function
    with transaction.atomic():
        result = SchedulingResult()
        today = local_today(clinic)
        weekdays, closures = working_calendar(clinic)
        held = stale_ids(active)
        result.no_shows = _passed_bookings_no_show(clinic, today)
        result.withdrawn = _withdraw_stale_proposals(clinic, today, weekdays, closures, held)
        result.closed_day_alerts = _closed_day_alerts(clinic, today, weekdays, closures)
        result.late_booking_alerts = late_booking_alerts(clinic, held=held)
        open_refill = Appointment.objects.filter(
            pump=OuterRef("pk"), kind=AppointmentKind.REFILL, status__in=OPEN_STATUSES
        )
        pumps = list(
            Pump.objects.filter(
                patient__clinic=clinic, status=PumpStatus.ACTIVE, projection__refill_by__isnull=False
            )
            .exclude(Exists(open_refill))
            .exclude(pk__in=held)
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
        save_audited(
            appointment,
            actor=None,
            reason="no-show: the day passed without a refill",
            validate_constraints=False,
        )
        appointment_reminders_plan(appointment)
        count += 1
    return count


def _withdraw_stale_proposals(
    clinic: Clinic, today: date, weekdays: set[int], closures: set[date], held: set[int]
) -> int:
    """LRA-5: a proposal is withdrawn, to be proposed again at once, when its day has passed,
    when the clinic no longer works that day (a closure, a change of working days), when it
    falls after a refill-by date that still leaves a working day before it (a refill, a dose
    or a catalog change moved refill-by), or when the refill is overdue and an earlier
    working day is open. The proposals of ``held`` pumps (their projection is being
    recomputed) are left as they are: they could not be made again at once."""
    count = 0
    proposals = Appointment.objects.filter(
        pump__patient__clinic=clinic, kind=AppointmentKind.REFILL, status=AppointmentStatus.PROPOSED
    ).select_related("pump__projection")
    earliest = None
    for appointment in proposals.exclude(pump_id__in=held).select_for_update(of=("self",)):
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
            save_audited(
                appointment, actor=None, reason=f"proposal withdrawn: {why}", validate_constraints=False
            )
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


def booked_late(
    appointment: Appointment, refill_by: date | None, *, today: date, weekdays: set[int], closures: set[date]
) -> bool:
    """LRA-5: a booked refill, today or later, that falls after the pump's refill-by date
    while a working day is still left on or before that date: a nurse is to move it. What
    ``late_booking_alerts`` raises an alert for and the worklist flags on the row."""
    return (
        appointment.kind == AppointmentKind.REFILL
        and appointment.status == AppointmentStatus.BOOKED
        and refill_by is not None
        and today <= appointment.day
        and refill_by < appointment.day
        and not therapy.refill_overdue(refill_by, today=today, working_weekdays=weekdays, closures=closures)
    )


def late_booking_alerts(
    clinic: Clinic, *, pump_ids: list[int] | None = None, held: set[int] = frozenset()
) -> int:
    """LRA-5: a refill falls on a working day on or before the refill-by date. A booked
    refill that falls after it while a working day is still left before it (a dose change,
    a drift or a catalog change moved refill-by earlier since it was booked) raises an alert,
    once per pump, for a nurse to move it; the alert is resolved once the booking is moved,
    cancelled or completed, or once the refill is overdue (its own alert then says so).
    ``pump_ids`` limits the pass to those pumps (a pump whose projection just changed);
    the alerts of ``held`` pumps (their projection is being recomputed) are left as they are."""
    today = local_today(clinic)
    calendar = None  # read for the first booking to check (a pump's pass nearly always has none)
    bookings = (
        Appointment.objects.filter(
            pump__patient__clinic=clinic,
            pump__status=PumpStatus.ACTIVE,
            kind=AppointmentKind.REFILL,
            status=AppointmentStatus.BOOKED,
            day__gte=today,
            pump__projection__refill_by__lt=F("day"),
        )
        .exclude(pump_id__in=held)
        .select_related("pump__patient", "pump__projection")
    )
    alerts = Alert.objects.filter(
        clinic=clinic, kind=AlertKind.REFILL_BOOKED_LATE, resolved_at__isnull=True
    ).exclude(pump_id__in=held)
    if pump_ids is not None:
        bookings = bookings.filter(pump_id__in=pump_ids)
        alerts = alerts.filter(pump_id__in=pump_ids)
    late = {}
    for appointment in bookings.order_by("pump_id", "pk"):
        refill_by = appointment.pump.projection.refill_by
        weekdays, closures = calendar = calendar or working_calendar(clinic)
        if booked_late(appointment, refill_by, today=today, weekdays=weekdays, closures=closures):
            late.setdefault(appointment.pump_id, appointment)
    have = set()
    for alert in alerts:
        if alert.pump_id in late:
            have.add(alert.pump_id)
        else:
            alert_resolve(
                alert=alert, why="the refill was moved on or before the refill-by date, or is overdue"
            )
    for pump_id, appointment in late.items():
        if pump_id in have:
            continue
        pump = appointment.pump
        refill_by = therapy.day_text(pump.projection.refill_by)
        alert_raise(
            clinic=clinic,
            pump=pump,
            kind=AlertKind.REFILL_BOOKED_LATE,
            severity=Severity.WARNING,
            message=(
                f"{pump.patient}: the refill booked on {therapy.day_text(appointment.day)} falls after "
                f"the refill-by date, {refill_by} (the pump's dates changed since it was booked): move "
                f"it on or before {refill_by} and tell the patient."
            ),
        )
    return len(late) - len(have)


def on_pump_projection_changed(sender, *, pumps, **kwargs) -> None:
    """A refill, a prescription or an explant changed the pumps' dates: their booked refills
    are checked against the new refill-by dates at once (``late_booking_alerts``)."""
    for clinic, pump_ids in by_clinic(pumps):
        late_booking_alerts(clinic, pump_ids=pump_ids)


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


def refill_proposals_run_all() -> SchedulingResult:
    return sum((refill_proposals_run(clinic) for clinic in Clinic.objects.all()), SchedulingResult())


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
