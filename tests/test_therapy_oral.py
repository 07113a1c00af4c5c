"""ORAL-1, WEAN-1 and RISK-1 in the calculation core: the oral medications' warnings, the
order of weaning and the patient's risk flags. Values worked out by hand in the comments."""

from __future__ import annotations

import time
from datetime import date
from fractions import Fraction as F

import pytest
from hypothesis import given
from hypothesis import strategies as st

from therapy import CalculationError, TitrationLimits
from therapy.oral import (
    OralDrug,
    RiskFlags,
    WeaningCourse,
    check_weaning_plan,
    oral_daily_dose_mg,
    oral_dose_notices,
    oral_titration_notice,
    risk_notices,
)

LIMITS = TitrationLimits(
    spinal_pct=F(30), cerebral_pct=F(15), pediatric_pct=F(15), pediatric_below_age_years=18, window_hours=24
)
# The catalog's entries (medications/migrations), ORAL-1's numbers.
BACLOFEN = OralDrug(
    "baclofen_oral",
    "Oral baclofen",
    starting_dose_mg=F(5),
    starting_times_per_day=3,
    max_daily_dose_mg=F(80),
    older_adult_tolerated_low_mg=F(30),
    older_adult_tolerated_high_mg=F(40),
)
TIZANIDINE = OralDrug("tizanidine", "Tizanidine", starting_dose_mg=F(2), starting_times_per_day=3)
DANTROLENE = OralDrug("dantrolene", "Dantrolene", hepatotoxic=True)
DIAZEPAM = OralDrug("diazepam", "Diazepam", benzodiazepine=True)
BORN_1950 = date(1950, 3, 1)  # 76 on 2026-12-03
BORN_1990 = date(1990, 3, 1)  # 36
TODAY = date(2026, 12, 3)


def codes(notices) -> list[str]:
    return [n.code for n in notices]


def notices(drug=BACLOFEN, dose=F(5), times=3, starting=True, born=BORN_1990, older_from=65):
    return oral_dose_notices(
        drug=drug,
        dose_mg=dose,
        times_per_day=times,
        starting=starting,
        birth_date=born,
        on=TODAY,
        older_adult_from_age_years=older_from,
    )


# --- ORAL-1 -----------------------------------------------------------------------------------


@pytest.mark.rule("ORAL-1")
def test_oral_1_daily_dose_is_dose_times_frequency():
    # 7.5 mg × 4 = 30 mg a day, exactly
    assert oral_daily_dose_mg(F(15, 2), 4) == 30
    with pytest.raises(CalculationError) as refused:
        oral_daily_dose_mg(F(5), 0)
    assert refused.value.field == "times_per_day"
    with pytest.raises(CalculationError):
        oral_daily_dose_mg(F(0), 3)


@pytest.mark.rule("ORAL-1")
def test_oral_1_baclofen_start_at_5_mg_three_times_a_day_has_no_warning():
    # 5 mg × 3 = 15 mg a day: the starting dose; a 36-year-old; not above 80
    assert notices() == ()
    # up to three times a day: 5 mg twice is within the start too
    assert notices(times=2) == ()


@pytest.mark.rule("ORAL-1")
def test_oral_1_baclofen_start_above_5_mg_or_more_than_three_times_warns():
    (warning,) = notices(dose=F(10))
    assert warning.code == "above_oral_starting_dose"
    # 10 mg × 3 = 30 mg a day against 5 mg × 3 = 15
    assert "5 mg up to 3 times a day (15 mg a day)" in warning.message
    assert "10 mg 3 times a day (30 mg a day)" in warning.message
    assert codes(notices(times=4)) == ["above_oral_starting_dose"]
    # a change of dose is not a start: no starting-dose warning
    assert notices(dose=F(10), starting=False) == ()


@pytest.mark.rule("ORAL-1")
def test_oral_1_tizanidine_starts_at_2_mg_three_times_a_day():
    assert notices(drug=TIZANIDINE, dose=F(2)) == ()
    (warning,) = notices(drug=TIZANIDINE, dose=F(4))
    assert "Tizanidine usually starts at 2 mg up to 3 times a day (6 mg a day)" in warning.message


