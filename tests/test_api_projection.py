"""GET /api/v1/pumps/{id}/projection/: the reservoir projection (LRA-1..LRA-4, DOSE-2) and
the replacement plan (ERI-1, ERI-2).

"Now" is frozen at 2026-11-26T12:00Z for the therapy services and selectors. Every
expected instant is worked out by hand in the comments.
"""

from __future__ import annotations

from datetime import date

import pytest

from patients.models import CatheterModel, PumpModel
from tests.conftest import client_for
from tests.factories import PumpFactory
from tests.helpers import simple

# Every test here runs at NOW (2026-11-26T12:00Z), so dates stay in the past as the calendar moves.
pytestmark = pytest.mark.usefixtures("frozen_now")


def fill(api, pump, *, at="2026-03-01T10:00:00Z", prescription=None, added="20", conc="500"):
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": at,
            "volume_withdrawn_ml": "0",
            "volume_added_ml": added,
            "concentration_mcg_per_ml": conc,
            "prescription": prescription or simple(250),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def projection(api, pump) -> dict:
    response = api.get(f"/api/v1/pumps/{pump.pk}/projection/")
    assert response.status_code == 200, response.json()
    return response.json()


def codes(body) -> list[str]:
    return [w["code"] for w in body["warnings"]]


# --- LRA-1 .. LRA-4 ------------------------------------------------------------------------


@pytest.mark.rule("LRA-1", "LRA-2", "LRA-3", "LRA-4", "DOSE-2")
def test_projection_after_a_first_fill(api, pump):
    fill(api, pump)
    body = projection(api, pump)
    assert body["as_of"] == "2026-11-26T12:00:00Z"
    # 250 mcg/day / 500 mcg/mL = 0.5 mL/day (DOSE-2).
    assert body["daily_volume_ml"] == "0.500"
    # Nominal: 18 mL to the 2.0 mL alarm / 0.5 = 36 days; 20 mL to empty / 0.5 = 40 days.
    assert body["low_reservoir_alarm_at"] == "2026-04-06T10:00:00Z"
    assert body["empty_at"] == "2026-04-10T10:00:00Z"
    # Worst case, SynchroMed II tolerance 14.5 %: 0.5 x 1.145 = 0.5725 mL/day.
    # Alarm: 18 / 0.5725 = 31.441048 days = 31 d + 38 106.55 s (10:35:06.55) -> 2026-04-01 20:35:07Z.
    # Empty: 20 / 0.5725 = 34.934498 days = 34 d + 80 740.61 s (22:25:40.61) -> 2026-04-05 08:25:41Z.
    assert body["low_reservoir_alarm_at_worst_case"] == "2026-04-01T20:35:07Z"
    assert body["empty_at_worst_case"] == "2026-04-05T08:25:41Z"
    # Refill-by: worst-case alarm date 2026-04-01 - 7 days = 2026-03-25, before 2026-03-01 + 180 days.
    assert body["refill_by"] == "2026-03-25"
    assert body["refill_by_reason"] == "alarm"
    # "Now" is long after the empty time.
    assert body["reservoir_volume_ml"] == "0.00"


@pytest.mark.rule("LRA-1")
def test_reservoir_volume_now(api, pump):
    # Filled 2026-11-20 12:00Z; now 2026-11-26 12:00Z: 20 - 6 days x 0.5 mL/day = 17.00 mL.
    fill(api, pump, at="2026-11-20T12:00:00Z")
    assert projection(api, pump)["reservoir_volume_ml"] == "17.00"


