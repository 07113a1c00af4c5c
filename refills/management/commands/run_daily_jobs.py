"""Run the nightly jobs once, now, in this process (the same services the beat schedule
runs through Celery)."""

from django.core.management.base import BaseCommand

from refills.projections import projections_refresh_all


class Command(BaseCommand):
    help = "Run the nightly jobs once: refresh every active pump's stored projection."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="recompute every projection, changed or not")

    def handle(self, *args, **options):
        result = projections_refresh_all(force=options["force"])
        self.stdout.write(
            f"projections: {result.checked} checked, {result.recomputed} recomputed, "
            f"{result.skipped_locked} skipped (being changed by another transaction)"
        )
