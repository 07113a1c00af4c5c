"""ERI-1, ERI-2 (battery and replacement planning) and LRA-5 (the refill appointment day).

All expected dates are worked out by hand; the arithmetic is in the comments.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from therapy import (
    CalculationError,
    RefillDay,
    appointment_day,
    check_refill_day,
    check_replacement_date,
    day_text,
    earliest_working_day,
    refill_day,
    refill_overdue,
    refill_overdue_days,
    replacement_plan,
)

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


# --- LRA-5: refill_day, overdue refills -------------------------------------------------------
# November 2026: Thursday 26, Friday 27, Saturday 28, Sunday 29, Monday 30; December: Tuesday 1,
# Monday 7, Thursday 10, Friday 11, Monday 14.


def _day(refill_by, today, closures=(), full=(), weekdays=WEEKDAYS):
    return refill_day(
        refill_by, today=today, working_weekdays=weekdays, closures=set(closures), full_days=set(full)
    )


@pytest.mark.rule("LRA-5")
def test_a_refill_in_time_is_proposed_on_the_latest_free_working_day_before_refill_by():
    # refill-by Monday 14 Dec, today Thursday 26 Nov: Monday 14 itself
    assert _day(date(2026, 12, 14), date(2026, 11, 26)) == RefillDay(date(2026, 12, 14), False, False)
    # refill-by today (Thursday 26 Nov, a working day): today, in time
    assert _day(date(2026, 11, 26), date(2026, 11, 26)) == RefillDay(date(2026, 11, 26), False, False)


@pytest.mark.rule("LRA-5")
def test_an_overdue_refill_is_proposed_today_or_on_the_next_working_day():
    # refill-by Wednesday 25 Nov passed; today Thursday 26 Nov works -> today, overdue
    assert _day(date(2026, 11, 25), date(2026, 11, 26)) == RefillDay(date(2026, 11, 26), True, False)
    # the same seen on Saturday 28 Nov: Sat, Sun closed -> Monday 30 Nov
    assert _day(date(2026, 11, 25), date(2026, 11, 28)).day == date(2026, 11, 30)
    # ... and with Monday 30 Nov a closure -> Tuesday 1 Dec
    assert _day(date(2026, 11, 25), date(2026, 11, 28), closures=[date(2026, 11, 30)]) == RefillDay(
        date(2026, 12, 1), True, False
    )
    # refill-by Sunday 29 Nov seen on Saturday 28: no working day left before it -> Monday 30, overdue
    assert _day(date(2026, 11, 29), date(2026, 11, 28)) == RefillDay(date(2026, 11, 30), True, False)


@pytest.mark.rule("LRA-5")
def test_a_full_window_takes_the_latest_earlier_free_day_then_any_day_over_capacity():
    # refill-by Monday 14 Dec; the working days of the week before (Tue 8 .. Mon 14) are full:
    # Monday 7 Dec is the latest earlier free working day
    week = [date(2026, 12, d) for d in (8, 9, 10, 11, 14)]
    assert _day(date(2026, 12, 14), date(2026, 11, 26), full=week) == RefillDay(
        date(2026, 12, 7), False, False
    )
    # today Thursday 10 Dec, Thu 10, Fri 11 and Mon 14 full: nothing free from today to refill-by ->
    # the earliest working day from today, Thursday 10, over capacity
    full = [date(2026, 12, d) for d in (10, 11, 14)]
    assert _day(date(2026, 12, 14), date(2026, 12, 10), full=full) == RefillDay(
        date(2026, 12, 10), False, True
    )
    # overdue on a full day: still that day, over capacity
    assert _day(date(2026, 11, 25), date(2026, 11, 26), full=[date(2026, 11, 26)]) == RefillDay(
        date(2026, 11, 26), True, True
    )


@pytest.mark.rule("LRA-5")
def test_the_day_is_never_in_the_past_never_on_a_closed_day_and_never_missing():
    # every refill-by from 40 days before to 40 days after Thursday 26 Nov, with the Fridays and
    # Monday 30 Nov closed and one day in three full
    today = date(2026, 11, 26)
    closures = {date(2026, 11, 27), date(2026, 11, 30), date(2026, 12, 4), date(2026, 12, 11)}
    full = {today + timedelta(days=k) for k in range(0, 60, 3)}
    for offset in range(-40, 41):
        refill_by = today + timedelta(days=offset)
        got = _day(refill_by, today, closures=closures, full=full)
        assert got.day >= today and got.day.isoweekday() in WEEKDAYS and got.day not in closures
        assert got.overdue == (got.day > refill_by)
        if offset < 0:
            assert got.overdue


@pytest.mark.rule("LRA-5")
def test_a_clinic_without_working_days_is_refused_with_a_clear_message():
    with pytest.raises(CalculationError) as err:
        _day(date(2026, 11, 25), date(2026, 11, 26), weekdays=set())
    assert err.value.field == "clinic.working_days"


@pytest.mark.rule("LRA-5")
def test_booking_after_refill_by_is_refused_while_in_time_and_allowed_once_overdue():
    # refill-by Monday 14 Dec is ahead: Tuesday 15 refused, naming the last working day (Monday 14)
    with pytest.raises(CalculationError) as err:
        check_refill_day(
            date(2026, 12, 15), refill_by=date(2026, 12, 14), today=date(2026, 11, 26),
            working_weekdays=WEEKDAYS, closures=set(),
        )  # fmt: skip
    assert err.value.code == "after_refill_by" and "14 Dec 2026" in err.value.message
    # refill-by Wednesday 25 Nov has passed: any working day from today is accepted, flagged overdue
    for day in (date(2026, 11, 26), date(2026, 12, 2)):
        assert (
            check_refill_day(
                day,
                refill_by=date(2026, 11, 25),
                today=date(2026, 11, 26),
                working_weekdays=WEEKDAYS,
                closures=set(),
            )  # fmt: skip
            == "overdue"
        )
    # refill-by Sunday 29 Nov seen on Saturday 28: no working day left, Monday 30 accepted
    assert (
        check_refill_day(
            date(2026, 11, 30),
            refill_by=date(2026, 11, 29),
            today=date(2026, 11, 28),
            working_weekdays=WEEKDAYS,
            closures=set(),
        )  # fmt: skip
        == "overdue"
    )


@pytest.mark.rule("ALERT-1")
def test_days_overdue_count_from_the_day_after_refill_by():
    # refill-by 25 Nov, today 2 Dec: 30 - 25 = 5 days in November + 2 = 7 days
    assert refill_overdue_days(date(2026, 11, 25), date(2026, 12, 2)) == 7
    assert refill_overdue_days(date(2026, 12, 2), date(2026, 12, 2)) is None  # due today, not overdue
    assert refill_overdue_days(None, date(2026, 12, 2)) is None
    assert day_text(date(2026, 11, 5)) == "5 Nov 2026"


# --- LRA-5 for any clinic calendar and any clock (hypothesis) -----------------------------------

_DAY0 = date(2026, 1, 1)
_days = st.integers(0, 800).map(lambda n: _DAY0 + timedelta(days=n))


@pytest.mark.rule("LRA-5")
@settings(max_examples=300, deadline=None)
@given(
    refill_by=_days,
    today=_days,
    weekdays=st.sets(st.integers(1, 7), min_size=1),
    closures=st.sets(_days, max_size=60),
    full=st.sets(_days, max_size=120),
)
def test_any_refill_has_a_bookable_day_from_today(refill_by, today, weekdays, closures, full):
    """Whatever the refill-by date (far ahead, today, long passed), the clinic's working days,
    closures and full days: the day proposed is a working day from today, a nurse can book it,
    it is overdue exactly when it falls after refill-by, and it is the latest free working day
    on or before refill-by when there is one."""
    try:
        got = refill_day(refill_by, today=today, working_weekdays=weekdays, closures=closures, full_days=full)
    except CalculationError as refusal:
        # only a calendar with no working day at all for a year refuses, and it says so
        assert refusal.code == "no_working_day"
        assert all(
            (today + timedelta(days=k)).isoweekday() not in weekdays or today + timedelta(days=k) in closures
            for k in range(366)
        )
        return
    assert got.day >= today
    assert got.day.isoweekday() in weekdays and got.day not in closures
    assert got.overdue == (got.day > refill_by)
    assert got.over_capacity == (got.day in full)
    # bookable: the check a nurse's booking goes through accepts it
    assert check_refill_day(
        got.day, refill_by=refill_by, today=today, working_weekdays=weekdays, closures=closures
    ) == ("overdue" if got.overdue else None)
    free = [
        refill_by - timedelta(days=k)
        for k in range(max(0, (refill_by - today).days) + 1)
        if (refill_by - timedelta(days=k)).isoweekday() in weekdays
        and refill_by - timedelta(days=k) not in closures
        and refill_by - timedelta(days=k) not in full
    ]
    if free and refill_by >= today:
        assert got == RefillDay(max(free), overdue=False, over_capacity=False)


# --- every refusal word for word, and the edges of the walks (docs/mutation.md) --------------


def _refused(call, **kwargs):
    with pytest.raises(CalculationError) as err:
        call(**kwargs)
    return err.value.field, err.value.code, err.value.message


@pytest.mark.rule("ERI-1")
def test_eri_refusals_in_full():
    assert _refused(_plan, implanted_on=date(2021, 3, 15), service_life_months=None) == (
        "pump.eri_on",
        "eri_unknown",
        "is not recorded and the pump model's service life is not configured: enter the ERI "
        "date from a device interrogation, or an admin sets the model's service life",
    )
    # an ERI in year 9999 + 90 days of EOS is past the calendar's end
    assert _refused(_plan, implanted_on=date(2021, 3, 15), eri_on=date(9999, 12, 1)) == (
        "pump.eri_on",
        "eri_out_of_range",
        "is too far from today for the calendar to plan the replacement: correct the ERI date "
        "or the pump model's service life",
    )


@pytest.mark.rule("ERI-2")
def test_a_surgery_after_eos_is_refused_in_full():
    plan = _plan(date(2021, 3, 15), eri_on=date(2026, 3, 15))  # EOS = 15 Mar + 90 d = 13 Jun 2026
    assert _refused(check_replacement_date, surgery_on=date(2026, 6, 14), plan=plan) == (
        "surgery_on",
        "replacement_after_eos",
        "14 Jun 2026 is after the pump's end of service, 13 Jun 2026: the pump stops then; "
        "book the replacement before it",
    )
    assert check_replacement_date(date(2026, 6, 13), plan) == "after_eri"  # EOS day itself
    assert check_replacement_date(date(2026, 3, 15), plan) is None  # ERI day itself


@pytest.mark.rule("LRA-5")
def test_appointment_day_refusals_in_full():
    none_configured = ("clinic.working_days", "invalid", "no working day is configured for the clinic")
    assert _refused(appointment_day, refill_by=date(2026, 2, 8), working_weekdays=set(), closures=set()) == (
        none_configured
    )
    assert _refused(earliest_working_day, today=date(2026, 2, 8), working_weekdays=set(), closures=set()) == (
        none_configured
    )
    assert _refused(
        refill_day, refill_by=date(2026, 2, 8), today=date(2026, 2, 1), working_weekdays=set(), closures=set()
    ) == (none_configured)
    # Saturday 7 .. Sunday 8 Feb 2026: no weekday in between
    assert _refused(
        appointment_day,
        refill_by=date(2026, 2, 8),
        working_weekdays=WEEKDAYS,
        closures=set(),
        earliest=date(2026, 2, 7),
    ) == (
        "refill_by",
        "no_working_day",
        "no clinic working day with a free slot from 7 Feb 2026 to 8 Feb 2026",
    )
    # earliest after refill-by: the refill-by date has passed
    assert _refused(
        appointment_day,
        refill_by=date(2026, 2, 8),
        working_weekdays=WEEKDAYS,
        closures=set(),
        earliest=date(2026, 2, 9),
    ) == ("refill_by", "no_working_day", "the refill-by date 8 Feb 2026 has passed")
    # earliest == refill-by on a Sunday: a range of one day, not "has passed"
    assert (
        _refused(
            appointment_day,
            refill_by=date(2026, 2, 8),
            working_weekdays=WEEKDAYS,
            closures=set(),
            earliest=date(2026, 2, 8),
        )[2]
        == "no clinic working day with a free slot from 8 Feb 2026 to 8 Feb 2026"
    )


@pytest.mark.rule("LRA-5")
def test_appointment_day_looks_back_366_days_and_no_further():
    # only Mondays work and every Monday but one is closed: Monday 9 Feb 2026 is 366 days
    # before Tuesday 10 Feb 2027 (2026 has 365 days: 9 Feb 2026 + 365 = 9 Feb 2027, + 1 = 10 Feb).
    refill_by = date(2027, 2, 10)
    mondays = {date(2026, 2, 9) + timedelta(weeks=w) for w in range(1, 53)}
    assert appointment_day(refill_by, working_weekdays={1}, closures=mondays) == date(2026, 2, 9)
    # close that one too: the window 10 Feb 2026 .. 10 Feb 2027 has no Monday left
    with pytest.raises(CalculationError) as err:
        appointment_day(refill_by, working_weekdays={1}, closures=mondays | {date(2026, 2, 9)})
    assert err.value.message == "no clinic working day with a free slot from 9 Feb 2026 to 10 Feb 2027"


@pytest.mark.rule("LRA-5")
def test_earliest_working_day_searches_366_days_then_refuses_in_full():
    # Mondays only; the search covers days 0..365 from Monday 2 Feb 2026, whose Mondays are
    # days 0, 7, ..., 364 (364 = 52 weeks: Monday 1 Feb 2027). All closed: refused.
    today = date(2026, 2, 2)
    closed = {today + timedelta(weeks=w) for w in range(53)}  # days 0, 7, ..., 364
    assert _refused(earliest_working_day, today=today, working_weekdays={1}, closures=closed) == (
        "clinic.working_days",
        "no_working_day",
        "the clinic has no working day in the 366 days from 2 Feb 2026: check its working days and closures",
    )
    # open the Monday on day 364 (1 Feb 2027): found, the search reaches it
    assert earliest_working_day(today, working_weekdays={1}, closures=closed - {date(2027, 2, 1)}) == date(
        2027, 2, 1
    )


@pytest.mark.rule("LRA-5")
def test_a_refill_due_today_on_a_working_day_is_not_overdue():
    # Thursday 26 Nov 2026 is a working day: refill-by today leaves today
    assert not refill_overdue(
        date(2026, 11, 26), today=date(2026, 11, 26), working_weekdays=WEEKDAYS, closures=set()
    )
    # Thursday 26 closed, Friday 27 open: the walk reaches Friday, the refill-by day
    assert not refill_overdue(
        date(2026, 11, 27), today=date(2026, 11, 26), working_weekdays=WEEKDAYS, closures={date(2026, 11, 26)}
    )
    # Friday 27 closed too: nothing is left
    assert refill_overdue(
        date(2026, 11, 27),
        today=date(2026, 11, 26),
        working_weekdays=WEEKDAYS,
        closures={date(2026, 11, 26), date(2026, 11, 27)},
    )


@pytest.mark.rule("LRA-5")
def test_a_booking_after_refill_by_is_refused_in_full():
    assert _refused(
        check_refill_day,
        day=date(2026, 12, 15),
        refill_by=date(2026, 12, 14),
        today=date(2026, 11, 26),
        working_weekdays=WEEKDAYS,
        closures=set(),
    ) == (
        "day",
        "after_refill_by",
        "15 Dec 2026 is after the refill-by date 14 Dec 2026: book on or before it "
        "(the last working day is 14 Dec 2026)",
    )
