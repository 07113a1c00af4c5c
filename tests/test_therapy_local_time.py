"""REFILL-2: a local date-time typed by a person, read in the clinic's zone.

America/New_York in 2026: the clocks go forward on Sun 8 Mar at 2:00 AM EST (UTC−5) to
3:00 AM EDT (UTC−4), so 2:30 AM does not exist; they go back on Sun 1 Nov at 2:00 AM EDT
to 1:00 AM EST, so 1:30 AM happens twice: 1:30 EDT = 05:30Z, then 1:30 EST = 06:30Z.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from therapy import CalculationError, local_instant

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
