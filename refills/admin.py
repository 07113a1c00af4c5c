"""Refills and prescriptions are read in the admin (with history); they are recorded
through the API, where every clinical check runs."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Prescription, PumpExplant, Refill, ScreeningBolus, ScreeningTrial


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Refill)
class RefillAdmin(ReadOnlyHistoryAdmin):
    list_display = [
        "pump",
        "performed_at",
        "performed_by",
        "volume_added_ml",
        "concentration_mcg_per_ml",
        "discrepancy",
    ]
    list_filter = ["discrepancy", "pump__patient__clinic"]
    search_fields = ["pump__serial_number", "pump__patient__mrn"]


@admin.register(Prescription)
class PrescriptionAdmin(ReadOnlyHistoryAdmin):
    list_display = ["pump", "effective_at", "mode", "daily_dose_mcg", "prescriber", "reason"]
    list_filter = ["mode", "pump__patient__clinic"]
    search_fields = ["pump__serial_number", "pump__patient__mrn"]


@admin.register(PumpExplant)
class PumpExplantAdmin(ReadOnlyHistoryAdmin):
    list_display = ["pump", "explanted_on", "replaced_by", "recorded_by"]
    list_filter = ["pump__patient__clinic"]
    search_fields = ["pump__serial_number", "pump__patient__mrn"]


class ScreeningBolusInline(admin.TabularInline):
    model = ScreeningBolus
    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ScreeningTrial)
class ScreeningTrialAdmin(ReadOnlyHistoryAdmin):
    list_display = ["patient", "created_by"]
    search_fields = ["patient__mrn", "patient__family_name"]
    inlines = [ScreeningBolusInline]
