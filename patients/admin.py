"""Admin for clinics, staff memberships, users, patients, pumps and catalogs; every page
shows its history (django-simple-history's "History" button) with who and why."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from simple_history.admin import SimpleHistoryAdmin

from .models import (
    Caregiver,
    CatheterModel,
    Clinic,
    ClinicClosure,
    Drug,
    Patient,
    Pump,
    PumpModel,
    StaffMembership,
)
from .services import catalog_update


class ClosureInline(admin.TabularInline):
    model = ClinicClosure
    extra = 0


class MembershipInline(admin.TabularInline):
    model = StaffMembership
    extra = 0


@admin.register(Clinic)
class ClinicAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "timezone", "emergency_phone", "safety_margin_days"]
    search_fields = ["code", "name"]
    inlines = [ClosureInline, MembershipInline]


@admin.register(StaffMembership)
class StaffMembershipAdmin(SimpleHistoryAdmin):
    list_display = ["user", "clinic", "role"]
    list_filter = ["role", "clinic"]
    search_fields = ["user__username", "clinic__code"]
    autocomplete_fields = ["user"]


class CaregiverInline(admin.TabularInline):
    model = Caregiver
    extra = 0


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    list_display = [
        "mrn",
        "family_name",
        "given_name",
        "clinic",
        "spasticity_origin",
        "communication_consent",
    ]
    list_filter = ["clinic", "spasticity_origin"]
    search_fields = ["mrn", "family_name", "given_name"]
    inlines = [CaregiverInline]

    def has_delete_permission(self, request, obj=None):
        # Deleting a patient deletes their pumps and therapy record (TITRATE-2, audit).
        return False


@admin.register(Pump)
class PumpAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "patient", "implanted_on", "status", "eri_on"]
    list_filter = ["status", "model", "patient__clinic"]
    search_fields = ["serial_number", "patient__mrn", "patient__family_name"]
    raw_id_fields = ["patient"]
    # TITRATE-2: an explant stops or moves the therapy; it is recorded through the API's
    # replace and explant actions (prescriber override, alert), never edited here.
    readonly_fields = ["status", "explanted_on"]

    def has_delete_permission(self, request, obj=None):
        # Deleting a pump (one at a time or with the bulk action) would stop its projection,
        # proposals and alerts without a discontinuation: never from here (TITRATE-2).
        return False


class CatalogAdmin(SimpleHistoryAdmin):
    """The shared catalogs: Django's model permissions make them the platform role's
    (``patients.permissions``). A change goes through ``catalog_update``, like the API's: it
    is audited with its reason and recomputes, in the same transaction, the projections of
    every clinic's pumps it moves."""

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        entry = type(obj).objects.get(pk=obj.pk)
        catalog_update(actor=request.user, entry=entry, changes=changes, reason="changed in the Django admin")


@admin.register(PumpModel)
class PumpModelAdmin(CatalogAdmin):
    list_display = [
        "code",
        "manufacturer",
        "name",
        "reservoir_ml",
        "low_reservoir_alarm_ml",
        "accuracy_tolerance_pct",
        "pathway_volume_min_ml",
        "pathway_volume_max_ml",
        "service_life_months",
    ]
    readonly_fields = ["code"]


@admin.register(CatheterModel)
class CatheterModelAdmin(CatalogAdmin):
    list_display = ["code", "manufacturer", "name", "volume_ml_per_cm"]
    readonly_fields = ["code"]


@admin.register(Drug)
class DrugAdmin(CatalogAdmin):
    list_display = ["code", "name", "starting_concentration_mcg_per_ml", "max_reservoir_days"]
    readonly_fields = ["code"]


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class AuditedUserAdmin(UserAdmin, SimpleHistoryAdmin):
    inlines = [MembershipInline]


admin.site.site_header = "pumpcare administration"
