"""DRIFT-1 (observed delivery ratio per refill, its classification and its trend) and
MONITOR-1 (which signs of a visit call for what), in the calculation core.

All expected values are worked out by hand; the arithmetic is in the comments.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

from therapy import (
    BridgeDrain,
    CalculationError,
    Reservoir,
    TherapyPeriod,
    classify_assessment,
    delivery_observation,
    drift_trend,
    parse_prescription,
    programmed_volume_ml,
    tolerance_band,
    volume_at,
)
from therapy.drift import OVER, UNDER
from therapy.monitoring import CRITICAL, PHYSICIAN_REVIEW, SIDE_EFFECT_SIGNS, SIGNS, WITHDRAWAL_SIGNS

FILLED = datetime.fromisoformat("2026-01-05T12:00:00+00:00")
SYNCHROMED = F("14.5")
PROMETRA = F(15)


def simple(daily):
    return parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": str(daily)})


def reservoir(volume_ml="20", concentration=500, periods=((0, 250),), bridge=None) -> Reservoir:
    """``periods``: (days after the fill, daily dose) pairs."""
    return Reservoir(
        filled_at=FILLED,
        volume_ml=F(volume_ml),
        concentration_mcg_per_ml=F(concentration),
        periods=tuple(TherapyPeriod(FILLED + timedelta(days=d), simple(dose), 0) for d, dose in periods),
        bridge=bridge,
    )


def observe(res, days, residual, tolerance=SYNCHROMED, discrepancy=None):
    return delivery_observation(
        reservoir=res,
        refilled_at=FILLED + timedelta(days=days),
        residual_ml=F(residual),
        tolerance_pct=tolerance,
        discrepancy_direction=discrepancy,
    )


# --- the ratio ------------------------------------------------------------------------------


@pytest.mark.rule("DRIFT-1")
def test_drift_1_ratio_of_a_pump_delivering_as_programmed_is_1():
    # 250 mcg/day at 500 mcg/mL = 0.5 mL/day; 30 days programmed 15 mL. 20 mL added,
    # 5 mL withdrawn: delivered 15 mL; 15 / 15 = 1.
    obs = observe(reservoir(), 30, "5")
    assert obs.programmed_ml == 15
    assert obs.delivered_ml == 15
    assert obs.ratio == 1
    assert obs.direction is None
    assert obs.flagged_by == ()
    # a ratio was observed: no reason for its absence, and no note (the tolerance is set)
    assert obs.why_no_ratio == ""
    assert obs.notes == ()


@pytest.mark.rule("DRIFT-1")
def test_drift_1_a_programmed_volume_under_1_ml_still_gives_a_ratio():
    # One day at 0.5 mL/day programmed 0.5 mL (more than 0, less than 1 mL); 20 − 19.5 =
    # 0.5 mL delivered: 0.5 / 0.5 = 1.
    obs = observe(reservoir(), 1, "19.5")
    assert obs.programmed_ml == F(1, 2)
    assert obs.ratio == 1


@pytest.mark.rule("DRIFT-1")
def test_drift_1_a_programme_that_empties_the_reservoir_exactly_at_the_refill_gives_a_ratio():
    # 40 days at 0.5 mL/day programmed 20 mL, exactly the 20 mL added (not more): the pump
    # could deliver it all. Residual 0: delivered 20, 20 / 20 = 1.
    obs = observe(reservoir(), 40, "0")
    assert obs.programmed_ml == 20
    assert obs.ratio == 1
    assert obs.why_no_ratio == ""


@pytest.mark.rule("DRIFT-1", "IMPLANT-1")
def test_drift_1_the_priming_of_a_new_catheter_is_programmed_volume():
    # An implant fill of 20 mL that primed a 60 cm catheter (0.156 mL), then 30 days at
    # 0.5 mL/day: programmed 0.156 + 15 = 15.156 mL; the pump that did exactly that leaves
    # 20 − 15.156 = 4.844 mL: ratio 15.156 / 15.156 = 1, not 15.156 / 15 = 1.0104.
    primed = Reservoir(
        filled_at=FILLED,
        volume_ml=F(20),
        concentration_mcg_per_ml=F(500),
        periods=(TherapyPeriod(FILLED, simple(250), 0),),
        priming_ml=F("0.156"),
    )
    obs = observe(primed, 30, "4.844")
    assert obs.programmed_ml == F("15.156")
    assert obs.delivered_ml == F("15.156")
    assert obs.ratio == 1


@pytest.mark.rule("DRIFT-1")
def test_drift_1_under_delivery_outside_the_synchromed_band():
    # delivered 20 − 8 = 12 mL of 15 programmed: 12 / 15 = 0.8 < 1 − 0.145 = 0.855.
    obs = observe(reservoir(), 30, "8", discrepancy="more_than_expected")
    assert obs.ratio == F(4, 5)
    assert obs.ratio_shown == Decimal("0.800")
    assert obs.direction == UNDER
    assert obs.flagged_by == ("ratio", "discrepancy")


@pytest.mark.rule("DRIFT-1")
def test_drift_1_over_delivery_outside_the_band():
    # delivered 20 − 2 = 18 mL of 15: 18 / 15 = 1.2 > 1.145.
    obs = observe(reservoir(), 30, "2")
    assert obs.ratio == F(6, 5)
    assert obs.direction == OVER
    assert obs.flagged_by == ("ratio",)


@pytest.mark.rule("DRIFT-1")
def test_drift_1_discrepancy_flags_a_ratio_inside_the_band():
    # delivered 20 − 7 = 13 of 15: 13/15 = 0.8667, inside 0.855..1.145; but REFILL-1's
    # discrepancy is 7 − 5 = +2 mL > 1.0 mL (more than expected): under-delivery.
    obs = observe(reservoir(), 30, "7", discrepancy="more_than_expected")
    assert obs.ratio == F(13, 15)
    assert obs.ratio_shown == Decimal("0.867")
    assert obs.direction == UNDER
    assert obs.flagged_by == ("discrepancy",)


@pytest.mark.rule("DRIFT-1")
def test_drift_1_band_edge_is_inside_the_band():
    # Prometra II 40 mL, 1000 mcg/day at 500 = 2 mL/day, 10 days: 20 mL programmed.
    # Residual 23: delivered 17, 17 / 20 = 0.85 = 1 − 0.15: on the edge, inside.
    # Residual 23.01: 16.99 / 20 = 0.8495 < 0.85: under-delivery.
    res = reservoir("40", periods=((0, 1000),))
    assert observe(res, 10, "23", PROMETRA).direction is None
    assert observe(res, 10, "23.01", PROMETRA).direction == UNDER
    # and on the other edge: residual 17, 23 / 20 = 1.15 inside; 16.99, 1.1505 over.
    assert observe(res, 10, "17", PROMETRA).direction is None
    assert observe(res, 10, "16.99", PROMETRA).direction == OVER


@pytest.mark.rule("DRIFT-1")
def test_drift_1_programmed_volume_spans_prescriptions_and_a_concentration_change():
    # The previous refill changed 500 → 1000 mcg/mL with a bridge V = 0.416 mL at
    # D = 300 mcg/day: T = 0.416 × 500 / 300 days = 0.693333 d = 59904 s (16.64 h).
    # Programmed since: the bridge 0.416 mL; then 300 mcg/day at 1000 = 0.3 mL/day until
    # day 10: (10 − 0.693333) × 0.3 = 3 − 0.208 = 2.792 mL; then 400 mcg/day = 0.4 mL/day
    # for 10 days: 4 mL. Total 0.416 + 2.792 + 4 = 7.208 mL.
    res = reservoir("20", 1000, periods=((0, 300), (10, 400)), bridge=BridgeDrain(F("0.416"), F(59904)))
    assert programmed_volume_ml(res, FILLED + timedelta(days=20)) == F("7.208")
    # The expected residual (REFILL-1) is the same integration: 20 − 7.208 = 12.792.
    assert volume_at(res, FILLED + timedelta(days=20)) == F("12.792")
    # residual 14: delivered 6, 6 / 7.208 = 750/901 = 0.8324 < 0.855: under-delivery
    obs = observe(res, 20, "14")
    assert obs.ratio == F(750, 901)
    assert obs.ratio_shown == Decimal("0.832")
    assert obs.direction == UNDER


@pytest.mark.rule("DRIFT-1")
def test_drift_1_zero_programmed_volume_gives_no_ratio():
    # a prescription of 0 mcg/day (therapy stopped) programmed nothing: no ratio.
    obs = observe(reservoir(periods=((0, 0),)), 30, "20")
    assert obs.programmed_ml == 0
    assert obs.ratio is None and obs.ratio_shown is None
    assert obs.why_no_ratio == (
        "nothing was programmed since the previous refill (0 mL): there is no delivery to compare with"
    )
    assert obs.direction is None


@pytest.mark.rule("DRIFT-1")
def test_drift_1_no_ratio_when_the_programme_ran_the_reservoir_empty():
    # 45 days at 0.5 mL/day programmed 22.5 mL, more than the 20 mL added: the pump could
    # not deliver it, so no ratio; REFILL-1's discrepancy (expected 0, withdrew 3) still flags.
    obs = observe(reservoir(), 45, "3", discrepancy="more_than_expected")
    assert obs.programmed_ml == F("22.5")
    assert obs.ratio is None
    assert obs.why_no_ratio == (
        "the prescriptions programmed 22.50 mL since the previous refill, more than the 20.00 mL it "
        "added: the projection ran the reservoir empty before this refill"
    )
    assert obs.direction == UNDER and obs.flagged_by == ("discrepancy",)


@pytest.mark.rule("DRIFT-1")
def test_drift_1_unconfigured_tolerance_judges_by_the_discrepancy_alone():
    # 0.8 would be outside any band, but no band is configured: only REFILL-1 flags.
    obs = observe(reservoir(), 30, "8", tolerance=None)
    assert obs.ratio == F(4, 5) and obs.direction is None
    # no ratio and no tolerance: nothing to judge, so no note about the tolerance either
    assert observe(reservoir(), 45, "3", tolerance=None).notes == ()
    assert obs.notes == (
        "The pump model's flow accuracy tolerance is not configured: the ratio is judged by the "
        "refill discrepancy alone until an admin sets it.",
    )
    assert tolerance_band(None) is None
    assert tolerance_band(SYNCHROMED) == (F("0.855"), F("1.145"))


# --- the trend --------------------------------------------------------------------------------


@pytest.mark.rule("DRIFT-1")
@pytest.mark.parametrize(
    "directions, consecutive, expected",
    [
        ([UNDER, UNDER], 2, (UNDER, 2)),
        ([UNDER], 2, (None, 1)),
        ([], 2, (None, 0)),
        ([UNDER, None, UNDER], 2, (None, 1)),  # a refill that flags nothing breaks the run
        ([OVER, UNDER, UNDER], 2, (UNDER, 2)),
        ([UNDER, OVER], 2, (None, 1)),  # a change of direction breaks it too
        ([OVER, OVER, OVER], 2, (OVER, 3)),
        ([UNDER, UNDER], 3, (None, 2)),
        ([UNDER], 1, (UNDER, 1)),
        ([UNDER, UNDER, None], 2, (None, 0)),  # the next refill broke the streak
    ],
)
def test_drift_1_consecutive_refills_in_one_direction(directions, consecutive, expected):
    assert drift_trend(directions, consecutive=consecutive) == expected


@pytest.mark.rule("DRIFT-1")
@pytest.mark.parametrize("consecutive", [None, 0])
def test_drift_1_trend_refuses_without_the_setting(consecutive):
    with pytest.raises(CalculationError) as err:
        drift_trend([UNDER, UNDER], consecutive=consecutive)
    assert err.value.field == "settings.PUMPCARE_CLINICAL.drift_consecutive_refills"
    assert err.value.message == "must be configured as 1 or more refills in a row"


@pytest.mark.rule("DRIFT-1")
@given(
    residual=st.decimals(min_value=0, max_value=20, places=2),
    days=st.integers(min_value=1, max_value=39),
)
def test_drift_1_ratio_and_discrepancy_agree_on_the_direction(residual, days):
    """Whenever the ratio flags a direction, the residual lies on the same side of the
    expected residual (the two criteria never contradict each other)."""
    res = reservoir()
    obs = observe(res, days, residual)
    expected = volume_at(res, FILLED + timedelta(days=days))
    if obs.direction == UNDER:
        assert F(residual) > expected
    if obs.direction == OVER:
        assert F(residual) < expected


# --- MONITOR-1 --------------------------------------------------------------------------------


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_a_withdrawal_sign_is_critical():
    findings = classify_assessment(["sedation", "itching", "rebound_spasticity"])
    assert findings.withdrawal == ("itching", "rebound_spasticity")
    assert findings.side_effects == ("sedation",)
    assert findings.action == CRITICAL
    assert findings.words("withdrawal") == "itching, rebound spasticity"


@pytest.mark.rule("MONITOR-1")
@pytest.mark.parametrize("sign", list(WITHDRAWAL_SIGNS))
def test_monitor_1_each_withdrawal_sign_alone_is_critical(sign):
    assert classify_assessment([sign]).action == CRITICAL


@pytest.mark.rule("MONITOR-1")
@pytest.mark.parametrize("sign", list(SIDE_EFFECT_SIGNS))
def test_monitor_1_a_side_effect_sign_asks_for_a_physician_review(sign):
    findings = classify_assessment([sign])
    assert findings.action == PHYSICIAN_REVIEW
    assert findings.withdrawal == ()


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_no_sign_calls_for_nothing():
    assert classify_assessment([]).action is None


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_unknown_sign_is_refused_naming_the_signs():
    with pytest.raises(CalculationError) as err:
        classify_assessment(["headache"])
    assert err.value.field == "assessment"
    assert "seizures" in err.value.message
    assert len(SIGNS) == 11


# --- MRI-1: no delivery ratio across an emptying of the reservoir ------------------------


def emptied_reservoir(days=8):
    """20 mL at 500 mcg/mL, 250 mcg/day (0.5 mL/day), emptied ``days`` after the fill when
    a prescription of nothing begins."""
    res = reservoir(periods=((0, 250), (days, 0)))
    return Reservoir(**{**res.__dict__, "emptied_at": FILLED + timedelta(days=days)})


def test_drift_1_mri_1_no_ratio_across_an_emptying():
    # refilled 9 days after the fill, 1 day after the emptying: residual 0 mL.
    # Without the emptying this would read as 20 mL delivered of 4 mL programmed (ratio 5).
    obs = observe(emptied_reservoir(), 9, "0")
    assert obs.ratio is None and obs.direction is None and obs.flagged_by == ()
    assert obs.programmed_ml == 4  # 8 days x 0.5 mL, then 0 mL/day
    assert obs.why_no_ratio == (
        "the reservoir was emptied since the previous refill (before an MRI): what was taken out "
        "then was not delivered, so the residual says nothing of the pump's delivery"
    )
    # REFILL-1 expected residual after the emptying: 0 mL
    assert volume_at(emptied_reservoir(), FILLED + timedelta(days=9)) == 0


def test_drift_1_mri_1_a_discrepancy_still_flags_across_an_emptying():
    # 3 mL found in a reservoir that was emptied: more than expected, read as under-delivery
    obs = observe(emptied_reservoir(), 9, "3", discrepancy="more_than_expected")
    assert (obs.ratio, obs.direction, obs.flagged_by) == (None, UNDER, ("discrepancy",))


def test_drift_1_mri_1_an_emptying_at_the_refill_instant_is_across_it():
    obs = observe(emptied_reservoir(days=8), 8, "0")
    assert obs.ratio is None and obs.why_no_ratio.startswith("the reservoir was emptied")
