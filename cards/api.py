"""REST endpoints of emergency cards (CARD-1, REFILL-4): print a pump's wallet card or
caregiver sheet, print a clinic's stale cards in one PDF, see whether a card is stale, and
edit what cards say (texts, clinic card settings, the patient's physician).

The PDF endpoints answer ``application/pdf``; a refusal is the API's usual JSON error.
They ignore DRF's ``?format=`` content negotiation: here ``format`` picks the card format.
"""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from patients.api import CodeField
from patients.models import Clinic, Drug, Patient, Pump, PumpModel
from patients.permissions import clinics_of
from pumpcare.inputs import ModelSerializer, Query

from . import responses, selectors, services
from .models import CardFormat, CardSettings, CardText, IssuedCard, PatientPhysician


class IgnoreFormatParameter(DefaultContentNegotiation):
    """JSON for everything that is not the PDF itself; ``?format=`` is the card format."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class CardErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    field = serializers.CharField(required=False)
    detail = serializers.CharField()
    errors = serializers.DictField(required=False)
    missing = serializers.DictField(
        required=False, help_text="every field the card lacks, with how to fix it"
    )


PDF_RESPONSES = {
    (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="the PDF"),
    400: OpenApiResponse(CardErrorSerializer, description="refused: data the card must show is missing"),
    404: OpenApiResponse(description="not one of your clinics' pumps or clinics"),
}


class CardView(GenericAPIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreFormatParameter

    def get_pump(self) -> Pump:
        pumps = Pump.objects.filter(patient__clinic__in=clinics_of(self.request.user)).select_related(
            "model", "patient__clinic"
        )
        return get_object_or_404(pumps, pk=self.kwargs["pump_id"])

    def get_clinic(self) -> Clinic:
        return get_object_or_404(clinics_of(self.request.user), code=self.kwargs["code"])


class PumpEmergencyCardPdfView(CardView):
    """Print the pump's emergency card and record it (who, when, what it showed): the wallet
    card (two ID-1 pages, 85.6 × 54 mm: front, back) or, with ``?format=sheet``, the
    one-page caregiver sheet on the clinic's paper. Refused (400, ``card_data_missing``)
    when data the card must show is missing. Header ``X-Card-Was-Stale`` says whether the
    card was stale before this print; a wallet card clears it."""

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=[c.value for c in CardFormat], default="wallet")],
        responses=PDF_RESPONSES,
    )
    def get(self, request, pump_id):
        pump = self.get_pump()
        card_format = request.query_params.get("format") or CardFormat.WALLET
        if card_format not in CardFormat.values:
            raise serializers.ValidationError({"format": [f"must be one of {', '.join(CardFormat.values)}"]})
        # One transaction for the card and its answer: a PDF that cannot be sent is not issued.
        with transaction.atomic():
            printed = services.card_issue(actor=request.user, pump=pump, card_format=card_format)
            response = responses.pdf_response(
                printed.pdf, responses.card_filename(card_format, pump.serial_number)
            )
            response["X-Card-Was-Stale"] = "true" if printed.was_stale else "false"
            response["X-Issued-Card"] = str(printed.cards[0].pk)
        return response


class ClinicEmergencyCardsPdfView(CardView):
    """Print the wallet cards of the clinic's active pumps — with ``?stale=1`` only those
    whose card is stale — imposed 2 × 4 on the clinic's paper with crop marks: a sheet of
    fronts, then a sheet of their backs (duplex, flip on the long edge). Every card printed
    is recorded. Pumps whose card cannot be printed yet are left out and listed in the
    ``X-Cards-Skipped`` header (``pump id: missing fields``); when nothing is left, 400
    ``nothing_to_print``."""

    @extend_schema(parameters=[OpenApiParameter("stale", OpenApiTypes.BOOL)], responses=PDF_RESPONSES)
    def get(self, request, code):
        clinic = self.get_clinic()
        stale_only = request.query_params.get("stale", "").lower() in ("1", "true", "yes")
        with transaction.atomic():  # the cards are issued only with an answer that can be sent
            printed = services.cards_issue_batch(actor=request.user, clinic=clinic, stale_only=stale_only)
            response = responses.pdf_response(printed.pdf, responses.batch_filename(clinic.code))
            response["X-Cards-Printed"] = str(len(printed.cards))
            response["X-Cards-Skipped"] = "; ".join(
                f"{pk}: {', '.join(missing)}" for pk, missing in (printed.skipped or {}).items()
            )
        return response


class IssuedCardSerializer(ModelSerializer):
    issued_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = IssuedCard
        fields = ["id", "format", "issued_at", "issued_by", "digest", "batch", "data"]
        read_only_fields = fields


class CardStatusSerializer(serializers.Serializer):
    pump = serializers.IntegerField()
    stale = serializers.BooleanField(help_text="REFILL-4: no wallet card yet, or something it shows changed")
    changed_fields = serializers.ListField(
        child=serializers.CharField(), help_text="what differs from the last wallet card"
    )
    printable = serializers.BooleanField()
    missing = serializers.DictField(child=serializers.CharField(), help_text="field: what to do")
    card = serializers.DictField(help_text="what a card printed now would show (CARD-1)")
    last_issued = IssuedCardSerializer(allow_null=True, help_text="the last wallet card")
    last_sheet = IssuedCardSerializer(allow_null=True, help_text="the last caregiver sheet")


class PumpEmergencyCardView(CardView):
    """Whether the pump's card is stale, what changed since the last wallet card, what a card
    printed now would show, and what (if anything) keeps it from being printed."""

    @extend_schema(responses=CardStatusSerializer)
    def get(self, request, pump_id):
        pump = self.get_pump()
        read = selectors.card_read(pump)
        last = selectors.last_issued(pump)
        body = {
            "pump": pump.pk,
            "stale": read.stale,
            "changed_fields": selectors.changed_fields(last.data if last else None, read.data),
            "printable": not read.missing,
            "missing": read.missing,
            "card": read.data,
            "last_issued": last,
            "last_sheet": selectors.last_issued(pump, CardFormat.SHEET),
        }
        return Response(CardStatusSerializer(body).data)


# --- what cards say ---------------------------------------------------------------------


class CardSettingsSerializer(ModelSerializer):
    clinic = serializers.SlugRelatedField(slug_field="code", read_only=True)
    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=2000)

    class Meta:
        model = CardSettings
        fields = ["clinic", "paper_size", "date_format", "default_physician", "reason"]


class ClinicCardSettingsView(CardView):
    """The clinic's card settings: paper size (caregiver sheet, batch sheets), date format,
    default physician. PATCH needs the clinic's admin role."""

    serializer_class = CardSettingsSerializer

    def get(self, request, code):
        return Response(CardSettingsSerializer(selectors.card_settings(self.get_clinic())).data)

    def patch(self, request, code):
        clinic = self.get_clinic()
        serializer = CardSettingsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "") or "card settings changed"
        updated = services.card_settings_update(
            actor=request.user, clinic=clinic, changes=changes, reason=reason
        )
        return Response(CardSettingsSerializer(updated).data)


