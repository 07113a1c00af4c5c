from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, register_converter
from django.views.decorators.http import require_http_methods
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from alerts.api import AlertViewSet, NotificationViewSet
from devices.api import MriCancelView, MriDetailView, MriEmptyingView, PumpInterrogationsView, PumpMrisView
from exchange.api import (
    PatientFhirView,
    PatientTransfersView,
    TransferAcceptView,
    TransferDeclineView,
    TransferListView,
)
from medications.api import (
    OralDrugViewSet,
    OralMedicationStopView,
    PatientMedicationsView,
    PatientRiskFlagsView,
    WeaningPlanEditView,
    WeaningPlanView,
    WeaningStepDoneView,
)
from patients.api import (
    CaregiverViewSet,
    CatheterModelViewSet,
    ClinicViewSet,
    DrugViewSet,
    PatientViewSet,
    PumpModelViewSet,
    PumpViewSet,
)
from pumpcare import health
from pumpcare.inputs import CodeConverter, TokenConverter
from refills.api import (
    DeliveryDriftView,
    PatientScreeningTrialView,
    PrescriptionCorrectionView,
    PrescriptionVoidView,
    PumpAssessmentsView,
    PumpExplantView,
    PumpHistoryView,
    PumpImplantMonitoringView,
    PumpPrescriptionsView,
    PumpProjectionView,
    PumpRefillPreviewView,
    PumpRefillsView,
    PumpReplaceView,
    RefillCorrectionView,
    RefillVoidView,
    StartingDoseView,
)
from scheduling.api import (
    AppointmentViewSet,
    CalendarFeedViewSet,
    MriWorklistView,
    TitrationWorklistView,
    WorklistView,
    calendar_feed,
)

# Codes and tokens in paths: a control character or bidirectional override names nothing (404).
register_converter(CodeConverter, "code")
register_converter(TokenConverter, "token")

router = DefaultRouter()
router.register("clinics", ClinicViewSet, basename="clinic")
router.register("patients", PatientViewSet, basename="patient")
router.register("caregivers", CaregiverViewSet, basename="caregiver")
router.register("pumps", PumpViewSet, basename="pump")
router.register("catalog/pump-models", PumpModelViewSet, basename="pump-model")
router.register("catalog/catheter-models", CatheterModelViewSet, basename="catheter-model")
router.register("catalog/drugs", DrugViewSet, basename="drug")
router.register("catalog/oral-drugs", OralDrugViewSet, basename="oral-drug")
router.register("alerts", AlertViewSet, basename="alert")
router.register("notifications", NotificationViewSet, basename="notification")
router.register("appointments", AppointmentViewSet, basename="appointment")
router.register("calendar-feeds", CalendarFeedViewSet, basename="calendar-feed-admin")

