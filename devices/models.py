"""Pump interrogations and the alarms read at them (DEVICE-1), and MRIs with their
follow-up (MRI-1). Audited with django-simple-history; written through ``services``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from patients.models import MriFollowUp, Pump
from refills.models import Prescription, Refill


class Interrogation(models.Model):
    """A device interrogation: when, by whom, the alarms read (codes of
    ``therapy.device.ALARMS``) and the ERI date an ERI alarm set (ERI-1)."""

    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="interrogations")
    interrogated_at = models.DateTimeField()
    interrogated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    alarms = models.JSONField(default=list, blank=True, help_text="DEVICE-1: the alarm codes read")
    eri_on = models.DateField(null=True, blank=True, help_text="ERI-1: the ERI date an ERI alarm set")
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["pump", "-interrogated_at"]
        indexes = [models.Index(fields=["pump", "interrogated_at"])]

    def __str__(self):
        return f"{self.pump} interrogated {self.interrogated_at:%Y-%m-%d %H:%M}Z"


class Mri(models.Model):
    """A planned MRI of a pump's patient and its follow-up (MRI-1), the follow-up copied
    from the pump model's catalog entry when planned. SynchroMed II: ``interrogation`` is
    the one after the scan that completed it. Prometra II: ``emptying`` is the zero-dose
    prescription (TITRATE-2) recorded when the pump was emptied before the scan, and
    ``completed_by_refill`` the refill after the scan that completed the follow-up, if a
    refill did (not a booking on the scan day): voided, it leaves the follow-up open again."""

    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="mris")
    scan_at = models.DateTimeField()
    follow_up = models.CharField(max_length=20, choices=MriFollowUp.choices)
    planned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    notes = models.TextField(blank=True)
    interrogation = models.ForeignKey(
        Interrogation, on_delete=models.PROTECT, null=True, blank=True, related_name="mris"
    )
    emptied_at = models.DateTimeField(null=True, blank=True)
    emptying = models.OneToOneField(
        Prescription, on_delete=models.PROTECT, null=True, blank=True, related_name="mri_emptying"
    )
    completed_at = models.DateTimeField(null=True, blank=True, help_text="when its follow-up was done")
    completed_by_refill = models.ForeignKey(
        Refill,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="the refill after the scan that completed an emptied pump's follow-up",
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["pump", "-scan_at"]
        indexes = [models.Index(fields=["completed_at", "cancelled_at"])]

    def __str__(self):
        return f"MRI of {self.pump} at {self.scan_at:%Y-%m-%d %H:%M}Z"

    @property
    def is_open(self) -> bool:
        return self.completed_at is None and self.cancelled_at is None