@pytest.mark.rule("ORAL-1")
def test_oral_1_baclofen_above_80_mg_a_day_warns_at_80_does_not():
    # 20 mg × 4 = 80: the conventional maximum itself, no warning
    assert notices(dose=F(20), times=4, starting=False) == ()
    # 21 mg × 4 = 84 > 80
    (warning,) = notices(dose=F(21), times=4, starting=False)
    assert warning.code == "above_oral_maximum"
    assert "84 mg a day of Oral baclofen is above the conventional maximum of 80 mg a day" in warning.message


@pytest.mark.rule("ORAL-1")
def test_oral_1_older_adult_warns_above_30_mg_a_day_naming_the_30_40_range():
    # 76 years old, clinic setting 65: 10 mg × 3 = 30, the low end, no warning
    assert notices(dose=F(10), born=BORN_1950, starting=False) == ()
    # 10.5 × 3 = 31.5 > 30
    (warning,) = notices(dose=F(21, 2), born=BORN_1950, starting=False)
    assert warning.code == "above_older_adult_tolerance"
    assert "rarely tolerate more than 30–40 mg a day" in warning.message
    assert "is 76 and would take 31.5 mg a day" in warning.message
    # 36 years old: not older, 31.5 mg a day is fine
    assert notices(dose=F(21, 2), starting=False) == ()


@pytest.mark.rule("ORAL-1")
def test_oral_1_older_adult_threshold_is_the_clinics_setting_at_that_age_exactly():
    # born 1950-03-01: 76 on 2026-12-03; the setting 76 counts them, 77 does not
    assert codes(notices(dose=F(12), born=BORN_1950, starting=False, older_from=76)) == [
        "above_older_adult_tolerance"
    ]
    assert notices(dose=F(12), born=BORN_1950, starting=False, older_from=77) == ()


@pytest.mark.rule("ORAL-1")
def test_oral_1_no_age_setting_means_no_age_warning_and_says_so():
    (notice,) = notices(dose=F(12), born=BORN_1950, starting=False, older_from=None)
    assert notice.code == "older_adult_age_not_set"
    assert "No older-adult check was made" in notice.message
    # a drug without an older-adult number needs no such notice
    assert notices(drug=TIZANIDINE, dose=F(2), older_from=None) == ()


@pytest.mark.rule("ORAL-1")
def test_oral_1_dantrolene_always_carries_the_hepatotoxicity_warning():
    (warning,) = notices(drug=DANTROLENE, dose=F(25), times=1)
    assert warning.code == "hepatotoxic"
    assert "liver" in warning.message


def titration(new, history, origin="spinal", born=BORN_1990, starts_on=date(2026, 12, 10)):
    return oral_titration_notice(
        drug=BACLOFEN,
        new_daily_dose_mg=new,
        starts_on=starts_on,
        history=history,
        spasticity_origin=origin,
        birth_date=born,
        limits=LIMITS,
    )


@pytest.mark.rule("ORAL-1")
def test_oral_1_titration_follows_titrate_1_spinal_30_pct():
    history = [(date(2026, 12, 1), F(30))]
    # spinal adult: 30 × 1.30 = 39 mg a day allowed; 39 passes, 40 warns
    assert titration(F(39), history) is None
    warning = titration(F(40), history)
    assert warning.code == "oral_titration_limit_exceeded"
    assert "at most +30 % per 24 hours" in warning.message
    assert "30 mg, at most 39 mg a day" in warning.message


@pytest.mark.rule("ORAL-1")
def test_oral_1_titration_cerebral_15_pct_and_lower_is_never_warned():
    history = [(date(2026, 12, 1), F(40))]
    # cerebral: 40 × 1.15 = 46
    assert titration(F(46), history, origin="cerebral") is None
    assert titration(F(47), history, origin="cerebral") is not None
    assert titration(F(10), history, origin="cerebral") is None


