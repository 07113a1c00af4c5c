"""Clinics, staff, patients, caregivers, implanted pumps and the device and drug catalogs.

Every clinical model keeps its history (django-simple-history) with the user and the
reason of each change; services set both (``_history_user``, ``_change_reason``).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from simple_history import register as register_history
from simple_history.models import HistoricalRecords

ISO_WEEKDAYS = {
    1: "Monday",
    2: "Tuesday",
    3: "Wednesday",
    4: "Thursday",
    5: "Friday",
    6: "Saturday",
    7: "Sunday",
}


def validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(
            f"{value!r} is not an IANA time zone (for example Europe/Paris, America/New_York)"
        )


def validate_working_days(value) -> None:
    if not isinstance(value, list) or not all(isinstance(d, int) and d in ISO_WEEKDAYS for d in value):
        raise ValidationError("must be a list of ISO weekdays, 1 = Monday … 7 = Sunday")
    if not value:
        raise ValidationError("must name at least one working day")


def default_working_days() -> list[int]:
    return [1, 2, 3, 4, 5]


def validate_reminder_days(value) -> None:
    if not isinstance(value, list) or not all(isinstance(d, int) and 0 < d <= 365 for d in value):
        raise ValidationError("must be a list of whole days before the appointment, each 1 to 365")
    if len(set(value)) != len(value):
        raise ValidationError("must not repeat a day")


def default_reminder_days() -> list[int]:
    """ALERT-2: reminders 14, 7 and 1 days before a booked appointment."""
    return [14, 7, 1]


def fraction(value) -> Fraction | None:
    """A stored Decimal as the exact Fraction the calculation core works with."""
    return None if value is None else Fraction(Decimal(value))


class Clinic(models.Model):
    name = models.CharField(max_length=200)
    code = models.CharField(
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9][A-Z0-9_-]*$", "use capital letters, digits, - and _")],
        help_text="Short unique code, e.g. NEURO1",
    )
    timezone = models.CharField(max_length=64, validators=[validate_timezone], help_text="IANA time zone")
    emergency_phone = models.CharField(max_length=40, help_text="24/7 emergency phone")
    safety_margin_days = models.PositiveSmallIntegerField(
        default=7, help_text="LRA-4: days between the worst-case alarm date and the refill-by date"
    )
    refill_slots_per_day = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="refill appointments the clinic can take a day; empty: no limit"
    )
    working_days = models.JSONField(
        default=default_working_days,
        validators=[validate_working_days],
        help_text="ISO weekdays the clinic refills pumps (1 = Monday … 7 = Sunday)",
    )
    # Reminders and escalations (ALERT-1, ALERT-2)
    phone = models.CharField(
        max_length=40,
        blank=True,
        help_text="Appointments phone printed in reminders; empty: the emergency phone",
    )
    address = models.TextField(
        blank=True, help_text="Where patients come for appointments (shown in reminders)"
    )
    on_call_email = models.EmailField(
        blank=True, help_text="ALERT-1: overdue and critical alerts go here, repeated until acknowledged"
    )
    staff_email = models.EmailField(
        blank=True,
        help_text="Staff notices (refill due and not booked, card stale); empty: the on-call address",
    )
    reminder_days_before = models.JSONField(
        default=default_reminder_days,
        validators=[validate_reminder_days],
        help_text="ALERT-2: days before a booked refill or replacement that patients and caregivers are reminded",
    )
    older_adult_from_age_years = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="ORAL-1, RISK-1: the age from which a patient counts as an older adult; "
        "empty: no age check is made",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} — {self.name}"

    @property
    def contact_phone(self) -> str:
        return self.phone or self.emergency_phone

    @property
    def staff_notice_email(self) -> str:
        return self.staff_email or self.on_call_email

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class ClinicClosure(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="closures")
    date = models.DateField()
    reason = models.CharField(max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["clinic", "date"], name="unique_closure_per_day")]

    def __str__(self):
        return f"{self.clinic.code} closed {self.date}"


class Role(models.TextChoices):
    NURSE = "nurse", "Nurse"
    PHYSICIAN = "physician", "Physician"
    STAFF = "staff", "Staff"
    ADMIN = "admin", "Admin"


class StaffMembership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "clinic"], name="one_role_per_clinic")]

    def __str__(self):
        return f"{self.user} — {self.role} at {self.clinic.code}"


class SpasticityOrigin(models.TextChoices):
    SPINAL = "spinal", "Spinal"
    CEREBRAL = "cerebral", "Cerebral"


class Patient(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    mrn = models.CharField("MRN", max_length=64)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    spasticity_origin = models.CharField(max_length=10, choices=SpasticityOrigin.choices)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    communication_consent = models.BooleanField(
        default=False, help_text="The patient agreed to receive reminders by email"
    )
    # RISK-1: shown wherever a dose is decided.
    renal_impairment = models.BooleanField(default=False, help_text="RISK-1: drug accumulation")
    obstructive_sleep_apnoea = models.BooleanField(default=False, help_text="RISK-1: airway collapse")
    brain_injury = models.BooleanField(
        default=False, help_text="RISK-1: seizures, psychological disturbances"
    )
    old_age = models.BooleanField(
        default=False,
        help_text="RISK-1: seizures, psychological disturbances (also derived from the clinic's "
        "older-adult age)",
    )
    stroke_recovery = models.BooleanField(
        default=False, help_text="RISK-1: a benzodiazepine on the oral list is flagged"
    )
    complete_spinal_cord_lesion = models.BooleanField(
        default=False, help_text="RISK-1: Frankel A, higher starting doses"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["family_name", "given_name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "mrn"], name="unique_mrn_per_clinic")]

    def __str__(self):
        return f"{self.family_name}, {self.given_name} ({self.mrn})"


RISK_FLAGS = (
    "renal_impairment",
    "obstructive_sleep_apnoea",
    "brain_injury",
    "old_age",
    "stroke_recovery",
    "complete_spinal_cord_lesion",
)


class Caregiver(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="caregivers")
    name = models.CharField(max_length=200)
    relation = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    communication_consent = models.BooleanField(default=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.relation} of {self.patient})"


# --- catalogs (PUMP-1..3, DOSE-4) ------------------------------------------------------


class Drug(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    supplied_concentrations_mcg_per_ml = models.JSONField(
        default=list, help_text="DOSE-4: concentrations supplied ready-made; others are compounded"
    )
    starting_concentration_mcg_per_ml = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True
    )
    max_reservoir_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="LRA-4(b): maximum time in the reservoir, days"
    )
    source = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name

    @property
    def supplied(self) -> list[Fraction]:
        return [Fraction(Decimal(str(c))) for c in self.supplied_concentrations_mcg_per_ml]


class MriFollowUp(models.TextChoices):
    """MRI-1: what the model needs around an MRI (labeling, with its source in ``source``)."""

    INTERROGATE_AFTER = "interrogate_after", "Interrogate the pump after the scan (the motor stalls)"
    EMPTY_BEFORE = "empty_before", "Empty the pump before the scan"


class PumpModel(models.Model):
    code = models.CharField(max_length=20, unique=True)
    manufacturer = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    reservoir_ml = models.DecimalField(
        max_digits=5, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    low_reservoir_alarm_ml = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    accuracy_tolerance_pct = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    pathway_volume_min_ml = models.DecimalField(
        max_digits=6, decimal_places=3, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    pathway_volume_max_ml = models.DecimalField(
        max_digits=6, decimal_places=3, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    service_life_months = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="ERI-1: planning service life (short end of the typical range)"
    )
    discrepancy_threshold_ml = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="REFILL-1: residual discrepancy threshold",
    )
    mri_follow_up = models.CharField(
        max_length=20,
        choices=MriFollowUp.choices,
        blank=True,
        help_text="MRI-1: the follow-up an MRI needs; empty: no MRI guidance on file (an MRI is refused)",
    )
    source = models.TextField(blank=True, help_text="Where each value comes from")
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.manufacturer} {self.name} ({self.code})"

    def clean(self):
        errors = {}
        if self.low_reservoir_alarm_ml is not None and self.reservoir_ml is not None:
            if not Decimal("0") <= self.low_reservoir_alarm_ml < self.reservoir_ml:
                errors["low_reservoir_alarm_ml"] = "must be 0 or more and less than the reservoir volume"
        lo, hi = self.pathway_volume_min_ml, self.pathway_volume_max_ml
        if lo is not None and hi is not None and lo > hi:
            errors["pathway_volume_max_ml"] = "must be at least pathway_volume_min_ml"
        if errors:
            raise ValidationError(errors)


class CatheterModel(models.Model):
    code = models.CharField(max_length=20, unique=True)
    manufacturer = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    volume_ml_per_cm = models.DecimalField(
        max_digits=7, decimal_places=5, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    source = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.manufacturer} {self.name} ({self.code})"


class PumpStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPLANTED = "explanted", "Explanted"


class Pump(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="pumps")
    model = models.ForeignKey(PumpModel, on_delete=models.PROTECT, related_name="pumps")
    serial_number = models.CharField(max_length=64)
    implanted_on = models.DateField()
    catheter_model = models.ForeignKey(CatheterModel, on_delete=models.PROTECT, related_name="pumps")
    catheter_length_cm = models.DecimalField(
        max_digits=5, decimal_places=1, validators=[MinValueValidator(Decimal("0.1"))]
    )
    low_reservoir_alarm_ml = models.DecimalField(
        max_digits=5, decimal_places=2, help_text="Defaults to the model's low-reservoir alarm volume"
    )
    eri_on = models.DateField(
        null=True, blank=True, help_text="ERI-1: from a device interrogation; empty means estimated"
    )
    status = models.CharField(max_length=10, choices=PumpStatus.choices, default=PumpStatus.ACTIVE)
    explanted_on = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["model", "serial_number"], name="unique_serial_per_model")
        ]

    def __str__(self):
        return f"{self.model.code} #{self.serial_number}"

    @property
    def clinic(self) -> Clinic:
        return self.patient.clinic


# Logins and passwords are part of who may change clinical data: keep their history too.
register_history(get_user_model(), app="patients", table_name="patients_historicaluser")
