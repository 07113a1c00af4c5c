"""Card endpoints, included under /api/v1/ (pumpcare/urls.py)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("card-texts", api.CardTextViewSet, basename="card-text")

urlpatterns = [
    path(
        "pumps/<int:pump_id>/emergency-card.pdf",
        api.PumpEmergencyCardPdfView.as_view(),
        name="emergency-card-pdf",
    ),
    path("pumps/<int:pump_id>/emergency-card/", api.PumpEmergencyCardView.as_view(), name="emergency-card"),
    path(
        "clinics/<code:code>/emergency-cards.pdf",
        api.ClinicEmergencyCardsPdfView.as_view(),
        name="clinic-emergency-cards-pdf",
    ),
    path(
        "clinics/<code:code>/card-settings/",
        api.ClinicCardSettingsView.as_view(),
        name="clinic-card-settings",
    ),
    path(
        "patients/<int:patient_id>/card-physician/",
        api.PatientCardPhysicianView.as_view(),
        name="patient-card-physician",
    ),
    *router.urls,
]