@pytest.mark.rule("ORAL-1")
def test_oral_1_titration_from_the_dose_in_effect_when_the_day_began():
    # 30 mg a day from the 1st, 39 from the 10th; asked on the 11th: the window (the 10th
    # 00:00 to the 11th 00:00) had 39 in effect throughout: 39 × 1.3 = 50.7
    history = [(date(2026, 12, 1), F(30)), (date(2026, 12, 10), F(39))]
    assert titration(F(50), history, starts_on=date(2026, 12, 11)) is None
    warning = titration(F(51), history, starts_on=date(2026, 12, 11))
    assert "39 mg, at most 50.7 mg a day" in warning.message
    # a dose is compared only with the doses before its day: on the 10th, 30 × 1.3 = 39
    assert "30 mg, at most 39 mg a day" in titration(F(40), history, starts_on=date(2026, 12, 10)).message


@pytest.mark.rule("ORAL-1")
def test_oral_1_titration_of_a_start_gives_no_titration_warning():
    assert titration(F(60), []) is None


@pytest.mark.rule("ORAL-1")
def test_oral_1_titration_in_the_first_day_of_a_drug_allows_no_increase():
    # started on the 9th at 15 mg, 20 mg asked on the 10th: the start is within 24 h → 0 %
    warning = titration(
        F(20),
        [
            (
                date(
                    2026,
                    12,
                    9,
                ),
                F(15),
            )
        ],
        starts_on=date(2026, 12, 9),
    )
    assert warning is None  # same day: nothing before it
    warning = titration(F(20), [(date(2026, 12, 9), F(15))], starts_on=date(2026, 12, 10))
    # the 9th 00:00 is exactly 24 h before the 10th 00:00: at the window's start, not in it,
    # so the limit applies: 15 × 1.3 = 19.5 < 20
    assert warning.code == "oral_titration_limit_exceeded"
    assert "19.5 mg a day" in warning.message


# --- WEAN-1 -----------------------------------------------------------------------------------


def d(day: int) -> date:
    return date(2026, 12, day)


def wean(drug=BACLOFEN, steps=None, others=(), takes_first=True, override="", current=F(10)):
    return check_weaning_plan(
        drug=drug,
        current_dose_mg=current,
        steps=steps if steps is not None else [(d(5), F(5)), (d(12), F(0))],
        others=list(others),
        takes_first_drug=takes_first,
        first_drug=BACLOFEN,
        override_reason=override,
    )


@pytest.mark.rule("WEAN-1")
def test_wean_1_oral_baclofen_first_is_accepted():
    assert wean() == ()


@pytest.mark.rule("WEAN-1")
def test_wean_1_steps_must_go_down_and_follow_one_another():
    with pytest.raises(CalculationError) as refused:
        wean(steps=[])
    assert refused.value.code == "weaning_steps_invalid"
    with pytest.raises(CalculationError) as refused:
        wean(steps=[(d(5), F(10))])  # not below the current 10 mg
    assert refused.value.field == "steps[0].dose_mg"
    with pytest.raises(CalculationError) as refused:
        wean(steps=[(d(5), F(5)), (d(5), F(0))])  # the same day twice
    assert refused.value.field == "steps[1].day"
    with pytest.raises(CalculationError) as refused:
        wean(steps=[(d(5), F(5)), (d(8), F(6))])  # up again
    assert refused.value.field == "steps[1].dose_mg"
    with pytest.raises(CalculationError):
        wean(steps=[(d(5), F(-1))])


@pytest.mark.rule("WEAN-1")
def test_wean_1_one_drug_at_a_time_second_waits_for_the_first_to_end():
    baclofen = WeaningCourse("baclofen_oral", "Oral baclofen", d(1), d(12))
    # tizanidine starting on the 12th, the baclofen plan's last day: refused
    with pytest.raises(CalculationError) as refused:
        wean(drug=TIZANIDINE, steps=[(d(12), F(2))], current=F(4), others=[baclofen])
    assert refused.value.code == "weaning_overlap"
    assert "runs 1 Dec 2026 to 12 Dec 2026" in refused.value.message
    # the 13th: after the end, and baclofen went first: accepted
    assert wean(drug=TIZANIDINE, steps=[(d(13), F(2))], current=F(4), others=[baclofen]) == ()
    # a plan ending inside another one's span overlaps too
    later = WeaningCourse("dantrolene", "Dantrolene", d(20), d(25))
    with pytest.raises(CalculationError):
        wean(steps=[(d(14), F(5)), (d(21), F(0))], others=[later])


