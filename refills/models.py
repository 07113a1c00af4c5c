"""Prescriptions and refills: the therapy record of a pump, in time order."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

import therapy
from patients.models import Drug, Patient, Pump


class PrescriptionMode(models.TextChoices):
    SIMPLE_CONTINUOUS = "simple_continuous", "Simple continuous"
    FLEX = "flex", "Flex"
    PERIODIC_BOLUS = "periodic_bolus", "Periodic bolus"


class RecordedManager(models.Manager):
    """The therapy record as it stands: entries not voided. Every reader of the record
    (projection, titration, drift, lists) goes through it; a voided entry is kept, with who
    voided it and why, and read through ``all_objects`` (history, timeline, corrections)."""

    def get_queryset(self):
        return super().get_queryset().filter(voided_at__isnull=True)


class Voidable(models.Model):
    """A record entered by mistake is voided with a reason, never deleted; a correction is a
    new entry that ``corrects`` the voided one."""

    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.TextField(blank=True)
    corrects = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrected_by"
    )

    objects = RecordedManager()
    all_objects = models.Manager()  # noqa: DJ012 (the managers of an abstract base)

    class Meta:
        abstract = True

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None


class Prescription(Voidable):
    """What the pump is programmed to deliver from ``effective_at`` (DOSE-1).

    ``schedule`` holds the validated API shape (``therapy.Prescription.as_dict()``);
    ``daily_dose_mcg`` is the DOSE-2 total (patient-activated boluses at their maximum),
    kept for lists and reports.
    """

    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="prescriptions")
    effective_at = models.DateTimeField()
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT)
    concentration_mcg_per_ml = models.DecimalField(max_digits=8, decimal_places=2)
    mode = models.CharField(max_length=20, choices=PrescriptionMode.choices)
    schedule = models.JSONField()
    daily_dose_mcg = models.DecimalField(max_digits=9, decimal_places=1)
    clock_utc_offset_minutes = models.SmallIntegerField(
        help_text="DOSE-3: the pump clock's UTC offset, the clinic's offset when programmed"
    )
    prescriber = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField()
    override_reason = models.TextField(blank=True)
    refill = models.OneToOneField(
        "Refill", on_delete=models.PROTECT, null=True, blank=True, related_name="prescription"
    )
    empties_reservoir = models.BooleanField(
        default=False,
        help_text="MRI-1: the reservoir was emptied when this (zero-dose) prescription began",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["pump", "effective_at"]
        indexes = [models.Index(fields=["pump", "effective_at"])]

    def __str__(self):
        return (
            f"{self.pump} {self.mode} {self.daily_dose_mcg} mcg/day from {self.effective_at:%Y-%m-%d %H:%M}Z"
        )


class Discrepancy(models.TextChoices):
    LESS = "less_than_expected", "Less than expected"
    MORE = "more_than_expected", "More than expected"


class DeliveryDrift(models.TextChoices):
    UNDER = "under_delivery", "Under-delivery"
    OVER = "over_delivery", "Over-delivery"


class Refill(Voidable):
    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="refills")
    performed_at = models.DateTimeField()
    performed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    volume_withdrawn_ml = models.DecimalField(max_digits=5, decimal_places=2)
    volume_added_ml = models.DecimalField(max_digits=5, decimal_places=2)
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT)
    concentration_mcg_per_ml = models.DecimalField(max_digits=8, decimal_places=2)
    compounded_confirmed = models.BooleanField(default=False)
    expected_residual_ml = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    discrepancy_ml = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # null, not "": the API contract reports "no discrepancy" as null.
    discrepancy = models.CharField(  # noqa: DJ001
        max_length=20, choices=Discrepancy.choices, null=True, blank=True
    )
    bridge_from_concentration_mcg_per_ml = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True
    )
    bridge_path_volume_ml = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    bridge_duration_hours = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    bridge_programmed_dose_mcg = models.DecimalField(max_digits=9, decimal_places=1, null=True, blank=True)
    bridge_delivered_dose_mcg = models.DecimalField(max_digits=9, decimal_places=1, null=True, blank=True)
    # DRIFT-1: what this refill observed about the delivery since the previous one (null at
    # a pump's first fill, and the ratio null when it cannot be observed).
    programmed_volume_ml = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    delivery_ratio = models.DecimalField(max_digits=7, decimal_places=3, null=True, blank=True)
    delivery_drift = models.CharField(  # noqa: DJ001 (null: nothing flagged, as the API says)
        max_length=20, choices=DeliveryDrift.choices, null=True, blank=True
    )
    lot_number = models.CharField(max_length=64, blank=True)
    notes = models.TextField(blank=True)
    implant_fill = models.BooleanField(
        default=False, help_text="IMPLANT-1: the intraoperative fill at the pump's implant"
    )
    priming_volume_ml = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="IMPLANT-1: the new catheter's volume (PUMP-2), primed before the prescribed rate",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["pump", "performed_at"]
        indexes = [models.Index(fields=["pump", "performed_at"])]

    def __str__(self):
        return f"{self.pump} refill {self.performed_at:%Y-%m-%d %H:%M}Z"

    @property
    def bridge_bolus(self) -> dict | None:
        if self.bridge_path_volume_ml is None:
            return None
        return {
            "path_volume_ml": self.bridge_path_volume_ml,
            "duration_hours": self.bridge_duration_hours,
            "programmed_dose_mcg": self.bridge_programmed_dose_mcg,
            "delivered_dose_mcg": self.bridge_delivered_dose_mcg,
        }


class PumpExplant(models.Model):
    """The end of a pump's therapy (TITRATE-2, IMPLANT-1): explanted on a day, either
    replaced by a pump implanted the same day for the same patient (the therapy continues:
    the new pump's first prescription is checked against this pump's doses), or not (a
    discontinuation, recorded with a prescriber's override and a critical alert)."""

    pump = models.OneToOneField(Pump, on_delete=models.PROTECT, related_name="explant")
    explanted_on = models.DateField(help_text="the clinic's local date")
    replaced_by = models.OneToOneField(
        Pump, on_delete=models.PROTECT, null=True, blank=True, related_name="replaces"
    )
    stopped_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="TITRATE-2: without a replacement, when the therapy stopped (dose 0 from then on)",
    )
    reason = models.TextField()
    override_reason = models.TextField(blank=True, help_text="TITRATE-2: the prescriber's written reason")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    def __str__(self):
        how = f"replaced by {self.replaced_by}" if self.replaced_by_id else "not replaced"
        return f"{self.pump} explanted {self.explanted_on}, {how}"


