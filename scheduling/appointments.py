"""What nurses do with appointments: book one directly, book or move a proposal, cancel,
record a no-show; and what a refill does to the pump's open refill appointment. Each write
is one transaction, audited, and (re)plans the appointment's reminders."""

from __future__ import annotations

from datetime import date, time

from django.db import transaction

import therapy
from patients.models import Pump
from patients.permissions import PATIENT_WRITERS, require_role
from patients.selectors import replacement_plan
from patients.services import save_audited
from refills.projections import stored_projection

from .models import OPEN_STATUSES, Appointment, AppointmentKind, AppointmentStatus
from .mri import mri_follow_ups_of_pump
from .proposals import late_booking_alerts, local_today, working_calendar
from .reminders import appointment_reminders_plan

# --- what nurses do --------------------------------------------------------------------


def _locked(appointment: Appointment) -> Appointment:
    """The appointment read again under lock, with its pump, patient and clinic (the role
    check and the day check read them): its own row alone is locked."""
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("pump__patient__clinic")
        .get(pk=appointment.pk)
    )


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
    weekdays, closures = working_calendar(clinic)
    if day.isoweekday() not in weekdays or day in closures:
        raise therapy.CalculationError(
            "day", f"{therapy.day_text(day)} is not a working day of the clinic: choose another day"
        )
    warnings = []
    if kind == AppointmentKind.REFILL:
        projection = stored_projection(pump)
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
        plan = replacement_plan(pump)
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
    save_audited(
        appointment, actor=actor, reason="booked", checked=("one_open_appointment_per_pump_and_kind",)
    )
    appointment_reminders_plan(appointment)
    if kind == AppointmentKind.REFILL:
        mri_follow_ups_of_pump(pump)  # MRI-1: the refill after an emptied pump's scan
    return appointment, warnings


@transaction.atomic
def appointment_book(
    *, actor, appointment: Appointment, day: date | None = None, at: time | None = None, nurse=None
) -> tuple[Appointment, list[dict]]:
    """Book a proposal, or move a booked appointment (to ``day``/``at``)."""
    appointment = _locked(appointment)
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
    # the row held the pump's one open appointment of its kind before, under lock: no
    # constraint can break
    save_audited(appointment, actor=actor, reason=reason, validate_constraints=False)
    if appointment.kind == AppointmentKind.REFILL:
        mri_follow_ups_of_pump(appointment.pump)  # MRI-1: the refill after an emptied pump's scan
    # moved (another day, or another time that day): the old slot's pending reminders are
    # cancelled, the new slot's planned, and whoever was already told the old one is told again
    appointment_reminders_plan(appointment)
    if appointment.kind == AppointmentKind.REFILL:  # moved before refill-by: the alert ends
        late_booking_alerts(appointment.pump.patient.clinic, pump_ids=[appointment.pump_id])
    return appointment, warnings


@transaction.atomic
def appointment_cancel(*, actor, appointment: Appointment, reason: str) -> Appointment:
    """Cancel (or reject a proposal); the scheduling job proposes again."""
    appointment = _locked(appointment)
    require_role(actor, appointment.pump.patient.clinic, PATIENT_WRITERS, "Cancelling an appointment")
    if appointment.status not in OPEN_STATUSES:
        raise therapy.CalculationError(
            "status", f"a {appointment.status} appointment cannot be cancelled", code="not_open"
        )
    if not (reason or "").strip():
        raise therapy.CalculationError("reason", "is required: say why the appointment is cancelled")
    appointment.status = AppointmentStatus.CANCELLED
    save_audited(appointment, actor=actor, reason=f"cancelled: {reason}", validate_constraints=False)
    appointment_reminders_plan(appointment)
    if appointment.kind == AppointmentKind.REFILL:
        late_booking_alerts(appointment.pump.patient.clinic, pump_ids=[appointment.pump_id])
    return appointment


