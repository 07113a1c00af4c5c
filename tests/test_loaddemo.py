"""``loaddemo`` on a shared installation: its logins' password is public, so none
of them is a superuser or Django admin staff — the demo ``admin`` is the DEMO clinic's admin
and reads and changes nothing of another clinic — and with DEBUG off it refuses to run
unless told ``--allow-production``."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from patients.models import Clinic, PumpModel
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def load(*args):
    out = io.StringIO()
    call_command("loaddemo", *args, stdout=out)
    return out.getvalue()


def test_with_debug_off_it_refuses_unless_told(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError) as refused:
        load()
    assert "DEBUG is off" in str(refused.value)
    assert "--allow-production" in str(refused.value)
    assert not Clinic.objects.filter(code="DEMO").exists()
    assert not get_user_model().objects.filter(username="admin").exists()


def test_with_debug_on_it_loads(settings):
    settings.DEBUG = True
    assert "Loaded the demo clinic DEMO" in load()


def test_the_demo_admin_is_a_clinic_admin_and_no_more(pump, outsider, other_clinic):
    from tests.factories import PatientFactory, PumpFactory

    away = PumpFactory(patient=PatientFactory(clinic=other_clinic))
    load("--allow-production")
    users = get_user_model().objects.filter(username__in=["nurse", "physician", "staff", "admin"])
    assert users.count() == 4
    assert not users.filter(is_superuser=True).exists()
    assert not users.filter(is_staff=True).exists()
    admin = users.get(username="admin")
    assert [(m.clinic.code, m.role) for m in admin.memberships.all()] == [("DEMO", "admin")]
    client = client_for(admin)
    # Another clinic's pumps answer 404, its patients are not listed.
    assert client.get(f"/api/v1/pumps/{pump.pk}/projection/").status_code == 404
    assert client.get(f"/api/v1/pumps/{away.pk}/").status_code == 404
    listed = client.get("/api/v1/patients/").json()
    listed = listed["results"] if isinstance(listed, dict) else listed
    assert {p["clinic"] for p in listed} == {"DEMO"}
    # The shared catalog: a set value, and one other clinics' pumps use, are not the demo admin's.
    tolerance = PumpModel.objects.get(code="8637-20").accuracy_tolerance_pct
    response = client.patch(
        "/api/v1/catalog/pump-models/8637-20/", {"accuracy_tolerance_pct": "0"}, format="json"
    )
    assert response.status_code == 403
    assert PumpModel.objects.get(code="8637-20").accuracy_tolerance_pct == tolerance


def test_a_demo_loaded_before_loses_its_superuser_and_keeps_configured_values(platform_admin):
    # A platform admin configured the Prometra II 20 mL pathway before the demo was loaded.
    response = client_for(platform_admin).patch(
        "/api/v1/catalog/pump-models/13827/",
        {"pathway_volume_min_ml": "0.25", "pathway_volume_max_ml": "0.29"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    load("--allow-production")
    model = PumpModel.objects.get(code="13827")
    assert (model.pathway_volume_min_ml, model.pathway_volume_max_ml) == (Decimal("0.250"), Decimal("0.290"))
    assert "demo only" not in model.source
    # The demo's own values went into the models no one had configured, by no user.
    synchromed = PumpModel.objects.get(code="8637-20")
    assert synchromed.pathway_volume_min_ml == Decimal("0.200")
    assert synchromed.history.latest().history_user is None
    # An earlier version made the demo admin a superuser: loading again undoes it.
    get_user_model().objects.filter(username="admin").update(is_superuser=True, is_staff=True)
    assert "no longer a superuser" in load("--allow-production")
    admin = get_user_model().objects.get(username="admin")
    assert not admin.is_superuser and not admin.is_staff
