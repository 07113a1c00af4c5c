"""REST endpoints of scheduling: appointments (book, move, cancel, no-show), the worklist
and the calendar feeds."""

from __future__ import annotations

import json
from types import SimpleNamespace

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_safe
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from devices.models import Mri
from patients.models import MriFollowUp, Pump
from patients.permissions import asked_clinic, clinics_of
from pumpcare import clock
from pumpcare.data_version import with_data_version
from pumpcare.inputs import DateField, ModelSerializer, Query, validated
from refills.serializers import NoticeSerializer

from . import appointments, calendar, worklist
from .models import OPEN_STATUSES, Appointment, AppointmentKind, AppointmentStatus, CalendarFeed, FeedDetail

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
        data = validated(AppointmentCreateSerializer, request)
        appointment, warnings = appointments.appointment_create(
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
        data = validated(AppointmentBookSerializer, request)
        appointment, warnings = appointments.appointment_book(
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
        data = validated(ReasonSerializer, request)
        appointment = appointments.appointment_cancel(
            actor=request.user, appointment=self.get_object(), reason=data["reason"]
        )
        return Response(AppointmentSerializer(appointment).data)

    @extend_schema(request=NotesSerializer, responses=AppointmentSerializer)
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        data = validated(NotesSerializer, request)
        appointment = appointments.appointment_no_show(
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
    dates_recomputing = serializers.BooleanField(
        help_text=(
            "an edit that many projections read (a catalog value, the clinic's zone or safety "
            "margin) marked this pump's projection stale: its dates are being recomputed, and "
            "the row shows those from before the edit"
        )
    )
    daylight_saving_warning = serializers.BooleanField()
    tolerance_not_configured = serializers.BooleanField()
    card_stale = serializers.BooleanField(help_text="REFILL-4: the emergency card must be reissued")
    implant_monitoring_incomplete = serializers.BooleanField(
        help_text="IMPLANT-1: the implant fill has no completed monitoring record of at least 8 hours"
    )
    booked_on_closed_day = serializers.BooleanField(
        help_text="LRA-5: the refill is booked on a day the clinic no longer works: move it"
    )
    booked_after_refill_by = serializers.BooleanField(
        help_text=(
            "LRA-5: the booked refill falls after the refill-by date while a working day is "
            "left before it (the pump's dates changed since it was booked): move it"
        )
    )


class WorklistItemSerializer(serializers.Serializer):
    patient = WorklistPatientSerializer()
    pump = WorklistPumpSerializer()
    reservoir_volume_ml = serializers.DecimalField(max_digits=7, decimal_places=2, allow_null=True)
    low_reservoir_alarm_at = serializers.DateTimeField(allow_null=True)
    low_reservoir_alarm_at_worst_case = serializers.DateTimeField(allow_null=True)
    alarm_on = serializers.DateField(allow_null=True, help_text="local date of the worst-case alarm")
    empty_at_worst_case = serializers.DateTimeField(allow_null=True)
    refill_by = serializers.DateField(allow_null=True)
    refill_by_reason = serializers.ChoiceField(["alarm", "drug_stability", "emptied"], allow_null=True)
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
        clinic = asked_clinic(query, clinics)
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


class TitrationVisitSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    pump = serializers.IntegerField(source="pump_id")
    patient = serializers.IntegerField(source="pump.patient_id")
    patient_name = serializers.SerializerMethodField()
    day = serializers.DateField()
    time = serializers.TimeField(allow_null=True)
    status = serializers.CharField()
    nurse = serializers.CharField(source="nurse.username", allow_null=True, default=None)

    def get_patient_name(self, appointment) -> str:
        patient = appointment.pump.patient
        return f"{patient.family_name}, {patient.given_name}"


class WeaningStepDueSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    patient = serializers.IntegerField(source="plan.medication.patient_id")
    patient_name = serializers.SerializerMethodField()
    drug = serializers.CharField(source="plan.medication.drug.name")
    number = serializers.IntegerField()
    day = serializers.DateField()
    dose_mg = serializers.DecimalField(max_digits=7, decimal_places=2)
    times_per_day = serializers.IntegerField(source="plan.medication.times_per_day")

    def get_patient_name(self, step) -> str:
        patient = step.plan.medication.patient
        return f"{patient.family_name}, {patient.given_name}"


class TitrationAgendaSerializer(serializers.Serializer):
    titration_visits = TitrationVisitSerializer(many=True, help_text="open titration visits, oldest first")
    weaning_steps_due = WeaningStepDueSerializer(
        many=True, help_text="WEAN-1: steps due today or earlier, not ticked off"
    )


class TitrationWorklistView(GenericAPIView):
    """The worklist's titration part: open titration visits and the weaning steps due
    (WEAN-1). Query: ``clinic`` (code; optional for users of one clinic)."""

    serializer_class = TitrationAgendaSerializer

    @extend_schema(parameters=[OpenApiParameter("clinic", str)], responses=TitrationAgendaSerializer)
    def get(self, request):
        query = Query(request.query_params)
        clinics = clinics_of(request.user)
        clinic = asked_clinic(query, clinics)
        today = clock.now().astimezone(clinic.tz).date()
        return Response(TitrationAgendaSerializer(worklist.titration_agenda(clinic, today)).data)


class MriFollowUpSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="the MRI (GET /api/v1/mris/{id}/)")
    pump = serializers.IntegerField(source="pump_id")
    patient = serializers.IntegerField(source="pump.patient_id")
    patient_name = serializers.SerializerMethodField()
    scan_at = serializers.DateTimeField()
    follow_up = serializers.ChoiceField(MriFollowUp.choices, help_text="the pump model's follow-up (MRI-1)")
    status = serializers.ChoiceField(
        ["planned", "interrogation_due", "interrogation_overdue", "emptying_due", "refill_unbooked"],
        help_text="where the follow-up stands now: planned (before the scan), interrogation_due (the "
        "scan day), interrogation_overdue (the scan day is over without it: escalated), emptying_due "
        "(a Prometra II not emptied yet), refill_unbooked (emptied, the refill after the scan not "
        "booked on the scan day: escalated)",
    )
    overdue = serializers.BooleanField(help_text="interrogation_overdue or refill_unbooked")
    due_on = serializers.DateField(help_text="the scan's day in the clinic's zone")
    words = serializers.CharField(help_text="what to do, as the nurses' worklist says it")

    def get_patient_name(self, row) -> str:
        patient = row.pump.patient
        return f"{patient.family_name}, {patient.given_name}"


MRI_OVERDUE = ("interrogation_overdue", "refill_unbooked")


class MriWorklistView(GenericAPIView):
    """The worklist's MRI part (MRI-1), as the nurses' worklist shows it: every open MRI of
    the clinic (planned, or its interrogation, emptying or refill after the scan to do), the
    soonest scan first, with where its follow-up stands now. Query: ``clinic`` (code;
    optional for users of one clinic)."""

    serializer_class = MriFollowUpSerializer
    pagination_class = None

    def get_queryset(self):
        """The MRIs the list is drawn from (the browsable API's page asks for it)."""
        return Mri.objects.filter(pump__patient__clinic__in=clinics_of(self.request.user))

    @extend_schema(parameters=[OpenApiParameter("clinic", str)], responses=MriFollowUpSerializer(many=True))
    def get(self, request):
        query = Query(request.query_params)
        clinics = clinics_of(request.user)
        clinic = asked_clinic(query, clinics)
        rows = [
            SimpleNamespace(
                id=mri.pk,
                pump_id=mri.pump_id,
                pump=mri.pump,
                scan_at=mri.scan_at,
                follow_up=mri.follow_up,
                status=state.status,
                overdue=state.status in MRI_OVERDUE,
                due_on=state.due_on,
                words=state.words,
            )
            for mri, state in worklist.mri_follow_ups(clinic, clock.now())
        ]
        return Response(MriFollowUpSerializer(rows, many=True).data)


# --- calendar feeds --------------------------------------------------------------------


class CalendarFeedSerializer(ModelSerializer):
    clinic = serializers.SlugRelatedField(slug_field="code", read_only=True)
    nurse = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = CalendarFeed
        fields = ["id", "clinic", "nurse", "detail", "url", "created_at", "revoked_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField())
    def get_url(self, feed):
        path = reverse("calendar-feed", args=[feed.token])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


def detail_field(**kwargs):
    return serializers.ChoiceField(
        FeedDetail.choices,
        error_messages={"invalid_choice": "must be minimal or full"},
        help_text="what each event says: minimal (kind, time, patient's initials, a link to the pump "
        "page) or full (name, MRN, pump model and serial; a clinic admin's choice)",
        **kwargs,
    )


class CalendarFeedCreateSerializer(serializers.Serializer):
    clinic = serializers.CharField(help_text="clinic code")
    nurse = NurseField(required=False, allow_null=True, help_text="only this nurse's appointments")
    detail = detail_field(required=False, default=FeedDetail.MINIMAL)


class CalendarFeedUpdateSerializer(serializers.Serializer):
    detail = detail_field()


class CalendarFeedViewSet(viewsets.ReadOnlyModelViewSet):
    """Secret iCalendar URLs of booked appointments, per clinic or per nurse, for Outlook and
    Google Calendar to subscribe to. Anyone with the URL reads the feed: revoke a URL that
    leaked, and create a new one. A feed is minimal unless a clinic admin chose the full format
    (README: Calendar feeds)."""

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
        data = validated(CalendarFeedCreateSerializer, request)
        clinic = clinics_of(request.user).filter(code=data["clinic"]).first()
        if clinic is None:
            raise serializers.ValidationError({"clinic": [f"no clinic {data['clinic']!r} among yours"]})
        feed = calendar.feed_create(
            actor=request.user, clinic=clinic, nurse=data.get("nurse"), detail=data["detail"]
        )
        return Response(
            CalendarFeedSerializer(feed, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=CalendarFeedUpdateSerializer, responses=CalendarFeedSerializer)
    def partial_update(self, request, pk=None):
        feed = self.get_object()
        data = validated(CalendarFeedUpdateSerializer, request)
        feed = calendar.feed_set_detail(actor=request.user, feed=feed, detail=data["detail"])
        return Response(CalendarFeedSerializer(feed, context={"request": request}).data)

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
