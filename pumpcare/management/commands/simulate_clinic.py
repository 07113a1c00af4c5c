"""Simulate a clinic using pumpcare, day by day, on the real services and periodic jobs, in a
fresh database (``simulation``: the world, the day loop, the report)."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from simulation import report
from simulation.run import Options, simulate


class Command(BaseCommand):
    help = "Simulate a clinic for a number of days on a travelling clock and report what happened."

    def add_arguments(self, parser):
        parser.add_argument("--pumps", type=int, default=2000)
        parser.add_argument("--days", type=int, default=365)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--report", metavar="DIR", help="write index.html and summary.json here")
        parser.add_argument("--capacity", type=float, default=1.0, help="refill slots relative to the demand")
        parser.add_argument("--no-show", type=float, default=0.03, help="fraction of bookings not attended")
        parser.add_argument(
            "--visit-no-show",
            type=float,
            default=Options.visit_no_show,
            help="fraction of titration visits and replacement surgeries not attended",
        )
        parser.add_argument("--holidays", action="store_true", help="add a two-week closure, announced ahead")
        parser.add_argument(
            "--start", type=date.fromisoformat, default=Options.start, help="first day (a Monday)"
        )

    def handle(self, *args, **options):
        if options["pumps"] < 1 or options["days"] < 1 or options["capacity"] <= 0:
            raise CommandError("--pumps and --days must be at least 1 and --capacity above 0")
        results = simulate(
            Options(
                pumps=options["pumps"],
                days=options["days"],
                seed=options["seed"],
                capacity=options["capacity"],
                no_show=options["no_show"],
                visit_no_show=options["visit_no_show"],
                holidays=options["holidays"],
                start=options["start"],
            )
        )
        self.stdout.write(report.text(results))
        if options["report"]:
            self.stdout.write(f"report: {report.write(results, options['report'])}")
