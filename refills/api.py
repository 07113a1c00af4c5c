"""REST endpoints of a pump's therapy record: refills, prescriptions, projection, history,
the end of a pump's therapy (replacement, explant), the patient's screening trial
(SCREEN-1, START-1) and the starting-dose calculator (START-1)."""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

import therapy
from patients.api import CodeField, PumpSerializer
from patients.models import CatheterModel, Drug, Patient, Pump, PumpModel
from patients.permissions import clinics_of
from pumpcare import clinical, clock
from pumpcare.inputs import DateField, DateTimeField, ModelSerializer, Query

from . import calendar, replacement, scheduling, screening, selectors, services, worklist
from .data_version import with_data_version
from .models import (
    OPEN_STATUSES,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CalendarFeed,
    Prescription,
    PumpExplant,
    Refill,
)

# --- prescription shapes (for validation messages the core does the work) --------------


def _prescription_number(**kwargs):
    """A number in a prescription as the core takes it (``therapy.units``: at most 12 digits
    before the decimal point and 7 after) and shows it back (rounded to 0.0001): documented
    as 1 decimal place, a stored 250.1235 mcg/day did not match the document (issue 12)."""
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
        # The mapping names each mode (a list gave the discriminator a null key, issue 12).
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
    refill_by_reason = serializers.ChoiceField(["alarm", "drug_stability"], allow_null=True)
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


class PrescriptionSerializer(ModelSerializer):
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
            "created_by",
        ]
        read_only_fields = fields


class RefillSerializer(ModelSerializer):
    performed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    drug = serializers.SlugRelatedField(slug_field="code", read_only=True)
    bridge_bolus = BridgeBolusSerializer(allow_null=True, read_only=True)
    prescription = serializers.SerializerMethodField()

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
            "lot_number",
            "notes",
            "prescription",
        ]
        read_only_fields = fields

    @extend_schema_field(PrescriptionField(allow_null=True))
    def get_prescription(self, refill):
        row = getattr(refill, "prescription", None)
        return row.schedule if row else None


class RefillCreatedSerializer(RefillSerializer):
    projection = ProjectionSerializer()
    warnings = NoticeSerializer(many=True)

    class Meta(RefillSerializer.Meta):
        fields = RefillSerializer.Meta.fields + ["projection", "warnings"]
        read_only_fields = fields


class RefillPreviewSerializer(RefillCreatedSerializer):
    """What a refill would record, computed by the real write path and rolled back."""

    class Meta(RefillCreatedSerializer.Meta):
        fields = [f for f in RefillCreatedSerializer.Meta.fields if f != "id"]
        read_only_fields = fields


class PrescriptionCreatedSerializer(PrescriptionSerializer):
    projection = ProjectionSerializer()

    class Meta(PrescriptionSerializer.Meta):
        fields = PrescriptionSerializer.Meta.fields + ["projection"]
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


class PrescriptionInputSerializer(serializers.Serializer):
    effective_at = ClinicLocalDateTimeField(help_text=LOCAL_TIME_HELP)
    prescription = PrescriptionField()
    reason = serializers.CharField(allow_blank=True)
    override_reason = serializers.CharField(required=False, allow_blank=True, default="")


# --- views -----------------------------------------------------------------------------


class PumpScopedView(GenericAPIView):
    def get_pump(self) -> Pump:
        pumps = Pump.objects.filter(patient__clinic__in=clinics_of(self.request.user)).select_related(
            "model", "catheter_model", "patient__clinic"
        )
        return get_object_or_404(pumps, pk=self.kwargs["pump_id"])


