"""Every refusal and notice of the calculation core, word for word: the field a nurse is
sent back to, the stable code the API passes on, and the sentence she reads. The mutation
run (docs/mutation.md) showed that tests checking only the field or the code let a message
be blanked or garbled unnoticed.

The expected sentences are written out from the rules, not copied from a run; numbers are
worked out in the comments.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction as F
from zoneinfo import ZoneInfo

import pytest

from therapy import (
    CalculationError,
    Reservoir,
    TherapyPeriod,
    bridge_bolus,
    bridge_for_volume,
    check_concentration,
    check_event_time,
    check_first_fill_concentration,
    check_first_prescription,
    check_refill_volumes,
    daily_volume_ml,
    parse_prescription,
    project,
    residual_discrepancy,
    screening_outcome,
)
from therapy.titration import ScreeningOutcome
from therapy.units import (
    _shown,
    add_months,
    check_year,
    epoch_seconds,
    exact,
    instant,
    representable,
    rounded,
)

BERLIN = ZoneInfo("Europe/Berlin")
SIMPLE = parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": "250"})


def refused(call, **kwargs) -> tuple[str, str, str]:
    with pytest.raises(CalculationError) as err:
        call(**kwargs)
    return err.value.field, err.value.code, err.value.message


# --- REFILL-2: volumes ----------------------------------------------------------------------


def _volumes(withdrawn="0", added="20", concentration="500", reservoir="20", first_fill=False):
    return check_refill_volumes(
        volume_withdrawn_ml=F(withdrawn),
        volume_added_ml=F(added),
        concentration_mcg_per_ml=F(concentration),
        reservoir_ml=F(reservoir),
        first_fill=first_fill,
    )


@pytest.mark.rule("REFILL-2")
def test_refill_volume_refusals_in_full():
    assert refused(_volumes, added="0") == ("volume_added_ml", "invalid", "must be greater than 0 mL (got 0)")
    assert refused(_volumes, added="20.5") == (
        "volume_added_ml",
        "invalid",
        "20.50 mL overfills the reservoir: at most 20.00 mL",
    )
    assert refused(_volumes, withdrawn="-1") == ("volume_withdrawn_ml", "invalid", "must be 0 mL or more")
    assert refused(_volumes, withdrawn="21") == (
        "volume_withdrawn_ml",
        "invalid",
        "21.00 mL is more than the reservoir holds: at most 20.00 mL",
    )
    assert refused(_volumes, withdrawn="1", first_fill=True) == (
        "volume_withdrawn_ml",
        "invalid",
        "must be 0 at the first fill after implant (nothing to withdraw)",
    )
    assert refused(_volumes, concentration="0") == (
        "concentration_mcg_per_ml",
        "invalid",
        "must be greater than 0 mcg/mL",
    )


@pytest.mark.rule("REFILL-2")
def test_small_positive_volumes_and_concentrations_are_accepted():
    # the bounds are 0, not 1: half a millilitre and 0.5 mcg/mL are volumes and concentrations
    assert _volumes(added="0.5", concentration="0.5") is None
    assert _volumes(withdrawn="20", added="20") is None  # the whole reservoir out, then in
    assert daily_volume_ml(F(250), F("0.5")) == 500  # 250 mcg / 0.5 mcg/mL = 500 mL
    assert check_concentration(
        concentration_mcg_per_ml=F("0.5"), supplied=[], compounded_confirmed=True
    ) is None  # fmt: skip


@pytest.mark.rule("DOSE-4")
def test_concentration_refusals_in_full():
    assert refused(daily_volume_ml, daily_dose_mcg=F(250), concentration_mcg_per_ml=F(0)) == (
        "concentration_mcg_per_ml",
        "invalid",
        "must be greater than 0 mcg/mL",
    )
    assert refused(
        check_concentration, concentration_mcg_per_ml=F(0), supplied=[F(500)], compounded_confirmed=True
    ) == ("concentration_mcg_per_ml", "invalid", "must be greater than 0 mcg/mL")
    assert refused(
        check_concentration,
        concentration_mcg_per_ml=F("1500.5"),
        supplied=[F(2000), F(500), F(50)],
        compounded_confirmed=False,
    ) == (
        "concentration_mcg_per_ml",
        "compounded_not_confirmed",
        "1500.5 mcg/mL is not a supplied concentration (50, 500, 2000); "
        "a compounded concentration needs compounded_confirmed: true",
    )


# --- REFILL-2: event times ------------------------------------------------------------------


def _event(at, now="2026-11-26T12:00Z", implanted_on=date(2026, 1, 10), not_before=None):
    return check_event_time(
        at=datetime.fromisoformat(at),
        now=datetime.fromisoformat(now),
        implanted_on=implanted_on,
        tz=BERLIN,
        field="performed_at",
        not_before=None if not_before is None else datetime.fromisoformat(not_before),
    )


@pytest.mark.rule("REFILL-2")
def test_event_time_refusals_in_full():
    # 13:00Z on Thursday 26 Nov 2026 is 14:00 CET in Berlin
    assert refused(_event, at="2026-11-26T13:00Z") == (
        "performed_at",
        "in_future",
        "Thu 26 Nov 2026 14:00 CET is in the future: record what has happened",
    )
    # 9 Jan 2026 23:30Z is already 10 Jan 00:30 in Berlin: the implant day, allowed
    assert _event("2026-01-09T23:30Z") is None
    assert refused(_event, at="2026-01-09T22:30Z") == (
        "performed_at",
        "before_implant",
        "is before the pump was implanted on 10 Jan 2026",
    )
    # 1 Jul 2026 08:00Z is 10:00 CEST
    assert refused(_event, at="2026-07-01T08:00Z", not_before="2026-07-01T08:00Z") == (
        "performed_at",
        "out_of_order",
        "must be after the pump's last recorded refill or prescription (Wed 1 Jul 2026 10:00 CEST)",
    )
    assert _event("2026-07-01T08:00:01Z", not_before="2026-07-01T08:00Z") is None


# --- REFILL-1: the residual discrepancy -----------------------------------------------------


@pytest.mark.rule("REFILL-1")
def test_residual_discrepancy_refusal_and_directions():
    assert refused(
        residual_discrepancy, expected_residual_ml=F(2), volume_withdrawn_ml=F(2), threshold_ml=None
    ) == (
        "pump_model.discrepancy_threshold_ml",
        "invalid",
        "is not configured: an admin must set the model's refill discrepancy threshold",
    )
    # withdrawn 2.5 - expected 2.0 = +0.5 > 0.2: more than expected (+0.5 is below 1 mL: still more)
    more = residual_discrepancy(
        expected_residual_ml=F(2), volume_withdrawn_ml=F("2.5"), threshold_ml=F("0.2")
    )
    assert more.direction == "more_than_expected"
    less = residual_discrepancy(
        expected_residual_ml=F(2), volume_withdrawn_ml=F("1.5"), threshold_ml=F("0.2")
    )
    assert less.direction == "less_than_expected"  # 1.5 - 2.0 = -0.5


# --- BRIDGE-1: what a bridge bolus needs ----------------------------------------------------


def _bridge(old="500", new="1000", pmin="0.2", pmax="0.3", per_cm="0.002", length="50"):
    return bridge_bolus(
        old_concentration_mcg_per_ml=F(old),
        new_concentration_mcg_per_ml=F(new),
        prescription=SIMPLE,
        pathway_volume_min_ml=None if pmin is None else F(pmin),
        pathway_volume_max_ml=None if pmax is None else F(pmax),
        catheter_volume_ml_per_cm=None if per_cm is None else F(per_cm),
        catheter_length_cm=None if length is None else F(length),
    )


@pytest.mark.rule("BRIDGE-1")
def test_bridge_refusals_in_full():
    assert refused(_bridge, pmin=None) == (
        "pump_model.pathway_volume_min_ml",
        "bridge_volume_not_configured",
        "is not configured: a bridge bolus for a concentration rise needs the pump model's minimum "
        "internal pathway volume; an admin must set it from the labeling",
    )
    assert refused(_bridge, old="1000", new="500", pmax=None) == (
        "pump_model.pathway_volume_max_ml",
        "bridge_volume_not_configured",
        "is not configured: a bridge bolus for a concentration fall needs the pump model's maximum "
        "internal pathway volume; an admin must set it from the labeling",
    )
    assert refused(_bridge, per_cm=None) == (
        "catheter_model.volume_ml_per_cm",
        "bridge_volume_not_configured",
        "is not configured: a bridge bolus needs the catheter's volume per cm; an admin must "
        "set it from the labeling",
    )
    assert refused(_bridge, length=None) == (
        "pump.catheter_length_cm",
        "invalid",
        "is not recorded: a bridge bolus needs the implanted catheter length",
    )


@pytest.mark.rule("BRIDGE-1")
def test_a_bridge_without_a_daily_dose_is_refused_in_full():
    stopped = parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": "0"})
    assert refused(
        bridge_for_volume,
        path_volume_ml=F("0.3"),
        old_concentration_mcg_per_ml=F(500),
        new_concentration_mcg_per_ml=F(1000),
        prescription=stopped,
    ) == (
        "prescription",
        "invalid",
        "a bridge bolus needs a daily dose greater than 0 to push the old drug out",
    )


@pytest.mark.rule("BRIDGE-1")
def test_a_rise_uses_the_minimum_pathway_and_a_fall_the_maximum():
    # rise 500 -> 1000: V = 0.2 + 50 x 0.002 = 0.3 mL; fall 1000 -> 500: V = 0.3 + 0.1 = 0.4 mL
    assert _bridge().path_volume_ml == F("0.3")
    assert _bridge(old="1000", new="500").path_volume_ml == F("0.4")
    assert _bridge(old="500", new="500") is None


# --- LRA-2: a projection without an alarm volume, the tolerance and no-delivery notices -----


def _project(prescription, lra, tolerance):
    res = Reservoir(
        filled_at=datetime(2026, 3, 1, tzinfo=UTC),
        volume_ml=F(20),
        concentration_mcg_per_ml=F(500),
        periods=(TherapyPeriod(datetime(2026, 3, 1, tzinfo=UTC), prescription, 0),),
    )
    return project(
        res,
        as_of=res.filled_at,
        lra_ml=lra,
        tolerance_pct=tolerance,
        tz=UTC,
        safety_margin_days=7,
        max_reservoir_days=180,
    )


@pytest.mark.rule("LRA-2", "LRA-3")
def test_projection_refusal_and_notices_in_full():
    assert refused(_project, prescription=SIMPLE, lra=None, tolerance=F(10)) == (
        "pump.low_reservoir_alarm_ml",
        "invalid",
        "is not configured for this pump or its model",
    )
    stopped = parse_prescription({"mode": "simple_continuous", "daily_dose_mcg": "0"})
    notices = _project(stopped, F(2), None).warnings
    assert [(n.code, n.message) for n in notices] == [
        (
            "tolerance_not_configured",
            "The pump model's flow accuracy tolerance is not configured: the worst case "
            "equals the nominal projection until an admin sets it.",
        ),
        (
            "no_delivery",
            "The current prescription delivers nothing (0.0 mcg a day): the therapy is "
            "stopped, and the refill-by date follows the drug's stability.",
        ),
    ]


# --- START-1 / START-2 / DOSE-4 / IMPLANT-1 -------------------------------------------------

STEPS = [F(50), F(75), F(100)]


def _screen(trials, effect_hours=None, **kwargs):
    return screening_outcome(
        trials=[(F(d), r) for d, r in trials],
        steps=kwargs.pop("steps", STEPS),
        effect_hours=None if effect_hours is None else F(effect_hours),
        prolonged_effect_hours=kwargs.pop("prolonged", F(8)),
        **kwargs,
    )


@pytest.mark.rule("START-1")
def test_screening_refusals_and_reasons_in_full():
    assert refused(_screen, trials=[], steps=[]) == ("screening_steps_mcg", "invalid", "are not configured")
    assert refused(_screen, trials=[], prolonged=None) == (
        "screening_prolonged_effect_hours",
        "invalid",
        "is not configured",
    )
    assert refused(_screen, trials=[(50, False), (60, True)]) == (
        "trials[1].dose_mcg",
        "invalid",
        "must be a screening step (50, 75, 100 mcg)",
    )
    assert _screen([]) == ScreeningOutcome(
        "next_step", next_dose_mcg=F(50), reason="screening starts at the first step"
    )
    assert _screen([(50, False)]) == ScreeningOutcome(
        "next_step", next_dose_mcg=F(75), reason="no response yet"
    )
    assert _screen([(50, False), (75, False), (100, False)]) == ScreeningOutcome(
        "not_a_candidate", reason="no response at 100 mcg: not a candidate for intrathecal baclofen"
    )
    # positive at 75 mcg, effect 6 h <= 8 h, no adverse reactions (the default): 2 x 75 = 150
    assert _screen([(50, False), (75, True)], effect_hours=6) == ScreeningOutcome(
        "respond",
        effective_dose_mcg=F(75),
        starting_daily_dose_mcg=F(150),
        reason="2 × the effective screening dose",
    )
    assert _screen([(75, True)], effect_hours=6, adverse_reactions=True).reason == (
        "the screening dose itself: adverse reactions"
    )
    assert (
        _screen([(75, True)], effect_hours=10).reason
        == "the screening dose itself: effect lasted more than 8 h"
    )


@pytest.mark.rule("START-2")
def test_first_prescription_verdicts_in_full():
    none = check_first_prescription(new_daily_dose_mcg=F(150), screening=None)
    assert (none.code, none.message) == (None, "start of therapy")
    assert [(w.code, w.message) for w in none.warnings] == [
        (
            "no_screening_trial",
            "No screening trial is recorded for this patient: the starting dose could not "
            "be checked against it (START-2). Record the trial's boluses.",
        )
    ]
    failed = check_first_prescription(
        new_daily_dose_mcg=F(150), screening=ScreeningOutcome("not_a_candidate", reason="no response")
    )
    assert (failed.code, failed.message) == (
        "screening_not_positive",
        "The patient's screening trial showed no response at any screening dose: the patient is not a "
        "candidate, so it gives no starting dose. Starting therapy at 150.0 mcg a day needs a "
        "prescriber's override with a written reason.",
    )
    pending = check_first_prescription(new_daily_dose_mcg=F(150), screening=ScreeningOutcome("next_step"))
    assert pending.message.startswith("The patient's screening trial has not ended with a response yet, so")
    positive = ScreeningOutcome(
        "respond",
        effective_dose_mcg=F(75),
        starting_daily_dose_mcg=F(150),
        reason="2 × the effective screening dose",
    )
    ok = check_first_prescription(new_daily_dose_mcg=F(150), screening=positive)
    assert (ok.code, ok.message, ok.max_allowed_daily_dose_mcg) == (
        None,
        "at or below the starting dose",
        150,
    )
    above = check_first_prescription(new_daily_dose_mcg=F("150.1"), screening=positive)
    assert (above.code, above.message, above.max_allowed_daily_dose_mcg) == (
        "above_starting_dose",
        "A first daily dose of 150.1 mcg is above the starting dose from the screening trial, 150.0 mcg a "
        "day (2 × the effective screening dose, 75.0 mcg screening dose). A prescriber may override with "
        "a written reason.",
        150,
    )


@pytest.mark.rule("IMPLANT-1", "DOSE-4")
def test_first_fill_concentration_notices_in_full():
    replacement = check_first_fill_concentration(
        concentration_mcg_per_ml=F(1000),
        starting_concentration_mcg_per_ml=F(500),
        patient_concentration_mcg_per_ml=F("1500.25"),
    )
    assert [(n.code, n.message) for n in replacement] == [
        (
            "not_patient_concentration",
            "A replacement pump usually continues the patient's concentration, 1500.25 mcg/mL; this "
            "fill is at 1000 mcg/mL (IMPLANT-1). Check the prescription for the change of concentration.",
        )
    ]


# --- technical bounds -----------------------------------------------------------------------


def test_year_bounds_are_inclusive_and_refused_in_full():
    check_year(date(1900, 1, 1), "day")
    check_year(date(2200, 12, 31), "day")
    assert refused(check_year, day=date(2201, 1, 1), field="day") == (
        "day",
        "date_out_of_range",
        "must be a date in the years 1900 to 2200 (got the year 2201)",
    )


def test_an_echoed_value_is_cut_after_40_characters():
    # repr of a 40-character string is 42 characters with its quotes: cut to its first 20
    assert _shown("x" * 38) == "'" + "x" * 38 + "'"  # 40 characters: shown whole
    assert _shown("x" * 39) == "'" + "x" * 19 + "…(41 characters)"
    assert _shown(12) == "12"


# --- DOSE-1: a prescription's shape ---------------------------------------------------------

STEP = {"start": "00:00", "dose_mcg_per_hour": "10"}
BOLUS = {"time": "12:00", "dose_mcg": "50", "duration_minutes": 60}
PAB = {"dose_mcg": "25", "max_per_day": 4, "lockout_minutes": 180}


@pytest.mark.rule("DOSE-1")
@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ("simple", "prescription", "must be an object with a 'mode'"),
        (
            {"mode": "fast"},
            "prescription.mode",
            "must be one of simple_continuous, flex, periodic_bolus (got 'fast')",
        ),
        (
            {"mode": "simple_continuous", "daily_dose_mcg": "250", "steps": []},
            "prescription.steps",
            "is not part of a simple_continuous prescription (allowed: daily_dose_mcg, mode, "
            "patient_activated_bolus)",
        ),
        (
            {"mode": "simple_continuous", "daily_dose_mcg": "-1"},
            "prescription.daily_dose_mcg",
            "must be 0 or more mcg/day (got -1)",
        ),
        (
            {"mode": "periodic_bolus", "basal_daily_dose_mcg": "-5", "boluses": []},
            "prescription.basal_daily_dose_mcg",
            "must be 0 or more mcg/day (got -5)",
        ),
        (
            {
                "mode": "simple_continuous",
                "daily_dose_mcg": "250",
                "patient_activated_bolus": {"dose_mcg": "0", "max_per_day": 4, "lockout_minutes": 60},
            },
            "prescription.patient_activated_bolus.dose_mcg",
            "must be greater than 0 mcg (got 0)",
        ),
        (
            {"mode": "flex", "steps": []},
            "prescription.steps",
            "must be a non-empty list of {start: 'HH:MM', dose_mcg_per_hour}",
        ),
        (
            {"mode": "flex", "steps": ["00:00"]},
            "prescription.steps[0]",
            "must be an object {start: 'HH:MM', dose_mcg_per_hour}",
        ),
        (
            {"mode": "flex", "steps": [{**STEP, "rate": 1}]},
            "prescription.steps[0].rate",
            "is not part of this object (allowed: dose_mcg_per_hour, start)",
        ),
        (
            {"mode": "flex", "steps": [{**STEP, "start": "00:01"}]},
            "prescription.steps[0].start",
            "the first flex step must start at 00:00 so the steps cover 24 hours",
        ),
        (
            {"mode": "flex", "steps": [STEP, {**STEP, "start": "08:00"}, {**STEP, "start": "08:00"}]},
            "prescription.steps[2].start",
            "must be later than the previous step's start 08:00 (starts strictly increase; each step "
            "runs until the next, the last until 24:00)",
        ),
        (
            {"mode": "flex", "steps": [{**STEP, "start": "24:00"}]},
            "prescription.steps[0].start",
            "must be a time 'HH:MM' from 00:00 to 23:59 (got '24:00')",
        ),
        (
            {"mode": "flex", "steps": [{**STEP, "dose_mcg_per_hour": "-0.5"}]},
            "prescription.steps[0].dose_mcg_per_hour",
            "must be 0 or more mcg/hour (got -0.5)",
        ),
        (
            {"mode": "periodic_bolus", "basal_daily_dose_mcg": "100", "boluses": []},
            "prescription.boluses",
            "must be a non-empty list of {time: 'HH:MM', dose_mcg, duration_minutes}",
        ),
        (
            {"mode": "periodic_bolus", "basal_daily_dose_mcg": "100", "boluses": [12]},
            "prescription.boluses[0]",
            "must be an object {time: 'HH:MM', dose_mcg, duration_minutes}",
        ),
        (
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "100",
                "boluses": [{**BOLUS, "dose_mcg": "0"}],
            },
            "prescription.boluses[0].dose_mcg",
            "must be greater than 0 mcg (got 0)",
        ),
        (
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "100",
                "boluses": [{**BOLUS, "duration_minutes": 1441}],
            },
            "prescription.boluses[0].duration_minutes",
            "must be a whole number from 1 to 1440 (got 1441)",
        ),
        (
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "100",
                "boluses": [{**BOLUS, "duration_minutes": 0}],
            },
            "prescription.boluses[0].duration_minutes",
            "must be a whole number from 1 to 1440 (got 0)",
        ),
        (
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "100",
                "boluses": [{**BOLUS, "duration_minutes": "1.5"}],
            },
            "prescription.boluses[0].duration_minutes",
            "must be a whole number from 1 to 1440 (got 1.5)",
        ),
        (
            # 12:00 + 60 min = 13:00, but the second starts at 12:59
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "100",
                "boluses": [{**BOLUS, "time": "12:59"}, BOLUS],
            },
            "prescription.boluses",
            "the bolus at 12:59 starts before the bolus at 12:00 has finished; boluses may not overlap",
        ),
        (
            # two boluses at the same time for the same duration
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "100",
                "boluses": [BOLUS, {**BOLUS, "dose_mcg": "60"}],
            },
            "prescription.boluses",
            "the bolus at 12:00 starts before the bolus at 12:00 has finished; boluses may not overlap",
        ),
        (
            # 12:30-13:00 lies inside 12:00-14:00: named in the order they start
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "100",
                "boluses": [
                    {**BOLUS, "duration_minutes": 120},
                    {**BOLUS, "time": "12:30", "duration_minutes": 30},
                ],
            },
            "prescription.boluses",
            "the bolus at 12:30 starts before the bolus at 12:00 has finished; boluses may not overlap",
        ),
        (
            {"mode": "simple_continuous", "daily_dose_mcg": "250", "patient_activated_bolus": "25"},
            "prescription.patient_activated_bolus",
            "must be an object {dose_mcg, max_per_day, lockout_minutes}",
        ),
        (
            # 9 x 161 = 1449 minutes > 1440
            {
                "mode": "simple_continuous",
                "daily_dose_mcg": "250",
                "patient_activated_bolus": {**PAB, "max_per_day": 9, "lockout_minutes": 161},
            },
            "prescription.patient_activated_bolus.max_per_day",
            "9 boluses with a 161-minute lockout do not fit in 24 hours",
        ),
        (
            {
                "mode": "simple_continuous",
                "daily_dose_mcg": "250",
                "patient_activated_bolus": {**PAB, "lockout_minutes": -1},
            },
            "prescription.patient_activated_bolus.lockout_minutes",
            "must be a whole number from 0 to 1440 (got -1)",
        ),
    ],
)
def test_prescription_refusals_in_full(data, field, message):
    with pytest.raises(CalculationError) as err:
        parse_prescription(data)
    assert (err.value.field, err.value.message) == (field, message)


@pytest.mark.rule("DOSE-1")
def test_prescription_bounds_that_are_accepted():
    # 8 x 180 = 1440 minutes: exactly 24 hours of lockouts fit; a lockout of 0 is allowed
    pab = parse_prescription(
        {
            "mode": "simple_continuous",
            "daily_dose_mcg": "0",
            "patient_activated_bolus": {**PAB, "max_per_day": 8},
        }
    ).patient_activated
    assert (pab.max_per_day, pab.lockout_minutes) == (8, 180)
    one = {**PAB, "max_per_day": 1, "lockout_minutes": 0}
    assert parse_prescription(
        {"mode": "simple_continuous", "daily_dose_mcg": "0", "patient_activated_bolus": one}
    )
    # a bolus may start the minute the previous one ends: 12:00 + 60 min = 13:00
    rx = parse_prescription(
        {
            "mode": "periodic_bolus",
            "basal_daily_dose_mcg": "0",
            "boluses": [BOLUS, {**BOLUS, "time": "13:00"}],
        }
    )
    assert [b.time_minute for b in rx.boluses] == [720, 780]
    # a bolus ending exactly at midnight (23:00 + 60 min) does not wrap onto one at 00:00
    rx = parse_prescription(
        {
            "mode": "periodic_bolus",
            "basal_daily_dose_mcg": "0",
            "boluses": [{**BOLUS, "time": "00:00", "duration_minutes": 30}, {**BOLUS, "time": "23:00"}],
        }
    )
    assert [b.time_minute for b in rx.boluses] == [0, 1380]
    # a 1-minute and a 1440-minute bolus
    assert (
        parse_prescription(
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "0",
                "boluses": [{**BOLUS, "duration_minutes": 1440}],
            }
        )
        .boluses[0]
        .duration_minutes
        == 1440
    )


# --- numbers from outside: exact() and its technical bounds ---------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "is required: a number"),
        ("", "is required: a number"),
        (True, "must be a number, not true/false"),
        ("ten", "must be a number (got 'ten')"),
        ("NaN", "must be a finite number (got 'NaN')"),
        (float("inf"), "must be a finite number (got inf)"),
        # 13 digits before the point, one more than the 12 allowed
        (
            "1234567890123",
            "must be a number with at most 12 digits before the decimal point and 7 after it "
            "(got '1234567890123')",
        ),
        # 8 digits after the point, one more than the 7 allowed
        (
            "0.12345678",
            "must be a number with at most 12 digits before the decimal point and 7 after it (got '0.12345678')",
        ),
        (
            "1e12",
            "must be a number with at most 12 digits before the decimal point and 7 after it (got '1e12')",
        ),
        # trailing zeros are trimmed one at a time: 13 digits before the point stay 13
        (
            "1234567890123.0",
            "must be a number with at most 12 digits before the decimal point and 7 after it "
            "(got '1234567890123.0')",
        ),
        # and 8 digits after the point stay 8 once the trailing zero is gone
        (
            "0.123456780",
            "must be a number with at most 12 digits before the decimal point and 7 after it "
            "(got '0.123456780')",
        ),
    ],
)
def test_a_number_from_outside_is_refused_in_full(value, message):
    assert refused(exact, value=value, field="dose") == ("dose", "invalid", message)


def test_a_number_from_outside_at_its_bounds():
    assert exact(None, "dose", allow_none=True) is None
    assert exact("", "dose", allow_none=True) is None
    assert exact("123456789012", "dose") == 123456789012  # 12 digits before the point
    assert exact("0.1234567", "dose") == F(1234567, 10_000_000)  # 7 after it
    assert exact("2.50000000", "dose") == F(5, 2)  # trailing zeros are no digits: 2.5
    assert exact("0.00000010", "dose") == F(1, 10_000_000)  # 0.0000001: 7 digits after the point
    assert exact("100.0000000", "dose") == 100  # 1 x 10^2: 3 digits, none after the point
    assert exact("1e11", "dose") == 10**11  # 12 digits
    assert exact(" 7 ", "dose") == 7
    assert exact(0.1, "dose") == F(1, 10)  # a float through its shortest repr
    assert exact(F(1, 3), "dose") == F(1, 3)  # an exact rational stays exact
    assert exact("0", "dose") == 0 and exact("0E-20", "dose") == 0  # zero is never too long


def test_the_core_refuses_a_naive_instant():
    with pytest.raises(ValueError, match="^naive datetime: the core works with aware instants only$"):
        epoch_seconds(datetime(2026, 3, 1, 12, 0))


def test_rounding_and_instants_at_the_edges():
    assert rounded(F(1, 200), Decimal("0.01")) == Decimal("0.01")  # 0.005: half up
    assert rounded(F(-1, 200), Decimal("0.01")) == Decimal("-0.01")  # half away from zero
    assert rounded(None, Decimal("0.01")) is None
    # 10^40 + 1/3 needs more than the default 28 digits of precision
    assert rounded(F(10**40) + F(1, 3), Decimal("0.01")) == Decimal("1" + "0" * 40 + ".33")
    assert instant(F(1, 2)) == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)  # half a second rounds up
    assert instant(F(49, 100)) == datetime(1970, 1, 1, tzinfo=UTC)
    # before 1970 too: -1.7 s rounds half up to -2 s, not toward 0
    assert instant(F(-17, 10)) == datetime(1969, 12, 31, 23, 59, 58, tzinfo=UTC)
    # 253 402 214 400 s is 9999-12-31T00:00Z: the first instant that is "never"
    assert representable(F(253_402_214_399)) == 253_402_214_399
    assert representable(F(253_402_214_400)) is None
    assert representable(None) is None
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 3, 15), -3) == date(2025, 12, 15)  # back over a year end
    assert add_months(date(2026, 12, 31), 12) == date(2027, 12, 31)
