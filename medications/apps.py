from django.apps import AppConfig


class MedicationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "medications"
    verbose_name = "Oral medications and weaning"

    def ready(self):
        from .timeline import register_timeline

        # Oral courses, weaning plans and the steps ticked off on the patient's timeline.
        register_timeline()
