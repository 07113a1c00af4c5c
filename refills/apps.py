from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class RefillsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "refills"

    def ready(self):
        from simple_history.signals import post_create_historical_record

        from patients.models import Clinic, ClinicClosure

        from . import scheduling
        from .data_version import history_written

        # Every audited write is a change of what its clinic's worklist pages show.
        post_create_historical_record.connect(history_written, dispatch_uid="data-version")
        # LRA-5: a day that stops being a working day is re-planned at once.
        for model in (Clinic, ClinicClosure):
            post_save.connect(
                scheduling.clinic_calendar_changed, sender=model, dispatch_uid=f"calendar-{model.__name__}"
            )
        post_delete.connect(
            scheduling.clinic_calendar_changed, sender=ClinicClosure, dispatch_uid="calendar-closure-deleted"
        )
        # ALERT-1: state alerts are worded from the pump's current dates when shown or sent.
        scheduling.register_alert_texts()
