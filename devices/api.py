"""REST endpoints of the device record: a pump's interrogations and the alarms read at
them (DEVICE-1), and its MRIs with their follow-up (MRI-1). Clinic-scoped like every pump
endpoint: another clinic's pump or MRI is a 404."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from patients.permissions import clinics_of
from pumpcare import clock
from pumpcare.inputs import DateField, ModelSerializer, validated
from refills.api import PumpScopedView
from refills.serializers import LOCAL_TIME_HELP, ClinicLocalDateTimeField
from therapy.device import ALARMS

from . import selectors, services
from .models import Interrogation, Mri

# --- interrogations (DEVICE-1) -------------------------------------------------------------


class InterrogationSerializer(ModelSerializer):
    interrogated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    alarms_by_class = serializers.SerializerMethodField(
        help_text="DEVICE-1: the alarms read, as critical / eri / logged"
    )

    class Meta:
        model = Interrogation
        fields = [
            "id",
            "pump",
            "interrogated_at",
            "interrogated_by",
            "alarms",
            "alarms_by_class",
            "eri_on",
            "notes",
        ]
        read_only_fields = fields

    def get_alarms_by_class(self, interrogation) -> dict[str, list[str]]:
        return selectors.alarms_by_class(interrogation)


class InterrogationInputSerializer(serializers.Serializer):
    interrogated_at = ClinicLocalDateTimeField(help_text=LOCAL_TIME_HELP)
    alarms = serializers.ListField(
        child=serializers.ChoiceField(list(ALARMS)),
        max_length=len(ALARMS),
        required=False,
        default=list,
        help_text="DEVICE-1: the alarms read. Critical (a critical alert): motor_stall, memory_error, "
        "end_of_service; eri sets the pump's ERI date (ERI-1); low_reservoir and other are logged",
    )
    eri_since = DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="ERI-1: the day the pump reports ERI since; default the interrogation's day",
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class PumpInterrogationsView(PumpScopedView):
    """A pump's interrogations (newest first); POST records one with the alarms read."""

    serializer_class = InterrogationSerializer

    def get_queryset(self):
        return selectors.pump_interrogations(self.get_pump())

    @extend_schema(responses=InterrogationSerializer(many=True))
    def get(self, request, pump_id):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(InterrogationSerializer(page, many=True).data)

    @extend_schema(request=InterrogationInputSerializer, responses={201: InterrogationSerializer})
    def post(self, request, pump_id):
        pump = self.get_pump()
        data = validated(InterrogationInputSerializer, request, pump)
        record = services.interrogation_record(actor=request.user, pump=pump, **data)
        return Response(InterrogationSerializer(record).data, status=status.HTTP_201_CREATED)


# --- MRIs (MRI-1) ----------------------------------------------------------------------------


class MriSerializer(ModelSerializer):
    planned_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    status = serializers.SerializerMethodField(
        help_text="planned, interrogation_due, interrogation_overdue, emptying_due, refill_unbooked, done, "
        "cancelled"
    )
    due_on = serializers.SerializerMethodField(help_text="the scan's day in the clinic's zone")
    follow_up_words = serializers.SerializerMethodField()

    class Meta:
        model = Mri
        fields = [
            "id",
            "pump",
            "scan_at",
            "follow_up",
            "status",
            "due_on",
            "follow_up_words",
            "planned_by",
            "notes",
            "interrogation",
            "emptied_at",
            "emptying",
            "completed_at",
            "cancelled_at",
            "cancel_reason",
        ]
        read_only_fields = fields

    def _state(self, mri):
        return selectors.mri_state(mri, clock.now())

    def get_status(self, mri) -> str:
        return self._state(mri).status

    def get_due_on(self, mri) -> str:
        return self._state(mri).due_on.isoformat()

    def get_follow_up_words(self, mri) -> str:
        return self._state(mri).words


class MriInputSerializer(serializers.Serializer):
    scan_at = ClinicLocalDateTimeField(help_text="when the scan is (or was); " + LOCAL_TIME_HELP)
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class MriEmptyingInputSerializer(serializers.Serializer):
    emptied_at = ClinicLocalDateTimeField(help_text="before the scan; " + LOCAL_TIME_HELP)
    override_reason = serializers.CharField(
        allow_blank=True,
        max_length=2000,
        help_text="TITRATE-2: emptying stops the therapy; a prescriber's written reason",
    )


class MriCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class PumpMrisView(PumpScopedView):
    """A pump's MRIs (newest first) with where each follow-up stands; POST plans one. The
    follow-up is the pump model's (catalog): SynchroMed II, interrogate after the scan;
    Prometra II, empty before it and book the refill after it the same day. A model without
    MRI guidance on file is refused."""

    serializer_class = MriSerializer

    def get_queryset(self):
        return selectors.pump_mris(self.get_pump())

    @extend_schema(responses=MriSerializer(many=True))
    def get(self, request, pump_id):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(MriSerializer(page, many=True).data)

    @extend_schema(request=MriInputSerializer, responses={201: MriSerializer})
    def post(self, request, pump_id):
        pump = self.get_pump()
        data = validated(MriInputSerializer, request, pump)
        mri = services.mri_plan(actor=request.user, pump=pump, **data)
        return Response(MriSerializer(mri).data, status=status.HTTP_201_CREATED)


class MriScopedView(GenericAPIView):
    serializer_class = MriSerializer

    def get_mri(self) -> Mri:
        mris = Mri.objects.filter(pump__patient__clinic__in=clinics_of(self.request.user)).select_related(
            "pump__patient__clinic", "pump__model", "interrogation", "planned_by"
        )
        return get_object_or_404(mris, pk=self.kwargs["mri_id"])


class MriDetailView(MriScopedView):
    """An MRI and where its follow-up stands."""

    @extend_schema(responses=MriSerializer)
    def get(self, request, mri_id):
        return Response(MriSerializer(self.get_mri()).data)


class MriEmptyingView(MriScopedView):
    """A Prometra II was emptied before the scan: therapy stops (TITRATE-2: a prescriber's
    override with a reason; the discontinuation alert is raised), and the refill after the
    scan must be booked on the scan day."""

    @extend_schema(request=MriEmptyingInputSerializer, responses={201: MriSerializer})
    def post(self, request, mri_id):
        mri = self.get_mri()
        data = validated(MriEmptyingInputSerializer, request, mri.pump)
        mri = services.mri_emptying_record(actor=request.user, mri=mri, **data)
        return Response(MriSerializer(mri).data, status=status.HTTP_201_CREATED)


class MriCancelView(MriScopedView):
    """The MRI will not happen: its follow-up is no longer due."""

    @extend_schema(request=MriCancelInputSerializer, responses={200: MriSerializer})
    def post(self, request, mri_id):
        mri = self.get_mri()
        data = validated(MriCancelInputSerializer, request, mri.pump)
        return Response(MriSerializer(services.mri_cancel(actor=request.user, mri=mri, **data)).data)
