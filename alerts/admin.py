from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from . import delivery
from .models import Alert, Notification


@admin.register(Alert)
class AlertAdmin(SimpleHistoryAdmin):
    list_display = ["raised_at", "clinic", "pump", "kind", "severity", "acknowledged_at", "resolved_at"]
    list_filter = ["severity", "kind", "clinic"]
    readonly_fields = [
        "clinic",
        "pump",
        "kind",
        "severity",
        "message",
        "raised_at",
        "raised_by",
        "resolved_at",
    ]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The outbox: what was sent, what waits, what failed and why; failed rows can be resent."""

    list_display = [
        "due_at",
        "clinic",
        "kind",
        "recipient_role",
        "recipient",
        "status",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "kind", "recipient_role", "clinic"]
    search_fields = ["recipient", "subject", "email", "message_id"]
    date_hierarchy = "due_at"
    actions = ["resend"]
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Send the selected notifications again")
    def resend(self, request, queryset):
        done = 0
        for row in queryset:
            try:
                delivery.notification_resend(actor=request.user, notification=row)
                done += 1
            except Exception as refused:  # noqa: BLE001 - reported to the admin user
                self.message_user(request, f"{row}: {refused}", messages.WARNING)
        self.message_user(request, f"{done} notification(s) queued to be sent again.")
