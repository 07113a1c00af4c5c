"""REST endpoints for clinics, patients, caregivers, pumps and the catalogs.

Views parse, call one service, and render. Querysets are scoped to the user's clinics, so
another clinic's object answers 404.
"""

from __future__ import annotations

from django.utils.dateparse import parse_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from pumpcare import clock
from pumpcare.inputs import (
    CODE_REGEX,
    CODE_REGEX_NO_DOT,
    DateField,
    ModelSerializer,
    Query,
    text_problem,
    validated,
)

from . import selectors, services, timeline
from .models import (
    Caregiver,
    CatheterModel,
    Clinic,
    ClinicClosure,
    Drug,
    Patient,
    Pump,
    PumpModel,
    PumpStatus,
)
from .permissions import IsClinicStaffOrCatalogEditor, clinics_of

# PositiveSmallIntegerField's range on PostgreSQL, stated so the schema does not depend on
# the database the schema happens to be generated with.
SMALL = {"min_value": 0, "max_value": 32767}

REASON = serializers.CharField(
    write_only=True, required=False, allow_blank=True, max_length=2000, help_text="Why (kept in the history)"
)


class CodeField(serializers.SlugRelatedField):
    """A catalog or clinic reference by code; an unknown code lists the allowed ones."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "code")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        queryset = self.get_queryset()
        if isinstance(data, str) and (problem := text_problem(data, one_line=True)):
            raise serializers.ValidationError(problem, code="invalid")
        try:
            return queryset.get(code=str(data))
        except (queryset.model.DoesNotExist, TypeError, ValueError):
            known = ", ".join(queryset.values_list("code", flat=True)[:50])
            self.fail_unknown(data, known)

    def fail_unknown(self, data, known):
        raise serializers.ValidationError(
            f"unknown code {data!r}; allowed: {known or 'none'}", code="unknown_code"
        )


class ScopedClinicField(CodeField):
    def get_queryset(self):
        return clinics_of(self.context["request"].user)


class ScopedPatientField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return Patient.objects.filter(clinic__in=clinics_of(self.context["request"].user))


# --- clinics ---------------------------------------------------------------------------


class ClosureSerializer(ModelSerializer):
    class Meta:
        model = ClinicClosure
        fields = ["date", "reason"]


class ClosureCreateSerializer(serializers.Serializer):
    date = DateField(help_text="The day the clinic is closed (today or later)")
    # blank is left to the service, which says what is missing in words
    reason = serializers.CharField(
        max_length=200, required=False, allow_blank=True, help_text="Why the clinic is closed (required)"
    )


class ClinicSerializer(ModelSerializer):
    closures = serializers.SerializerMethodField()
    reason = REASON

    class Meta:
        model = Clinic
        fields = [
            "code",
            "name",
            "timezone",
            "emergency_phone",
            "safety_margin_days",
            "working_days",
            "refill_slots_per_day",
            "closures",
            "phone",
            "address",
            "on_call_email",
            "staff_email",
            "reminder_days_before",
            "older_adult_from_age_years",
            "reason",
        ]
        read_only_fields = ["code"]
        extra_kwargs = {
            "safety_margin_days": SMALL,
            "refill_slots_per_day": {**SMALL, "min_value": 1},
            "older_adult_from_age_years": {**SMALL, "min_value": 1},
        }

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_closures(self, clinic):
        return [{"date": c.date, "reason": c.reason} for c in clinic.closures.all()]


class ClinicViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """The user's clinics. Changing settings needs the clinic's admin role."""

    serializer_class = ClinicSerializer
    queryset = Clinic.objects.none()  # for the schema; get_queryset scopes
    lookup_field = "code"
    lookup_value_regex = CODE_REGEX_NO_DOT
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return clinics_of(self.request.user).prefetch_related("closures")

    def perform_update(self, serializer):
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "") or "clinic settings changed"
        serializer.instance = services.clinic_update(
            actor=self.request.user, clinic=serializer.instance, changes=changes, reason=reason
        )

    @extend_schema(methods=["GET"], request=None, responses=ClosureSerializer(many=True))
    @extend_schema(methods=["POST"], request=ClosureCreateSerializer, responses={201: ClosureSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def closures(self, request, code=None):
        """The clinic's closures from today on (GET); the clinic's admin closes a day (POST):
        LRA-5 re-plans the proposals on it and alerts its bookings before the answer."""
        clinic = self.get_object()
        if request.method == "GET":
            today = clock.now().astimezone(clinic.tz).date()
            closures = clinic.closures.filter(date__gte=today)
            return Response(ClosureSerializer(closures, many=True).data)
        data = validated(ClosureCreateSerializer, request)
        closure = services.closure_add(
            actor=request.user, clinic=clinic, day=data["date"], reason=data.get("reason", "")
        )
        return Response(ClosureSerializer(closure).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={204: None},
        parameters=[
            OpenApiParameter("day", OpenApiTypes.DATE, OpenApiParameter.PATH),
            OpenApiParameter("reason", str, description="Why the day is open again (kept in the history)"),
        ],
    )
    @action(detail=True, methods=["delete"], url_path=r"closures/(?P<day>[^/]+)", url_name="closure")
    def closure(self, request, code=None, day=None):
        """The clinic's admin reopens a closed day (a day in the past stays as history)."""
        clinic = self.get_object()
        try:
            parsed = parse_date(day)
        except ValueError:  # 2027-02-30
            parsed = None
        if parsed is None:
            raise NotFound("the day in the address is not a date (YYYY-MM-DD)", code="not_found")
        reason = Query(request.query_params).text("reason") or ""
        services.closure_remove(actor=request.user, clinic=clinic, day=parsed, reason=reason)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- patients and caregivers -----------------------------------------------------------


