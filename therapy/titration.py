"""Dosing decisions: starting dose (START-1), titration limits (TITRATE-1) and
discontinuation (TITRATE-2). Every clinical number arrives as an argument; the defaults
from DOMAIN.md live in the project's settings."""

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
    prolonged_effect_hours: Fraction,
) -> ScreeningOutcome:
    """START-1. ``trials`` are (screening dose, responded) in the order given; doses must be
    screening steps (DOMAIN: 50, 75, 100 mcg). The first positive bolus is the effective
    dose: start at 2 × it, or at it when the effect lasted more than
    ``prolonged_effect_hours`` or there were adverse reactions. No response at the last
    step means not a candidate; otherwise the next step is proposed."""
    if not steps:
        raise CalculationError("screening_steps_mcg", "are not configured")
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


# --- TITRATE-1 / TITRATE-2 --------------------------------------------------------------


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
class TitrationCheck:
    """The verdict on a new daily dose. ``code`` is None when it may be saved without an
    override, else ``titration_limit_exceeded`` or ``discontinuation_requires_override``."""

    code: str | None
    message: str
    limit_pct: Fraction | None = None
    lowest_daily_dose_mcg: Fraction | None = None
    max_allowed_daily_dose_mcg: Fraction | None = None

    def details(self) -> dict:
        return {
            "limit_pct": None if self.limit_pct is None else rounded(self.limit_pct, Decimal("0.1")),
            "lowest_daily_dose_mcg": rounded(self.lowest_daily_dose_mcg, DOSE_MCG),
            "max_allowed_daily_dose_mcg": rounded(self.max_allowed_daily_dose_mcg, DOSE_MCG),
        }


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


def check_new_daily_dose(
    *,
    new_daily_dose_mcg: Fraction,
    effective_at: datetime,
    history: list[tuple[datetime, Fraction]],
    spasticity_origin: str,
    birth_date: date,
    tz,
    limits: TitrationLimits,
) -> TitrationCheck:
    """TITRATE-1 and TITRATE-2 for a new prescription taking effect at ``effective_at``.

    ``history`` holds the pump's earlier prescriptions as (effective_at, daily dose); the
    earliest one is the start of therapy. The first prescription is not limited here (its
    dose comes from START-1). A new dose may not exceed (1 + limit) × the lowest daily dose
    in effect during the window before it takes effect, so small steps cannot add up; in
    the first window after the start of therapy no increase is allowed. A daily dose of 0
    after therapy has started is a discontinuation (TITRATE-2).
    """
    new = Q(new_daily_dose_mcg)
    earlier = sorted((at, Q(d)) for at, d in history if at < effective_at)
    if new == 0:
        return TitrationCheck(
            "discontinuation_requires_override",
            "Stopping the pump or reducing the dose to zero causes withdrawal (itching, "
            "hypotension, paresthesia, high fever, altered mental status, rebound spasticity, "
            "rhabdomyolysis, death), typically within 1–3 days. It needs a prescriber's "
            "override with a written reason.",
        )
    if not earlier:
        return TitrationCheck(None, "start of therapy")
    if new <= earlier[-1][1]:
        # TITRATE-1 limits increases; keeping or lowering the dose in effect is always allowed.
        return TitrationCheck(None, "not an increase over the daily dose in effect")
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
        why = f"no increase in the first {limits.window_hours} hours after the start of therapy"
    else:
        limit = titration_limit_pct(
            spasticity_origin=spasticity_origin,
            birth_date=birth_date,
            on=local_date(effective_at, tz),
            limits=limits,
        )
        why = f"at most +{_pct(limit)} % per {limits.window_hours} hours for this patient"
    ceiling = lowest * (1 + limit / 100)
    if new <= ceiling:
        return TitrationCheck(None, "within the titration limit", limit, lowest, ceiling)
    return TitrationCheck(
        "titration_limit_exceeded",
        f"A daily dose of {rounded(new, DOSE_MCG)} mcg exceeds the titration limit: {why}, "
        f"from the lowest daily dose in effect during the last {limits.window_hours} hours "
        f"({rounded(lowest, DOSE_MCG)} mcg), so at most {rounded(ceiling, DOSE_MCG)} mcg. "
        "A prescriber may override with a written reason.",
        limit,
        lowest,
        ceiling,
    )


def _pct(value: Fraction) -> str:
    return format(rounded(value, Decimal("0.1")).normalize(), "f")
