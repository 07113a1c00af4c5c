"""Who may do what: every endpoint needs a logged-in clinic staff member (anonymous -> 401,
no clinic -> 403), data is scoped to the user's clinics (another clinic's object -> 404),
and writes check the role at the object's clinic (403 ``role_required``)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.exceptions import PermissionDenied

from alerts.models import Alert
from patients.models import Patient, Pump, StaffMembership
from patients.permissions import CLINICAL_WRITERS, require_role, roles_remembered
from refills.models import Prescription, Refill
from tests.conftest import client_for
from tests.factories import UserFactory

REFILL = {
    "performed_at": "2026-03-01T10:00:00Z",
    "volume_withdrawn_ml": "0",
    "volume_added_ml": "20",
    "concentration_mcg_per_ml": "500",
    "prescription": {"mode": "simple_continuous", "daily_dose_mcg": "250"},
}
PRESCRIPTION = {
    "effective_at": "2026-03-11T10:00:00Z",
    "prescription": {"mode": "simple_continuous", "daily_dose_mcg": "300"},
    "reason": "more spasticity",
}


# Every test here runs at NOW (2026-11-26T12:00Z), so dates stay in the past as the calendar moves.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def counts() -> dict:
    return {
        "patients": Patient.objects.count(),
        "pumps": Pump.objects.count(),
        "pump_history": Pump.history.count(),
        "refills": Refill.objects.count(),
        "prescriptions": Prescription.objects.count(),
        "refill_history": Refill.history.count(),
        "prescription_history": Prescription.history.count(),
        "alerts": Alert.objects.count(),
    }


def endpoints(pump) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", "/api/v1/clinics/", None),
        ("get", "/api/v1/clinics/HOME/", None),
        ("get", "/api/v1/patients/", None),
        ("get", f"/api/v1/patients/{pump.patient_id}/", None),
        ("post", "/api/v1/patients/", {"clinic": "HOME", "mrn": "X"}),
        ("get", "/api/v1/caregivers/", None),
        ("get", "/api/v1/pumps/", None),
        ("get", f"/api/v1/pumps/{pump.pk}/", None),
        ("post", "/api/v1/pumps/", {"patient": pump.patient_id}),
        ("patch", f"/api/v1/pumps/{pump.pk}/", {"eri_on": "2030-01-01"}),
        ("get", f"/api/v1/pumps/{pump.pk}/refills/", None),
        ("post", f"/api/v1/pumps/{pump.pk}/refills/", REFILL),
        ("get", f"/api/v1/pumps/{pump.pk}/prescriptions/", None),
        ("post", f"/api/v1/pumps/{pump.pk}/prescriptions/", PRESCRIPTION),
        ("get", f"/api/v1/pumps/{pump.pk}/projection/", None),
        ("get", f"/api/v1/pumps/{pump.pk}/history/", None),
        ("get", "/api/v1/catalog/pump-models/", None),
        ("get", "/api/v1/catalog/pump-models/8637-20/", None),
        ("patch", "/api/v1/catalog/pump-models/8637-20/", {"source": "x"}),
        ("get", "/api/v1/catalog/catheter-models/8709SC/", None),
        ("patch", "/api/v1/catalog/catheter-models/8709SC/", {"source": "x"}),
        ("get", "/api/v1/catalog/drugs/", None),
        ("get", "/api/v1/alerts/", None),
        ("post", "/api/v1/calculations/starting-dose/", {"trials": []}),
    ]


def call(client, method, url, data):
    return (
        getattr(client, method)(url, data, format="json")
        if data is not None
        else getattr(client, method)(url)
    )


def test_anonymous_gets_401_everywhere(pump):
    before = counts()
    client = client_for(None)
    for method, url, data in endpoints(pump):
        response = call(client, method, url, data)
        assert response.status_code == 401, (method, url, response.status_code)
        assert response.json()["code"] == "not_authenticated", (method, url)
    assert counts() == before


def test_a_bad_token_gets_401(pump):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/v1/patients/").status_code == 401


def test_an_inactive_user_gets_401(nurse, pump):
    client = client_for(nurse)
    get_user_model().objects.filter(pk=nurse.pk).update(is_active=False)
    assert client.get(f"/api/v1/pumps/{pump.pk}/projection/").status_code == 401


def test_a_user_without_a_clinic_gets_403_everywhere(pump):
    client = client_for(UserFactory(username="nobody"))
    before = counts()
    for method, url, data in endpoints(pump):
        response = call(client, method, url, data)
        assert response.status_code == 403, (method, url, response.status_code)
    assert counts() == before


def test_a_superuser_sees_only_the_clinics_where_it_is_a_member(pump, other_clinic):
    """A superuser (the demo admin was one) read and edited every clinic. Being an
    operator of the installation is no membership: no clinic, no clinic data; a membership
    at another clinic gives that clinic's data only, with the role it holds there."""
    from tests.factories import MembershipFactory

    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = client_for(root)
    before = counts()
    for method, url, data in endpoints(pump):
        if "/catalog/" in url:
            continue  # the catalogs are the platform role's, which a superuser holds
        response = call(client, method, url, data)
        assert response.status_code == 403, (method, url, response.status_code)
    MembershipFactory(clinic=other_clinic, role="admin", user=root)
    assert client_for(root).get(f"/api/v1/pumps/{pump.pk}/projection/").status_code == 404
    response = client_for(root).patch(f"/api/v1/pumps/{pump.pk}/", {"eri_on": "2030-01-01"}, format="json")
    assert response.status_code == 404
    assert counts() == before


