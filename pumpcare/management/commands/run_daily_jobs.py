"""Run the nightly jobs once, now, in this process (the same services the beat schedule
runs through Celery)."""

from django.core.management.base import BaseCommand

from alerts import outbox
from pumpcare.data_version import data_changes_prune
from refills.projections import projections_refresh_all
from scheduling import reminders
from scheduling.proposals import refill_proposals_run_all
from scheduling.replacements import replacement_planning_run_all
from scheduling.state_alerts import state_alerts_run_all


class Command(BaseCommand):
    help = (
        "Run the periodic jobs once: refresh every stored projection, propose refills, plan replacements, "
        "raise pump-state alerts and plan reminders and escalations (the worker delivers them)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="recompute every projection, changed or not")

    def handle(self, *args, **options):
        data_changes_prune()
        result = projections_refresh_all(force=options["force"])
        self.stdout.write(
            f"projections: {result.checked} checked, {result.recomputed} recomputed, "
            f"{result.skipped_locked} skipped (being changed by another transaction)"
        )
        proposals = refill_proposals_run_all()
        self.stdout.write(
            f"refills: {proposals.proposed} appointments proposed ({proposals.overdue} overdue, "
            f"{proposals.over_capacity} on a full day, alerted), {proposals.withdrawn} withdrawn, "
            f"{proposals.no_shows} passed bookings marked no-show, {proposals.no_slot} pumps without a "
            "working day (alerted)"
        )
        replacements = replacement_planning_run_all()
        self.stdout.write(
            f"replacements: {replacements.opened} planning tasks opened, {replacements.escalated} escalated"
        )
        states = state_alerts_run_all()
        self.stdout.write(f"alerts: {states.raised} raised, {states.resolved} resolved")
        self.stdout.write(
            f"notifications: reminders planned for {reminders.reminders_plan_all()} booked appointments, "
            f"{outbox.escalations_plan_all()} open alerts escalated"
        )
