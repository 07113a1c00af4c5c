"""The exchange endpoints: a patient's record as an HL7 FHIR R4 Bundle."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from patients.models import Patient
from patients.permissions import clinics_of

from .fhir import patient_bundle


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
