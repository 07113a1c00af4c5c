"""REST endpoints of a pump's therapy record: refills, prescriptions, projection, history,
the end of a pump's therapy (replacement, explant), the patient's screening trial
(SCREEN-1, START-1) and the starting-dose calculator (START-1)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

import therapy
from medications import selectors as medication_selectors
from patients.api import CodeField, PumpSerializer
from patients.models import CatheterModel, Patient, Pump, PumpModel
from patients.permissions import clinics_of
from pumpcare import clinical
from pumpcare.inputs import DateField, ModelSerializer, validated

from . import replacement, screening, selectors, services
from .models import PumpExplant
from .serializers import (
    LOCAL_TIME_HELP,
    ClinicLocalDateTimeField,
    HistoryEntrySerializer,
    PrescriptionCreatedSerializer,
    PrescriptionInputSerializer,
    PrescriptionSerializer,
    ProjectionSerializer,
    RefillCreatedSerializer,
    RefillInputSerializer,
    RefillPreviewSerializer,
    RefillSerializer,
)

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
        data = validated(RefillInputSerializer, request, pump)
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
        data = validated(RefillInputSerializer, request, pump)
        change = services.refill_preview(actor=request.user, pump=pump, **data)
        body = RefillSerializer(change.refill).data
        del body["id"]  # nothing was recorded
        body["projection"] = ProjectionSerializer(change.projection).data
        body["warnings"] = change.warnings
        body["risk_flags"] = _risk_flags(pump)
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
        data = validated(PrescriptionInputSerializer, request, pump)
        change = services.prescription_create(actor=request.user, pump=pump, **data)
        body = PrescriptionSerializer(change.prescription).data
        body["projection"] = ProjectionSerializer(change.projection).data
        body["risk_flags"] = _risk_flags(pump)
        return Response(body, status=status.HTTP_201_CREATED)


def _risk_flags(pump: Pump) -> list[dict]:
    """RISK-1 beside a dosing decision (the refill check, a new prescription)."""
    return [{"code": n.code, "message": n.message} for n in medication_selectors.risk_flags(pump.patient)]


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
        data = validated(StartingDoseInputSerializer, request)
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
        data = validated(PumpReplaceInputSerializer, request)
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
        data = validated(PumpExplantInputSerializer, request)
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
        data = validated(ScreeningBolusSerializer, request, clinic=patient.clinic)
        state = screening.screening_bolus_record(actor=request.user, patient=patient, **data)
        return Response(self._body(patient, state), status=status.HTTP_201_CREATED)


def _decimal(value):
    return therapy.units.rounded(value, therapy.units.DOSE_MCG)