class ScreeningTrial(models.Model):
    """SCREEN-1: a patient's intrathecal screening trial; its boluses decide START-1's
    starting dose, which the first prescription of the therapy is checked against (START-2)."""

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="screening_trial")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    def __str__(self):
        return f"screening trial of {self.patient}"


class ScreeningBolus(models.Model):
    """SCREEN-1: one screening bolus (50, 75 or 100 mcg, the configured steps) and what was
    observed after it."""

    trial = models.ForeignKey(ScreeningTrial, on_delete=models.PROTECT, related_name="boluses")
    dose_mcg = models.DecimalField(max_digits=6, decimal_places=1)
    given_at = models.DateTimeField()
    observed_by = models.CharField(max_length=200, help_text="who observed the response")
    responded = models.BooleanField()
    effect_duration_hours = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    adverse_reactions = models.TextField(blank=True, help_text="empty: none observed")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    class Meta:
        ordering = ["trial", "given_at", "pk"]

    def __str__(self):
        return f"{self.dose_mcg} mcg screening bolus at {self.given_at:%Y-%m-%d %H:%M}Z"


class PumpProjection(models.Model):
    """A pump's stored projection: what does not move with the passing of time.

    An alarm instant does not change while nothing about the pump changes, so it is computed
    when an input changes (in the same transaction as the refill, prescription, pump, clinic
    or catalog change) and by the nightly job for inputs changed behind the services' back,
    which ``fingerprint`` reveals. What does move with time — the volume now, the urgency —
    is derived from these columns when read.
    """

    pump = models.OneToOneField(Pump, on_delete=models.CASCADE, primary_key=True, related_name="projection")
    fingerprint = models.CharField(max_length=32, help_text="hash of every input of the projection")
    computed_at = models.DateTimeField(db_index=True)  # the worklist's data version reads its maximum
    filled_at = models.DateTimeField(null=True, blank=True)
    daily_volume_ml = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    low_reservoir_alarm_at = models.DateTimeField(null=True, blank=True)
    low_reservoir_alarm_at_worst_case = models.DateTimeField(null=True, blank=True, db_index=True)
    empty_at = models.DateTimeField(null=True, blank=True)
    empty_at_worst_case = models.DateTimeField(null=True, blank=True)
    refill_by = models.DateField(null=True, blank=True, db_index=True)
    refill_by_reason = models.CharField(max_length=20, blank=True)
    eri_on = models.DateField(null=True, blank=True)
    eri_estimated = models.BooleanField(null=True, blank=True)
    eos_on = models.DateField(null=True, blank=True)
    replacement_planning_opens_on = models.DateField(null=True, blank=True)
    replacement_book_by = models.DateField(null=True, blank=True)
    warnings = models.JSONField(default=list, blank=True)

    def __str__(self):
        return f"projection of {self.pump_id}: refill by {self.refill_by}"

    @property
    def stale_since(self) -> datetime | None:
        """When an edit marked this projection stale (``StaleProjection``), None when it is
        fresh. Lists load the mark with the projection (``select_related("projection__stale")``)."""
        try:
            return self.stale.since
        except StaleProjection.DoesNotExist:
            return None


