"""REST endpoints of a patient's oral medications (ORAL-1), their weaning (WEAN-1) and the
patient's risk flags (RISK-1), all scoped to the user's clinics."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from patients.models import Patient
from patients.permissions import IsClinicStaffOrCatalogEditor, clinics_of
from pumpcare.inputs import DateField, ModelSerializer, validated

from . import selectors, services
from .models import OralDrug, OralMedication, WeaningPlan, WeaningStep

REASON = serializers.CharField(
    write_only=True, required=False, allow_blank=True, max_length=2000, help_text="Why (kept in the history)"
)


class DoseNoticeSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


def notices_data(notices) -> list[dict]:
    return [{"code": n.code, "message": n.message} for n in notices]


class OralDrugSerializer(ModelSerializer):
    # Read-only catalog data; declared so the documented range is not the database's own (a
    # positive small integer is 0..32767 on PostgreSQL, unbounded on SQLite).
    starting_times_per_day = serializers.IntegerField(read_only=True, allow_null=True, min_value=0)

    class Meta:
        model = OralDrug
        fields = [
            "code",
            "name",
            "benzodiazepine",
            "starting_dose_mg",
            "starting_times_per_day",
            "max_daily_dose_mg",
            "older_adult_tolerated_low_mg",
            "older_adult_tolerated_high_mg",
            "hepatotoxic",
            "source",
        ]


class OralDrugViewSet(viewsets.ReadOnlyModelViewSet):
    """The oral drug catalog with ORAL-1's numbers and their sources (read-only)."""

    permission_classes = [IsClinicStaffOrCatalogEditor]
    queryset = OralDrug.objects.all()
    serializer_class = OralDrugSerializer
    lookup_field = "code"
    lookup_value_regex = r"[a-z0-9_-]+"
    pagination_class = None


class WeaningStepSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    number = serializers.IntegerField(read_only=True)
    day = DateField(help_text="from this day (the clinic's date)")
    dose_mg = serializers.DecimalField(
        max_digits=7, decimal_places=2, min_value=0, help_text="mg per intake from that day; 0 ends the drug"
    )
    done_at = serializers.DateTimeField(read_only=True, allow_null=True)
    done_by = serializers.CharField(source="done_by.username", read_only=True, allow_null=True, default=None)


class WeaningPlanSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    override_reason = serializers.CharField()
    created_by = serializers.CharField(source="created_by.username")
    created_at = serializers.DateTimeField()
    steps = WeaningStepSerializer(many=True)


class OralMedicationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    drug = serializers.SlugRelatedField(slug_field="code", queryset=OralDrug.objects.all())
    drug_name = serializers.CharField(source="drug.name", read_only=True)
    benzodiazepine = serializers.BooleanField(source="drug.benzodiazepine", read_only=True)
    dose_mg = serializers.DecimalField(max_digits=7, decimal_places=2, min_value=0, help_text="mg per intake")
    times_per_day = serializers.IntegerField(min_value=1, max_value=24)
    daily_dose_mg = serializers.SerializerMethodField()
    started_on = DateField()
    stopped_on = DateField(read_only=True, allow_null=True)
    prescriber = serializers.CharField(max_length=200)
    recorded_by = serializers.CharField(source="recorded_by.username", read_only=True)
    reason = REASON

    def get_daily_dose_mg(self, medication) -> str:
        return format(medication.dose_mg * medication.times_per_day, "f")


class MedicationRowSerializer(serializers.Serializer):
    medication = OralMedicationSerializer()
    active = serializers.BooleanField()
    warnings = DoseNoticeSerializer(many=True, help_text="ORAL-1's warnings on this course")
    weaning_plan = WeaningPlanSerializer(allow_null=True)


class PatientMedicationsSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    risk_flags = DoseNoticeSerializer(many=True, help_text="RISK-1: shown wherever a dose is decided")
    medications = MedicationRowSerializer(many=True, help_text="newest course first")


class MedicationCreatedSerializer(serializers.Serializer):
    medication = OralMedicationSerializer()
    warnings = DoseNoticeSerializer(many=True)
    risk_flags = DoseNoticeSerializer(many=True)


class StopSerializer(serializers.Serializer):
    stopped_on = DateField()
    reason = REASON


class WeaningPlanInputSerializer(serializers.Serializer):
    steps = WeaningStepSerializer(many=True, help_text="the prescriber's steps, in order")
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="WEAN-1: why this drug goes before oral baclofen (needed only then)",
    )


class WeaningStepEditSerializer(WeaningStepSerializer):
    id = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text="a step not yet done, to change it; none: a step added",
    )


class WeaningPlanEditSerializer(serializers.Serializer):
    steps = WeaningStepEditSerializer(
        many=True,
        help_text="the steps from the first one not done, in order, as they are to be: a step not done "
        "and not listed is removed; a step ticked off is never changed (naming it is refused)",
    )
    reason = serializers.CharField(max_length=2000, help_text="why the plan changes (kept in the history)")
    override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="WEAN-1: why this drug goes before oral baclofen (the plan's own stands when empty)",
    )


class WeaningPlanCreatedSerializer(serializers.Serializer):
    weaning_plan = WeaningPlanSerializer()
    notices = DoseNoticeSerializer(many=True)


def patients_of(user):
    return Patient.objects.filter(clinic__in=clinics_of(user)).select_related("clinic")


