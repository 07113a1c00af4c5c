"""Admin for card settings, texts, patients' physicians and the record of issued cards
(read-only: a printed card is a fact)."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import CardSettings, CardText, IssuedCard, PatientPhysician


@admin.register(CardSettings)
class CardSettingsAdmin(SimpleHistoryAdmin):
    list_display = ["clinic", "paper_size", "date_format", "default_physician"]


@admin.register(CardText)
class CardTextAdmin(SimpleHistoryAdmin):
    list_display = ["pump_model", "drug", "clinic", "mri_note"]
    list_filter = ["clinic", "pump_model", "drug"]


@admin.register(PatientPhysician)
class PatientPhysicianAdmin(SimpleHistoryAdmin):
    list_display = ["patient", "name", "phone"]
    search_fields = ["patient__family_name", "patient__mrn", "name"]


@admin.register(IssuedCard)
class IssuedCardAdmin(SimpleHistoryAdmin):
    list_display = ["pump", "format", "issued_at", "issued_by", "digest"]
    list_filter = ["format"]
    readonly_fields = ["pump", "format", "issued_at", "issued_by", "data", "digest", "batch"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
