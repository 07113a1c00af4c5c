"""``export_pumps --clinic CODE FILE.csv|FILE.xlsx``: the clinic's whole registry in the
import's columns (``exchange.exports``)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exchange.exports import registry_export
from exchange.spreadsheet import FileRefused, file_format
from patients.models import Clinic


class Command(BaseCommand):
    help = "Export a clinic's pumps to a CSV or XLSX spreadsheet that import_pumps reads back unchanged."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--clinic", required=True, help="clinic code")

    def handle(self, *args, **options):
        clinic = Clinic.objects.filter(code=options["clinic"]).first()
        if clinic is None:
            raise CommandError(f"no clinic with code {options['clinic']!r}")
        path = Path(options["file"])
        try:
            kind = file_format(path.name)
        except FileRefused as error:
            raise CommandError(str(error)) from error
        path.write_bytes(registry_export(clinic, kind))
        self.stdout.write(f"{clinic.code}: registry written to {path}")
