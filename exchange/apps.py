from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    """Records exchanged with other systems: a patient's record as an HL7 FHIR R4 Bundle."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "exchange"
