"""/api/v1/catalog/pump-models/ and /catalog/catheter-models/: shared by every clinic, read
by any staff member, changed by the platform role (one clinic's admin once moved
another clinic's dates), every change audited (PUMP-1..3). A clinic admin only fills in a
value the shipped catalog leaves empty, for a model no other clinic's pump uses."""

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
def test_an_unknown_code_is_not_found(api, platform_admin, url):
    assert api.get(url).status_code == 404
    response = client_for(platform_admin).patch(url, {"source": "x", "reason": "x"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.rule("PUMP-1", "PUMP-3")
def test_a_platform_admin_patch_is_audited(platform_admin):
    # The shipped row has no history yet: the first change records it as shipped, then the change.
    assert not PumpModel.history.filter(code="13827").exists()
    response = client_for(platform_admin).patch(
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
    assert latest.history_user.username == "platform"
    assert latest.history_change_reason == "Prometra II IFU, section 4"
    assert latest.pathway_volume_max_ml == Decimal("0.300")
    assert previous.pathway_volume_min_ml is None  # the old value is kept
    assert previous.history_change_reason == "as shipped in the catalog"
    delta = latest.diff_against(previous)
    assert {c.field for c in delta.changes} == {"pathway_volume_min_ml", "pathway_volume_max_ml"}
    # A second change adds one record.
    client_for(platform_admin).patch(
        f"{PUMPS}13827/", {"pathway_volume_max_ml": "0.31", "reason": "erratum"}, format="json"
    )
    assert model.history.count() == 3
    assert model.history.latest().history_change_reason == "erratum"


@pytest.mark.rule("PUMP-2")
def test_a_platform_admin_sets_a_catheter_volume(platform_admin):
    response = client_for(platform_admin).patch(
        f"{CATHETERS}8709SC/", {"volume_ml_per_cm": "0.0022", "reason": "demo value"}, format="json"
    )
    assert response.status_code == 200, response.json()
    catheter = CatheterModel.objects.get(code="8709SC")
    assert catheter.volume_ml_per_cm == Decimal("0.0022")
    record = catheter.history.latest()
    assert record.history_user.username == "platform"
    assert record.history_change_reason == "demo value"


def test_a_patch_without_reason_gets_a_default_one(platform_admin):
    client_for(platform_admin).patch(f"{PUMPS}8637-40/", {"discrepancy_threshold_ml": "2.5"}, format="json")
    assert (
        PumpModel.objects.get(code="8637-40").history.latest().history_change_reason
        == "catalog value changed"
    )


@pytest.mark.parametrize("role_fixture", ["nurse", "staff", "physician", "outsider", "admin_user"])
@pytest.mark.parametrize("url", [f"{PUMPS}8637-20/", f"{CATHETERS}8709SC/"])
def test_only_the_platform_role_changes_the_catalogs_text(request, role_fixture, url):
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
def test_bad_catalog_values_are_refused(platform_admin, changes, field):
    before = PumpModel.history.count()
    response = client_for(platform_admin).patch(f"{PUMPS}13827/", changes, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert PumpModel.history.count() == before
    assert PumpModel.objects.get(code="13827").pathway_volume_min_ml is None


def test_the_code_and_manufacturer_are_read_only(platform_admin):
    response = client_for(platform_admin).patch(
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


def _prometra_at(clinic, nurse):
    """A Prometra II 20 mL (tolerance 15 %, alarm at 3.0 mL) at ``clinic``, filled
    2026-03-01T10:00Z with 20 mL at 500 mcg/mL, 250 mcg/day = 0.5 mL/day."""
    from datetime import date

    from tests.factories import PatientFactory, PumpFactory
    from tests.test_projections_store import fill

    pump = PumpFactory(
        patient=PatientFactory(clinic=clinic),
        model=PumpModel.objects.get(code="13827"),
        catheter_model=CatheterModel.objects.get(code="11823"),
        implanted_on=date(2026, 1, 2),
    )
    fill(client_for(nurse), pump)
    return pump


@pytest.mark.rule("LRA-3")
@pytest.mark.parametrize(
    "changes",
    [
        {"accuracy_tolerance_pct": "0", "reason": "we trust our pumps"},  # a value already set
        {"pathway_volume_min_ml": "0.26", "pathway_volume_max_ml": "0.30"},  # empty, but AWAY reads it
        {"low_reservoir_alarm_ml": "1.0", "pathway_volume_min_ml": "0.26"},
    ],
)
def test_one_clinics_admin_cannot_move_another_clinics_dates(
    frozen_now, admin_user, outsider, other_clinic, platform_admin, changes
):
    from datetime import UTC, date, datetime

    from refills.models import PumpProjection

    away = _prometra_at(other_clinic, outsider)
    projection = PumpProjection.objects.get(pump=away)
    # worst case (20 - 3) / (0.5 x 1.15) = 29.565 days after 2026-03-01T10:00Z = 2026-03-30
    # 23:33:55Z; refill-by 7 days before that day: 2026-03-23.
    assert projection.refill_by == date(2026, 3, 23)
    assert projection.low_reservoir_alarm_at_worst_case.date() == date(2026, 3, 30)
    before = (PumpModel.history.count(), PumpModel.objects.filter(code="13827").values().get())

    response = client_for(admin_user).patch(f"{PUMPS}13827/", changes, format="json")

    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "role_required"
    assert "platform administrator" in response.json()["detail"]
    assert (PumpModel.history.count(), PumpModel.objects.filter(code="13827").values().get()) == before
    after = PumpProjection.objects.get(pump=away)
    assert (after.computed_at, after.refill_by, after.low_reservoir_alarm_at_worst_case) == (
        projection.computed_at,
        projection.refill_by,
        projection.low_reservoir_alarm_at_worst_case,
    )
    # The platform role may: 20 % tolerance gives 17 / (0.5 x 1.2) = 28.333 days = 2026-03-29
    # 18:00Z; refill-by 2026-03-22, AWAY's projection recomputed with the change.
    response = client_for(platform_admin).patch(
        f"{PUMPS}13827/", {"accuracy_tolerance_pct": "20"}, format="json"
    )
    assert response.status_code == 200, response.json()
    after = PumpProjection.objects.get(pump=away)
    assert after.low_reservoir_alarm_at_worst_case == datetime(2026, 3, 29, 18, tzinfo=UTC)
    assert after.refill_by == date(2026, 3, 22)


@pytest.mark.rule("PUMP-3")
def test_a_clinic_admin_fills_an_empty_value_only_its_own_clinics_pumps_use(frozen_now, admin_user, nurse):
    # Only HOME has a Prometra II 20 mL: its admin enters the IFU's pathway volumes (PUMP-3:
    # shipped empty), the history says who and why.
    _prometra_at(admin_user.memberships.get().clinic, nurse)
    response = client_for(admin_user).patch(
        f"{PUMPS}13827/",
        {"pathway_volume_min_ml": "0.26", "pathway_volume_max_ml": "0.30", "reason": "Prometra II IFU"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    latest = PumpModel.objects.get(code="13827").history.latest()
    assert (latest.history_user.username, latest.history_change_reason) == ("clinic_admin", "Prometra II IFU")
    assert latest.pathway_volume_min_ml == Decimal("0.260")
    # Once set, the value is the platform role's to correct; a drug never a clinic admin's.
    for url, changes in [
        (f"{PUMPS}13827/", {"pathway_volume_max_ml": "0.31"}),
        ("/api/v1/catalog/drugs/baclofen/", {"max_reservoir_days": 14}),
    ]:
        response = client_for(admin_user).patch(url, changes, format="json")
        assert response.status_code == 403, (url, response.json())
    assert PumpModel.objects.get(code="13827").pathway_volume_max_ml == Decimal("0.300")
    assert Drug.objects.get(code="baclofen").max_reservoir_days == 180


def test_the_platform_role_changes_the_catalog_without_seeing_any_clinic(platform_admin, pump):
    client = client_for(platform_admin)
    assert client.get(f"{PUMPS}8637-20/").status_code == 200
    response = client.patch(f"{CATHETERS}8709SC/", {"volume_ml_per_cm": "0.0022"}, format="json")
    assert response.status_code == 200, response.json()
    # No membership: no clinic's patients, pumps or worklist.
    assert client.get(f"/api/v1/pumps/{pump.pk}/projection/").status_code == 403
    assert client.get("/api/v1/patients/").status_code == 403


def test_the_django_admin_changes_the_catalog_only_with_the_platform_permission(
    client, admin_user, platform_admin
):
    from django.contrib.auth.models import Permission

    model = PumpModel.objects.get(code="13827")
    url = f"/admin/patients/pumpmodel/{model.pk}/change/"
    # A clinic admin given Django admin access (is_staff) but not the catalog permission.
    admin_user.is_staff = True
    admin_user.save()
    client.force_login(admin_user)
    assert client.get(url).status_code == 403
    assert client.post(url, {"accuracy_tolerance_pct": "0"}).status_code == 403
    assert PumpModel.objects.get(code="13827").accuracy_tolerance_pct == Decimal("15")
    platform_admin.is_staff = True
    platform_admin.save()
    platform_admin.user_permissions.add(Permission.objects.get(codename="view_pumpmodel"))
    client.force_login(platform_admin)
    assert client.get(url).status_code == 200


@pytest.mark.rule("LRA-3")
def test_a_django_admin_change_is_audited_and_moves_the_dates_at_once(
    frozen_now, client, platform_admin, api, pump
):
    from datetime import UTC, datetime

    from django.contrib.auth.models import Permission

    from refills.models import PumpProjection
    from tests.test_projections_store import fill

    fill(api, pump)
    # 8637-20, 14.5 %: worst case 18 / (0.5 x 1.145) = 31.441 days after 2026-03-01T10:00Z
    assert (
        PumpProjection.objects.get(pump=pump).low_reservoir_alarm_at_worst_case.date()
        == datetime(2026, 4, 1).date()
    )
    platform_admin.is_staff = True
    platform_admin.save()
    platform_admin.user_permissions.add(Permission.objects.get(codename="view_pumpmodel"))
    client.force_login(platform_admin)
    model = PumpModel.objects.get(code="8637-20")
    form = {
        name: "" if getattr(model, name) is None else str(getattr(model, name))
        for name in [
            "manufacturer",
            "name",
            "reservoir_ml",
            "low_reservoir_alarm_ml",
            "accuracy_tolerance_pct",
            "pathway_volume_min_ml",
            "pathway_volume_max_ml",
            "service_life_months",
            "discrepancy_threshold_ml",
            "source",
        ]
    }
    form["accuracy_tolerance_pct"] = "20"
    response = client.post(f"/admin/patients/pumpmodel/{model.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    # 20 %: 18 / (0.5 x 1.2) = 30 days after 2026-03-01T10:00Z, recomputed with the change.
    projection = PumpProjection.objects.get(pump=pump)
    assert projection.low_reservoir_alarm_at_worst_case == datetime(2026, 3, 31, 10, tzinfo=UTC)
    latest = PumpModel.objects.get(code="8637-20").history.latest()
    assert (latest.history_user, latest.history_change_reason) == (
        platform_admin,
        "changed in the Django admin",
    )
    assert latest.accuracy_tolerance_pct == Decimal("20")
