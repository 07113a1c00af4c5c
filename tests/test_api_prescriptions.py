"""POST /api/v1/pumps/{id}/prescriptions/: a prescription change between refills
(DOSE-1..3), the titration limit (TITRATE-1) and discontinuation (TITRATE-2).

"Now" is frozen at 2026-11-26T12:00Z for the therapy services and selectors.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from alerts.models import Alert
from refills.models import Prescription, Refill
from tests.conftest import client_for
from tests.helpers import assert_refused, simple
from tests.helpers import therapy_rows as counts

FILLED_AT = "2026-03-01T10:00:00Z"


# Every test here runs at NOW (2026-11-26T12:00Z), so dates stay in the past as the calendar moves.
pytestmark = pytest.mark.usefixtures("frozen_now")


def fill(api, pump, *, at=FILLED_AT, daily_dose_mcg=250, prescription=None):
    """The first fill: 20 mL at 500 mcg/mL."""
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": at,
            "volume_withdrawn_ml": "0",
            "volume_added_ml": "20",
            "concentration_mcg_per_ml": "500",
            "prescription": prescription or simple(daily_dose_mcg),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def filled(api, pump):
    """250 mcg/day at 500 mcg/mL since 2026-03-01 10:00Z."""
    fill(api, pump)
    return pump


def prescribe(client, pump, *, at, prescription, reason="dose adjusted", **extra):
    return client.post(
        f"/api/v1/pumps/{pump.pk}/prescriptions/",
        {"effective_at": at, "prescription": prescription, "reason": reason, **extra},
        format="json",
    )


# --- a plain change -------------------------------------------------------------------------


@pytest.mark.rule("DOSE-1", "LRA-1", "LRA-2")
def test_a_prescription_change_is_stored_and_projected(api, filled):
    response = prescribe(
        api, filled, at="2026-03-11T10:00:00Z", prescription=simple(300), reason="night spasms"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["pump"] == filled.pk
    assert body["mode"] == "simple_continuous"
    assert body["daily_dose_mcg"] == "300.0"
    assert body["drug"] == "baclofen"
    assert body["concentration_mcg_per_ml"] == "500.00"  # the concentration in the reservoir
    assert body["prescriber"] == "nurse"
    assert body["reason"] == "night spasms"
    assert body["override_reason"] == ""
    assert body["refill"] is None
    # 20 - 10 days x 0.5 mL/day = 15 mL at the change; then 300 / 500 = 0.6 mL/day:
    # (15 - 2) / 0.6 = 21.667 days = 21 d 16 h -> 2026-04-02 02:00Z.
    assert body["projection"]["low_reservoir_alarm_at"] == "2026-04-02T02:00:00Z"
    row = Prescription.objects.get(pk=body["id"])
    assert row.effective_at == datetime(2026, 3, 11, 10, tzinfo=UTC)
    assert row.schedule == {"mode": "simple_continuous", "daily_dose_mcg": "300"}
    # MRI-1: only a prescription said to empty the reservoir empties it; the fill's neither
    assert not row.empties_reservoir
    assert not Prescription.objects.get(refill__isnull=False).empties_reservoir


@pytest.mark.rule("DOSE-1", "DOSE-2")
def test_flex_and_periodic_bolus_prescriptions_store_their_daily_dose(api, filled):
    flex = {
        "mode": "flex",
        "steps": [
            {"start": "00:00", "dose_mcg_per_hour": "10"},
            {"start": "08:00", "dose_mcg_per_hour": "12"},
        ],
    }
    # 8 h x 10 + 16 h x 12 = 80 + 192 = 272 mcg/day (<= 325)
    response = prescribe(api, filled, at="2026-03-11T10:00:00Z", prescription=flex)
    assert response.status_code == 201, response.json()
    assert response.json()["daily_dose_mcg"] == "272.0"
    assert response.json()["prescription"]["steps"][1] == {"start": "08:00", "dose_mcg_per_hour": "12"}
    bolus = {
        "mode": "periodic_bolus",
        "basal_daily_dose_mcg": "200",
        "boluses": [{"time": "06:00", "dose_mcg": "25", "duration_minutes": 30}],
        "patient_activated_bolus": {"dose_mcg": "10", "max_per_day": 4, "lockout_minutes": 120},
    }
    # 200 + 25 + 4 x 10 (patient-activated boluses at their maximum) = 265 mcg/day
    response = prescribe(api, filled, at="2026-03-12T10:00:00Z", prescription=bolus)
    assert response.status_code == 201, response.json()
    assert response.json()["daily_dose_mcg"] == "265.0"


# --- refusals ------------------------------------------------------------------------------


def test_a_prescription_before_any_fill_is_refused(api, pump):
    before = counts()
    assert_refused(
        prescribe(api, pump, at="2026-03-11T10:00:00Z", prescription=simple(250)),
        "effective_at",
        "never_filled",
    )
    assert counts() == before


@pytest.mark.rule("REFILL-2")
@pytest.mark.parametrize(
    "at",
    [
        "2026-11-26T12:00:01Z",  # after "now"
        "2027-01-01T00:00:00Z",
        "2026-03-01T10:00:00Z",  # at the fill: must be after the last recorded event
        "2026-02-01T10:00:00Z",  # before the fill
    ],
)
def test_a_prescription_out_of_time_order_is_refused(api, filled, at):
    before = counts()
    assert_refused(prescribe(api, filled, at=at, prescription=simple(250)), "effective_at")
    assert counts() == before


@pytest.mark.rule("REFILL-2")
def test_a_prescription_before_the_implant_is_refused(api, filled):
    before = counts()
    body = assert_refused(
        prescribe(api, filled, at="2026-01-01T10:00:00Z", prescription=simple(250)), "effective_at"
    )
    assert "implant" in body["detail"]
    assert counts() == before


@pytest.mark.parametrize(
    "prescription, field",
    [
        (simple(-1), "prescription.daily_dose_mcg"),
        (
            {
                "mode": "flex",
                "steps": [
                    {"start": "00:00", "dose_mcg_per_hour": "10"},
                    {"start": "12:00", "dose_mcg_per_hour": "10"},
                    {"start": "12:00", "dose_mcg_per_hour": "11"},
                ],
            },
            "prescription.steps[2].start",
        ),
        (
            {"mode": "flex", "steps": [{"start": "06:00", "dose_mcg_per_hour": "10"}]},
            "prescription.steps[0].start",
        ),
        (
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "200",
                "boluses": [{"time": "-01:00", "dose_mcg": "20", "duration_minutes": 10}],
            },
            "prescription.boluses[0].time",
        ),
    ],
)
@pytest.mark.rule("DOSE-1")
def test_bad_prescriptions_are_refused(api, filled, prescription, field):
    before = counts()
    assert_refused(prescribe(api, filled, at="2026-03-11T10:00:00Z", prescription=prescription), field)
    assert counts() == before


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_prescription_change_needs_a_reason(api, filled, reason):
    before = counts()
    assert_refused(
        prescribe(api, filled, at="2026-03-11T10:00:00Z", prescription=simple(250), reason=reason), "reason"
    )
    assert counts() == before


def test_a_missing_reason_is_named(api, filled):
    response = api.post(
        f"/api/v1/pumps/{filled.pk}/prescriptions/",
        {"effective_at": "2026-03-11T10:00:00Z", "prescription": simple(250)},
        format="json",
    )
    assert_refused(response, "reason", "invalid")


# --- TITRATE-1 ---------------------------------------------------------------------------


@pytest.mark.rule("TITRATE-1")
def test_spinal_adult_may_increase_by_30_percent(api, filled):
    # 250 x 1.30 = 325 mcg/day is the ceiling.
    assert prescribe(api, filled, at="2026-03-11T10:00:00Z", prescription=simple(325)).status_code == 201


@pytest.mark.rule("TITRATE-1")
def test_an_increase_over_the_limit_is_refused_with_its_numbers(api, filled):
    before = counts()
    body = assert_refused(
        prescribe(api, filled, at="2026-03-11T10:00:00Z", prescription=simple("325.1")),
        "prescription",
        "titration_limit_exceeded",
    )
    assert body["limit_pct"] == "30.0"
    assert body["lowest_daily_dose_mcg"] == "250.0"
    assert body["max_allowed_daily_dose_mcg"] == "325.0"
    assert "325.0" in body["detail"]
    assert counts() == before


@pytest.mark.rule("TITRATE-1")
def test_small_steps_cannot_add_up_past_the_limit(api, filled):
    # 250 in effect until 2026-03-11 10:00Z, then 300 (+20 %).
    assert prescribe(api, filled, at="2026-03-11T10:00:00Z", prescription=simple(300)).status_code == 201
    # At 2026-03-11 20:00Z the 24-hour window opens at 2026-03-10 20:00Z with 250 in effect:
    # the ceiling stays 250 x 1.3 = 325, not 300 x 1.3 = 390.
    before = counts()
    body = assert_refused(
        prescribe(api, filled, at="2026-03-11T20:00:00Z", prescription=simple(350)),
        "prescription",
        "titration_limit_exceeded",
    )
    assert body["lowest_daily_dose_mcg"] == "250.0"
    assert counts() == before
    assert prescribe(api, filled, at="2026-03-11T20:00:00Z", prescription=simple(325)).status_code == 201
    # At 2026-03-12 11:00Z the window opens at 2026-03-11 11:00Z with 300 in effect, then 325:
    # 250 has left the window, the lowest is 300 -> ceiling 300 x 1.3 = 390.
    at = "2026-03-12T11:00:00Z"
    assert_refused(
        prescribe(api, filled, at=at, prescription=simple(391)), "prescription", "titration_limit_exceeded"
    )
    assert prescribe(api, filled, at=at, prescription=simple(390)).status_code == 201


@pytest.mark.rule("TITRATE-1")
def test_no_increase_in_the_first_24_hours_of_therapy(api, filled):
    before = counts()
    body = assert_refused(
        prescribe(api, filled, at="2026-03-02T09:00:00Z", prescription=simple(251)),
        "prescription",
        "titration_limit_exceeded",
    )
    assert body["max_allowed_daily_dose_mcg"] == "250.0"
    assert counts() == before
    # A decrease is always fine.
    assert prescribe(api, filled, at="2026-03-02T09:00:00Z", prescription=simple(200)).status_code == 201


@pytest.mark.rule("TITRATE-1")
@pytest.mark.parametrize(
    "origin, birth_date, allowed, refused",
    [
        ("cerebral", date(1980, 5, 17), "287.5", "288"),  # 250 x 1.15 = 287.5
        ("spinal", date(2010, 5, 17), "287.5", "288"),  # 15 years old on 2026-03-11: 15 %
        ("cerebral", date(2010, 5, 17), "287.5", "288"),
    ],
)
def test_cerebral_and_paediatric_limits_are_15_percent(
    api, filled, patient, origin, birth_date, allowed, refused
):
    patient.spasticity_origin = origin
    patient.birth_date = birth_date
    patient.save()
    at = "2026-03-11T10:00:00Z"
    assert_refused(
        prescribe(api, filled, at=at, prescription=simple(refused)),
        "prescription",
        "titration_limit_exceeded",
    )
    assert prescribe(api, filled, at=at, prescription=simple(allowed)).status_code == 201


@pytest.mark.rule("TITRATE-1")
def test_the_age_that_sets_the_limit_is_on_the_clinics_date(api, filled, patient):
    # A clinic in Auckland (UTC+13 in March), a spinal-origin patient born 11 Mar 2008.
    # At 12:00 UTC on 10 March it is already 01:00 on 11 March in Auckland: 18 years
    # old, the adult limit (30 %: 250 x 1.3 = 325) — on the UTC date she would still be 17
    # (15 %: 287.5). An hour before midnight in Auckland (10:00 UTC) she is 17.
    clinic = patient.clinic
    clinic.timezone = "Pacific/Auckland"
    clinic.save()
    patient.spasticity_origin = "spinal"
    patient.birth_date = date(2008, 3, 11)
    patient.save()
    assert_refused(
        prescribe(api, filled, at="2026-03-10T10:00:00Z", prescription=simple(325)),
        "prescription",
        "titration_limit_exceeded",
    )
    assert prescribe(api, filled, at="2026-03-10T12:00:00Z", prescription=simple(325)).status_code == 201


@pytest.mark.rule("TITRATE-1")
def test_a_physician_overrides_the_limit_with_a_written_reason(filled, physician):
    response = prescribe(
        client_for(physician),
        filled,
        at="2026-03-11T10:00:00Z",
        prescription=simple(400),
        reason="uncontrolled spasticity",
        override_reason="tolerated 400 mcg/day before the pump replacement",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["override_reason"] == "tolerated 400 mcg/day before the pump replacement"
    assert body["prescriber"] == "physician"
    record = Prescription.objects.get(pk=body["id"]).history.latest()
    assert record.history_user.username == "physician"
    assert record.history_change_reason == (
        "uncontrolled spasticity — override (titration_limit_exceeded): "
        "tolerated 400 mcg/day before the pump replacement"
    )
    # An increase raises no discontinuation alert (the pump, filled in March, is past its
    # projected empty time by the test's "now": that state has its own alert).
    assert not Alert.objects.filter(kind="discontinuation").exists()


@pytest.mark.rule("TITRATE-1")
def test_a_nurse_sending_an_override_reason_gets_403(api, filled):
    before = counts()
    response = prescribe(
        api, filled, at="2026-03-11T10:00:00Z", prescription=simple(400), override_reason="the doctor said so"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"
    assert response.json()["detail"] == (
        "Overriding a titration limit, a starting dose or a discontinuation needs the physician "
        "role at clinic HOME (yours: nurse)"
    )
    assert counts() == before


@pytest.mark.rule("TITRATE-1")
def test_an_override_reason_within_the_limit_is_not_stored(api, filled):
    response = prescribe(
        api, filled, at="2026-03-11T10:00:00Z", prescription=simple(300), override_reason="n/a"
    )
    assert response.status_code == 201
    assert response.json()["override_reason"] == ""


# --- TITRATE-2 ---------------------------------------------------------------------------

STOP_FLEX = {
    "mode": "flex",
    "steps": [{"start": "00:00", "dose_mcg_per_hour": "0"}, {"start": "12:00", "dose_mcg_per_hour": "0"}],
}


@pytest.mark.rule("TITRATE-2")
@pytest.mark.parametrize("prescription", [simple(0), STOP_FLEX])
def test_discontinuation_needs_an_override(api, filled, prescription):
    before = counts()
    body = assert_refused(
        prescribe(api, filled, at="2026-03-11T10:00:00Z", prescription=prescription),
        "prescription",
        "discontinuation_requires_override",
    )
    assert "withdrawal" in body["detail"]
    assert counts() == before


@pytest.mark.rule("TITRATE-2")
def test_a_nurse_cannot_discontinue_even_with_a_reason(api, filled):
    before = counts()
    response = prescribe(
        api, filled, at="2026-03-11T10:00:00Z", prescription=simple(0), override_reason="patient asked"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"
    assert counts() == before


@pytest.mark.rule("TITRATE-2")
def test_a_physician_discontinues_with_an_override_and_a_critical_alert_is_raised(api, filled, physician):
    response = prescribe(
        client_for(physician),
        filled,
        at="2026-03-11T10:00:00Z",
        prescription=simple(0),
        reason="explant planned",
        override_reason="infection of the pump pocket; oral baclofen started",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["daily_dose_mcg"] == "0.0"
    assert body["override_reason"] == "infection of the pump pocket; oral baclofen started"
    assert "no_delivery" in [w["code"] for w in body["projection"]["warnings"]]
    assert body["projection"]["low_reservoir_alarm_at"] is None
    # The alert is visible to every staff member of the clinic, the nurse included.
    alerts = api.get("/api/v1/alerts/?kind=discontinuation").json()
    assert alerts["count"] == 1
    alert = alerts["results"][0]
    assert alert["kind"] == "discontinuation"
    assert alert["severity"] == "critical"
    assert alert["clinic"] == "HOME"
    assert alert["pump"] == filled.pk
    assert alert["raised_by"] == "physician"
    assert alert["acknowledged_at"] is None
    assert "infection of the pump pocket" in alert["message"]
    assert "withdrawal" in alert["message"]
    assert api.get("/api/v1/alerts/?open=1&kind=discontinuation").json()["count"] == 1
    assert api.get(f"/api/v1/alerts/?pump={filled.pk}&kind=discontinuation").json()["count"] == 1
    record = Prescription.objects.get(pk=body["id"]).history.latest()
    assert "override (discontinuation_requires_override)" in record.history_change_reason


@pytest.mark.rule("TITRATE-2")
def test_another_clinic_does_not_see_the_discontinuation_alert(filled, physician, outsider):
    prescribe(
        client_for(physician),
        filled,
        at="2026-03-11T10:00:00Z",
        prescription=simple(0),
        override_reason="explant",
    )
    assert Alert.objects.filter(kind="discontinuation").count() == 1
    listing = client_for(outsider).get("/api/v1/alerts/").json()
    assert listing["count"] == 0
    alert = Alert.objects.get(kind="discontinuation")
    assert client_for(outsider).get(f"/api/v1/alerts/{alert.pk}/").status_code == 404


def test_prescriptions_list_is_paginated_newest_first(api, filled):
    prescribe(api, filled, at="2026-03-11T10:00:00Z", prescription=simple(300))
    body = api.get(f"/api/v1/pumps/{filled.pk}/prescriptions/").json()
    assert body["count"] == 2
    assert [p["daily_dose_mcg"] for p in body["results"]] == ["300.0", "250.0"]
    assert body["results"][1]["refill"] == Refill.objects.get().pk


# --- DOSE-3: the pump clock ---------------------------------------------------------------

FLEX_48 = {
    # 12 h x 1.5 + 12 h x 2.5 = 18 + 30 = 48 mcg/day; at 500 mcg/mL 0.096 mL/day
    "mode": "flex",
    "steps": [{"start": "00:00", "dose_mcg_per_hour": "1.5"}, {"start": "12:00", "dose_mcg_per_hour": "2.5"}],
}


@pytest.fixture
def new_york(clinic):
    clinic.timezone = "America/New_York"
    clinic.save()
    return clinic


def offsets(api, pump) -> list[int]:
    listing = api.get(f"/api/v1/pumps/{pump.pk}/prescriptions/").json()["results"]
    return [p["clock_utc_offset_minutes"] for p in reversed(listing)]


@pytest.mark.rule("DOSE-3")
def test_pump_clock_offset_is_the_clinic_offset_when_programmed(api, pump, new_york):
    # 2026-07-01 14:00Z = 10:00 EDT (UTC-4) -> -240 minutes.
    fill(api, pump, at="2026-07-01T14:00:00Z")
    # 2026-11-20 15:00Z = 10:00 EST (UTC-5, after 2026-11-01) -> -300 minutes.
    response = prescribe(api, pump, at="2026-11-20T15:00:00Z", prescription=simple(250))
    assert response.status_code == 201, response.json()
    assert response.json()["clock_utc_offset_minutes"] == -300
    assert offsets(api, pump) == [-240, -300]


@pytest.mark.rule("DOSE-3")
def test_a_clinic_in_utc_programs_a_zero_offset(api, filled):
    assert offsets(api, filled) == [0]


@pytest.mark.rule("DOSE-3")
def test_a_flex_schedule_warns_of_the_daylight_saving_change_before_the_next_refill(api, pump, new_york):
    # Programmed 2026-11-20 10:00 EST (-300). Worst case 0.096 x 1.145 = 0.10992 mL/day, so the
    # 18 mL to the alarm last about 163.8 days (early May 2027): the refill-by date lies after
    # New York's change to summer time on 2027-03-14.
    body = fill(api, pump, at="2026-11-20T15:00:00Z", prescription=FLEX_48)
    assert offsets(api, pump) == [-300]
    warnings = {w["code"]: w["message"] for w in body["projection"]["warnings"]}
    assert "daylight_saving_change" in warnings
    assert "14 Mar 2027" in warnings["daylight_saving_change"]
    assert "1 hour" in warnings["daylight_saving_change"]
    projection = api.get(f"/api/v1/pumps/{pump.pk}/projection/").json()
    assert "daylight_saving_change" in [w["code"] for w in projection["warnings"]]


@pytest.mark.rule("DOSE-3")
def test_a_continuous_prescription_has_no_clock_warning(api, pump, new_york):
    body = fill(api, pump, at="2026-11-20T15:00:00Z", daily_dose_mcg=48)
    assert body["projection"]["warnings"] == []


@pytest.mark.rule("DOSE-3")
def test_a_flex_schedule_programmed_in_summer_runs_off_the_winter_wall_clock(api, pump, new_york):
    # Programmed in July at -240; "now" (2026-11-26) New York is at -300.
    body = fill(api, pump, at="2026-07-01T14:00:00Z", prescription=FLEX_48)
    codes = [w["code"] for w in body["projection"]["warnings"]]
    assert "clock_off_wall_clock" in codes


# --- TITRATE-2 at the stored precision --------------------------------------------------------

NEAR_ZERO = [
    simple("0.0000001"),  # stored as 0.0
    simple("0.04"),  # 0.04 -> 0.0 at 0.1 mcg
    # 24 h x 0.0001 mcg/h = 0.0024 mcg/day -> 0.0
    {"mode": "flex", "steps": [{"start": "00:00", "dose_mcg_per_hour": "0.0001"}]},
]


@pytest.mark.rule("TITRATE-2")
@pytest.mark.parametrize("prescription", NEAR_ZERO)
def test_a_dose_that_rounds_to_zero_is_refused_for_a_nurse(api, filled, prescription):
    """Before: 0.0000001 or 0.04 mcg/day (or a flex rate of 0.0001 mcg/h) was accepted from a
    nurse as a plain decrease and stored as 0.0: the pump stopped with no override and no alert."""
    before = counts()
    body = assert_refused(
        prescribe(api, filled, at="2026-03-11T10:00:00Z", prescription=prescription),
        "prescription",
        "discontinuation_requires_override",
    )
    message = body["errors"]["prescription"][0]
    assert "withdrawal" in message and "override" in message
    assert "daily_dose_mcg" not in message and "dose_mcg_per_hour" not in message  # the nurse's words
    assert counts() == before
    # nor with a reason: the override is a prescriber's
    response = prescribe(
        api, filled, at="2026-03-11T10:00:00Z", prescription=prescription, override_reason="asked"
    )
    assert response.status_code == 403
    assert counts() == before


@pytest.mark.rule("TITRATE-2")
@pytest.mark.parametrize("prescription", NEAR_ZERO)
def test_a_physician_stopping_with_a_dose_that_rounds_to_zero_raises_the_alert(
    filled, physician, prescription
):
    response = prescribe(
        client_for(physician),
        filled,
        at="2026-03-11T10:00:00Z",
        prescription=prescription,
        override_reason="pocket infection; oral baclofen started",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["daily_dose_mcg"] == "0.0"
    alert = Alert.objects.get(kind="discontinuation")
    assert alert.severity == "critical"
    assert "pocket infection" in alert.message
    # the time in the clinic's words, not an ISO string
    assert "Wed 11 Mar 2026 10:00 UTC" in alert.message
    assert "2026-03-11T10:00" not in alert.message


@pytest.mark.rule("TITRATE-2")
def test_a_refill_with_a_dose_that_rounds_to_zero_is_refused_for_a_nurse(api, filled):
    before = counts()
    response = api.post(
        f"/api/v1/pumps/{filled.pk}/refills/",
        {
            "performed_at": "2026-03-20T10:00:00Z",
            # 250 mcg/day for 19 days at 500 mcg/mL: 20 - 9.5 = 10.5 mL expected
            "volume_withdrawn_ml": "10.5",
            "volume_added_ml": "20",
            "concentration_mcg_per_ml": "500",
            "prescription": simple("0.04"),
        },
        format="json",
    )
    assert_refused(response, "prescription", "discontinuation_requires_override")
    assert counts() == before


@pytest.mark.rule("TITRATE-1")
def test_limits_are_computed_from_the_exact_daily_dose(api, pump):
    # First fill: flex 10.01 mcg/h all day = 240.24 mcg/day, stored rounded as 240.2.
    flex = {"mode": "flex", "steps": [{"start": "00:00", "dose_mcg_per_hour": "10.01"}]}
    body = fill(api, pump, prescription=flex)
    assert body["prescription"]["steps"][0]["dose_mcg_per_hour"] == "10.01"
    # Exact ceiling 240.24 x 1.3 = 312.312; from the stored 240.2 it would be 312.26, refusing 312.3.
    response = prescribe(api, pump, at="2026-03-11T10:00:00Z", prescription=simple("312.3"))
    assert response.status_code == 201, response.json()


@pytest.mark.rule("REFILL-2")
def test_a_prescription_time_without_offset_is_the_clinics_local_time(api, filled, clinic):
    # New York, Sun 8 Mar 2026: 2:00 AM EST jumps to 3:00 AM EDT.
    clinic.timezone = "America/New_York"
    clinic.save()
    before = counts()
    body = assert_refused(
        prescribe(api, filled, at="2026-03-08T02:30:00", prescription=simple(250)), "effective_at"
    )
    assert "does not exist" in body["errors"]["effective_at"][0]
    assert counts() == before
    # 3:30 AM EDT (UTC−4) is 07:30Z.
    response = prescribe(api, filled, at="2026-03-08T03:30:00", prescription=simple(250))
    assert response.status_code == 201, response.json()
    assert Prescription.objects.get(pk=response.json()["id"]).effective_at == datetime(
        2026, 3, 8, 7, 30, tzinfo=UTC
    )


@pytest.mark.rule("MRI-1", "TITRATE-2")
def test_a_prescription_that_empties_the_reservoir_is_stored_so(filled, physician):
    from refills.services import prescription_create

    change = prescription_create(
        actor=physician,
        pump=filled,
        effective_at=datetime(2026, 3, 11, 10, tzinfo=UTC),
        prescription=simple(0),
        reason="emptied for an MRI",
        override_reason="MRI of the spine",
        empties_reservoir=True,
    )
    assert Prescription.objects.get(pk=change.prescription.pk).empties_reservoir
