"""Run the nightly jobs once, now, in this process (the same services the beat schedule
runs through Celery)."""

from django.core.management.base import BaseCommand

from refills.projections import projections_refresh_all
from refills.scheduling import refill_proposals_run_all, replacement_planning_run_all


class Command(BaseCommand):
    help = "Run the nightly jobs once: refresh every stored projection, propose refills, plan replacements."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="recompute every projection, changed or not")

    def handle(self, *args, **options):
        result = projections_refresh_all(force=options["force"])
        self.stdout.write(
            f"projections: {result.checked} checked, {result.recomputed} recomputed, "
            f"{result.skipped_locked} skipped (being changed by another transaction)"
        )
        proposals = refill_proposals_run_all()
        self.stdout.write(
            f"refills: {proposals.proposed} appointments proposed, {proposals.no_slot} pumps without a slot (alerted)"
        )
        replacements = replacement_planning_run_all()
        self.stdout.write(
            f"replacements: {replacements.opened} planning tasks opened, {replacements.escalated} escalated"
        )
