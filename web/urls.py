from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.decorators.http import require_http_methods

from .views import (
    alerts,
    appointments,
    cards,
    clinic,
    corrections,
    device,
    drift,
    home,
    implant,
    lifecycle,
    medications,
    pump,
    refill,
    registry,
    screening,
    timeline,
    transfers,
    worklist,
)

app_name = "web"

urlpatterns = [
    path("", home.home, name="home"),
    # A login page shows the form and logs in: Django's view also took a PUT as a login and,
    # for a logged-in user, redirected any method.
    path(
        "login/",
        require_http_methods(["GET", "HEAD", "POST"])(
            auth_views.LoginView.as_view(template_name="web/login.html", redirect_authenticated_user=True)
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("clinics/switch/", home.switch_clinic, name="switch-clinic"),
    path("clinics/<code:code>/worklist/", worklist.worklist_page, name="worklist"),
    path("clinics/<code:code>/alerts/", worklist.clinic_alerts, name="alerts"),
    path("clinics/<code:code>/drift/", drift.drift_page, name="drift"),
    path("clinics/<code:code>/settings/", clinic.clinic_settings, name="clinic-settings"),
    path("clinics/<code:code>/transfers/", transfers.transfers_page, name="transfers"),
    path("clinics/<code:code>/closures/", clinic.closure_add, name="clinic-closure-add"),
    path(
        "clinics/<code:code>/closures/<str:day>/remove/", clinic.closure_remove, name="clinic-closure-remove"
    ),
    path("clinics/<code:code>/registry/", registry.registry_page, name="registry"),
    path("clinics/<code:code>/registry.<str:kind>", registry.registry_download, name="registry-download"),
    path(
        "clinics/<code:code>/registry-template.<str:kind>",
        registry.registry_template,
        name="registry-template",
    ),
    path("pumps/<int:pump_id>/", pump.pump_page, name="pump"),
    path("clinics/<code:code>/stale-cards.pdf", cards.stale_cards, name="stale-cards"),
    path("pumps/<int:pump_id>/card.pdf", cards.pump_card, name="pump-card"),
    path("pumps/<int:pump_id>/refill/", refill.refill_form, name="refill"),
    path("pumps/<int:pump_id>/void/", corrections.void_entry, name="void-entry"),
    path("pumps/<int:pump_id>/refill/preview/", refill.refill_preview, name="refill-preview"),
    path("pumps/<int:pump_id>/device/", device.device_page, name="pump-device"),
    path("pumps/<int:pump_id>/replace/", lifecycle.pump_replace, name="pump-replace"),
    path("pumps/<int:pump_id>/explant/", lifecycle.pump_explant, name="pump-explant"),
    path("patients/<int:patient_id>/screening/", screening.screening_page, name="screening"),
    path("patients/<int:patient_id>/timeline/", timeline.timeline_page, name="timeline"),
    path(
        "pumps/<int:pump_id>/implant-monitoring/", implant.implant_monitoring_page, name="implant-monitoring"
    ),
    path("patients/<int:patient_id>/medications/", medications.medications_page, name="medications"),
    path("patients/<int:patient_id>/risk-flags/", medications.risk_flags, name="risk-flags"),
    path("oral-medications/<int:medication_id>/stop/", medications.medication_stop, name="medication-stop"),
    path("oral-medications/<int:medication_id>/weaning-plan/", medications.weaning_plan, name="weaning-plan"),
    path("weaning-plans/<int:plan_id>/edit/", medications.weaning_plan_edit, name="weaning-plan-edit"),
    path("weaning-steps/<int:step_id>/done/", medications.weaning_step_done, name="weaning-step-done"),
    path("pumps/<int:pump_id>/appointments/new/", appointments.appointment_new, name="appointment-new"),
    path("appointments/<int:appointment_id>/book/", appointments.appointment_book, name="appointment-book"),
    path(
        "appointments/<int:appointment_id>/cancel/",
        appointments.appointment_cancel,
        name="appointment-cancel",
    ),
    path("alerts/<int:alert_id>/acknowledge/", alerts.alert_ack, name="alert-ack"),
]