class PatientPhysicianSerializer(ModelSerializer):
    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=2000)

    class Meta:
        model = PatientPhysician
        fields = ["name", "phone", "reason"]


class PatientCardPhysicianView(CardView):
    """The physician printed on the patient's cards (else the clinic's default physician)."""

    serializer_class = PatientPhysicianSerializer
    # get_object (used by OPTIONS to describe PUT): the patient's physician, by patient id.
    lookup_field = lookup_url_kwarg = "patient_id"

    def get_queryset(self):
        return PatientPhysician.objects.filter(patient__clinic__in=clinics_of(self.request.user))

    def get_patient(self) -> Patient:
        patients = Patient.objects.filter(clinic__in=clinics_of(self.request.user)).select_related("clinic")
        return get_object_or_404(patients, pk=self.kwargs["patient_id"])

    def get(self, request, patient_id):
        physician = get_object_or_404(PatientPhysician, patient=self.get_patient())
        return Response(PatientPhysicianSerializer(physician).data)

    def put(self, request, patient_id):
        patient = self.get_patient()
        serializer = PatientPhysicianSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        physician = services.patient_physician_set(
            actor=request.user,
            patient=patient,
            name=data["name"],
            phone=data.get("phone", ""),
            reason=data.get("reason", ""),
        )
        return Response(PatientPhysicianSerializer(physician).data)


