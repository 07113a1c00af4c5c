"""Oral medications beside the intrathecal therapy: ORAL-1's warnings, WEAN-1's order of
weaning and RISK-1's patient risk flags.

Every clinical number arrives as an argument: the per-drug numbers of ORAL-1 live in the
oral drug catalog (``medications/migrations``, each with its source), the rest in the
project's settings or the clinic's settings. None of these rules refuses a dose: the oral
list records what the patient takes (often prescribed outside the clinic), so ORAL-1 and
RISK-1 warn; WEAN-1 refuses a weaning plan that breaks its order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from fractions import Fraction

from .errors import CalculationError
from .titration import DoseNotice, TitrationLimits, age_years, titration_ceiling
from .units import Q, day_text, rounded

MG = Decimal("0.01")


def _mg(value: Fraction) -> str:
    return format(rounded(Q(value), MG).normalize(), "f")


# --- ORAL-1 ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OralDrug:
    """A catalog entry: ORAL-1's numbers for the drug (None: the rule gives none)."""

    code: str
    name: str
    benzodiazepine: bool = False
    starting_dose_mg: Fraction | None = None
    starting_times_per_day: int | None = None
    max_daily_dose_mg: Fraction | None = None
    older_adult_tolerated_low_mg: Fraction | None = None
    older_adult_tolerated_high_mg: Fraction | None = None
    hepatotoxic: bool = False


def oral_daily_dose_mg(dose_mg: Fraction, times_per_day: int) -> Fraction:
    """ORAL-1: the daily dose of an oral medication, exactly: dose × times a day."""
    if times_per_day < 1:
        raise CalculationError("times_per_day", "An oral medication is taken at least once a day.")
    if Q(dose_mg) <= 0:
        raise CalculationError("dose_mg", "A dose is more than 0 mg.")
    return Q(dose_mg) * times_per_day


def oral_dose_notices(
    *,
    drug: OralDrug,
    dose_mg: Fraction,
    times_per_day: int,
    starting: bool,
    birth_date: date,
    on: date,
    older_adult_from_age_years: int | None,
) -> tuple[DoseNotice, ...]:
    """ORAL-1's warnings on an oral medication taken ``dose_mg`` × ``times_per_day`` from
    ``on``. ``starting``: the patient did not take the drug just before (a start, not a
    change of dose).

    - a start above the drug's starting dose or more often than its starting frequency
      (oral baclofen 5 mg up to 3 times a day; tizanidine 2 mg 3 times a day);
    - a daily dose above the drug's conventional maximum (oral baclofen 80 mg/day);
    - older adults: ORAL-1 says they rarely tolerate more than 30–40 mg/day of oral
      baclofen. The check warns above the low end of that range: the rule gives a range, a
      warning stops nothing, and above the low end is where intolerance begins, so the
      nurse sees it from there (the words name the whole range). Who counts as older is the
      clinic's setting ``older_adult_from_age_years``: when it is empty no age check is made
      and a notice says so;
    - a hepatotoxic drug (dantrolene) always carries its warning.
    """
    daily = oral_daily_dose_mg(dose_mg, times_per_day)
    notices: list[DoseNotice] = []
    if starting and drug.starting_dose_mg is not None and drug.starting_times_per_day is not None:
        start_daily = Q(drug.starting_dose_mg) * drug.starting_times_per_day
        if Q(dose_mg) > Q(drug.starting_dose_mg) or times_per_day > drug.starting_times_per_day:
            notices.append(
                DoseNotice(
                    "above_oral_starting_dose",
                    f"{drug.name} usually starts at {_mg(drug.starting_dose_mg)} mg up to "
                    f"{drug.starting_times_per_day} times a day ({_mg(start_daily)} mg a day); this "
                    f"start is {_mg(dose_mg)} mg {times_per_day} times a day ({_mg(daily)} mg a day) "
                    "(ORAL-1).",
                )
            )
    if drug.max_daily_dose_mg is not None and daily > Q(drug.max_daily_dose_mg):
        notices.append(
            DoseNotice(
                "above_oral_maximum",
                f"{_mg(daily)} mg a day of {drug.name} is above the conventional maximum of "
                f"{_mg(drug.max_daily_dose_mg)} mg a day (ORAL-1).",
            )
        )
    if drug.older_adult_tolerated_low_mg is not None:
        low, high = Q(drug.older_adult_tolerated_low_mg), drug.older_adult_tolerated_high_mg
        tolerated = f"{_mg(low)}–{_mg(high)}" if high is not None and Q(high) != low else _mg(low)
        if older_adult_from_age_years is None:
            notices.append(
                DoseNotice(
                    "older_adult_age_not_set",
                    f"No older-adult check was made: the clinic has not set the age from which a "
                    f"patient counts as older (older adults rarely tolerate more than {tolerated} mg "
                    f"a day of {drug.name}, ORAL-1).",
                )
            )
        elif age_years(birth_date, on) >= older_adult_from_age_years and daily > low:
            notices.append(
                DoseNotice(
                    "above_older_adult_tolerance",
                    f"Older adults rarely tolerate more than {tolerated} mg a day of {drug.name}; "
                    f"this patient is {age_years(birth_date, on)} and would take {_mg(daily)} mg a "
                    "day (ORAL-1).",
                )
            )
    if drug.hepatotoxic:
        notices.append(
            DoseNotice(
                "hepatotoxic",
                f"{drug.name} can damage the liver (hepatotoxicity): watch the liver tests (ORAL-1).",
            )
        )
    return tuple(notices)


