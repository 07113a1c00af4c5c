from django.apps import AppConfig


class CardsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cards"
    verbose_name = "Emergency cards"

    def ready(self):
        from .notices import register_planner

        # REFILL-4: the outbox asks the stale-card notice's planner whether it is still due.
        register_planner()