class StaleProjection(models.Model):
    """A stored projection an edit that many projections read (a catalog value, a clinic's
    zone or safety margin) made stale: the workers recompute it, and storing it deletes
    this mark. A row of its own, not a column of the projection: marking 100,000 of them is
    one INSERT of narrow rows, where an UPDATE would rewrite every projection and its
    indexes."""

    projection = models.OneToOneField(
        PumpProjection, on_delete=models.CASCADE, primary_key=True, related_name="stale"
    )
    since = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"projection of {self.projection_id} stale since {self.since}"


class ImplantMonitoring(models.Model):
    """IMPLANT-1: the monitoring after the start of delivery at an implant (at least 8 hours
    by default): when it started and ended, who observed, what was found."""

    refill = models.OneToOneField(Refill, on_delete=models.PROTECT, related_name="implant_monitoring")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="empty while the monitoring goes on")
    observed_by = models.CharField(max_length=200)
    findings = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    history = HistoricalRecords()

    def __str__(self):
        return f"monitoring after the implant fill of {self.refill.pump}"


class VisitKind(models.TextChoices):
    REFILL = "refill", "Refill"
    TITRATION = "titration", "Titration visit"
    OTHER = "other", "Other visit"


# MONITOR-1's signs, as the model's boolean fields (``therapy.monitoring.SIGNS``' codes).
SIGN_FIELDS = (
    "muscle_weakness",
    "urinary_changes",
    "cognitive_effects",
    "sedation",
    "itching",
    "hypotension",
    "paresthesia",
    "fever",
    "altered_mental_status",
    "rebound_spasticity",
    "seizures",
)


class VisitAssessment(models.Model):
    """MONITOR-1: what a visit observed — signs of too much drug (weakness, urinary changes,
    cognitive effects, sedation) and withdrawal signs — recorded with a refill or on its own
    at a titration or other visit. A withdrawal sign raises a critical alert; a side-effect
    sign asks for a physician's review."""

    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="assessments")
    refill = models.OneToOneField(
        Refill, on_delete=models.PROTECT, null=True, blank=True, related_name="assessment"
    )
    visit_kind = models.CharField(max_length=20, choices=VisitKind.choices)
    assessed_at = models.DateTimeField()
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    muscle_weakness = models.BooleanField(default=False)
    urinary_changes = models.BooleanField(default=False)
    cognitive_effects = models.BooleanField(default=False)
    sedation = models.BooleanField(default=False)
    itching = models.BooleanField(default=False)
    hypotension = models.BooleanField(default=False)
    paresthesia = models.BooleanField(default=False)
    fever = models.BooleanField(default=False)
    altered_mental_status = models.BooleanField(default=False)
    rebound_spasticity = models.BooleanField(default=False)
    seizures = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["pump", "assessed_at"]
        indexes = [models.Index(fields=["pump", "assessed_at"])]

    def __str__(self):
        return (
            f"{self.get_visit_kind_display()} assessment of {self.pump} at {self.assessed_at:%Y-%m-%d %H:%M}Z"
        )

    @property
    def signs(self) -> list[str]:
        return [name for name in SIGN_FIELDS if getattr(self, name)]

    @property
    def observed(self) -> list[tuple[str, bool]]:
        """The signs observed in plain words, each with whether it is a withdrawal sign."""
        return [
            (therapy.monitoring.SIGNS[name], name in therapy.monitoring.WITHDRAWAL_SIGNS)
            for name in self.signs
        ]
