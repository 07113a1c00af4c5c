"""LRA-1..LRA-4 and DOSE-3: the reservoir projection, nominal and worst case, the refill-by
date and the pump-clock / daylight-saving warnings.

Every expected instant is worked out by hand; the arithmetic is in the comments.
Conventions used below: at 1000 mcg/mL the flex schedule "00:00 10 mcg/h, 08:00 20 mcg/h"
delivers 0.01 mL/h then 0.02 mL/h, i.e. 8 x 0.01 + 16 x 0.02 = 0.08 + 0.32 = 0.4 mL per day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction as F
from zoneinfo import ZoneInfo

import pytest

from therapy import (
    CalculationError,
    Reservoir,
    TherapyPeriod,
    parse_prescription,
    project,
    refill_by,
    time_at_volume,
    volume_at,
)
from therapy.projection import BridgeDrain, _minutes, clock_warnings, period_at

NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
EST = -5 * 3600  # -18000 s: New York's UTC offset in winter
EDT = -4 * 3600

SIMPLE_250 = {"mode": "simple_continuous", "daily_dose_mcg": "250"}  # at 500 mcg/mL: 0.5 mL/day
FLEX_10_20 = {
    "mode": "flex",
    "steps": [
        {"start": "00:00", "dose_mcg_per_hour": "10"},
        {"start": "08:00", "dose_mcg_per_hour": "20"},
    ],
}
FLEX_FLAT = {
    "mode": "flex",
    "steps": [
        {"start": "00:00", "dose_mcg_per_hour": "10"},
        {"start": "08:00", "dose_mcg_per_hour": "10"},
    ],
}
PERIODIC = {
    "mode": "periodic_bolus",
    "basal_daily_dose_mcg": "240",
    "boluses": [{"time": "12:00", "dose_mcg": "130", "duration_minutes": 60}],
}


def t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def reservoir(filled_at, volume, concentration, *periods, bridge=None) -> Reservoir:
    """periods: (starts_at, prescription dict, clock offset s); default: one period from the fill."""
    if not periods:
        raise AssertionError("give at least one period")
    return Reservoir(
        filled_at=t(filled_at) if isinstance(filled_at, str) else filled_at,
        volume_ml=F(volume),
        concentration_mcg_per_ml=F(concentration),
        periods=tuple(
            TherapyPeriod(t(s) if isinstance(s, str) else s, parse_prescription(rx), offset)
            for s, rx, offset in periods
        ),
        bridge=bridge,
    )


def run(res, *, as_of=None, lra="2", tolerance="14.5", tz=UTC, margin=7, max_days=180):
    return project(
        res,
        as_of=as_of or res.filled_at,
        lra_ml=F(lra),
        tolerance_pct=None if tolerance is None else F(tolerance),
        tz=tz,
        safety_margin_days=margin,
        max_reservoir_days=max_days,
    )


def codes(projection) -> list[str]:
    return [w.code for w in projection.warnings]


# --- LRA-1: volume after a refill and at time t --------------------------------------------


@pytest.mark.rule("LRA-1")
def test_volume_at_the_refill_is_the_programmed_volume():
    res = reservoir("2026-01-05T12:00Z", "20", 500, ("2026-01-05T12:00Z", SIMPLE_250, 0))
    assert volume_at(res, t("2026-01-05T12:00Z")) == 20
    assert volume_at(res, t("2026-01-01T00:00Z")) == 20  # before the refill: still the fill volume


@pytest.mark.rule("LRA-1")
def test_simple_continuous_volume_decreases_linearly():
    res = reservoir("2026-01-05T12:00Z", "20", 500, ("2026-01-05T12:00Z", SIMPLE_250, 0))
    # 250 mcg/day / 500 mcg/mL = 0.5 mL/day
    # +10 days: 20 - 10 x 0.5 = 15 mL
    assert volume_at(res, t("2026-01-15T12:00Z")) == 15
    # +10.5 days: 20 - 10.5 x 0.5 = 14.75 mL
    assert volume_at(res, t("2026-01-16T00:00Z")) == F("14.75")
    # +1 s: 20 - 0.5/86400 mL
    assert volume_at(res, t("2026-01-05T12:00:01Z")) == 20 - F(1, 2) / 86_400
    # never below 0: +100 days would be 20 - 50 = -30 -> 0
    assert volume_at(res, t("2026-04-15T12:00Z")) == 0


@pytest.mark.rule("LRA-1")
def test_flex_volume_follows_the_steps_not_the_average():
    res = reservoir("2026-01-05T00:00Z", "20", 1000, ("2026-01-05T00:00Z", FLEX_10_20, 0))
    # 06:00: 6 h x 0.01 = 0.06 -> 19.94 (the 0.4 mL/day average would say 20 - 0.1 = 19.9)
    assert volume_at(res, t("2026-01-05T06:00Z")) == F("19.94")
    # 10:00: 8 h x 0.01 + 2 h x 0.02 = 0.08 + 0.04 = 0.12 -> 19.88
    assert volume_at(res, t("2026-01-05T10:00Z")) == F("19.88")
    # next midnight: one day, 0.4 mL -> 19.6; after 10 days: 20 - 4 = 16
    assert volume_at(res, t("2026-01-06T00:00Z")) == F("19.6")
    assert volume_at(res, t("2026-01-15T00:00Z")) == 16
    # 10 days and 10 hours: 16 - 0.12 = 15.88
    assert volume_at(res, t("2026-01-15T10:00Z")) == F("15.88")


@pytest.mark.rule("LRA-1")
def test_periodic_bolus_volume_during_the_bolus():
    res = reservoir("2026-01-05T00:00Z", "20", 1000, ("2026-01-05T00:00Z", PERIODIC, 0))
    # basal 240 mcg/day at 1000 = 0.24 mL/day = 0.01 mL/h; bolus 130 mcg/h = 0.13 mL/h from 12:00 to 13:00
    # 12:30: 12.5 h x 0.01 + 0.5 h x 0.13 = 0.125 + 0.065 = 0.19 -> 19.81
    assert volume_at(res, t("2026-01-05T12:30Z")) == F("19.81")
    # 13:00: 0.13 + 0.13 = 0.26 -> 19.74; a whole day: 0.24 + 0.13 = 0.37 -> 19.63
    assert volume_at(res, t("2026-01-05T13:00Z")) == F("19.74")
    assert volume_at(res, t("2026-01-06T00:00Z")) == F("19.63")


@pytest.mark.rule("LRA-1", "LRA-2")
def test_prescription_change_between_refill_and_crossing():
    res = reservoir(
        "2026-01-05T00:00Z",
        "20",
        500,
        ("2025-12-01T00:00Z", {"mode": "simple_continuous", "daily_dose_mcg": "100"}, 0),  # before the fill
        ("2026-01-05T00:00Z", SIMPLE_250, 0),  # 0.5 mL/day
        ("2026-01-15T06:00Z", {"mode": "simple_continuous", "daily_dose_mcg": "500"}, 0),  # 1.0 mL/day
    )
    # until the change: 10.25 days x 0.5 = 5.125 mL -> 14.875 mL
    assert volume_at(res, t("2026-01-15T06:00Z")) == F("14.875")
    # one day later: 14.875 - 1.0 = 13.875
    assert volume_at(res, t("2026-01-16T06:00Z")) == F("13.875")
    # LRA 2: 12.875 mL at 1.0 mL/day = 12.875 d = 12 d 21 h -> 2026-01-28T03:00Z
    # (without the change: 18 / 0.5 = 36 d -> 2026-02-10T00:00Z)
    assert time_at_volume(res, F(2)) == t("2026-01-28T03:00Z")
    # empty: 14.875 d = 14 d 21 h after the change -> 2026-01-30T03:00Z
    assert time_at_volume(res, F(0)) == t("2026-01-30T03:00Z")


@pytest.mark.rule("LRA-1", "LRA-2")
def test_change_from_simple_to_flex_mid_day():
    res = reservoir(
        "2026-01-05T00:00Z",
        "20",
        1000,
        (
            "2026-01-05T00:00Z",
            {"mode": "simple_continuous", "daily_dose_mcg": "480"},
            0,
        ),  # 0.48 mL/day = 0.02 mL/h
        ("2026-01-06T04:00Z", FLEX_10_20, 0),
    )
    # until 2026-01-06T04:00Z: 28 h x 0.02 = 0.56 -> 19.44
    # then flex: 04:00-08:00 at 0.01 = 0.04 -> 19.40 at 08:00
    assert volume_at(res, t("2026-01-06T08:00Z")) == F("19.40")
    # 08:00-24:00: 16 x 0.02 = 0.32 -> 19.08 at 2026-01-07T00:00Z
    assert volume_at(res, t("2026-01-07T00:00Z")) == F("19.08")
    # LRA 2: 17.08 left; 42 whole days x 0.4 = 16.8 -> 0.28 left at 2026-02-18T00:00Z (Jan 7 + 42 d)
    # 00:00-08:00: 0.08 -> 0.20 left; then 0.20 / 0.02 = 10 h -> 18:00
    assert time_at_volume(res, F(2)) == t("2026-02-18T18:00Z")


# --- LRA-2: alarm and empty times -------------------------------------------------------------


@pytest.mark.rule("LRA-2")
def test_simple_continuous_alarm_and_empty_times():
    res = reservoir("2026-01-05T12:00Z", "20", 500, ("2026-01-05T12:00Z", SIMPLE_250, 0))
    # 20 mL - 2 mL LRA = 18 mL at 0.5 mL/day = 36 days -> 2026-02-10T12:00Z
    assert time_at_volume(res, F(2)) == t("2026-02-10T12:00Z")
    # 20 mL at 0.5 mL/day = 40 days -> 2026-02-14T12:00Z
    assert time_at_volume(res, F(0)) == t("2026-02-14T12:00Z")
    p = run(res, tolerance=None)
    assert p.low_reservoir_alarm_at == t("2026-02-10T12:00Z")
    assert p.empty_at == t("2026-02-14T12:00Z")
    assert p.daily_volume_ml == Decimal("0.500")
    assert p.reservoir_volume_ml == Decimal("20.00")


@pytest.mark.rule("LRA-2")
def test_alarm_is_rounded_to_the_second():
    res = reservoir(
        "2026-01-05T00:00Z",
        "20",
        500,
        ("2026-01-05T00:00Z", {"mode": "simple_continuous", "daily_dose_mcg": "350"}, 0),
    )
    # 350 / 500 = 0.7 mL/day; 18 mL / 0.7 = 180/7 days = 15 552 000 / 7 s = 2 221 714.2857 s -> 2 221 714 s
    # = 25 d (2 160 000 s) + 61 714 s = 17 h (61 200 s) + 8 min 34 s -> 2026-01-30T17:08:34Z
    assert time_at_volume(res, F(2)) == t("2026-01-30T17:08:34Z")


@pytest.mark.rule("LRA-2", "LRA-1")
def test_flex_crossing_inside_the_high_step_is_exact():
    res = reservoir("2026-01-05T10:00Z", "20.06", 1000, ("2026-01-05T00:00Z", FLEX_10_20, 0))
    # 18.06 mL to deliver. 45 whole days from 10:00 to 10:00 deliver 45 x 0.4 = 18.0 mL
    # -> 2.06 mL at 2026-02-19T10:00Z, inside the 08:00-24:00 step (0.02 mL/h): 0.06 / 0.02 = 3 h
    # -> 2026-02-19T13:00Z  (the daily average would say 18.06 / 0.4 = 45.15 d -> 13:36)
    assert time_at_volume(res, F(2)) == t("2026-02-19T13:00Z")


@pytest.mark.rule("LRA-2", "LRA-1")
def test_flex_crossing_inside_the_low_step_is_exact():
    res = reservoir("2026-01-05T10:00Z", "20.3", 1000, ("2026-01-05T00:00Z", FLEX_10_20, 0))
    # 18.3 mL: 45 days -> 18.0, 0.3 left at 2026-02-19T10:00Z
    # 10:00-24:00 = 14 h x 0.02 = 0.28 -> 0.02 left at 2026-02-20T00:00Z
    # 00:00-08:00 step at 0.01 mL/h: 0.02 / 0.01 = 2 h -> 2026-02-20T02:00Z  (average: 45.75 d -> 04:00)
    assert time_at_volume(res, F(2)) == t("2026-02-20T02:00Z")
    # empty: 20.3 = 18.3 + 2.0 more; from 02:00: 6 h x 0.01 = 0.06 -> 1.94 left at 08:00,
    # 16 h x 0.02 = 0.32 -> 1.62 at 2026-02-21T00:00Z; 4 days x 0.4 = 1.6 -> 0.02 at 2026-02-25T00:00Z;
    # 0.02 / 0.01 = 2 h -> 2026-02-25T02:00Z
    assert time_at_volume(res, F(0)) == t("2026-02-25T02:00Z")


@pytest.mark.rule("LRA-2", "LRA-1")
def test_crossing_during_a_periodic_bolus():
    res = reservoir("2026-01-05T00:00Z", "20", 1000, ("2026-01-05T00:00Z", PERIODIC, 0))
    # a day: basal 0.24 + bolus 0.13 = 0.37 mL. 18 mL: 48 days x 0.37 = 17.76 -> 0.24 left at
    # 2026-02-22T00:00Z (Jan 5 + 48 d). 00:00-12:00 basal: 12 x 0.01 = 0.12 -> 0.12 left at 12:00;
    # during the bolus 0.01 + 0.13 = 0.14 mL/h: 0.12 / 0.14 = 6/7 h = 3085.714 s = 51 min 25.714 s
    # -> 12:51:25.714 -> 2026-02-22T12:51:26Z
    assert time_at_volume(res, F(2)) == t("2026-02-22T12:51:26Z")


@pytest.mark.rule("LRA-2", "LRA-1")
def test_crossing_during_a_bolus_wrapping_past_midnight():
    wrap = {
        "mode": "periodic_bolus",
        "basal_daily_dose_mcg": "240",
        "boluses": [{"time": "23:30", "dose_mcg": "120", "duration_minutes": 60}],
    }
    res = reservoir("2026-01-05T06:00Z", "19.94", 1000, ("2026-01-05T06:00Z", wrap, 0))
    # basal 0.01 mL/h; bolus 0.12 mL over 1 h = 0.06 mL each side of midnight; a day 0.24 + 0.12 = 0.36
    # to deliver 19.94 - 2 = 17.94. First day 06:00-24:00: 18 h x 0.01 + 0.06 (23:30-24:00) = 0.24
    # -> 17.70 left at 2026-01-06T00:00Z; 49 days x 0.36 = 17.64 -> 0.06 left at 2026-02-24T00:00Z
    # (Jan 6 + 49 d); 00:00-00:30 is the wrapped bolus at 0.12 + 0.01 = 0.13 mL/h:
    # 0.06 / 0.13 h = 6/13 h = 1661.538 s = 27 min 41.538 s -> 2026-02-24T00:27:42Z
    assert time_at_volume(res, F(2)) == t("2026-02-24T00:27:42Z")
    # the wrapped half delivers on the first day too: 00:00-00:30 of 2026-01-06 = 0.065 mL
    # so at 00:30: 19.94 - 0.24 - 0.065 = 19.635
    assert volume_at(res, t("2026-01-06T00:30Z")) == F("19.635")


@pytest.mark.rule("LRA-2")
def test_no_delivery_means_no_alarm_and_refill_by_follows_stability():
    zero = {"mode": "simple_continuous", "daily_dose_mcg": "0"}
    res = reservoir("2026-01-05T12:00Z", "20", 500, ("2026-01-05T12:00Z", zero, 0))
    assert time_at_volume(res, F(2)) is None
    p = run(res)
    assert p.low_reservoir_alarm_at is None and p.low_reservoir_alarm_at_worst_case is None
    assert p.empty_at is None and p.empty_at_worst_case is None
    # 2026-01-05 + 180 days = 2026-07-04
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 7, 4), "drug_stability")
    assert "no_delivery" in codes(p)


@pytest.mark.rule("TITRATE-2", "LRA-2")
@pytest.mark.parametrize("dose", ["0.04", "0.0000001"])
def test_a_dose_that_is_zero_at_the_stored_precision_is_warned_as_no_delivery(dose):
    # 0.04 mcg/day rounds to 0.0 mcg: the therapy is stopped, and the projection says so
    # (it warned only for an exact 0 before).
    tiny = {"mode": "simple_continuous", "daily_dose_mcg": dose}
    res = reservoir("2026-01-05T12:00Z", "20", 500, ("2026-01-05T12:00Z", tiny, 0))
    p = run(res)
    assert "no_delivery" in codes(p)
    # 0.05 mcg/day rounds half up to 0.1: delivered, no such warning
    small = {"mode": "simple_continuous", "daily_dose_mcg": "0.05"}
    assert "no_delivery" not in codes(
        run(reservoir("2026-01-05T12:00Z", "20", 500, ("2026-01-05T12:00Z", small, 0)))
    )


@pytest.mark.rule("LRA-2")
def test_a_crossing_beyond_the_year_9999_counts_as_never():
    # Found by hypothesis: 0.1 mcg/h for one minute a day is 1/600 mcg/day; at 2000 mcg/mL that
    # is 1/1,200,000 mL/day, so 2.43 mL last 2,916,000 days (~8,000 years): past what a
    # datetime holds. No alarm (rather than a crash); refill-by still follows stability.
    flex = {
        "mode": "flex",
        "steps": [
            {"start": "00:00", "dose_mcg_per_hour": "0.1"},
            {"start": "00:01", "dose_mcg_per_hour": "0"},
        ],
    }
    res = reservoir("2024-01-01T00:00Z", "2.43", 2000, ("2024-01-01T00:00Z", flex, 0))
    assert time_at_volume(res, F(0)) is None
    p = run(res, lra="0.5")
    assert p.empty_at is None
    # the worst case (x 1.145) still fits: 2,916,000 / 1.145 = 2,546,725 days, in the year 8996
    assert p.empty_at_worst_case.year == 8996
    # and the alarm at 0.5 mL: 1.93 mL x 1,200,000 = 2,316,000 days, in the year 8364
    assert p.low_reservoir_alarm_at.year == 8364
    # 2024-01-01 + 180 days = 2024-06-29
    assert (p.refill_by, p.refill_by_reason) == (date(2024, 6, 29), "drug_stability")


@pytest.mark.rule("LRA-2")
def test_a_reservoir_already_at_or_below_the_level_crosses_at_the_fill():
    res = reservoir("2026-01-05T12:00Z", "1.5", 500, ("2026-01-05T12:00Z", SIMPLE_250, 0))
    assert time_at_volume(res, F(2)) == t("2026-01-05T12:00Z")
    # empty: 1.5 / 0.5 = 3 days
    assert time_at_volume(res, F(0)) == t("2026-01-08T12:00Z")


@pytest.mark.rule("LRA-2")
def test_project_refuses_without_an_alarm_volume():
    res = reservoir("2026-01-05T12:00Z", "20", 500, ("2026-01-05T12:00Z", SIMPLE_250, 0))
    with pytest.raises(CalculationError) as err:
        project(
            res,
            as_of=res.filled_at,
            lra_ml=None,
            tolerance_pct=F("14.5"),
            tz=UTC,
            safety_margin_days=7,
            max_reservoir_days=180,
        )
    assert err.value.field == "pump.low_reservoir_alarm_ml"


# --- LRA-3: worst case ------------------------------------------------------------------------


@pytest.mark.rule("LRA-3")
def test_worst_case_multiplies_every_rate_by_one_plus_tolerance():
    res = reservoir("2026-01-05T12:00Z", "20", 500, ("2026-01-05T12:00Z", SIMPLE_250, 0))
    # 0.5 mL/day x 1.145 = 0.5725 mL/day; +10 days: 20 - 5.725 = 14.275
    assert volume_at(res, t("2026-01-15T12:00Z"), tolerance_pct=F("14.5")) == F("14.275")
    assert volume_at(res, t("2026-01-15T12:00Z")) == 15


@pytest.mark.rule("LRA-3", "LRA-2")
def test_worst_case_alarm_and_empty_with_14_5_percent():
    res = reservoir("2026-01-05T12:00Z", "20", 500, ("2026-01-05T12:00Z", SIMPLE_250, 0))
    p = run(res, tolerance="14.5")
    # nominal: 36 d and 40 d (see above)
    assert p.low_reservoir_alarm_at == t("2026-02-10T12:00Z")
    assert p.empty_at == t("2026-02-14T12:00Z")
    # worst: 18 / 0.5725 = 7200/229 d; x 86400 = 622 080 000 / 229 s = 2 716 506.55 s -> 2 716 507 s
    # = 31 d (2 678 400) + 38 107 s = 10 h (36 000) + 2 107 s = 35 min 7 s -> 2026-02-05T22:35:07Z
    assert p.low_reservoir_alarm_at_worst_case == t("2026-02-05T22:35:07Z")
    # worst empty: 20 / 0.5725 = 8000/229 d = 691 200 000 / 229 s = 3 018 340.61 s -> 3 018 341 s
    # = 34 d (2 937 600) + 80 741 s = 22 h (79 200) + 1 541 s = 25 min 41 s -> 2026-02-09T10:25:41Z
    assert p.empty_at_worst_case == t("2026-02-09T10:25:41Z")
    # scheduling uses the worst case: 2026-02-05 - 7 days = 2026-01-29 (nominal would give 2026-02-03)
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 1, 29), "alarm")
    assert "tolerance_not_configured" not in codes(p)


@pytest.mark.rule("LRA-3")
def test_worst_case_scales_flex_steps_too():
    res = reservoir("2026-01-05T00:00Z", "20", 1000, ("2026-01-05T00:00Z", FLEX_10_20, 0))
    # 10:00: nominal 0.12 mL (see LRA-1) x 1.145 = 0.1374 -> 19.8626
    assert volume_at(res, t("2026-01-05T10:00Z"), tolerance_pct=F("14.5")) == F("19.8626")
    # a day: 0.4 x 1.145 = 0.458 -> 19.542
    assert volume_at(res, t("2026-01-06T00:00Z"), tolerance_pct=F("14.5")) == F("19.542")


@pytest.mark.rule("LRA-3")
def test_tolerance_not_configured_gives_worst_equal_to_nominal_with_a_warning():
    res = reservoir("2026-01-05T12:00Z", "20", 500, ("2026-01-05T12:00Z", SIMPLE_250, 0))
    p = run(res, tolerance=None)
    assert p.low_reservoir_alarm_at_worst_case == p.low_reservoir_alarm_at == t("2026-02-10T12:00Z")
    assert p.empty_at_worst_case == p.empty_at == t("2026-02-14T12:00Z")
    assert codes(p) == ["tolerance_not_configured"]
    # never dropped from scheduling: a refill-by date is still computed, 2026-02-10 - 7 = 2026-02-03
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 2, 3), "alarm")
    assert volume_at(res, t("2026-01-15T12:00Z"), tolerance_pct=None) == 15


@pytest.mark.rule("LRA-3")
def test_zero_tolerance_is_configured_and_equal_to_nominal_without_a_warning():
    res = reservoir("2026-01-05T12:00Z", "20", 500, ("2026-01-05T12:00Z", SIMPLE_250, 0))
    p = run(res, tolerance="0")
    assert p.low_reservoir_alarm_at_worst_case == p.low_reservoir_alarm_at
    assert codes(p) == []


# --- LRA-4: refill-by date ----------------------------------------------------------------------


def _refill_by(alarm, filled, tz=UTC, margin=7, max_days=180):
    return refill_by(
        worst_case_alarm_at=None if alarm is None else t(alarm),
        filled_at=t(filled),
        tz=tz,
        safety_margin_days=margin,
        max_reservoir_days=max_days,
    )


@pytest.mark.rule("LRA-4")
def test_refill_by_alarm_minus_safety_margin():
    # 2026-02-10 - 7 = 2026-02-03; fill + 180 = 2026-07-04 is later
    assert _refill_by("2026-02-10T12:00Z", "2026-01-05T12:00Z") == (date(2026, 2, 3), "alarm")
    # margin 0: the alarm date itself; margin 10: 2026-01-31
    assert _refill_by("2026-02-10T12:00Z", "2026-01-05T12:00Z", margin=0) == (date(2026, 2, 10), "alarm")
    assert _refill_by("2026-02-10T12:00Z", "2026-01-05T12:00Z", margin=10) == (date(2026, 1, 31), "alarm")


@pytest.mark.rule("LRA-4")
def test_refill_by_drug_stability_wins_for_a_slow_pump():
    # Jan 5 + 180 d: Jan 31 (+26), Feb 28 (+54), Mar 31 (+85), Apr 30 (+115), May 31 (+146),
    # Jun 30 (+176), Jul 4 (+180) -> 2026-07-04; alarm 2026-09-01 - 7 = 2026-08-25 is later
    assert _refill_by("2026-09-01T12:00Z", "2026-01-05T12:00Z") == (date(2026, 7, 4), "drug_stability")
    assert _refill_by(None, "2026-01-05T12:00Z") == (date(2026, 7, 4), "drug_stability")


@pytest.mark.rule("LRA-4")
def test_refill_by_tie_reports_alarm():
    # 2026-07-11 - 7 = 2026-07-04 = 2026-01-05 + 180 days
    assert _refill_by("2026-07-11T12:00Z", "2026-01-05T12:00Z") == (date(2026, 7, 4), "alarm")
    # one day earlier fill: stability 2026-07-03 wins
    assert _refill_by("2026-07-11T12:00Z", "2026-01-04T12:00Z") == (date(2026, 7, 3), "drug_stability")


@pytest.mark.rule("LRA-4")
def test_refill_by_uses_local_dates_in_the_clinic_zone():
    # 2026-02-10T02:00Z is 2026-02-09 18:00 PST in Los Angeles -> 2026-02-09 - 7 = 2026-02-02
    assert _refill_by("2026-02-10T02:00Z", "2026-01-05T12:00Z", tz=LOS_ANGELES) == (date(2026, 2, 2), "alarm")
    # the same instant in UTC is 2026-02-10 -> 2026-02-03
    assert _refill_by("2026-02-10T02:00Z", "2026-01-05T12:00Z", tz=UTC) == (date(2026, 2, 3), "alarm")
    # fill 2026-01-05T03:00Z = 2026-01-04 19:00 PST -> 2026-01-04 + 180 d = 2026-07-03
    assert _refill_by(None, "2026-01-05T03:00Z", tz=LOS_ANGELES) == (date(2026, 7, 3), "drug_stability")


@pytest.mark.rule("LRA-4")
@pytest.mark.parametrize(
    ("margin", "max_days", "field"),
    [
        (7, None, "drug.max_reservoir_days"),
        (None, 180, "clinic.safety_margin_days"),
        (-1, 180, "clinic.safety_margin_days"),
    ],
)
def test_refill_by_refuses_unconfigured_settings(margin, max_days, field):
    with pytest.raises(CalculationError) as err:
        _refill_by("2026-02-10T12:00Z", "2026-01-05T12:00Z", margin=margin, max_days=max_days)
    assert err.value.field == field


@pytest.mark.rule("LRA-4", "LRA-3")
def test_project_refill_by_in_the_clinic_zone_from_the_worst_case_alarm():
    res = reservoir("2026-01-05T02:00Z", "20", 500, ("2026-01-05T02:00Z", SIMPLE_250, 0))
    # nominal = worst (no tolerance): 36 days -> 2026-02-10T02:00Z = 2026-02-09 18:00 PST
    # -> 2026-02-09 - 7 = 2026-02-02
    p = run(res, tolerance=None, tz=LOS_ANGELES)
    assert p.low_reservoir_alarm_at_worst_case == t("2026-02-10T02:00Z")
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 2, 2), "alarm")


@pytest.mark.rule("LRA-4")
def test_project_slow_pump_refill_by_is_drug_stability():
    slow = {"mode": "simple_continuous", "daily_dose_mcg": "50"}
    res = reservoir("2026-01-05T12:00Z", "20", 2000, ("2026-01-05T12:00Z", slow, 0))
    # 50 / 2000 = 0.025 mL/day; worst 0.025 x 1.145 = 0.028625 mL/day; 18 / 0.028625 = 628.8 d
    # -> about 2027-09-25, far later than 2026-01-05 + 180 d = 2026-07-04
    p = run(res)
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 7, 4), "drug_stability")
    assert p.daily_volume_ml == Decimal("0.025")


# --- DOSE-3: the pump clock and daylight saving ---------------------------------------------


@pytest.mark.rule("DOSE-3", "LRA-1")
def test_flex_steps_are_read_on_the_pump_clock():
    # pump programmed in New York in winter: offset -5 h = -18000 s, pump midnight = 05:00Z,
    # pump 08:00 = 13:00Z
    ny = reservoir("2026-01-05T05:00Z", "20", 1000, ("2026-01-05T05:00Z", FLEX_10_20, EST))
    # 13:00Z = 08:00 pump: 8 h x 0.01 = 0.08 -> 19.92
    assert volume_at(ny, t("2026-01-05T13:00Z")) == F("19.92")
    # 15:00Z: + 2 h x 0.02 = 0.04 -> 19.88
    assert volume_at(ny, t("2026-01-05T15:00Z")) == F("19.88")
    # the same pump on a UTC clock: 05:00-08:00Z at 0.01 = 0.03, 08:00-13:00Z at 0.02 = 0.10 -> 19.87
    utc = reservoir("2026-01-05T05:00Z", "20", 1000, ("2026-01-05T05:00Z", FLEX_10_20, 0))
    assert volume_at(utc, t("2026-01-05T13:00Z")) == F("19.87")


@pytest.mark.rule("DOSE-3", "LRA-2")
def test_crossing_on_the_pump_clock():
    res = reservoir("2026-01-05T05:00Z", "20.3", 1000, ("2026-01-05T05:00Z", FLEX_10_20, EST))
    # fill at pump midnight. 18.3 mL: 45 pump days -> 18.0, 0.3 left at 2026-02-19T05:00Z (pump 00:00)
    # pump 00:00-08:00 (05:00-13:00Z) at 0.01: 0.08 -> 0.22 left; 0.22 / 0.02 = 11 h -> 13:00Z + 11 h
    # -> 2026-02-20T00:00Z (pump 19:00)
    assert time_at_volume(res, F(2)) == t("2026-02-20T00:00Z")


@pytest.mark.rule("DOSE-3")
def test_pump_clock_does_not_follow_daylight_saving():
    # still on EST after the 2026-03-08 change: pump 08:00 stays 13:00Z (wall clock 09:00 EDT)
    res = reservoir("2026-03-09T05:00Z", "20", 1000, ("2026-03-09T05:00Z", FLEX_10_20, EST))
    # 12:00Z = pump 07:00: 7 h x 0.01 = 0.07 -> 19.93; 13:00Z = pump 08:00: 0.08 -> 19.92
    assert volume_at(res, t("2026-03-09T12:00Z")) == F("19.93")
    assert volume_at(res, t("2026-03-09T13:00Z")) == F("19.92")
    # 14:00Z: + 1 h x 0.02 -> 19.90
    assert volume_at(res, t("2026-03-09T14:00Z")) == F("19.90")


@pytest.mark.rule("DOSE-3", "LRA-2")
def test_daylight_saving_change_does_not_move_physical_time():
    # fill 2026-02-20 12:00 EST = 17:00Z; 0.5 mL/day; 18 mL = 36 days = 36 x 24 h = 864 h
    # Feb 20 + 8 d = Feb 28, + 28 d = Mar 28 -> 2026-03-28T17:00Z (13:00 EDT: the wall clock moved)
    res = reservoir("2026-02-20T17:00Z", "20", 500, ("2026-02-20T17:00Z", SIMPLE_250, EST))
    p = run(res, tolerance=None, tz=NEW_YORK)
    assert p.low_reservoir_alarm_at == t("2026-03-28T17:00Z")
    assert p.low_reservoir_alarm_at - res.filled_at == timedelta(hours=36 * 24)
    # empty: 40 d -> 2026-04-01T17:00Z
    assert p.empty_at == t("2026-04-01T17:00Z")
    # refill-by: local 2026-03-28 - 7 = 2026-03-21
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 3, 21), "alarm")
    # simple continuous: no clock warning despite the DST change before the refill
    assert codes(p) == ["tolerance_not_configured"]


@pytest.mark.rule("DOSE-3", "LRA-2")
def test_flex_across_daylight_saving_keeps_physical_time_and_warns():
    res = reservoir("2026-02-20T17:00Z", "20", 1000, ("2026-02-20T05:00Z", FLEX_10_20, EST))
    # 18 mL at 0.4 mL/day = exactly 45 whole days from the fill (every 24 h covers one pump day)
    # Feb 20 + 8 = Feb 28, + 31 = Mar 31, + 6 = Apr 6 -> 2026-04-06T17:00Z
    p = run(res, tolerance=None, tz=NEW_YORK)
    assert p.low_reservoir_alarm_at == t("2026-04-06T17:00Z")
    # refill-by 2026-04-06 - 7 = 2026-03-30: the 2026-03-08 change falls before it
    assert p.refill_by == date(2026, 3, 30)
    assert codes(p) == ["tolerance_not_configured", "daylight_saving_change"]
    dst = p.warnings[1]
    assert "8 Mar 2026" in dst.message and "1 hour" in dst.message


@pytest.mark.rule("DOSE-3")
def test_periodic_bolus_warns_of_a_daylight_saving_change_before_the_next_refill():
    res = reservoir("2026-02-20T17:00Z", "20", 1000, ("2026-02-20T17:00Z", PERIODIC, EST))
    # 0.37 mL/day: 18 / 0.37 = 48.6 d -> alarm about 2026-04-10, refill-by about 2026-04-03 > 2026-03-08
    p = run(res, tz=NEW_YORK)
    assert codes(p) == ["daylight_saving_change"]


@pytest.mark.rule("DOSE-3")
def test_no_clock_warning_for_a_flex_schedule_with_equal_rates():
    res = reservoir("2026-02-20T17:00Z", "20", 1000, ("2026-02-20T17:00Z", FLEX_FLAT, EST))
    assert codes(run(res, tz=NEW_YORK)) == []


@pytest.mark.rule("DOSE-3")
def test_no_clock_warning_when_the_change_falls_after_the_next_refill():
    # fill 2026-01-05T17:00Z: 45 d -> alarm 2026-02-19, refill-by 2026-02-12, before 2026-03-08
    res = reservoir("2026-01-05T17:00Z", "20", 1000, ("2026-01-05T17:00Z", FLEX_10_20, EST))
    p = run(res, tolerance=None, tz=NEW_YORK)
    assert p.refill_by == date(2026, 2, 12)
    assert codes(p) == ["tolerance_not_configured"]


@pytest.mark.rule("DOSE-3")
def test_clock_off_the_wall_clock_after_the_change():
    res = reservoir("2026-02-20T17:00Z", "20", 1000, ("2026-02-20T17:00Z", FLEX_10_20, EST))
    # as of 2026-03-10 New York is on EDT (-4 h) but the pump still runs EST (-5 h)
    p = run(res, as_of=t("2026-03-10T12:00Z"), tz=NEW_YORK)
    assert codes(p) == ["clock_off_wall_clock"]
    assert "1 hour" in p.warnings[0].message
    # as of 2026-03-10T12:00Z: 17 d 19 h after the fill = 17 x 0.4 + (19 h from pump 12:00 to 07:00:
    # 12 h x 0.02 + 7 h x 0.01 = 0.31) = 7.11 mL -> 12.89 mL
    assert p.reservoir_volume_ml == Decimal("12.89")


@pytest.mark.rule("DOSE-3")
def test_no_warning_once_the_pump_is_reprogrammed_on_the_new_offset():
    res = reservoir(
        "2026-02-20T17:00Z",
        "20",
        1000,
        ("2026-02-20T17:00Z", FLEX_10_20, EST),
        ("2026-03-10T12:00Z", FLEX_10_20, EDT),
    )
    # next change is 2026-11-01, long after the refill-by date
    assert codes(run(res, as_of=t("2026-03-10T13:00Z"), tz=NEW_YORK)) == []


@pytest.mark.rule("DOSE-3")
def test_clock_warnings_directly():
    flex = TherapyPeriod(t("2026-10-01T04:00Z"), parse_prescription(FLEX_10_20), EDT)
    simple = TherapyPeriod(t("2026-10-01T04:00Z"), parse_prescription(SIMPLE_250), EDT)
    start, end = t("2026-10-01T04:00Z"), t("2026-11-20T05:00Z")
    # autumn: EDT -> EST on 2026-11-01
    notices = clock_warnings(flex, NEW_YORK, start, end)
    assert [n.code for n in notices] == ["daylight_saving_change"]
    assert "1 Nov 2026" in notices[0].message
    assert clock_warnings(simple, NEW_YORK, start, end) == []
    # window ending before the change: nothing
    assert clock_warnings(flex, NEW_YORK, start, t("2026-10-31T12:00Z")) == []
    # a zone without daylight saving never warns
    assert clock_warnings(TherapyPeriod(start, flex.prescription, 0), UTC, start, end) == []


# --- edges the mutation run found untested (docs/mutation.md) -------------------------------

BERLIN = ZoneInfo("Europe/Berlin")
CET = 3600  # Berlin's winter offset, +1 h


@pytest.mark.rule("DOSE-3")
def test_a_horizon_spanning_both_daylight_saving_changes_still_warns_of_the_first():
    # Berlin 2026: CET -> CEST on Sunday 2026-03-29 (last Sunday of March), back to CET on
    # 2026-10-25. From 1 Feb to 1 Dec the offset at both ends is +1 h, the pump's own: only a
    # day-by-day walk sees the spring change in between.
    flex = TherapyPeriod(t("2026-02-01T00:00Z"), parse_prescription(FLEX_10_20), CET)
    notices = clock_warnings(flex, BERLIN, t("2026-02-01T00:00Z"), t("2026-12-01T00:00Z"))
    assert [n.code for n in notices] == ["daylight_saving_change"]
    assert "29 Mar 2026" in notices[0].message
    assert "runs 1 hour off" in notices[0].message


@pytest.mark.rule("DOSE-3")
def test_a_horizon_spanning_both_changes_warns_through_project_too():
    # 200 mL at 1000 mcg/mL, 0.4 mL/day (header): the alarm at 2 mL is 198 / 0.4 = 495 days
    # away, so refill-by is the drug stability limit: 2026-02-01 + 300 days = 2026-11-28,
    # and the horizon (end of 2026-11-29, Berlin) spans both 2026 changes.
    res = reservoir("2026-02-01T00:00Z", "200", 1000, ("2026-02-01T00:00Z", FLEX_10_20, CET))
    p = run(res, tz=BERLIN, max_days=300)
    assert p.refill_by == date(2026, 11, 28)
    assert codes(p) == ["daylight_saving_change"]
    assert "29 Mar 2026" in p.warnings[0].message


@pytest.mark.rule("LRA-1", "DOSE-3")
def test_projecting_at_the_instant_a_prescription_starts_uses_the_new_one():
    # 250 mcg/day at 500 mcg/mL = 0.5 mL/day from the fill; from 2026-03-02T00:00Z the flex
    # schedule at 500 mcg/mL: (8 h x 10 + 16 h x 20) / 500 = 400 / 500 = 0.8 mL/day.
    res = reservoir(
        "2026-03-01T00:00Z",
        "20",
        500,
        ("2026-03-01T00:00Z", SIMPLE_250, 0),
        ("2026-03-02T00:00Z", FLEX_10_20, EST),
    )
    at = t("2026-03-02T00:00Z")
    assert period_at(res, at).prescription == parse_prescription(FLEX_10_20)
    p = run(res, as_of=at, tz=NEW_YORK)
    assert p.daily_volume_ml == Decimal("0.8")
    # one day at 0.5 mL/day gone: 20 - 0.5 = 19.5 mL
    assert p.reservoir_volume_ml == Decimal("19.5")
    # one second earlier the simple prescription is still in effect
    assert run(res, as_of=at - timedelta(seconds=1)).daily_volume_ml == Decimal("0.5")


@pytest.mark.rule("LRA-1")
@pytest.mark.parametrize("concentration", [0, -500])
def test_a_reservoir_without_a_positive_concentration_is_refused_clearly(concentration):
    # 0 mcg/mL would divide the daily dose by zero: refused with the field named instead.
    with pytest.raises(CalculationError) as err:
        reservoir("2026-03-01T00:00Z", "20", concentration, ("2026-03-01T00:00Z", SIMPLE_250, 0))
    assert (err.value.field, err.value.message) == (
        "concentration_mcg_per_ml",
        "must be greater than 0 mcg/mL",
    )


@pytest.mark.rule("LRA-1")
def test_a_reservoir_needs_a_prescription_and_takes_any_positive_concentration():
    with pytest.raises(CalculationError) as err:
        Reservoir(
            filled_at=t("2026-03-01T00:00Z"), volume_ml=F(20), concentration_mcg_per_ml=F(500), periods=()
        )
    assert (err.value.field, err.value.message) == (
        "prescription",
        "a projection needs the prescription in effect",
    )
    # half a microgram per millilitre is a concentration: 250 mcg/day / 0.5 = 500 mL/day
    res = reservoir("2026-03-01T00:00Z", "20", "0.5", ("2026-03-01T00:00Z", SIMPLE_250, 0))
    assert run(res).daily_volume_ml == Decimal("500")


@pytest.mark.rule("DOSE-3")
@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3600, "1 hour"),  # one daylight-saving change: singular
        (-3600, "1 hour"),  # the direction does not matter
        (7200, "2 hours"),  # 2 x 3600 s
        (5400, "1 hour 30 minutes"),  # 3600 + 1800 s
        (1800, "30 minutes"),  # Lord Howe Island: a half-hour change
        (60, "1 minute"),  # singular minutes too
        (3660, "1 hour 1 minute"),
    ],
)
def test_the_clock_shift_is_worded_in_hours_and_minutes(seconds, text):
    assert _minutes(seconds) == text


@pytest.mark.rule("DOSE-3")
def test_a_daylight_saving_change_on_the_refill_by_day_itself_is_warned():
    # Fill Fri 6 Feb 2026 17:00Z (12:00 EST), 200 mL at 0.4 mL/day: the alarm is 495 days away,
    # so refill-by is the drug stability limit, 6 Feb + 30 days = Sun 8 Mar 2026: the very day
    # New York's clocks go forward (07:00Z). The horizon runs to the end of that day.
    res = reservoir("2026-02-06T17:00Z", "200", 1000, ("2026-02-06T17:00Z", FLEX_10_20, EST))
    p = run(res, tz=NEW_YORK, max_days=30)
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 3, 8), "drug_stability")
    assert codes(p) == ["daylight_saving_change"]
    assert "8 Mar 2026" in p.warnings[0].message


@pytest.mark.rule("LRA-1")
def test_before_its_first_period_a_reservoir_reads_the_first_prescription():
    # the fill (and a projection) may come before the first recorded prescription's start
    res = reservoir(
        "2026-03-01T00:00Z",
        "20",
        500,
        ("2026-03-01T06:00Z", SIMPLE_250, 0),
        ("2026-03-02T00:00Z", FLEX_10_20, 0),
    )
    assert period_at(res, t("2026-03-01T00:00Z")).starts_at == t("2026-03-01T06:00Z")


@pytest.mark.rule("DOSE-3")
def test_the_pump_clock_off_warning_in_full():
    res = reservoir("2026-02-20T17:00Z", "20", 1000, ("2026-02-20T17:00Z", FLEX_10_20, EST))
    p = run(res, as_of=t("2026-03-10T12:00Z"), tz=NEW_YORK)
    assert p.warnings[0].message == (
        "The pump's clock is 1 hour off the clinic's wall clock since a daylight-saving "
        "change: flex steps and boluses run at the programmed pump-clock times, not the "
        "wall-clock times, until the pump is reprogrammed."
    )


SYDNEY = ZoneInfo("Australia/Sydney")
AEDT = 11 * 3600


@pytest.mark.rule("DOSE-3")
def test_a_change_the_night_after_refill_by_is_not_warned():
    # New York's clocks go forward on Sun 8 Mar 2026; refill-by Sat 7 Mar (fill 5 Feb 17:00Z
    # + 30 days of stability): the horizon ends at midnight into the 8th, before the change.
    res = reservoir("2026-02-05T17:00Z", "200", 1000, ("2026-02-05T17:00Z", FLEX_10_20, EST))
    p = run(res, tz=NEW_YORK, max_days=30)
    assert p.refill_by == date(2026, 3, 7)
    assert codes(p) == []


@pytest.mark.rule("DOSE-3")
def test_the_horizon_ends_at_midnight_in_the_clinic_zone_not_in_utc():
    # Sydney leaves daylight saving on Sun 5 Apr 2026 at 03:00 AEDT = 4 Apr 16:00Z. Fill
    # 5 Mar 02:00Z (13:00 AEDT) + 30 days: refill-by Sat 4 Apr, horizon midnight into the 5th
    # in Sydney = 4 Apr 13:00Z, before the change: no warning. (Midnight UTC would be after it.)
    res = reservoir("2026-03-05T02:00Z", "200", 1000, ("2026-03-05T02:00Z", FLEX_10_20, AEDT))
    p = run(res, tz=SYDNEY, max_days=30)
    assert p.refill_by == date(2026, 4, 4)
    assert codes(p) == []


@pytest.mark.rule("LRA-1")
def test_a_reservoir_below_one_millilitre_reads_as_it_is_and_never_below_zero():
    # 0.5 mL at 500 mcg/mL, 250 mcg/day = 0.5 mL/day: 0.5 mL at the fill, 0.25 after 12 h,
    # empty after a day, and 0 (not negative) after two
    res = reservoir("2026-03-01T00:00Z", "0.5", 500, ("2026-03-01T00:00Z", SIMPLE_250, 0))
    at_fill = run(res, lra="0.1")
    assert (at_fill.as_of, at_fill.reservoir_volume_ml) == (t("2026-03-01T00:00Z"), Decimal("0.50"))
    assert run(res, as_of=t("2026-03-01T12:00Z"), lra="0.1").reservoir_volume_ml == Decimal("0.25")
    assert run(res, as_of=t("2026-03-03T00:00Z"), lra="0.1").reservoir_volume_ml == Decimal("0.00")


@pytest.mark.rule("LRA-4")
def test_refill_by_configuration_refusals_in_full():
    with pytest.raises(CalculationError) as err:
        refill_by(
            worst_case_alarm_at=None,
            filled_at=t("2026-03-01T00:00Z"),
            tz=UTC,
            safety_margin_days=7,
            max_reservoir_days=None,
        )
    assert (err.value.field, err.value.message) == (
        "drug.max_reservoir_days",
        "is not configured: set the drug's maximum time in the reservoir",
    )
    with pytest.raises(CalculationError) as err:
        refill_by(
            worst_case_alarm_at=None,
            filled_at=t("2026-03-01T00:00Z"),
            tz=UTC,
            safety_margin_days=-1,
            max_reservoir_days=180,
        )
    assert (err.value.field, err.value.message) == (
        "clinic.safety_margin_days",
        "must be configured as 0 or more days",
    )


@pytest.mark.rule("DOSE-3")
def test_the_change_is_dated_in_the_clinic_zone_in_full():
    # Sydney: 5 Apr 2026 03:00 AEDT -> 02:00 AEST, i.e. 4 Apr 16:00Z: the clinic's date is
    # the 5th (the UTC date would be the 4th); the pump stays on AEDT, one hour off.
    flex = TherapyPeriod(t("2026-03-20T00:00Z"), parse_prescription(FLEX_10_20), AEDT)
    notices = clock_warnings(flex, SYDNEY, t("2026-03-20T00:00Z"), t("2026-04-20T00:00Z"))
    assert [(n.code, n.message) for n in notices] == [
        (
            "daylight_saving_change",
            "A daylight-saving change on 5 Apr 2026 falls before the next refill: from then the pump's "
            "schedule runs 1 hour off the wall clock unless the pump is reprogrammed.",
        )
    ]


@pytest.mark.rule("LRA-2")
def test_a_reservoir_exactly_at_the_alarm_volume_alarms_at_the_fill_not_before():
    # 2 mL at the fill (12:00Z) and an alarm at 2 mL: the alarm is the fill instant itself.
    # The pump delivers nothing from 08:00 to 16:00, so the volume drained since pump-clock
    # midnight was already reached at 08:00: that instant, before the fill, is not the alarm.
    paused = {
        "mode": "flex",
        "steps": [
            {"start": "00:00", "dose_mcg_per_hour": "10"},
            {"start": "08:00", "dose_mcg_per_hour": "0"},
            {"start": "16:00", "dose_mcg_per_hour": "10"},
        ],
    }
    res = reservoir("2026-03-01T12:00Z", "2", 500, ("2026-03-01T12:00Z", paused, 0))
    p = run(res, lra="2", tolerance="0")
    assert p.low_reservoir_alarm_at == t("2026-03-01T12:00Z")


@pytest.mark.rule("BRIDGE-1", "LRA-1")
def test_a_bridge_of_no_duration_is_skipped_and_one_under_a_second_is_drained():
    fill = t("2026-03-01T00:00Z")
    day_later = t("2026-03-02T00:00Z")
    # no bridge at all: 20 - 0.5 mL/day x 1 day = 19.5 mL
    empty = reservoir(fill, "20", 500, (fill, SIMPLE_250, 0), bridge=BridgeDrain(F(0), F(0)))
    assert volume_at(empty, day_later) == F("19.5")
    # 1 mL pushed out in half a second, then the prescription for the 86 399.5 s left:
    # 20 - 1 - 0.5 x 86399.5 / 86400 = 19 - 172799/345600 mL
    quick = reservoir(fill, "20", 500, (fill, SIMPLE_250, 0), bridge=BridgeDrain(F(1), F(1, 2)))
    assert volume_at(quick, day_later) == 19 - F(172799, 345600)


# --- MRI-1: a reservoir emptied before a scan ------------------------------------------
#
# Filled 2 Mar 2026 09:00 UTC with 20 mL at 500 mcg/mL, 250 mcg/day = 0.5 mL/day (worst
# case at 14.5 %: 0.5725 mL/day); emptied 8 days later, 10 Mar 09:00, when the emptying's
# prescription of 0 mcg/day begins.

ZERO = {"mode": "simple_continuous", "daily_dose_mcg": "0"}
PARIS = ZoneInfo("Europe/Paris")


def emptied(*later, emptied_at="2026-03-10T09:00:00+00:00"):
    periods = [
        ("2026-03-02T09:00:00+00:00", SIMPLE_250, 0),
        ("2026-03-10T09:00:00+00:00", ZERO, 0),
        *later,
    ]
    res = reservoir("2026-03-02T09:00:00+00:00", "20", "500", *periods)
    return Reservoir(**{**res.__dict__, "emptied_at": t(emptied_at)})


def test_mri_1_an_emptied_reservoir_holds_nothing_from_the_emptying():
    res = emptied()
    # one hour before: 20 - (8 - 1/24) x 0.5 = 20 - 4 + 1/48 mL
    assert volume_at(res, t("2026-03-10T08:00:00+00:00")) == F(16) + F(1, 48)
    # worst case one hour before: 20 - (8 - 1/24) x 0.5725 = 20 - 4.58 + 0.5725/24
    assert (
        volume_at(res, t("2026-03-10T08:00:00+00:00"), tolerance_pct=F("14.5"))
        == F("15.42") + F("0.5725") / 24
    )
    # from the emptying instant on, nominal and worst case: nothing
    for at in ("2026-03-10T09:00:00+00:00", "2026-03-10T09:00:01+00:00", "2026-06-01T00:00:00+00:00"):
        assert volume_at(res, t(at)) == 0
        assert volume_at(res, t(at), tolerance_pct=F("14.5")) == 0


def test_mri_1_an_emptied_reservoir_that_delivers_nothing_has_no_alarm_and_is_refilled_the_same_day():
    p = run(emptied(), as_of=t("2026-03-10T12:00:00+00:00"))
    assert p.reservoir_volume_ml == Decimal("0.00")
    assert p.daily_volume_ml == Decimal("0.000")
    # nothing is delivered, so nothing more is projected from the empty reservoir
    assert (p.low_reservoir_alarm_at, p.low_reservoir_alarm_at_worst_case) == (None, None)
    assert (p.empty_at, p.empty_at_worst_case) == (None, None)
    # refill-by: min(fill + 180 days = 29 Aug, the emptying's date 10 Mar) — no margin taken off
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 3, 10), "emptied")
    assert [w.code for w in p.warnings] == ["emptied"]
    assert p.warnings[0].message == (
        "The reservoir was emptied on Tue 10 Mar 2026 09:00 UTC: it holds no drug until it is "
        "refilled, which is due that same day."
    )


def test_mri_1_the_emptying_date_is_the_clinics_local_date():
    # 23:30 UTC on 10 Mar is 00:30 on 11 Mar in Paris (CET, UTC+1)
    res = emptied(emptied_at="2026-03-10T23:30:00+00:00")
    p = run(res, as_of=t("2026-03-11T08:00:00+00:00"), tz=PARIS)
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 3, 11), "emptied")
    assert "Wed 11 Mar 2026 00:30 CET" in p.warnings[0].message


def test_mri_1_drug_stability_still_wins_when_it_is_earlier_than_the_emptying():
    # max 5 days in the reservoir: 2 Mar + 5 = 7 Mar, before the emptying on 10 Mar
    p = run(emptied(), as_of=t("2026-03-10T12:00:00+00:00"), max_days=5)
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 3, 7), "drug_stability")


def test_mri_1_a_prescription_that_delivers_after_the_emptying_finds_the_reservoir_empty():
    # programmed to deliver again on 11 Mar 06:00 without a refill: the reservoir holds
    # nothing, so alarm and empty are that instant, nominal and worst case
    res = emptied(("2026-03-11T06:00:00+00:00", SIMPLE_250, 0))
    p = run(res, as_of=t("2026-03-10T12:00:00+00:00"))
    resumed = t("2026-03-11T06:00:00+00:00")
    assert (p.low_reservoir_alarm_at, p.low_reservoir_alarm_at_worst_case) == (resumed, resumed)
    assert (p.empty_at, p.empty_at_worst_case) == (resumed, resumed)
    assert time_at_volume(res, F(2)) == resumed
    # refill-by: alarm 11 Mar - 7 days = 4 Mar, earlier than the emptying's 10 Mar
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 3, 4), "alarm")


def test_mri_1_an_alarm_reached_before_the_emptying_stays_where_it_was():
    # 0.5 mL/day from 20 mL reaches the 2 mL alarm after 36 days: 7 Apr 09:00; emptied on
    # 8 Apr 09:00, before the reservoir would have run empty (40 days: 11 Apr)
    res = Reservoir(
        **{
            **reservoir(
                "2026-03-02T09:00:00+00:00",
                "20",
                "500",
                ("2026-03-02T09:00:00+00:00", SIMPLE_250, 0),
                ("2026-04-08T09:00:00+00:00", ZERO, 0),
            ).__dict__,
            "emptied_at": t("2026-04-08T09:00:00+00:00"),
        }
    )
    p = run(res, as_of=t("2026-04-08T10:00:00+00:00"))
    assert p.low_reservoir_alarm_at == t("2026-04-07T09:00:00+00:00")
    assert p.empty_at is None  # emptied before it ran empty, and nothing delivered since
    # worst case: 18 / 0.5725 days = 31.441... days after the fill, before the emptying
    assert p.low_reservoir_alarm_at_worst_case == t("2026-03-02T09:00:00+00:00") + timedelta(
        seconds=round(F(18) / F("0.5725") * 86400)
    )
    assert p.refill_by_reason == "alarm"


def test_mri_1_a_reservoir_emptied_after_it_ran_empty_keeps_the_empty_time():
    # 20 mL at 0.5 mL/day is empty after 40 days (11 Apr 09:00), emptied on 20 Apr
    res = Reservoir(
        **{
            **reservoir(
                "2026-03-02T09:00:00+00:00",
                "20",
                "500",
                ("2026-03-02T09:00:00+00:00", SIMPLE_250, 0),
                ("2026-04-20T09:00:00+00:00", ZERO, 0),
            ).__dict__,
            "emptied_at": t("2026-04-20T09:00:00+00:00"),
        }
    )
    assert time_at_volume(res, F(0)) == t("2026-04-11T09:00:00+00:00")


def test_mri_1_the_emptying_must_follow_the_fill():
    res = reservoir("2026-03-02T09:00:00+00:00", "20", "500", ("2026-03-02T09:00:00+00:00", SIMPLE_250, 0))
    for at in ("2026-03-02T09:00:00+00:00", "2026-03-01T09:00:00+00:00"):
        with pytest.raises(CalculationError) as error:
            Reservoir(**{**res.__dict__, "emptied_at": t(at)})
        assert error.value.field == "emptied_at"
        assert error.value.message == "must be after the fill: a reservoir is emptied after it is filled"


def emptied_as_it_stops(stops_at: str) -> Reservoir:
    """20 mL at 0.5 mL/day from 2 Mar 09:00 UTC, 0 mcg/day and emptied from ``stops_at``."""
    res = reservoir(
        "2026-03-02T09:00:00+00:00",
        "20",
        "500",
        ("2026-03-02T09:00:00+00:00", SIMPLE_250, 0),
        (stops_at, ZERO, 0),
    )
    return Reservoir(**{**res.__dict__, "emptied_at": t(stops_at)})


def test_mri_1_a_level_reached_at_the_instant_of_the_emptying_is_reached_then():
    # 20 mL at 0.5 mL/day reaches the 2 mL alarm after (20 - 2) / 0.5 = 36 days: 2 Mar 09:00
    # + 36 days = 7 Apr 09:00, the very instant the reservoir is emptied (0 mcg/day from then).
    # The alarm was reached as programmed, before nothing was left: it stays at 7 Apr 09:00,
    # not "never" (the pump delivers nothing after the emptying).
    res = emptied_as_it_stops("2026-04-07T09:00:00+00:00")
    assert time_at_volume(res, F(2)) == t("2026-04-07T09:00:00+00:00")
    p = run(res, as_of=t("2026-04-07T10:00:00+00:00"))
    assert p.low_reservoir_alarm_at == t("2026-04-07T09:00:00+00:00")
    # 2 mL were still programmed to be in it when it was emptied: it never ran empty
    assert p.empty_at is None
    # 20 / 0.5 = 40 days: programmed to run empty on 11 Apr 09:00; emptied at that instant,
    # the empty time is that instant
    assert time_at_volume(emptied_as_it_stops("2026-04-11T09:00:00+00:00"), F(0)) == t(
        "2026-04-11T09:00:00+00:00"
    )


def test_mri_1_a_reservoir_filled_at_or_below_the_alarm_alarms_at_the_fill_even_if_emptied_later():
    # 1.5 mL filled, below the 2 mL alarm: the alarm is at the fill, 2 Mar 09:00, nominal and
    # worst case, though the reservoir is emptied on 10 Mar and delivers nothing after it.
    # At 0.5 mL/day it runs empty after 1.5 / 0.5 = 3 days, 5 Mar 09:00, before the emptying
    # (worst case 1.5 / 0.5725 days = 2.620... days after the fill).
    res = Reservoir(**{**emptied().__dict__, "volume_ml": F("1.5")})
    p = run(res, as_of=t("2026-03-03T09:00:00+00:00"))
    filled = t("2026-03-02T09:00:00+00:00")
    assert (p.low_reservoir_alarm_at, p.low_reservoir_alarm_at_worst_case) == (filled, filled)
    assert p.empty_at == t("2026-03-05T09:00:00+00:00")
    assert p.empty_at_worst_case == filled + timedelta(seconds=round(F("1.5") / F("0.5725") * 86400))
    # refill-by: the alarm's 2 Mar - 7 days = 23 Feb, the earliest of the three
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 2, 23), "alarm")


def test_mri_1_a_prescription_replaced_at_the_instant_it_starts_does_not_resume_delivery():
    # Emptied on 10 Mar 09:00 (0 mcg/day from then); on 11 Mar 06:00 two prescriptions start
    # at the same instant, 250 mcg/day then 0 mcg/day: the later one is in effect from that
    # instant, so the 250 mcg/day one delivers for no time at all and the empty reservoir
    # is never drawn on again: no alarm and no empty time, nominal or worst case.
    res = emptied(("2026-03-11T06:00:00+00:00", SIMPLE_250, 0), ("2026-03-11T06:00:00+00:00", ZERO, 0))
    assert period_at(res, t("2026-03-11T06:00:00+00:00")).prescription.daily_dose_mcg_total == 0
    assert time_at_volume(res, F(2)) is None
    p = run(res, as_of=t("2026-03-11T12:00:00+00:00"))
    assert (p.low_reservoir_alarm_at, p.low_reservoir_alarm_at_worst_case) == (None, None)
    assert (p.empty_at, p.empty_at_worst_case) == (None, None)
    assert (p.refill_by, p.refill_by_reason) == (date(2026, 3, 10), "emptied")
