"""Battery and replacement planning (ERI-1, ERI-2) and the refill appointment day (LRA-5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .errors import CalculationError
from .units import add_months


@dataclass(frozen=True)
class ReplacementPlan:
    eri_on: date
    eri_estimated: bool
    eos_on: date
    planning_opens_on: date
    book_by: date


def replacement_plan(
    *,
    implanted_on: date,
    eri_on: date | None,
    service_life_months: int | None,
    eos_after_eri_days: int,
    planning_opens_months_before_eri: int,
    book_by_days_before_eri: int,
) -> ReplacementPlan:
    """ERI-1 / ERI-2. ERI from an interrogation, else implant date + the model's planning
    service life (the short end of the typical range), marked as an estimate.
    EOS = ERI + ``eos_after_eri_days``; planning opens ``planning_opens_months_before_eri``
    before ERI; book-by = ERI − ``book_by_days_before_eri``."""
    estimated = eri_on is None
    if estimated:
        if service_life_months is None:
            raise CalculationError(
                "pump.eri_on",
                "is not recorded and the pump model's service life is not configured: enter the ERI "
                "date from a device interrogation, or an admin sets the model's service life",
                code="eri_unknown",
            )
        eri_on = add_months(implanted_on, service_life_months)
    return ReplacementPlan(
        eri_on=eri_on,
        eri_estimated=estimated,
        eos_on=eri_on + timedelta(days=eos_after_eri_days),
        planning_opens_on=add_months(eri_on, -planning_opens_months_before_eri),
        book_by=eri_on - timedelta(days=book_by_days_before_eri),
    )


def check_replacement_date(surgery_on: date, plan: ReplacementPlan) -> str | None:
    """ERI-2: a surgery date after EOS is refused; after ERI it is flagged
    (returns ``after_eri``); otherwise None."""
    if surgery_on > plan.eos_on:
        raise CalculationError(
            "surgery_on",
            f"{surgery_on.isoformat()} is after the pump's end of service {plan.eos_on.isoformat()}: "
            "the pump stops then; book the replacement before it",
            code="replacement_after_eos",
        )
    if surgery_on > plan.eri_on:
        return "after_eri"
    return None


def appointment_day(
    refill_by: date,
    *,
    working_weekdays: set[int],
    closures: set[date],
    earliest: date | None = None,
    full_days: set[date] = frozenset(),
) -> date:
    """LRA-5: the latest clinic working day on or before ``refill_by``, walking back over
    non-working weekdays (ISO 1 = Monday … 7 = Sunday), closures and days without a free
    slot (``full_days``); refuses when none lies on or after ``earliest``."""
    if not working_weekdays:
        raise CalculationError("clinic.working_days", "no working day is configured for the clinic")
    day = refill_by
    floor = earliest if earliest is not None else refill_by - timedelta(days=366)
    while day >= floor:
        if day.isoweekday() in working_weekdays and day not in closures and day not in full_days:
            return day
        day -= timedelta(days=1)
    raise CalculationError(
        "refill_by",
        f"no clinic working day with a free slot between {floor.isoformat()} and {refill_by.isoformat()}",
        code="no_working_day",
    )