@pytest.mark.rule("WEAN-1")
def test_wean_1_no_drug_before_oral_baclofen_without_a_prescriber_override():
    with pytest.raises(CalculationError) as refused:
        wean(drug=TIZANIDINE, steps=[(d(5), F(2))], current=F(4))
    assert refused.value.code == "weaning_order_requires_override"
    assert refused.value.field == "override_reason"
    with pytest.raises(CalculationError):
        wean(drug=TIZANIDINE, steps=[(d(5), F(2))], current=F(4), override="   ")
    (notice,) = wean(drug=TIZANIDINE, steps=[(d(5), F(2))], current=F(4), override="liver tests rising")
    assert notice.code == "weaning_order_overridden"
    assert "liver tests rising" in notice.message
    # a patient who takes no oral baclofen weans in any order
    assert wean(drug=TIZANIDINE, steps=[(d(5), F(2))], current=F(4), takes_first=False) == ()


@pytest.mark.rule("WEAN-1")
@given(st.lists(st.integers(min_value=1, max_value=28), min_size=1, max_size=6, unique=True))
def test_wean_1_property_any_falling_dated_plan_of_baclofen_alone_is_accepted(days):
    # n steps on increasing days, doses n-1, n-2, …, 0 mg from a current n mg
    n = len(days)
    steps = [(date(2027, 1, k), F(n - 1 - i)) for i, k in enumerate(sorted(days))]
    assert wean(steps=steps, current=F(n)) == ()


# --- RISK-1 -----------------------------------------------------------------------------------


NO_FLAGS = RiskFlags()


def risks(flags=NO_FLAGS, benzos=(), born=BORN_1990, older_from=65, frankel=(F(156), F(44))):
    return risk_notices(
        flags=flags,
        benzodiazepines=list(benzos),
        birth_date=born,
        on=TODAY,
        older_adult_from_age_years=older_from,
        frankel_a_starting_dose_mcg=frankel[0],
        incomplete_lesion_starting_dose_mcg=frankel[1],
    )


@pytest.mark.rule("RISK-1")
def test_risk_1_no_flag_no_notice():
    assert risks() == ()


@pytest.mark.rule("RISK-1")
def test_risk_1_each_flag_has_its_words():
    all_flags = RiskFlags(
        renal_impairment=True,
        obstructive_sleep_apnoea=True,
        brain_injury=True,
        old_age=True,
        stroke_recovery=True,
        complete_spinal_cord_lesion=True,
    )
    found = risks(all_flags)
    assert codes(found) == [
        "renal_impairment",
        "obstructive_sleep_apnoea",
        "seizures_psychological",
        "stroke_recovery",
        "frankel_a",
    ]
    assert "build up" in found[0].message
    assert "airway collapse" in found[1].message
    assert found[2].message.startswith("Brain injury and older adult: risk of seizures")


@pytest.mark.rule("RISK-1")
def test_risk_1_stroke_recovery_with_a_benzodiazepine_on_the_oral_list_is_flagged():
    (notice,) = risks(RiskFlags(stroke_recovery=True), benzos=["Diazepam"])
    assert notice.code == "stroke_recovery_benzodiazepine"
    assert "Diazepam" in notice.message
    # a benzodiazepine without stroke recovery is no RISK-1 flag
    assert risks(benzos=["Diazepam"]) == ()


@pytest.mark.rule("RISK-1")
def test_risk_1_old_age_derived_from_the_clinics_age_setting():
    # 76 on 2026-12-03, setting 65: flagged without the box ticked
    (notice,) = risks(born=BORN_1950)
    assert notice.message.startswith("Older adult (76): risk of seizures")
    # no setting: only the recorded flag counts
    assert risks(born=BORN_1950, older_from=None) == ()


@pytest.mark.rule("RISK-1")
def test_risk_1_frankel_a_notes_the_higher_starting_doses_156_against_44():
    (notice,) = risks(RiskFlags(complete_spinal_cord_lesion=True))
    assert "about 156 mcg against 44 mcg for incomplete lesions" in notice.message
    (bare,) = risks(RiskFlags(complete_spinal_cord_lesion=True), frankel=(None, None))
    assert "mcg" not in bare.message