class CaregiverSerializer(ModelSerializer):
    patient = ScopedPatientField()
    reason = REASON

    class Meta:
        model = Caregiver
        fields = ["id", "patient", "name", "relation", "email", "phone", "communication_consent", "reason"]


class PatientSerializer(ModelSerializer):
    clinic = ScopedClinicField()
    caregivers = serializers.SerializerMethodField()
    pumps = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    reason = REASON

    class Meta:
        model = Patient
        fields = [
            "id",
            "clinic",
            "mrn",
            "given_name",
            "family_name",
            "birth_date",
            "spasticity_origin",
            "email",
            "phone",
            "communication_consent",
            "renal_impairment",
            "obstructive_sleep_apnoea",
            "brain_injury",
            "old_age",
            "stroke_recovery",
            "complete_spinal_cord_lesion",
            "caregivers",
            "pumps",
            "reason",
        ]
        # Uniqueness of (clinic, MRN) is checked by the service with a clearer message.
        validators = []

    @extend_schema_field(CaregiverSerializer(many=True))
    def get_caregivers(self, patient):
        return CaregiverSerializer(patient.caregivers.all(), many=True, context=self.context).data


class TimelineEventSerializer(serializers.Serializer):
    at = serializers.DateTimeField(
        help_text="when; an all-day event at the start of its day in the clinic's zone"
    )
    all_day = serializers.BooleanField(help_text="known by its day only (an implant, a surgery)")
    kind = serializers.CharField(help_text="implant, implant_fill, refill, prescription, screening_bolus, …")
    title = serializers.CharField()
    detail = serializers.CharField(allow_blank=True)
    by = serializers.CharField(allow_blank=True, help_text="who did or observed it")
    pump = serializers.IntegerField(source="pump.pk", allow_null=True, default=None)
    pump_serial_number = serializers.CharField(source="pump.serial_number", allow_null=True, default=None)


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("clinic", str), OpenApiParameter("mrn", str)])
)
class PatientViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Patients of the user's clinics. Filter with ``?clinic=CODE`` or ``?mrn=``."""

    serializer_class = PatientSerializer
    queryset = Patient.objects.none()  # for the schema; get_queryset scopes
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        queryset = (
            Patient.objects.filter(clinic__in=clinics_of(self.request.user))
            .select_related("clinic")
            .prefetch_related("caregivers", "pumps")
        )
        query = Query(self.request.query_params)
        if (clinic := query.code("clinic")) is not None:
            queryset = queryset.filter(clinic__code=clinic)
        if (mrn := query.text("mrn")) is not None:
            queryset = queryset.filter(mrn=mrn)
        return queryset

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("reason", None)
        serializer.instance = services.patient_create(actor=self.request.user, **data)

    def perform_update(self, serializer):
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "") or "patient record changed"
        if "clinic" in changes and changes["clinic"] != serializer.instance.clinic:
            raise serializers.ValidationError({"clinic": "a patient cannot move to another clinic here"})
        changes.pop("clinic", None)
        serializer.instance = services.patient_update(
            actor=self.request.user, patient=serializer.instance, changes=changes, reason=reason
        )

    @extend_schema(responses=TimelineEventSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)
    def timeline(self, request, pk=None):
        """The patient's course of therapy, oldest first: the screening trial, each implant and
        the monitoring after it, refills, prescriptions, visits, device events, replacements
        and the explant, each with who and when."""
        patient = self.get_object()
        return Response(TimelineEventSerializer(timeline.patient_timeline(patient), many=True).data)


class CaregiverViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = CaregiverSerializer
    queryset = Caregiver.objects.none()  # for the schema; get_queryset scopes
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return Caregiver.objects.filter(patient__clinic__in=clinics_of(self.request.user)).select_related(
            "patient__clinic"
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("reason", None)
        serializer.instance = services.caregiver_create(actor=self.request.user, **data)

    def perform_update(self, serializer):
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "") or "caregiver changed"
        if changes.pop("patient", serializer.instance.patient) != serializer.instance.patient:
            raise serializers.ValidationError({"patient": "a caregiver cannot move to another patient"})
        serializer.instance = services.caregiver_update(
            actor=self.request.user, caregiver=serializer.instance, changes=changes, reason=reason
        )


# --- pumps -----------------------------------------------------------------------------


class PumpSerializer(ModelSerializer):
    patient = ScopedPatientField()
    model = CodeField(queryset=PumpModel.objects.all())
    catheter_model = CodeField(queryset=CatheterModel.objects.all())
    low_reservoir_alarm_ml = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    eri_estimated = serializers.SerializerMethodField()
    planning_eri_on = serializers.SerializerMethodField()
    reason = REASON

    class Meta:
        model = Pump
        fields = [
            "id",
            "patient",
            "model",
            "serial_number",
            "implanted_on",
            "catheter_model",
            "catheter_length_cm",
            "low_reservoir_alarm_ml",
            "eri_on",
            "eri_estimated",
            "planning_eri_on",
            "status",
            "explanted_on",
            "reason",
        ]
        read_only_fields = ["status", "explanted_on"]
        validators = []

    @extend_schema_field(serializers.BooleanField(allow_null=True))
    def get_eri_estimated(self, pump):
        """ERI-1: true when ``eri_on`` is empty and the date comes from the model's service life."""
        plan = self._plan(pump)
        return plan.eri_estimated if plan else None

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_planning_eri_on(self, pump):
        """ERI-1: the ERI date planning uses: ``eri_on`` from an interrogation, else the estimate."""
        plan = self._plan(pump)
        return plan.eri_on if plan else None

    def _plan(self, pump):
        if getattr(self, "_plan_for", (None,))[0] is not pump:
            self._plan_for = (pump, selectors.replacement(pump)[0])
        return self._plan_for[1]


