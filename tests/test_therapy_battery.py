"""ERI-1, ERI-2 (battery and replacement planning) and LRA-5 (the refill appointment day).

All expected dates are worked out by hand; the arithmetic is in the comments.
"""

from __future__ import annotations

from datetime import date

import pytest

from therapy import CalculationError, appointment_day, check_replacement_date, replacement_plan

WEEKDAYS = {1, 2, 3, 4, 5}  # ISO: Monday..Friday


def _plan(implanted_on, eri_on=None, service_life_months=60):
    return replacement_plan(
        implanted_on=implanted_on,
        eri_on=eri_on,
        service_life_months=service_life_months,
        eos_after_eri_days=90,
        planning_opens_months_before_eri=6,
        book_by_days_before_eri=90,
    )


# --- ERI-1 -------------------------------------------------------------------------------------


@pytest.mark.rule("ERI-1", "ERI-2")
def test_eri_estimated_from_implant_plus_five_years():
    p = _plan(date(2021, 3, 15))
    # 2021-03-15 + 60 months = 2026-03-15, an estimate
    assert (p.eri_on, p.eri_estimated) == (date(2026, 3, 15), True)
    # EOS = ERI + 90 d: Mar 31 (+16), Apr 30 (+46), May 31 (+77), Jun 13 (+90) -> 2026-06-13
    assert p.eos_on == date(2026, 6, 13)
    # planning opens 6 months before ERI: 2025-09-15
    assert p.planning_opens_on == date(2025, 9, 15)
    # book-by = ERI - 90 d: Feb 28 (-15), Jan 31 (-43), Dec 31 (-74), Dec 15 (-90) -> 2025-12-15
    assert p.book_by == date(2025, 12, 15)


@pytest.mark.rule("ERI-1", "ERI-2")
def test_interrogated_eri_is_used_as_is():
    p = _plan(date(2021, 3, 15), eri_on=date(2027, 1, 10), service_life_months=None)
    assert (p.eri_on, p.eri_estimated) == (date(2027, 1, 10), False)
    # EOS: Jan 31 (+21), Feb 28 (+49), Mar 31 (+80), Apr 10 (+90) -> 2027-04-10
    assert p.eos_on == date(2027, 4, 10)
    # book-by: Dec 31 (-10), Nov 30 (-41), Oct 31 (-71), Oct 12 (-90) -> 2026-10-12
    assert p.book_by == date(2026, 10, 12)
    assert p.planning_opens_on == date(2026, 7, 10)
    # an interrogated date wins over the estimate when both are available
    assert _plan(date(2021, 3, 15), eri_on=date(2027, 1, 10)).eri_on == date(2027, 1, 10)


@pytest.mark.rule("ERI-1")
def test_no_eri_and_no_service_life_is_refused():
    with pytest.raises(CalculationError) as err:
        _plan(date(2021, 3, 15), eri_on=None, service_life_months=None)
    assert err.value.code == "eri_unknown"
    assert err.value.field == "pump.eri_on"


@pytest.mark.rule("ERI-1", "ERI-2")
def test_month_end_clamping():
    p = _plan(date(2021, 8, 31))
    # 2021-08-31 + 60 months = 2026-08-31
    assert p.eri_on == date(2026, 8, 31)
    # 6 months before 2026-08-31 is "2026-02-31" -> clamped to 2026-02-28
    assert p.planning_opens_on == date(2026, 2, 28)
    # EOS: Sep 30 (+30), Oct 31 (+61), Nov 29 (+90) -> 2026-11-29
    assert p.eos_on == date(2026, 11, 29)
    # book-by: Aug 1 (-30), Jul 2 (-60), Jun 2 (-90) -> 2026-06-02
    assert p.book_by == date(2026, 6, 2)
    # a leap day: 2020-02-29 + 60 months = "2025-02-29" -> 2025-02-28
    assert _plan(date(2020, 2, 29)).eri_on == date(2025, 2, 28)
    # 2024-02-29 + 48 months = 2028-02-29 (a leap year again)
    assert _plan(date(2024, 2, 29), service_life_months=48).eri_on == date(2028, 2, 29)