# --- the words a nurse reads, and the edges -----------------------------------------------------


@pytest.mark.rule("ORAL-1")
def test_oral_1_daily_dose_refusals_in_full_and_the_smallest_doses_allowed():
    # once a day is allowed, and a dose under 1 mg: 0.5 mg × 2 = 1 mg a day
    assert oral_daily_dose_mg(F(1, 2), 2) == 1
    assert oral_daily_dose_mg(F(5), 1) == 5
    with pytest.raises(CalculationError) as refused:
        oral_daily_dose_mg(F(5), 0)
    assert refused.value.message == "An oral medication is taken at least once a day."
    with pytest.raises(CalculationError) as refused:
        oral_daily_dose_mg(F(0), 3)
    assert (refused.value.field, refused.value.message) == ("dose_mg", "A dose is more than 0 mg.")


@pytest.mark.rule("ORAL-1")
def test_oral_1_each_warning_in_full():
    # a start of 10 mg × 3 = 30 mg a day against 5 mg × 3 = 15
    (start,) = notices(dose=F(10))
    assert start.message == (
        "Oral baclofen usually starts at 5 mg up to 3 times a day (15 mg a day); this start is 10 mg 3 times "
        "a day (30 mg a day) (ORAL-1)."
    )
    # 21 mg × 4 = 84 mg a day > 80
    (maximum,) = notices(dose=F(21), times=4, starting=False)
    assert maximum.message == (
        "84 mg a day of Oral baclofen is above the conventional maximum of 80 mg a day (ORAL-1)."
    )
    # 76 years old, 10.5 mg × 3 = 31.5 mg a day > 30
    (older,) = notices(dose=F(21, 2), born=BORN_1950, starting=False)
    assert older.message == (
        "Older adults rarely tolerate more than 30–40 mg a day of Oral baclofen; this patient is 76 and would "
        "take 31.5 mg a day (ORAL-1)."
    )
    (not_set,) = notices(dose=F(12), born=BORN_1950, starting=False, older_from=None)
    assert not_set.message == (
        "No older-adult check was made: the clinic has not set the age from which a patient counts as older "
        "(older adults rarely tolerate more than 30–40 mg a day of Oral baclofen, ORAL-1)."
    )
    (liver,) = notices(drug=DANTROLENE, dose=F(25), times=1)
    assert (
        liver.message == "Dantrolene can damage the liver (hepatotoxicity): watch the liver tests (ORAL-1)."
    )


@pytest.mark.rule("ORAL-1")
@pytest.mark.parametrize("high", [None, F(30)])
def test_oral_1_older_adult_tolerance_without_a_range_names_one_number(high):
    # a catalog entry with only the low end, or both ends equal: "30 mg", not "30–30"
    drug = OralDrug(
        "baclofen_oral",
        "Oral baclofen",
        older_adult_tolerated_low_mg=F(30),
        older_adult_tolerated_high_mg=high,
    )
    (older,) = notices(drug=drug, dose=F(21, 2), born=BORN_1950, starting=False)
    assert older.message.startswith("Older adults rarely tolerate more than 30 mg a day of Oral baclofen; ")


@pytest.mark.rule("ORAL-1")
def test_oral_1_titration_warning_in_full():
    # spinal adult, 30 mg a day in effect: at most 30 × 1.3 = 39 mg
    assert titration(F(40), [(date(2026, 12, 1), F(30))]).message == (
        "40 mg a day of Oral baclofen is a faster increase than TITRATE-1 allows (at most +30 % per 24 hours for "
        "this patient): from the lowest daily dose in effect in the window before, 30 mg, at most 39 mg a day "
        "(ORAL-1)."
    )


LIMITS_48_H = TitrationLimits(
    spinal_pct=F(30), cerebral_pct=F(15), pediatric_pct=F(15), pediatric_below_age_years=18, window_hours=48
)


def titration_48_h(new, history, starts_on):
    return oral_titration_notice(
        drug=BACLOFEN,
        new_daily_dose_mg=new,
        starts_on=starts_on,
        history=history,
        spasticity_origin="spinal",
        birth_date=BORN_1990,
        limits=LIMITS_48_H,
    )


