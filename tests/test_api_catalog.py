"""/api/v1/catalog/pump-models/ and /catalog/catheter-models/: shared by every clinic, read
by any staff member, changed only by an admin, every change audited (PUMP-1..3)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from patients.models import CatheterModel, Drug, PumpModel
from tests.conftest import client_for

# Every test here uses the database, some through request.getfixturevalue, which
# pytest-django cannot see when it orders tests (transactional tests run last).
pytestmark = pytest.mark.django_db

PUMPS = "/api/v1/catalog/pump-models/"
CATHETERS = "/api/v1/catalog/catheter-models/"


@pytest.mark.rule("PUMP-1", "PUMP-3")
def test_pump_models_are_listed_with_their_sources(api):
    body = api.get(PUMPS).json()  # not paginated
    assert [m["code"] for m in body] == ["13827", "16827", "8637-20", "8637-40"]
    synchromed = api.get(f"{PUMPS}8637-20/").json()
    assert synchromed["manufacturer"] == "Medtronic"
    assert synchromed["reservoir_ml"] == "20.00"
    assert synchromed["low_reservoir_alarm_ml"] == "2.00"
    assert synchromed["accuracy_tolerance_pct"] == "14.50"
    assert synchromed["service_life_months"] == 60
    assert synchromed["discrepancy_threshold_ml"] == "1.00"
    # PUMP-3: the pathway volume is not confirmed from labeling, so it ships empty.
    assert synchromed["pathway_volume_min_ml"] is None
    assert synchromed["pathway_volume_max_ml"] is None
    assert "not confirmed from labeling" in synchromed["source"]


@pytest.mark.rule("PUMP-2", "PUMP-3")
def test_catheter_models_are_listed(api):
    body = api.get(CATHETERS).json()
    assert {m["code"] for m in body} == {"8709SC", "8731SC", "8780", "8781", "11823"}
    assert api.get(f"{CATHETERS}11823/").json()["volume_ml_per_cm"] == "0.00260"
    assert api.get(f"{CATHETERS}8709SC/").json()["volume_ml_per_cm"] is None


def test_any_clinic_reads_the_shared_catalog(outsider, staff):
    assert client_for(outsider).get(f"{PUMPS}13827/").status_code == 200
    assert client_for(staff).get(f"{CATHETERS}11823/").status_code == 200


@pytest.mark.parametrize("url", [f"{PUMPS}9999/", f"{CATHETERS}9999/"])
def test_an_unknown_code_is_not_found(api, admin_user, url):
    assert api.get(url).status_code == 404
    response = client_for(admin_user).patch(url, {"source": "x", "reason": "x"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.rule("PUMP-1", "PUMP-3")
def test_an_admin_patch_is_audited(admin_user):
    # The shipped row has no history yet: the first change records it as shipped, then the change.
    assert not PumpModel.history.filter(code="13827").exists()
    response = client_for(admin_user).patch(
        f"{PUMPS}13827/",
        {
            "pathway_volume_min_ml": "0.26",
            "pathway_volume_max_ml": "0.30",
            "reason": "Prometra II IFU, section 4",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["pathway_volume_min_ml"] == "0.260"
    assert response.json()["pathway_volume_max_ml"] == "0.300"
    assert "reason" not in response.json()  # write-only
    model = PumpModel.objects.get(code="13827")
    assert model.pathway_volume_min_ml == Decimal("0.260")
    records = list(model.history.order_by("-history_id"))
    assert len(records) == 2
    latest, previous = records
    assert latest.history_user.username == "clinic_admin"
    assert latest.history_change_reason == "Prometra II IFU, section 4"
    assert latest.pathway_volume_max_ml == Decimal("0.300")
    assert previous.pathway_volume_min_ml is None  # the old value is kept
    assert previous.history_change_reason == "as shipped in the catalog"
    delta = latest.diff_against(previous)
    assert {c.field for c in delta.changes} == {"pathway_volume_min_ml", "pathway_volume_max_ml"}
    # A second change adds one record.
    client_for(admin_user).patch(
        f"{PUMPS}13827/", {"pathway_volume_max_ml": "0.31", "reason": "erratum"}, format="json"
    )
    assert model.history.count() == 3
    assert model.history.latest().history_change_reason == "erratum"


@pytest.mark.rule("PUMP-2")
def test_an_admin_sets_a_catheter_volume(admin_user):
    response = client_for(admin_user).patch(
        f"{CATHETERS}8709SC/", {"volume_ml_per_cm": "0.0022", "reason": "demo value"}, format="json"
    )
    assert response.status_code == 200, response.json()
    catheter = CatheterModel.objects.get(code="8709SC")
    assert catheter.volume_ml_per_cm == Decimal("0.0022")
    record = catheter.history.latest()
    assert record.history_user.username == "clinic_admin"
    assert record.history_change_reason == "demo value"


def test_a_patch_without_reason_gets_a_default_one(admin_user):
    client_for(admin_user).patch(f"{PUMPS}8637-40/", {"discrepancy_threshold_ml": "2.5"}, format="json")
    assert (
        PumpModel.objects.get(code="8637-40").history.latest().history_change_reason
        == "catalog value changed"
    )


@pytest.mark.parametrize("role_fixture", ["nurse", "staff", "physician", "outsider"])
@pytest.mark.parametrize("url", [f"{PUMPS}8637-20/", f"{CATHETERS}8709SC/"])
def test_only_an_admin_changes_the_catalog(request, role_fixture, url):
    user = request.getfixturevalue(role_fixture)
    before = (PumpModel.history.count(), CatheterModel.history.count())
    response = client_for(user).patch(url, {"source": "changed", "reason": "try"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"
    assert (PumpModel.history.count(), CatheterModel.history.count()) == before
    assert "changed" not in (
        PumpModel.objects.get(code="8637-20").source,
        CatheterModel.objects.get(code="8709SC").source,
    )


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"pathway_volume_min_ml": "0.40", "pathway_volume_max_ml": "0.30"}, "pathway_volume_max_ml"),
        ({"pathway_volume_min_ml": "-0.1"}, "pathway_volume_min_ml"),
        ({"low_reservoir_alarm_ml": "20"}, "low_reservoir_alarm_ml"),  # not below the reservoir
        ({"accuracy_tolerance_pct": "-1"}, "accuracy_tolerance_pct"),
        ({"reservoir_ml": "0"}, "reservoir_ml"),
        ({"service_life_months": -5}, "service_life_months"),
    ],
)
def test_bad_catalog_values_are_refused(admin_user, changes, field):
    before = PumpModel.history.count()
    response = client_for(admin_user).patch(f"{PUMPS}13827/", changes, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert PumpModel.history.count() == before
    assert PumpModel.objects.get(code="13827").pathway_volume_min_ml is None


def test_the_code_and_manufacturer_are_read_only(admin_user):
    response = client_for(admin_user).patch(
        f"{PUMPS}8637-20/", {"code": "X", "manufacturer": "Acme", "reason": "try"}, format="json"
    )
    assert response.status_code == 200
    assert PumpModel.objects.filter(code="8637-20", manufacturer="Medtronic").exists()


@pytest.mark.rule("DOSE-4", "LRA-4")
def test_the_drug_catalog_lists_the_supplied_concentrations(api):
    body = api.get("/api/v1/catalog/drugs/baclofen/").json()
    assert body["supplied_concentrations_mcg_per_ml"] == ["50", "500", "1000", "2000"]
    assert body["starting_concentration_mcg_per_ml"] == "500.00"
    assert body["max_reservoir_days"] == 180
    assert Drug.objects.count() == 1
