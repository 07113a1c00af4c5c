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
    # DEVICE-1: the pump has stopped or may stop delivering; MRI-1: a SynchroMed II not
    # interrogated after its scan may have stalled, an emptied Prometra II has no refill booked.
    AlertKind.DEVICE_ALARM: NotificationKind.DEVICE_ALARM,
    AlertKind.MRI_INTERROGATION_OVERDUE: NotificationKind.MRI_INTERROGATION_OVERDUE,
    AlertKind.MRI_REFILL_UNBOOKED: NotificationKind.MRI_REFILL_UNBOOKED,
    # MONITOR-1: withdrawal evolves over 1–3 days and needs the infusion resumed at once.
    AlertKind.WITHDRAWAL_SIGNS: NotificationKind.WITHDRAWAL_SIGNS,
}
# Alert kind → a notice sent once to the clinic's staff address.
# A discontinuation (TITRATE-2) is a prescriber's decision: the team is told once, so that
# someone watches for withdrawal; over capacity, a booking on a closed day and a refill
# booked after the refill-by date need a nurse to act (LRA-5).
NOTICE = {
    AlertKind.REFILL_UNBOOKED: NotificationKind.REFILL_UNBOOKED,
    AlertKind.DISCONTINUATION: NotificationKind.DISCONTINUATION,
    AlertKind.OVER_CAPACITY: NotificationKind.OVER_CAPACITY,
    AlertKind.APPOINTMENT_DAY_CLOSED: NotificationKind.APPOINTMENT_DAY_CLOSED,
    AlertKind.REFILL_BOOKED_LATE: NotificationKind.REFILL_BOOKED_LATE,
    # MRI-1: the interrogation after a SynchroMed II's scan is a task for today.
    AlertKind.MRI_INTERROGATION_DUE: NotificationKind.MRI_INTERROGATION_DUE,
    # MONITOR-1 side effects and DRIFT-1's trend ask a physician to review: told once.
    AlertKind.SIDE_EFFECTS: NotificationKind.SIDE_EFFECTS,
    AlertKind.DELIVERY_DRIFT: NotificationKind.DELIVERY_DRIFT,
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


def recipient_now(key: str, clinic: Clinic, *, patient: Patient | None = None) -> Recipient:
    """The recipient of a row's key as they are now (the address and consent are read
    again when a message is sent; ``patient``: the row's patient, read just now with it)."""
    role, _, ident = key.partition(":")
    if role == RecipientRole.PATIENT:
        if patient is None or str(patient.pk) != ident:
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


@dataclass(slots=True)
class Row:
    """The columns of an outbox row that planning reads (``rows_of``): a periodic pass reads
    every row of every booked appointment, and a model instance per row costs more than
    the query that reads it."""

    pk: int
    subject: str
    recipient: str
    kind: str
    due_at: datetime
    event_slot: str
    status: str
    status_reason: str
    sent_at: datetime | None


def rows_of(subjects: list[str]) -> dict[str, list[Row]]:
    """The rows of each subject, as planning reads them, in one query."""
    rows: dict[str, list[Row]] = {}
    for values in Notification.objects.filter(subject__in=subjects).values_list(
        "pk", "subject", "recipient", "kind", "due_at", "event_slot", "status", "status_reason", "sent_at"
    ):
        row = Row(*values)
        rows.setdefault(row.subject, []).append(row)
    return rows


@dataclass(frozen=True)
class Planned:
    """A row the plan wants: pending, or cancelled with the reason it is skipped."""

    recipient: Recipient
    kind: str
    due_at: datetime
    fields: dict


def rows_plan(
    subject: str,
    clinic: Clinic,
    wanted: list[Planned],
    existing: list[Notification] | list[Row],
    why_gone: str,
):
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
            row.status, row.status_reason = status, reason
            Notification.objects.filter(pk=row.pk).update(
                status=status,
                status_reason=reason,
                email=plan.recipient.email,
                attempts=0,
                next_attempt_at=None,
                last_error="",
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
    rows_plan(subject, clinic, wanted, existing, "superseded by a later repeat")


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