@pytest.mark.parametrize(
    "method, suffix, data",
    [
        ("get", "", None),
        ("patch", "", {"eri_on": "2030-01-01", "reason": "x"}),
        ("get", "refills/", None),
        ("post", "refills/", REFILL),
        ("get", "prescriptions/", None),
        ("post", "prescriptions/", PRESCRIPTION),
        ("get", "projection/", None),
        ("get", "history/", None),
    ],
)
def test_an_outsider_gets_404_on_every_pump_endpoint(api, pump, outsider, method, suffix, data):
    if suffix == "prescriptions/" and method == "post":
        assert api.post(f"/api/v1/pumps/{pump.pk}/refills/", REFILL, format="json").status_code == 201
    before = counts()
    response = call(client_for(outsider), method, f"/api/v1/pumps/{pump.pk}/{suffix}", data)
    assert response.status_code == 404, response.content
    assert response.json() == {"code": "not_found", "detail": "Not found."}
    assert counts() == before


def test_a_missing_pump_is_404(api):
    assert api.get("/api/v1/pumps/999999/projection/").status_code == 404


def test_an_outsider_does_not_see_another_clinic(api, pump, outsider):
    client = client_for(outsider)
    assert client.get(f"/api/v1/patients/{pump.patient_id}/").status_code == 404
    assert client.get("/api/v1/clinics/HOME/").status_code == 404
    assert [c["code"] for c in client.get("/api/v1/clinics/").json()["results"]] == ["AWAY"]
    assert client.get("/api/v1/pumps/").json()["count"] == 0
    assert client.get("/api/v1/patients/").json()["count"] == 0