def oral_titration_notice(
    *,
    drug: OralDrug,
    new_daily_dose_mg: Fraction,
    starts_on: date,
    history: list[tuple[date, Fraction]],
    spasticity_origin: str,
    birth_date: date,
    limits: TitrationLimits,
) -> DoseNotice | None:
    """ORAL-1: oral titration follows TITRATE-1's percentages. ``history`` is the patient's
    daily doses of this drug, (from date, mg a day; 0 when stopped), before ``starts_on``;
    empty for a start. An increase above (1 + limit) × the lowest daily dose in effect
    during the titration window before it gives a warning (the same limit function as the
    pump's prescriptions; oral doses are taken by the day, so a dose counts from the start
    of its day). A dose at or below the one in effect never does."""
    earlier = sorted((_day_start(d), Q(mg)) for d, mg in history if d < starts_on)
    if not earlier:
        return None
    new = Q(new_daily_dose_mg)
    if new <= earlier[-1][1]:
        return None
    limit, lowest, ceiling, why = titration_ceiling(
        effective_at=_day_start(starts_on),
        earlier=earlier,
        spasticity_origin=spasticity_origin,
        birth_date=birth_date,
        tz=UTC,
        limits=limits,
        start_words=f"the start of {drug.name}",
    )
    if new <= ceiling:
        return None
    return DoseNotice(
        "oral_titration_limit_exceeded",
        f"{_mg(new)} mg a day of {drug.name} is a faster increase than TITRATE-1 allows ({why}): "
        f"from the lowest daily dose in effect in the window before, {_mg(lowest)} mg, at most "
        f"{_mg(ceiling)} mg a day (ORAL-1).",
    )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# --- WEAN-1 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeaningCourse:
    """A recorded weaning plan of one drug, from its first step's day to its last's."""

    drug_code: str
    drug_name: str
    starts_on: date
    ends_on: date


def check_weaning_plan(
    *,
    drug: OralDrug,
    current_dose_mg: Fraction,
    steps: list[tuple[date, Fraction]],
    others: list[WeaningCourse],
    takes_first_drug: bool,
    first_drug: OralDrug,
    override_reason: str = "",
) -> tuple[DoseNotice, ...]:
    """WEAN-1: oral antispasmodics are weaned one drug at a time, ``first_drug`` (oral
    baclofen) first. ``steps`` are the prescriber's (day, dose per intake in mg), in order;
    ``others`` the patient's other weaning plans; ``takes_first_drug``: oral baclofen is on
    the patient's list.

    Refused (``CalculationError``):

    - ``weaning_steps_invalid``: no step, days not strictly later one after the other, or a
      dose that does not go down (below the current dose, then below the step before; 0 mg
      ends the drug). No step size is proposed: the prescriber gives them all;
    - ``weaning_overlap``: one drug at a time: this plan starts on or before the last step
      of another plan, or another plan starts before this one's last step;
    - ``weaning_order_requires_override``: the patient takes oral baclofen, no plan of it
      has ended before this one starts, and this drug is not oral baclofen: allowed only
      with a prescriber's written reason, which the returned notice records.
    """
    if not steps:
        raise CalculationError("steps", "A weaning plan has at least one step.", code="weaning_steps_invalid")
    previous_day: date | None = None
    previous_dose = Q(current_dose_mg)
    for i, (day, dose) in enumerate(steps):
        if previous_day is not None and day <= previous_day:
            raise CalculationError(
                f"steps[{i}].day",
                f"Step {i + 1} is on {day_text(day)}, not after step {i} ({day_text(previous_day)}): "
                "steps follow one another, one day or more apart.",
                code="weaning_steps_invalid",
            )
        if Q(dose) < 0 or Q(dose) >= previous_dose:
            before = "the current dose" if i == 0 else f"step {i}"
            raise CalculationError(
                f"steps[{i}].dose_mg",
                f"Step {i + 1}'s dose, {_mg(dose)} mg, must be lower than {before} ({_mg(previous_dose)} mg) "
                "and 0 mg or more: weaning lowers the dose step by step.",
                code="weaning_steps_invalid",
            )
        previous_day, previous_dose = day, Q(dose)
    starts_on, ends_on = steps[0][0], steps[-1][0]
    for other in others:
        if other.starts_on <= ends_on and starts_on <= other.ends_on:
            raise CalculationError(
                "steps[0].day",
                f"One drug is weaned at a time (WEAN-1): the weaning of {other.drug_name} runs "
                f"{day_text(other.starts_on)} to {day_text(other.ends_on)}. Start this one after "
                f"{day_text(other.ends_on)}.",
                code="weaning_overlap",
            )
    if drug.code == first_drug.code or not takes_first_drug:
        return ()
    first_done = any(o.drug_code == first_drug.code and o.ends_on < starts_on for o in others)
    if first_done:
        return ()
    if not (override_reason or "").strip():
        raise CalculationError(
            "override_reason",
            f"{first_drug.name} is weaned first (WEAN-1): the patient takes it and its weaning has "
            f"not ended before {day_text(starts_on)}. Weaning {drug.name} first needs a "
            "prescriber's override with a written reason.",
            code="weaning_order_requires_override",
        )
    return (
        DoseNotice(
            "weaning_order_overridden",
            f"{drug.name} is weaned before {first_drug.name} by a prescriber's override: "
            f"{override_reason.strip()} (WEAN-1).",
        ),
    )


