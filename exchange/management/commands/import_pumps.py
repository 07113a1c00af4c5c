"""``import_pumps FILE.csv|FILE.xlsx --clinic CODE --user USERNAME [--dry-run] [--partial]
[--override-reason TEXT]``: a clinic's registry spreadsheet imported through the services
(``exchange.imports``); the report lists every row; progress goes to stderr."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.exceptions import PermissionDenied

from exchange.imports import registry_import
from exchange.spreadsheet import FileRefused, read
from patients.models import Clinic


class Command(BaseCommand):
    help = (
        "Import a clinic's pumps from a CSV or XLSX spreadsheet (columns in docs/import.md). "
        "Nothing is written unless every row passes, unless --partial."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--clinic", required=True, help="clinic code")
        parser.add_argument(
            "--user",
            required=True,
            help="the staff member the import is recorded as (a nurse, or a physician for overrides)",
        )
        parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
        parser.add_argument("--partial", action="store_true", help="keep the rows that pass")
        parser.add_argument(
            "--override-reason",
            default="",
            help="a physician's reason for importing established doses the titration rules would "
            "refuse at a first fill, e.g. 'migrated from the spreadsheet of CODE'",
        )

    def handle(self, *args, **options):
        clinic = Clinic.objects.filter(code=options["clinic"]).first()
        if clinic is None:
            raise CommandError(f"no clinic with code {options['clinic']!r}")
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']!r}")
        path = Path(options["file"])
        try:
            sheet = read(path.read_bytes(), path.name)
        except OSError as error:
            raise CommandError(f"{path} cannot be read: {error.strerror}") from error
        except FileRefused as error:
            raise CommandError(str(error)) from error

        def progress(done: int, total: int) -> None:
            if done == total or done % 50 == 0:
                self.stderr.write(f"\rrow {done} of {total}", ending="\n" if done == total else "")
                self.stderr.flush()

        try:
            report = registry_import(
                actor=user,
                clinic=clinic,
                sheet=sheet,
                source=path.name,
                dry_run=options["dry_run"],
                partial=options["partial"],
                override_reason=options["override_reason"],
                progress=progress,
            )
        except PermissionDenied as error:
            raise CommandError(str(error.detail)) from error
        for line in report.lines():
            self.stdout.write(line)
        if report.refused and not options["dry_run"] and not options["partial"]:
            raise CommandError(report.summary())
