"""DRIFT-1 through the service and the API: the observed delivery ratio stored with each
refill, the physician-review alert when consecutive refills drift one way (resolved when a
refill breaks the run), and the clinic-wide list of pumps with a drift.

"Now" is 2026-11-26 12:00Z. Every fill adds 20 mL at 500 mcg/mL with 250 mcg/day:
0.5 mL/day, so 20 days between refills program 20 × 0.5 = 10 mL and the expected residual
is 20 − 10 = 10 mL. SynchroMed II 20 mL: tolerance 14.5 % (band 0.855–1.145), REFILL-1
threshold 1.0 mL.
"""

from __future__ import annotations

import pytest

from alerts.models import Alert, Notification
from refills.models import Refill
from tests.conftest import client_for
from tests.helpers import assert_refused, fill, simple, therapy_rows

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]

FIRST = "2026-09-01T10:00:00Z"
SECOND = "2026-09-21T10:00:00Z"  # 20 days later
THIRD = "2026-10-11T10:00:00Z"
FOURTH = "2026-10-31T10:00:00Z"


def refill(api, pump, at, withdrawn, **extra):
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": at,
            "volume_withdrawn_ml": withdrawn,
            "volume_added_ml": 20,
            "concentration_mcg_per_ml": 500,
            "prescription": simple(250),
            **extra,
        },
        format="json",
    )
    return response


def recorded(api, pump, at, withdrawn):
    response = refill(api, pump, at, withdrawn)
    assert response.status_code == 201, response.json()
    return response.json()


def drift_alerts(pump):
    return Alert.objects.filter(pump=pump, kind="delivery_drift").order_by("raised_at", "pk")


@pytest.mark.rule("DRIFT-1")
def test_drift_1_each_refill_stores_and_shows_its_ratio(api, pump):
    first = fill(api, pump, FIRST)
    assert (first["programmed_volume_ml"], first["delivery_ratio"], first["delivery_drift"]) == (None,) * 3
    # withdrew 12: delivered 20 − 12 = 8 mL of 10 programmed, 8 / 10 = 0.800 < 0.855
    body = recorded(api, pump, SECOND, "12")
    assert body["programmed_volume_ml"] == "10.00"
    assert body["delivery_ratio"] == "0.800"
    assert body["delivery_drift"] == "under_delivery"
    assert body["discrepancy"] == "more_than_expected"  # 12 − 10 = +2 mL > 1.0 mL
    (warning,) = [w for w in body["warnings"] if w["code"] == "delivery_drift"]
    assert "observed ratio 0.800" in warning["message"] and "withdrawal risk" in warning["message"]
    stored = Refill.objects.get(pk=body["id"])
    assert str(stored.delivery_ratio) == "0.800"
    # the list of refills says it too
    listed = api.get(f"/api/v1/pumps/{pump.pk}/refills/").json()["results"][0]
    assert (listed["delivery_ratio"], listed["delivery_drift"]) == ("0.800", "under_delivery")
    # one under-delivery is flagged, not yet a trend (2 consecutive by default)
    assert not drift_alerts(pump).exists()


@pytest.mark.rule("DRIFT-1")
def test_drift_1_two_consecutive_under_deliveries_raise_a_review_resolved_by_the_next_refill(
    api, pump, clinic
):
    clinic.staff_email = "desk@home.example"
    clinic.save()
    fill(api, pump, FIRST)
    recorded(api, pump, SECOND, "12")  # 0.800
    # withdrew 12.5: delivered 7.5 of 10, 0.750
    recorded(api, pump, THIRD, "12.5")
    (alert,) = drift_alerts(pump)
    assert alert.severity == "warning" and alert.resolved_at is None
    assert "2 consecutive refills observed under-delivery" in alert.message
    assert "catheter or pump problem" in alert.message and "withdrawal risk" in alert.message
    assert "ratio 0.800" in alert.message and "ratio 0.750" in alert.message
    assert "Mon 21 Sep 2026 10:00 UTC" in alert.message  # the clinic's time, as people read it
    # a physician review: the staff are told once
    notices = Notification.objects.filter(subject=f"alert:{alert.pk}")
    assert [(n.email, n.kind) for n in notices] == [("desk@home.example", "delivery_drift")]
    # withdrew 10: delivered 10 of 10, ratio 1.000 — the run is broken, the alert resolved
    body = recorded(api, pump, FOURTH, "10")
    assert (body["delivery_ratio"], body["delivery_drift"]) == ("1.000", None)
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert drift_alerts(pump).count() == 1


