from django.apps import AppConfig


class RefillsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "refills"

    def ready(self):
        from simple_history.signals import post_create_historical_record

        from . import worklist

        # Every audited write counts as a change of what worklist pages show.
        post_create_historical_record.connect(
            lambda **kwargs: worklist.data_changed(), weak=False, dispatch_uid="worklist-data-changed"
        )
