"""The refill preview: the real write path run and rolled back, so the
refill form shows the expected residual, the discrepancy, the bridge bolus and the new
projection before saving — and nothing is written. Also served by the API as
POST /api/v1/pumps/{id}/refills/preview/, with the same input and refusals as a refill."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rest_framework.exceptions import PermissionDenied

import therapy
from alerts.models import Notification
from refills.models import PumpProjection
from refills.services import refill_preview
from scheduling.models import Appointment
from tests.conftest import client_for
from tests.helpers import assert_refused, simple, therapy_rows
from tests.test_api_refills import filled, prometra_pump

pytestmark = pytest.mark.usefixtures("frozen_now")


@pytest.fixture
def prometra_pathway(admin_user):
    """The Prometra II 20 mL pathway volume (0.26–0.30 mL), entered by an admin."""
    response = client_for(admin_user).patch(
        "/api/v1/catalog/pump-models/13827/",
        {"pathway_volume_min_ml": "0.26", "pathway_volume_max_ml": "0.30", "reason": "from the IFU"},
        format="json",
    )
    assert response.status_code == 200, response.json()


def everything() -> dict:
    """Every table a refill writes to, history included."""
    return {
        **therapy_rows(),
        "notifications": Notification.objects.count(),
        "appointments": Appointment.objects.count(),
        "appointment_history": Appointment.history.count(),
        "projections": list(PumpProjection.objects.values_list("pump_id", "computed_at", "refill_by")),
    }


@pytest.mark.rule("BRIDGE-1", "REFILL-1")
def test_the_preview_shows_the_worked_bridge_example_and_writes_nothing(
    api, nurse, patient, prometra_pathway, django_capture_on_commit_callbacks
):
    pump = prometra_pump(patient)
    filled(api, pump, prescription=simple(300))  # 20 mL at 500 mcg/mL, 300 mcg/day = 0.6 mL/day
    before = everything()
    with django_capture_on_commit_callbacks() as callbacks:
        change = refill_preview(
            actor=nurse,
            pump=pump,
            performed_at=datetime(2026, 3, 11, 10, 0, tzinfo=UTC),
            volume_withdrawn_ml=Decimal("14.0"),
            volume_added_ml=Decimal("20"),
            concentration_mcg_per_ml=Decimal("1000"),
            prescription=simple(300),
        )
    # 20 - 10 days x 0.6 = 14.0 mL expected; V = 0.26 + 60 x 0.0026 = 0.416 mL,
    # T = 0.416 x 500 / 300 = 0.69333 d = 16.64 h, programmed 416 mcg, delivered 208 mcg.
    assert change.refill.expected_residual_ml == Decimal("14.00")
    assert change.refill.discrepancy is None
    assert change.refill.bridge_bolus == {
        "path_volume_ml": Decimal("0.416"),
        "duration_hours": Decimal("16.64"),
        "programmed_dose_mcg": Decimal("416.0"),
        "delivered_dose_mcg": Decimal("208.0"),
    }
    # The projection after the refill, as tests/test_api_refills.py works it out.
    assert change.projection["low_reservoir_alarm_at"] == datetime(2026, 5, 6, 9, 21, 36, tzinfo=UTC)
    assert change.projection["refill_by"].isoformat() == "2026-04-21"  # LRA-3: worst case 04-28 23:58:07Z
    assert change.refill.pk is None and change.prescription.pk is None
    assert everything() == before
    assert callbacks == []  # nothing deferred to a commit that never comes


def test_a_refusal_from_the_preview_is_the_services_refusal_and_writes_nothing(api, nurse, pump):
    filled(api, pump)  # 250 mcg/day since 2026-03-01
    before = everything()
    with pytest.raises(therapy.CalculationError) as refused:
        refill_preview(
            actor=nurse,
            pump=pump,
            performed_at=datetime(2026, 3, 11, 10, 0, tzinfo=UTC),
            volume_withdrawn_ml=Decimal("15"),
            volume_added_ml=Decimal("20"),
            concentration_mcg_per_ml=Decimal("500"),
            prescription=simple(400),
        )
    assert refused.value.code == "titration_limit_exceeded"
    assert refused.value.details["max_allowed_daily_dose_mcg"] == Decimal("325.0")  # 250 x 1.3
    with pytest.raises(PermissionDenied):  # a nurse's override is refused, as for a real refill
        refill_preview(
            actor=nurse,
            pump=pump,
            performed_at=datetime(2026, 3, 11, 10, 0, tzinfo=UTC),
            volume_withdrawn_ml=Decimal("15"),
            volume_added_ml=Decimal("20"),
            concentration_mcg_per_ml=Decimal("500"),
            prescription=simple(400),
            override_reason="please",
        )
    assert everything() == before


def test_the_preview_endpoint_answers_like_a_refill_without_recording_it(api, patient, prometra_pathway):
    pump = prometra_pump(patient)
    filled(api, pump, prescription=simple(300))
    before = everything()
    body = {
        "performed_at": "2026-03-11T10:00:00Z",
        "volume_withdrawn_ml": "14.0",
        "volume_added_ml": "20",
        "concentration_mcg_per_ml": "1000",
        "prescription": simple(300),
    }
    response = api.post(f"/api/v1/pumps/{pump.pk}/refills/preview/", body, format="json")
    assert response.status_code == 200, response.json()
    preview = response.json()
    assert "id" not in preview
    assert preview["bridge_bolus"] == {
        "path_volume_ml": "0.416",
        "duration_hours": "16.64",
        "programmed_dose_mcg": "416.0",
        "delivered_dose_mcg": "208.0",
    }
    assert preview["projection"]["low_reservoir_alarm_at"] == "2026-05-06T09:21:36Z"
    assert everything() == before
    # Recording it gives the same answer.
    recorded = api.post(f"/api/v1/pumps/{pump.pk}/refills/", body, format="json").json()
    # the preview also answers the patient's risk flags (RISK-1), read beside the decision
    assert preview.pop("risk_flags") == []
    assert {k: v for k, v in recorded.items() if k != "id"} == preview


def test_the_preview_endpoint_refuses_like_a_refill(api, pump, outsider):
    filled(api, pump)
    body = {
        "performed_at": "2026-03-11T10:00:00Z",
        "volume_withdrawn_ml": "15",
        "volume_added_ml": "25",  # more than the 20 mL reservoir
        "concentration_mcg_per_ml": "500",
        "prescription": simple(250),
    }
    assert_refused(
        api.post(f"/api/v1/pumps/{pump.pk}/refills/preview/", body, format="json"), "volume_added_ml"
    )
    assert (
        client_for(outsider)
        .post(f"/api/v1/pumps/{pump.pk}/refills/preview/", body, format="json")
        .status_code
        == 404
    )
