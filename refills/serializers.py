"""Serializers of a pump's therapy record: the prescription shapes (validation messages
are the core's), the outputs and the inputs of refills and prescriptions."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema_field,
)
from rest_framework import serializers

import therapy
from patients.api import CodeField
from patients.models import Drug
from pumpcare.inputs import DateTimeField, ModelSerializer

from .models import SIGN_FIELDS, DeliveryDrift, Prescription, Refill, VisitAssessment, VisitKind

# --- prescription shapes (for validation messages the core does the work) --------------


def _prescription_number(**kwargs):
    """A number in a prescription as the core takes it (``therapy.units``: at most 12 digits
    before the decimal point and 7 after) and shows it back (rounded to 0.0001): documented
    as 1 decimal place, a stored 250.1235 mcg/day did not match the document."""
    return serializers.DecimalField(
        max_digits=therapy.units.MAX_INTEGER_DIGITS + therapy.units.MAX_FRACTION_DIGITS,
        decimal_places=therapy.units.MAX_FRACTION_DIGITS,
        **kwargs,
    )


class _PatientActivatedBolus(serializers.Serializer):
    dose_mcg = _prescription_number()
    max_per_day = serializers.IntegerField(min_value=1, max_value=1440)
    lockout_minutes = serializers.IntegerField(min_value=0, max_value=1440)


class _SimpleContinuous(serializers.Serializer):
    mode = serializers.ChoiceField(["simple_continuous"])
    daily_dose_mcg = _prescription_number()
    patient_activated_bolus = _PatientActivatedBolus(required=False)


class _FlexStep(serializers.Serializer):
    start = serializers.CharField(help_text="HH:MM on the pump clock; the first step starts at 00:00")
    dose_mcg_per_hour = _prescription_number()


class _Flex(serializers.Serializer):
    mode = serializers.ChoiceField(["flex"])
    steps = _FlexStep(many=True)
    patient_activated_bolus = _PatientActivatedBolus(required=False)


class _Bolus(serializers.Serializer):
    time = serializers.CharField(help_text="HH:MM on the pump clock")
    dose_mcg = _prescription_number()
    duration_minutes = serializers.IntegerField(min_value=1, max_value=1440)


class _PeriodicBolus(serializers.Serializer):
    mode = serializers.ChoiceField(["periodic_bolus"])
    basal_daily_dose_mcg = _prescription_number()
    boluses = _Bolus(many=True)
    patient_activated_bolus = _PatientActivatedBolus(required=False)


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="PrescriptionSchedule",
        # The mapping names each mode (a list gave the discriminator a null key).
        serializers={"simple_continuous": _SimpleContinuous, "flex": _Flex, "periodic_bolus": _PeriodicBolus},
        resource_type_field_name="mode",
    )
)
class PrescriptionField(serializers.JSONField):
    """DOSE-1. Validated by ``therapy.parse_prescription``; every mode also takes an optional
    ``patient_activated_bolus: {dose_mcg, max_per_day, lockout_minutes}``."""


# --- outputs ---------------------------------------------------------------------------


class NoticeSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ProjectionSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField()
    reservoir_volume_ml = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    daily_volume_ml = serializers.DecimalField(max_digits=9, decimal_places=3, allow_null=True)
    low_reservoir_alarm_at = serializers.DateTimeField(allow_null=True)
    low_reservoir_alarm_at_worst_case = serializers.DateTimeField(allow_null=True)
    empty_at = serializers.DateTimeField(allow_null=True)
    empty_at_worst_case = serializers.DateTimeField(allow_null=True)
    refill_by = serializers.DateField(allow_null=True)
    refill_by_reason = serializers.ChoiceField(["alarm", "drug_stability", "emptied"], allow_null=True)
    eri_on = serializers.DateField(allow_null=True)
    eri_estimated = serializers.BooleanField(allow_null=True)
    eos_on = serializers.DateField(allow_null=True)
    replacement_planning_opens_on = serializers.DateField(allow_null=True, help_text="ERI-2: ERI − 6 months")
    replacement_book_by = serializers.DateField(allow_null=True)
    warnings = NoticeSerializer(many=True)


class BridgeBolusSerializer(serializers.Serializer):
    path_volume_ml = serializers.DecimalField(max_digits=7, decimal_places=3)
    duration_hours = serializers.DecimalField(max_digits=8, decimal_places=2)
    programmed_dose_mcg = serializers.DecimalField(max_digits=10, decimal_places=1)
    delivered_dose_mcg = serializers.DecimalField(max_digits=10, decimal_places=1)


class VoidableFields(serializers.Serializer):
    """Corrections: who voided an entry, when and why; the entry it corrects and the one that
    corrected it (ids of the same kind of entry)."""

    voided_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="null: the entry stands")
    voided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    void_reason = serializers.CharField(read_only=True)
    corrects = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    corrected_by = serializers.SerializerMethodField()

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_corrected_by(self, entry):
        if entry.pk is None:  # a preview: nothing recorded, nothing corrects it
            return None
        try:  # lists load it with the entry (select_related)
            return entry.corrected_by.pk
        except ObjectDoesNotExist:
            return None


VOIDABLE_FIELDS = ["voided_at", "voided_by", "void_reason", "corrects", "corrected_by"]


class PrescriptionSerializer(VoidableFields, ModelSerializer):
    prescription = PrescriptionField(source="schedule")
    drug = serializers.SlugRelatedField(slug_field="code", read_only=True)
    prescriber = serializers.SlugRelatedField(slug_field="username", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Prescription
        fields = [
            "id",
            "pump",
            "effective_at",
            "drug",
            "concentration_mcg_per_ml",
            "mode",
            "prescription",
            "daily_dose_mcg",
            "clock_utc_offset_minutes",
            "prescriber",
            "reason",
            "override_reason",
            "refill",
            "empties_reservoir",
            "created_by",
            *VOIDABLE_FIELDS,
        ]
        read_only_fields = fields


class AssessmentSerializer(ModelSerializer):
    """MONITOR-1: a visit's assessment."""

    assessed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = VisitAssessment
        fields = ["id", "pump", "refill", "visit_kind", "assessed_at", "assessed_by", *SIGN_FIELDS, "notes"]
        read_only_fields = fields