@pytest.mark.rule("ORAL-1", "TITRATE-1")
def test_oral_1_titration_in_the_first_window_after_the_drugs_start_names_the_drug():
    # a 48-hour window (a clinic's setting): started on the 9th (00:00), asked for the 10th
    # (00:00), 24 h later, inside the first window: no increase at all
    warning = titration_48_h(F(16), [(date(2026, 12, 9), F(15))], date(2026, 12, 10))
    assert warning.message == (
        "16 mg a day of Oral baclofen is a faster increase than TITRATE-1 allows (no increase in the first 48 "
        "hours after the start of Oral baclofen): from the lowest daily dose in effect in the window before, "
        "15 mg, at most 15 mg a day (ORAL-1)."
    )


@pytest.mark.rule("ORAL-1", "TITRATE-1")
def test_oral_1_the_dose_in_effect_again_is_never_warned_even_above_the_windows_lowest():
    # 30 mg a day from the 1st, 60 from the 10th; on the 11th, 60 again. The 48-hour window
    # (the 9th 00:00 to the 11th) held 30, so 60 > 30 × 1.3 = 39; but 60 is the dose in
    # effect, and a dose at or below the one in effect never warns.
    history = [(date(2026, 12, 1), F(30)), (date(2026, 12, 10), F(60))]
    assert titration_48_h(F(60), history, date(2026, 12, 11)) is None
    assert titration_48_h(F(61), history, date(2026, 12, 11)).message.endswith(
        "from the lowest daily dose in effect in the window before, 30 mg, at most 39 mg a day (ORAL-1)."
    )


@pytest.fixture
def machine_zone(monkeypatch):
    """Runs a test with the machine's own time zone set (and restores it)."""

    def set_zone(name):
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


@pytest.mark.rule("ORAL-1", "TITRATE-1")
@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo", "UTC"])
def test_oral_1_the_patients_age_is_taken_on_the_dose_day_whatever_the_machines_zone(machine_zone, zone):
    # 18 on 10 Dec 2026 (born 10 Dec 2008): an adult that day, 30 % (30 × 1.3 = 39 mg);
    # the day before, 17, 15 % (30 × 1.15 = 34.5 mg). 39 mg is allowed on the 10th, on a
    # machine set to any zone: oral doses are counted by the day, not by a clock.
    machine_zone(zone)
    history = [(date(2026, 12, 1), F(30))]
    assert titration(F(39), history, born=date(2008, 12, 10), starts_on=date(2026, 12, 10)) is None
    assert titration(F(39), history, born=date(2008, 12, 11), starts_on=date(2026, 12, 10)) is not None


@pytest.mark.rule("WEAN-1")
def test_wean_1_refusals_in_full():
    with pytest.raises(CalculationError) as refused:
        wean(steps=[])
    assert (refused.value.field, refused.value.message) == ("steps", "A weaning plan has at least one step.")
    with pytest.raises(CalculationError) as refused:
        wean(steps=[(d(5), F(5)), (d(5), F(0))])
    assert refused.value.code == "weaning_steps_invalid"
    assert refused.value.message == (
        "Step 2 is on 5 Dec 2026, not after step 1 (5 Dec 2026): steps follow one another, one day or more apart."
    )
    with pytest.raises(CalculationError) as refused:
        wean(steps=[(d(5), F(10))])
    assert refused.value.code == "weaning_steps_invalid"
    assert refused.value.message == (
        "Step 1's dose, 10 mg, must be lower than the current dose (10 mg) and 0 mg or more: weaning lowers the "
        "dose step by step."
    )
    with pytest.raises(CalculationError) as refused:
        wean(steps=[(d(5), F(5)), (d(8), F(6))])
    assert refused.value.message == (
        "Step 2's dose, 6 mg, must be lower than step 1 (5 mg) and 0 mg or more: weaning lowers the dose step by "
        "step."
    )


