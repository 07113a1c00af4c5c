"""Properties of the calculation core over random prescriptions (hypothesis).

LRA-1: the volume never increases between refills; it follows the closed form for simple
continuous delivery and drops by exactly one daily volume per 24 h of a single schedule.
LRA-2: the crossing agrees with volume_at (rounded to the second).
LRA-3: the worst case is never later than nominal.
DOSE-1/DOSE-2: the daily profile covers the day and integrates to the daily dose.
BRIDGE-1: T x D / C_old = V exactly; the projection drains V over T.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction as F

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from therapy import (
    BridgeDrain,
    Prescription,
    Reservoir,
    TherapyPeriod,
    bridge_bolus,
    bridge_for_volume,
    parse_prescription,
    project,
    time_at_volume,
    volume_at,
)
from therapy.units import epoch_seconds

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EPOCH_2024 = datetime(2024, 1, 1, tzinfo=UTC)
OFFSETS = st.sampled_from([-18_000, -14_400, -12_600, 0, 3_600, 19_800, 45_900])
CONCENTRATIONS = st.sampled_from([F(50), F(500), F(750), F(1000), F(2000)])


def _tenths(n: int) -> str:
    return f"{n // 10}.{n % 10}"


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def prescription_dicts(draw, modes=("simple_continuous", "flex", "periodic_bolus")):
    mode = draw(st.sampled_from(modes))
    if mode == "simple_continuous":
        data = {"mode": mode, "daily_dose_mcg": _tenths(draw(st.integers(0, 20_000)))}
    elif mode == "flex":
        starts = [0, *sorted(draw(st.sets(st.integers(1, 1439), max_size=5)))]
        data = {
            "mode": mode,
            "steps": [
                {"start": _hhmm(s), "dose_mcg_per_hour": _tenths(draw(st.integers(0, 1000)))} for s in starts
            ],
        }
    else:
        times = sorted(draw(st.sets(st.integers(0, 1439), min_size=1, max_size=4)))
        boluses = []
        for i, time in enumerate(times):
            gap = (times[(i + 1) % len(times)] - time) % 1440 or 1440  # room until the next bolus
            boluses.append(
                {
                    "time": _hhmm(time),
                    "dose_mcg": _tenths(draw(st.integers(1, 5000))),
                    "duration_minutes": draw(st.integers(1, gap)),
                }
            )
        data = {
            "mode": mode,
            "basal_daily_dose_mcg": _tenths(draw(st.integers(0, 10_000))),
            "boluses": boluses,
        }
    if draw(st.booleans()) and draw(st.booleans()):
        data["patient_activated_bolus"] = {
            "dose_mcg": _tenths(draw(st.integers(1, 500))),
            "max_per_day": draw(st.integers(1, 24)),
            "lockout_minutes": 60,
        }
    return data


prescriptions = prescription_dicts().map(parse_prescription)


@st.composite
def reservoirs(draw, *, changes=True, bridge=True):
    filled_at = EPOCH_2024 + timedelta(seconds=draw(st.integers(0, 3 * 365 * 86_400)))
    first = filled_at - timedelta(seconds=draw(st.integers(0, 30 * 86_400)))
    periods = [TherapyPeriod(first, draw(prescriptions), draw(OFFSETS))]
    if changes:
        later = sorted(draw(st.sets(st.integers(1, 60 * 86_400), max_size=2)))
        periods += [
            TherapyPeriod(filled_at + timedelta(seconds=s), draw(prescriptions), draw(OFFSETS)) for s in later
        ]
    drain = None
    if bridge and draw(st.booleans()):
        drain = BridgeDrain(
            volume_ml=F(draw(st.integers(1, 1000)), 1000),
            duration_seconds=F(draw(st.integers(60, 3 * 86_400))),
        )
    return Reservoir(
        filled_at=filled_at,
        volume_ml=F(draw(st.integers(100, 4000)), 100),
        concentration_mcg_per_ml=draw(CONCENTRATIONS),
        periods=tuple(periods),
        bridge=drain,
    )


def _max_rate_ml_per_s(res: Reservoir, factor: F = F(1)) -> F:
    rates = [r for p in res.periods for _, _, r in p.prescription.profile()]
    top = max(rates) * factor / res.concentration_mcg_per_ml
    if res.bridge is not None:
        top = max(top, res.bridge.volume_ml / res.bridge.duration_seconds * factor)
    return top


tolerances = st.integers(0, 500).map(lambda n: F(n, 10))  # 0 .. 50.0 %
offsets_s = st.integers(0, 400 * 86_400)


# --- LRA-1 ---------------------------------------------------------------------------------


@pytest.mark.rule("LRA-1")
@FAST
@given(res=reservoirs(), a=offsets_s, b=offsets_s, tol=st.none() | tolerances)
def test_volume_never_increases_between_refills(res, a, b, tol):
    early, late = sorted((a, b))
    start = res.filled_at - timedelta(days=1)
    v_early = volume_at(res, start + timedelta(seconds=early), tolerance_pct=tol)
    v_late = volume_at(res, start + timedelta(seconds=late), tolerance_pct=tol)
    assert res.volume_ml >= v_early >= v_late >= 0


@pytest.mark.rule("LRA-1", "DOSE-2")
@FAST
@given(
    dose=st.integers(0, 20_000),
    conc=CONCENTRATIONS,
    volume=st.integers(100, 4000),
    seconds=st.integers(0, 200 * 86_400),
    offset=OFFSETS,
)
def test_simple_continuous_closed_form(dose, conc, volume, seconds, offset):
    filled_at = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    rx = parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": _tenths(dose)})
    res = Reservoir(filled_at, F(volume, 100), conc, (TherapyPeriod(filled_at, rx, offset),))
    # V(t) = V0 - D / C x t_days, clipped at 0
    expected = F(volume, 100) - F(dose, 10) / conc * F(seconds, 86_400)
    assert volume_at(res, filled_at + timedelta(seconds=seconds)) == max(F(0), expected)


@pytest.mark.rule("LRA-1", "DOSE-1", "DOSE-3")
@FAST
@given(
    rx=prescriptions,
    conc=CONCENTRATIONS,
    offset=OFFSETS,
    start=st.integers(0, 86_399),
    days=st.integers(1, 30),
)
def test_every_24_hours_of_one_schedule_drain_one_daily_volume(rx, conc, offset, start, days):
    # whatever the fill time and the pump clock, k x 24 h cover k whole pump days
    filled_at = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(seconds=start)
    res = Reservoir(filled_at, F(10_000), conc, (TherapyPeriod(filled_at, rx, offset),))
    delivered = F(10_000) - volume_at(res, filled_at + timedelta(days=days))
    assert delivered == days * rx.daily_dose_mcg_total / conc


# --- LRA-2 ---------------------------------------------------------------------------------


@pytest.mark.rule("LRA-2")
@FAST
@given(res=reservoirs(), level_pct=st.integers(0, 99), tol=st.none() | tolerances)
def test_crossing_is_consistent_with_volume_at(res, level_pct, tol):
    level = res.volume_ml * level_pct / 100
    crossing = time_at_volume(res, level, tolerance_pct=tol)
    if crossing is None:
        # never reaches the level: the last period delivers nothing
        last = max(res.periods, key=lambda p: p.starts_at)
        assert last.prescription.daily_dose_mcg_total == 0
        return
    assert crossing.microsecond == 0
    if level > 0:
        # the exact crossing c is within 0.5 s of the rounded instant: 1 s before it the volume is
        # still above the level, 1 s after it at or below
        assert volume_at(res, crossing - timedelta(seconds=1), tolerance_pct=tol) > level
    assert volume_at(res, crossing + timedelta(seconds=1), tolerance_pct=tol) <= level


@pytest.mark.rule("LRA-2")
@FAST
@given(res=reservoirs(), lra=st.integers(1, 300), tol=st.none() | tolerances)
def test_volume_at_the_alarm_is_the_alarm_volume_within_one_second_of_delivery(res, lra, tol):
    lra_ml = F(lra, 100)  # 0.01 .. 3.00 mL
    if lra_ml >= res.volume_ml:
        return
    alarm = time_at_volume(res, lra_ml, tolerance_pct=tol)
    if alarm is None:
        return
    factor = 1 + F(tol or 0) / 100
    # rounding to the second moves the instant by at most 0.5 s: |V(alarm) - LRA| <= max rate x 1 s
    assert abs(volume_at(res, alarm, tolerance_pct=tol) - lra_ml) <= _max_rate_ml_per_s(res, factor)


@pytest.mark.rule("LRA-2")
@FAST
@given(res=reservoirs(), a=st.integers(0, 100), b=st.integers(0, 100))
def test_a_lower_level_is_never_reached_earlier(res, a, b):
    high, low = res.volume_ml * max(a, b) / 100, res.volume_ml * min(a, b) / 100
    t_high, t_low = time_at_volume(res, high), time_at_volume(res, low)
    if t_low is not None:
        assert t_high is not None and t_high <= t_low


@pytest.mark.rule("LRA-2", "LRA-4")
@settings(max_examples=100, deadline=None)
@given(res=reservoirs(), lra=st.integers(50, 300), tol=st.none() | tolerances)
def test_project_agrees_with_time_at_volume(res, lra, tol):
    p = project(
        res,
        as_of=res.filled_at,
        lra_ml=F(lra, 100),
        tolerance_pct=tol,
        tz=UTC,
        safety_margin_days=7,
        max_reservoir_days=180,
    )
    assert p.low_reservoir_alarm_at == time_at_volume(res, F(lra, 100))
    assert p.low_reservoir_alarm_at_worst_case == time_at_volume(res, F(lra, 100), tolerance_pct=tol)
    assert p.empty_at == time_at_volume(res, F(0))
    assert p.refill_by <= (res.filled_at + timedelta(days=180)).date()
    if p.refill_by_reason == "alarm":
        assert p.refill_by == p.low_reservoir_alarm_at_worst_case.date() - timedelta(days=7)


# --- LRA-3 ---------------------------------------------------------------------------------


@pytest.mark.rule("LRA-3")
@FAST
@given(res=reservoirs(), tol=tolerances, lra=st.integers(0, 300), probe=offsets_s)
def test_worst_case_is_never_later_than_nominal(res, tol, lra, probe):
    level = F(lra, 100)
    nominal, worst = time_at_volume(res, level), time_at_volume(res, level, tolerance_pct=tol)
    # the worst case may reach a level the nominal never reaches (delivery stops later), never the reverse
    if nominal is not None:
        assert worst is not None and worst <= nominal
    if worst is None:
        assert nominal is None
    empty, empty_worst = time_at_volume(res, F(0)), time_at_volume(res, F(0), tolerance_pct=tol)
    if empty is not None:
        assert empty_worst <= empty
    at = res.filled_at + timedelta(seconds=probe)
    assert volume_at(res, at, tolerance_pct=tol) <= volume_at(res, at)


# --- DOSE-1 / DOSE-2 -----------------------------------------------------------------------


@pytest.mark.rule("DOSE-1", "DOSE-2")
@FAST
@given(rx=prescriptions)
def test_profile_covers_the_day_and_integrates_to_the_daily_dose(rx):
    pieces = rx.profile()
    assert pieces[0][0] == 0 and pieces[-1][1] == 86_400
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
    assert all(s < e and r >= 0 for s, e, r in pieces)
    assert sum(r * (e - s) for s, e, r in pieces) == rx.daily_dose_mcg_total
    extra = (
        0
        if rx.patient_activated is None
        else rx.patient_activated.dose_mcg * rx.patient_activated.max_per_day
    )
    assert rx.daily_dose_mcg_total == rx.scheduled_daily_dose_mcg + extra
    assert parse_prescription(rx.as_dict()) == rx


@pytest.mark.rule("DOSE-1")
@FAST
@given(data=prescription_dicts(modes=("flex",)))
def test_flex_total_is_sum_of_step_rates_times_hours(data):
    rx = parse_prescription(data)
    starts = [int(s["start"][:2]) * 60 + int(s["start"][3:]) for s in data["steps"]]
    ends = [*starts[1:], 1440]
    expected = sum(
        (
            F(s["dose_mcg_per_hour"]) * F(end - start, 60)
            for s, start, end in zip(data["steps"], starts, ends, strict=True)
        ),
        F(0),
    )
    assert rx.scheduled_daily_dose_mcg == expected


# --- BRIDGE-1 ------------------------------------------------------------------------------


@pytest.mark.rule("BRIDGE-1")
@FAST
@given(
    volume=st.integers(1, 2000),
    old=CONCENTRATIONS,
    new=CONCENTRATIONS,
    dose=st.integers(1, 20_000),
)
def test_bridge_duration_times_rate_is_the_path_volume(volume, old, new, dose):
    v, d = F(volume, 1000), F(dose, 10)
    b = bridge_for_volume(
        path_volume_ml=v,
        old_concentration_mcg_per_ml=old,
        new_concentration_mcg_per_ml=new,
        prescription=Prescription("simple_continuous", daily_dose_mcg=d),
    )
    # rate = D / C_old mL/day; T x rate = V exactly
    assert b.duration_seconds / 86_400 * d / old == v
    assert b.delivered_dose_mcg == v * old
    assert b.programmed_dose_mcg == v * new
    # the patient receives D per day during the bridge
    assert d * b.duration_seconds / 86_400 == b.delivered_dose_mcg


@pytest.mark.rule("BRIDGE-1")
@FAST
@given(
    old=CONCENTRATIONS,
    new=CONCENTRATIONS,
    dose=st.integers(1, 20_000),
    pmin=st.integers(0, 500),
    spread=st.integers(0, 200),
    per_cm=st.integers(1, 100),
    length=st.integers(0, 1100),
)
def test_bridge_bolus_uses_the_bound_that_errs_toward_underdosing(
    old, new, dose, pmin, spread, per_cm, length
):
    b = bridge_bolus(
        old_concentration_mcg_per_ml=old,
        new_concentration_mcg_per_ml=new,
        prescription=Prescription("simple_continuous", daily_dose_mcg=F(dose, 10)),
        pathway_volume_min_ml=F(pmin, 1000),
        pathway_volume_max_ml=F(pmin + spread, 1000),
        catheter_volume_ml_per_cm=F(per_cm, 10_000),
        catheter_length_cm=F(length, 10),
    )
    if old == new:
        assert b is None
        return
    pathway = F(pmin, 1000) if new > old else F(pmin + spread, 1000)
    exact_v = pathway + F(length, 10) * F(per_cm, 10_000)
    assert abs(b.path_volume_ml - exact_v) <= F(1, 2000)  # rounded to 0.001 mL
    assert (b.path_volume_ml * 1000).denominator == 1
    assert b.duration_seconds / 86_400 * F(dose, 10) / old == b.path_volume_ml


@pytest.mark.rule("BRIDGE-1", "LRA-1", "LRA-3")
@FAST
@given(
    res=reservoirs(bridge=False),
    volume=st.integers(1, 1000),
    duration=st.integers(60, 3 * 86_400),
    tol=st.none() | tolerances,
)
def test_projection_drains_the_bridge_volume_over_its_duration(res, volume, duration, tol):
    drain = BridgeDrain(volume_ml=F(volume, 1000), duration_seconds=F(duration))
    bridged = Reservoir(res.filled_at, res.volume_ml, res.concentration_mcg_per_ml, res.periods, drain)
    factor = 1 + F(tol or 0) / 100
    if drain.volume_ml >= res.volume_ml:
        return
    # the worst-case drain (1 + tolerance) x V / T reaches V0 - V exactly at T / (1 + tolerance)
    end = epoch_seconds(res.filled_at) + drain.duration_seconds / factor
    reached = time_at_volume(bridged, res.volume_ml - drain.volume_ml, tolerance_pct=tol)
    assert abs(epoch_seconds(reached) - end) <= F(1, 2)
    # halfway through the nominal bridge half of V is gone (the drain is linear)
    half = res.filled_at + timedelta(seconds=duration / 2)
    assert volume_at(bridged, half) == res.volume_ml - drain.volume_ml / 2
    # LRA-3: the worst-case bridge runs its whole duration T and drains (1 + tolerance) x V by then
    end_of_bridge = res.filled_at + timedelta(seconds=duration)
    assert volume_at(bridged, end_of_bridge, tolerance_pct=tol) == max(
        F(0), res.volume_ml - factor * drain.volume_ml
    )
