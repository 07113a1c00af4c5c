"""Alerts for clinic staff, raised on persisted state (TITRATE-2 discontinuations now;
the scheduling and reminder issues add overdue and critical kinds and their escalation)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from patients.models import Clinic, Pump


class AlertKind(models.TextChoices):
    DISCONTINUATION = "discontinuation", "Therapy stopped or reduced to zero (withdrawal risk)"
    NO_REFILL_SLOT = "no_refill_slot", "No refill slot before the refill-by date"
    REPLACEMENT_PLANNING = "replacement_planning", "Replacement planning open: book the surgery"
    REPLACEMENT_OVERDUE = "replacement_overdue", "Replacement book-by date passed without a booked surgery"


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
    raised_at = models.DateTimeField(auto_now_add=True)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledgement_note = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-raised_at"]
        indexes = [models.Index(fields=["clinic", "acknowledged_at"])]

    def __str__(self):
        return f"{self.get_severity_display()}: {self.get_kind_display()}"