@pytest.mark.rule("LRA-1", "LRA-2", "LRA-3", "LRA-4")
def test_projection_follows_a_prescription_change(api, pump):
    fill(api, pump)
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/prescriptions/",
        {"effective_at": "2026-03-11T10:00:00Z", "prescription": simple(300), "reason": "more spasticity"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = projection(api, pump)
    assert response.json()["projection"]["low_reservoir_alarm_at"] == body["low_reservoir_alarm_at"]
    # Nominal: 10 days at 0.5 mL/day -> 15 mL at the change; then 300 / 500 = 0.6 mL/day.
    # Alarm: (15 - 2) / 0.6 = 21.6667 days = 21 d 16 h after 2026-03-11 10:00Z -> 2026-04-02 02:00Z.
    # Empty: 15 / 0.6 = 25 days -> 2026-04-05 10:00Z.
    assert body["daily_volume_ml"] == "0.600"
    assert body["low_reservoir_alarm_at"] == "2026-04-02T02:00:00Z"
    assert body["empty_at"] == "2026-04-05T10:00:00Z"
    # Worst case: 10 days x 0.5725 = 5.725 mL -> 14.275 mL at the change; then 0.6 x 1.145 =
    # 0.687 mL/day: 12.275 / 0.687 days = 1 060 560 / 0.687 s = 1 543 755.46 s -> 17 d 20:49:15
    # -> 2026-03-29 06:49:15Z; refill-by 2026-03-29 - 7 = 2026-03-22.
    assert body["low_reservoir_alarm_at_worst_case"] == "2026-03-29T06:49:15Z"
    assert body["refill_by"] == "2026-03-22"


@pytest.mark.rule("LRA-1", "LRA-2", "DOSE-1")
def test_flex_steps_give_the_exact_crossing(api, pump):
    # Filled 2026-03-01 00:00Z (pump clock = UTC). 00:00 5 mcg/h, 12:00 15 mcg/h at 500 mcg/mL:
    # 0.01 mL/h for 12 h (0.12 mL) + 0.03 mL/h for 12 h (0.36 mL) = 0.48 mL/day.
    flex = {
        "mode": "flex",
        "steps": [
            {"start": "00:00", "dose_mcg_per_hour": "5"},
            {"start": "12:00", "dose_mcg_per_hour": "15"},
        ],
    }
    fill(api, pump, at="2026-03-01T00:00:00Z", prescription=flex)
    body = projection(api, pump)
    assert body["daily_volume_ml"] == "0.480"
    # 37 days drain 17.76 mL; 0.24 mL left to the alarm: 0.12 mL by 12:00, then 0.12 / 0.03 = 4 h
    # -> 2026-04-07 16:00Z (an average over the day would say 37.5 days: 12:00).
    assert body["low_reservoir_alarm_at"] == "2026-04-07T16:00:00Z"
    # Empty: 20 mL = 41 days (19.68 mL) + 0.32 mL: 0.12 by 12:00, 0.2 / 0.03 = 6.667 h -> 18:40.
    assert body["empty_at"] == "2026-04-11T18:40:00Z"


@pytest.mark.rule("LRA-1", "LRA-2", "DOSE-1")
def test_bolus_times_give_the_exact_crossing(api, pump):
    # Basal 120 mcg/day (5 mcg/h = 0.01 mL/h) + 60 mcg over 60 minutes at 02:00 and at 14:00:
    # 240 mcg/day = 0.48 mL/day at 500 mcg/mL. 19 mL added: 17 mL to the alarm.
    prescription = {
        "mode": "periodic_bolus",
        "basal_daily_dose_mcg": "120",
        "boluses": [
            {"time": "02:00", "dose_mcg": "60", "duration_minutes": 60},
            {"time": "14:00", "dose_mcg": "60", "duration_minutes": 60},
        ],
    }
    fill(api, pump, at="2026-03-01T00:00:00Z", prescription=prescription, added="19")
    body = projection(api, pump)
    # 35 days drain 16.8 mL; 0.2 mL left: 00:00-02:00 basal 0.02 (0.18 left); 02:00-03:00
    # bolus 0.12 + basal 0.01 = 0.13 (0.05 left); 0.05 / 0.01 = 5 h -> 08:00 on 2026-04-05.
    assert body["low_reservoir_alarm_at"] == "2026-04-05T08:00:00Z"


@pytest.mark.rule("DOSE-2", "LRA-2")
def test_patient_activated_boluses_count_at_their_maximum(api, pump):
    prescription = {
        "mode": "simple_continuous",
        "daily_dose_mcg": "200",
        "patient_activated_bolus": {"dose_mcg": "10", "max_per_day": 5, "lockout_minutes": 60},
    }
    fill(api, pump, prescription=prescription)
    body = projection(api, pump)
    # 200 + 5 x 10 = 250 mcg/day = 0.5 mL/day: the same alarm as 250 mcg/day, 36 days.
    assert body["daily_volume_ml"] == "0.500"
    assert body["low_reservoir_alarm_at"] == "2026-04-06T10:00:00Z"


@pytest.mark.rule("LRA-4")
def test_refill_by_follows_the_drug_stability_for_a_low_dose(api, pump):
    # 20 mcg/day / 500 = 0.04 mL/day; worst 0.0458 mL/day: 18 / 0.0458 = 393 days to the alarm.
    # The 180-day limit binds: 2026-03-01 + 180 days = 2026-08-28.
    fill(api, pump, prescription=simple(20))
    body = projection(api, pump)
    assert body["refill_by"] == "2026-08-28"
    assert body["refill_by_reason"] == "drug_stability"


@pytest.mark.rule("LRA-4", "LRA-1")
def test_refill_by_is_a_local_date_of_the_clinic(api, pump, clinic):
    clinic.timezone = "America/New_York"
    clinic.save()
    # Filled 2026-03-01 15:00Z (10:00 EST). Physical time: the alarm comes 36 x 24 h later,
    # 2026-04-06 15:00Z, whatever the daylight-saving change on 2026-03-08.
    fill(api, pump, at="2026-03-01T15:00:00Z")
    body = projection(api, pump)
    assert body["low_reservoir_alarm_at"] == "2026-04-06T15:00:00Z"
    # Worst-case alarm 31 d 10:35:07 after the fill = 2026-04-02 01:35:07Z = 2026-04-01 21:35 EDT:
    # local date 2026-04-01 - 7 days = 2026-03-25 (in UTC it would be 2026-03-26).
    assert body["low_reservoir_alarm_at_worst_case"] == "2026-04-02T01:35:07Z"
    assert body["refill_by"] == "2026-03-25"


@pytest.mark.rule("LRA-3")
def test_a_model_without_tolerance_gets_worst_case_equal_to_nominal_with_a_warning(api, pump, platform_admin):
    response = client_for(platform_admin).patch(
        "/api/v1/catalog/pump-models/8637-20/",
        {"accuracy_tolerance_pct": None, "reason": "under review"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    fill(api, pump)
    body = projection(api, pump)
    assert "tolerance_not_configured" in codes(body)
    assert (
        body["low_reservoir_alarm_at_worst_case"] == body["low_reservoir_alarm_at"] == "2026-04-06T10:00:00Z"
    )
    # Still scheduled: 2026-04-06 - 7 days.
    assert body["refill_by"] == "2026-03-30"


@pytest.mark.rule("LRA-1")
def test_a_pump_never_filled_has_no_reservoir_projection(api, pump):
    body = projection(api, pump)
    assert codes(body) == ["never_filled"]
    for key in ("reservoir_volume_ml", "low_reservoir_alarm_at", "empty_at", "refill_by"):
        assert body[key] is None


def test_an_explanted_pump_is_not_projected(api, pump, physician):
    fill(api, pump)
    response = client_for(physician).post(
        f"/api/v1/pumps/{pump.pk}/explant/",
        {"explanted_on": "2026-06-01", "reason": "infection", "override_reason": "pocket infection"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = projection(api, pump)
    assert "explanted" in codes(body)
    assert body["low_reservoir_alarm_at"] is None


# --- ERI-1 / ERI-2 -------------------------------------------------------------------------


@pytest.mark.rule("ERI-1", "ERI-2")
def test_eri_is_estimated_from_the_service_life(api, pump):
    body = projection(api, pump)
    # 8637-20: 60 months planning service life. 2026-01-02 + 5 years = 2031-01-02 (estimated);
    # EOS = ERI + 90 days = 2031-04-02 (29 days to 01-31, 28 to 02-28, 31 to 03-31, + 2);
    # book-by = ERI - 90 days = 2030-10-04.
    assert body["eri_on"] == "2031-01-02"
    assert body["eri_estimated"] is True
    assert body["eos_on"] == "2031-04-02"
    assert body["replacement_book_by"] == "2030-10-04"
    pump_body = api.get(f"/api/v1/pumps/{pump.pk}/").json()
    assert pump_body["eri_on"] is None
    assert pump_body["eri_estimated"] is True
    assert pump_body["planning_eri_on"] == "2031-01-02"


@pytest.mark.rule("ERI-1", "ERI-2")
def test_an_interrogated_eri_replaces_the_estimate(api, pump):
    response = api.patch(
        f"/api/v1/pumps/{pump.pk}/", {"eri_on": "2030-06-15", "reason": "interrogation"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["eri_estimated"] is False
    body = projection(api, pump)
    # EOS = 2030-06-15 + 90 days = 2030-09-13 (15 days to 06-30, 31 to 07-31, 31 to 08-31, + 13);
    # book-by = 2030-06-15 - 90 days = 2030-03-17 (15 to 05-31, 31 to 04-30, 30 to 03-31, - 14).
    assert body["eri_on"] == "2030-06-15"
    assert body["eri_estimated"] is False
    assert body["eos_on"] == "2030-09-13"
    assert body["replacement_book_by"] == "2030-03-17"


@pytest.mark.rule("ERI-1")
def test_a_prometra_without_service_life_has_an_unknown_eri(api, patient):
    pump = PumpFactory(
        patient=patient,
        model=PumpModel.objects.get(code="13827"),
        implanted_on=date(2026, 1, 2),
        catheter_model=CatheterModel.objects.get(code="11823"),
        catheter_length_cm=60,
    )
    body = projection(api, pump)
    for key in ("eri_on", "eri_estimated", "eos_on", "replacement_book_by"):
        assert body[key] is None
    assert "eri_unknown" in codes(body)
    pump_body = api.get(f"/api/v1/pumps/{pump.pk}/").json()
    assert pump_body["eri_estimated"] is None
    assert pump_body["planning_eri_on"] is None
    # An interrogated ERI date is enough.
    api.patch(f"/api/v1/pumps/{pump.pk}/", {"eri_on": "2033-01-02"}, format="json")
    body = projection(api, pump)
    assert body["eri_on"] == "2033-01-02"
    assert body["eri_estimated"] is False
    assert "eri_unknown" not in codes(body)
