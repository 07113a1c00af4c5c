"""Oral medications beside the intrathecal therapy (ORAL-1), their weaning (WEAN-1) and the
oral drug catalog. The rules live in ``therapy.oral``; every record keeps its history."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from patients.models import Patient, fraction
from therapy.oral import OralDrug as CoreOralDrug


class OralDrug(models.Model):
    """An oral drug a clinic meets beside intrathecal baclofen, with ORAL-1's numbers (empty
    where the rule gives none) and their source."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    benzodiazepine = models.BooleanField(default=False, help_text="RISK-1: flagged in stroke recovery")
    starting_dose_mg = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    starting_times_per_day = models.PositiveSmallIntegerField(null=True, blank=True)
    max_daily_dose_mg = models.DecimalField(
        max_digits=7, decimal_places=2, null=True, blank=True, help_text="ORAL-1: above it a warning"
    )
    older_adult_tolerated_low_mg = models.DecimalField(
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="ORAL-1: older adults rarely tolerate more than low–high mg/day; warned above low",
    )
    older_adult_tolerated_high_mg = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    hepatotoxic = models.BooleanField(default=False, help_text="ORAL-1: a hepatotoxicity warning")
    source = models.TextField(blank=True, help_text="Where each value comes from")
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def as_core(self) -> CoreOralDrug:
        return CoreOralDrug(
            code=self.code,
            name=self.name,
            benzodiazepine=self.benzodiazepine,
            starting_dose_mg=fraction(self.starting_dose_mg),
            starting_times_per_day=self.starting_times_per_day,
            max_daily_dose_mg=fraction(self.max_daily_dose_mg),
            older_adult_tolerated_low_mg=fraction(self.older_adult_tolerated_low_mg),
            older_adult_tolerated_high_mg=fraction(self.older_adult_tolerated_high_mg),
            hepatotoxic=self.hepatotoxic,
        )


# The drug WEAN-1 weans first.
ORAL_BACLOFEN = "baclofen_oral"


class OralMedication(models.Model):
    """One course of an oral drug at one dose: a change of dose ends the course and starts
    another from that day, so the history of doses is the list of courses."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="oral_medications")
    drug = models.ForeignKey(OralDrug, on_delete=models.PROTECT, related_name="courses")
    dose_mg = models.DecimalField(
        max_digits=7, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    times_per_day = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    started_on = models.DateField()
    stopped_on = models.DateField(null=True, blank=True)
    prescriber = models.CharField(max_length=200)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["started_on", "pk"]

    def __str__(self):
        return f"{self.drug} {self.dose_mg} mg × {self.times_per_day}/day from {self.started_on}"

    def clean(self):
        if self.stopped_on is not None and self.started_on is not None and self.stopped_on < self.started_on:
            raise ValidationError({"stopped_on": "A medication stops on or after the day it started."})

    @property
    def daily_dose_mg(self) -> Fraction:
        return fraction(self.dose_mg) * self.times_per_day

    def active_on(self, day) -> bool:
        return self.started_on <= day and (self.stopped_on is None or self.stopped_on > day)


class WeaningPlan(models.Model):
    """WEAN-1: the weaning of one oral medication, in dated steps the prescriber gives."""

    medication = models.OneToOneField(OralMedication, on_delete=models.PROTECT, related_name="weaning_plan")
    override_reason = models.TextField(
        blank=True, help_text="WEAN-1: why this drug is weaned before oral baclofen (a prescriber's)"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"weaning of {self.medication}"


class WeaningStep(models.Model):
    """A step of a weaning plan: from ``day``, ``dose_mg`` per intake (0: the drug ends),
    ticked off by a nurse (who, when)."""

    plan = models.ForeignKey(WeaningPlan, on_delete=models.PROTECT, related_name="steps")
    number = models.PositiveSmallIntegerField()
    day = models.DateField()
    dose_mg = models.DecimalField(
        max_digits=7, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "number"]
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="one_weaning_step_per_number")]

    def __str__(self):
        return f"step {self.number} of {self.plan}: {self.dose_mg} mg from {self.day}"
