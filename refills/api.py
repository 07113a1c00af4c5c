"""REST endpoints of a pump's therapy record: refills, prescriptions, projection, history,
the end of a pump's therapy (replacement, explant), the patient's screening trial
(SCREEN-1, START-1) and the starting-dose calculator (START-1)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

import therapy
from medications import selectors as medication_selectors
from patients.api import CodeField, PumpSerializer
from patients.models import CatheterModel, Patient, Pump, PumpModel
from patients.permissions import asked_clinic, clinics_of
from pumpcare import clinical
from pumpcare.inputs import DateField, ModelSerializer, Query, validated

from . import assessments, corrections, drift, implant, replacement, screening, selectors, services
from .models import DeliveryDrift, ImplantMonitoring, Prescription, PumpExplant, Refill
from .serializers import (
    LOCAL_TIME_HELP,
    AssessmentSerializer,
    ClinicLocalDateTimeField,
    HistoryEntrySerializer,
    PrescriptionCorrectionInputSerializer,
    PrescriptionCreatedSerializer,
    PrescriptionInputSerializer,
    PrescriptionSerializer,
    ProjectionSerializer,
    RefillCorrectionInputSerializer,
    RefillCreatedSerializer,
    RefillInputSerializer,
    RefillPreviewSerializer,
    RefillSerializer,
    VisitAssessmentInputSerializer,
    VoidInputSerializer,
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
            .refills.select_related("performed_by", "drug", "prescription", "voided_by", "corrected_by")
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
        return Response(_refill_recorded(change), status=status.HTTP_201_CREATED)


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
            .prescriptions.select_related("drug", "prescriber", "created_by", "voided_by", "corrected_by")
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
        return Response(_prescription_recorded(change, pump), status=status.HTTP_201_CREATED)


def _refill_recorded(change) -> dict:
    """A recorded refill as the API answers it: the refill, the pump's new projection and
    what the nurse must see."""
    body = RefillSerializer(change.refill).data
    body["projection"] = ProjectionSerializer(change.projection).data
    body["warnings"] = change.warnings
    return body


def _prescription_recorded(change, pump) -> dict:
    """A recorded prescription as the API answers it: the prescription, the pump's new
    projection and the patient's risk flags."""
    body = PrescriptionSerializer(change.prescription).data
    body["projection"] = ProjectionSerializer(change.projection).data
    body["risk_flags"] = _risk_flags(pump)
    return body


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


class PumpAssessmentsView(PumpScopedView):
    """A pump's visit assessments (MONITOR-1), newest first. POST records the assessment of a
    titration or other visit; a refill's assessment is recorded with the refill (its
    ``assessment``). A withdrawal sign raises a critical alert sent to the on-call address at
    once; a side-effect sign raises a physician-review alert."""

    serializer_class = AssessmentSerializer

    def get_queryset(self):
        return self.get_pump().assessments.select_related("assessed_by").order_by("-assessed_at", "-pk")

    @extend_schema(responses=AssessmentSerializer(many=True))
    def get(self, request, pump_id):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(AssessmentSerializer(page, many=True).data)

    @extend_schema(request=VisitAssessmentInputSerializer, responses={201: AssessmentSerializer})
    def post(self, request, pump_id):
        pump = self.get_pump()
        data = validated(VisitAssessmentInputSerializer, request, pump)
        row = assessments.assessment_record(
            actor=request.user,
            pump=pump,
            visit_kind=data.pop("visit_kind"),
            assessed_at=data.pop("assessed_at"),
            notes=data.pop("notes"),
            signs=data,
        )
        return Response(AssessmentSerializer(row).data, status=status.HTTP_201_CREATED)


class DriftRefillSerializer(serializers.Serializer):
    refill = serializers.IntegerField(source="pk")
    performed_at = serializers.DateTimeField()
    delivery_ratio = serializers.DecimalField(max_digits=7, decimal_places=3, allow_null=True)
    delivery_drift = serializers.ChoiceField(DeliveryDrift.choices, allow_null=True)
    discrepancy_ml = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)