class PumpRefillsView(PumpScopedView):
    """A pump's refills (newest first); POST records a refill with its prescription."""

    serializer_class = RefillSerializer

    def get_queryset(self):
        return (
            self.get_pump()
            .refills.select_related("performed_by", "drug", "prescription")
            .order_by("-performed_at")
        )

    @extend_schema(responses=RefillSerializer(many=True))
    def get(self, request, pump_id):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(RefillSerializer(page, many=True).data)

    @extend_schema(request=RefillInputSerializer, responses={201: RefillCreatedSerializer})
    def post(self, request, pump_id):
        pump = self.get_pump()
        data = _validated(RefillInputSerializer, request, pump)
        change = services.refill_record(actor=request.user, pump=pump, **data)
        body = RefillSerializer(change.refill).data
        body["projection"] = ProjectionSerializer(change.projection).data
        body["warnings"] = change.warnings
        return Response(body, status=status.HTTP_201_CREATED)


class PumpRefillPreviewView(PumpScopedView):
    """Check a refill before recording it: the same input, checks and refusals as POST
    ``refills/``, and the same answer (expected residual, discrepancy, bridge bolus, new
    projection, warnings) — but nothing is written. The refill form shows it live."""

    serializer_class = RefillPreviewSerializer

    @extend_schema(request=RefillInputSerializer, responses={200: RefillPreviewSerializer})
    def post(self, request, pump_id):
        pump = self.get_pump()
        data = _validated(RefillInputSerializer, request, pump)
        change = services.refill_preview(actor=request.user, pump=pump, **data)
        body = RefillSerializer(change.refill).data
        del body["id"]  # nothing was recorded
        body["projection"] = ProjectionSerializer(change.projection).data
        body["warnings"] = change.warnings
        return Response(body)


class PumpPrescriptionsView(PumpScopedView):
    """A pump's prescriptions (newest first); POST changes the prescription between refills."""

    serializer_class = PrescriptionSerializer

    def get_queryset(self):
        return (
            self.get_pump()
            .prescriptions.select_related("drug", "prescriber", "created_by")
            .order_by("-effective_at")
        )

    @extend_schema(responses=PrescriptionSerializer(many=True))
    def get(self, request, pump_id):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PrescriptionSerializer(page, many=True).data)

    @extend_schema(request=PrescriptionInputSerializer, responses={201: PrescriptionCreatedSerializer})
    def post(self, request, pump_id):
        pump = self.get_pump()
        data = _validated(PrescriptionInputSerializer, request, pump)
        change = services.prescription_create(actor=request.user, pump=pump, **data)
        body = PrescriptionSerializer(change.prescription).data
        body["projection"] = ProjectionSerializer(change.projection).data
        return Response(body, status=status.HTTP_201_CREATED)


class PumpProjectionView(PumpScopedView):
    """LRA-1..4, ERI-1..2: when the alarm sounds, when the pump runs empty, refill-by."""

    @extend_schema(responses=ProjectionSerializer)
    def get(self, request, pump_id):
        return Response(ProjectionSerializer(selectors.pump_projection(self.get_pump())).data)


class PumpHistoryView(PumpScopedView):
    """Every change to the pump, its prescriptions and refills: what, who, when, why."""

    # JSON only: the entries merge three histories, so there is no queryset for the
    # browsable API's page (it answered Accept: text/html with a 500).
    renderer_classes = [JSONRenderer]

    @extend_schema(responses=HistoryEntrySerializer(many=True))
    def get(self, request, pump_id):
        page = self.paginate_queryset(selectors.pump_history(self.get_pump()))
        return self.get_paginated_response(HistoryEntrySerializer(page, many=True).data)


class ScreeningTrialSerializer(serializers.Serializer):
    dose_mcg = serializers.DecimalField(max_digits=6, decimal_places=1)
    responded = serializers.BooleanField()


class StartingDoseInputSerializer(serializers.Serializer):
    trials = ScreeningTrialSerializer(many=True, help_text="screening boluses in the order given")
    effect_hours = serializers.DecimalField(max_digits=5, decimal_places=1, required=False, allow_null=True)
    adverse_reactions = serializers.BooleanField(default=False)


class StartingDoseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(["respond", "next_step", "not_a_candidate"])
    effective_dose_mcg = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    next_dose_mcg = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    starting_daily_dose_mcg = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)
    reason = serializers.CharField()


