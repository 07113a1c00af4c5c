"""The platform operator moves a patient, with their pumps and whole record, to another
clinic in one step (``exchange.transfers``: the same service the clinics' admins use)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.exceptions import PermissionDenied

import therapy
from exchange.transfers import transfer_request
from patients.models import Clinic, Patient


class Command(BaseCommand):
    help = "Move a patient (by clinic and MRN) to another clinic, as the platform's operator (a superuser)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--from", dest="from_clinic", required=True, help="the code of the patient's clinic"
        )
        parser.add_argument("--mrn", required=True)
        parser.add_argument("--to", dest="to_clinic", required=True, help="the code of the clinic they join")
        parser.add_argument("--reason", required=True)
        parser.add_argument("--operator", required=True, help="the username of the superuser doing it")

    def handle(self, *args, **options):
        try:
            operator = get_user_model().objects.get(username=options["operator"], is_superuser=True)
            patient = Patient.objects.get(clinic__code=options["from_clinic"], mrn=options["mrn"])
            to_clinic = Clinic.objects.get(code=options["to_clinic"])
        except (Patient.DoesNotExist, Clinic.DoesNotExist, get_user_model().DoesNotExist) as error:
            raise CommandError(f"not found: {error}") from error
        try:
            transfer = transfer_request(
                actor=operator, patient=patient, to_clinic=to_clinic, reason=options["reason"]
            )
        except (therapy.CalculationError, PermissionDenied) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{patient} moved from {transfer.from_clinic.code} to {transfer.to_clinic.code}.")