# --- ERI-2 -------------------------------------------------------------------------------------


@pytest.mark.rule("ERI-2")
def test_replacement_date_checks():
    p = _plan(date(2021, 3, 15))  # ERI 2026-03-15, EOS 2026-06-13
    assert check_replacement_date(date(2025, 12, 1), p) is None
    assert check_replacement_date(date(2026, 3, 15), p) is None  # on ERI: not after it
    assert check_replacement_date(date(2026, 3, 16), p) == "after_eri"
    assert check_replacement_date(date(2026, 6, 13), p) == "after_eri"  # on EOS: flagged, not refused
    with pytest.raises(CalculationError) as err:
        check_replacement_date(date(2026, 6, 14), p)
    assert err.value.code == "replacement_after_eos"
    assert err.value.field == "surgery_on"


# --- LRA-5 -------------------------------------------------------------------------------------


@pytest.mark.rule("LRA-5")
def test_appointment_on_a_working_refill_by_day_is_that_day():
    # 2026-02-09 is a Monday
    assert appointment_day(date(2026, 2, 9), working_weekdays=WEEKDAYS, closures=set()) == date(2026, 2, 9)


@pytest.mark.rule("LRA-5")
def test_refill_by_on_a_weekend_walks_back_to_friday():
    # 2026-02-08 is a Sunday, 2026-02-07 a Saturday -> Friday 2026-02-06
    assert appointment_day(date(2026, 2, 8), working_weekdays=WEEKDAYS, closures=set()) == date(2026, 2, 6)
    assert appointment_day(date(2026, 2, 7), working_weekdays=WEEKDAYS, closures=set()) == date(2026, 2, 6)


@pytest.mark.rule("LRA-5")
def test_closures_are_walked_over():
    # Sunday 2026-02-08, clinic closed Friday 2026-02-06 -> Thursday 2026-02-05
    assert appointment_day(date(2026, 2, 8), working_weekdays=WEEKDAYS, closures={date(2026, 2, 6)}) == date(
        2026, 2, 5
    )
    # Christmas week closed (Mon 2025-12-22 .. Fri 2025-12-26): refill-by Sat 2025-12-27 -> Fri 2025-12-19
    closed = {date(2025, 12, d) for d in range(22, 27)}
    assert appointment_day(date(2025, 12, 27), working_weekdays=WEEKDAYS, closures=closed) == date(
        2025, 12, 19
    )


@pytest.mark.rule("LRA-5")
def test_clinic_working_only_some_weekdays():
    # Tuesday (2) and Thursday (4) clinic: Sunday 2026-02-08 -> Thursday 2026-02-05;
    # Wednesday 2026-02-04 -> Tuesday 2026-02-03
    assert appointment_day(date(2026, 2, 8), working_weekdays={2, 4}, closures=set()) == date(2026, 2, 5)
    assert appointment_day(date(2026, 2, 4), working_weekdays={2, 4}, closures=set()) == date(2026, 2, 3)


@pytest.mark.rule("LRA-5")
def test_no_working_day_is_refused():
    with pytest.raises(CalculationError) as err:
        appointment_day(date(2026, 2, 8), working_weekdays=set(), closures=set())
    assert err.value.field == "clinic.working_days"
    # nothing between the earliest allowed day (Saturday 2026-02-07) and Sunday 2026-02-08
    with pytest.raises(CalculationError) as err:
        appointment_day(
            date(2026, 2, 8), working_weekdays=WEEKDAYS, closures=set(), earliest=date(2026, 2, 7)
        )
    assert err.value.code == "no_working_day"
    # with the Friday allowed it is found
    assert appointment_day(
        date(2026, 2, 8), working_weekdays=WEEKDAYS, closures=set(), earliest=date(2026, 2, 6)
    ) == date(2026, 2, 6)