class StartingDoseView(GenericAPIView):
    """START-1: the screening outcome and the starting daily dose. Computes; writes nothing."""

    serializer_class = StartingDoseInputSerializer  # OPTIONS describes the input

    @extend_schema(request=StartingDoseInputSerializer, responses=StartingDoseSerializer)
    def post(self, request):
        data = _validated(StartingDoseInputSerializer, request)
        outcome = therapy.screening_outcome(
            trials=[(therapy.units.exact(t["dose_mcg"], "dose_mcg"), t["responded"]) for t in data["trials"]],
            steps=clinical.screening_steps(),
            effect_hours=therapy.units.exact(data.get("effect_hours"), "effect_hours", allow_none=True),
            adverse_reactions=data["adverse_reactions"],
            prolonged_effect_hours=clinical.screening_prolonged_effect_hours(),
        )
        return Response(StartingDoseSerializer(_outcome_data(outcome)).data)


def _outcome_data(outcome: therapy.ScreeningOutcome) -> dict:
    return {
        "status": outcome.status,
        "effective_dose_mcg": _decimal(outcome.effective_dose_mcg),
        "next_dose_mcg": _decimal(outcome.next_dose_mcg),
        "starting_daily_dose_mcg": _decimal(outcome.starting_daily_dose_mcg),
        "reason": outcome.reason,
    }


# --- the end of a pump's therapy: replacement or explant (TITRATE-2, IMPLANT-1) -----------


class PumpReplaceInputSerializer(serializers.Serializer):
    explanted_on = DateField(
        help_text="the clinic's local date of the surgery: the old pump is explanted and the new one implanted"
    )
    reason = serializers.CharField(
        max_length=2000, help_text="why the pump is replaced (kept in the history)"
    )
    model = CodeField(queryset=PumpModel.objects.all(), help_text="the new pump's model code")
    serial_number = serializers.CharField(max_length=64)
    catheter_model = CodeField(queryset=CatheterModel.objects.all())
    catheter_length_cm = serializers.DecimalField(max_digits=5, decimal_places=1)
    low_reservoir_alarm_ml = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, help_text="default: the model's"
    )
    eri_on = DateField(required=False, allow_null=True)


class PumpExplantInputSerializer(serializers.Serializer):
    explanted_on = DateField(help_text="the clinic's local date of the explant")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    override_reason = serializers.CharField(
        allow_blank=True,
        max_length=2000,
        help_text="TITRATE-2: the prescriber's written reason for stopping the therapy",
    )


class PumpExplantSerializer(ModelSerializer):
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = PumpExplant
        fields = [
            "pump",
            "explanted_on",
            "replaced_by",
            "stopped_at",
            "reason",
            "override_reason",
            "recorded_by",
        ]
        read_only_fields = fields


class PumpReplaceView(PumpScopedView):
    """Replace a pump: the old pump is explanted and the new one implanted for the same
    patient the same day, in one step. The therapy continues: the new pump's first fill is
    checked against the patient's dose history (TITRATE-1) and concentration (IMPLANT-1)."""

    serializer_class = PumpSerializer

    @extend_schema(request=PumpReplaceInputSerializer, responses={201: PumpSerializer})
    def post(self, request, pump_id):
        old_pump = self.get_pump()
        data = _validated(PumpReplaceInputSerializer, request)
        new_pump = replacement.pump_replace(actor=request.user, old_pump=old_pump, **data)
        body = PumpSerializer(new_pump, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class PumpExplantView(PumpScopedView):
    """Explant a pump without a replacement implanted the same day: the patient's
    intrathecal therapy stops (TITRATE-2). Needs the physician role and a written
    override reason; raises a critical discontinuation alert."""

    serializer_class = PumpExplantSerializer

    @extend_schema(request=PumpExplantInputSerializer, responses={201: PumpExplantSerializer})
    def post(self, request, pump_id):
        pump = self.get_pump()
        data = _validated(PumpExplantInputSerializer, request)
        record = replacement.pump_explant(actor=request.user, pump=pump, **data)
        return Response(PumpExplantSerializer(record).data, status=status.HTTP_201_CREATED)


# --- the screening trial (SCREEN-1, START-1) -----------------------------------------------


class ScreeningBolusSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    dose_mcg = serializers.DecimalField(
        max_digits=6, decimal_places=1, help_text="a screening step: 50, 75 or 100"
    )
    given_at = ClinicLocalDateTimeField(help_text=LOCAL_TIME_HELP)
    observed_by = serializers.CharField(max_length=200)
    responded = serializers.BooleanField()
    effect_duration_hours = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=0, required=False, allow_null=True, default=None
    )
    adverse_reactions = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="empty: none observed"
    )
    recorded_by = serializers.CharField(source="recorded_by.username", read_only=True)


class ScreeningTrialSummarySerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    boluses = ScreeningBolusSerializer(many=True)
    outcome = StartingDoseSerializer(
        allow_null=True, help_text="START-1 from the recorded boluses; null when none is recorded"
    )


class PatientScreeningTrialView(GenericAPIView):
    """A patient's screening trial (SCREEN-1): the boluses given and START-1's outcome
    (the starting daily dose once a bolus had a response). POST records the next bolus.
    The first prescription of the patient's therapy is checked against the starting dose
    (START-2)."""

    serializer_class = ScreeningTrialSummarySerializer

    def get_patient(self) -> Patient:
        patients = Patient.objects.filter(clinic__in=clinics_of(self.request.user)).select_related("clinic")
        return get_object_or_404(patients, pk=self.kwargs["patient_id"])

    def _body(self, patient, state) -> dict:
        return ScreeningTrialSummarySerializer(
            {
                "patient": patient.pk,
                "boluses": state.boluses,
                "outcome": _outcome_data(state.outcome) if state.outcome else None,
            }
        ).data

    @extend_schema(responses=ScreeningTrialSummarySerializer)
    def get(self, request, patient_id):
        patient = self.get_patient()
        return Response(self._body(patient, screening.screening_trial_read(patient)))

    @extend_schema(request=ScreeningBolusSerializer, responses={201: ScreeningTrialSummarySerializer})
    def post(self, request, patient_id):
        patient = self.get_patient()
        data = _validated(ScreeningBolusSerializer, request, clinic=patient.clinic)
        state = screening.screening_bolus_record(actor=request.user, patient=patient, **data)
        return Response(self._body(patient, state), status=status.HTTP_201_CREATED)


def _validated(serializer_class, request, pump: Pump | None = None, clinic=None) -> dict:
    """The input, validated; a local time without offset is read in the zone of the pump's
    (or the given) clinic."""
    context = {"request": request}
    if pump is not None or clinic is not None:
        context["clinic_tz"] = (clinic or pump.patient.clinic).tz
    serializer = serializer_class(data=request.data, context=context)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _decimal(value):
    return therapy.units.rounded(value, therapy.units.DOSE_MCG)