def medications_body(patient: Patient) -> dict:
    rows = selectors.medication_rows(patient)
    return PatientMedicationsSerializer(
        {
            "patient": patient.pk,
            "risk_flags": notices_data(selectors.risk_flags(patient)),
            "medications": [
                {
                    "medication": row.medication,
                    "active": row.active,
                    "warnings": notices_data(row.notices),
                    "weaning_plan": {
                        "id": row.plan.pk,
                        "override_reason": row.plan.override_reason,
                        "created_by": row.plan.created_by,
                        "created_at": row.plan.created_at,
                        "steps": row.steps,
                    }
                    if row.plan
                    else None,
                }
                for row in rows
            ],
        }
    ).data


class PatientMedicationsView(GenericAPIView):
    """A patient's oral medications (ORAL-1's warnings on each course, its weaning plan) and
    RISK-1's flags. POST records a course; a course of the same drug still running is a
    change of dose and ends the day the new one starts."""

    serializer_class = PatientMedicationsSerializer

    def get_patient(self) -> Patient:
        return get_object_or_404(patients_of(self.request.user), pk=self.kwargs["patient_id"])

    @extend_schema(responses=PatientMedicationsSerializer)
    def get(self, request, patient_id):
        return Response(medications_body(self.get_patient()))

    @extend_schema(request=OralMedicationSerializer, responses={201: MedicationCreatedSerializer})
    def post(self, request, patient_id):
        patient = self.get_patient()
        data = validated(OralMedicationSerializer, request)
        medication, warnings = services.oral_medication_add(actor=request.user, patient=patient, **data)
        body = {
            "medication": OralMedicationSerializer(medication).data,
            "warnings": notices_data(warnings),
            "risk_flags": notices_data(selectors.risk_flags(patient)),
        }
        return Response(body, status=status.HTTP_201_CREATED)


class PatientRiskFlagsSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    risk_flags = DoseNoticeSerializer(many=True, help_text="RISK-1: shown wherever a dose is decided")


class PatientRiskFlagsView(GenericAPIView):
    """RISK-1: the patient's risk flags in words, as a dosing decision reads them (the
    flags themselves are the patient's fields)."""

    serializer_class = PatientRiskFlagsSerializer

    @extend_schema(responses=PatientRiskFlagsSerializer)
    def get(self, request, patient_id):
        patient = get_object_or_404(patients_of(request.user), pk=patient_id)
        return Response({"patient": patient.pk, "risk_flags": notices_data(selectors.risk_flags(patient))})


class OralMedicationScoped(GenericAPIView):
    def get_medication(self) -> OralMedication:
        return get_object_or_404(
            OralMedication.objects.filter(patient__clinic__in=clinics_of(self.request.user)).select_related(
                "patient__clinic", "drug"
            ),
            pk=self.kwargs["medication_id"],
        )


class OralMedicationStopView(OralMedicationScoped):
    """Stop an oral medication from a day (on or after its start)."""

    serializer_class = StopSerializer

    @extend_schema(request=StopSerializer, responses=OralMedicationSerializer)
    def post(self, request, medication_id):
        medication = self.get_medication()
        data = validated(StopSerializer, request)
        medication = services.oral_medication_stop(actor=request.user, medication=medication, **data)
        return Response(OralMedicationSerializer(medication).data)


class WeaningPlanView(OralMedicationScoped):
    """WEAN-1: a prescriber's weaning plan for this medication, its steps dated. One drug at
    a time, oral baclofen first unless overridden with a reason (``PUT
    /api/v1/weaning-plans/{id}/`` changes it)."""

    serializer_class = WeaningPlanInputSerializer

    @extend_schema(request=WeaningPlanInputSerializer, responses={201: WeaningPlanCreatedSerializer})
    def post(self, request, medication_id):
        medication = self.get_medication()
        data = validated(WeaningPlanInputSerializer, request)
        plan, notices = services.weaning_plan_create(actor=request.user, medication=medication, **data)
        return Response(plan_body(plan, notices), status=status.HTTP_201_CREATED)


class WeaningPlanEditView(GenericAPIView):
    """WEAN-1: a prescriber changes the steps of a weaning plan not yet ticked off, with a
    reason kept in each step's history: a step listed with its ``id`` is changed, one
    without is added, a step not done and not listed is removed; a step done is never
    changed. The whole plan is checked by WEAN-1 again."""

    serializer_class = WeaningPlanEditSerializer
    lookup_url_kwarg = "plan_id"

    def get_queryset(self):
        return WeaningPlan.objects.filter(medication__patient__clinic__in=clinics_of(self.request.user))

    @extend_schema(request=WeaningPlanEditSerializer, responses={200: WeaningPlanCreatedSerializer})
    def put(self, request, plan_id):
        plan = self.get_object()
        data = validated(WeaningPlanEditSerializer, request)
        plan, notices = services.weaning_plan_edit(actor=request.user, plan=plan, **data)
        return Response(plan_body(plan, notices))


def plan_body(plan, notices) -> dict:
    return WeaningPlanCreatedSerializer(
        {
            "weaning_plan": {
                "id": plan.pk,
                "override_reason": plan.override_reason,
                "created_by": plan.created_by,
                "created_at": plan.created_at,
                "steps": list(plan.steps.select_related("done_by").order_by("number")),
            },
            "notices": notices_data(notices),
        }
    ).data


class WeaningStepDoneView(GenericAPIView):
    """A nurse ticks off a weaning step (on or after its day, in order)."""

    serializer_class = WeaningStepSerializer

    @extend_schema(request=None, responses=WeaningStepSerializer)
    def post(self, request, step_id):
        step = get_object_or_404(
            WeaningStep.objects.filter(plan__medication__patient__clinic__in=clinics_of(request.user)),
            pk=step_id,
        )
        return Response(WeaningStepSerializer(services.weaning_step_done(actor=request.user, step=step)).data)
