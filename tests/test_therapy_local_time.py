"""REFILL-2: a local date-time typed by a person, read in the clinic's zone.

America/New_York in 2026: the clocks go forward on Sun 8 Mar at 2:00 AM EST (UTC−5) to
3:00 AM EDT (UTC−4), so 2:30 AM does not exist; they go back on Sun 1 Nov at 2:00 AM EDT
to 1:00 AM EST, so 1:30 AM happens twice: 1:30 EDT = 05:30Z, then 1:30 EST = 06:30Z.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from therapy import CalculationError, local_instant
from therapy.clock import _clock, _duration, _name, _offset, _zone, offset_label

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.rule("REFILL-2")
def test_a_time_skipped_by_the_spring_change_is_refused():
    with pytest.raises(CalculationError) as refused:
        local_instant(datetime(2026, 3, 8, 2, 30), NEW_YORK, field="performed_at")
    error = refused.value
    assert error.field == "performed_at" and error.code == "nonexistent_local_time"
    assert "2:30 AM on Sun 8 Mar 2026 does not exist" in error.message
    assert "forward one hour from EST to EDT" in error.message
    # No offset makes a time that never showed on the clock valid.
    for offset in (-300, -240):
        with pytest.raises(CalculationError):
            local_instant(datetime(2026, 3, 8, 2, 30), NEW_YORK, offset)


@pytest.mark.rule("REFILL-2")
def test_a_time_that_happens_twice_is_refused_naming_both_instants():
    with pytest.raises(CalculationError) as refused:
        local_instant(datetime(2026, 11, 1, 1, 30), NEW_YORK, field="performed_at")
    error = refused.value
    assert error.code == "ambiguous_local_time"
    assert "1:30 AM EDT (UTC−4) or 1:30 AM EST (UTC−5)" in error.message
    assert error.details["offsets_minutes"] == [-240, -300]  # the earlier instant first
    assert "T" not in error.message.split("(")[0] and "performed_at" not in error.message


@pytest.mark.rule("REFILL-2")
def test_the_utc_offset_says_which_of_the_two_instants():
    # 1:30 EDT is 1:30 + 4 h = 05:30Z; 1:30 EST is 1:30 + 5 h = 06:30Z, an hour later.
    first = local_instant(datetime(2026, 11, 1, 1, 30), NEW_YORK, -240)
    second = local_instant(datetime(2026, 11, 1, 1, 30), NEW_YORK, -300)
    assert first.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert second.astimezone(UTC) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


@pytest.mark.rule("REFILL-2")
def test_an_offset_the_zone_does_not_have_then_is_refused():
    with pytest.raises(CalculationError) as refused:
        local_instant(datetime(2026, 11, 1, 1, 30), NEW_YORK, 60)
    assert refused.value.code == "utc_offset_mismatch"
    # 26 Nov is in EST (UTC−5): an EDT offset would silently move the refill by an hour.
    with pytest.raises(CalculationError) as refused:
        local_instant(datetime(2026, 11, 26, 10, 0), NEW_YORK, -240)
    assert "UTC−5" in refused.value.message and "not UTC−4" in refused.value.message


@pytest.mark.rule("REFILL-2")
def test_an_ordinary_time_is_read_in_the_clinics_zone():
    # 10:00 EST on 26 Nov = 10:00 + 5 h = 15:00Z; 10:00 EDT on 1 Jul = 14:00Z.
    assert local_instant(datetime(2026, 11, 26, 10, 0), NEW_YORK).astimezone(UTC) == datetime(
        2026, 11, 26, 15, 0, tzinfo=UTC
    )
    assert local_instant(datetime(2026, 7, 1, 10, 0), NEW_YORK, -240).astimezone(UTC) == datetime(
        2026, 7, 1, 14, 0, tzinfo=UTC
    )
    # Just outside both changes: 1:59 AM and 3:00 AM on 8 Mar, 0:59 AM and 2:00 AM on 1 Nov.
    for naive in (
        datetime(2026, 3, 8, 1, 59),
        datetime(2026, 3, 8, 3, 0),
        datetime(2026, 11, 1, 0, 59),
        datetime(2026, 11, 1, 2, 0),
    ):
        assert local_instant(naive, NEW_YORK).replace(tzinfo=None) == naive


@pytest.mark.rule("REFILL-2")
def test_half_hour_changes_are_named_in_minutes():
    # Lord Howe Island moves its clocks by 30 minutes: 2:00 → 2:30 AM on Sun 4 Oct 2026.
    with pytest.raises(CalculationError) as refused:
        local_instant(datetime(2026, 10, 4, 2, 15), ZoneInfo("Australia/Lord_Howe"))
    assert "forward 30 minutes from UTC+10:30 to UTC+11" in refused.value.message


# --- the whole refusal, word for word (docs/mutation.md: every word of it is tested) ---------


@pytest.mark.rule("REFILL-2")
def test_the_spring_refusal_in_full_on_the_default_field():
    with pytest.raises(CalculationError) as refused:
        local_instant(datetime(2026, 3, 8, 2, 30), NEW_YORK)
    assert refused.value.field == "at"
    assert refused.value.message == (
        "2:30 AM on Sun 8 Mar 2026 does not exist in the clinic's time zone (America/New_York): "
        "the clocks went forward one hour from EST to EDT. Enter the time the clock showed"
    )


@pytest.mark.rule("REFILL-2")
def test_a_skipped_time_given_with_fold_1_still_names_the_jump():
    # fold=1 on the input must not change the wording: EST (UTC−5) -> EDT (UTC−4) is one hour.
    with pytest.raises(CalculationError) as refused:
        local_instant(datetime(2026, 3, 8, 2, 30, fold=1), NEW_YORK)
    assert "the clocks went forward one hour from EST to EDT" in refused.value.message


@pytest.mark.rule("REFILL-2")
def test_the_autumn_refusal_in_full():
    with pytest.raises(CalculationError) as refused:
        local_instant(datetime(2026, 11, 1, 1, 30), NEW_YORK, field="performed_at")
    error = refused.value
    assert (error.field, error.code, error.details) == (
        "performed_at",
        "ambiguous_local_time",
        {"offsets_minutes": [-240, -300]},  # EDT first (05:30Z), then EST (06:30Z)
    )
    assert error.message == (
        "1:30 AM on Sun 1 Nov 2026 happens twice in the clinic's time zone (America/New_York), "
        "because the clocks went back: 1:30 AM EDT (UTC−4) or 1:30 AM EST (UTC−5). "
        "Say which one by giving its UTC offset"
    )


@pytest.mark.rule("REFILL-2")
def test_a_wrong_offset_is_refused_in_full():
    # 1 Jul 2026 is a Wednesday (1 Jan was a Thursday; 181 days later = 25 weeks + 6 days);
    # New York is on EDT (UTC−4) then, so UTC−5 is not its offset.
    with pytest.raises(CalculationError) as refused:
        local_instant(datetime(2026, 7, 1, 22, 5), NEW_YORK, -300, field="performed_at")
    error = refused.value
    assert (error.field, error.code, error.details) == (
        "performed_at",
        "utc_offset_mismatch",
        {"offsets_minutes": [-240]},
    )
    assert error.message == (
        "10:05 PM on Wed 1 Jul 2026 is at UTC−4 in the clinic's time zone (America/New_York), not UTC−5"
    )
    # either of the autumn instants, refused the same way, names both offsets
    with pytest.raises(CalculationError) as twice:
        local_instant(datetime(2026, 11, 1, 1, 30), NEW_YORK, 60)
    assert "is at UTC−4 or UTC−5 in the clinic's time zone" in twice.value.message


@pytest.mark.rule("REFILL-2")
def test_an_aware_or_out_of_range_date_time_is_refused():
    with pytest.raises(ValueError, match="^local_instant reads a naive local date-time$"):
        local_instant(datetime(2026, 7, 1, 12, 0, tzinfo=UTC), NEW_YORK)
    with pytest.raises(CalculationError) as refused:
        local_instant(datetime(1899, 12, 31, 12, 0), NEW_YORK)
    assert (refused.value.field, refused.value.code) == ("at", "date_out_of_range")
    assert refused.value.message == "must be a date in the years 1900 to 2200 (got the year 1899)"
    # the bounds themselves are allowed: 1900 and 2200
    assert local_instant(datetime(1900, 1, 1, 12, 0), UTC) == datetime(1900, 1, 1, 12, 0, tzinfo=UTC)
    assert local_instant(datetime(2200, 12, 31, 12, 0), UTC) == datetime(2200, 12, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hour", "minute", "text"),
    [(0, 15, "12:15 AM"), (11, 59, "11:59 AM"), (12, 0, "12:00 PM"), (13, 5, "1:05 PM"), (23, 0, "11:00 PM")],
)
def test_a_nurses_clock(hour, minute, text):
    # hour % 12, with 0 read as 12; AM before noon
    assert _clock(datetime(2026, 7, 1, hour, minute)) == text


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(-240, "UTC−4"), (0, "UTC+0"), (1, "UTC+0:01"), (330, "UTC+5:30"), (-570, "UTC−9:30")],
)
def test_an_offset_as_people_write_it(minutes, text):
    assert _offset(minutes) == text


def test_zone_and_abbreviation_names():
    assert _zone(NEW_YORK) == "America/New_York"
    # a fixed offset has no IANA key: its own name
    assert _zone(timezone(timedelta(hours=2))) == "UTC+02:00"
    assert _zone(UTC) == "UTC"
    # São Paulo's abbreviation is only a number ("-03"): shown as the offset
    assert _name(datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))) == "UTC−3"

    class Nameless(tzinfo):
        def utcoffset(self, dt):
            return timedelta(hours=1)

        def tzname(self, dt):
            return None

    assert _name(datetime(2026, 7, 1, 12, 0, tzinfo=Nameless())) == "UTC+1"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(hours=1), "one hour"),
        (timedelta(hours=-1), "one hour"),
        (timedelta(hours=2), "2 hours"),  # Antarctica/Troll's spring jump
        (timedelta(minutes=30), "30 minutes"),  # Lord Howe Island
        (timedelta(minutes=90), "90 minutes"),
    ],
)
def test_a_clock_jump_in_words(delta, text):
    assert _duration(delta) == text


def test_an_offset_the_zone_never_has_at_that_time_is_shown_as_the_bare_offset():
    # 1:30 AM on 1 Nov 2026 in New York is at UTC−4 or UTC−5, never UTC+2: no abbreviation
    assert offset_label(datetime(2026, 11, 1, 1, 30), NEW_YORK, 120) == "1:30 AM (UTC+2)"
    assert offset_label(datetime(2026, 11, 1, 1, 30), NEW_YORK, -300) == "1:30 AM EST (UTC−5)"


@pytest.mark.rule("REFILL-2")
def test_an_offset_with_seconds_is_named_by_its_minutes_rounded_down():
    # Monrovia kept UTC−0:44:30 until 1972: −2670 s = −44.5 min, rounded down to −45 as the
    # whole minute at or before it (the offset an API client gives is whole minutes).
    monrovia = ZoneInfo("Africa/Monrovia")
    at = local_instant(datetime(1950, 6, 1, 12, 0), monrovia, -45)
    assert at.astimezone(UTC) == datetime(1950, 6, 1, 12, 44, 30, tzinfo=UTC)
    with pytest.raises(CalculationError) as refused:
        local_instant(datetime(1950, 6, 1, 12, 0), monrovia, -44)
    assert refused.value.details == {"offsets_minutes": [-45]}
