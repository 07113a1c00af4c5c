"""DOSE-1 and DOSE-2: prescriptions, their daily profile, daily dose and daily volume, and
every refusal of ``parse_prescription`` (with the exact field path it names).

All expected values are worked out by hand; the arithmetic is in the comments.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction as F

import pytest

from therapy import CalculationError, daily_volume_ml, parse_prescription

FLEX_10_20 = {
    "mode": "flex",
    "steps": [
        {"start": "00:00", "dose_mcg_per_hour": "10"},
        {"start": "08:00", "dose_mcg_per_hour": "20"},
    ],
}


# --- DOSE-1: the three modes and the total daily dose --------------------------------------


@pytest.mark.rule("DOSE-1")
def test_simple_continuous_is_one_flat_piece_over_the_day():
    p = parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": "250"})
    assert p.scheduled_daily_dose_mcg == 250
    # 250 mcg/day spread over 86 400 s = 250/86400 mcg/s from 00:00 to 24:00
    assert p.profile() == ((0, 86_400, F(250, 86_400)),)
    assert p.daily_dose_mcg_total == 250
    assert not p.is_time_dependent


@pytest.mark.rule("DOSE-1")
def test_flex_total_daily_dose_is_the_sum_over_24_hours():
    p = parse_prescription(FLEX_10_20)
    # 00:00-08:00: 8 h x 10 mcg/h = 80 mcg; 08:00-24:00: 16 h x 20 mcg/h = 320 mcg; total 400 mcg
    assert p.scheduled_daily_dose_mcg == 400
    # 08:00 = 28 800 s; rates 10/3600 and 20/3600 mcg/s
    assert p.profile() == ((0, 28_800, F(10, 3_600)), (28_800, 86_400, F(20, 3_600)))
    assert p.is_time_dependent


@pytest.mark.rule("DOSE-1")
def test_flex_each_step_runs_until_the_next_and_the_last_until_midnight():
    p = parse_prescription(
        {
            "mode": "flex",
            "steps": [
                {"start": "00:00", "dose_mcg_per_hour": "5"},
                {"start": "06:30", "dose_mcg_per_hour": "12"},
                {"start": "22:15", "dose_mcg_per_hour": "3"},
            ],
        }
    )
    # 00:00-06:30 = 6.5 h x 5 = 32.5; 06:30-22:15 = 15.75 h x 12 = 189; 22:15-24:00 = 1.75 h x 3 = 5.25
    # total 32.5 + 189 + 5.25 = 226.75 mcg/day
    assert p.scheduled_daily_dose_mcg == F("226.75")
    # 06:30 = 23 400 s, 22:15 = 80 100 s
    assert [(s, e) for s, e, _ in p.profile()] == [(0, 23_400), (23_400, 80_100), (80_100, 86_400)]


@pytest.mark.rule("DOSE-1")
def test_flex_with_equal_rates_is_not_time_dependent():
    p = parse_prescription(
        {
            "mode": "flex",
            "steps": [
                {"start": "00:00", "dose_mcg_per_hour": "10"},
                {"start": "12:00", "dose_mcg_per_hour": "10"},
            ],
        }
    )
    # 24 h x 10 mcg/h = 240 mcg/day, one constant piece
    assert p.scheduled_daily_dose_mcg == 240
    assert p.profile() == ((0, 86_400, F(10, 3_600)),)
    assert not p.is_time_dependent


@pytest.mark.rule("DOSE-1")
def test_periodic_bolus_total_is_basal_plus_boluses_and_boluses_sit_at_their_clock_time():
    p = parse_prescription(
        {
            "mode": "periodic_bolus",
            "basal_daily_dose_mcg": "240",
            "boluses": [
                {"time": "18:00", "dose_mcg": "130", "duration_minutes": 30},
                {"time": "12:00", "dose_mcg": "120", "duration_minutes": 60},
            ],
        }
    )
    # 240 + 120 + 130 = 490 mcg/day
    assert p.scheduled_daily_dose_mcg == 490
    basal = F(240, 86_400)  # = 1/360 mcg/s
    assert p.profile() == (
        (0, 43_200, basal),  # 00:00-12:00
        (43_200, 46_800, basal + F(120, 3_600)),  # 12:00-13:00: + 120 mcg / 3600 s
        (46_800, 64_800, basal),  # 13:00-18:00
        (64_800, 66_600, basal + F(130, 1_800)),  # 18:00-18:30: + 130 mcg / 1800 s
        (66_600, 86_400, basal),  # 18:30-24:00
    )
    assert p.is_time_dependent
    # boluses are kept in clock order whatever order they were entered in
    assert [b.time_minute for b in p.boluses] == [720, 1080]


@pytest.mark.rule("DOSE-1")
def test_bolus_wrapping_past_midnight_is_split_over_both_ends_of_the_day():
    p = parse_prescription(
        {
            "mode": "periodic_bolus",
            "basal_daily_dose_mcg": "240",
            "boluses": [{"time": "23:30", "dose_mcg": "120", "duration_minutes": 60}],
        }
    )
    # basal 240/86400 = 1/360 mcg/s; bolus 120 mcg / 3600 s = 1/30 = 12/360 mcg/s; together 13/360
    # 23:30 = 84 600 s: the bolus runs 84 600-86 400 and 0-1 800 (00:30) of the pump-clock day
    assert p.profile() == (
        (0, 1_800, F(13, 360)),
        (1_800, 84_600, F(1, 360)),
        (84_600, 86_400, F(13, 360)),
    )
    # 2 x 1800 s x 13/360 = 130 mcg, 82 800 s x 1/360 = 230 mcg: 360 mcg = 240 + 120
    assert sum(r * (e - s) for s, e, r in p.profile()) == 360
    assert p.scheduled_daily_dose_mcg == 360


@pytest.mark.rule("DOSE-1")
def test_adjacent_boluses_do_not_overlap_and_a_full_day_bolus_is_allowed():
    adjacent = parse_prescription(
        {
            "mode": "periodic_bolus",
            "basal_daily_dose_mcg": "0",
            "boluses": [
                {"time": "10:00", "dose_mcg": "10", "duration_minutes": 60},
                {"time": "11:00", "dose_mcg": "10", "duration_minutes": 60},
            ],
        }
    )
    assert adjacent.scheduled_daily_dose_mcg == 20
    whole_day = parse_prescription(
        {
            "mode": "periodic_bolus",
            "basal_daily_dose_mcg": "0",
            "boluses": [{"time": "06:00", "dose_mcg": "144", "duration_minutes": 1440}],
        }
    )
    # 144 mcg over 86 400 s = 1/600 mcg/s all day
    assert whole_day.profile() == ((0, 86_400, F(1, 600)),)


@pytest.mark.rule("DOSE-1")
def test_as_dict_round_trips():
    data = {
        "mode": "periodic_bolus",
        "basal_daily_dose_mcg": "240.5",
        "boluses": [{"time": "23:30", "dose_mcg": "120", "duration_minutes": 60}],
        "patient_activated_bolus": {"dose_mcg": "10", "max_per_day": 4, "lockout_minutes": 120},
    }
    p = parse_prescription(data)
    assert p.as_dict() == data
    assert parse_prescription(p.as_dict()) == p
    flex = parse_prescription(FLEX_10_20)
    assert parse_prescription(flex.as_dict()) == flex


@pytest.mark.rule("DOSE-1")
def test_numbers_are_exact_whatever_their_json_type():
    # a float goes through its shortest repr: 0.1 is 1/10, not the binary approximation
    assert parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": 0.1}).daily_dose_mcg == F(1, 10)
    assert parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": 250}).daily_dose_mcg == 250
    assert parse_prescription(
        {"mode": "simple_continuous", "daily_dose_mcg": Decimal("250.25")}
    ).daily_dose_mcg == F(1001, 4)
    assert parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": "0"}).daily_dose_mcg == 0


# --- DOSE-2: daily volume, patient-activated boluses at their maximum ----------------------


@pytest.mark.rule("DOSE-2")
@pytest.mark.parametrize(
    ("dose", "concentration", "expected"),
    [
        (250, 500, F(1, 2)),  # 250 / 500 = 0.5 mL/day
        (400, 1000, F(2, 5)),  # 400 / 1000 = 0.4 mL/day
        (300, 2000, F(3, 20)),  # 300 / 2000 = 0.15 mL/day
        (100, 50, F(2)),  # screening strength: 100 / 50 = 2 mL/day
    ],
)
def test_daily_volume_is_daily_dose_over_concentration(dose, concentration, expected):
    assert daily_volume_ml(F(dose), F(concentration)) == expected


@pytest.mark.rule("DOSE-2")
@pytest.mark.parametrize("concentration", [0, -500])
def test_daily_volume_refuses_a_concentration_of_zero_or_less(concentration):
    with pytest.raises(CalculationError) as err:
        daily_volume_ml(F(250), F(concentration))
    assert err.value.field == "concentration_mcg_per_ml"


@pytest.mark.rule("DOSE-2", "DOSE-1")
def test_patient_activated_boluses_count_at_their_maximum_per_day():
    p = parse_prescription(
        {
            "mode": "simple_continuous",
            "daily_dose_mcg": "200",
            "patient_activated_bolus": {"dose_mcg": "10", "max_per_day": 5, "lockout_minutes": 120},
        }
    )
    assert p.scheduled_daily_dose_mcg == 200
    # 200 + 5 x 10 = 250 mcg/day for projection; at 500 mcg/mL: 0.5 mL/day
    assert p.daily_dose_mcg_total == 250
    assert daily_volume_ml(p.daily_dose_mcg_total, F(500)) == F(1, 2)
    # spread evenly over the day: 250/86400 mcg/s
    assert p.profile() == ((0, 86_400, F(250, 86_400)),)
    assert not p.is_time_dependent


@pytest.mark.rule("DOSE-2")
def test_patient_activated_boluses_add_to_every_flex_piece():
    data = dict(
        FLEX_10_20, patient_activated_bolus={"dose_mcg": "12", "max_per_day": 6, "lockout_minutes": 60}
    )
    p = parse_prescription(data)
    # 6 x 12 = 72 mcg/day extra = 72/86400 = 1/1200 mcg/s; flex total 400 -> 472 mcg/day
    assert p.daily_dose_mcg_total == 472
    assert p.profile() == (
        (0, 28_800, F(10, 3_600) + F(1, 1_200)),
        (28_800, 86_400, F(20, 3_600) + F(1, 1_200)),
    )


# --- DOSE-1: refusals, each naming the exact field -----------------------------------------

STEP0 = {"start": "00:00", "dose_mcg_per_hour": "10"}


def _flex(*steps):
    return {"mode": "flex", "steps": list(steps)}


def _simple(dose):
    return {"mode": "simple_continuous", "daily_dose_mcg": dose}


def _periodic(*boluses, basal="240"):
    return {"mode": "periodic_bolus", "basal_daily_dose_mcg": basal, "boluses": list(boluses)}


def _bolus(time="12:00", dose="100", duration=60):
    return {"time": time, "dose_mcg": dose, "duration_minutes": duration}


def _pab(dose="10", max_per_day=4, lockout=60):
    return {"dose_mcg": dose, "max_per_day": max_per_day, "lockout_minutes": lockout}


BAD_PRESCRIPTIONS = [
    # shape and mode
    pytest.param(None, "prescription", id="not-an-object"),
    pytest.param([], "prescription", id="list-not-object"),
    pytest.param({"daily_dose_mcg": "250"}, "prescription.mode", id="missing-mode"),
    pytest.param({"mode": "bolus", "daily_dose_mcg": "250"}, "prescription.mode", id="unknown-mode"),
    # unknown keys (the first in sorted order is named)
    pytest.param(
        {"mode": "simple_continuous", "daily_dose_mcg": "250", "steps": []},
        "prescription.steps",
        id="flex-key-on-simple",
    ),
    pytest.param(
        {"mode": "simple_continuous", "daily_dose_mcg": "250", "zeta": 1, "alpha": 2},
        "prescription.alpha",
        id="unknown-keys-first-sorted",
    ),
    pytest.param(
        dict(FLEX_10_20, daily_dose_mcg="250"), "prescription.daily_dose_mcg", id="simple-key-on-flex"
    ),
    pytest.param(dict(_periodic(_bolus()), steps=[]), "prescription.steps", id="flex-key-on-periodic"),
    # unknown keys inside steps, boluses and patient-activated boluses are refused too (a typo
    # such as "dose_mcg_per_hr" must never be silently ignored)
    pytest.param(
        _flex({"start": "00:00", "dose_mcg_per_hour": "10", "dose_mcg_per_hr": "12"}),
        "prescription.steps[0].dose_mcg_per_hr",
        id="flex-step-unknown-key",
    ),
    pytest.param(
        _periodic(dict(_bolus(), duration_min=30)),
        "prescription.boluses[0].duration_min",
        id="bolus-unknown-key",
    ),
    pytest.param(
        {
            "mode": "simple_continuous",
            "daily_dose_mcg": "250",
            "patient_activated_bolus": dict(_pab(), per_day=2),
        },
        "prescription.patient_activated_bolus.per_day",
        id="patient-bolus-unknown-key",
    ),
    # flex steps
    pytest.param({"mode": "flex"}, "prescription.steps", id="flex-missing-steps"),
    pytest.param(_flex(), "prescription.steps", id="flex-empty-steps"),
    pytest.param(_flex("00:00"), "prescription.steps[0]", id="flex-step-not-object"),
    pytest.param(
        _flex({"start": "01:00", "dose_mcg_per_hour": "10"}),
        "prescription.steps[0].start",
        id="flex-first-step-not-midnight",
    ),
    pytest.param(
        _flex(STEP0, {"start": "00:00", "dose_mcg_per_hour": "20"}),
        "prescription.steps[1].start",
        id="flex-repeated-midnight",
    ),
    pytest.param(
        _flex(
            STEP0,
            {"start": "08:00", "dose_mcg_per_hour": "20"},
            {"start": "08:00", "dose_mcg_per_hour": "5"},
        ),
        "prescription.steps[2].start",
        id="flex-equal-starts",
    ),
    pytest.param(
        _flex(
            STEP0,
            {"start": "08:00", "dose_mcg_per_hour": "20"},
            {"start": "06:00", "dose_mcg_per_hour": "5"},
        ),
        "prescription.steps[2].start",
        id="flex-decreasing-start",
    ),
    pytest.param(
        _flex(STEP0, {"start": "24:00", "dose_mcg_per_hour": "20"}), "prescription.steps[1].start", id="24:00"
    ),
    pytest.param(
        _flex(STEP0, {"start": "7:00", "dose_mcg_per_hour": "20"}), "prescription.steps[1].start", id="7:00"
    ),
    pytest.param(
        _flex(STEP0, {"start": 12, "dose_mcg_per_hour": "20"}), "prescription.steps[1].start", id="int-time"
    ),
    pytest.param(
        _flex(STEP0, {"start": "12:60", "dose_mcg_per_hour": "20"}), "prescription.steps[1].start", id="12:60"
    ),
    pytest.param(
        _flex(STEP0, {"start": "12:00:00", "dose_mcg_per_hour": "20"}),
        "prescription.steps[1].start",
        id="seconds-in-time",
    ),
    pytest.param(
        _flex(STEP0, {"dose_mcg_per_hour": "20"}), "prescription.steps[1].start", id="missing-start"
    ),
    pytest.param(
        _flex(STEP0, {"start": "08:00", "dose_mcg_per_hour": "-1"}),
        "prescription.steps[1].dose_mcg_per_hour",
        id="flex-negative-rate",
    ),
    pytest.param(
        _flex(STEP0, {"start": "08:00"}), "prescription.steps[1].dose_mcg_per_hour", id="flex-missing-rate"
    ),
    # simple continuous numbers
    pytest.param(_simple("-0.1"), "prescription.daily_dose_mcg", id="simple-negative"),
    pytest.param(_simple("abc"), "prescription.daily_dose_mcg", id="simple-not-a-number"),
    pytest.param(_simple(float("nan")), "prescription.daily_dose_mcg", id="simple-nan-float"),
    pytest.param(_simple("NaN"), "prescription.daily_dose_mcg", id="simple-nan-string"),
    pytest.param(_simple(float("inf")), "prescription.daily_dose_mcg", id="simple-infinity"),
    pytest.param(_simple(True), "prescription.daily_dose_mcg", id="simple-bool"),
    pytest.param(_simple(None), "prescription.daily_dose_mcg", id="simple-null"),
    pytest.param(_simple(""), "prescription.daily_dose_mcg", id="simple-empty-string"),
    pytest.param(_simple([250]), "prescription.daily_dose_mcg", id="simple-list"),
    pytest.param({"mode": "simple_continuous"}, "prescription.daily_dose_mcg", id="simple-missing-dose"),
    # periodic boluses
    pytest.param(_periodic(_bolus(), basal="-5"), "prescription.basal_daily_dose_mcg", id="negative-basal"),
    pytest.param(_periodic(), "prescription.boluses", id="no-boluses"),
    pytest.param(_periodic("12:00"), "prescription.boluses[0]", id="bolus-not-object"),
    pytest.param(_periodic(_bolus(time="24:00")), "prescription.boluses[0].time", id="bolus-24:00"),
    pytest.param(_periodic(_bolus(time="7:00")), "prescription.boluses[0].time", id="bolus-7:00"),
    pytest.param(_periodic(_bolus(time=720)), "prescription.boluses[0].time", id="bolus-int-time"),
    pytest.param(_periodic(_bolus(dose="0")), "prescription.boluses[0].dose_mcg", id="bolus-dose-zero"),
    pytest.param(_periodic(_bolus(dose="-10")), "prescription.boluses[0].dose_mcg", id="bolus-dose-negative"),
    pytest.param(_periodic(_bolus(dose=False)), "prescription.boluses[0].dose_mcg", id="bolus-dose-bool"),
    pytest.param(
        _periodic(_bolus(duration=0)), "prescription.boluses[0].duration_minutes", id="bolus-duration-0"
    ),
    pytest.param(
        _periodic(_bolus(duration=1441)), "prescription.boluses[0].duration_minutes", id="bolus-duration-1441"
    ),
    pytest.param(
        _periodic(_bolus(duration="1.5")), "prescription.boluses[0].duration_minutes", id="bolus-duration-1.5"
    ),
    pytest.param(
        _periodic(_bolus(duration=float("nan"))),
        "prescription.boluses[0].duration_minutes",
        id="bolus-duration-nan",
    ),
    pytest.param(
        _periodic(_bolus("08:00"), _bolus("09:00", duration=30), _bolus("08:30", duration=15)),
        "prescription.boluses",
        id="overlapping-boluses",
    ),
    pytest.param(
        _periodic(_bolus("12:00"), _bolus("12:00", duration=5)),
        "prescription.boluses",
        id="same-time-boluses",
    ),
    pytest.param(
        # 23:30 + 60 min runs until 00:30 the next day: a bolus at 00:15 overlaps its wrapped part
        _periodic(_bolus("23:30", duration=60), _bolus("00:15", duration=10)),
        "prescription.boluses",
        id="overlap-with-wrapped-bolus",
    ),
    # patient-activated boluses
    pytest.param(
        _simple("200") | {"patient_activated_bolus": _pab(dose="0")},
        "prescription.patient_activated_bolus.dose_mcg",
        id="pab-dose-zero",
    ),
    pytest.param(
        _simple("200") | {"patient_activated_bolus": _pab(max_per_day=0)},
        "prescription.patient_activated_bolus.max_per_day",
        id="pab-max-zero",
    ),
    pytest.param(
        _simple("200") | {"patient_activated_bolus": _pab(lockout=-1)},
        "prescription.patient_activated_bolus.lockout_minutes",
        id="pab-negative-lockout",
    ),
    pytest.param(
        # 25 boluses x 60 min lockout = 1500 min > 1440 min in a day
        _simple("200") | {"patient_activated_bolus": _pab(max_per_day=25, lockout=60)},
        "prescription.patient_activated_bolus.max_per_day",
        id="pab-does-not-fit-in-a-day",
    ),
    pytest.param(
        _simple("200") | {"patient_activated_bolus": "yes"},
        "prescription.patient_activated_bolus",
        id="pab-not-object",
    ),
]


@pytest.mark.rule("DOSE-1")
@pytest.mark.parametrize(("data", "field"), BAD_PRESCRIPTIONS)
def test_parse_prescription_refuses_naming_the_exact_field(data, field):
    with pytest.raises(CalculationError) as err:
        parse_prescription(data)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")
    assert err.value.message


@pytest.mark.rule("DOSE-1")
def test_field_prefix_is_the_callers_path():
    with pytest.raises(CalculationError) as err:
        parse_prescription(
            _flex(
                STEP0,
                {"start": "06:00", "dose_mcg_per_hour": "5"},
                {"start": "05:00", "dose_mcg_per_hour": "5"},
            ),
            field="refill.prescription",
        )
    assert err.value.field == "refill.prescription.steps[2].start"


@pytest.mark.rule("DOSE-1")
def test_boundary_values_that_are_accepted():
    # 23:59 is the last valid time; 1 and 1440 minutes the duration bounds; lockout 0 allowed;
    # 24 boluses x 60 min = 1440 min fits exactly in a day
    assert (
        parse_prescription(_flex(STEP0, {"start": "23:59", "dose_mcg_per_hour": "0"})).steps[1].start_minute
        == 1439
    )
    assert parse_prescription(_periodic(_bolus(duration=1))).boluses[0].duration_minutes == 1
    assert parse_prescription(_periodic(_bolus(duration=1440))).boluses[0].duration_minutes == 1440
    pab = parse_prescription(_simple("200") | {"patient_activated_bolus": _pab(max_per_day=24, lockout=60)})
    assert pab.patient_activated.max_per_day == 24
    assert parse_prescription(_simple("200") | {"patient_activated_bolus": _pab(lockout=0)}).patient_activated
