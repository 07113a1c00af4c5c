"""Dosing decisions: starting dose (START-1), the first prescription of a therapy
(START-2), titration limits (TITRATE-1), discontinuation (TITRATE-2) and the concentration
of a first fill (DOSE-4, IMPLANT-1). Every clinical number arrives as an argument; the
defaults from DOMAIN.md live in the project's settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from .errors import CalculationError
from .units import DOSE_MCG, Q, local_date, rounded

# --- START-1 ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningOutcome:
    status: str  # "respond" (start therapy), "next_step", "not_a_candidate"
    effective_dose_mcg: Fraction | None = None
    next_dose_mcg: Fraction | None = None
    starting_daily_dose_mcg: Fraction | None = None
    reason: str = ""


def screening_outcome(
    *,
    trials: list[tuple[Fraction, bool]],
    steps: list[Fraction],
    effect_hours: Fraction | None = None,
    adverse_reactions: bool = False,
    prolonged_effect_hours: Fraction | None,
) -> ScreeningOutcome:
    """START-1. ``trials`` are (screening dose, responded) in the order given; doses must be
    screening steps (DOMAIN: 50, 75, 100 mcg). The first positive bolus is the effective
    dose: start at 2 × it, or at it when the effect lasted more than
    ``prolonged_effect_hours`` or there were adverse reactions. No response at the last
    step means not a candidate; otherwise the next step is proposed."""
    if not steps:
        raise CalculationError("screening_steps_mcg", "are not configured")
    if prolonged_effect_hours is None:
        raise CalculationError("screening_prolonged_effect_hours", "is not configured")
    if not trials:
        return ScreeningOutcome(
            "next_step", next_dose_mcg=steps[0], reason="screening starts at the first step"
        )
    for i, (dose, _responded) in enumerate(trials):
        if dose not in steps:
            allowed = ", ".join(str(s) for s in steps)
            raise CalculationError(f"trials[{i}].dose_mcg", f"must be a screening step ({allowed} mcg)")
    for dose, responded in trials:
        if responded:
            single = adverse_reactions or (effect_hours is not None and effect_hours > prolonged_effect_hours)
            start = dose if single else 2 * dose
            why = (
                "the screening dose itself: adverse reactions"
                if adverse_reactions
                else f"the screening dose itself: effect lasted more than {prolonged_effect_hours} h"
                if single
                else "2 × the effective screening dose"
            )
            return ScreeningOutcome(
                "respond", effective_dose_mcg=dose, starting_daily_dose_mcg=start, reason=why
            )
    highest = max(d for d, _ in trials)
    if highest >= max(steps):
        return ScreeningOutcome(
            "not_a_candidate",
            reason=f"no response at {max(steps)} mcg: not a candidate for intrathecal baclofen",
        )
    return ScreeningOutcome(
        "next_step", next_dose_mcg=min(s for s in steps if s > highest), reason="no response yet"
    )


# --- TITRATE-1 / TITRATE-2 / START-2 ---------------------------------------------------


@dataclass(frozen=True)
class TitrationLimits:
    """Per-24-hour increase limits in percent (DOMAIN: spinal 30, cerebral 15, under 18
    years 15 whatever the origin), the window, and the age below which the paediatric limit
    applies."""

    spinal_pct: Fraction | None
    cerebral_pct: Fraction | None
    pediatric_pct: Fraction | None
    pediatric_below_age_years: int | None
    window_hours: int | None


@dataclass(frozen=True)
class DoseNotice:
    """A warning that does not stop the prescription (START-2, DOSE-4, IMPLANT-1)."""

    code: str
    message: str


@dataclass(frozen=True)
class TitrationCheck:
    """The verdict on a new daily dose. ``code`` is None when it may be saved without an
    override, else ``titration_limit_exceeded``, ``discontinuation_requires_override``,
    ``above_starting_dose`` or ``screening_not_positive``; ``warnings`` are shown either way."""

    code: str | None
    message: str
    limit_pct: Fraction | None = None
    lowest_daily_dose_mcg: Fraction | None = None
    max_allowed_daily_dose_mcg: Fraction | None = None
    warnings: tuple[DoseNotice, ...] = ()

    def details(self) -> dict:
        return {
            "limit_pct": None if self.limit_pct is None else rounded(self.limit_pct, Decimal("0.1")),
            "lowest_daily_dose_mcg": rounded(self.lowest_daily_dose_mcg, DOSE_MCG),
            "max_allowed_daily_dose_mcg": rounded(self.max_allowed_daily_dose_mcg, DOSE_MCG),
        }


WITHDRAWAL_SIGNS = (
    "itching, hypotension, paresthesia, high fever, altered mental status, rebound spasticity, "
    "rhabdomyolysis, death"
)


def is_zero_daily_dose(daily_dose_mcg: Fraction) -> bool:
    """TITRATE-2: a daily dose that is 0 at the stored precision (0.1 mcg, rounded half up)
    is zero: 0.04 mcg/day, or a flex rate of 0.0001 mcg/hour (0.0024 mcg/day), stops the
    therapy as surely as 0 does. The one place that decides what "zero" is."""
    return rounded(Q(daily_dose_mcg), DOSE_MCG) == 0


def age_years(birth_date: date, on: date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def titration_limit_pct(
    *, spasticity_origin: str, birth_date: date, on: date, limits: TitrationLimits
) -> Fraction:
    """TITRATE-1: the increase limit for this patient on that date."""
    if limits.pediatric_below_age_years is None or limits.pediatric_pct is None:
        raise CalculationError("titration.pediatric", "the paediatric titration limit is not configured")
    if age_years(birth_date, on) < limits.pediatric_below_age_years:
        return Q(limits.pediatric_pct)
    chosen = {"spinal": limits.spinal_pct, "cerebral": limits.cerebral_pct}.get(spasticity_origin)
    if chosen is None:
        raise CalculationError(
            "patient.spasticity_origin",
            f"has no titration limit configured for {spasticity_origin!r} (spinal, cerebral)",
        )
    return Q(chosen)


def titration_ceiling(
    *,
    effective_at: datetime,
    earlier: list[tuple[datetime, Fraction]],
    spasticity_origin: str,
    birth_date: date,
    tz,
    limits: TitrationLimits,
    start_words: str = "the start of therapy",
) -> tuple[Fraction, Fraction, Fraction, str]:
    """TITRATE-1's ceiling for a dose taking effect at ``effective_at`` after the sorted,
    non-empty dose history ``earlier`` (all before it): (limit %, lowest daily dose in effect
    during the window before it, the highest allowed dose, the limit in words). In the first
    window after the start of therapy (the first entry) the limit is 0. Shared by the pump's
    prescriptions and the oral titration (ORAL-1), whose units the caller names."""
    if limits.window_hours is None:
        raise CalculationError("titration.window_hours", "the titration window is not configured")
    window_start = effective_at - timedelta(hours=limits.window_hours)
    started_at = earlier[0][0]
    in_window = [d for at, d in earlier if at > window_start]
    before = [d for at, d in earlier if at <= window_start]
    if before:
        in_window.append(before[-1])  # the dose in effect when the window opened
    lowest = min(in_window)
    if started_at > window_start:
        limit = Q(0)
        why = f"no increase in the first {limits.window_hours} hours after {start_words}"
    else:
        limit = titration_limit_pct(
            spasticity_origin=spasticity_origin,
            birth_date=birth_date,
            on=local_date(effective_at, tz),
            limits=limits,
        )
        why = f"at most +{_pct(limit)} % per {limits.window_hours} hours for this patient"
    return limit, lowest, lowest * (1 + limit / 100), why


def check_new_daily_dose(
    *,
    new_daily_dose_mcg: Fraction,
    effective_at: datetime,
    history: list[tuple[datetime, Fraction]],
    spasticity_origin: str,
    birth_date: date,
    tz,
    limits: TitrationLimits,
    screening: ScreeningOutcome | None = None,
) -> TitrationCheck:
    """TITRATE-1, TITRATE-2 and START-2 for a new prescription taking effect at
    ``effective_at``.

    ``history`` is the *patient's* dose history across all of their pumps, as
    (effective_at, exact daily dose): a replacement pump continues the therapy, so its first
    prescription is checked against the doses of the pump it replaces, and the earliest entry
    (the patient's first fill ever) is the start of therapy. A pump stopped without a
    replacement (TITRATE-2) appears in it as a dose of 0 from the day it stopped.

    - TITRATE-2: a daily dose that is zero at the stored precision (``is_zero_daily_dose``)
      is a discontinuation.
    - START-2: with no earlier dose this is the first prescription of the therapy, checked
      against the patient's screening trial (``screening``, None when none is recorded):
      see ``check_first_prescription``.
    - TITRATE-1: a dose at or below the dose in effect is never refused; an increase may not
      exceed (1 + limit) × the lowest daily dose in effect during the window before it takes
      effect, so small steps cannot add up; in the first window after the start of therapy
      no increase is allowed. Limits are computed from the exact doses given.
    """
    new = Q(new_daily_dose_mcg)
    earlier = sorted((at, Q(d)) for at, d in history if at < effective_at)
    if is_zero_daily_dose(new):
        what = (
            "A daily dose of 0 mcg stops the therapy."
            if new == 0
            else f"A daily dose of {_small(new)} mcg is 0.0 mcg to the 0.1 mcg the pump record keeps: "
            "it stops the therapy."
        )
        return TitrationCheck(
            "discontinuation_requires_override",
            f"{what} Stopping the pump or reducing the dose to zero causes withdrawal "
            f"({WITHDRAWAL_SIGNS}), typically within 1–3 days. It needs a prescriber's override "
            "with a written reason.",
        )
    if not earlier:
        return check_first_prescription(new_daily_dose_mcg=new, screening=screening)
    in_effect = earlier[-1][1]
    if new <= in_effect:
        # TITRATE-1 limits increases; keeping or lowering the dose in effect is always allowed.
        return TitrationCheck(None, "not an increase over the daily dose in effect")
    limit, lowest, ceiling, why = titration_ceiling(
        effective_at=effective_at,
        earlier=earlier,
        spasticity_origin=spasticity_origin,
        birth_date=birth_date,
        tz=tz,
        limits=limits,
    )
    if new <= ceiling:
        return TitrationCheck(None, "within the titration limit", limit, lowest, ceiling)
    if is_zero_daily_dose(lowest):
        message = (
            f"The therapy was stopped within the last {limits.window_hours} hours or is still "
            f"stopped: restarting it at {_mcg(new)} mcg a day needs a prescriber's override with "
            "a written reason."
        )
    else:
        message = (
            f"A daily dose of {_mcg(new)} mcg exceeds the titration limit: {why}, "
            f"from the lowest daily dose in effect during the last {limits.window_hours} hours "
            f"({_mcg(lowest)} mcg), so at most {_mcg(ceiling)} mcg. "
            "A prescriber may override with a written reason."
        )
    return TitrationCheck("titration_limit_exceeded", message, limit, lowest, ceiling)


def check_first_prescription(
    *, new_daily_dose_mcg: Fraction, screening: ScreeningOutcome | None
) -> TitrationCheck:
    """START-2: the first prescription of a patient's therapy, against START-1 from the
    patient's recorded screening trial (``screening``; None when no trial is recorded).

    Above the starting dose it is refused unless a prescriber overrides; a trial that did
    not end positive gives no starting dose, so any dose needs the override; without a
    recorded trial the prescription carries a warning. Doses are compared exactly."""
    new = Q(new_daily_dose_mcg)
    if screening is None:
        return TitrationCheck(
            None,
            "start of therapy",
            warnings=(
                DoseNotice(
                    "no_screening_trial",
                    "No screening trial is recorded for this patient: the starting dose could not "
                    "be checked against it (START-2). Record the trial's boluses.",
                ),
            ),
        )
    if screening.status != "respond":
        outcome = (
            "showed no response at any screening dose: the patient is not a candidate"
            if screening.status == "not_a_candidate"
            else "has not ended with a response yet"
        )
        return TitrationCheck(
            "screening_not_positive",
            f"The patient's screening trial {outcome}, so it gives no starting dose. Starting "
            f"therapy at {_mcg(new)} mcg a day needs a prescriber's override with a written reason.",
        )
    start = Q(screening.starting_daily_dose_mcg)
    if new <= start:
        return TitrationCheck(None, "at or below the starting dose", max_allowed_daily_dose_mcg=start)
    return TitrationCheck(
        "above_starting_dose",
        f"A first daily dose of {_mcg(new)} mcg is above the starting dose from the screening "
        f"trial, {_mcg(start)} mcg a day ({screening.reason}, {_mcg(screening.effective_dose_mcg)} mcg "
        "screening dose). A prescriber may override with a written reason.",
        max_allowed_daily_dose_mcg=start,
    )


def check_first_fill_concentration(
    *,
    concentration_mcg_per_ml: Fraction,
    starting_concentration_mcg_per_ml: Fraction | None,
    patient_concentration_mcg_per_ml: Fraction | None,
) -> tuple[DoseNotice, ...]:
    """The first fill of a pump. When it starts the patient's therapy (no earlier fill of
    theirs), DOSE-4: therapy starts at ``starting_concentration_mcg_per_ml`` (500 mcg/mL),
    another concentration carries a warning. When the pump replaces another
    (``patient_concentration_mcg_per_ml``: the concentration of the patient's last fill),
    IMPLANT-1: a replacement pump continues the patient's concentration; another one
    carries a warning (the patient's dose per mL changes without a bridge in the old pump)."""
    given = Q(concentration_mcg_per_ml)
    if patient_concentration_mcg_per_ml is not None:
        previous = Q(patient_concentration_mcg_per_ml)
        if given == previous:
            return ()
        return (
            DoseNotice(
                "not_patient_concentration",
                f"A replacement pump usually continues the patient's concentration, "
                f"{_conc(previous)} mcg/mL; this fill is at {_conc(given)} mcg/mL (IMPLANT-1). "
                "Check the prescription for the change of concentration.",
            ),
        )
    if starting_concentration_mcg_per_ml is not None and given != Q(starting_concentration_mcg_per_ml):
        return (
            DoseNotice(
                "not_starting_concentration",
                f"Therapy usually starts at {_conc(Q(starting_concentration_mcg_per_ml))} mcg/mL (DOSE-4).",
            ),
        )
    return ()


def _pct(value: Fraction) -> str:
    return format(rounded(value, Decimal("0.1")).normalize(), "f")


def _mcg(value: Fraction) -> Decimal:
    return rounded(value, DOSE_MCG)


def _conc(value: Fraction) -> str:
    return format(rounded(value, Decimal("0.01")).normalize(), "f")


def _small(value: Fraction) -> str:
    """A dose below the stored precision as typed (0.04, 0.0024), not as 0.0."""
    shown = rounded(value, Decimal("0.0000001"))
    return format(shown.normalize(), "f") if shown else "less than 0.0000001"