class PumpDriftSerializer(serializers.Serializer):
    pump = serializers.IntegerField(source="pump.pk")
    patient = serializers.IntegerField(source="pump.patient.pk")
    patient_name = serializers.SerializerMethodField()
    mrn = serializers.CharField(source="pump.patient.mrn")
    model = serializers.CharField(source="pump.model.code")
    serial_number = serializers.CharField(source="pump.serial_number")
    direction = serializers.ChoiceField(DeliveryDrift.choices)
    consecutive_refills = serializers.IntegerField(source="run")
    alert = serializers.BooleanField(
        help_text="the run reached the setting: a physician-review alert is open"
    )
    tolerance_band = serializers.ListField(
        child=serializers.DecimalField(max_digits=5, decimal_places=3),
        source="band",
        allow_null=True,
        help_text="the model's flow accuracy as ratios [1 − tolerance, 1 + tolerance]; null when not configured",
    )
    refills = DriftRefillSerializer(many=True, help_text="the run of flagged refills, oldest first")

    def get_patient_name(self, row) -> str:
        return f"{row.pump.patient.family_name}, {row.pump.patient.given_name}"


class DeliveryDriftView(GenericAPIView):
    """DRIFT-1: the clinic's active pumps whose latest refill flagged a delivery drift (an
    observed ratio outside the model's flow accuracy, or a refill discrepancy over its
    threshold), longest runs first. Query: ``clinic`` (code; optional for users of one clinic)."""

    serializer_class = PumpDriftSerializer
    pagination_class = None

    def get_queryset(self):
        return Pump.objects.filter(patient__clinic__in=clinics_of(self.request.user))

    @extend_schema(parameters=[OpenApiParameter("clinic", str)], responses=PumpDriftSerializer(many=True))
    def get(self, request):
        clinics = clinics_of(request.user)
        clinic = asked_clinic(Query(request.query_params), clinics)
        return Response(PumpDriftSerializer(drift.clinic_drifts(clinic), many=True).data)


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


# --- the monitoring after an implant (IMPLANT-1) -------------------------------------------


class ImplantMonitoringInputSerializer(serializers.Serializer):
    started_at = ClinicLocalDateTimeField(help_text=LOCAL_TIME_HELP)
    ended_at = ClinicLocalDateTimeField(
        required=False, allow_null=True, default=None, help_text="empty while the monitoring goes on"
    )
    observed_by = serializers.CharField(max_length=200)
    findings = serializers.CharField(required=False, allow_blank=True, default="")


class ImplantMonitoringSerializer(serializers.Serializer):
    implant_fill_at = serializers.DateTimeField(source="implant_fill.performed_at")
    priming_volume_ml = serializers.DecimalField(
        source="implant_fill.priming_volume_ml", max_digits=6, decimal_places=3, allow_null=True
    )
    started_at = serializers.DateTimeField(source="record.started_at", allow_null=True, default=None)
    ended_at = serializers.DateTimeField(source="record.ended_at", allow_null=True, default=None)
    observed_by = serializers.CharField(source="record.observed_by", allow_null=True, default=None)
    findings = serializers.CharField(source="record.findings", allow_null=True, default=None)
    hours = serializers.DecimalField(
        max_digits=6, decimal_places=2, allow_null=True, help_text="how long the monitoring lasted"
    )
    complete = serializers.BooleanField(
        help_text="IMPLANT-1: ended, and at least the minimum hours (8 by default); false: the pump is flagged"
    )
    message = serializers.CharField(help_text="what a nurse must know about the monitoring")