@pytest.mark.rule("WEAN-1")
def test_wean_1_a_plan_starting_on_the_last_day_of_another_overlaps_it():
    # this plan runs the 5th to the 12th; another starting on the 12th shares that day
    other = WeaningCourse("dantrolene", "Dantrolene", d(12), d(20))
    with pytest.raises(CalculationError) as refused:
        wean(others=[other])
    assert (refused.value.field, refused.value.code) == ("steps[0].day", "weaning_overlap")


@pytest.mark.rule("WEAN-1")
def test_wean_1_only_oral_baclofens_own_weaning_lets_another_drug_go_next():
    # a dantrolene plan ended before, but oral baclofen has not been weaned: still refused
    dantrolene = WeaningCourse("dantrolene", "Dantrolene", d(1), d(3))
    with pytest.raises(CalculationError) as refused:
        wean(drug=TIZANIDINE, steps=[(d(5), F(2))], current=F(4), others=[dantrolene])
    assert refused.value.message == (
        "Oral baclofen is weaned first (WEAN-1): the patient takes it and its weaning has not ended before "
        "5 Dec 2026. Weaning Tizanidine first needs a prescriber's override with a written reason."
    )


@pytest.mark.rule("WEAN-1")
def test_wean_1_without_an_override_reason_the_order_is_enforced():
    # the override reason is empty unless the prescriber gives one
    with pytest.raises(CalculationError) as refused:
        check_weaning_plan(
            drug=TIZANIDINE,
            current_dose_mg=F(4),
            steps=[(d(5), F(2))],
            others=[],
            takes_first_drug=True,
            first_drug=BACLOFEN,
        )
    assert refused.value.code == "weaning_order_requires_override"


@pytest.mark.rule("RISK-1")
def test_risk_1_each_notice_in_full():
    all_flags = RiskFlags(
        renal_impairment=True,
        obstructive_sleep_apnoea=True,
        brain_injury=True,
        old_age=True,
        stroke_recovery=True,
        complete_spinal_cord_lesion=True,
    )
    assert [n.message for n in risks(all_flags)] == [
        "Kidney impairment: the drug can build up (RISK-1).",
        "Obstructive sleep apnoea: risk of airway collapse (RISK-1).",
        "Brain injury and older adult: risk of seizures and psychological disturbances (RISK-1).",
        "Recovering from a stroke: a benzodiazepine added to the oral list is flagged (RISK-1).",
        "Complete spinal cord lesion (Frankel A): starting doses are usually higher, about 156 mcg against 44 mcg "
        "for incomplete lesions (RISK-1, for information).",
    ]


@pytest.mark.rule("RISK-1")
def test_risk_1_brain_injury_alone_and_old_age_ticked_for_an_older_patient():
    (alone,) = risks(RiskFlags(brain_injury=True))
    assert alone.message == "Brain injury: risk of seizures and psychological disturbances (RISK-1)."
    # the box ticked for a patient the clinic's age also counts: said once, without the age
    (ticked,) = risks(RiskFlags(old_age=True), born=BORN_1950)
    assert ticked.message == "Older adult: risk of seizures and psychological disturbances (RISK-1)."


@pytest.mark.rule("RISK-1")
def test_risk_1_older_from_the_setting_at_that_age_exactly():
    # 76 on 2026-12-03: a setting of 76 counts them, 77 does not
    (notice,) = risks(born=BORN_1950, older_from=76)
    assert notice.code == "seizures_psychological"
    assert risks(born=BORN_1950, older_from=77) == ()


@pytest.mark.rule("RISK-1")
def test_risk_1_every_benzodiazepine_is_named():
    (notice,) = risks(RiskFlags(stroke_recovery=True), benzos=["Diazepam", "Lorazepam"])
    assert notice.message == (
        "Recovering from a stroke and taking a benzodiazepine (Diazepam, Lorazepam): review it with the "
        "physician (RISK-1)."
    )


@pytest.mark.rule("RISK-1")
@pytest.mark.parametrize("frankel", [(None, None), (F(156), None), (None, F(44))])
def test_risk_1_frankel_a_without_both_numbers_is_said_without_numbers(frankel):
    (notice,) = risks(RiskFlags(complete_spinal_cord_lesion=True), frankel=frankel)
    assert notice.message == (
        "Complete spinal cord lesion (Frankel A): starting doses are usually higher (RISK-1, for information)."
    )
