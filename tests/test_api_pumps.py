"""POST/GET/PATCH /api/v1/pumps/: registering an implanted pump (PUMP-1, PUMP-2), its
defaults, the refusals, clinic scoping, and the ERI date (ERI-1)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import Pump
from tests.conftest import client_for
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import assert_refused

# Every test here uses the database, some through request.getfixturevalue, which
# pytest-django cannot see when it orders tests (transactional tests run last).
pytestmark = pytest.mark.django_db

URL = "/api/v1/pumps/"


def payload(patient, /, **overrides) -> dict:
    return {
        "patient": patient.pk,
        "model": "8637-20",
        "serial_number": "NGP123456H",
        "implanted_on": "2026-01-02",
        "catheter_model": "8709SC",
        "catheter_length_cm": "50",
    } | overrides


def counts() -> tuple[int, int]:
    return Pump.objects.count(), Pump.history.count()


def _looks_up_serial(sql: str) -> bool:
    return 'FROM "patients_pump" WHERE' in sql and '"patients_pump"."serial_number" =' in sql


@pytest.mark.rule("PUMP-1", "ERI-1")
def test_register_a_pump_with_the_model_defaults(api, patient):
    response = api.post(URL, payload(patient), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    pump = Pump.objects.get(pk=body["id"])
    assert body["model"] == "8637-20"
    assert body["catheter_model"] == "8709SC"
    assert body["catheter_length_cm"] == "50.0"
    assert body["status"] == "active"
    # The low-reservoir alarm volume defaults to the model's (Medtronic: 2.0 mL).
    assert body["low_reservoir_alarm_ml"] == "2.00"
    assert pump.low_reservoir_alarm_ml == Decimal("2.00")
    # ERI-1: no interrogation yet, estimated as implant + 60 months.
    assert body["eri_on"] is None
    assert body["eri_estimated"] is True
    assert body["planning_eri_on"] == "2031-01-02"
    record = pump.history.get()
    assert record.history_user.username == "nurse"
    assert record.history_change_reason == "pump implanted"
    assert api.get(f"/api/v1/patients/{patient.pk}/").json()["pumps"] == [pump.pk]


@pytest.mark.rule("PUMP-1", "PUMP-2")
def test_register_a_prometra_with_its_catheter_and_own_alarm_volume(api, patient):
    response = api.post(
        URL,
        payload(
            patient,
            model="13827",
            catheter_model="11823",
            catheter_length_cm="60",  # 110 cm - 50 cm trimmed
            low_reservoir_alarm_ml="4.0",
            eri_on="2033-06-30",
        ),
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["low_reservoir_alarm_ml"] == "4.00"
    assert body["eri_on"] == "2033-06-30"
    assert body["eri_estimated"] is False
    assert body["planning_eri_on"] == "2033-06-30"


@pytest.mark.rule("PUMP-1", "PUMP-2")
@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"model": "8637-99"}, "model"),
        ({"model": ""}, "model"),
        ({"catheter_model": "9999"}, "catheter_model"),
        ({"catheter_length_cm": "0"}, "catheter_length_cm"),
        ({"catheter_length_cm": "-10"}, "catheter_length_cm"),
        ({"implanted_on": (date.today() + timedelta(days=2)).isoformat()}, "implanted_on"),
        ({"low_reservoir_alarm_ml": "20"}, "low_reservoir_alarm_ml"),  # not below the 20 mL reservoir
        ({"low_reservoir_alarm_ml": "-1"}, "low_reservoir_alarm_ml"),
        ({"eri_on": "2025-12-31"}, "eri_on"),  # before the implant
        ({"patient": 999999}, "patient"),
        ({"serial_number": ""}, "serial_number"),
    ],
)
def test_bad_pump_input_is_refused_naming_the_field(api, patient, overrides, field):
    before = counts()
    assert_refused(api.post(URL, payload(patient, **overrides), format="json"), field, "invalid")
    assert counts() == before


def test_an_unknown_model_lists_the_known_codes(api, patient):
    body = assert_refused(api.post(URL, payload(patient, model="8637-99"), format="json"), "model", "invalid")
    message = body["errors"]["model"][0]
    for code in ("8637-20", "8637-40", "13827", "16827"):
        assert code in message


def test_a_serial_number_is_unique_per_model(api, patient):
    with CaptureQueriesContext(connection) as queries:
        assert api.post(URL, payload(patient), format="json").status_code == 201
    # the service's own check, once; the database's constraint still holds
    assert sum(_looks_up_serial(q["sql"]) for q in queries.captured_queries) == 1
    before = counts()
    body = assert_refused(api.post(URL, payload(patient), format="json"), "serial_number", "invalid")
    assert body["errors"]["serial_number"] == ["a 8637-20 pump with serial NGP123456H already exists"]
    assert counts() == before
    # The same serial on another model is another device.
    assert api.post(URL, payload(patient, model="8637-40"), format="json").status_code == 201


@pytest.mark.parametrize(
    "missing", ["patient", "model", "serial_number", "implanted_on", "catheter_model", "catheter_length_cm"]
)
def test_missing_pump_fields_are_named(api, patient, missing):
    body = payload(patient)
    del body[missing]
    before = counts()
    assert_refused(api.post(URL, body, format="json"), missing, "invalid")
    assert counts() == before


def test_an_outsider_cannot_register_a_pump_for_another_clinic_patient(patient, outsider):
    before = counts()
    assert_refused(client_for(outsider).post(URL, payload(patient), format="json"), "patient", "invalid")
    assert counts() == before


def test_staff_role_cannot_register_a_pump(patient, staff):
    before = counts()
    response = client_for(staff).post(URL, payload(patient), format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"
    assert counts() == before


@pytest.mark.parametrize("role_fixture", ["physician", "admin_user"])
def test_physician_and_admin_may_register_a_pump(request, patient, role_fixture):
    user = request.getfixturevalue(role_fixture)
    assert client_for(user).post(URL, payload(patient), format="json").status_code == 201


def test_pumps_are_listed_for_the_user_clinics_only(api, pump, other_clinic):
    PumpFactory(patient=PatientFactory(clinic=other_clinic))
    body = api.get(URL).json()
    assert [p["id"] for p in body["results"]] == [pump.pk]
    assert api.get(f"{URL}?patient={pump.patient_id}").json()["count"] == 1
    assert api.get(f"{URL}?status=explanted").json()["count"] == 0


@pytest.mark.rule("ERI-1")
def test_enter_an_interrogated_eri_date(api, pump):
    response = api.patch(
        f"{URL}{pump.pk}/", {"eri_on": "2030-06-15", "reason": "interrogation"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["eri_on"] == "2030-06-15"
    assert body["eri_estimated"] is False
    record = pump.history.latest()
    assert record.history_user.username == "nurse"
    assert record.history_change_reason == "interrogation"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"low_reservoir_alarm_ml": "25"}, "low_reservoir_alarm_ml"),
        ({"eri_on": "2026-01-01"}, "eri_on"),
    ],
)
def test_bad_pump_changes_are_refused(api, pump, changes, field):
    before = counts()
    assert_refused(api.patch(f"{URL}{pump.pk}/", changes, format="json"), field, "invalid")
    assert counts() == before


@pytest.mark.rule("TITRATE-2")
@pytest.mark.parametrize("role_fixture", ["nurse", "physician", "admin_user"])
@pytest.mark.parametrize(
    "changes, field",
    [
        ({"status": "explanted", "explanted_on": "2026-06-01"}, "status"),
        ({"status": "explanted"}, "status"),
        ({"explanted_on": "2026-06-01"}, "explanted_on"),
    ],
)
def test_an_explant_is_not_a_plain_pump_edit(request, pump, role_fixture, changes, field):
    """TITRATE-2: explanting a pump without a replacement stops the therapy. A PATCH (which
    any nurse could send, with no override and no alert) is refused for every role and
    writes nothing; the explant and replace actions record it."""
    from alerts.models import Alert

    user = request.getfixturevalue(role_fixture)
    before = counts(), Alert.objects.count()
    body = assert_refused(
        client_for(user).patch(f"{URL}{pump.pk}/", {**changes, "reason": "infection"}, format="json"),
        field,
        "invalid",
    )
    message = body["errors"][field][0]
    assert "replacement" in message and "override" in message
    assert "explanted_on" not in message and "status" not in message  # in the nurse's words
    assert (counts(), Alert.objects.count()) == before
    pump.refresh_from_db()
    assert (pump.status, pump.explanted_on) == ("active", None)


def test_an_unchanged_status_in_a_patch_is_accepted(api, pump):
    response = api.patch(f"{URL}{pump.pk}/", {"status": "active", "eri_on": "2030-06-15"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["eri_on"] == "2030-06-15"


@pytest.mark.rule("TITRATE-2")
def test_the_admin_site_cannot_edit_a_pump_status(pump):
    """The Django admin shows the status and explant date read-only, so it is no way around
    the explant action either."""
    from django.contrib import admin

    page = admin.site._registry[Pump]
    assert {"status", "explanted_on"} <= set(page.get_readonly_fields(None, pump))


@pytest.mark.rule("TITRATE-2")
def test_the_admin_site_cannot_delete_a_pump_or_a_patient(pump, client):
    # Deleting a pump (or its patient, which deletes the pump) would drop it from every
    # projection, proposal and alert without a discontinuation: not even a superuser may.
    from django.contrib.auth import get_user_model

    admin_user = get_user_model().objects.create_superuser("root", "root@example.org", "Pass-word-123!")
    client.force_login(admin_user)
    for url in (
        f"/admin/patients/pump/{pump.pk}/delete/",
        f"/admin/patients/patient/{pump.patient_id}/delete/",
    ):
        assert client.get(url).status_code == 403
        assert client.post(url, {"post": "yes"}).status_code == 403
    response = client.post(
        "/admin/patients/pump/", {"action": "delete_selected", "_selected_action": [pump.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302)
    assert Pump.objects.filter(pk=pump.pk).exists()
