from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from patients.services import clinic_create


class Command(BaseCommand):
    help = "Create a clinic: createclinic CODE --name NAME --timezone TZ --emergency-phone PHONE"

    def add_arguments(self, parser):
        parser.add_argument("code", help="short unique code, capital letters and digits (e.g. NEURO1)")
        parser.add_argument("--name", required=True)
        parser.add_argument("--timezone", required=True, help="IANA time zone, e.g. Europe/Paris")
        parser.add_argument("--emergency-phone", required=True, help="the clinic's 24/7 emergency phone")

    def handle(self, *args, **options):
        try:
            clinic = clinic_create(
                code=options["code"],
                name=options["name"],
                timezone_name=options["timezone"],
                emergency_phone=options["emergency_phone"],
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
            ) from error
        self.stdout.write(f"Created clinic {clinic.code} ({clinic.name}, {clinic.timezone})")
