"""GET /api/v1/pumps/{id}/history/: every change to a pump, its refills and prescriptions,
newest first, with who, why and what changed (field: from -> to). Paginated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from refills.models import Prescription, Refill
from tests.conftest import client_for
from tests.helpers import simple

# Every test here runs at NOW (2026-11-26T12:00Z), so dates stay in the past as the calendar moves.
pytestmark = pytest.mark.usefixtures("frozen_now")


@pytest.fixture
def treated(api, pump):
    """A first fill (2026-03-01, 250 mcg/day), then a prescription change (2026-03-11, 300)."""
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": "2026-03-01T10:00:00Z",
            "volume_withdrawn_ml": "0",
            "volume_added_ml": "20",
            "concentration_mcg_per_ml": "500",
            "prescription": simple(250),
            "lot_number": "LOT-42",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/prescriptions/",
        {"effective_at": "2026-03-11T10:00:00Z", "prescription": simple(300), "reason": "spasms at night"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return pump


def history(client, pump) -> dict:
    response = client.get(f"/api/v1/pumps/{pump.pk}/history/")
    assert response.status_code == 200, response.json()
    return response.json()


def test_history_after_a_fill_and_a_prescription_change(api, treated, nurse):
    body = history(api, treated)
    assert body["count"] == 4 == len(body["results"])
    newest = body["results"][0]
    change = Prescription.objects.get(effective_at=datetime(2026, 3, 11, 10, tzinfo=UTC))
    assert newest["object"] == "prescription"
    assert newest["object_id"] == change.pk
    assert newest["action"] == "created"
    assert newest["user"] == "nurse"
    assert newest["reason"] == "spasms at night"
    assert newest["changes"]["daily_dose_mcg"] == {"from": None, "to": "300.0"}
    assert newest["changes"]["effective_at"] == {"from": None, "to": "2026-03-11T10:00:00+00:00"}
    assert newest["changes"]["schedule"]["to"] == {"mode": "simple_continuous", "daily_dose_mcg": "300"}
    assert "override_reason" not in newest["changes"]  # empty values of a new row are left out
    # The fill wrote a refill and its prescription; the pump itself came from the factory.
    rest = {(e["object"], e["action"], e["user"], e["reason"]) for e in body["results"][1:]}
    assert rest == {
        ("refill", "created", "nurse", "first fill"),
        ("prescription", "created", "nurse", "prescription at first fill"),
        ("pump", "created", None, ""),
    }
    refill = next(e for e in body["results"] if e["object"] == "refill")
    assert refill["object_id"] == Refill.objects.get().pk
    assert refill["changes"]["volume_added_ml"] == {"from": None, "to": "20.00"}
    assert refill["changes"]["lot_number"] == {"from": None, "to": "LOT-42"}
    assert refill["changes"]["performed_by"] == {"from": None, "to": nurse.pk}
    times = [e["at"] for e in body["results"]]
    assert times == sorted(times, reverse=True)


def test_a_pump_change_shows_from_and_to(api, treated):
    api.patch(
        f"/api/v1/pumps/{treated.pk}/", {"eri_on": "2030-06-15", "reason": "interrogation"}, format="json"
    )
    newest = history(api, treated)["results"][0]
    assert newest["object"] == "pump"
    assert newest["action"] == "changed"
    assert newest["user"] == "nurse"
    assert newest["reason"] == "interrogation"
    assert newest["changes"] == {"eri_on": {"from": None, "to": "2030-06-15"}}


@pytest.mark.rule("TITRATE-1")
def test_the_history_keeps_an_override_reason(treated, physician):
    response = client_for(physician).post(
        f"/api/v1/pumps/{treated.pk}/prescriptions/",
        {
            "effective_at": "2026-03-20T10:00:00Z",
            "prescription": simple(500),
            "reason": "uncontrolled spasticity",
            "override_reason": "tolerated this dose with the previous pump",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    newest = history(client_for(physician), treated)["results"][0]
    assert newest["user"] == "physician"
    assert newest["reason"] == (
        "uncontrolled spasticity — override (titration_limit_exceeded): tolerated this dose with the previous pump"
    )
    assert newest["changes"]["override_reason"] == {
        "from": None,
        "to": "tolerated this dose with the previous pump",
    }


def test_a_refusal_leaves_no_history(api, treated):
    before = history(api, treated)["count"]
    response = api.post(
        f"/api/v1/pumps/{treated.pk}/prescriptions/",
        {"effective_at": "2026-03-12T10:00:00Z", "prescription": simple(1000), "reason": "too much"},
        format="json",
    )
    assert response.status_code == 400
    assert history(api, treated)["count"] == before


def test_history_is_paginated(api, treated):
    page = history(api, treated)
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["next"] is None and page["previous"] is None
    # Page size 50: a second page does not exist.
    response = api.get(f"/api/v1/pumps/{treated.pk}/history/?page=2")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_another_clinic_gets_404(treated, outsider):
    response = client_for(outsider).get(f"/api/v1/pumps/{treated.pk}/history/")
    assert response.status_code == 404
