from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class SchedulingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "scheduling"

    def ready(self):
        from alerts.planners import STATE, register_pass
        from devices.signals import mri_follow_up_changed
        from patients.models import Clinic, ClinicClosure
        from refills import signals

        from . import appointments, mri, proposals, reminders, state_alerts, timeline

        # LRA-5: a day that stops being a working day is re-planned at once.
        for model in (Clinic, ClinicClosure):
            post_save.connect(
                proposals.clinic_calendar_changed, sender=model, dispatch_uid=f"calendar-{model.__name__}"
            )
        post_delete.connect(
            proposals.clinic_calendar_changed, sender=ClinicClosure, dispatch_uid="calendar-closure-deleted"
        )
        # What the therapy record does to appointments and pump-state alerts, in its transaction.
        signals.refill_recorded.connect(appointments.on_refill_recorded, dispatch_uid="appointments-refill")
        signals.refill_voided.connect(
            appointments.on_refill_voided, dispatch_uid="appointments-refill-voided"
        )
        signals.pump_retired.connect(appointments.on_pump_retired, dispatch_uid="appointments-retired")
        signals.visit_assessed.connect(appointments.on_visit_assessed, dispatch_uid="appointments-visit")
        signals.pump_projection_changed.connect(
            state_alerts.on_pump_projection_changed, dispatch_uid="state-alerts-pump"
        )
        signals.pump_projection_changed.connect(
            proposals.on_pump_projection_changed, dispatch_uid="late-booking-pump"
        )
        # MRI-1: an MRI, an interrogation or a refill moves the pump's MRI follow-up on.
        mri_follow_up_changed.connect(mri.on_mri_follow_up_changed, dispatch_uid="mri-follow-up")
        signals.refill_recorded.connect(mri.on_refill_recorded, dispatch_uid="mri-refill")
        # A voided refill after the scan leaves the follow-up it completed open again.
        signals.refill_voided.connect(mri.on_refill_voided, dispatch_uid="mri-refill-voided")
        register_pass(STATE, "mri_follow_ups", lambda: mri.mri_follow_ups_run_all().as_dict())
        # ALERT-1: state alerts are worded from the pump's current dates when shown or sent,
        # and raised or resolved by the periodic planning job before it plans messages.
        state_alerts.register_alert_texts()
        register_pass(STATE, "pump_states", lambda: state_alerts.state_alerts_run_all().as_dict())
        # ALERT-2: the outbox asks the reminders' planner whether a reminder is still due.
        reminders.register_planner()
        # Titration visits, replacement surgeries and missed appointments on the timeline.
        timeline.register_timeline()
