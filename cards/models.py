"""Emergency cards (CARD-1, REFILL-4): what a card says, per clinic settings, and every card
issued — who printed it, when, and the data it showed.

A card is *stale* when no wallet card was issued yet, or when the digest of what a card
would show now differs from the digest of the last wallet card issued (``cards.selectors``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from patients.models import Clinic, Drug, Patient, Pump, PumpModel


class PaperSize(models.TextChoices):
    A4 = "A4", "A4 (210 × 297 mm)"
    LETTER = "letter", "US Letter (8.5 × 11 in)"


class DateFormat(models.TextChoices):
    # The default spells the month: "03/04/2026" means March in one country and April in the
    # next, and the card is read by an emergency department anywhere.
    DAY_MONTH_NAME_YEAR = "d MMM yyyy", "26 Nov 2026"
    ISO = "yyyy-mm-dd", "2026-11-26"
    DAY_MONTH_YEAR = "dd/mm/yyyy", "26/11/2026"
    MONTH_DAY_YEAR = "mm/dd/yyyy", "11/26/2026"
    DAY_MONTH_YEAR_DOTS = "dd.mm.yyyy", "26.11.2026"


class CardSettings(models.Model):
    """A clinic's card settings. A clinic without a row uses the defaults."""

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="card_settings")
    paper_size = models.CharField(
        max_length=10,
        choices=PaperSize.choices,
        default=PaperSize.A4,
        help_text="caregiver sheet and batch print sheets",
    )
    date_format = models.CharField(
        max_length=12, choices=DateFormat.choices, default=DateFormat.DAY_MONTH_NAME_YEAR
    )
    default_physician = models.CharField(
        max_length=200,
        blank=True,
        help_text="printed on a card when the patient has no physician of their own",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "card settings"

    def __str__(self):
        return f"card settings of {self.clinic.code}"


class PatientPhysician(models.Model):
    """The physician who manages the patient's pump therapy, as printed on the card."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="card_physician")
    name = models.CharField(max_length=200, help_text="as printed, e.g. Dr. Ana Rivera")
    phone = models.CharField(max_length=40, blank=True)
    history = HistoricalRecords()

    def __str__(self):
        return f"{self.name} ({self.patient})"


class CardText(models.Model):
    """The withdrawal warning and the MRI note of a card, per pump model and drug. Rows
    without a clinic are the shipped defaults (DOMAIN.md CARD-1, TITRATE-2); a clinic's own
    row replaces the default on that clinic's cards."""

    clinic = models.ForeignKey(
        Clinic, on_delete=models.CASCADE, null=True, blank=True, related_name="card_texts"
    )
    pump_model = models.ForeignKey(PumpModel, on_delete=models.PROTECT, related_name="+")
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="+")
    withdrawal_warning = models.TextField(help_text='printed under "Do not stop abruptly"')
    mri_note = models.TextField()
    source = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["pump_model__code", "drug__code", "clinic__code"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "pump_model", "drug"], name="one_card_text_per_clinic"),
            models.UniqueConstraint(
                fields=["pump_model", "drug"],
                condition=models.Q(clinic__isnull=True),
                name="one_default_card_text",
            ),
        ]

    def __str__(self):
        return f"card text {self.pump_model.code}/{self.drug.code} ({self.clinic.code if self.clinic else 'default'})"


class CardFormat(models.TextChoices):
    WALLET = "wallet", "Wallet card (ID-1)"
    SHEET = "sheet", "Caregiver sheet"


class IssuedCard(models.Model):
    """One printed card: who, when, which format, and exactly what it showed (``data``, the
    dict of ``cards.selectors.card_data``) with its digest. Written once, never changed."""

    pump = models.ForeignKey(Pump, on_delete=models.PROTECT, related_name="issued_cards")
    format = models.CharField(max_length=10, choices=CardFormat.choices)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    data = models.JSONField()
    digest = models.CharField(max_length=64, help_text="SHA-256 of the card data")
    batch = models.UUIDField(null=True, blank=True, help_text="cards printed together share this id")
    history = HistoricalRecords()

    class Meta:
        ordering = ["-issued_at", "-pk"]
        indexes = [models.Index(fields=["pump", "format", "-issued_at"])]

    def __str__(self):
        return f"{self.get_format_display()} of {self.pump_id} issued {self.issued_at:%Y-%m-%d %H:%M}Z"