api_v1 = [
    path("patients/<int:patient_id>/fhir/", PatientFhirView.as_view(), name="patient-fhir"),
    path("patients/<int:patient_id>/transfers/", PatientTransfersView.as_view(), name="patient-transfers"),
    path("transfers/", TransferListView.as_view(), name="transfer-list"),
    path("transfers/<int:transfer_id>/accept/", TransferAcceptView.as_view(), name="transfer-accept"),
    path("transfers/<int:transfer_id>/decline/", TransferDeclineView.as_view(), name="transfer-decline"),
    path("pumps/<int:pump_id>/refills/", PumpRefillsView.as_view(), name="pump-refills"),
    path("refills/<int:entry_id>/void/", RefillVoidView.as_view(), name="refill-void"),
    path("refills/<int:entry_id>/correction/", RefillCorrectionView.as_view(), name="refill-correction"),
    path("prescriptions/<int:entry_id>/void/", PrescriptionVoidView.as_view(), name="prescription-void"),
    path(
        "prescriptions/<int:entry_id>/correction/",
        PrescriptionCorrectionView.as_view(),
        name="prescription-correction",
    ),
    path("pumps/<int:pump_id>/refills/preview/", PumpRefillPreviewView.as_view(), name="pump-refill-preview"),
    path("pumps/<int:pump_id>/prescriptions/", PumpPrescriptionsView.as_view(), name="pump-prescriptions"),
    path("pumps/<int:pump_id>/projection/", PumpProjectionView.as_view(), name="pump-projection"),
    path("pumps/<int:pump_id>/history/", PumpHistoryView.as_view(), name="pump-history"),
    path("pumps/<int:pump_id>/replace/", PumpReplaceView.as_view(), name="pump-replace"),
    path("pumps/<int:pump_id>/explant/", PumpExplantView.as_view(), name="pump-explant"),
    path("pumps/<int:pump_id>/interrogations/", PumpInterrogationsView.as_view(), name="pump-interrogations"),
    path("pumps/<int:pump_id>/mris/", PumpMrisView.as_view(), name="pump-mris"),
    path("mris/<int:mri_id>/", MriDetailView.as_view(), name="mri-detail"),
    path("mris/<int:mri_id>/emptying/", MriEmptyingView.as_view(), name="mri-emptying"),
    path("mris/<int:mri_id>/cancel/", MriCancelView.as_view(), name="mri-cancel"),
    path(
        "pumps/<int:pump_id>/implant-monitoring/",
        PumpImplantMonitoringView.as_view(),
        name="pump-implant-monitoring",
    ),
    path("pumps/<int:pump_id>/assessments/", PumpAssessmentsView.as_view(), name="pump-assessments"),
    path("delivery-drift/", DeliveryDriftView.as_view(), name="delivery-drift"),
    path(
        "patients/<int:patient_id>/screening-trial/",
        PatientScreeningTrialView.as_view(),
        name="patient-screening-trial",
    ),
    path(
        "patients/<int:patient_id>/oral-medications/",
        PatientMedicationsView.as_view(),
        name="patient-oral-medications",
    ),
    path("patients/<int:patient_id>/risk-flags/", PatientRiskFlagsView.as_view(), name="patient-risk-flags"),
    path(
        "oral-medications/<int:medication_id>/stop/",
        OralMedicationStopView.as_view(),
        name="oral-medication-stop",
    ),
    path(
        "oral-medications/<int:medication_id>/weaning-plan/",
        WeaningPlanView.as_view(),
        name="oral-medication-weaning-plan",
    ),
    path("weaning-plans/<int:plan_id>/", WeaningPlanEditView.as_view(), name="weaning-plan-edit"),
    path("weaning-steps/<int:step_id>/done/", WeaningStepDoneView.as_view(), name="weaning-step-done"),
    path("calculations/starting-dose/", StartingDoseView.as_view(), name="starting-dose"),
    path("worklist/", WorklistView.as_view(), name="worklist"),
    path("worklist/titration/", TitrationWorklistView.as_view(), name="worklist-titration"),
    path("worklist/mri/", MriWorklistView.as_view(), name="worklist-mri"),
    path("", include("cards.urls")),
    path("", include(router.urls)),
]

# The browsable API's login and logout (rest_framework.urls), the login answering only what a
# login page means: Django's view also took a PUT as a login.
api_auth = (
    [
        path(
            "login/",
            require_http_methods(["GET", "HEAD", "POST"])(
                auth_views.LoginView.as_view(template_name="rest_framework/login.html")
            ),
            name="login",
        ),
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    ],
    "rest_framework",
)

# An unreachable database raised outside a view answers 503 too (pumpcare.outage).
handler500 = "pumpcare.outage.server_error"

urlpatterns = [
    # For the orchestrator: anyone may ask, nothing but "up" or "down" is said (pumpcare.health).
    path("health/live/", health.live, name="health-live"),
    path("health/ready/", health.ready, name="health-ready"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI and ReDoc from our own static files (drf-spectacular-sidecar); the split
    # view serves Swagger UI's start-up script as a file, so no inline script is needed.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api-auth/", include(api_auth)),
    path("calendar/<token:token>.ics", calendar_feed, name="calendar-feed"),
    path("", include("scheduling.confirm")),
    # The nurses' web app; its front page is the worklist of the user's clinic.
    path("", include("web.urls")),
]
