"""Alerts and the notification outbox of the user's clinics (REST).

``POST /alerts/{id}/acknowledge/`` takes an alert in hand (who, when and why are audited)
and stops its escalation; ``/notifications/`` lists the outbox, ``…/resend/`` sends a row
again."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from patients.permissions import clinics_of
from pumpcare.inputs import Query

from . import delivery, services
from .models import Alert, AlertKind, Notification, NotificationKind, NotificationStatus


class AlertSerializer(serializers.ModelSerializer):
    clinic = serializers.SlugRelatedField(slug_field="code", read_only=True)
    raised_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    message = serializers.CharField(
        source="text", read_only=True, help_text="ALERT-1: worded from the pump's current dates"
    )
    message_when_raised = serializers.CharField(
        source="message", read_only=True, help_text="what the alert said when it was raised"
    )

    class Meta:
        model = Alert
        fields = [
            "id",
            "clinic",
            "pump",
            "kind",
            "severity",
            "message",
            "message_when_raised",
            "raised_at",
            "raised_by",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledgement_note",
            "resolved_at",
        ]
        read_only_fields = fields


class TextField(serializers.CharField):
    """Text only: DRF's CharField would keep ``{"note": 42}`` as "42", and a number where
    words are expected is a client's mistake to report, not a note."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class AcknowledgeSerializer(serializers.Serializer):
    note = TextField(
        max_length=services.NOTE_MAX_CHARS,
        help_text="what was done, or who is handling it (kept in the history)",
    )


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("clinic", str),
            OpenApiParameter("pump", OpenApiTypes.INT),
            OpenApiParameter("kind", str, enum=AlertKind.values),
            OpenApiParameter("open", OpenApiTypes.BOOL, description="neither acknowledged nor resolved"),
        ]
    )
)
class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Filter with ``?clinic=CODE``, ``?pump=ID``, ``?kind=``, ``?open=1`` (neither
    acknowledged nor resolved)."""

    serializer_class = AlertSerializer
    queryset = Alert.objects.none()  # for the schema; get_queryset scopes

    def get_queryset(self):
        queryset = Alert.objects.filter(clinic__in=clinics_of(self.request.user)).select_related(
            "clinic", "raised_by", "acknowledged_by", "pump__projection__stale", "pump__patient__clinic"
        )
        query = Query(self.request.query_params)
        if (clinic := query.code("clinic")) is not None:
            queryset = queryset.filter(clinic__code=clinic)
        if (pump := query.integer("pump")) is not None:
            queryset = queryset.filter(pump_id=pump)
        if (kind := query.text("kind")) is not None:
            queryset = queryset.filter(kind=kind)
        if query.text("open") in ("1", "true"):
            queryset = queryset.filter(acknowledged_at__isnull=True, resolved_at__isnull=True)
        return queryset

    @extend_schema(request=AcknowledgeSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        serializer = AcknowledgeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alert = services.alert_acknowledge(
            actor=request.user, alert=self.get_object(), note=serializer.validated_data["note"]
        )
        return Response(AlertSerializer(alert).data)


class NotificationSerializer(serializers.ModelSerializer):
    clinic = serializers.SlugRelatedField(slug_field="code", read_only=True)
    resent_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    appointment = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "clinic",
            "kind",
            "recipient",
            "recipient_role",
            "email",
            "subject",
            "pump",
            "appointment",
            "alert",
            "due_at",
            "status",
            "status_reason",
            "attempts",
            "next_attempt_at",
            "last_error",
            "sent_at",
            "message_id",
            "created_at",
            "resent_at",
            "resent_by",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "integer", "readOnly": True, "nullable": True})
    def get_appointment(self, row) -> int | None:
        """The appointment a reminder is about (its subject ``appointment:<id>``)."""
        return appointment_of(row.subject)


def _subject(kind: str, ident: int | None) -> str | None:
    return None if ident is None else f"{kind}:{ident}"


def appointment_of(subject: str) -> int | None:
    kind, _, ident = subject.partition(":")
    return int(ident) if kind == "appointment" and ident.isdigit() else None


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    """The outbox of the user's clinics, by due time. Filters: ``clinic``, ``status``,
    ``kind``, ``pump``, ``appointment``, ``alert``."""

    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()  # for the schema; get_queryset scopes

    def get_queryset(self):
        queryset = Notification.objects.filter(clinic__in=clinics_of(self.request.user)).select_related(
            "clinic", "resent_by"
        )
        query = Query(self.request.query_params)
        filters = {
            "clinic": ("clinic__code", query.code),
            "status": ("status", query.text),
            "kind": ("kind", query.text),
            "pump": ("pump_id", query.integer),
            "appointment": ("subject", lambda name: _subject("appointment", query.integer(name))),
            "alert": ("alert_id", query.integer),
        }
        queryset = query.filtered(queryset, filters)
        return queryset.order_by("-due_at", "-pk")

    @extend_schema(
        parameters=[
            OpenApiParameter("status", enum=NotificationStatus.values),
            OpenApiParameter("kind", enum=NotificationKind.values),
            OpenApiParameter("pump", int),
            OpenApiParameter("appointment", int),
            OpenApiParameter("alert", int),
            OpenApiParameter("clinic", str),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        row = delivery.notification_resend(actor=request.user, notification=self.get_object())
        return Response(NotificationSerializer(row).data)
