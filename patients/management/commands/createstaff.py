from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from patients.models import Clinic, Role
from patients.services import staff_create


class Command(BaseCommand):
    help = (
        "Create a staff user (or give an existing one a role) at a clinic. "
        "The last line printed is the user's API token."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--clinic", required=True, help="clinic code")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument(
            "--password", help="for the web login; without it the user has the API token only"
        )
        parser.add_argument("--email", default="")

    def handle(self, *args, **options):
        try:
            clinic = Clinic.objects.get(code=options["clinic"])
        except Clinic.DoesNotExist as error:
            raise CommandError(f"no clinic with code {options['clinic']!r}") from error
        try:
            user, token = staff_create(
                username=options["username"],
                clinic=clinic,
                role=options["role"],
                password=options["password"],
                email=options["email"],
            )
        except ValidationError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{user.username} is {options['role']} at {clinic.code}")
        self.stdout.write(f"API token: {token.key}")
