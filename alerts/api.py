"""Alerts of the user's clinics (read). Acknowledgement and escalation come with the
reminders issue."""

from __future__ import annotations

from rest_framework import serializers, viewsets

from patients.permissions import clinics_of

from .models import Alert


class AlertSerializer(serializers.ModelSerializer):
    clinic = serializers.SlugRelatedField(slug_field="code", read_only=True)
    raised_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "clinic",
            "pump",
            "kind",
            "severity",
            "message",
            "raised_at",
            "raised_by",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledgement_note",
        ]
        read_only_fields = fields


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Filter with ``?clinic=CODE``, ``?pump=ID``, ``?open=1`` (not acknowledged)."""

    serializer_class = AlertSerializer
    queryset = Alert.objects.none()  # for the schema; get_queryset scopes

    def get_queryset(self):
        queryset = Alert.objects.filter(clinic__in=clinics_of(self.request.user)).select_related(
            "clinic", "raised_by", "acknowledged_by"
        )
        params = self.request.query_params
        if params.get("clinic"):
            queryset = queryset.filter(clinic__code=params["clinic"])
        if params.get("pump"):
            queryset = queryset.filter(pump_id=params["pump"])
        if params.get("open") in ("1", "true"):
            queryset = queryset.filter(acknowledged_at__isnull=True)
        return queryset