class PumpUpdateSerializer(ModelSerializer):
    reason = REASON

    class Meta:
        model = Pump
        fields = [
            "serial_number",
            "catheter_length_cm",
            "low_reservoir_alarm_ml",
            "eri_on",
            "status",
            "explanted_on",
            "reason",
        ]
        validators = []
        # TITRATE-2: shown for symmetry with the pump's body; a change is refused (400). An
        # explant is recorded with POST .../replace/ or .../explant/.
        extra_kwargs = {
            "status": {"help_text": "cannot be changed here: use the pump's replace or explant action"},
            "explanted_on": {"help_text": "cannot be changed here: use the pump's replace or explant action"},
        }


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("clinic", str),
            OpenApiParameter("status", str, enum=PumpStatus.values),
            OpenApiParameter("patient", OpenApiTypes.INT),
        ]
    )
)
class PumpViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Implanted pumps of the user's clinics. PATCH corrects the record or enters an
    interrogated ERI date; an explant is not an edit (TITRATE-2): it is recorded with
    POST ``pumps/{id}/replace/`` (the therapy continues on a new pump) or
    ``pumps/{id}/explant/`` (the therapy stops: physician, override reason, alert)."""

    http_method_names = ["get", "post", "patch", "head", "options"]
    queryset = Pump.objects.none()  # for the schema; get_queryset scopes

    def get_serializer_class(self):
        return PumpUpdateSerializer if self.action == "partial_update" else PumpSerializer

    def get_queryset(self):
        queryset = Pump.objects.filter(patient__clinic__in=clinics_of(self.request.user)).select_related(
            "model", "catheter_model", "patient__clinic"
        )
        query = Query(self.request.query_params)
        if (clinic := query.code("clinic")) is not None:
            queryset = queryset.filter(patient__clinic__code=clinic)
        if (status := query.text("status")) is not None:
            queryset = queryset.filter(status=status)
        if (patient := query.integer("patient")) is not None:
            queryset = queryset.filter(patient_id=patient)
        return queryset

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("reason", None)
        serializer.instance = services.pump_create(actor=self.request.user, **data)

    @extend_schema(request=PumpUpdateSerializer, responses=PumpSerializer)
    def partial_update(self, request, *args, **kwargs):
        pump = self.get_object()
        serializer = PumpUpdateSerializer(pump, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "") or "pump record changed"
        pump = services.pump_update(actor=request.user, pump=pump, changes=changes, reason=reason)
        return Response(PumpSerializer(pump, context=self.get_serializer_context()).data)


# --- catalogs --------------------------------------------------------------------------


class PumpModelSerializer(ModelSerializer):
    reason = REASON

    class Meta:
        model = PumpModel
        fields = [
            "code",
            "manufacturer",
            "name",
            "reservoir_ml",
            "low_reservoir_alarm_ml",
            "accuracy_tolerance_pct",
            "pathway_volume_min_ml",
            "pathway_volume_max_ml",
            "service_life_months",
            "discrepancy_threshold_ml",
            "mri_follow_up",
            "source",
            "reason",
        ]
        read_only_fields = ["code", "manufacturer", "name"]
        extra_kwargs = {"service_life_months": SMALL}


class CatheterModelSerializer(ModelSerializer):
    reason = REASON

    class Meta:
        model = CatheterModel
        fields = ["code", "manufacturer", "name", "volume_ml_per_cm", "source", "reason"]
        read_only_fields = ["code", "manufacturer", "name"]


class DrugSerializer(ModelSerializer):
    reason = REASON

    class Meta:
        model = Drug
        fields = [
            "code",
            "name",
            "supplied_concentrations_mcg_per_ml",
            "starting_concentration_mcg_per_ml",
            "max_reservoir_days",
            "source",
            "reason",
        ]
        read_only_fields = ["code", "name"]
        extra_kwargs = {"max_reservoir_days": SMALL}


class CatalogViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """Catalog entries by code. Any staff member reads; changing is the platform role's
    (a clinic admin only fills in an empty value no other clinic's pump reads:
    ``permissions.require_catalog_editor``) and is audited (history: who, when, why, old
    value)."""

    permission_classes = [IsClinicStaffOrCatalogEditor]

    lookup_field = "code"
    lookup_value_regex = CODE_REGEX
    http_method_names = ["get", "patch", "head", "options"]
    pagination_class = None

    def perform_update(self, serializer):
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "") or "catalog value changed"
        serializer.instance = services.catalog_update(
            actor=self.request.user, entry=serializer.instance, changes=changes, reason=reason
        )


class PumpModelViewSet(CatalogViewSet):
    queryset = PumpModel.objects.all()
    serializer_class = PumpModelSerializer


class CatheterModelViewSet(CatalogViewSet):
    queryset = CatheterModel.objects.all()
    serializer_class = CatheterModelSerializer


class DrugViewSet(CatalogViewSet):
    queryset = Drug.objects.all()
    serializer_class = DrugSerializer
