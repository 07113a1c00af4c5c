"""A demo clinic with staff, patients, pumps and therapy records, dated relative to today
so the worklist always has someone due. Every record goes through the services, so the
projections, histories and checks are the real ones. Each past record is entered as of
its own time (``pumpcare.clock.replaying``): the alerts the services raise then are those
of the pump as it was, so loading leaves no alert raised and resolved a moment later for
a state no pump was ever in (a "past empty" for the gap between two fills). Safe to run
twice.

Its logins have a password published in the README, so they are ordinary staff of the
demo clinic, never superusers nor Django admin staff (a superuser is an operator of the
whole installation): the demo ``admin`` is the DEMO clinic's admin and nothing more. The
command refuses to run with DEBUG off (an installation in production) unless told
``--allow-production``. The catalog values it fills in are written by the operator who
runs it (no user), and only where the catalog leaves them empty."""

from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import models, transaction
from django.utils import timezone

from cards.services import card_settings_update
from patients.models import CatheterModel, Clinic, PumpModel
from patients.services import (
    caregiver_create,
    catalog_update,
    clinic_create,
    patient_create,
    pump_create,
    save_audited,
    staff_create,
)
from pumpcare import clock
from refills.selectors import reservoir_state
from refills.services import prescription_create, refill_record
from therapy import volume_at
from therapy.units import VOLUME_ML, rounded

DEMO_CODE = "DEMO"
DEMO_PASSWORD = "demo-pass-2026"
DEMO_LOGINS = ("nurse", "physician", "staff", "admin")  # each with the role of its name
DEMO_ONLY = "demo only — verify against labeling"
# PUMP-3: values not confirmed from labeling, for the demo clinic only (the shipped catalog
# leaves them empty). Pathway volume (min, max) in mL per pump model; catheter mL per cm.
DEMO_PATHWAY_ML = [
    ("13827", "0.260", "0.300"),
    ("16827", "0.260", "0.300"),
    ("8637-20", "0.200", "0.260"),
    ("8637-40", "0.200", "0.260"),
]
DEMO_CATHETER_ML_PER_CM = [("8709SC", "0.0022"), ("8731SC", "0.0022"), ("8780", "0.0022"), ("8781", "0.0022")]

PATIENTS = [
    # mrn, given, family, birth, origin, pump model, catheter, length, days since the last refill, volume, conc, prescription
    (
        "D-1001",
        "Ada",
        "Moreno",
        date(1979, 3, 14),
        "spinal",
        "8637-20",
        "8709SC",
        52,
        30,
        20,
        500,
        {"mode": "simple_continuous", "daily_dose_mcg": 250},
    ),
    (
        "D-1002",
        "Ben",
        "Okafor",
        date(1990, 7, 2),
        "cerebral",
        "8637-40",
        "8731SC",
        48,
        60,
        40,
        1000,
        {
            "mode": "flex",
            "steps": [
                {"start": "00:00", "dose_mcg_per_hour": 12},
                {"start": "07:00", "dose_mcg_per_hour": 20},
                {"start": "22:00", "dose_mcg_per_hour": 12},
            ],
        },
    ),
    (
        "D-1003",
        "Chloe",
        "Nguyen",
        date(2012, 11, 20),
        "cerebral",
        "13827",
        "11823",
        60,
        20,
        20,
        500,
        {
            "mode": "periodic_bolus",
            "basal_daily_dose_mcg": 150,
            "boluses": [
                {"time": "08:00", "dose_mcg": 25, "duration_minutes": 30},
                {"time": "20:00", "dose_mcg": 25, "duration_minutes": 30},
            ],
        },
    ),
    (
        "D-1004",
        "Dev",
        "Patel",
        date(1968, 1, 9),
        "spinal",
        "16827",
        "11823",
        58,
        45,
        40,
        2000,
        {"mode": "simple_continuous", "daily_dose_mcg": 800},
    ),
    (
        "D-1005",
        "Eva",
        "Lindqvist",
        date(1985, 9, 30),
        "spinal",
        "8637-20",
        "8780",
        50,
        5,
        18,
        500,
        {"mode": "simple_continuous", "daily_dose_mcg": 180},
    ),
]