# --- RISK-1 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskFlags:
    renal_impairment: bool = False
    obstructive_sleep_apnoea: bool = False
    brain_injury: bool = False
    old_age: bool = False
    stroke_recovery: bool = False
    complete_spinal_cord_lesion: bool = False


def risk_notices(
    *,
    flags: RiskFlags,
    benzodiazepines: list[str],
    birth_date: date,
    on: date,
    older_adult_from_age_years: int | None,
    frankel_a_starting_dose_mcg: Fraction | None = None,
    incomplete_lesion_starting_dose_mcg: Fraction | None = None,
) -> tuple[DoseNotice, ...]:
    """RISK-1: what a person deciding a dose must see about this patient.

    Old age is the recorded flag, or the patient's age at or above the clinic's
    ``older_adult_from_age_years`` (none set: only the flag counts). Stroke recovery with a
    benzodiazepine on the oral list (``benzodiazepines``: their names) is flagged as such.
    Frankel A (complete spinal cord lesion) carries the information that starting doses are
    higher, about ``frankel_a_starting_dose_mcg`` against ``incomplete_lesion_starting_dose_mcg``
    for incomplete lesions (the settings; without them, said without numbers)."""
    notices: list[DoseNotice] = []
    if flags.renal_impairment:
        notices.append(DoseNotice("renal_impairment", "Kidney impairment: the drug can build up (RISK-1)."))
    if flags.obstructive_sleep_apnoea:
        notices.append(
            DoseNotice(
                "obstructive_sleep_apnoea", "Obstructive sleep apnoea: risk of airway collapse (RISK-1)."
            )
        )
    older = older_adult_from_age_years is not None and age_years(birth_date, on) >= older_adult_from_age_years
    if flags.brain_injury or flags.old_age or older:
        why = []
        if flags.brain_injury:
            why.append("brain injury")
        if flags.old_age or older:
            why.append(
                f"older adult ({age_years(birth_date, on)})" if older and not flags.old_age else "older adult"
            )
        notices.append(
            DoseNotice(
                "seizures_psychological",
                f"{' and '.join(why).capitalize()}: risk of seizures and psychological disturbances "
                "(RISK-1).",
            )
        )
    if flags.stroke_recovery:
        if benzodiazepines:
            notices.append(
                DoseNotice(
                    "stroke_recovery_benzodiazepine",
                    f"Recovering from a stroke and taking a benzodiazepine ({', '.join(benzodiazepines)}): "
                    "review it with the physician (RISK-1).",
                )
            )
        else:
            notices.append(
                DoseNotice(
                    "stroke_recovery",
                    "Recovering from a stroke: a benzodiazepine added to the oral list is flagged (RISK-1).",
                )
            )
    if flags.complete_spinal_cord_lesion:
        if frankel_a_starting_dose_mcg is not None and incomplete_lesion_starting_dose_mcg is not None:
            numbers = (
                f", about {_mg(frankel_a_starting_dose_mcg)} mcg against "
                f"{_mg(incomplete_lesion_starting_dose_mcg)} mcg for incomplete lesions"
            )
        else:
            numbers = ""
        notices.append(
            DoseNotice(
                "frankel_a",
                f"Complete spinal cord lesion (Frankel A): starting doses are usually higher{numbers} "
                "(RISK-1, for information).",
            )
        )
    return tuple(notices)
