"""The management commands that set up a deployment: createclinic and createstaff."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from patients.models import Clinic, StaffMembership
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def clinic(code="NEURO1", timezone="America/New_York"):
    return run(
        "createclinic",
        code,
        "--name",
        "Neuro One",
        "--timezone",
        timezone,
        "--emergency-phone",
        "+1 555 0100",
    )


def test_createclinic():
    output = clinic()
    assert "NEURO1" in output
    created = Clinic.objects.get(code="NEURO1")
    assert created.name == "Neuro One"
    assert created.timezone == "America/New_York"
    assert created.emergency_phone == "+1 555 0100"
    assert created.safety_margin_days == 7  # LRA-4 default
    assert created.working_days == [1, 2, 3, 4, 5]
    assert created.history.get().history_change_reason == "clinic created"


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "EST5", "new york", ""])
def test_createclinic_refuses_a_bad_time_zone(timezone):
    with pytest.raises(CommandError, match="timezone"):
        clinic(timezone=timezone)
    assert not Clinic.objects.exists()


@pytest.mark.parametrize("code", ["neuro1", "NE URO", "-X"])
def test_createclinic_refuses_a_bad_code(code):
    with pytest.raises(CommandError, match="code"):
        clinic(code=code)
    assert not Clinic.objects.exists()


def test_createclinic_refuses_a_duplicate_code():
    clinic()
    with pytest.raises(CommandError, match="code"):
        clinic()
    assert Clinic.objects.count() == 1


def test_createclinic_needs_its_options():
    with pytest.raises(CommandError):
        run("createclinic", "NEURO1", "--name", "Neuro One")


def test_createstaff_prints_a_token_that_authenticates():
    clinic()
    output = run("createstaff", "alice", "--clinic", "NEURO1", "--role", "nurse")
    last = output.strip().splitlines()[-1]
    token = last.split()[-1]
    user = get_user_model().objects.get(username="alice")
    assert user.auth_token.key == token
    assert not user.has_usable_password()  # API token only
    assert StaffMembership.objects.get(user=user).role == "nurse"
    # The token authenticates against the API.
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.get("/api/v1/clinics/")
    assert response.status_code == 200
    assert [c["code"] for c in response.json()["results"]] == ["NEURO1"]


def test_createstaff_with_a_password():
    clinic()
    run(
        "createstaff",
        "bob",
        "--clinic",
        "NEURO1",
        "--role",
        "physician",
        "--password",
        "Long-pass-123",
        "--email",
        "b@example.org",
    )
    user = get_user_model().objects.get(username="bob")
    assert user.check_password("Long-pass-123")
    assert user.email == "b@example.org"


def test_createstaff_gives_an_existing_user_a_role_and_keeps_the_token():
    clinic()
    clinic(code="NEURO2")
    first = run("createstaff", "carol", "--clinic", "NEURO1", "--role", "nurse").strip().splitlines()[-1]
    second = run("createstaff", "carol", "--clinic", "NEURO2", "--role", "admin").strip().splitlines()[-1]
    assert first == second
    roles = dict(StaffMembership.objects.filter(user__username="carol").values_list("clinic__code", "role"))
    assert roles == {"NEURO1": "nurse", "NEURO2": "admin"}
    # Run again: the role at a clinic changes, no second membership.
    run("createstaff", "carol", "--clinic", "NEURO1", "--role", "physician")
    assert StaffMembership.objects.get(user__username="carol", clinic__code="NEURO1").role == "physician"
    assert StaffMembership.objects.filter(user__username="carol").count() == 2


def test_createstaff_refuses_an_unknown_clinic():
    with pytest.raises(CommandError, match="NOPE"):
        run("createstaff", "dave", "--clinic", "NOPE", "--role", "nurse")
    assert not get_user_model().objects.filter(username="dave").exists()


def test_createstaff_refuses_an_unknown_role():
    clinic()
    with pytest.raises(CommandError):
        run("createstaff", "erin", "--clinic", "NEURO1", "--role", "surgeon")
    assert not get_user_model().objects.filter(username="erin").exists()
