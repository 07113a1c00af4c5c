"""The exchange endpoints: a patient's record as an HL7 FHIR R4 Bundle; transfers of a
patient between clinics."""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from patients.api import CodeField
from patients.models import Clinic, Patient
from patients.permissions import clinics_of
from pumpcare.inputs import ModelSerializer, validated

from . import transfers
from .fhir import patient_bundle
from .models import Transfer


class FhirJSONRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


class PatientFhirView(GenericAPIView):
    """The patient's record as an HL7 FHIR R4 Bundle of type ``collection``: Organization,
    Patient, Device (pump and catheter), Procedure (implant, explant, refills),
    MedicationRequest (intrathecal, a Dosage per programmed piece), Appointment and, for each
    active pump, Observations of its projected reservoir volume and alarm time. Served as
    ``application/json``, or ``application/fhir+json`` when the request accepts it (or asks
    ``?format=fhir``). The mapping is in docs/fhir.md."""

    renderer_classes = [JSONRenderer, FhirJSONRenderer]
    pagination_class = None

    @extend_schema(
        operation_id="patients_fhir_retrieve",
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="A FHIR R4 Bundle (collection)")},
    )
    def get(self, request, patient_id):
        patient = get_object_or_404(
            Patient.objects.select_related("clinic"), pk=patient_id, clinic__in=clinics_of(request.user)
        )
        return Response(patient_bundle(patient))


# --- transfers -------------------------------------------------------------------------------


class TransferSerializer(ModelSerializer):
    patient_name = serializers.SerializerMethodField()
    patient_mrn = serializers.CharField(source="patient.mrn", read_only=True)
    from_clinic = serializers.SlugRelatedField(slug_field="code", read_only=True)
    to_clinic = serializers.SlugRelatedField(slug_field="code", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "patient",
            "patient_name",
            "patient_mrn",
            "from_clinic",
            "to_clinic",
            "reason",
            "status",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_note",
        ]
        read_only_fields = fields

    def get_patient_name(self, transfer) -> str:
        return f"{transfer.patient.family_name}, {transfer.patient.given_name}"


class TransferInputSerializer(serializers.Serializer):
    to_clinic = CodeField(queryset=Clinic.objects.all(), help_text="the code of the clinic the patient joins")
    reason = serializers.CharField(help_text="why the patient moves")


class TransferDecisionSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="required to decline"
    )


class PatientTransfersView(GenericAPIView):
    """Ask to move the patient, with their pumps and whole record, to another clinic (an
    admin of the patient's clinic). Done at once when the asker is an admin of both clinics;
    otherwise an admin of the other clinic accepts or declines it (``/transfers/{id}/``)."""

    serializer_class = TransferSerializer

    @extend_schema(request=TransferInputSerializer, responses={201: TransferSerializer})
    def post(self, request, patient_id):
        patient = get_object_or_404(
            Patient.objects.select_related("clinic"), pk=patient_id, clinic__in=clinics_of(request.user)
        )
        data = validated(TransferInputSerializer, request, clinic=patient.clinic)
        transfer = transfers.transfer_request(actor=request.user, patient=patient, **data)
        return Response(TransferSerializer(transfer).data, status=status.HTTP_201_CREATED)


class TransferScoped(GenericAPIView):
    serializer_class = TransferSerializer

    def get_queryset(self):
        mine = clinics_of(self.request.user)
        return (
            Transfer.objects.filter(Q(from_clinic__in=mine) | Q(to_clinic__in=mine))
            .select_related("patient", "from_clinic", "to_clinic", "requested_by", "decided_by")
            .distinct()
        )


class TransferListView(TransferScoped):
    """Transfers from or to the user's clinics, newest first."""

    @extend_schema(responses=TransferSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(TransferSerializer(page, many=True).data)


class TransferAcceptView(TransferScoped):
    """An admin of the clinic the patient joins accepts: the patient and their record move,
    open appointments are cancelled for the new clinic to book, projections are recomputed
    in its zone; the old clinic keeps no access."""

    @extend_schema(request=TransferDecisionSerializer, responses=TransferSerializer)
    def post(self, request, transfer_id):
        transfer = get_object_or_404(self.get_queryset(), pk=transfer_id)
        data = validated(TransferDecisionSerializer, request, clinic=transfer.to_clinic)
        transfer = transfers.transfer_accept(actor=request.user, transfer=transfer, **data)
        return Response(TransferSerializer(transfer).data)


class TransferDeclineView(TransferScoped):
    """Declined by the clinic the patient would join, or withdrawn by the one that asked."""

    @extend_schema(request=TransferDecisionSerializer, responses=TransferSerializer)
    def post(self, request, transfer_id):
        transfer = get_object_or_404(self.get_queryset(), pk=transfer_id)
        data = validated(TransferDecisionSerializer, request, clinic=transfer.to_clinic)
        transfer = transfers.transfer_decline(actor=request.user, transfer=transfer, **data)
        return Response(TransferSerializer(transfer).data)