@transaction.atomic
def appointment_no_show(*, actor, appointment: Appointment, notes: str = "") -> Appointment:
    """The patient did not come: the pump goes back to the top of the worklist."""
    appointment = _locked(appointment)
    require_role(actor, appointment.pump.patient.clinic, PATIENT_WRITERS, "Recording a no-show")
    if appointment.status != AppointmentStatus.BOOKED:
        raise therapy.CalculationError(
            "status", "only a booked appointment can be a no-show", code="not_booked"
        )
    if appointment.day > local_today(appointment.pump.patient.clinic):
        raise therapy.CalculationError("day", "the appointment has not happened yet", code="not_yet")
    appointment.status = AppointmentStatus.NO_SHOW
    save_audited(
        appointment, actor=actor, reason=f"no-show{': ' + notes if notes else ''}", validate_constraints=False
    )
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
            save_audited(
                appointment, actor=actor, reason="completed by the refill", validate_constraints=False
            )
        else:
            appointment.status = AppointmentStatus.CANCELLED
            save_audited(
                appointment,
                actor=actor,
                reason="proposal withdrawn: the pump was refilled",
                validate_constraints=False,
            )
        appointment_reminders_plan(appointment)


def appointments_after_void(*, actor, refill) -> None:
    """A voided refill completed nothing: the refill appointment it completed is booked again
    (a proposal made since is withdrawn for it); if the next refill is already booked, the
    old appointment is cancelled instead. Reminders follow."""
    for appointment in Appointment.objects.select_for_update().filter(refill=refill):
        appointment.refill = None
        open_ones = Appointment.objects.select_for_update().filter(
            pump=appointment.pump, kind=AppointmentKind.REFILL, status__in=OPEN_STATUSES
        )
        if open_ones.filter(status=AppointmentStatus.BOOKED).exists():
            appointment.status = AppointmentStatus.CANCELLED
            why = "cancelled: the refill that completed it was voided, and the next refill is booked"
        else:
            for proposal in open_ones:
                proposal.status = AppointmentStatus.CANCELLED
                save_audited(
                    proposal, actor=actor, reason="proposal withdrawn: the refill it followed was voided"
                )
                appointment_reminders_plan(proposal)
            appointment.status = AppointmentStatus.BOOKED
            why = "booked again: the refill that completed it was voided"
        save_audited(appointment, actor=actor, reason=why)
        appointment_reminders_plan(appointment)


def appointments_after_retirement(*, actor, pump: Pump, replaced: bool) -> None:
    """The explanted pump's open appointments end with it, and their reminders with them: a
    replacement surgery booked for it is completed by the replacement; every other one (a
    refill, a titration visit, or a surgery that will not happen) is cancelled. The new
    pump gets its own once it is filled."""
    for appointment in Appointment.objects.select_for_update().filter(pump=pump, status__in=OPEN_STATUSES):
        if (
            replaced
            and appointment.kind == AppointmentKind.REPLACEMENT
            and (appointment.status == AppointmentStatus.BOOKED)
        ):
            appointment.status = AppointmentStatus.COMPLETED
            save_audited(appointment, actor=actor, reason="completed by the pump replacement")
        else:
            appointment.status = AppointmentStatus.CANCELLED
            why = "the pump was replaced" if replaced else "the pump was explanted without a replacement"
            save_audited(appointment, actor=actor, reason=f"cancelled: {why}")
        appointment_reminders_plan(appointment)


def appointments_after_visit(*, actor, assessment) -> None:
    """A titration visit's assessment (MONITOR-1) records the visit: the pump's booked
    titration visit on the assessment's local date or earlier is completed, so the agenda
    no longer lists it as to do and the next visit can be booked. A proposed visit, or one
    booked for a later day, is left as it is."""
    pump = assessment.pump
    if assessment.visit_kind != AppointmentKind.TITRATION:
        return
    day = assessment.assessed_at.astimezone(pump.clinic.tz).date()
    for appointment in Appointment.objects.select_for_update().filter(
        pump=pump, kind=AppointmentKind.TITRATION, status=AppointmentStatus.BOOKED, day__lte=day
    ):
        appointment.status = AppointmentStatus.COMPLETED
        save_audited(
            appointment, actor=actor, reason="completed by the visit's assessment", validate_constraints=False
        )
        appointment_reminders_plan(appointment)


# --- receivers of the therapy record's signals (connected in ``apps``) ---------------------


def on_refill_recorded(sender, *, refill, actor, **kwargs) -> None:
    appointments_after_refill(actor=actor, refill=refill)


def on_refill_voided(sender, *, refill, actor, **kwargs) -> None:
    appointments_after_void(actor=actor, refill=refill)


def on_pump_retired(sender, *, pump, actor, replaced, **kwargs) -> None:
    appointments_after_retirement(actor=actor, pump=pump, replaced=replaced)


def on_visit_assessed(sender, *, assessment, actor, **kwargs) -> None:
    appointments_after_visit(actor=actor, assessment=assessment)