@pytest.mark.rule("DRIFT-1")
def test_drift_1_a_longer_run_keeps_one_alert(api, pump):
    fill(api, pump, FIRST)
    for at in (SECOND, THIRD, FOURTH):
        recorded(api, pump, at, "12")
    (alert,) = drift_alerts(pump)
    assert alert.resolved_at is None


@pytest.mark.rule("DRIFT-1")
def test_drift_1_over_delivery_is_worded_as_the_over_infusion_hazard(api, pump):
    fill(api, pump, FIRST)
    # withdrew 8: delivered 12 of 10, 1.200 > 1.145 (and 8 − 10 = −2 mL, less than expected)
    recorded(api, pump, SECOND, "8")
    body = recorded(api, pump, THIRD, "8")
    assert (body["delivery_ratio"], body["delivery_drift"]) == ("1.200", "over_delivery")
    (alert,) = drift_alerts(pump)
    assert "over-delivery" in alert.message and "over-infusion hazard" in alert.message
    assert "withdrawal" not in alert.message


@pytest.mark.rule("DRIFT-1")
def test_drift_1_the_clinic_list_shows_pumps_with_a_drift(api, pump, outsider):
    fill(api, pump, FIRST)
    recorded(api, pump, SECOND, "12")
    recorded(api, pump, THIRD, "12.5")
    (row,) = api.get("/api/v1/delivery-drift/").json()
    assert row["pump"] == pump.pk and row["mrn"] == pump.patient.mrn
    assert (row["direction"], row["consecutive_refills"], row["alert"]) == ("under_delivery", 2, True)
    assert row["tolerance_band"] == ["0.855", "1.145"]
    assert [r["delivery_ratio"] for r in row["refills"]] == ["0.800", "0.750"]
    assert api.get("/api/v1/delivery-drift/?clinic=HOME").json() == [row]
    # another clinic's staff see nothing of it
    assert client_for(outsider).get("/api/v1/delivery-drift/").json() == []
    assert client_for(outsider).get("/api/v1/delivery-drift/?clinic=HOME").status_code == 404
    # the next refill within the band takes the pump off the list
    recorded(api, pump, FOURTH, "10")
    assert api.get("/api/v1/delivery-drift/").json() == []


@pytest.mark.rule("DRIFT-1")
def test_drift_1_the_preview_shows_the_ratio_and_writes_nothing(api, pump):
    fill(api, pump, FIRST)
    recorded(api, pump, SECOND, "12")
    before = therapy_rows()
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/refills/preview/",
        {
            "performed_at": THIRD,
            "volume_withdrawn_ml": "12.5",
            "volume_added_ml": 20,
            "concentration_mcg_per_ml": 500,
            "prescription": simple(250),
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["delivery_ratio"] == "0.750"
    assert therapy_rows() == before  # the alert the save would raise is not written


@pytest.mark.rule("DRIFT-1")
def test_drift_1_without_the_setting_a_refill_is_refused_clearly(api, pump, settings):
    fill(api, pump, FIRST)
    settings.PUMPCARE_CLINICAL = {**settings.PUMPCARE_CLINICAL, "drift_consecutive_refills": None}
    before = therapy_rows()
    response = refill(api, pump, SECOND, "12")
    assert_refused(response, "settings.PUMPCARE_CLINICAL.drift_consecutive_refills")
    assert therapy_rows() == before


@pytest.mark.rule("DRIFT-1")
def test_drift_1_a_replaced_pump_ends_its_drift_review_and_the_new_pump_starts_afresh(api, pump):
    fill(api, pump, FIRST)
    recorded(api, pump, SECOND, "12")
    recorded(api, pump, THIRD, "12.5")
    (alert,) = drift_alerts(pump)
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/replace/",
        {
            "explanted_on": "2026-11-26",
            "reason": "under-delivery confirmed: pump replaced",
            "model": "8637-20",
            "serial_number": "NEW-0001",
            "catheter_model": "8709SC",
            "catheter_length_cm": "50",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert api.get("/api/v1/delivery-drift/").json() == []
