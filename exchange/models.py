from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from patients.models import Clinic, Patient


class TransferStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    DONE = "done", "Done"
    DECLINED = "declined", "Declined"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Transfer(models.Model):
    """A patient with their pumps moving from one clinic to another: asked by an admin of
    the clinic they leave, done when an admin of the clinic they join accepts (at once when
    one person is admin of both, as the platform's operator is)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="transfers")
    from_clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    to_clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    status = models.CharField(max_length=10, choices=TransferStatus.choices, default=TransferStatus.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(status="requested"),
                name="one_open_transfer_per_patient",
            )
        ]

    def __str__(self):
        return f"{self.patient} {self.from_clinic.code} → {self.to_clinic.code} ({self.status})"
