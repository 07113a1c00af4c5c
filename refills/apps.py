from django.apps import AppConfig


class RefillsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "refills"

    def ready(self):
        from patients.signals import projection_inputs_changed

        from .projections import inputs_changed
        from .signals import projections_marked_stale
        from .tasks import on_projections_marked_stale
        from .timeline import register_timeline

        # A clinic, pump or catalog edit recomputes the projections it affects, in its transaction.
        projection_inputs_changed.connect(inputs_changed, dispatch_uid="projections-inputs")
        # ... or, when many pumps read it, marks them stale: the workers recompute them.
        projections_marked_stale.connect(on_projections_marked_stale, dispatch_uid="projections-stale")
        # The screening trial, the implant, refills, prescriptions and the end of a pump's
        # therapy on the patient's timeline.
        register_timeline()