class PumpImplantMonitoringView(PumpScopedView):
    """The monitoring after the pump's implant fill (IMPLANT-1): at least 8 hours from the start
    of delivery, with start, end, observer and findings. PUT records it, completes it (the end)
    or corrects it. 404 when the pump has no recorded implant fill."""

    serializer_class = ImplantMonitoringSerializer
    # get_object (used by OPTIONS to describe PUT): the pump's monitoring record, by pump id.
    lookup_field = "refill__pump_id"
    lookup_url_kwarg = "pump_id"

    def get_queryset(self):
        return ImplantMonitoring.objects.filter(
            refill__pump__patient__clinic__in=clinics_of(self.request.user)
        )

    def _body(self, pump, state) -> dict:
        verdict = state.verdict
        return ImplantMonitoringSerializer(
            {
                "implant_fill": state.implant_fill,
                "record": state.record,
                "hours": therapy.units.rounded(verdict.hours, therapy.units.HOURS) if verdict else None,
                "complete": bool(verdict and verdict.complete),
                "message": selectors.monitoring_flag(state.implant_fill, state.record, pump.clinic)
                or verdict.message,
            }
        ).data

    @extend_schema(responses=ImplantMonitoringSerializer)
    def get(self, request, pump_id):
        pump = self.get_pump()
        state = implant.implant_monitoring_read(pump)
        if state is None:
            raise NotFound("This pump has no recorded implant fill.")
        return Response(self._body(pump, state))

    @extend_schema(request=ImplantMonitoringInputSerializer, responses=ImplantMonitoringSerializer)
    def put(self, request, pump_id):
        pump = self.get_pump()
        data = validated(ImplantMonitoringInputSerializer, request, pump)
        state = implant.implant_monitoring_record(actor=request.user, pump=pump, **data)
        return Response(self._body(pump, state))


def _decimal(value):
    return therapy.units.rounded(value, therapy.units.DOSE_MCG)


# --- corrections ---------------------------------------------------------------------------


class EntryScopedView(GenericAPIView):
    """A refill or prescription of the user's clinics, voided or not."""

    model = Refill
    serializer_class = RefillSerializer  # the browsable API's forms (a GET answers 405)

    def get_entry(self):
        entries = self.model.all_objects.filter(pump__patient__clinic__in=clinics_of(self.request.user))
        return get_object_or_404(entries.select_related("pump__patient__clinic"), pk=self.kwargs["entry_id"])


class RefillVoidView(EntryScopedView):
    """Void a refill entered by mistake, with the prescription programmed at it: kept, never
    deleted, with who and why. Only the pump's latest entry can be voided (later ones first)."""

    @extend_schema(request=VoidInputSerializer, responses={200: RefillSerializer})
    def post(self, request, entry_id):
        refill = self.get_entry()
        data = validated(VoidInputSerializer, request, refill.pump)
        refill = corrections.refill_void(actor=request.user, refill=refill, **data)
        return Response(RefillSerializer(refill).data)


class RefillCorrectionView(EntryScopedView):
    """Correct a refill: it is voided and the right one recorded in its place, with every
    check of a refill; the answer is the new refill, which ``corrects`` the voided one."""

    @extend_schema(request=RefillCorrectionInputSerializer, responses={201: RefillCreatedSerializer})
    def post(self, request, entry_id):
        refill = self.get_entry()
        data = validated(RefillCorrectionInputSerializer, request, refill.pump)
        change = corrections.refill_correct(actor=request.user, refill=refill, **data)
        return Response(_refill_recorded(change), status=status.HTTP_201_CREATED)


class PrescriptionVoidView(EntryScopedView):
    """Void a prescription entered by mistake between refills (a prescriber)."""

    model = Prescription
    serializer_class = PrescriptionSerializer

    @extend_schema(request=VoidInputSerializer, responses={200: PrescriptionSerializer})
    def post(self, request, entry_id):
        prescription = self.get_entry()
        data = validated(VoidInputSerializer, request, prescription.pump)
        prescription = corrections.prescription_void(actor=request.user, prescription=prescription, **data)
        return Response(PrescriptionSerializer(prescription).data)


class PrescriptionCorrectionView(EntryScopedView):
    """Correct a prescription (a prescriber): voided and the right one recorded in its place,
    checked (TITRATE-1/2) against the record without the voided one."""

    model = Prescription
    serializer_class = PrescriptionSerializer

    @extend_schema(
        request=PrescriptionCorrectionInputSerializer, responses={201: PrescriptionCreatedSerializer}
    )
    def post(self, request, entry_id):
        prescription = self.get_entry()
        data = validated(PrescriptionCorrectionInputSerializer, request, prescription.pump)
        change = corrections.prescription_correct(actor=request.user, entry=prescription, **data)
        return Response(_prescription_recorded(change, prescription.pump), status=status.HTTP_201_CREATED)
