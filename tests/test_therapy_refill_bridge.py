"""REFILL-1, REFILL-2, DOSE-4, BRIDGE-1 and BRIDGE-2: refill checks, the residual
discrepancy, concentrations, the bridge bolus and its drain in the reservoir projection.

All expected values are worked out by hand; the arithmetic is in the comments.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction as F
from zoneinfo import ZoneInfo

import pytest

from therapy import (
    BridgeDrain,
    CalculationError,
    Prescription,
    Reservoir,
    TherapyPeriod,
    bridge_bolus,
    bridge_daily_dose_mcg,
    bridge_for_volume,
    check_concentration,
    check_event_time,
    check_refill_volumes,
    parse_prescription,
    project,
    residual_discrepancy,
    time_at_volume,
    volume_at,
)

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
SUPPLIED = [F(50), F(500), F(1000), F(2000)]


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- DOSE-4: supplied and compounded concentrations -----------------------------------------


@pytest.mark.rule("DOSE-4")
@pytest.mark.parametrize("concentration", ["50", "500", "1000", "2000", "500.0"])
def test_supplied_concentrations_need_no_confirmation(concentration):
    check_concentration(
        concentration_mcg_per_ml=F(concentration), supplied=SUPPLIED, compounded_confirmed=False
    )


@pytest.mark.rule("DOSE-4")
@pytest.mark.parametrize("concentration", ["750", "1500", "499.99", "3000"])
def test_compounded_concentration_is_refused_until_confirmed(concentration):
    with pytest.raises(CalculationError) as err:
        check_concentration(
            concentration_mcg_per_ml=F(concentration), supplied=SUPPLIED, compounded_confirmed=False
        )
    assert err.value.field == "concentration_mcg_per_ml"
    assert err.value.code == "compounded_not_confirmed"
    assert "500" in err.value.message and "2000" in err.value.message
    check_concentration(
        concentration_mcg_per_ml=F(concentration), supplied=SUPPLIED, compounded_confirmed=True
    )


# --- REFILL-1: the residual discrepancy -------------------------------------------------------


def _discrepancy(expected, withdrawn, threshold):
    return residual_discrepancy(
        expected_residual_ml=F(expected),
        volume_withdrawn_ml=F(withdrawn),
        threshold_ml=None if threshold is None else F(threshold),
    )


@pytest.mark.rule("REFILL-1")
@pytest.mark.parametrize(
    ("expected", "withdrawn", "threshold", "difference", "direction"),
    [
        # 20 mL model, threshold 1.0 mL
        ("5", "6.00", "1.0", "1.00", None),  # 6.00 - 5.00 = +1.00: not greater than 1.0
        ("5", "6.01", "1.0", "1.01", "more_than_expected"),  # +1.01 > 1.0: under-delivery
        ("5", "4.00", "1.0", "-1.00", None),  # -1.00: |1.00| not greater than 1.0
        ("5", "3.99", "1.0", "-1.01", "less_than_expected"),  # -1.01: over-delivery / leak
        ("5", "5.00", "1.0", "0.00", None),
        # 40 mL model, threshold 2.0 mL
        ("10", "12.00", "2.0", "2.00", None),
        ("10", "12.01", "2.0", "2.01", "more_than_expected"),
        ("10", "7.99", "2.0", "-2.01", "less_than_expected"),
        ("10", "8.50", "2.0", "-1.50", None),  # flagged with 1.0, not with 2.0
        ("10", "8.50", "1.0", "-1.50", "less_than_expected"),
    ],
)
def test_discrepancy_greater_than_threshold_is_flagged_with_direction(
    expected, withdrawn, threshold, difference, direction
):
    d = _discrepancy(expected, withdrawn, threshold)
    assert d.discrepancy_ml == Decimal(difference)
    assert d.direction == direction


@pytest.mark.rule("REFILL-1")
def test_expected_residual_and_difference_are_rounded_to_hundredths():
    # expected 5.004 -> 5.00; withdrawn 6.005 -> 6.01 (half up); 6.01 - 5.00 = 1.01 > 1.0
    d = _discrepancy("5.004", "6.005", "1.0")
    assert d.expected_residual_ml == Decimal("5.00")
    assert d.discrepancy_ml == Decimal("1.01")
    assert d.direction == "more_than_expected"


@pytest.mark.rule("REFILL-1")
def test_discrepancy_refuses_without_a_configured_threshold():
    with pytest.raises(CalculationError) as err:
        _discrepancy("5", "6", None)
    assert err.value.field == "pump_model.discrepancy_threshold_ml"


@pytest.mark.rule("REFILL-1", "LRA-1")
def test_expected_residual_is_the_projected_volume_at_the_refill():
    res = Reservoir(
        filled_at=t("2026-01-05T12:00Z"),
        volume_ml=F(20),
        concentration_mcg_per_ml=F(500),
        periods=(
            TherapyPeriod(
                t("2026-01-05T12:00Z"),
                parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": "250"}),
                0,
            ),
        ),
    )
    # 30 days at 0.5 mL/day: 20 - 15 = 5.00 mL expected; 3.50 withdrawn -> -1.50 < -1.0: less than expected
    expected = volume_at(res, t("2026-02-04T12:00Z"))
    assert expected == 5
    d = residual_discrepancy(expected_residual_ml=expected, volume_withdrawn_ml=F("3.5"), threshold_ml=F(1))
    assert (d.expected_residual_ml, d.discrepancy_ml, d.direction) == (
        Decimal("5.00"),
        Decimal("-1.50"),
        "less_than_expected",
    )
    # 8.00 withdrawn: +3.00 -> more than expected (stall or occlusion: withdrawal risk)
    d = residual_discrepancy(expected_residual_ml=expected, volume_withdrawn_ml=F(8), threshold_ml=F(1))
    assert d.direction == "more_than_expected"


# --- REFILL-2: volumes and times refused ------------------------------------------------------


def _volumes(withdrawn="3", added="20", concentration="500", reservoir="20", first_fill=False):
    check_refill_volumes(
        volume_withdrawn_ml=F(withdrawn),
        volume_added_ml=F(added),
        concentration_mcg_per_ml=F(concentration),
        reservoir_ml=F(reservoir),
        first_fill=first_fill,
    )


@pytest.mark.rule("REFILL-2")
def test_refill_volumes_accepted():
    _volumes()  # 20 mL into a 20 mL reservoir: exactly full is allowed
    _volumes(added="40", reservoir="40")
    _volumes(withdrawn="0", first_fill=True)
    _volumes(withdrawn="0")


@pytest.mark.rule("REFILL-2")
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"added": "20.01"}, "volume_added_ml"),  # overfill of a 20 mL reservoir
        ({"added": "40.5", "reservoir": "40"}, "volume_added_ml"),
        ({"added": "0"}, "volume_added_ml"),
        ({"added": "-5"}, "volume_added_ml"),
        ({"withdrawn": "-0.01"}, "volume_withdrawn_ml"),
        (
            {"withdrawn": "0.5", "first_fill": True},
            "volume_withdrawn_ml",
        ),  # nothing to withdraw at first fill
        ({"concentration": "0"}, "concentration_mcg_per_ml"),
        ({"concentration": "-500"}, "concentration_mcg_per_ml"),
        # the residual comes out of the reservoir: at most its capacity
        ({"withdrawn": "20.01"}, "volume_withdrawn_ml"),
        ({"withdrawn": "500", "added": "40", "reservoir": "40"}, "volume_withdrawn_ml"),
    ],
)
def test_refill_volumes_refused(kwargs, field):
    with pytest.raises(CalculationError) as err:
        _volumes(**kwargs)
    assert err.value.field == field


@pytest.mark.rule("REFILL-2")
def test_an_impossible_withdrawn_volume_is_refused_saying_what_the_reservoir_holds():
    _volumes(withdrawn="20")  # a full 20 mL reservoir can give back 20 mL
    with pytest.raises(CalculationError) as err:
        _volumes(withdrawn="500", added="40", reservoir="40")
    assert err.value.message == "500.00 mL is more than the reservoir holds: at most 40.00 mL"


@pytest.mark.rule("REFILL-2", "DOSE-4")
@pytest.mark.parametrize("concentration", ["-500", "0", "-750"])
def test_a_concentration_of_zero_or_less_says_so_before_asking_for_compounded_confirmation(concentration):
    # the first problem first: -750 mcg/mL is not a compounded concentration to confirm
    for confirmed in (False, True):
        with pytest.raises(CalculationError) as err:
            check_concentration(
                concentration_mcg_per_ml=F(concentration), supplied=SUPPLIED, compounded_confirmed=confirmed
            )
        assert err.value.message == "must be greater than 0 mcg/mL"
        assert err.value.code == "invalid"


@pytest.mark.rule("REFILL-2")
def test_time_refusals_speak_in_the_clinics_local_time_without_iso_strings():
    with pytest.raises(CalculationError) as err:
        _event("2026-03-01T20:30Z")  # 12:30 PST, 8.5 h after now
    assert err.value.message == "Sun 1 Mar 2026 12:30 PST is in the future: record what has happened"
    with pytest.raises(CalculationError) as err:
        _event("2026-01-09T12:00Z")
    assert err.value.message == "is before the pump was implanted on 10 Jan 2026"
    with pytest.raises(CalculationError) as err:
        _event("2026-02-01T11:00Z", not_before="2026-02-01T12:00Z")
    # 12:00Z = 04:00 PST
    assert err.value.message == (
        "must be after the pump's last recorded refill or prescription (Sun 1 Feb 2026 04:00 PST)"
    )
    assert "T" not in err.value.message.replace("PST", "")


def _event(at, now="2026-03-01T12:00Z", implanted_on=date(2026, 1, 10), tz=LOS_ANGELES, not_before=None):
    check_event_time(
        at=t(at),
        now=t(now),
        implanted_on=implanted_on,
        tz=tz,
        field="filled_at",
        not_before=None if not_before is None else t(not_before),
    )


@pytest.mark.rule("REFILL-2")
def test_refill_time_accepted():
    _event("2026-02-01T12:00Z")
    _event("2026-03-01T12:00Z")  # exactly now is not the future
    # 2026-01-10T08:00Z = 2026-01-10 00:00 PST: the implant date itself
    _event("2026-01-10T08:00Z")
    _event("2026-02-01T12:00:01Z", not_before="2026-02-01T12:00Z")


@pytest.mark.rule("REFILL-2")
@pytest.mark.parametrize(
    ("at", "not_before"),
    [
        ("2026-03-01T12:00:01Z", None),  # one second in the future
        ("2026-01-09T12:00Z", None),  # the day before the implant
        # 2026-01-10T05:00Z is 2026-01-09 21:00 PST: before the implant date in the clinic's zone
        ("2026-01-10T05:00Z", None),
        ("2026-02-01T12:00Z", "2026-02-01T12:00Z"),  # not after the last event
        ("2026-02-01T11:00Z", "2026-02-01T12:00Z"),  # before the last event
    ],
)
def test_refill_time_refused(at, not_before):
    with pytest.raises(CalculationError) as err:
        _event(at, not_before=not_before)
    assert err.value.field == "filled_at"


# --- BRIDGE-1 / BRIDGE-2: the bridge bolus ------------------------------------------------------


def _continuous(dose):
    return Prescription("simple_continuous", daily_dose_mcg=F(dose))


def _bridge(old, new, dose, pmin="0.26", pmax="0.30", per_cm="0.0026", length="60"):
    return bridge_bolus(
        old_concentration_mcg_per_ml=F(old),
        new_concentration_mcg_per_ml=F(new),
        prescription=_continuous(dose),
        pathway_volume_min_ml=None if pmin is None else F(pmin),
        pathway_volume_max_ml=None if pmax is None else F(pmax),
        catheter_volume_ml_per_cm=None if per_cm is None else F(per_cm),
        catheter_length_cm=None if length is None else F(length),
    )


@pytest.mark.rule("BRIDGE-1")
def test_domain_worked_example_rising_concentration_uses_minimum_pathway():
    b = _bridge(500, 1000, 300)
    # V = 0.26 (minimum pathway) + 60 cm x 0.0026 = 0.26 + 0.156 = 0.416 mL
    assert b.path_volume_ml == F("0.416")
    # rate = 300 / 500 = 0.6 mL/day; T = 0.416 / 0.6 = 0.69333 d = 16.64 h = 59 904 s
    assert b.duration_seconds == 59_904
    # programmed = 0.416 x 1000 = 416 mcg; delivered = 0.416 x 500 = 208 mcg
    assert b.programmed_dose_mcg == 416
    assert b.delivered_dose_mcg == 208
    # delivered = 300 mcg/day over 16.64 h = 300 x 16.64 / 24 = 208 mcg
    assert F(300) * b.duration_seconds / 86_400 == b.delivered_dose_mcg
    assert b.shown() == {
        "path_volume_ml": Decimal("0.416"),
        "duration_hours": Decimal("16.64"),
        "programmed_dose_mcg": Decimal("416.0"),
        "delivered_dose_mcg": Decimal("208.0"),
    }


@pytest.mark.rule("BRIDGE-1")
def test_falling_concentration_uses_maximum_pathway():
    b = _bridge(1000, 500, 300)
    # V = 0.30 (maximum pathway) + 0.156 = 0.456 mL
    assert b.path_volume_ml == F("0.456")
    # rate = 300 / 1000 = 0.3 mL/day; T = 0.456 / 0.3 = 1.52 d = 36.48 h = 131 328 s
    assert b.duration_seconds == 131_328
    # programmed = 0.456 x 500 = 228 mcg; delivered = 0.456 x 1000 = 456 mcg
    assert b.programmed_dose_mcg == 228
    assert b.delivered_dose_mcg == 456
    assert b.shown() == {
        "path_volume_ml": Decimal("0.456"),
        "duration_hours": Decimal("36.48"),
        "programmed_dose_mcg": Decimal("228.0"),
        "delivered_dose_mcg": Decimal("456.0"),
    }


@pytest.mark.rule("BRIDGE-1")
def test_prometra_catheter_trimmed_length():
    # implanted length = 110 cm - 35 cm trimmed = 75 cm; 75 x 0.0026 = 0.195 mL; + 0.26 = 0.455 mL
    # 2000 -> 1000 would use the maximum: here the rise 1000 -> 2000 uses the minimum 0.26
    b = _bridge(1000, 2000, 400, length=110 - 35)
    assert b.path_volume_ml == F("0.455")
    # T = 0.455 x 1000 / 400 = 1.1375 d = 27.3 h; programmed 0.455 x 2000 = 910; delivered 455
    assert b.shown() == {
        "path_volume_ml": Decimal("0.455"),
        "duration_hours": Decimal("27.30"),
        "programmed_dose_mcg": Decimal("910.0"),
        "delivered_dose_mcg": Decimal("455.0"),
    }


@pytest.mark.rule("BRIDGE-1")
def test_path_volume_is_rounded_to_a_thousandth_and_the_shown_numbers_agree():
    # 45.5 cm x 0.0026 = 0.1183; + 0.26 = 0.3783 -> 0.378 mL
    b = _bridge(500, 1000, 300, length="45.5")
    assert b.path_volume_ml == F("0.378")
    # T, doses from the rounded V: T = 0.378 x 500 / 300 = 0.63 d = 15.12 h = 54 432 s;
    # programmed 0.378 x 1000 = 378; delivered 0.378 x 500 = 189
    assert b.duration_seconds == 54_432
    assert b.shown() == {
        "path_volume_ml": Decimal("0.378"),
        "duration_hours": Decimal("15.12"),
        "programmed_dose_mcg": Decimal("378.0"),
        "delivered_dose_mcg": Decimal("189.0"),
    }


@pytest.mark.rule("BRIDGE-1")
def test_bridge_for_a_known_volume():
    b = bridge_for_volume(
        path_volume_ml=F("0.416"),
        old_concentration_mcg_per_ml=F(500),
        new_concentration_mcg_per_ml=F(1000),
        prescription=_continuous(300),
    )
    assert (b.duration_seconds, b.programmed_dose_mcg, b.delivered_dose_mcg) == (59_904, 416, 208)


@pytest.mark.rule("BRIDGE-1")
@pytest.mark.parametrize("dose", ["0", "-100"])
def test_bridge_refuses_a_daily_dose_of_zero_or_less(dose):
    with pytest.raises(CalculationError) as err:
        _bridge(500, 1000, dose)
    assert err.value.field == "prescription"


@pytest.mark.rule("BRIDGE-2")
def test_no_bridge_when_the_concentration_is_unchanged():
    assert _bridge(500, 500, 300) is None
    assert _bridge("500", "500.0", 300) is None
    # nothing needs to be configured when no bridge is needed
    assert _bridge(1000, 1000, 300, pmin=None, pmax=None, per_cm=None, length=None) is None


@pytest.mark.rule("BRIDGE-2")
@pytest.mark.parametrize(
    ("old", "new", "missing", "field", "code"),
    [
        (500, 1000, {"pmin": None}, "pump_model.pathway_volume_min_ml", "bridge_volume_not_configured"),
        (1000, 500, {"pmax": None}, "pump_model.pathway_volume_max_ml", "bridge_volume_not_configured"),
        (500, 1000, {"per_cm": None}, "catheter_model.volume_ml_per_cm", "bridge_volume_not_configured"),
        (1000, 500, {"per_cm": None}, "catheter_model.volume_ml_per_cm", "bridge_volume_not_configured"),
        (500, 1000, {"length": None}, "pump.catheter_length_cm", "invalid"),
    ],
)
def test_bridge_refuses_when_a_volume_it_needs_is_not_configured(old, new, missing, field, code):
    with pytest.raises(CalculationError) as err:
        _bridge(old, new, 300, **missing)
    assert err.value.field == field
    assert err.value.code == code


@pytest.mark.rule("BRIDGE-3")
def test_the_bridge_dose_is_the_scheduled_daily_dose_without_patient_activated_boluses():
    # basal 200 mcg/day + one periodic bolus of 100 mcg = 300 mcg/day scheduled; patient-activated
    # boluses (4 x 25 = 100 mcg/day at most) are given on demand and do not push the old drug out.
    plan = parse_prescription(
        {
            "mode": "periodic_bolus",
            "basal_daily_dose_mcg": "200",
            "boluses": [{"time": "08:00", "dose_mcg": "100", "duration_minutes": 60}],
            "patient_activated_bolus": {"dose_mcg": "25", "max_per_day": 4, "lockout_minutes": 120},
        }
    )
    assert bridge_daily_dose_mcg(plan) == 300
    assert plan.daily_dose_mcg_total == 400  # what the projection and titration count
    b = bridge_bolus(
        old_concentration_mcg_per_ml=F(500),
        new_concentration_mcg_per_ml=F(1000),
        prescription=plan,
        pathway_volume_min_ml=F("0.26"),
        pathway_volume_max_ml=F("0.30"),
        catheter_volume_ml_per_cm=F("0.0026"),
        catheter_length_cm=F(60),
    )
    # the worked example's numbers (D = 300): T = 0.416 x 500 / 300 d = 16.64 h
    assert b.shown()["duration_hours"] == Decimal("16.64")
    # the projection rebuilds the same bridge from the stored (rounded) volume and the same choice
    again = bridge_for_volume(
        path_volume_ml=F("0.416"),
        old_concentration_mcg_per_ml=F(500),
        new_concentration_mcg_per_ml=F(1000),
        prescription=plan,
    )
    assert again == b


@pytest.mark.rule("BRIDGE-2")
def test_bridge_needs_only_the_pathway_bound_for_its_direction():
    # a rise needs only the minimum; a fall only the maximum
    assert _bridge(500, 1000, 300, pmax=None).path_volume_ml == F("0.416")
    assert _bridge(1000, 500, 300, pmin=None).path_volume_ml == F("0.456")


# --- BRIDGE-1 + LRA-1: the bridge drains V over T, then the prescription -----------------------


def _bridged_reservoir():
    # refill 2026-01-05T00:00Z, 500 -> 1000 mcg/mL, 20 mL, new prescription 300 mcg/day = 0.3 mL/day
    b = _bridge(500, 1000, 300)
    return Reservoir(
        filled_at=t("2026-01-05T00:00Z"),
        volume_ml=F(20),
        concentration_mcg_per_ml=F(1000),
        periods=(
            TherapyPeriod(
                t("2026-01-05T00:00Z"),
                parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": "300"}),
                0,
            ),
        ),
        bridge=BridgeDrain(volume_ml=b.path_volume_ml, duration_seconds=b.duration_seconds),
    )


@pytest.mark.rule("BRIDGE-1", "LRA-1")
def test_bridge_drains_its_volume_over_its_duration_before_the_prescription():
    res = _bridged_reservoir()
    # T = 16.64 h = 16 h 38 min 24 s: halfway (8 h 19 min 12 s) 0.208 mL gone -> 19.792
    assert volume_at(res, t("2026-01-05T08:19:12Z")) == F("19.792")
    # end of the bridge: 20 - 0.416 = 19.584
    assert volume_at(res, t("2026-01-05T16:38:24Z")) == F("19.584")
    # +1 day: the prescription's 0.3 mL/day for the 24 - 16.64 = 7.36 h left: 0.3 x 7.36 / 24 = 0.092
    # -> 19.584 - 0.092 = 19.492
    assert volume_at(res, t("2026-01-06T00:00Z")) == F("19.492")


@pytest.mark.rule("BRIDGE-1", "LRA-2")
def test_bridge_moves_the_alarm_earlier_by_the_extra_volume():
    res = _bridged_reservoir()
    # after the bridge 19.584 mL at 2026-01-05T16:38:24Z; 17.584 mL to the LRA at 0.3 mL/day
    # = 58.61333 d = 58 d 14 h 43 min 12 s -> 2026-03-04T16:38:24Z + 14:43:12 = 2026-03-05T07:21:36Z
    # (without the bridge: 18 / 0.3 = 60 d -> 2026-03-06T00:00Z; the bridge drained 0.416 instead of
    #  0.208 mL, 0.208 mL more = 0.69333 d = 16.64 h earlier)
    assert time_at_volume(res, F(2)) == t("2026-03-05T07:21:36Z")
    # the crossing of 20 - V is the end of the bridge exactly
    assert time_at_volume(res, F("19.584")) == t("2026-01-05T16:38:24Z")


@pytest.mark.rule("BRIDGE-1", "LRA-3")
def test_worst_case_bridge_runs_its_whole_duration_at_one_plus_tolerance_times_the_rate():
    res = _bridged_reservoir()
    # LRA-3: the bridge runs its whole T = 16 h 38 min 24 s (59 904 s) at 1.145 x V / T, so it
    # drains 1.145 x 0.416 = 0.47632 mL (an over-infusing pump delivers more in the programmed
    # time; it does not end early). End of the bridge: 20 - 0.47632 = 19.52368 mL.
    assert volume_at(res, t("2026-01-05T16:38:24Z"), tolerance_pct=F("14.5")) == F("19.52368")
    assert time_at_volume(res, F("19.52368"), tolerance_pct=F("14.5")) == t("2026-01-05T16:38:24Z")
    # +1 day: 0.3 x 1.145 = 0.3435 mL/day for the 7.36 h left: 0.3435 x 7.36 / 24 = 0.10534
    # -> 19.52368 - 0.10534 = 19.41834
    assert volume_at(res, t("2026-01-06T00:00Z"), tolerance_pct=F("14.5")) == F("19.41834")
    p = project(
        res,
        as_of=res.filled_at,
        lra_ml=F(2),
        tolerance_pct=F("14.5"),
        tz=UTC,
        safety_margin_days=7,
        max_reservoir_days=180,
    )
    # worst alarm: 19.52368 - 2 = 17.52368 mL at 0.3435 mL/day = 17.52368 x 86 400 / 0.3435
    # = 4 407 702.92 s, after the 59 904 s bridge: 4 467 606.92 s -> 4 467 607 s
    # = 51 d (4 406 400 s) + 61 207 s = 17 h (61 200 s) + 7 s -> 2026-02-25T17:00:07Z
    assert p.low_reservoir_alarm_at_worst_case == t("2026-02-25T17:00:07Z")
    assert p.low_reservoir_alarm_at == t("2026-03-05T07:21:36Z")


@pytest.mark.rule("BRIDGE-1", "LRA-3", "BRIDGE-3")
def test_domain_worked_example_worst_case_on_a_20_ml_prometra():
    # DOMAIN.md BRIDGE-1 worked example on a 20 mL Prometra II (tolerance 15 %, alarm 3.0 mL),
    # filled with 20 mL, 500 -> 1000 mcg/mL, D = 300 mcg/day, V = 0.416 mL, T = 16.64 h.
    b = _bridge(500, 1000, 300)
    res = Reservoir(
        filled_at=t("2026-01-05T00:00Z"),
        volume_ml=F(20),
        concentration_mcg_per_ml=F(1000),
        periods=(TherapyPeriod(t("2026-01-05T00:00Z"), _continuous(300), 0),),
        bridge=BridgeDrain(volume_ml=b.path_volume_ml, duration_seconds=b.duration_seconds),
    )
    p = project(
        res,
        as_of=res.filled_at,
        lra_ml=F(3),
        tolerance_pct=F(15),
        tz=UTC,
        safety_margin_days=7,
        max_reservoir_days=180,
    )
    # worst case: the bridge drains 1.15 x 0.416 = 0.4784 mL in 16.64 h, then 0.3 x 1.15 = 0.345
    # mL/day: (20 - 3 - 0.4784) / 0.345 d = 47.8887 d = 4 137 583.30 s, + 59 904 s = 4 197 487.30 s
    # -> 4 197 487 s = 48 d (4 147 200 s) + 50 287 s = 13 h 58 min 07 s
    assert p.low_reservoir_alarm_at_worst_case - res.filled_at == timedelta(
        days=48, hours=13, minutes=58, seconds=7
    )
    # nominal: (20 - 3 - 0.416) / 0.3 = 55.28 d + 16.64 h = 4 836 096 s = 55 d 23 h 21 min 36 s
    assert p.low_reservoir_alarm_at - res.filled_at == timedelta(days=55, hours=23, minutes=21, seconds=36)
    # the worst case errs early, never late
    assert p.low_reservoir_alarm_at_worst_case < p.low_reservoir_alarm_at
