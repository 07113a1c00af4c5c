from django.apps import AppConfig


class DevicesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "devices"
    verbose_name = "Pump interrogations and MRIs"

    def ready(self):
        from .timeline import register_timeline

        # Interrogations and MRIs on the patient's timeline.
        register_timeline()
