"""factory_boy factories. Catalog rows come from the shipped data migration."""

import factory
from django.contrib.auth import get_user_model

from patients.models import CatheterModel, Clinic, Patient, Pump, PumpModel, StaffMembership


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Neuromodulation Clinic {n}")
    code = factory.Sequence(lambda n: f"C{n:03d}")
    timezone = "UTC"
    emergency_phone = "+1 555 0100"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "Pass-word-123!")

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = "nurse"


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    mrn = factory.Sequence(lambda n: f"MRN-{n:05d}")
    given_name = "Lee"
    family_name = factory.Sequence(lambda n: f"Hart{n}")
    birth_date = factory.Faker("date_between", start_date="-70y", end_date="-20y")
    spasticity_origin = "spinal"
    email = factory.LazyAttribute(lambda p: f"{p.mrn.lower()}@example.org")


class PumpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pump

    patient = factory.SubFactory(PatientFactory)
    model = factory.LazyFunction(lambda: PumpModel.objects.get(code="8637-20"))
    serial_number = factory.Sequence(lambda n: f"SN{n:06d}")
    implanted_on = factory.Faker("date_between", start_date="-3y", end_date="-1y")
    catheter_model = factory.LazyFunction(lambda: CatheterModel.objects.get(code="8709SC"))
    catheter_length_cm = 50
    low_reservoir_alarm_ml = factory.LazyAttribute(lambda p: p.model.low_reservoir_alarm_ml)
