"""POST /api/v1/pumps/{id}/refills/: the residual and its discrepancy (REFILL-1), the
refusals (REFILL-2, DOSE-1, DOSE-4, a drug change), the bridge bolus (REFILL-3, BRIDGE-1,
BRIDGE-2) and the titration limit at a refill (TITRATE-1).

Every refusal is a 400 naming the field and writes nothing: the row counts, history rows
included, are compared before and after.

"Now" is frozen at 2026-11-26T12:00Z for the therapy services and selectors, so the
projections do not drift with the calendar; every event is earlier in 2026.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from patients.models import CatheterModel, Drug, PumpModel
from refills.models import Prescription, Refill
from tests.conftest import client_for
from tests.factories import PumpFactory
from tests.helpers import assert_refused, simple
from tests.helpers import therapy_rows as counts

# Every test here runs at NOW (2026-11-26T12:00Z), so dates stay in the past as the calendar moves.
pytestmark = pytest.mark.usefixtures("frozen_now")


def refill(api, pump, *, at, added="20", withdrawn="0", conc="500", prescription=None, **extra):
    body = {
        "performed_at": at,
        "volume_withdrawn_ml": withdrawn,
        "volume_added_ml": added,
        "concentration_mcg_per_ml": conc,
        "prescription": prescription if prescription is not None else simple(250),
        **extra,
    }
    return api.post(f"/api/v1/pumps/{pump.pk}/refills/", body, format="json")


def filled(api, pump, **kwargs):
    """The first fill: 20 mL at 500 mcg/mL, 250 mcg/day (0.5 mL/day) on 2026-03-01 10:00Z."""
    kwargs.setdefault("at", "2026-03-01T10:00:00Z")
    response = refill(api, pump, **kwargs)
    assert response.status_code == 201, response.json()
    return response.json()


# --- the first fill ---------------------------------------------------------------------


@pytest.mark.rule("REFILL-1", "LRA-1", "LRA-2", "DOSE-2")
def test_first_fill_has_no_residual_and_projects_the_alarm(api, pump):
    body = filled(api, pump)
    assert body["id"] == Refill.objects.get().pk
    assert body["performed_by"] == "nurse"
    assert body["drug"] == "baclofen"
    # Nothing to withdraw at the first fill: no expected residual, no discrepancy, no bridge.
    assert body["expected_residual_ml"] is None
    assert body["discrepancy_ml"] is None
    assert body["discrepancy"] is None
    assert body["bridge_bolus"] is None
    # 500 mcg/mL is the starting concentration (DOSE-4): no warning about it; the patient has
    # no recorded screening trial, so the starting dose is unchecked (START-2).
    assert [w["code"] for w in body["warnings"]] == ["no_screening_trial"]
    assert body["prescription"] == {"mode": "simple_continuous", "daily_dose_mcg": "250"}
    projection = body["projection"]
    # 250 mcg/day / 500 mcg/mL = 0.5 mL/day; 20 - 2 = 18 mL to the alarm = 36 days,
    # 20 mL to empty = 40 days after 2026-03-01 10:00Z.
    assert projection["daily_volume_ml"] == "0.500"
    assert projection["low_reservoir_alarm_at"] == "2026-04-06T10:00:00Z"
    assert projection["empty_at"] == "2026-04-10T10:00:00Z"
    prescription = Prescription.objects.get()
    assert prescription.refill_id == body["id"]
    assert prescription.daily_dose_mcg == Decimal("250.0")
    assert prescription.created_by.username == "nurse"


@pytest.mark.rule("DOSE-4")
def test_first_fill_at_another_supplied_concentration_warns_about_the_starting_one(api, pump):
    body = filled(api, pump, conc="1000")
    assert [w["code"] for w in body["warnings"]] == ["not_starting_concentration", "no_screening_trial"]
    assert "500" in body["warnings"][0]["message"]


# --- REFILL-1: expected residual and discrepancy ------------------------------------------


@pytest.mark.rule("REFILL-1", "LRA-1")
@pytest.mark.parametrize(
    "withdrawn, discrepancy_ml, direction",
    [
        # Expected residual after 10 days at 0.5 mL/day: 20 - 10 x 0.5 = 15.00 mL.
        ("15.3", "0.30", None),  # within the 1.0 mL threshold of a 20 mL SynchroMed II
        ("16.0", "1.00", None),  # exactly the threshold: flagged only when greater
        ("16.5", "1.50", "more_than_expected"),  # under-delivery: stall or occlusion
        ("13.5", "-1.50", "less_than_expected"),  # over-delivery, leak, pocket fill
        ("13.99", "-1.01", "less_than_expected"),
    ],
)
def test_refill_expected_residual_and_discrepancy(api, pump, withdrawn, discrepancy_ml, direction):
    filled(api, pump)
    response = refill(api, pump, at="2026-03-11T10:00:00Z", withdrawn=withdrawn, added="18")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["expected_residual_ml"] == "15.00"
    assert body["discrepancy_ml"] == discrepancy_ml
    assert body["discrepancy"] == direction
    assert body["bridge_bolus"] is None  # BRIDGE-2: same concentration, no bridge
    row = Refill.objects.get(pk=body["id"])
    assert row.expected_residual_ml == Decimal("15.00")
    assert row.discrepancy == direction
    # The new reservoir: 18 mL at 0.5 mL/day from 2026-03-11 10:00Z -> 16 mL to the alarm = 32 days.
    assert body["projection"]["low_reservoir_alarm_at"] == "2026-04-12T10:00:00Z"


@pytest.mark.rule("REFILL-1", "LRA-1")
def test_expected_residual_follows_a_prescription_change_between_refills(api, pump):
    filled(api, pump)
    # 2026-03-06 10:00Z: 300 mcg/day (+20 %) = 0.6 mL/day.
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/prescriptions/",
        {"effective_at": "2026-03-06T10:00:00Z", "prescription": simple(300), "reason": "more spasticity"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    # Expected at 2026-03-11 10:00Z: 20 - 5 x 0.5 - 5 x 0.6 = 20 - 2.5 - 3.0 = 14.50 mL.
    body = refill(api, pump, at="2026-03-11T10:00:00Z", withdrawn="14.5", prescription=simple(300)).json()
    assert body["expected_residual_ml"] == "14.50"
    assert body["discrepancy_ml"] == "0.00"
    assert body["discrepancy"] is None


# --- REFILL-2 and DOSE-1: refusals that write nothing -------------------------------------


@pytest.mark.rule("REFILL-2")
@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"added": "20.01"}, "volume_added_ml"),  # overfills the 20 mL reservoir
        ({"added": "40"}, "volume_added_ml"),
        ({"added": "0"}, "volume_added_ml"),
        ({"added": "-5"}, "volume_added_ml"),
        ({"withdrawn": "-1"}, "volume_withdrawn_ml"),
        ({"conc": "0", "compounded_confirmed": True}, "concentration_mcg_per_ml"),
        ({"conc": "-500", "compounded_confirmed": True}, "concentration_mcg_per_ml"),
        ({"conc": "0"}, "concentration_mcg_per_ml"),
        ({"at": "2026-11-27T09:00:00Z"}, "performed_at"),  # after "now", 2026-11-26 12:00Z
        ({"at": "2026-03-01T10:00:00Z"}, "performed_at"),  # at the previous fill: not after it
        ({"at": "2026-02-28T10:00:00Z"}, "performed_at"),  # before the previous fill
    ],
)
def test_refill_refusals_name_the_field_and_write_nothing(api, pump, overrides, field):
    filled(api, pump)
    before = counts()
    kwargs = {"at": "2026-03-11T10:00:00Z", "withdrawn": "15"} | overrides
    assert_refused(refill(api, pump, **kwargs), field)
    assert counts() == before


@pytest.mark.rule("REFILL-2")
def test_first_fill_before_the_implant_is_refused(api, pump):
    before = counts()
    # The pump was implanted on 2026-01-02 (a local date of the UTC clinic).
    assert_refused(refill(api, pump, at="2026-01-01T23:59:00Z"), "performed_at")
    assert counts() == before
    # The day of the implant itself is fine.
    assert refill(api, pump, at="2026-01-02T16:00:00Z").status_code == 201


@pytest.mark.rule("REFILL-2")
def test_implant_date_is_read_in_the_clinic_time_zone(api, pump, clinic):
    clinic.timezone = "America/New_York"
    clinic.save()
    # 2026-01-02 03:00Z is 2026-01-01 22:00 in New York: before the implant date.
    assert_refused(refill(api, pump, at="2026-01-02T03:00:00Z"), "performed_at")
    # 2026-01-02 06:00Z is 01:00 on the implant day in New York.
    assert refill(api, pump, at="2026-01-02T06:00:00Z").status_code == 201


@pytest.mark.rule("REFILL-2")
def test_first_fill_withdraws_nothing(api, pump):
    before = counts()
    assert_refused(refill(api, pump, at="2026-03-01T10:00:00Z", withdrawn="1"), "volume_withdrawn_ml")
    assert counts() == before


@pytest.mark.rule("DOSE-1")
@pytest.mark.parametrize(
    "prescription, field",
    [
        (simple(-5), "prescription.daily_dose_mcg"),
        ({"mode": "simple_continuous", "daily_dose_mcg": "abc"}, "prescription.daily_dose_mcg"),
        ({"mode": "simple_continuous"}, "prescription.daily_dose_mcg"),
        ({"mode": "continuous", "daily_dose_mcg": "250"}, "prescription.mode"),
        ({"mode": "simple_continuous", "daily_dose_mcg": "250", "steps": []}, "prescription.steps"),
        ("250 mcg a day", "prescription"),
        # flex: the first step must start at 00:00 so the steps cover 24 h
        (
            {"mode": "flex", "steps": [{"start": "01:00", "dose_mcg_per_hour": "10"}]},
            "prescription.steps[0].start",
        ),
        # flex: overlapping / out-of-order starts
        (
            {
                "mode": "flex",
                "steps": [
                    {"start": "00:00", "dose_mcg_per_hour": "10"},
                    {"start": "08:00", "dose_mcg_per_hour": "12"},
                    {"start": "06:00", "dose_mcg_per_hour": "8"},
                ],
            },
            "prescription.steps[2].start",
        ),
        (
            {
                "mode": "flex",
                "steps": [
                    {"start": "00:00", "dose_mcg_per_hour": "10"},
                    {"start": "00:00", "dose_mcg_per_hour": "12"},
                ],
            },
            "prescription.steps[1].start",
        ),
        (
            {
                "mode": "flex",
                "steps": [
                    {"start": "00:00", "dose_mcg_per_hour": "10"},
                    {"start": "12:00", "dose_mcg_per_hour": "-1"},
                ],
            },
            "prescription.steps[1].dose_mcg_per_hour",
        ),
        (
            {"mode": "flex", "steps": [{"start": "24:00", "dose_mcg_per_hour": "10"}]},
            "prescription.steps[0].start",
        ),
        ({"mode": "flex", "steps": []}, "prescription.steps"),
        # periodic boluses: times from 00:00 to 23:59, positive doses, 1-1440 minutes
        (
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "120",
                "boluses": [{"time": "24:00", "dose_mcg": "50", "duration_minutes": 30}],
            },
            "prescription.boluses[0].time",
        ),
        (
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "120",
                "boluses": [
                    {"time": "06:00", "dose_mcg": "50", "duration_minutes": 30},
                    {"time": "7:60", "dose_mcg": "50", "duration_minutes": 30},
                ],
            },
            "prescription.boluses[1].time",
        ),
        (
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "120",
                "boluses": [{"time": "06:00", "dose_mcg": "0", "duration_minutes": 30}],
            },
            "prescription.boluses[0].dose_mcg",
        ),
        (
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "120",
                "boluses": [{"time": "06:00", "dose_mcg": "50", "duration_minutes": 0}],
            },
            "prescription.boluses[0].duration_minutes",
        ),
        (
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "-1",
                "boluses": [{"time": "06:00", "dose_mcg": "50", "duration_minutes": 30}],
            },
            "prescription.basal_daily_dose_mcg",
        ),
        (
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "120",
                "boluses": [
                    {"time": "06:00", "dose_mcg": "50", "duration_minutes": 90},
                    {"time": "07:00", "dose_mcg": "50", "duration_minutes": 30},
                ],
            },
            "prescription.boluses",
        ),
    ],
)
def test_bad_prescriptions_at_a_refill_are_refused(api, pump, prescription, field):
    before = counts()
    assert_refused(refill(api, pump, at="2026-03-01T10:00:00Z", prescription=prescription), field)
    assert counts() == before


@pytest.mark.rule("TITRATE-2")
def test_a_first_fill_with_a_zero_dose_is_refused(api, pump):
    before = counts()
    body = assert_refused(
        refill(api, pump, at="2026-03-01T10:00:00Z", prescription=simple(0)),
        "prescription",
        "discontinuation_requires_override",
    )
    assert "withdrawal" in body["detail"]
    assert counts() == before


@pytest.mark.parametrize(
    "missing",
    ["performed_at", "volume_withdrawn_ml", "volume_added_ml", "concentration_mcg_per_ml", "prescription"],
)
def test_missing_refill_fields_are_named(api, pump, missing):
    body = {
        "performed_at": "2026-03-01T10:00:00Z",
        "volume_withdrawn_ml": "0",
        "volume_added_ml": "20",
        "concentration_mcg_per_ml": "500",
        "prescription": simple(250),
    }
    del body[missing]
    before = counts()
    response = api.post(f"/api/v1/pumps/{pump.pk}/refills/", body, format="json")
    result = assert_refused(response, missing, "invalid")
    assert result["detail"].startswith(f"{missing}:")
    assert counts() == before


# --- DOSE-4: supplied concentrations ----------------------------------------------------


@pytest.mark.rule("DOSE-4")
def test_a_compounded_concentration_needs_confirmation(api, pump):
    filled(api, pump)
    before = counts()
    body = assert_refused(
        refill(api, pump, at="2026-03-11T10:00:00Z", withdrawn="15", conc="750", prescription=simple(250)),
        "concentration_mcg_per_ml",
        "compounded_not_confirmed",
    )
    assert "50, 500, 1000, 2000" in body["detail"]
    assert counts() == before


@pytest.mark.rule("DOSE-4")
def test_a_confirmed_compounded_concentration_is_recorded(api, pump):
    # A first fill at a compounded 750 mcg/mL: no bridge at a first fill.
    response = refill(api, pump, at="2026-03-01T10:00:00Z", conc="750", compounded_confirmed=True)
    assert response.status_code == 201, response.json()
    row = Refill.objects.get()
    assert row.compounded_confirmed is True
    assert row.concentration_mcg_per_ml == Decimal("750")
    # 250 mcg/day / 750 mcg/mL = 1/3 mL/day; 18 mL to the alarm = 54 days.
    assert response.json()["projection"]["low_reservoir_alarm_at"] == "2026-04-24T10:00:00Z"


@pytest.mark.rule("DOSE-4")
@pytest.mark.parametrize("conc", ["50", "500", "1000", "2000"])
def test_supplied_concentrations_need_no_confirmation(api, pump, conc):
    assert refill(api, pump, at="2026-03-01T10:00:00Z", conc=conc).status_code == 201


# --- the drug ---------------------------------------------------------------------------


def test_a_drug_change_at_a_refill_is_refused(api, pump):
    Drug.objects.create(
        code="morphine", name="Morphine intrathecal", supplied_concentrations_mcg_per_ml=["1000"]
    )
    filled(api, pump)
    before = counts()
    assert_refused(
        refill(api, pump, at="2026-03-11T10:00:00Z", withdrawn="15", drug="morphine"),
        "drug",
        "drug_change_refused",
    )
    assert counts() == before
    # Naming the drug already in the pump is fine.
    response = refill(api, pump, at="2026-03-11T10:00:00Z", withdrawn="15", drug="baclofen")
    assert response.status_code == 201, response.json()


def test_an_unknown_drug_code_is_refused(api, pump):
    before = counts()
    body = assert_refused(refill(api, pump, at="2026-03-01T10:00:00Z", drug="nosuchdrug"), "drug")
    assert "baclofen" in body["errors"]["drug"][0]  # the allowed codes are listed
    assert counts() == before


# --- REFILL-3 / BRIDGE-1 / BRIDGE-2 -------------------------------------------------------


def prometra_pump(patient, *, catheter="11823", length=60):
    return PumpFactory(
        patient=patient,
        model=PumpModel.objects.get(code="13827"),
        implanted_on=date(2026, 1, 2),
        catheter_model=CatheterModel.objects.get(code=catheter),
        catheter_length_cm=length,
    )


@pytest.fixture
def prometra_pathway(admin_user):
    """The admin enters the Prometra II 20 mL pathway volume through the catalog API."""
    response = client_for(admin_user).patch(
        "/api/v1/catalog/pump-models/13827/",
        {"pathway_volume_min_ml": "0.26", "pathway_volume_max_ml": "0.30", "reason": "from the IFU"},
        format="json",
    )
    assert response.status_code == 200, response.json()


@pytest.mark.rule("BRIDGE-1", "REFILL-3", "REFILL-1")
def test_worked_bridge_example_for_a_rising_concentration(api, patient, prometra_pathway):
    pump = prometra_pump(patient)
    # First fill: 20 mL at 500 mcg/mL, 300 mcg/day = 0.6 mL/day.
    filled(api, pump, prescription=simple(300))
    # Ten days later: 20 - 10 x 0.6 = 14.0 mL expected, 14.0 mL withdrawn; now 1000 mcg/mL.
    response = refill(
        api, pump, at="2026-03-11T10:00:00Z", withdrawn="14.0", conc="1000", prescription=simple(300)
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["expected_residual_ml"] == "14.00"
    assert body["discrepancy"] is None
    # Rising concentration: the minimum pathway volume.
    # V = 0.26 + 60 cm x 0.0026 mL/cm = 0.26 + 0.156 = 0.416 mL
    # rate = 300 mcg/day / 500 mcg/mL = 0.6 mL/day; T = 0.416 / 0.6 = 0.69333 days = 16.64 h
    # programmed V x C_new = 0.416 x 1000 = 416 mcg; delivered V x C_old = 0.416 x 500 = 208 mcg
    assert body["bridge_bolus"] == {
        "path_volume_ml": "0.416",
        "duration_hours": "16.64",
        "programmed_dose_mcg": "416.0",
        "delivered_dose_mcg": "208.0",
    }
    row = Refill.objects.get(pk=body["id"])
    assert row.bridge_from_concentration_mcg_per_ml == Decimal("500")
    assert row.bridge_path_volume_ml == Decimal("0.416")
    # The projection drains V over T first, then 300 mcg/day / 1000 mcg/mL = 0.3 mL/day:
    # 20 - 0.416 = 19.584 mL after 16.64 h; to the 3.0 mL Prometra alarm: 16.584 / 0.3 = 55.28 days
    # = 55 d 6.72 h; alarm = refill + 16.64 h + 55 d 6.72 h = refill + 55 d 23.36 h
    # = 2026-03-11 10:00Z + 55 d 23:21:36 = 2026-05-06 09:21:36Z.
    # (Without the bridge it would be 17 / 0.3 = 56.67 days: 2026-05-07 02:00Z.)
    projection = body["projection"]
    assert projection["low_reservoir_alarm_at"] == "2026-05-06T09:21:36Z"
    # Worst case (tolerance 15 %, LRA-3, DOMAIN's worked example): the bridge runs its whole
    # 16.64 h at 1.15 x the rate, draining 1.15 x 0.416 = 0.4784 mL, then 0.3 x 1.15 = 0.345 mL/day:
    # (20 - 3 - 0.4784) / 0.345 d = 4 137 583.30 s + 59 904 s = 4 197 487 s = 48 d 13:58:07
    # -> 2026-04-28 23:58:07Z; refill-by = 2026-04-28 - 7 days = 2026-04-21 (alarm).
    # (Shortening the bridge instead, as before, gave 2026-04-29 02:08:21Z: 2 h 10 min late.)
    assert projection["low_reservoir_alarm_at_worst_case"] == "2026-04-28T23:58:07Z"
    assert projection["refill_by"] == "2026-04-21"
    assert projection["refill_by_reason"] == "alarm"
    # The same projection is served by GET.
    again = api.get(f"/api/v1/pumps/{pump.pk}/projection/").json()
    assert again["low_reservoir_alarm_at"] == "2026-05-06T09:21:36Z"


@pytest.mark.rule("BRIDGE-1", "REFILL-3")
def test_a_falling_concentration_uses_the_maximum_pathway_volume(api, patient, prometra_pathway):
    pump = prometra_pump(patient)
    # First fill at 1000 mcg/mL, 300 mcg/day = 0.3 mL/day; 10 days later 17.0 mL are left.
    filled(api, pump, conc="1000", prescription=simple(300))
    body = refill(
        api, pump, at="2026-03-11T10:00:00Z", withdrawn="17.0", conc="500", prescription=simple(300)
    ).json()
    assert body["expected_residual_ml"] == "17.00"
    # Falling: V = 0.30 + 60 x 0.0026 = 0.456 mL; rate = 300 / 1000 = 0.3 mL/day;
    # T = 0.456 / 0.3 = 1.52 days = 36.48 h; programmed 0.456 x 500 = 228 mcg;
    # delivered 0.456 x 1000 = 456 mcg (= 300 mcg/day x 1.52 days).
    assert body["bridge_bolus"] == {
        "path_volume_ml": "0.456",
        "duration_hours": "36.48",
        "programmed_dose_mcg": "228.0",
        "delivered_dose_mcg": "456.0",
    }


@pytest.mark.rule("BRIDGE-2")
def test_no_bridge_when_the_concentration_is_unchanged(api, patient, prometra_pathway):
    pump = prometra_pump(patient)
    filled(api, pump, prescription=simple(300))
    body = refill(api, pump, at="2026-03-11T10:00:00Z", withdrawn="14", prescription=simple(300)).json()
    assert body["bridge_bolus"] is None
    assert Refill.objects.get(pk=body["id"]).bridge_path_volume_ml is None


@pytest.mark.rule("BRIDGE-2", "REFILL-3", "PUMP-3")
@pytest.mark.parametrize(
    "conc, field",
    [
        # The shipped SynchroMed II pathway volumes are empty (PUMP-3).
        ("1000", "pump_model.pathway_volume_min_ml"),  # rising: needs the minimum
        ("50", "pump_model.pathway_volume_max_ml"),  # falling: needs the maximum
    ],
)
def test_bridge_refused_while_the_pathway_volume_is_not_configured(api, pump, conc, field):
    filled(api, pump)
    before = counts()
    body = assert_refused(
        refill(api, pump, at="2026-03-11T10:00:00Z", withdrawn="15", conc=conc),
        field,
        "bridge_volume_not_configured",
    )
    assert "not configured" in body["detail"]
    assert counts() == before


@pytest.mark.rule("BRIDGE-2", "PUMP-3")
def test_bridge_refused_while_the_catheter_volume_is_not_configured(api, patient, prometra_pathway):
    # A Prometra pump with a Medtronic catheter whose volume per cm is empty in the catalog.
    pump = prometra_pump(patient, catheter="8709SC", length=50)
    filled(api, pump, prescription=simple(300))
    before = counts()
    assert_refused(
        refill(api, pump, at="2026-03-11T10:00:00Z", withdrawn="14", conc="1000", prescription=simple(300)),
        "catheter_model.volume_ml_per_cm",
        "bridge_volume_not_configured",
    )
    assert counts() == before


# --- TITRATE-1 at a refill ----------------------------------------------------------------


@pytest.mark.rule("TITRATE-1")
def test_the_titration_limit_applies_at_a_refill(api, pump):
    filled(api, pump)  # 250 mcg/day since 2026-03-01
    before = counts()
    # Spinal adult: at most +30 % of 250 = 325 mcg/day.
    body = assert_refused(
        refill(api, pump, at="2026-03-11T10:00:00Z", withdrawn="15", prescription=simple(400)),
        "prescription",
        "titration_limit_exceeded",
    )
    assert body["max_allowed_daily_dose_mcg"] == "325.0"
    assert body["limit_pct"] == "30.0"
    assert counts() == before
    # 325 mcg/day is within the limit.
    response = refill(api, pump, at="2026-03-11T10:00:00Z", withdrawn="15", prescription=simple(325))
    assert response.status_code == 201, response.json()


@pytest.mark.rule("TITRATE-1")
def test_a_physician_overrides_the_titration_limit_at_a_refill(api, pump, physician):
    filled(api, pump)
    response = refill(
        client_for(physician),
        pump,
        at="2026-03-11T10:00:00Z",
        withdrawn="15",
        prescription=simple(400),
        override_reason="severe spasticity after a fall, discussed with the team",
    )
    assert response.status_code == 201, response.json()
    row = Prescription.objects.get(refill_id=response.json()["id"])
    assert row.override_reason == "severe spasticity after a fall, discussed with the team"
    assert "override (titration_limit_exceeded)" in row.history.latest().history_change_reason


@pytest.mark.rule("TITRATE-1")
def test_a_nurse_cannot_override_the_titration_limit_at_a_refill(api, pump):
    filled(api, pump)
    before = counts()
    response = refill(
        api,
        pump,
        at="2026-03-11T10:00:00Z",
        withdrawn="15",
        prescription=simple(400),
        override_reason="please",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"
    assert counts() == before


def test_refills_list_is_paginated_newest_first(api, pump):
    filled(api, pump)
    refill(api, pump, at="2026-03-11T10:00:00Z", withdrawn="15")
    body = api.get(f"/api/v1/pumps/{pump.pk}/refills/").json()
    assert body["count"] == 2
    assert [r["performed_at"] for r in body["results"]] == ["2026-03-11T10:00:00Z", "2026-03-01T10:00:00Z"]
    assert body["results"][0]["prescription"] == {"mode": "simple_continuous", "daily_dose_mcg": "250"}


def test_an_explanted_pump_takes_no_refill(api, pump):
    pump.status = "explanted"
    pump.explanted_on = date(2026, 6, 1)
    pump.save()
    before = counts()
    assert_refused(refill(api, pump, at="2026-03-01T10:00:00Z"), "pump", "explanted")
    assert counts() == before


# --- REFILL-2: a local time typed without an offset, at a daylight-saving change ----------


@pytest.fixture
def new_york_pump(clinic, pump):
    clinic.timezone = "America/New_York"
    clinic.save()
    return pump


def first_fill(api, pump, performed_at):
    return api.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": performed_at,
            "volume_withdrawn_ml": 0,
            "volume_added_ml": 20,
            "concentration_mcg_per_ml": 500,
            "prescription": simple(250),
        },
        format="json",
    )


@pytest.mark.rule("REFILL-2")
def test_a_local_time_skipped_by_the_clocks_is_refused(api, new_york_pump):
    # New York, Sun 8 Mar 2026: 2:00 AM EST jumps to 3:00 AM EDT; 2:30 AM never shows.
    before = counts()
    body = assert_refused(first_fill(api, new_york_pump, "2026-03-08T02:30:00"), "performed_at")
    assert "does not exist" in body["errors"]["performed_at"][0]
    assert counts() == before


@pytest.mark.rule("REFILL-2")
def test_a_local_time_that_happens_twice_needs_its_offset(api, new_york_pump):
    # New York, Sun 1 Nov 2026: 1:30 AM EDT (05:30Z), then 1:30 AM EST (06:30Z).
    before = counts()
    body = assert_refused(first_fill(api, new_york_pump, "2026-11-01T01:30:00"), "performed_at")
    assert "1:30 AM EDT (UTC−4) or 1:30 AM EST (UTC−5)" in body["errors"]["performed_at"][0]
    assert counts() == before
    response = first_fill(api, new_york_pump, "2026-11-01T01:30:00-05:00")
    assert response.status_code == 201, response.json()
    assert response.json()["performed_at"] == "2026-11-01T06:30:00Z"


@pytest.mark.rule("REFILL-2")
def test_a_local_time_without_offset_is_the_clinics_not_the_servers(api, new_york_pump):
    # 10:00 AM in New York on 20 Nov 2026 (EST, UTC−5) is 15:00Z, not 10:00Z.
    response = first_fill(api, new_york_pump, "2026-11-20T10:00:00")
    assert response.status_code == 201, response.json()
    assert response.json()["performed_at"] == "2026-11-20T15:00:00Z"
