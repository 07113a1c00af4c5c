"""Battery and replacement planning (ERI-1, ERI-2) and the refill appointment day (LRA-5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .errors import CalculationError
from .units import add_months, day_text


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
    try:
        if estimated:
            eri_on = add_months(implanted_on, service_life_months)
        return ReplacementPlan(
            eri_on=eri_on,
            eri_estimated=estimated,
            eos_on=eri_on + timedelta(days=eos_after_eri_days),
            planning_opens_on=add_months(eri_on, -planning_opens_months_before_eri),
            book_by=eri_on - timedelta(days=book_by_days_before_eri),
        )
    except (OverflowError, ValueError):  # a date past year 9999 (or before year 1)
        raise CalculationError(
            "pump.eri_on",
            "is too far from today for the calendar to plan the replacement: correct the ERI date "
            "or the pump model's service life",
            code="eri_out_of_range",
        ) from None


def check_replacement_date(surgery_on: date, plan: ReplacementPlan) -> str | None:
    """ERI-2: a surgery date after EOS is refused; after ERI it is flagged
    (returns ``after_eri``); otherwise None."""
    if surgery_on > plan.eos_on:
        raise CalculationError(
            "surgery_on",
            f"{day_text(surgery_on)} is after the pump's end of service, {day_text(plan.eos_on)}: "
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
    if floor > refill_by:  # never a backwards range in a message
        raise CalculationError(
            "refill_by", f"the refill-by date {day_text(refill_by)} has passed", code="no_working_day"
        )
    raise CalculationError(
        "refill_by",
        f"no clinic working day with a free slot from {day_text(floor)} to {day_text(refill_by)}",
        code="no_working_day",
    )


# --- LRA-5: the day a refill is proposed on and the days it may be booked on -----------------

# How far ahead the earliest working day is looked for: a clinic that does not work for a
# year is a configuration error, reported as such.
SEARCH_DAYS = 366


def _working(day: date, working_weekdays: set[int], closures: set[date]) -> bool:
    return day.isoweekday() in working_weekdays and day not in closures


def earliest_working_day(
    today: date, *, working_weekdays: set[int], closures: set[date], full_days: set[date] = frozenset()
) -> date:
    """LRA-5: the first working day from ``today`` (today included), skipping ``full_days``."""
    if not working_weekdays:
        raise CalculationError("clinic.working_days", "no working day is configured for the clinic")
    day = today
    for _ in range(SEARCH_DAYS):
        if _working(day, working_weekdays, closures) and day not in full_days:
            return day
        day += timedelta(days=1)
    raise CalculationError(
        "clinic.working_days",
        f"the clinic has no working day in the {SEARCH_DAYS} days from {day_text(today)}: "
        "check its working days and closures",
        code="no_working_day",
    )


def refill_overdue(refill_by: date, *, today: date, working_weekdays: set[int], closures: set[date]) -> bool:
    """LRA-5: a refill is overdue when no clinic working day is left from ``today`` (today
    included) to ``refill_by`` — refill-by has passed, or only closed days remain before it."""
    day = today
    while day <= refill_by:
        if _working(day, working_weekdays, closures):
            return False
        day += timedelta(days=1)
    return True


def refill_overdue_days(refill_by: date | None, today: date) -> int | None:
    """ALERT-1: how many days ago refill-by passed (None while it has not: refill-by today is
    due, not overdue)."""
    if refill_by is None or refill_by >= today:
        return None
    return (today - refill_by).days


@dataclass(frozen=True)
class RefillDay:
    """LRA-5: the day a refill is proposed on. ``overdue``: it falls after refill-by (no
    working day was left before it); ``over_capacity``: every working day from today to
    refill-by is full, so it was put on a full day and the clinic must be told."""

    day: date
    overdue: bool
    over_capacity: bool


def refill_day(
    refill_by: date,
    *,
    today: date,
    working_weekdays: set[int],
    closures: set[date],
    full_days: set[date] = frozenset(),
) -> RefillDay:
    """LRA-5. In order:

    1. the latest working day with a free slot in the window before refill-by;
    2. when the window is full, the latest earlier working day with a free slot from today
       (1 and 2 are one walk back from refill-by to today: whatever the window's length,
       the first free working day met is the day);
    3. when there is none (or refill-by is today on a closed day, or has passed: overdue),
       the earliest working day from today, whatever the capacity (``over_capacity`` when
       that day is full).

    A pump is never left without a day: only a clinic without any working day refuses."""
    if not working_weekdays:
        raise CalculationError("clinic.working_days", "no working day is configured for the clinic")
    day = refill_by
    while day >= today:
        if _working(day, working_weekdays, closures) and day not in full_days:
            return RefillDay(day, overdue=False, over_capacity=False)
        day -= timedelta(days=1)
    day = earliest_working_day(today, working_weekdays=working_weekdays, closures=closures)
    return RefillDay(day, overdue=day > refill_by, over_capacity=day in full_days)


def check_refill_day(
    day: date, *, refill_by: date, today: date, working_weekdays: set[int], closures: set[date]
) -> str | None:
    """LRA-5 for a day a nurse books (already known to be a working day from today): a day
    after refill-by is refused while a working day is left on or before it; once none is
    (overdue), booking is never refused and the day is flagged: returns ``overdue``."""
    if day <= refill_by:
        return None
    if not refill_overdue(refill_by, today=today, working_weekdays=working_weekdays, closures=closures):
        last = appointment_day(
            refill_by, working_weekdays=working_weekdays, closures=closures, earliest=today
        )
        raise CalculationError(
            "day",
            f"{day_text(day)} is after the refill-by date {day_text(refill_by)}: book on or before it "
            f"(the last working day is {day_text(last)})",
            code="after_refill_by",
        )
    return "overdue"