@pytest.mark.parametrize("role_fixture", ["staff", "admin_user"])
@pytest.mark.parametrize("endpoint", ["refills", "prescriptions"])
def test_only_nurses_and_physicians_record_therapy(api, pump, request, role_fixture, endpoint):
    if endpoint == "prescriptions":
        assert api.post(f"/api/v1/pumps/{pump.pk}/refills/", REFILL, format="json").status_code == 201
    client = client_for(request.getfixturevalue(role_fixture))
    before = counts()
    body = REFILL if endpoint == "refills" else PRESCRIPTION
    response = client.post(f"/api/v1/pumps/{pump.pk}/{endpoint}/", body, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"
    assert counts() == before
    # They still read the pump's record.
    assert client.get(f"/api/v1/pumps/{pump.pk}/projection/").status_code == 200
    assert client.get(f"/api/v1/pumps/{pump.pk}/{endpoint}/").status_code == 200


@pytest.mark.parametrize("role_fixture", ["nurse", "physician"])
def test_nurses_and_physicians_record_refills(pump, request, role_fixture):
    client = client_for(request.getfixturevalue(role_fixture))
    assert client.post(f"/api/v1/pumps/{pump.pk}/refills/", REFILL, format="json").status_code == 201
    assert (
        client.post(f"/api/v1/pumps/{pump.pk}/prescriptions/", PRESCRIPTION, format="json").status_code == 201
    )


def test_clinic_settings_need_the_admin_role(api, admin_user):
    before = counts()
    response = api.patch("/api/v1/clinics/HOME/", {"safety_margin_days": 10}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"
    assert counts() == before
    response = client_for(admin_user).patch(
        "/api/v1/clinics/HOME/", {"safety_margin_days": 10, "reason": "policy"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["safety_margin_days"] == 10


def test_a_user_of_two_clinics_sees_both(api, nurse, pump, other_clinic):
    from tests.factories import MembershipFactory, PatientFactory, PumpFactory

    MembershipFactory(clinic=other_clinic, user=nurse, role="staff")
    away_pump = PumpFactory(patient=PatientFactory(clinic=other_clinic))
    assert api.get("/api/v1/pumps/").json()["count"] == 2
    # A staff member at AWAY: reads the pump there but does not record a refill on it.
    assert api.get(f"/api/v1/pumps/{away_pump.pk}/projection/").status_code == 200
    response = api.post(f"/api/v1/pumps/{away_pump.pk}/refills/", REFILL, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"


def test_a_token_and_its_users_clinic_membership_are_read_in_one_query(nurse, django_assert_num_queries):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIRequestFactory

    from patients.authentication import TokenAuthentication
    from patients.permissions import IsClinicStaff

    key = Token.objects.create(user=nurse).key
    nobody = UserFactory(username="nobody")
    nobody_key = Token.objects.create(user=nobody).key
    for token, staff in [(key, True), (nobody_key, False)]:
        request = APIRequestFactory().get("/api/v1/pumps/", HTTP_AUTHORIZATION=f"Token {token}")
        with django_assert_num_queries(1):
            user, _ = TokenAuthentication().authenticate(request)
        request.user = user
        with django_assert_num_queries(0):
            assert IsClinicStaff().has_permission(request, None) is staff


def test_a_revoked_token_or_a_lost_membership_counts_on_the_next_request(nurse, pump):
    from patients.models import StaffMembership

    client = client_for(nurse)
    url = f"/api/v1/pumps/{pump.pk}/projection/"
    assert client.get(url).status_code == 200
    StaffMembership.objects.filter(user=nurse).delete()
    assert client.get(url).status_code == 403
    nurse.auth_token.delete()
    assert client.get(url).status_code == 401


def test_a_superuser_without_a_membership_sees_no_clinic_in_the_web_pages(client, pump):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    assert client.get("/clinics/HOME/worklist/").status_code in (403, 404)
    assert client.get(f"/pumps/{pump.pk}/").status_code == 404
    assert client.get(f"/pumps/{pump.pk}/refill/").status_code == 404


def test_roles_remembered_reads_each_users_role_once_and_lends_it_to_no_one_else(
    clinic, other_clinic, nurse, staff, django_assert_num_queries
):
    """A registry import's block: every check is still made, each user's role at each
    clinic read once; another user, or another clinic, is asked the database."""
    with transaction.atomic(), roles_remembered():
        with django_assert_num_queries(1):
            for _ in range(3):
                assert require_role(nurse, clinic, CLINICAL_WRITERS, "Recording a refill") == "nurse"
        with django_assert_num_queries(1):  # another user: its own answer, and refused
            for _ in range(2):
                with pytest.raises(PermissionDenied, match=r"nurse or physician role .* \(yours: staff\)"):
                    require_role(staff, clinic, CLINICAL_WRITERS, "Recording a refill")
        with django_assert_num_queries(1):  # another clinic: no membership there
            with pytest.raises(PermissionDenied, match=r"\(yours: none\)"):
                require_role(nurse, other_clinic, CLINICAL_WRITERS, "Recording a refill")
        # a membership written in the block: the roles are read again
        StaffMembership.objects.filter(user=staff, clinic=clinic).get().delete()
        with pytest.raises(PermissionDenied, match=r"\(yours: none\)"):
            require_role(staff, clinic, CLINICAL_WRITERS, "Recording a refill")
        StaffMembership.objects.create(user=staff, clinic=clinic, role="physician")
        assert require_role(staff, clinic, CLINICAL_WRITERS, "Recording a refill") == "physician"
    # the block ended: nothing is remembered
    with django_assert_num_queries(2):
        require_role(nurse, clinic, CLINICAL_WRITERS, "Recording a refill")
        require_role(nurse, clinic, CLINICAL_WRITERS, "Recording a refill")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_roles_remembered_needs_the_writers_transaction():
    with pytest.raises(RuntimeError, match="transaction"):
        with roles_remembered():
            pass
