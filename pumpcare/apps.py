from django.apps import AppConfig


class PumpcareConfig(AppConfig):
    """The project's own app: project-wide commands (``loaddemo``, ``run_daily_jobs``) and
    the data version that pages are cached by."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "pumpcare"
    verbose_name = "pumpcare"

    def ready(self):
        from simple_history.signals import post_create_historical_record

        from .data_version import history_written

        # Every audited write is a change of what its clinic's pages show.
        post_create_historical_record.connect(history_written, dispatch_uid="data-version")