class CardTextSerializer(ModelSerializer):
    clinic = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    pump_model = serializers.SlugRelatedField(slug_field="code", read_only=True)
    drug = serializers.SlugRelatedField(slug_field="code", read_only=True)
    is_default = serializers.SerializerMethodField()

    class Meta:
        model = CardText
        fields = [
            "id",
            "clinic",
            "pump_model",
            "drug",
            "withdrawal_warning",
            "mri_note",
            "source",
            "is_default",
        ]
        read_only_fields = fields

    def get_is_default(self, text) -> bool:
        return text.clinic_id is None


class CardTextCreateSerializer(serializers.Serializer):
    clinic = serializers.CharField(help_text="clinic code")
    pump_model = CodeField(queryset=PumpModel.objects.all())
    drug = CodeField(queryset=Drug.objects.all())
    withdrawal_warning = serializers.CharField(help_text='printed under "Do not stop abruptly"')
    mri_note = serializers.CharField()
    source = serializers.CharField(required=False, allow_blank=True, default="")
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CardTextUpdateSerializer(serializers.Serializer):
    withdrawal_warning = serializers.CharField(required=False)
    mri_note = serializers.CharField(required=False)
    source = serializers.CharField(required=False, allow_blank=True)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CardTextViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The withdrawal warning and MRI note of cards, per pump model and drug. The shipped
    defaults (``clinic`` null, from DOMAIN.md) apply to every clinic that has no text of its
    own; ``?clinic=CODE`` lists exactly the texts that clinic's cards use. A clinic admin
    adds (POST), changes (PATCH) or removes (DELETE: back to the default) the clinic's own
    texts; every change is audited."""

    serializer_class = CardTextSerializer
    queryset = CardText.objects.none()  # for the schema; get_queryset scopes
    pagination_class = None
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        from django.db.models import Q

        clinics = clinics_of(self.request.user)
        code = Query(self.request.query_params).code("clinic")
        if code and self.action == "list":
            clinic = get_object_or_404(clinics, code=code)
            return selectors.card_texts(clinic)
        return CardText.objects.filter(Q(clinic__in=clinics) | Q(clinic__isnull=True)).select_related(
            "clinic", "pump_model", "drug"
        )

    @extend_schema(parameters=[OpenApiParameter("clinic", str)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=CardTextCreateSerializer, responses={201: CardTextSerializer})
    def create(self, request):
        serializer = CardTextCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        clinic = clinics_of(request.user).filter(code=data.pop("clinic")).first()
        if clinic is None:
            raise serializers.ValidationError({"clinic": ["not one of your clinics"]})
        text = services.card_text_create(actor=request.user, clinic=clinic, **data)
        return Response(CardTextSerializer(text).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CardTextUpdateSerializer, responses=CardTextSerializer)
    def partial_update(self, request, pk=None):
        text = self.get_object()
        serializer = CardTextUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        reason = changes.pop("reason", "")
        text = services.card_text_update(actor=request.user, text=text, changes=changes, reason=reason)
        return Response(CardTextSerializer(text).data)

    def perform_destroy(self, instance):
        services.card_text_delete(actor=self.request.user, text=instance, reason="")