# --- appointments ----------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.STR)
class NurseField(serializers.SlugRelatedField):
    """A staff member of the user's clinics, by username."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="username", **kwargs)

    def get_queryset(self):
        from django.contrib.auth import get_user_model

        request = self.context.get("request")  # absent while the schema is generated
        if request is None:
            return get_user_model().objects.none()
        return get_user_model().objects.filter(memberships__clinic__in=clinics_of(request.user)).distinct()


class AppointmentSerializer(ModelSerializer):
    nurse = serializers.SlugRelatedField(slug_field="username", read_only=True)
    clinic = serializers.CharField(source="pump.patient.clinic.code", read_only=True)
    patient = serializers.IntegerField(source="pump.patient_id", read_only=True)
    overdue = serializers.SerializerMethodField(
        help_text="LRA-5: an open refill on a day after the pump's refill-by date (overdue)"
    )

    class Meta:
        model = Appointment
        fields = [
            "id",
            "pump",
            "patient",
            "clinic",
            "kind",
            "status",
            "day",
            "time",
            "nurse",
            "proposed_by_job",
            "refill",
            "notes",
            "confirmed_at",
            "confirmed_by",
            "overdue",
        ]
        read_only_fields = fields

    def get_overdue(self, appointment) -> bool:
        projection = getattr(appointment.pump, "projection", None)
        return bool(
            appointment.kind == AppointmentKind.REFILL
            and appointment.status in OPEN_STATUSES
            and projection is not None
            and projection.refill_by is not None
            and appointment.day > projection.refill_by
        )


@extend_schema_field(OpenApiTypes.INT)
class ScopedPumpField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        request = self.context.get("request")  # absent while the schema is generated
        if request is None:
            return Pump.objects.none()
        return Pump.objects.filter(patient__clinic__in=clinics_of(request.user))


class AppointmentCreateSerializer(serializers.Serializer):
    pump = ScopedPumpField()
    kind = serializers.ChoiceField(AppointmentKind.choices)
    day = DateField(help_text="the clinic's local date")
    time = serializers.TimeField(required=False, allow_null=True, help_text="the clinic's local time")
    nurse = NurseField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class AppointmentBookSerializer(serializers.Serializer):
    day = DateField(required=False, help_text="move to this day")
    time = serializers.TimeField(required=False, allow_null=True)
    nurse = NurseField(required=False, allow_null=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="why (kept in the history)")


class NotesSerializer(serializers.Serializer):
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class AppointmentWithWarningsSerializer(AppointmentSerializer):
    warnings = NoticeSerializer(many=True)

    class Meta(AppointmentSerializer.Meta):
        fields = AppointmentSerializer.Meta.fields + ["warnings"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("clinic", str),
            OpenApiParameter("pump", OpenApiTypes.INT),
            OpenApiParameter("kind", str, enum=AppointmentKind.values),
            OpenApiParameter("status", str, enum=AppointmentStatus.values),
            OpenApiParameter("nurse", str, description="username"),
            OpenApiParameter("from", OpenApiTypes.DATE),
            OpenApiParameter("to", OpenApiTypes.DATE),
        ]
    )
)
class AppointmentViewSet(viewsets.ReadOnlyModelViewSet):
    """Appointments of the user's clinics. Filters: ``clinic``, ``pump``, ``kind``,
    ``status``, ``nurse`` (username), ``from`` and ``to`` (days). POST books one directly;
    ``book`` books a proposal or moves an appointment; ``cancel`` cancels or rejects a
    proposal; ``no-show`` records that the patient did not come."""

    serializer_class = AppointmentSerializer
    queryset = Appointment.objects.none()  # for the schema; get_queryset scopes

    def get_queryset(self):
        queryset = Appointment.objects.filter(
            pump__patient__clinic__in=clinics_of(self.request.user)
        ).select_related("nurse", "pump__patient__clinic", "pump__projection")
        query = Query(self.request.query_params)
        filters = {
            "clinic": ("pump__patient__clinic__code", query.code),
            "pump": ("pump_id", query.integer),
            "kind": ("kind", query.text),
            "status": ("status", query.text),
            "nurse": ("nurse__username", query.code),
            "from": ("day__gte", query.day),
            "to": ("day__lte", query.day),
        }
        queryset = query.filtered(queryset, filters)
        return queryset

    def _respond(self, appointment, warnings=(), status_code=status.HTTP_200_OK):
        body = AppointmentSerializer(appointment).data
        body["warnings"] = list(warnings)
        return Response(body, status=status_code)

    @extend_schema(request=AppointmentCreateSerializer, responses={201: AppointmentWithWarningsSerializer})
    def create(self, request):
        data = _validated(AppointmentCreateSerializer, request)
        appointment, warnings = scheduling.appointment_create(
            actor=request.user,
            pump=data["pump"],
            kind=data["kind"],
            day=data["day"],
            at=data.get("time"),
            nurse=data.get("nurse"),
            notes=data["notes"],
        )
        return self._respond(appointment, warnings, status.HTTP_201_CREATED)

    @extend_schema(request=AppointmentBookSerializer, responses=AppointmentWithWarningsSerializer)
    @action(detail=True, methods=["post"])
    def book(self, request, pk=None):
        data = _validated(AppointmentBookSerializer, request)
        appointment, warnings = scheduling.appointment_book(
            actor=request.user,
            appointment=self.get_object(),
            day=data.get("day"),
            at=data.get("time"),
            nurse=data.get("nurse"),
        )
        return self._respond(appointment, warnings)

    @extend_schema(request=ReasonSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = _validated(ReasonSerializer, request)
        appointment = scheduling.appointment_cancel(
            actor=request.user, appointment=self.get_object(), reason=data["reason"]
        )
        return Response(AppointmentSerializer(appointment).data)

    @extend_schema(request=NotesSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        data = _validated(NotesSerializer, request)
        appointment = scheduling.appointment_no_show(
            actor=request.user, appointment=self.get_object(), notes=data["notes"]
        )
        return Response(AppointmentSerializer(appointment).data)


# --- worklist --------------------------------------------------------------------------


class WorklistPatientSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    mrn = serializers.CharField()
    given_name = serializers.CharField()
    family_name = serializers.CharField()


class WorklistPumpSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField(source="model.code")
    serial_number = serializers.CharField()


class UrgencySerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="ALERT-1 order, 0 = most urgent")
    code = serializers.ChoiceField([code for code, _ in worklist.URGENCY])
    label = serializers.CharField()


class WorklistFlagsSerializer(serializers.Serializer):
    discrepancy_at_last_refill = serializers.ChoiceField(
        ["less_than_expected", "more_than_expected"], allow_null=True
    )
    no_reachable_contact = serializers.BooleanField()
    cannot_be_reminded = serializers.BooleanField(
        help_text="ALERT-2: neither the patient nor a caregiver consented and has an email address"
    )
    attendance_confirmed = serializers.BooleanField(
        help_text="the patient or a caregiver confirmed the booked refill from a reminder"
    )
    daylight_saving_warning = serializers.BooleanField()
    tolerance_not_configured = serializers.BooleanField()
    card_stale = serializers.BooleanField(help_text="REFILL-4: the emergency card must be reissued")


class WorklistItemSerializer(serializers.Serializer):
    patient = WorklistPatientSerializer()
    pump = WorklistPumpSerializer()
    reservoir_volume_ml = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    low_reservoir_alarm_at = serializers.DateTimeField(allow_null=True)
    low_reservoir_alarm_at_worst_case = serializers.DateTimeField(allow_null=True)
    alarm_on = serializers.DateField(allow_null=True, help_text="local date of the worst-case alarm")
    empty_at_worst_case = serializers.DateTimeField(allow_null=True)
    refill_by = serializers.DateField(allow_null=True)
    refill_by_reason = serializers.ChoiceField(["alarm", "drug_stability"], allow_null=True)
    replacement_book_by = serializers.DateField(allow_null=True)
    urgency = UrgencySerializer()
    appointment = AppointmentSerializer(allow_null=True)
    flags = WorklistFlagsSerializer()
    warnings = NoticeSerializer(many=True)


class WorklistView(GenericAPIView):
    """Active pumps of a clinic ordered by urgency (ALERT-1), then refill-by.

    Query: ``clinic`` (code; optional for users of one clinic), ``until`` (YYYY-MM-DD: due by
    then, plus every urgent pump), ``nurse`` (username on the open refill appointment),
    ``status`` (of the open refill appointment: proposed, booked, or none), ``page``."""

    serializer_class = WorklistItemSerializer

    def get_queryset(self):
        """The pumps a worklist ranks (the browsable API's page asks for it)."""
        return Pump.objects.filter(patient__clinic__in=clinics_of(self.request.user))

    @extend_schema(
        parameters=[
            OpenApiParameter("clinic", str),
            OpenApiParameter("until", OpenApiTypes.DATE),
            OpenApiParameter("nurse", str),
            OpenApiParameter("status", str, enum=["proposed", "booked", "none"]),
        ],
        responses=WorklistItemSerializer(many=True),
    )
    def get(self, request):
        query = Query(request.query_params)
        # The columns the cached path needs; a page rendered on a miss reads the rest.
        clinics = with_data_version(clinics_of(request.user)).only("pk", "code", "timezone")
        if (code := query.code("clinic")) is not None:
            clinic = get_object_or_404(clinics, code=code)
        elif len(mine := list(clinics[:2])) == 1:
            clinic = mine[0]
        else:
            raise serializers.ValidationError({"clinic": ["is required: you work at several clinics"]})
        until = query.day("until")
        status_filter = query.choice("status", ["proposed", "booked", "none"])
        nurse = query.code("nurse")
        now = clock.now()

        def render():
            queryset = worklist.worklist(
                clinic, now=now, until=until, nurse=nurse, appointment_status=status_filter
            )
            page = worklist.ranked_pumps(self.paginate_queryset(worklist.ranked(queryset)))
            rows = worklist.worklist_rows(page, clinic, now=now)
            data = self.get_paginated_response(WorklistItemSerializer(rows, many=True).data).data
            return JSONRenderer().render(data)

        page = worklist.cached_page(clinic, request.get_full_path(), now, render)
        if isinstance(request.accepted_renderer, JSONRenderer):
            return HttpResponse(page, content_type="application/json")
        return Response(json.loads(page))  # the browsable API


# --- calendar feeds --------------------------------------------------------------------


class CalendarFeedSerializer(ModelSerializer):
    clinic = serializers.SlugRelatedField(slug_field="code", read_only=True)
    nurse = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = CalendarFeed
        fields = ["id", "clinic", "nurse", "url", "created_at", "revoked_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_url(self, feed):
        path = reverse("calendar-feed", args=[feed.token])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class CalendarFeedCreateSerializer(serializers.Serializer):
    clinic = serializers.CharField(help_text="clinic code")
    nurse = NurseField(required=False, allow_null=True, help_text="only this nurse's appointments")


class CalendarFeedViewSet(viewsets.ReadOnlyModelViewSet):
    """Secret iCalendar URLs of booked appointments, per clinic or per nurse, for Outlook and
    Google Calendar to subscribe to. Anyone with the URL reads the feed: revoke a URL that
    leaked, and create a new one."""

    serializer_class = CalendarFeedSerializer
    queryset = CalendarFeed.objects.none()  # for the schema; get_queryset scopes

    def get_queryset(self):
        # Ordered, so pages are stable (an unordered page warned, a 500 under warnings-as-errors).
        return (
            CalendarFeed.objects.filter(clinic__in=clinics_of(self.request.user))
            .select_related("clinic", "nurse")
            .order_by("-created_at", "-pk")
        )

    @extend_schema(request=CalendarFeedCreateSerializer, responses={201: CalendarFeedSerializer})
    def create(self, request):
        data = _validated(CalendarFeedCreateSerializer, request)
        clinic = clinics_of(request.user).filter(code=data["clinic"]).first()
        if clinic is None:
            raise serializers.ValidationError({"clinic": [f"no clinic {data['clinic']!r} among yours"]})
        feed = calendar.feed_create(actor=request.user, clinic=clinic, nurse=data.get("nurse"))
        return Response(
            CalendarFeedSerializer(feed, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses=CalendarFeedSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        feed = calendar.feed_revoke(actor=request.user, feed=self.get_object())
        return Response(CalendarFeedSerializer(feed, context={"request": request}).data)


@require_safe
def calendar_feed(request, token: str):
    """The feed itself: no login, the secret token is the key; a revoked one is gone. A read:
    GET and HEAD only (it answered any method with the feed)."""
    feed = get_object_or_404(
        CalendarFeed.objects.select_related("clinic", "nurse"), token=token, revoked_at__isnull=True
    )
    response = HttpResponse(calendar.render_feed(feed), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="pumpcare.ics"'
    # Cache-Control: no-store, as every rendered response (pumpcare.security.NoStoreMiddleware).
    return response
