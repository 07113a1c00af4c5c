"""Appointments (refills, replacement surgeries, titration visits) and the calendar feeds
that publish them."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from patients.models import Pump
from refills.models import Refill


class AppointmentKind(models.TextChoices):
    REFILL = "refill", "Refill"
    REPLACEMENT = "replacement", "Replacement surgery"
    TITRATION = "titration", "Titration visit"


class AppointmentStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    BOOKED = "booked", "Booked"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


OPEN_STATUSES = (AppointmentStatus.PROPOSED, AppointmentStatus.BOOKED)


class Appointment(models.Model):
    """A refill, replacement surgery or titration visit of a pump. The scheduling job
    proposes refills (LRA-5); nurses book, move, cancel or mark no-shows. A pump has at most
    one open (proposed or booked) appointment of each kind: the database enforces it, so
    two scheduling runs racing cannot create a duplicate."""

    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="appointments")
    kind = models.CharField(max_length=20, choices=AppointmentKind.choices)
    status = models.CharField(
        max_length=20, choices=AppointmentStatus.choices, default=AppointmentStatus.PROPOSED
    )
    day = models.DateField(help_text="the clinic's local date")
    time = models.TimeField(null=True, blank=True, help_text="the clinic's local time, set when booked")
    nurse = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    refill = models.OneToOneField(
        Refill, on_delete=models.PROTECT, null=True, blank=True, related_name="appointment"
    )
    proposed_by_job = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    confirmed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="when the patient or a caregiver confirmed attendance from a reminder",
    )
    confirmed_by = models.CharField(
        max_length=200, blank=True, help_text="who confirmed (reminder recipient)"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["day", "time", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["pump", "kind"],
                condition=models.Q(status__in=["proposed", "booked"]),
                name="one_open_appointment_per_pump_and_kind",
            )
        ]
        indexes = [models.Index(fields=["day", "status"])]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.pump} on {self.day} ({self.status})"


class FeedDetail(models.TextChoices):
    """How much of each appointment a calendar feed publishes (README: Calendar feeds)."""

    MINIMAL = "minimal", "Minimal: kind, time, patient's initials and a link to the pump page"
    FULL = "full", "Full: patient's name and MRN, pump model and serial number"


def new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """A secret, revocable URL publishing a clinic's (or one nurse's) booked appointments as
    an iCalendar feed that Outlook and Google Calendar subscribe to."""

    clinic = models.ForeignKey("patients.Clinic", on_delete=models.CASCADE, related_name="calendar_feeds")
    nurse = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="calendar_feeds",
    )
    token = models.CharField(max_length=64, unique=True, default=new_feed_token, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=8, choices=FeedDetail.choices, default=FeedDetail.MINIMAL)
    history = HistoricalRecords()

    def __str__(self):
        return f"calendar of {self.nurse or self.clinic}"
