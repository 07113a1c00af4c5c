"""Planning the outbox: which messages are due, to whom, and when (ALERT-1, ALERT-2).

Every plan is a set of outbox rows keyed by (recipient, subject, kind, due time), written
with the database's unique index as the arbiter, so planning twice — two overlapping
jobs, a job and a service — never makes a message twice. A plan is computed from
persisted state (booked appointments, consents, open alerts), never from "the clock equals
the threshold": a job that was down still plans what is due when it comes back.

Nothing here sends: ``alerts.delivery`` claims due rows and sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from patients.models import Caregiver, Clinic, Patient
from pumpcare import clock

from .models import Alert, AlertKind, Notification, NotificationKind, NotificationStatus, RecipientRole

PENDING, CANCELLED, SENT = NotificationStatus.PENDING, NotificationStatus.CANCELLED, NotificationStatus.SENT

# Alert kind → the outbox kind that escalates it to the on-call address (ALERT-1).
ESCALATED = {
    AlertKind.PAST_EMPTY: NotificationKind.PAST_EMPTY,
    AlertKind.PAST_ALARM: NotificationKind.PAST_ALARM,
    AlertKind.REFILL_OVERDUE: NotificationKind.REFILL_OVERDUE,
    AlertKind.REPLACEMENT_OVERDUE: NotificationKind.REPLACEMENT_OVERDUE,
}
# Alert kind → a notice sent once to the clinic's staff address.
# A discontinuation (TITRATE-2) is a prescriber's decision: the team is told once, so that
# someone watches for withdrawal; over capacity and a booking on a closed day need a nurse
# to act (LRA-5).
NOTICE = {
    AlertKind.REFILL_UNBOOKED: NotificationKind.REFILL_UNBOOKED,
    AlertKind.DISCONTINUATION: NotificationKind.DISCONTINUATION,
    AlertKind.OVER_CAPACITY: NotificationKind.OVER_CAPACITY,
    AlertKind.APPOINTMENT_DAY_CLOSED: NotificationKind.APPOINTMENT_DAY_CLOSED,
}
REMINDER_KIND = {
    "refill": NotificationKind.REFILL_REMINDER,
    "replacement": NotificationKind.REPLACEMENT_REMINDER,
}


@dataclass(frozen=True)
class Recipient:
    key: str
    role: str
    name: str
    email: str
    skipped: str = ""  # why this person cannot be reminded (no consent, no address)


def _person(key: str, role: str, name: str, email: str, consent: bool) -> Recipient:
    skipped = "" if consent and email else ("no consent to reminders" if not consent else "no email address")
    return Recipient(key, role, name, email, skipped)


def patient_recipient(patient: Patient) -> Recipient:
    return _person(
        f"patient:{patient.pk}",
        RecipientRole.PATIENT,
        f"{patient.given_name} {patient.family_name}",
        patient.email,
        patient.communication_consent,
    )


def caregiver_recipient(caregiver: Caregiver) -> Recipient:
    return _person(
        f"caregiver:{caregiver.pk}",
        RecipientRole.CAREGIVER,
        caregiver.name,
        caregiver.email,
        caregiver.communication_consent,
    )


def on_call_recipient(clinic: Clinic) -> Recipient:
    """ALERT-1: where overdue and critical alerts go."""
    email = clinic.on_call_email
    return Recipient(
        f"on_call:{clinic.code}",
        RecipientRole.ON_CALL,
        f"{clinic.name} on call",
        email,
        "" if email else "the clinic has no on-call address",
    )


def staff_recipient(clinic: Clinic) -> Recipient:
    """Where staff notices go (refill due and not booked, stale cards)."""
    email = clinic.staff_notice_email
    return Recipient(
        f"staff:{clinic.code}",
        RecipientRole.STAFF,
        f"{clinic.name} staff",
        email,
        "" if email else "the clinic has no staff or on-call address",
    )


def recipient_now(key: str, clinic: Clinic) -> Recipient:
    """The recipient of a row's key as they are now (the address and consent are read
    again when a message is sent)."""
    role, _, ident = key.partition(":")
    if role == RecipientRole.PATIENT:
        patient = Patient.objects.filter(pk=ident).first()
        return (
            patient_recipient(patient)
            if patient
            else Recipient(key, role, "", "", "the recipient was removed")
        )
    if role == RecipientRole.CAREGIVER:
        caregiver = Caregiver.objects.filter(pk=ident).first()
        if caregiver is None:
            return Recipient(key, role, "", "", "the recipient was removed")
        return caregiver_recipient(caregiver)
    if role == RecipientRole.ON_CALL:
        return on_call_recipient(clinic)
    if role == RecipientRole.STAFF:
        return staff_recipient(clinic)
    return Recipient(key, role, "", "", f"unknown recipient {key}")


def people_of(patient: Patient, caregivers) -> list[Recipient]:
    """ALERT-2: the patient and each caregiver; those who did not consent or have no email
    address are returned with the reason they are skipped."""
    return [patient_recipient(patient), *(caregiver_recipient(c) for c in caregivers)]


def escalation_every_hours(alert: Alert) -> int | None:
    """ALERT-1: how often an open alert of this severity is emailed again (none: once)."""
    return settings.PUMPCARE_NOTIFICATIONS["escalation_every_hours"].get(alert.severity)


def reachable(patient: Patient, caregivers) -> bool:
    """Can anyone of the patient be reminded by email? (the worklist's flag)"""
    return any(not person.skipped for person in people_of(patient, caregivers))


def local_instant(clinic: Clinic, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=clinic.tz).astimezone(UTC)


def reminder_time() -> time:
    return time.fromisoformat(settings.PUMPCARE_NOTIFICATIONS["reminder_local_time"])


@dataclass(frozen=True)
class Planned:
    """A row the plan wants: pending, or cancelled with the reason it is skipped."""

    recipient: Recipient
    kind: str
    due_at: datetime
    fields: dict


def event_slot(appointment) -> str:
    """The day and time a reminder names ('2026-12-14 10:30', or the day alone): moving the
    appointment to another day or to another time on the same day makes it another slot."""
    return appointment.day.isoformat() + (f" {appointment.time:%H:%M}" if appointment.time else "")


def _reminders_wanted(
    appointment, clinic: Clinic, people: list[Recipient], today: date, existing: list[Notification]
) -> list[Planned]:
    """ALERT-2: for a booked refill or replacement, one reminder per person and per
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
        "appointment_id": appointment.pk,
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


def _apply(subject: str, clinic: Clinic, wanted: list[Planned], existing: list[Notification], why_gone: str):
    """Make the rows of ``subject`` match the plan: create what is missing, revive what was
    cancelled and is wanted again, cancel what is pending and no longer wanted (or whose
    person can no longer be reminded). Sent, sending and failed rows are history: untouched.

    New rows are inserted together with ``ON CONFLICT DO NOTHING`` on the unique key: when
    another planner made the same row first, its row stands."""
    by_key = {(n.recipient, n.kind, n.due_at, n.event_slot): n for n in existing}
    wanted_keys = set()
    new = []
    for plan in wanted:
        key = (plan.recipient.key, plan.kind, plan.due_at, plan.fields.get("event_slot", ""))
        if key in wanted_keys:
            continue
        wanted_keys.add(key)
        row = by_key.get(key)
        status, reason = (
            (CANCELLED, f"skipped: {plan.recipient.skipped}") if plan.recipient.skipped else (PENDING, "")
        )
        if row is None:
            new.append(
                Notification(
                    clinic=clinic,
                    kind=plan.kind,
                    recipient=plan.recipient.key,
                    recipient_role=plan.recipient.role,
                    subject=subject,
                    due_at=plan.due_at,
                    email=plan.recipient.email,
                    status=status,
                    status_reason=reason,
                    **plan.fields,
                )
            )
        elif row.status in (PENDING, CANCELLED) and (row.status, row.status_reason) != (status, reason):
            row.status, row.status_reason, row.email = status, reason, plan.recipient.email
            row.attempts, row.next_attempt_at, row.last_error = 0, None, ""
            row.save(
                update_fields=[
                    "status",
                    "status_reason",
                    "email",
                    "attempts",
                    "next_attempt_at",
                    "last_error",
                ]
            )
    if new:
        Notification.objects.bulk_create(new, ignore_conflicts=True)
    stale = [
        n.pk
        for n in existing
        if n.status == PENDING and (n.recipient, n.kind, n.due_at, n.event_slot) not in wanted_keys
    ]
    if stale:
        Notification.objects.filter(pk__in=stale, status=PENDING).update(
            status=CANCELLED, status_reason=why_gone
        )


# --- reminders -------------------------------------------------------------------------


def appointment_reminders_plan(appointment) -> None:
    """Plan (or cancel, or move) the reminders of one appointment, in the caller's
    transaction: booking plans them, moving cancels the old and plans the new, cancelling,
    completing or a no-show cancels the pending ones."""
    pump = appointment.pump
    patient = pump.patient
    clinic = patient.clinic
    people = people_of(patient, list(patient.caregivers.all()))
    _plan_reminders(
        appointment,
        clinic,
        people,
        list(Notification.objects.filter(subject=f"appointment:{appointment.pk}")),
    )


def _plan_reminders(appointment, clinic, people, existing) -> None:
    today = clock.now().astimezone(clinic.tz).date()
    wanted = _reminders_wanted(appointment, clinic, people, today, existing)
    if appointment.status == "booked":
        why = f"the appointment moved to {event_slot(appointment)}"
    else:
        why = f"the appointment is {appointment.get_status_display().lower()}"
    _apply(f"appointment:{appointment.pk}", clinic, wanted, existing, why)


def reminders_plan_all(batch_size: int = 500) -> int:
    """The periodic pass over every booked future appointment: catches what changed beside
    the appointment services (a consent given or withdrawn, a new caregiver, a new
    address). A constant number of queries per batch; returns the appointments planned."""
    from refills.models import Appointment  # refills depends on alerts, not the reverse

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
                appointments = list(Appointment.objects.filter(pk__in=batch).select_related("pump__patient"))
                patients = [a.pump.patient_id for a in appointments]
                caregivers: dict[int, list] = {}
                for caregiver in Caregiver.objects.filter(patient_id__in=patients).order_by("pk"):
                    caregivers.setdefault(caregiver.patient_id, []).append(caregiver)
                existing: dict[str, list] = {}
                for row in Notification.objects.filter(subject__in=[f"appointment:{pk}" for pk in batch]):
                    existing.setdefault(row.subject, []).append(row)
                for appointment in appointments:
                    patient = appointment.pump.patient
                    people = people_of(patient, caregivers.get(patient.pk, []))
                    _plan_reminders(
                        appointment, clinic, people, existing.get(f"appointment:{appointment.pk}", [])
                    )
                    count += 1
    return count


# --- escalations (ALERT-1) -------------------------------------------------------------


def escalation_due_at(alert: Alert, now: datetime, every_hours: int) -> datetime:
    """The current repeat of an open alert: raised_at + k × interval for the largest k that
    is not in the future. Only the current one is planned, never a far-future one; a job
    that was down sends the latest repeat when it comes back, not a burst of missed ones."""
    interval = timedelta(hours=every_hours)
    k = max(0, (now - alert.raised_at) // interval)
    return alert.raised_at + k * interval


def alert_notifications_plan(alert: Alert, now: datetime) -> None:
    """The messages an open alert is owed now: the current escalation to the on-call address
    (again every N hours by severity, until acknowledged), the staff notice (once), and for
    a pump past its projected empty time the patient and caregivers too (once: "call the
    clinic now")."""
    clinic = alert.clinic
    subject = f"alert:{alert.pk}"
    existing = list(Notification.objects.filter(subject=subject))
    wanted = []
    fields = {"alert_id": alert.pk, "pump_id": alert.pump_id}
    if alert.kind in ESCALATED:
        every = escalation_every_hours(alert)
        due = escalation_due_at(alert, now, every) if every else alert.raised_at
        wanted.append(Planned(on_call_recipient(clinic), ESCALATED[alert.kind], due, fields))
        if alert.kind == AlertKind.PAST_EMPTY and alert.pump_id:
            patient = alert.pump.patient
            for person in people_of(patient, list(patient.caregivers.all())):
                wanted.append(Planned(person, NotificationKind.PAST_EMPTY, alert.raised_at, fields))
    elif alert.kind in NOTICE:
        wanted.append(Planned(staff_recipient(clinic), NOTICE[alert.kind], alert.raised_at, fields))
    # An earlier repeat still pending (mail was down) is superseded by the current one.
    _apply(subject, clinic, wanted, existing, "superseded by a later repeat")


def alert_notifications_cancel(alert: Alert, why: str) -> int:
    """Acknowledged or resolved: what is still pending for the alert is not sent."""
    return Notification.objects.filter(subject=f"alert:{alert.pk}", status=PENDING).update(
        status=CANCELLED, status_reason=why
    )


def escalations_plan_all(now: datetime | None = None) -> int:
    """Plan the messages of every open alert that notifies someone."""
    now = now or clock.now()
    alerts = Alert.objects.filter(
        Q(kind__in=list(ESCALATED)) | Q(kind__in=list(NOTICE)),
        acknowledged_at__isnull=True,
        resolved_at__isnull=True,
    ).select_related("clinic", "pump__patient")
    count = 0
    for alert in alerts:
        with transaction.atomic():
            alert_notifications_plan(alert, now)
        count += 1
    return count


# --- stale emergency cards (REFILL-4) --------------------------------------------------


def card_stale_notices_plan(now: datetime | None = None) -> int:
    """Once a day per clinic, at the reminder time, a notice to the staff address when
    emergency cards are stale (REFILL-4): how many, and the link that prints them all in
    one batch. One row per clinic and day; the stale cards are counted again when it is
    sent. Returns the notices planned."""
    from cards.selectors import stale_card_pump_ids  # cards depends on refills, which depends on alerts

    now = now or clock.now()
    planned = 0
    for clinic in Clinic.objects.all():
        local = now.astimezone(clinic.tz)
        due = local_instant(clinic, local.date(), reminder_time())
        if due > now:
            continue
        subject = f"cards:{clinic.code}"
        existing = list(Notification.objects.filter(subject=subject, due_at=due))
        if existing or not stale_card_pump_ids(clinic):
            continue
        with transaction.atomic():
            _apply(
                subject,
                clinic,
                [Planned(staff_recipient(clinic), NotificationKind.CARD_STALE, due, {})],
                existing,
                "superseded",
            )
        planned += 1
    return planned
