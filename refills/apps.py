from django.apps import AppConfig


class RefillsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "refills"

    def ready(self):
        from simple_history.signals import post_create_historical_record

        from .data_version import history_written

        # Every audited write is a change of what its clinic's worklist pages show.
        post_create_historical_record.connect(history_written, dispatch_uid="data-version")