class Command(BaseCommand):
    help = "Load the demo clinic DEMO (staff logins nurse/physician/staff/admin, password demo-pass-2026)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="load the demo even with DEBUG off (its logins' password is public)",
        )

    @transaction.atomic
    def handle(self, *args, **options):
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "Refusing to load the demo clinic: DEBUG is off, so this looks like an installation "
                f"in use, and the demo logins' password ({DEMO_PASSWORD}) is published in the README. "
                "Run it with DEBUG=1 on a development copy, or add --allow-production if you mean it."
            )
        if Clinic.objects.filter(code=DEMO_CODE).exists():
            self.stdout.write("The demo clinic DEMO is already loaded.")
            self._no_superusers()
            return
        clinic = clinic_create(
            code=DEMO_CODE,
            name="Demo Neuromodulation Clinic",
            timezone_name="America/New_York",
            emergency_phone="+1 555 0100",
        )
        # Where the demo's reminders and escalations go (the console in `make run`).
        clinic.phone = "+1 555 0123"
        clinic.address = "200 Harbour Road, Springfield"
        clinic.on_call_email = "oncall@demo-clinic.example"
        clinic.staff_email = "nurses@demo-clinic.example"
        save_audited(clinic, actor=None, reason="demo clinic contact settings")
        users = {}
        for role in DEMO_LOGINS:
            users[role], _ = staff_create(username=role, clinic=clinic, role=role, password=DEMO_PASSWORD)
        admin = users["admin"]  # the DEMO clinic's admin role only (see the docstring)
        # CARD-1: a card prints the patient's physician, else the clinic's default one.
        card_settings_update(
            actor=admin,
            clinic=clinic,
            changes={"default_physician": "Dr. Ana Rivera (demo)", "paper_size": "letter"},
            reason="demo clinic card settings",
        )
        # PUMP-3: the shipped catalog leaves unconfirmed volumes empty; the demo fills them,
        # marked as demo values, so that a concentration change (a bridge bolus, BRIDGE-2)
        # can be shown on every demo pump: the Prometra pathway volumes of DOMAIN.md's worked
        # example, and values for the SynchroMed II pathway and the Medtronic catheters.
        for code, low, high in DEMO_PATHWAY_ML:
            model = PumpModel.objects.get(code=code)
            if model.pathway_volume_min_ml is not None or model.pathway_volume_max_ml is not None:
                continue  # a value a platform admin configured is not the demo's to replace
            catalog_update(
                actor=None,
                entry=model,
                changes={
                    "pathway_volume_min_ml": low,
                    "pathway_volume_max_ml": high,
                    "source": model.source + f"\npathway_volume_min_ml / pathway_volume_max_ml: {DEMO_ONLY}",
                },
                reason=f"demo data: {DEMO_ONLY}",
            )
        for code, per_cm in DEMO_CATHETER_ML_PER_CM:
            catheter = CatheterModel.objects.get(code=code)
            if catheter.volume_ml_per_cm is not None:
                continue  # a value a platform admin configured is not the demo's to replace
            kept = [line for line in catheter.source.splitlines() if not line.startswith("volume_ml_per_cm:")]
            catalog_update(
                actor=None,
                entry=catheter,
                changes={
                    "volume_ml_per_cm": per_cm,
                    "source": "\n".join([*kept, f"volume_ml_per_cm: {DEMO_ONLY}"]),
                },
                reason=f"demo data: {DEMO_ONLY}",
            )
        now = timezone.now().replace(second=0, microsecond=0)
        nurse, physician = users["nurse"], users["physician"]
        for row in PATIENTS:
            mrn, given, family, born, origin, model, catheter, length, days, volume, conc, plan = row
            patient = patient_create(
                actor=nurse,
                clinic=clinic,
                mrn=mrn,
                given_name=given,
                family_name=family,
                birth_date=born,
                spasticity_origin=origin,
                email=f"{given.lower()}.{family.lower()}@example.org",
                phone="+1 555 0142",
                communication_consent=True,
            )
            caregiver_create(
                actor=nurse,
                patient=patient,
                name=f"Sam {family}",
                relation="spouse" if born.year < 2000 else "parent",
                email=f"sam.{family.lower()}@example.org",
                communication_consent=True,
            )
            pump = pump_create(
                actor=nurse,
                patient=patient,
                model=PumpModel.objects.get(code=model),
                serial_number=f"DEMO-{mrn[2:]}",
                implanted_on=(now - timedelta(days=days + 40)).date(),
                catheter_model=CatheterModel.objects.get(code=catheter),
                catheter_length_cm=length,
            )
            first_fill = now - timedelta(days=days + 35)
            with clock.replaying(first_fill):
                refill_record(
                    actor=nurse,
                    pump=pump,
                    performed_at=first_fill,
                    volume_withdrawn_ml=0,
                    volume_added_ml=volume,
                    concentration_mcg_per_ml=conc,
                    prescription=plan,
                    reason="first fill after implant",
                )
            # The last refill withdraws exactly the projected residual (no discrepancy).
            refilled = now - timedelta(days=days)
            with clock.replaying(refilled):
                refill_record(
                    actor=nurse,
                    pump=pump,
                    performed_at=refilled,
                    volume_withdrawn_ml=rounded(volume_at(reservoir_state(pump), refilled), VOLUME_ML),
                    volume_added_ml=volume,
                    concentration_mcg_per_ml=conc,
                    prescription=plan,
                    lot_number=f"LOT-{refilled:%y%m%d}",
                    reason="scheduled refill",
                )
        ada = clinic.patients.get(mrn="D-1001").pumps.get()
        changed = now - timedelta(days=10)
        with clock.replaying(changed):
            prescription_create(
                actor=physician,
                pump=ada,
                effective_at=changed,
                prescription={"mode": "simple_continuous", "daily_dose_mcg": 275},
                reason="titration: spasticity at night",
            )
        self.stdout.write(
            f"Loaded the demo clinic DEMO: {len(PATIENTS)} patients; logins nurse, physician, staff, admin "
            f"(password {DEMO_PASSWORD})."
        )

    def _no_superusers(self) -> None:
        """A demo loaded by an earlier version made its ``admin`` a superuser: undo that."""
        for user in (
            get_user_model()
            .objects.filter(memberships__clinic__code=DEMO_CODE, username__in=DEMO_LOGINS)
            .filter(models.Q(is_superuser=True) | models.Q(is_staff=True))
        ):
            user.is_superuser = user.is_staff = False
            user.save()
            self.stdout.write(
                f"The demo login {user.username} is no longer a superuser nor Django admin staff."
            )
