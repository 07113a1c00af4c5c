"""The data version that worklist pages and stale-card counts are cached by
(``pumpcare.data_version``)."""

from __future__ import annotations

from django.db import models


class DataVersion(models.Model):
    """A counter of the committed changes to what a clinic's worklist pages show, or (no
    clinic) of those every clinic's pages show, counted after each commit
    (``pumpcare.data_version``)."""

    clinic = models.OneToOneField(
        "patients.Clinic", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    commits = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.commits} changes at {self.clinic_id or 'every clinic'}"


class DataChange(models.Model):
    """A change to what a clinic's (or, no clinic, every clinic's) worklist pages show,
    written in the changing transaction; the newest one per clinic is part of the data
    version (``pumpcare.data_version``), and the nightly job deletes the older ones."""

    clinic = models.ForeignKey(
        "patients.Clinic", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["clinic", "id"], name="datachange_newest")]

    def __str__(self) -> str:
        return f"change {self.pk} at {self.clinic_id or 'every clinic'}"


class JobClaim(models.Model):
    """A periodic job's run for one period (the nightly projections of one night), claimed
    by the first process that starts it: a second beat, or a task queued twice, finds the
    claim and does nothing (``pumpcare.jobs``)."""

    job = models.CharField(max_length=100)
    period = models.CharField(max_length=40)
    claimed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "period"], name="one_claim_per_job_and_period")]

    def __str__(self) -> str:
        return f"{self.job} of {self.period}"
