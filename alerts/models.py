"""Alerts for clinic staff and the notification outbox.

Alerts are raised on persisted state (a job that was down still raises them when it comes
back) and stay open until a staff member acknowledges them; overdue and critical alerts are
escalated by email to the clinic's on-call address, again and again, until then (ALERT-1).

The outbox (``Notification``) holds one row per message to send: reminders to patients and
caregivers (ALERT-2), staff notices and escalations. A row is written before anything is
sent, so nothing is lost and a crashed send is visible; its unique key (recipient, subject,
kind, due time, the appointment slot it names) means planning it twice cannot send it twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from patients.models import Clinic, Pump
from pumpcare import clock

from .messages import current_text


def service_now():
    """The service clock (tests fix it); escalation repeats count from ``raised_at``."""
    return clock.now()


class AlertKind(models.TextChoices):
    DISCONTINUATION = "discontinuation", "Therapy stopped or reduced to zero (withdrawal risk)"
    NO_REFILL_SLOT = "no_refill_slot", "No refill slot before the refill-by date"
    REPLACEMENT_PLANNING = "replacement_planning", "Replacement planning open: book the surgery"
    REPLACEMENT_OVERDUE = "replacement_overdue", "Replacement book-by date passed without a booked surgery"
    PAST_EMPTY = "past_empty", "Past the projected empty time (worst case): withdrawal risk"
    PAST_ALARM = "past_alarm", "Past the low-reservoir alarm time (worst case) without a refill"
    REFILL_OVERDUE = "refill_overdue", "Refill overdue: the refill-by date has passed without a refill"
    REFILL_UNBOOKED = "refill_unbooked", "Refill due and no appointment booked"
    OVER_CAPACITY = "over_capacity", "Clinic over capacity: a refill was proposed on a full day"
    APPOINTMENT_DAY_CLOSED = (
        "appointment_day_closed",
        "A booked appointment falls on a day the clinic is closed",
    )
    REFILL_BOOKED_LATE = (
        "refill_booked_late",
        "A booked refill falls after the refill-by date",
    )
    DELIVERY_FAILED = "delivery_failed", "A reminder or notice could not be delivered"
    DEVICE_ALARM = "device_alarm", "Critical pump alarm read at an interrogation"
    MRI_INTERROGATION_DUE = "mri_interrogation_due", "Interrogate the pump after its MRI (due today)"
    MRI_INTERROGATION_OVERDUE = (
        "mri_interrogation_overdue",
        "Pump not interrogated after its MRI: the motor may have stalled",
    )
    MRI_REFILL_UNBOOKED = (
        "mri_refill_unbooked",
        "Pump emptied for an MRI and its refill after the scan not booked",
    )
    WITHDRAWAL_SIGNS = "withdrawal_signs", "Withdrawal signs at a visit: resume the infusion at once"
    SIDE_EFFECTS = "side_effects", "Side effects at a visit: physician review"
    DELIVERY_DRIFT = "delivery_drift", "Delivery drift over consecutive refills: physician review"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


class Alert(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="alerts")
    pump = models.ForeignKey(Pump, on_delete=models.CASCADE, null=True, blank=True, related_name="alerts")
    kind = models.CharField(max_length=40, choices=AlertKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    message = models.TextField()
    raised_at = models.DateTimeField(default=service_now)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledgement_note = models.TextField(blank=True)
    resolved_at = models.DateTimeField(
        null=True, blank=True, help_text="when the state that raised it ended (a refill, a booking)"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["clinic", "acknowledged_at"])]

    def __str__(self):
        return f"{self.get_severity_display()}: {self.get_kind_display()}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None and self.resolved_at is None

    @property
    def text(self) -> str:
        """ALERT-1: what the alert says now, from the pump's current dates (``message`` is
        the record of what it said when raised)."""
        return current_text(self)


class NotificationKind(models.TextChoices):
    REFILL_REMINDER = "refill_reminder", "Refill reminder"
    REPLACEMENT_REMINDER = "replacement_reminder", "Replacement surgery reminder"
    TITRATION_REMINDER = "titration_reminder", "Titration visit reminder"
    REFILL_UNBOOKED = "refill_unbooked", "Refill due and no appointment (staff)"
    REFILL_OVERDUE = "refill_overdue", "Refill overdue (escalation)"
    PAST_ALARM = "past_alarm", "Past the alarm time (escalation)"
    PAST_EMPTY = "past_empty", "Past the projected empty time (critical escalation)"
    REPLACEMENT_OVERDUE = "replacement_overdue", "Replacement book-by passed (escalation)"
    CARD_STALE = "card_stale", "Emergency card stale (staff)"
    DISCONTINUATION = "discontinuation", "Therapy stopped: watch for withdrawal (staff)"
    OVER_CAPACITY = "over_capacity", "Clinic over capacity (staff)"
    APPOINTMENT_DAY_CLOSED = "appointment_day_closed", "Booked appointment on a closed day (staff)"
    REFILL_BOOKED_LATE = "refill_booked_late", "Booked refill after the refill-by date (staff)"
    DEVICE_ALARM = "device_alarm", "Critical pump alarm (critical escalation)"
    MRI_INTERROGATION_DUE = "mri_interrogation_due", "Interrogate the pump after its MRI (staff)"
    MRI_INTERROGATION_OVERDUE = (
        "mri_interrogation_overdue",
        "Pump not interrogated after its MRI (escalation)",
    )
    MRI_REFILL_UNBOOKED = "mri_refill_unbooked", "Refill after an MRI not booked (escalation)"
    WITHDRAWAL_SIGNS = "withdrawal_signs", "Withdrawal signs at a visit (critical escalation)"
    SIDE_EFFECTS = "side_effects", "Side effects at a visit: physician review (staff)"
    DELIVERY_DRIFT = "delivery_drift", "Delivery drift: physician review (staff)"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class RecipientRole(models.TextChoices):
    PATIENT = "patient", "Patient"
    CAREGIVER = "caregiver", "Caregiver"
    ON_CALL = "on_call", "Clinic on-call"
    STAFF = "staff", "Clinic staff"


class Notification(models.Model):
    """One message of the outbox. ``recipient`` and ``subject`` are stable keys
    (``patient:12``, ``caregiver:3``, ``on_call:HOME``; ``appointment:40``, ``alert:7``,
    ``pump:5``) so that planning the same message twice finds the row it made. The app that
    planned a row names what it is about in its subject (``appointment:40``: the reminder of
    appointment 40) and answers for it when it is sent (``alerts.planners``).

    Delivery claims a due row (pending → sending, with a fresh ``claim``), a task sends it
    once (``attempt_started_at`` is set by a conditional update before the SMTP
    conversation, so a duplicate task exits) and marks it sent; a failure puts it back to
    pending with ``next_attempt_at`` backed off, and after the last attempt it is failed.
    """

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    recipient = models.CharField(max_length=60)
    recipient_role = models.CharField(max_length=20, choices=RecipientRole.choices)
    subject = models.CharField(max_length=60)
    due_at = models.DateTimeField()
    email = models.EmailField(blank=True, help_text="the address when planned (re-read when sent)")
    pump = models.ForeignKey(
        Pump, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    event_on = models.DateField(
        null=True, blank=True, help_text="the appointment day the reminder was planned for"
    )
    event_slot = models.CharField(
        max_length=20,
        blank=True,
        default="",
        help_text="the appointment day and time the reminder names (2026-12-14 10:30); empty for alerts",
    )
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    status_reason = models.CharField(max_length=200, blank=True, help_text="why cancelled or failed")
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resent_at = models.DateTimeField(null=True, blank=True)
    resent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "subject", "kind", "due_at", "event_slot"],
                name="one_notification_per_key_and_slot",
            )
        ]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["status", "claimed_at"]),
            models.Index(fields=["subject", "status"]),
        ]

    def __str__(self):
        return (
            f"{self.get_kind_display()} to {self.recipient} due {self.due_at:%Y-%m-%d %H:%M}Z ({self.status})"
        )


class Installation(models.Model):
    """One row: this installation's identifier, generated once (``alerts.identity``)."""

    instance_id = models.CharField(max_length=63, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.instance_id
