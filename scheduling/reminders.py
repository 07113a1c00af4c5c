"""The reminders of booked appointments (ALERT-2), planned into the outbox.

Booking, moving, cancelling, completing or a no-show (re)plans an appointment's reminders
in the same transaction; a periodic pass plans every booked future appointment again,
catching what changed beside the appointment (a consent, a caregiver, an address). The
outbox (``alerts``) stores and delivers the rows; this module is the planner it asks, when a
reminder is about to be sent, whether it is still due and what it says.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import islice

from django.db import transaction
from django.utils import formats

from alerts.models import NotificationKind
from alerts.outbox import (
    SENT,
    Planned,
    Recipient,
    Row,
    local_instant,
    people_of,
    reminder_time,
    rows_of,
    rows_plan,
)
from alerts.planners import MESSAGES, Planner, register, register_pass
from patients.models import Caregiver, Clinic
from pumpcare import clock

from .confirm import confirmation_url
from .models import Appointment

SUBJECT = "appointment"


def subject_of(appointment) -> str:
    return f"{SUBJECT}:{appointment.pk}"


REMINDER_KIND = {
    "refill": NotificationKind.REFILL_REMINDER,
    "replacement": NotificationKind.REPLACEMENT_REMINDER,
    # a titration visit (oral or intrathecal dose changes, weaning) is booked like a refill
    "titration": NotificationKind.TITRATION_REMINDER,
}


def event_slot(appointment) -> str:
    """The day and time a reminder names ('2026-12-14 10:30', or the day alone): moving the
    appointment to another day or to another time on the same day makes it another slot."""
    return appointment.day.isoformat() + (f" {appointment.time:%H:%M}" if appointment.time else "")


def _reminders_wanted(
    appointment, clinic: Clinic, people: list[Recipient], today: date, existing: list[Row]
) -> list[Planned]:
    """ALERT-2: for a booked refill, replacement or titration visit, one reminder per person and per
    configured day before it. Days already past when the appointment is booked are not
    planned (a reminder for an appointment booked tomorrow is the 1-day one only).

    A person who was sent a reminder naming another day or time (the appointment moved
    since) is told the new slot at once: one more reminder, due when their latest message
    about the old slot was sent (a past, stable instant: planning again finds the row it
    made), so the only message they hold never names a time that no longer stands."""
    if appointment.status != "booked" or appointment.kind not in REMINDER_KIND:
        return []
    at = reminder_time()
    slot = event_slot(appointment)
    fields = {
        "pump_id": appointment.pump_id,
        "event_on": appointment.day,
        "event_slot": slot,
    }
    kind = REMINDER_KIND[appointment.kind]
    wanted = []
    for days in clinic.reminder_days_before:
        due_on = appointment.day - timedelta(days=days)
        if due_on < today:
            continue
        for person in people:
            wanted.append(Planned(person, kind, local_instant(clinic, due_on, at), fields))
    told_before: dict[str, datetime] = {}
    for row in existing:
        if row.status == SENT and row.event_slot != slot and row.sent_at:
            told_before[row.recipient] = max(row.sent_at, told_before.get(row.recipient, row.sent_at))
    for person in people:
        if person.key in told_before:
            wanted.append(Planned(person, kind, told_before[person.key], fields))
    return wanted


# --- reminders -------------------------------------------------------------------------


def appointment_reminders_plan(appointment) -> None:
    """Plan (or cancel, or move) the reminders of one appointment, in the caller's
    transaction: booking plans them, moving cancels the old and plans the new, cancelling,
    completing or a no-show cancels the pending ones."""
    pump = appointment.pump
    patient = pump.patient
    clinic = patient.clinic
    people = people_of(patient, list(patient.caregivers.all()))
    subject = subject_of(appointment)
    _plan_reminders(appointment, clinic, people, rows_of([subject]).get(subject, []))


def _plan_reminders(appointment, clinic, people, existing) -> None:
    today = clock.now().astimezone(clinic.tz).date()
    wanted = _reminders_wanted(appointment, clinic, people, today, existing)
    if appointment.status == "booked":
        why = f"the appointment moved to {event_slot(appointment)}"
    else:
        why = f"the appointment is {appointment.get_status_display().lower()}"
    rows_plan(subject_of(appointment), clinic, wanted, existing, why)


# What the periodic pass reads (every booked appointment, every row planned for it, three
# times a day): the columns planning uses, not the whole rows (the rows as ``alerts.outbox.Row``).
# A column left out of the appointments' would be read on first use, one query per row:
# correct, only slower.
APPOINTMENT_FIELDS = (
    "kind",
    "status",
    "day",
    "time",
    "pump__patient__given_name",
    "pump__patient__family_name",
    "pump__patient__email",
    "pump__patient__communication_consent",
)


def reminders_plan_all(batch_size: int = 500) -> int:
    """The periodic pass over every booked future appointment: catches what changed beside
    the appointment services (a consent given or withdrawn, a new caregiver, a new
    address). A constant number of queries per batch; returns the appointments planned."""
    count = 0
    for clinic in Clinic.objects.all():
        today = clock.now().astimezone(clinic.tz).date()
        ids = iter(
            Appointment.objects.filter(
                pump__patient__clinic=clinic, status="booked", kind__in=list(REMINDER_KIND), day__gte=today
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        while batch := list(islice(ids, batch_size)):
            with transaction.atomic():
                appointments = list(
                    Appointment.objects.filter(pk__in=batch)
                    .select_related("pump__patient")
                    .only(*APPOINTMENT_FIELDS)
                )
                patients = [a.pump.patient_id for a in appointments]
                caregivers: dict[int, list] = {}
                for caregiver in Caregiver.objects.filter(patient_id__in=patients).order_by("pk"):
                    caregivers.setdefault(caregiver.patient_id, []).append(caregiver)
                existing = rows_of([f"{SUBJECT}:{pk}" for pk in batch])
                for appointment in appointments:
                    patient = appointment.pump.patient
                    people = people_of(patient, caregivers.get(patient.pk, []))
                    _plan_reminders(appointment, clinic, people, existing.get(subject_of(appointment), []))
                    count += 1
    return count


# --- what the outbox asks when a reminder is about to be sent ------------------------------


def _appointment(row) -> Appointment | None:
    """The appointment a reminder names, read once per send: delivery asks whether the row is
    still due and then what it says, about the same row object."""
    if not hasattr(row, "_appointment"):
        pk = row.subject.partition(":")[2]
        row._appointment = Appointment.objects.filter(pk=pk).first() if pk.isdigit() else None
    return row._appointment


def reminder_obsolete(row, now: datetime) -> str:
    """Why a reminder must not be sent any more (the appointment was cancelled, moved or has
    begun), or ''."""
    appointment = _appointment(row)
    if appointment is None:
        return "the appointment no longer exists"
    if appointment.status != "booked":
        return f"the appointment is {appointment.get_status_display().lower()}"
    if row.event_on and appointment.day != row.event_on:
        return f"the appointment moved to {appointment.day.isoformat()}"
    if row.event_slot and row.event_slot != event_slot(appointment):
        return f"the appointment moved to {event_slot(appointment)}"
    local_now = now.astimezone(row.clinic.tz)
    if appointment.day < local_now.date() or (
        appointment.day == local_now.date() and appointment.time and appointment.time <= local_now.time()
    ):
        return "too late: the appointment has begun"
    return ""


def reminder_context(row, now: datetime) -> dict:
    """The day and time as the clinic reads them, and the "confirm attendance" link."""
    appointment = _appointment(row)
    return {
        "when_date": formats.date_format(appointment.day, "l j F Y"),
        "when_time": appointment.time.strftime("%H:%M") if appointment.time else "",
        "confirm_url": confirmation_url(appointment, row.recipient),
    }


def register_planner() -> None:
    """Called when the app is ready."""
    register(
        Planner(
            subject=SUBJECT,
            template="scheduling/email/appointment_reminder",
            obsolete=reminder_obsolete,
            context=reminder_context,
        )
    )
    register_pass(MESSAGES, SUBJECT, lambda: {"appointments_planned": reminders_plan_all()})
