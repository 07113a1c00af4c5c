from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Alert


@admin.register(Alert)
class AlertAdmin(SimpleHistoryAdmin):
    list_display = ["raised_at", "clinic", "pump", "kind", "severity", "acknowledged_at"]
    list_filter = ["severity", "kind", "clinic"]
    readonly_fields = ["clinic", "pump", "kind", "severity", "message", "raised_at", "raised_by"]
