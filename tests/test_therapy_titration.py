"""START-1, START-2, TITRATE-1 and TITRATE-2: the starting dose after screening, the first
prescription of a therapy, the per-24-hour increase limits and discontinuation; DOSE-4 and
IMPLANT-1 for the concentration of a first fill.

All expected values are worked out by hand; the arithmetic is in the comments.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction as F
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from therapy import (
    CalculationError,
    TitrationLimits,
    check_first_fill_concentration,
    check_first_prescription,
    check_new_daily_dose,
    is_zero_daily_dose,
    parse_prescription,
    screening_outcome,
    titration_limit_pct,
)

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
LIMITS = TitrationLimits(
    spinal_pct=F(30), cerebral_pct=F(15), pediatric_pct=F(15), pediatric_below_age_years=18, window_hours=24
)
ADULT = date(1980, 5, 17)
CHILD = date(2016, 6, 1)
STEPS = [F(50), F(75), F(100)]


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- START-1 ---------------------------------------------------------------------------------


def _screen(trials, effect_hours=None, adverse=False):
    return screening_outcome(
        trials=[(F(d), r) for d, r in trials],
        steps=STEPS,
        effect_hours=None if effect_hours is None else F(effect_hours),
        adverse_reactions=adverse,
        prolonged_effect_hours=F(8),
    )


@pytest.mark.rule("START-1")
def test_positive_screening_at_50_starts_at_twice_the_dose():
    out = _screen([(50, True)], effect_hours=4)
    # 2 x 50 = 100 mcg/day
    assert (out.status, out.effective_dose_mcg, out.starting_daily_dose_mcg) == ("respond", 50, 100)


@pytest.mark.rule("START-1")
def test_positive_at_the_second_step_starts_at_twice_that_step():
    out = _screen([(50, False), (75, True)], effect_hours=6)
    # 2 x 75 = 150 mcg/day
    assert (out.status, out.effective_dose_mcg, out.starting_daily_dose_mcg) == ("respond", 75, 150)


@pytest.mark.rule("START-1")
@pytest.mark.parametrize(
    ("effect_hours", "adverse", "start"),
    [
        ("8.5", False, 50),  # effect more than 8 h: the screening dose itself
        ("9", False, 50),
        ("8", False, 100),  # exactly 8 h is not "more than 8": 2 x 50
        ("7.99", False, 100),
        (None, False, 100),  # duration not recorded: 2 x 50
        ("4", True, 50),  # adverse reactions: the screening dose itself
        ("12", True, 50),
    ],
)
def test_prolonged_effect_or_adverse_reactions_start_at_the_screening_dose(effect_hours, adverse, start):
    out = _screen([(50, True)], effect_hours=effect_hours, adverse=adverse)
    assert out.status == "respond"
    assert out.starting_daily_dose_mcg == start


@pytest.mark.rule("START-1")
def test_no_response_proposes_the_next_step():
    out = _screen([(50, False)])
    assert (out.status, out.next_dose_mcg) == ("next_step", 75)
    out = _screen([(50, False), (75, False)])
    assert (out.status, out.next_dose_mcg) == ("next_step", 100)
    out = _screen([])
    assert (out.status, out.next_dose_mcg) == ("next_step", 50)
    assert out.starting_daily_dose_mcg is None


@pytest.mark.rule("START-1")
def test_no_response_at_100_means_not_a_candidate():
    out = _screen([(50, False), (75, False), (100, False)])
    assert out.status == "not_a_candidate"
    assert out.starting_daily_dose_mcg is None and out.next_dose_mcg is None
    assert _screen([(100, False)]).status == "not_a_candidate"


@pytest.mark.rule("START-1")
@pytest.mark.parametrize(
    ("trials", "field"),
    [
        ([(60, True)], "trials[0].dose_mcg"),
        ([(50, False), (80, True)], "trials[1].dose_mcg"),
        ([(50, False), (75, False), (150, False)], "trials[2].dose_mcg"),
    ],
)
def test_a_dose_that_is_not_a_screening_step_is_refused(trials, field):
    with pytest.raises(CalculationError) as err:
        _screen(trials)
    assert err.value.field == field


@pytest.mark.rule("START-1")
def test_screening_steps_not_configured_are_refused():
    with pytest.raises(CalculationError) as err:
        screening_outcome(trials=[], steps=[], prolonged_effect_hours=F(8))
    assert err.value.field == "screening_steps_mcg"


# --- TITRATE-1 -------------------------------------------------------------------------------


def _check(new, at, history, origin="spinal", birth=ADULT, tz=UTC, limits=LIMITS, screening=None):
    return check_new_daily_dose(
        new_daily_dose_mcg=F(new),
        effective_at=t(at),
        history=[(t(a), F(d)) for a, d in history],
        spasticity_origin=origin,
        birth_date=birth,
        tz=tz,
        limits=limits,
        screening=screening,
    )


STARTED = [("2026-01-01T00:00Z", 100)]  # therapy started long before the changes below


@pytest.mark.rule("TITRATE-1")
def test_first_prescription_is_not_limited():
    out = _check(1000, "2026-01-01T00:00Z", [])
    assert out.code is None


@pytest.mark.rule("TITRATE-1")
@pytest.mark.parametrize(
    ("origin", "birth", "allowed", "refused", "limit"),
    [
        ("spinal", ADULT, 130, "130.1", 30),  # 100 x 1.30 = 130
        ("cerebral", ADULT, 115, "115.1", 15),  # 100 x 1.15 = 115
        ("spinal", CHILD, 115, "115.1", 15),  # under 18: 15 % whatever the origin
        ("cerebral", CHILD, 115, "115.1", 15),
    ],
)
def test_increase_limit_by_origin_and_age(origin, birth, allowed, refused, limit):
    ok = _check(allowed, "2026-01-10T12:00Z", STARTED, origin=origin, birth=birth)
    assert ok.code is None
    assert ok.limit_pct == limit
    assert ok.max_allowed_daily_dose_mcg == allowed
    over = _check(refused, "2026-01-10T12:00Z", STARTED, origin=origin, birth=birth)
    assert over.code == "titration_limit_exceeded"
    assert over.lowest_daily_dose_mcg == 100
    assert over.max_allowed_daily_dose_mcg == allowed


@pytest.mark.rule("TITRATE-1")
def test_refusal_details_for_the_api():
    over = _check(140, "2026-01-10T12:00Z", STARTED)
    assert over.code == "titration_limit_exceeded"
    assert over.details() == {
        "limit_pct": Decimal("30.0"),
        "lowest_daily_dose_mcg": Decimal("100.0"),
        "max_allowed_daily_dose_mcg": Decimal("130.0"),
    }
    assert "130.0" in over.message


@pytest.mark.rule("TITRATE-1")
def test_pediatric_limit_applies_whatever_the_origin_even_an_unconfigured_one():
    # a child: 15 % even for an origin with no adult limit configured
    assert (
        titration_limit_pct(spasticity_origin="mixed", birth_date=CHILD, on=date(2026, 1, 10), limits=LIMITS)
        == 15
    )
    with pytest.raises(CalculationError) as err:
        titration_limit_pct(spasticity_origin="mixed", birth_date=ADULT, on=date(2026, 1, 10), limits=LIMITS)
    assert err.value.field == "patient.spasticity_origin"


@pytest.mark.rule("TITRATE-1")
def test_eighteenth_birthday_boundary_at_the_local_date():
    birth = date(2008, 3, 10)
    # Los Angeles is on PDT (-7 h) after 2026-03-08.
    # 2026-03-10T06:59Z = 2026-03-09 23:59 PDT: still 17 -> 15 %: 100 x 1.15 = 115, 125 refused
    minor = _check(125, "2026-03-10T06:59Z", STARTED, birth=birth, tz=LOS_ANGELES)
    assert (minor.code, minor.limit_pct, minor.max_allowed_daily_dose_mcg) == (
        "titration_limit_exceeded",
        15,
        115,
    )
    # 2026-03-10T07:00Z = 2026-03-10 00:00 PDT: 18 today -> spinal adult 30 %: 130, 125 allowed
    adult = _check(125, "2026-03-10T07:00Z", STARTED, birth=birth, tz=LOS_ANGELES)
    assert (adult.code, adult.limit_pct, adult.max_allowed_daily_dose_mcg) == (None, 30, 130)
    # in UTC the birthday starts at 00:00Z already
    assert _check(125, "2026-03-10T00:00Z", STARTED, birth=birth, tz=UTC).code is None
    assert (
        titration_limit_pct(spasticity_origin="spinal", birth_date=birth, on=date(2026, 3, 9), limits=LIMITS)
        == 15
    )
    assert (
        titration_limit_pct(spasticity_origin="spinal", birth_date=birth, on=date(2026, 3, 10), limits=LIMITS)
        == 30
    )


@pytest.mark.rule("TITRATE-1")
def test_small_steps_cannot_add_up_past_the_limit():
    history = [*STARTED, ("2026-01-10T08:00Z", 120)]  # +20 % from 100: within 30 %
    assert _check(120, "2026-01-10T08:00Z", STARTED).code is None
    # second +20 % step 12 h later: 120 x 1.2 = 144. The lowest dose in effect during the 24 h before
    # (from 2026-01-09T20:00Z) is 100 -> at most 100 x 1.3 = 130: refused
    second = _check(144, "2026-01-10T20:00Z", history)
    assert second.code == "titration_limit_exceeded"
    assert (second.lowest_daily_dose_mcg, second.max_allowed_daily_dose_mcg) == (100, 130)
    assert _check(130, "2026-01-10T20:00Z", history).code is None
    # 24 h after the first step (window from 2026-01-10T08:00Z, when 120 took effect): lowest 120,
    # 120 x 1.3 = 156 -> 144 allowed
    later = _check(144, "2026-01-11T08:00Z", history)
    assert (later.code, later.lowest_daily_dose_mcg, later.max_allowed_daily_dose_mcg) == (None, 120, 156)
    # one second earlier, 100 was still in effect inside the window: refused
    assert _check(144, "2026-01-11T07:59:59Z", history).code == "titration_limit_exceeded"


@pytest.mark.rule("TITRATE-1")
def test_dose_in_effect_when_the_window_opens_counts():
    # a decrease to 80 three days ago, nothing since: lowest in the window is 80 -> 80 x 1.3 = 104
    history = [*STARTED, ("2026-01-07T12:00Z", 80)]
    assert _check(104, "2026-01-10T12:00Z", history).code is None
    out = _check(105, "2026-01-10T12:00Z", history)
    assert (out.code, out.lowest_daily_dose_mcg) == ("titration_limit_exceeded", 80)


@pytest.mark.rule("TITRATE-1")
def test_no_increase_in_the_first_24_hours_after_therapy_start():
    start = [("2026-01-01T00:00Z", 100)]
    # 23 h 59 min after the start: limit 0 % -> at most 100
    early = _check("100.1", "2026-01-01T23:59Z", start)
    assert (early.code, early.limit_pct, early.max_allowed_daily_dose_mcg) == (
        "titration_limit_exceeded",
        0,
        100,
    )
    assert _check(100, "2026-01-01T23:59Z", start).code is None
    # exactly 24 h after the start the first window is over: 100 x 1.3 = 130
    assert _check(130, "2026-01-02T00:00Z", start).code is None
    assert _check("130.1", "2026-01-02T00:00Z", start).code == "titration_limit_exceeded"


@pytest.mark.rule("TITRATE-1")
def test_decreases_are_allowed():
    assert _check(50, "2026-01-10T12:00Z", STARTED).code is None
    # also in the first 24 h after the start
    assert _check(80, "2026-01-01T06:00Z", STARTED).code is None


@pytest.mark.rule("TITRATE-1")
def test_a_decrease_after_an_overridden_increase_is_allowed():
    # 100 -> 200 with a prescriber override at 2026-01-10T00:00Z; 10 h later the dose is lowered to 180.
    # 180 < 200 in effect: a decrease, which TITRATE-1 ("daily-dose increases are limited") does not limit,
    # even though 180 > 1.3 x the lowest dose in the window (100 x 1.3 = 130).
    history = [*STARTED, ("2026-01-10T00:00Z", 200)]
    assert _check(180, "2026-01-10T10:00Z", history).code is None


@pytest.mark.rule("TITRATE-1")
def test_an_increase_after_a_decrease_is_measured_from_the_lowest_in_the_window():
    # 100 -> 200 (override) at 01-10T00:00, -> 150 at 01-10T10:00; 150 -> 190 at 01-10T20:00 is an
    # increase: the lowest dose in effect during the 24 h before is 100 (in effect until 01-10T00:00),
    # so the ceiling is 100 x 1.3 = 130 < 190: refused.
    history = [*STARTED, ("2026-01-10T00:00Z", 200), ("2026-01-10T10:00Z", 150)]
    verdict = _check(190, "2026-01-10T20:00Z", history)
    assert verdict.code == "titration_limit_exceeded"
    assert verdict.max_allowed_daily_dose_mcg == 130


@pytest.mark.rule("TITRATE-1")
def test_unconfigured_limits_are_refused():
    no_window = TitrationLimits(F(30), F(15), F(15), 18, None)
    with pytest.raises(CalculationError) as err:
        _check(110, "2026-01-10T12:00Z", STARTED, limits=no_window)
    assert err.value.field == "titration.window_hours"
    no_pediatric = TitrationLimits(F(30), F(15), None, 18, 24)
    with pytest.raises(CalculationError) as err:
        _check(110, "2026-01-10T12:00Z", STARTED, limits=no_pediatric)
    assert err.value.field == "titration.pediatric"
    no_cerebral = TitrationLimits(F(30), None, F(15), 18, 24)
    with pytest.raises(CalculationError) as err:
        _check(110, "2026-01-10T12:00Z", STARTED, origin="cerebral", limits=no_cerebral)
    assert err.value.field == "patient.spasticity_origin"


# --- TITRATE-2 -------------------------------------------------------------------------------


@pytest.mark.rule("TITRATE-2")
def test_reducing_to_zero_requires_an_override():
    out = _check(0, "2026-01-10T12:00Z", STARTED)
    assert out.code == "discontinuation_requires_override"
    assert "withdrawal" in out.message
    # even in the first 24 h, and even though it is a decrease
    assert _check(0, "2026-01-01T06:00Z", STARTED).code == "discontinuation_requires_override"


@pytest.mark.rule("TITRATE-2")
def test_a_small_positive_dose_is_not_a_discontinuation():
    assert _check("0.1", "2026-01-10T12:00Z", STARTED).code is None


@pytest.mark.rule("TITRATE-2")
@pytest.mark.parametrize(
    ("daily", "zero"),
    [
        ("0", True),
        ("0.0000001", True),  # rounds to 0.0 mcg
        ("0.04", True),  # 0.04 -> 0.0 mcg at 0.1 mcg
        ("0.049999", True),
        ("0.05", False),  # half up: 0.05 -> 0.1 mcg
        ("0.1", False),
    ],
)
def test_zero_is_zero_at_the_stored_precision(daily, zero):
    assert is_zero_daily_dose(F(daily)) is zero


@pytest.mark.rule("TITRATE-2")
@pytest.mark.parametrize("daily", ["0.0000001", "0.04"])
def test_a_dose_that_rounds_to_zero_is_a_discontinuation(daily):
    # 0.04 is below the 100 in effect (a decrease, which TITRATE-1 never refuses), yet it stops
    # the therapy: stored at 0.1 mcg precision it is 0.0.
    out = _check(daily, "2026-01-10T12:00Z", STARTED)
    assert out.code == "discontinuation_requires_override"
    assert "withdrawal" in out.message
    assert "0.0 mcg" in out.message


@pytest.mark.rule("TITRATE-2", "DOSE-1")
def test_a_flex_rate_of_0_0001_mcg_per_hour_is_a_discontinuation():
    plan = parse_prescription({"mode": "flex", "steps": [{"start": "00:00", "dose_mcg_per_hour": "0.0001"}]})
    # 24 h x 0.0001 mcg/h = 0.0024 mcg/day -> 0.0 mcg at the stored precision
    assert plan.daily_dose_mcg_total == F(24, 10_000)
    total = plan.daily_dose_mcg_total
    out = _check(F(int(total.numerator), int(total.denominator)), "2026-01-10T12:00Z", STARTED)
    assert out.code == "discontinuation_requires_override"


# --- TITRATE-1: the history is the patient's ---------------------------------------------------

# Pump A from 2026-01-01 (first fill ever) at 300 mcg/day; replaced on 2026-02-10 by pump B.
PUMP_A = [("2026-01-01T00:00Z", 300)]


@pytest.mark.rule("TITRATE-1")
def test_a_replacement_pump_first_prescription_is_checked_against_the_replaced_pump():
    # Pump B's first fill at 2026-02-10T15:00Z; the history (pump A's doses) has 300 in effect.
    # Spinal adult, 30 %: 300 x 1.3 = 390 allowed, 900 refused.
    over = _check(900, "2026-02-10T15:00Z", PUMP_A)
    assert (over.code, over.lowest_daily_dose_mcg, over.max_allowed_daily_dose_mcg) == (
        "titration_limit_exceeded",
        300,
        390,
    )
    ok = _check(390, "2026-02-10T15:00Z", PUMP_A)
    assert (ok.code, ok.max_allowed_daily_dose_mcg) == (None, 390)
    # no START-2 warning: this is not the start of the therapy
    assert ok.warnings == ()
    # keeping the dose in effect is never refused
    assert _check(300, "2026-02-10T15:00Z", PUMP_A).code is None


@pytest.mark.rule("TITRATE-1")
def test_the_start_of_therapy_is_the_patients_first_fill_ever():
    # Pump A filled 2026-01-01T00:00Z at 300; replaced, pump B filled at 2026-01-01T10:00Z at 300.
    # Pump B's prescription at 2026-01-01T20:00Z is still within 24 h of the first fill ever
    # (pump A's): no increase allowed, even though pump B started 10 h ago.
    history = [*PUMP_A, ("2026-01-01T10:00Z", 300)]
    early = _check("300.1", "2026-01-01T20:00Z", history)
    assert (early.code, early.limit_pct, early.max_allowed_daily_dose_mcg) == (
        "titration_limit_exceeded",
        0,
        300,
    )
    # 24 h after pump A's fill: 300 x 1.3 = 390
    assert _check(390, "2026-01-02T00:00Z", history).code is None


@pytest.mark.rule("TITRATE-1")
def test_limits_are_computed_from_exact_doses():
    # Flex 10.01 mcg/h all day: 24 x 10.01 = 240.24 mcg/day (stored rounded as 240.2).
    # Exact ceiling 240.24 x 1.3 = 312.312; from the rounded 240.2 it would be 312.26.
    history = [("2026-01-01T00:00Z", F("240.24"))]
    assert _check("312.3", "2026-01-10T12:00Z", history).code is None
    assert _check("312.3", "2026-01-10T12:00Z", history).max_allowed_daily_dose_mcg == F("312.312")


@pytest.mark.rule("TITRATE-1", "TITRATE-2")
def test_restarting_after_a_stop_needs_an_override():
    # Pump A at 300 from 2026-01-01, explanted without replacement: 0 from 2026-02-10T00:00Z.
    # A new pump's first fill on 2026-03-01 at 100: lowest in the window 0 -> ceiling 0.
    history = [*PUMP_A, ("2026-02-10T00:00Z", 0)]
    out = _check(100, "2026-03-01T10:00Z", history)
    assert (out.code, out.max_allowed_daily_dose_mcg) == ("titration_limit_exceeded", 0)
    assert "stopped" in out.message and "override" in out.message


# --- START-2 ------------------------------------------------------------------------------------


@pytest.mark.rule("START-2", "START-1")
def test_the_first_prescription_is_checked_against_the_starting_dose():
    # Positive at 50 mcg, effect 4 h: starting dose 2 x 50 = 100 mcg/day.
    trial = _screen([(50, True)], effect_hours=4)
    assert _check(100, "2026-01-01T00:00Z", [], screening=trial).code is None
    assert _check(80, "2026-01-01T00:00Z", [], screening=trial).code is None
    over = _check("100.1", "2026-01-01T00:00Z", [], screening=trial)
    assert (over.code, over.max_allowed_daily_dose_mcg) == ("above_starting_dose", 100)
    assert "100.0 mcg" in over.message and "override" in over.message
    # Positive at 75 with an effect over 8 h (9 h): the screening dose itself, 75.
    long = _screen([(50, False), (75, True)], effect_hours=9)
    assert check_first_prescription(new_daily_dose_mcg=F(75), screening=long).code is None
    assert check_first_prescription(new_daily_dose_mcg=F(76), screening=long).code == "above_starting_dose"


@pytest.mark.rule("START-2")
def test_a_first_prescription_without_a_recorded_trial_carries_a_warning():
    out = _check(250, "2026-01-01T00:00Z", [])
    assert out.code is None
    assert [w.code for w in out.warnings] == ["no_screening_trial"]


@pytest.mark.rule("START-2", "SCREEN-1")
@pytest.mark.parametrize(
    "trials",
    [
        [(50, False), (75, False), (100, False)],  # negative: not a candidate
        [(50, False)],  # not ended: the next step is 75
    ],
)
def test_a_trial_that_did_not_end_positive_gives_no_starting_dose(trials):
    out = check_first_prescription(new_daily_dose_mcg=F(50), screening=_screen(trials))
    assert out.code == "screening_not_positive"
    assert "override" in out.message


@pytest.mark.rule("START-2")
def test_only_the_first_prescription_of_the_therapy_is_checked_against_the_trial():
    # Therapy started at 100 on 2026-01-01; a change on 2026-01-10 to 130 (100 x 1.3) is
    # TITRATE-1's business, though above the starting dose of 100.
    trial = _screen([(50, True)], effect_hours=4)
    assert _check(130, "2026-01-10T00:00Z", STARTED, screening=trial).code is None


# --- DOSE-4 / IMPLANT-1: the concentration of a first fill -------------------------------------


@pytest.mark.rule("DOSE-4", "START-2")
def test_the_first_fill_of_a_therapy_starts_at_500():
    check = check_first_fill_concentration
    assert (
        check(
            concentration_mcg_per_ml=F(500),
            starting_concentration_mcg_per_ml=F(500),
            patient_concentration_mcg_per_ml=None,
        )
        == ()
    )
    notices = check(
        concentration_mcg_per_ml=F(1000),
        starting_concentration_mcg_per_ml=F(500),
        patient_concentration_mcg_per_ml=None,
    )
    assert [n.code for n in notices] == ["not_starting_concentration"]
    assert "500 mcg/mL" in notices[0].message


@pytest.mark.rule("IMPLANT-1")
def test_a_replacement_pump_continues_the_patients_concentration():
    check = check_first_fill_concentration
    # the patient was at 2000 mcg/mL: a replacement at 2000 is right, though therapy starts at 500
    assert (
        check(
            concentration_mcg_per_ml=F(2000),
            starting_concentration_mcg_per_ml=F(500),
            patient_concentration_mcg_per_ml=F(2000),
        )
        == ()
    )
    notices = check(
        concentration_mcg_per_ml=F(500),
        starting_concentration_mcg_per_ml=F(500),
        patient_concentration_mcg_per_ml=F(2000),
    )
    assert [n.code for n in notices] == ["not_patient_concentration"]
    assert "2000 mcg/mL" in notices[0].message and "500 mcg/mL" in notices[0].message


# --- properties -----------------------------------------------------------------------------

DOSES = st.fractions(min_value=0, max_value=2000, max_denominator=10_000)
HOURS_AGO = st.integers(min_value=1, max_value=24 * 60)


@pytest.mark.rule("TITRATE-1", "TITRATE-2")
@settings(max_examples=200, deadline=None)
@given(
    history=st.lists(st.tuples(HOURS_AGO, DOSES), min_size=1, max_size=6, unique_by=lambda x: x[0]),
    new=DOSES,
)
def test_property_a_dose_at_or_below_the_dose_in_effect_is_refused_only_when_it_is_zero(history, new):
    now = t("2026-06-01T12:00Z")
    rows = [(now - timedelta(hours=h), d) for h, d in history]
    in_effect = max(rows)[1]  # the latest row
    verdict = check_new_daily_dose(
        new_daily_dose_mcg=new,
        effective_at=now,
        history=rows,
        spasticity_origin="spinal",
        birth_date=ADULT,
        tz=UTC,
        limits=LIMITS,
    )
    if is_zero_daily_dose(new):
        assert verdict.code == "discontinuation_requires_override"
    elif new <= in_effect:
        assert verdict.code is None
    else:
        # an increase: allowed exactly when within (1 + limit) x the lowest dose in the window
        assert verdict.code in (None, "titration_limit_exceeded")
        assert (verdict.code is None) == (new <= verdict.max_allowed_daily_dose_mcg)
        assert verdict.max_allowed_daily_dose_mcg <= in_effect * F(13, 10)


@pytest.mark.rule("TITRATE-1")
def test_a_history_entry_at_the_new_doses_own_instant_is_not_the_dose_in_effect():
    # The dose in effect is the last one *before* effective_at. A history row at exactly
    # 2026-01-10T12:00Z (say the new prescription's own row, already written) says 200 mcg;
    # counting it would make 150 "not an increase" over 200. The dose in effect is 100
    # (since 2026-01-01), spinal adult: ceiling 100 x 1.30 = 130 < 150 -> refused.
    history = [*STARTED, ("2026-01-10T12:00Z", 200)]
    out = _check(150, "2026-01-10T12:00Z", history)
    assert out.code == "titration_limit_exceeded"
    assert out.lowest_daily_dose_mcg == 100
    assert out.max_allowed_daily_dose_mcg == 130


@pytest.mark.rule("TITRATE-1")
def test_a_dose_replaced_at_the_instant_the_window_opens_was_never_in_effect():
    # Two history rows at exactly the window's start, 2026-01-09T12:00Z (24 h before the new
    # dose): 50 mcg, replaced at the same instant by 200 mcg. The dose in effect when the
    # window opened is 200 (the last row at that instant); 50 was never delivered. Lowest in
    # the window: 200, ceiling 200 x 1.30 = 260 >= 250 -> allowed. Counting the replaced 50
    # would give a ceiling of 65 and refuse it.
    history = [*STARTED, ("2026-01-09T12:00Z", 50), ("2026-01-09T12:00Z", 200)]
    out = _check(250, "2026-01-10T12:00Z", history)
    assert out.code is None
    assert out.lowest_daily_dose_mcg == 200


# --- every verdict word for word (docs/mutation.md) ------------------------------------------

WITHDRAWAL = (
    "Stopping the pump or reducing the dose to zero causes withdrawal (itching, hypotension, "
    "paresthesia, high fever, altered mental status, rebound spasticity, rhabdomyolysis, death), "
    "typically within 1–3 days. It needs a prescriber's override with a written reason."
)


@pytest.mark.rule("TITRATE-2")
@pytest.mark.parametrize(
    ("new", "what"),
    [
        ("0", "A daily dose of 0 mcg stops the therapy."),
        (
            "0.04",
            "A daily dose of 0.04 mcg is 0.0 mcg to the 0.1 mcg the pump record keeps: it stops the therapy.",
        ),
        (
            "0.0000001",  # 10^-7, shown as typed (not as 1E-7)
            "A daily dose of 0.0000001 mcg is 0.0 mcg to the 0.1 mcg the pump record keeps: it stops the therapy.",
        ),
        (
            "0.00000001",  # 10^-8: below the 10^-7 it is shown to
            "A daily dose of less than 0.0000001 mcg is 0.0 mcg to the 0.1 mcg the pump record keeps: "
            "it stops the therapy.",
        ),
    ],
)
def test_a_discontinuation_verdict_in_full(new, what):
    out = _check(new, "2026-01-10T12:00Z", STARTED)
    assert (out.code, out.message) == ("discontinuation_requires_override", f"{what} {WITHDRAWAL}")


@pytest.mark.rule("TITRATE-1")
def test_the_titration_limit_verdict_in_full():
    # spinal adult, 30 %: 100 x 1.3 = 130 allowed, 131 refused
    out = _check(131, "2026-01-10T12:00Z", STARTED)
    assert out.message == (
        "A daily dose of 131.0 mcg exceeds the titration limit: at most +30 % per 24 hours for this "
        "patient, from the lowest daily dose in effect during the last 24 hours (100.0 mcg), so at "
        "most 130.0 mcg. A prescriber may override with a written reason."
    )
    assert out.details() == {
        "limit_pct": Decimal("30.0"),
        "lowest_daily_dose_mcg": Decimal("100.0"),
        "max_allowed_daily_dose_mcg": Decimal("130.0"),
    }
    # the first 24 hours of therapy (started 2026-01-01T00:00Z): no increase at all
    first = _check(101, "2026-01-01T12:00Z", STARTED)
    assert first.message == (
        "A daily dose of 101.0 mcg exceeds the titration limit: no increase in the first 24 hours "
        "after the start of therapy, from the lowest daily dose in effect during the last 24 hours "
        "(100.0 mcg), so at most 100.0 mcg. A prescriber may override with a written reason."
    )


@pytest.mark.rule("TITRATE-1", "TITRATE-2")
def test_restarting_a_stopped_therapy_in_full():
    # stopped (0) on 2026-01-09T12:00Z, a restart at 50 within 24 h: 0 x 1.3 = 0 < 50
    out = _check(50, "2026-01-10T00:00Z", [*STARTED, ("2026-01-09T12:00Z", 0)])
    assert (out.code, out.message) == (
        "titration_limit_exceeded",
        "The therapy was stopped within the last 24 hours or is still stopped: restarting it at "
        "50.0 mcg a day needs a prescriber's override with a written reason.",
    )


@pytest.mark.rule("TITRATE-1")
def test_titration_configuration_refusals_in_full():
    no_window = TitrationLimits(F(30), F(15), F(15), 18, None)
    with pytest.raises(CalculationError) as err:
        _check(120, "2026-01-10T12:00Z", STARTED, limits=no_window)
    assert (err.value.field, err.value.message) == (
        "titration.window_hours",
        "the titration window is not configured",
    )
    no_pediatric = TitrationLimits(F(30), F(15), None, 18, 24)
    with pytest.raises(CalculationError) as err:
        _check(120, "2026-01-10T12:00Z", STARTED, limits=no_pediatric)
    assert (err.value.field, err.value.message) == (
        "titration.pediatric",
        "the paediatric titration limit is not configured",
    )
    with pytest.raises(CalculationError) as err:
        _check(120, "2026-01-10T12:00Z", STARTED, origin="unknown")
    assert (err.value.field, err.value.message) == (
        "patient.spasticity_origin",
        "has no titration limit configured for 'unknown' (spinal, cerebral)",
    )


@pytest.mark.rule("TITRATE-1")
def test_the_paediatric_limit_ends_on_the_18th_birthday():
    # born 2008-01-10: 17 on 2026-01-09, 18 on 2026-01-10 (ages counted in whole years)
    assert (
        titration_limit_pct(
            spasticity_origin="spinal", birth_date=date(2008, 1, 10), on=date(2026, 1, 9), limits=LIMITS
        )
        == 15
    )
    assert (
        titration_limit_pct(
            spasticity_origin="spinal", birth_date=date(2008, 1, 10), on=date(2026, 1, 10), limits=LIMITS
        )
        == 30
    )
    assert (
        titration_limit_pct(
            spasticity_origin="cerebral", birth_date=date(2008, 1, 10), on=date(2026, 1, 10), limits=LIMITS
        )
        == 15
    )


@pytest.mark.rule("TITRATE-1")
def test_keeping_the_dose_in_effect_is_never_refused_even_after_an_overridden_increase():
    # 100 since 1 Jan, raised to 200 (with an override) on 10 Jan 00:00Z. Keeping 200 on
    # 10 Jan 12:00Z is no increase, although the lowest dose in the last 24 h is 100 and
    # 100 x 1.30 = 130 < 200.
    out = _check(200, "2026-01-10T12:00Z", [*STARTED, ("2026-01-10T00:00Z", 200)])
    assert (out.code, out.message) == (None, "not an increase over the daily dose in effect")
    # 130 after 100: within the limit, said so
    ok = _check(130, "2026-01-10T12:00Z", STARTED)
    assert (ok.code, ok.message) == (None, "within the titration limit")
