"""POST/GET/PATCH /api/v1/patients/: registration, the MRN per clinic, clinic scoping,
and the audit trail of a patient record."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from patients.models import Patient
from patients.services import save_audited
from tests.conftest import client_for
from tests.factories import PatientFactory
from tests.helpers import assert_refused

# Every test here uses the database, some through request.getfixturevalue, which
# pytest-django cannot see when it orders tests (transactional tests run last).
pytestmark = pytest.mark.django_db

URL = "/api/v1/patients/"


def payload(**overrides) -> dict:
    return {
        "clinic": "HOME",
        "mrn": "MRN-1001",
        "given_name": "Ada",
        "family_name": "Moreau",
        "birth_date": "1975-02-03",
        "spasticity_origin": "spinal",
        "email": "ada@example.org",
        "phone": "+1 555 0101",
    } | overrides


def counts() -> tuple[int, int]:
    return Patient.objects.count(), Patient.history.count()


def test_register_a_patient(api, clinic):
    response = api.post(URL, payload(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    patient = Patient.objects.get(pk=body["id"])
    assert body["clinic"] == "HOME"
    assert body["mrn"] == "MRN-1001"
    assert body["birth_date"] == "1975-02-03"
    assert body["pumps"] == [] and body["caregivers"] == []
    assert patient.clinic == clinic
    assert patient.email == "ada@example.org"
    record = patient.history.get()
    assert record.history_user.username == "nurse"
    assert record.history_change_reason == "patient registered"


def test_email_and_phone_are_optional(api, clinic):
    body = payload()
    del body["email"], body["phone"]
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["email"] == ""


@pytest.mark.parametrize("role_fixture", ["staff", "physician", "admin_user"])
def test_every_clinic_role_may_register_a_patient(request, role_fixture):
    user = request.getfixturevalue(role_fixture)
    response = client_for(user).post(URL, payload(mrn=f"MRN-{role_fixture}"), format="json")
    assert response.status_code == 201, response.json()


def test_mrn_is_unique_per_clinic(api, clinic):
    assert api.post(URL, payload(), format="json").status_code == 201
    before = counts()
    with CaptureQueriesContext(connection) as queries:
        body = assert_refused(api.post(URL, payload(given_name="Other"), format="json"), "mrn", "invalid")
    assert body["errors"]["mrn"] == ["MRN MRN-1001 is already registered at clinic HOME"]
    assert counts() == before
    assert sum(_looks_up_mrn(q["sql"]) for q in queries.captured_queries) == 1


def _looks_up_mrn(sql: str) -> bool:
    return 'FROM "patients_patient" WHERE' in sql and '"patients_patient"."mrn" =' in sql


def test_registering_a_patient_checks_its_mrn_once(api, clinic):
    """The service's own check, which says it in a nurse's words; the database's constraint
    still holds (``test_a_constraint_the_caller_checked_is_still_enforced``)."""
    with CaptureQueriesContext(connection) as queries:
        assert api.post(URL, payload(), format="json").status_code == 201
    assert sum(_looks_up_mrn(q["sql"]) for q in queries.captured_queries) == 1


def test_a_constraint_the_caller_checked_is_still_enforced(clinic, nurse):
    PatientFactory(clinic=clinic, mrn="MRN-7")
    twin = Patient(
        clinic=clinic,
        mrn="MRN-7",
        given_name="Ada",
        family_name="Moreau",
        birth_date=date(1975, 2, 3),
        spasticity_origin="spinal",
    )
    # not named: Django's check refuses it before the write
    with pytest.raises(ValidationError) as refused:
        save_audited(twin, actor=nurse, reason="test")
    assert "__all__" in refused.value.message_dict
    # named as checked by the caller: not looked up again, and the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        save_audited(twin, actor=nurse, reason="test", checked=("unique_mrn_per_clinic",))


def test_the_same_mrn_at_another_clinic_is_fine(api, clinic, outsider):
    assert api.post(URL, payload(), format="json").status_code == 201
    response = client_for(outsider).post(URL, payload(clinic="AWAY"), format="json")
    assert response.status_code == 201, response.json()
    assert Patient.objects.filter(mrn="MRN-1001").count() == 2


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"clinic": "NOPE"}, "clinic"),
        ({"clinic": None}, "clinic"),
        ({"mrn": ""}, "mrn"),
        ({"given_name": ""}, "given_name"),
        ({"birth_date": "1975-13-01"}, "birth_date"),
        ({"birth_date": (date.today() + timedelta(days=30)).isoformat()}, "birth_date"),
        ({"spasticity_origin": "muscular"}, "spasticity_origin"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_bad_patient_input_is_refused_naming_the_field(api, clinic, overrides, field):
    before = counts()
    assert_refused(api.post(URL, payload(**overrides), format="json"), field, "invalid")
    assert counts() == before


@pytest.mark.parametrize(
    "missing", ["clinic", "mrn", "given_name", "family_name", "birth_date", "spasticity_origin"]
)
def test_missing_patient_fields_are_named(api, clinic, missing):
    body = payload()
    del body[missing]
    before = counts()
    assert_refused(api.post(URL, body, format="json"), missing, "invalid")
    assert counts() == before


def test_an_unknown_clinic_lists_the_allowed_codes(api, clinic):
    body = assert_refused(api.post(URL, payload(clinic="NOPE"), format="json"), "clinic", "invalid")
    assert "HOME" in body["errors"]["clinic"][0]


def test_an_outsider_cannot_register_a_patient_at_another_clinic(clinic, outsider):
    before = counts()
    body = assert_refused(client_for(outsider).post(URL, payload(), format="json"), "clinic", "invalid")
    # Only the outsider's own clinics are offered.
    assert body["errors"]["clinic"][0].endswith("allowed: AWAY")
    assert counts() == before


def test_patients_are_listed_for_the_user_clinics_only(api, patient, other_clinic):
    PatientFactory(clinic=other_clinic, mrn="AWAY-1")
    body = api.get(URL).json()
    assert body["count"] == 1
    assert body["results"][0]["id"] == patient.pk
    assert api.get(f"{URL}?mrn={patient.mrn}").json()["count"] == 1
    assert api.get(f"{URL}?mrn=AWAY-1").json()["count"] == 0


def test_another_clinic_patient_is_not_found(api, other_clinic):
    stranger = PatientFactory(clinic=other_clinic)
    response = api.get(f"{URL}{stranger.pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    before = counts()
    assert api.patch(f"{URL}{stranger.pk}/", {"phone": "1"}, format="json").status_code == 404
    assert counts() == before


def test_patch_a_patient_is_audited(api, patient):
    response = api.patch(
        f"{URL}{patient.pk}/", {"phone": "+1 555 0199", "reason": "new number"}, format="json"
    )
    assert response.status_code == 200, response.json()
    record = patient.history.latest()
    assert record.phone == "+1 555 0199"
    assert record.history_user.username == "nurse"
    assert record.history_change_reason == "new number"


def test_a_patient_cannot_move_to_another_clinic(api, patient, other_clinic, nurse):
    from tests.factories import MembershipFactory

    MembershipFactory(clinic=other_clinic, user=nurse, role="nurse")
    before = counts()
    assert_refused(api.patch(f"{URL}{patient.pk}/", {"clinic": "AWAY"}, format="json"), "clinic", "invalid")
    assert counts() == before