class RefillSerializer(VoidableFields, ModelSerializer):
    performed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    drug = serializers.SlugRelatedField(slug_field="code", read_only=True)
    bridge_bolus = BridgeBolusSerializer(allow_null=True, read_only=True)
    prescription = serializers.SerializerMethodField()
    programmed_volume_ml = serializers.DecimalField(
        max_digits=8,
        decimal_places=2,
        allow_null=True,
        read_only=True,
        help_text="DRIFT-1: the volume the prescriptions programmed since the previous refill (null at a first fill)",
    )
    delivery_ratio = serializers.DecimalField(
        max_digits=7,
        decimal_places=3,
        allow_null=True,
        read_only=True,
        help_text="DRIFT-1: (volume added at the previous refill − volume withdrawn) / programmed volume; "
        "null at a first fill, when nothing was programmed, or when the programme emptied the reservoir",
    )
    delivery_drift = serializers.ChoiceField(
        DeliveryDrift.choices,
        allow_null=True,
        read_only=True,
        help_text="DRIFT-1: flagged by a ratio outside 1 ± the model's tolerance or by REFILL-1's discrepancy",
    )
    assessment = serializers.SerializerMethodField()

    class Meta:
        model = Refill
        fields = [
            "id",
            "pump",
            "performed_at",
            "performed_by",
            "volume_withdrawn_ml",
            "volume_added_ml",
            "drug",
            "concentration_mcg_per_ml",
            "compounded_confirmed",
            "expected_residual_ml",
            "discrepancy_ml",
            "discrepancy",
            "bridge_bolus",
            "implant_fill",
            "priming_volume_ml",
            "programmed_volume_ml",
            "delivery_ratio",
            "delivery_drift",
            "lot_number",
            "notes",
            "prescription",
            "assessment",
            *VOIDABLE_FIELDS,
        ]
        read_only_fields = fields

    @extend_schema_field(PrescriptionField(allow_null=True))
    def get_prescription(self, refill):
        row = getattr(refill, "prescription", None)
        return row.schedule if row else None

    @extend_schema_field(AssessmentSerializer(allow_null=True))
    def get_assessment(self, refill):
        if refill.pk is None:  # a preview: nothing was recorded
            return None
        row = VisitAssessment.objects.filter(refill=refill).select_related("assessed_by").first()
        return AssessmentSerializer(row).data if row else None


class RefillCreatedSerializer(RefillSerializer):
    projection = ProjectionSerializer()
    warnings = NoticeSerializer(many=True)

    class Meta(RefillSerializer.Meta):
        fields = RefillSerializer.Meta.fields + ["projection", "warnings"]
        read_only_fields = fields


RISK_FLAGS_HELP = "RISK-1: the patient's risk flags in words, shown wherever a dose is decided"


class RefillPreviewSerializer(RefillCreatedSerializer):
    """What a refill would record, computed by the real write path and rolled back."""

    risk_flags = NoticeSerializer(many=True, read_only=True, help_text=RISK_FLAGS_HELP)

    class Meta(RefillCreatedSerializer.Meta):
        fields = [f for f in RefillCreatedSerializer.Meta.fields if f != "id"] + ["risk_flags"]
        read_only_fields = fields


class PrescriptionCreatedSerializer(PrescriptionSerializer):
    projection = ProjectionSerializer()
    risk_flags = NoticeSerializer(many=True, read_only=True, help_text=RISK_FLAGS_HELP)

    class Meta(PrescriptionSerializer.Meta):
        fields = PrescriptionSerializer.Meta.fields + ["projection", "risk_flags"]
        read_only_fields = fields


class HistoryEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    object = serializers.ChoiceField(["pump", "prescription", "refill"])
    object_id = serializers.IntegerField()
    action = serializers.ChoiceField(["created", "changed", "deleted"])
    user = serializers.CharField(allow_null=True)
    reason = serializers.CharField()
    changes = serializers.DictField(help_text="field: {from, to}")


# --- inputs ----------------------------------------------------------------------------

VOLUME = {"max_digits": 9, "decimal_places": 2}


class ClinicLocalDateTimeField(DateTimeField):
    """An instant. One given without a UTC offset is the pump's clinic's local time, as a
    person types it, and REFILL-2 applies (``therapy.local_instant``): a time skipped by a
    daylight-saving change is refused, and one that happens twice is refused naming both
    instants, unless the view's context gives the UTC offset (the web form's choice)."""

    def enforce_timezone(self, value):
        tz = self.context.get("clinic_tz")
        if value.tzinfo is None and tz is not None:
            try:
                return therapy.local_instant(
                    value, tz, self.context.get("utc_offset_minutes"), field=self.field_name
                )
            except therapy.CalculationError as error:
                raise serializers.ValidationError(error.message, code=error.code) from error
        return super().enforce_timezone(value)


LOCAL_TIME_HELP = (
    "an instant with its UTC offset (2026-11-01T01:30:00-05:00 or ...Z); without an offset it "
    "is the clinic's local time, refused when a daylight-saving change skips it or makes it "
    "happen twice (REFILL-2)"
)


def _sign(name: str) -> serializers.BooleanField:
    return serializers.BooleanField(
        required=False, default=False, help_text=f"MONITOR-1: {name.replace('_', ' ')}"
    )


class AssessmentInputSerializer(serializers.Serializer):
    """MONITOR-1: the signs a visit observed (each true or false, false when left out) and
    notes. Side effects: muscle_weakness, urinary_changes, cognitive_effects, sedation;
    withdrawal signs: itching, hypotension, paresthesia, fever, altered_mental_status,
    rebound_spasticity, seizures (any of them raises a critical alert)."""

    muscle_weakness = _sign("muscle_weakness")
    urinary_changes = _sign("urinary_changes")
    cognitive_effects = _sign("cognitive_effects")
    sedation = _sign("sedation")
    itching = _sign("itching")
    hypotension = _sign("hypotension")
    paresthesia = _sign("paresthesia")
    fever = _sign("fever")
    altered_mental_status = _sign("altered_mental_status")
    rebound_spasticity = _sign("rebound_spasticity")
    seizures = _sign("seizures")
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class VisitAssessmentInputSerializer(AssessmentInputSerializer):
    """MONITOR-1 at a visit without a refill."""

    visit_kind = serializers.ChoiceField(
        [(k, label) for k, label in VisitKind.choices if k != VisitKind.REFILL],
        help_text="titration or other (a refill's assessment is recorded with the refill)",
    )
    assessed_at = ClinicLocalDateTimeField(help_text=LOCAL_TIME_HELP)


class RefillInputSerializer(serializers.Serializer):
    performed_at = ClinicLocalDateTimeField(help_text=LOCAL_TIME_HELP)
    volume_withdrawn_ml = serializers.DecimalField(**VOLUME, help_text="0 at the first fill after implant")
    volume_added_ml = serializers.DecimalField(**VOLUME)
    concentration_mcg_per_ml = serializers.DecimalField(max_digits=10, decimal_places=2)
    compounded_confirmed = serializers.BooleanField(
        default=False, help_text="DOSE-4: required for a concentration outside the supplied list"
    )
    drug = CodeField(
        queryset=Drug.objects.all(), required=False, help_text="drug catalog code; a change is refused"
    )
    prescription = PrescriptionField()
    lot_number = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    override_reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="TITRATE-1/2: a physician's written reason"
    )
    implant_fill = serializers.BooleanField(
        default=False,
        help_text="IMPLANT-1: this first fill is the intraoperative fill at the implant (on the implant day)",
    )
    catheter_primed = serializers.BooleanField(
        default=False,
        help_text="IMPLANT-1: a new catheter was primed with its volume (PUMP-2) at the implant fill; "
        "the projection drains that volume first",
    )
    assessment = AssessmentInputSerializer(
        required=False,
        allow_null=True,
        default=None,
        help_text="MONITOR-1: the visit's assessment, recorded with the refill in one transaction",
    )


class PrescriptionInputSerializer(serializers.Serializer):
    effective_at = ClinicLocalDateTimeField(help_text=LOCAL_TIME_HELP)
    prescription = PrescriptionField()
    reason = serializers.CharField(allow_blank=True)
    override_reason = serializers.CharField(required=False, allow_blank=True, default="")


class VoidInputSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="why the entry is voided: it was entered by mistake")


class RefillCorrectionInputSerializer(RefillInputSerializer):
    correction_reason = serializers.CharField(help_text="why the refill is corrected")


class PrescriptionCorrectionInputSerializer(PrescriptionInputSerializer):
    correction_reason = serializers.CharField(help_text="why the prescription is corrected")
