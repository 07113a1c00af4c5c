"""Local times typed by people, read as instants (REFILL-2).

A nurse types the clinic's wall-clock time. Around a daylight-saving change that time may
not exist (the clocks skipped it) or may occur twice (the clocks went back over it).
Python reads both silently (``datetime.replace(tzinfo=...)`` picks ``fold=0``), which can
put a refill an hour off. ``local_instant`` refuses instead, and for a time that occurs
twice names both instants so the person can say which one they meant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from .errors import CalculationError
from .units import check_year

MINUS = "\u2212"  # the typographic minus sign, as clocks and timetables print it


def local_instant(
    naive: datetime,
    tz: tzinfo,
    utc_offset_minutes: int | None = None,
    *,
    field: str = "at",
) -> datetime:
    """REFILL-2: the instant (aware, in ``tz``) a person meant by the local date-time
    ``naive`` in the clinic's zone ``tz``.

    Refused (``CalculationError`` on ``field``):

    - ``nonexistent_local_time``: the time was skipped by a daylight-saving change;
    - ``ambiguous_local_time``: the time occurs twice and ``utc_offset_minutes`` does not
      say which; the message names both instants, details carry their offsets
      (``offsets_minutes``, earlier first);
    - ``utc_offset_mismatch``: ``utc_offset_minutes`` is given but is not the zone's offset
      at that local time (so it cannot silently move the instant).
    """
    if naive.tzinfo is not None:
        raise ValueError("local_instant reads a naive local date-time")
    # Year 1 in a zone east of UTC is before the first instant datetime can hold.
    check_year(naive, field)
    candidates: list[datetime] = []
    for fold in (0, 1):
        aware = naive.replace(tzinfo=tz, fold=fold)
        # A local time that exists survives the round trip through UTC unchanged.
        if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None, fold=0) != naive.replace(fold=0):
            continue
        if all(aware.utcoffset() != c.utcoffset() for c in candidates):
            candidates.append(aware)
    if not candidates:
        before = naive.replace(tzinfo=tz, fold=0)
        after = naive.replace(tzinfo=tz, fold=1)
        jump = after.utcoffset() - before.utcoffset()
        raise CalculationError(
            field,
            f"{_clock(naive)} on {_day(naive)} does not exist in the clinic's time zone ({_zone(tz)}): "
            f"the clocks went forward {_duration(jump)} from {_name(before)} to {_name(after)}. "
            "Enter the time the clock showed",
            code="nonexistent_local_time",
        )
    offsets = [_minutes(c) for c in candidates]
    if utc_offset_minutes is not None:
        for candidate, offset in zip(candidates, offsets, strict=True):
            if offset == utc_offset_minutes:
                return candidate
        shown = " or ".join(_offset(o) for o in offsets)
        raise CalculationError(
            field,
            f"{_clock(naive)} on {_day(naive)} is at {shown} in the clinic's time zone ({_zone(tz)}), "
            f"not {_offset(utc_offset_minutes)}",
            code="utc_offset_mismatch",
            offsets_minutes=offsets,
        )
    if len(candidates) == 1:
        return candidates[0]
    both = " or ".join(offset_label(naive, tz, offset) for offset in offsets)
    raise CalculationError(
        field,
        f"{_clock(naive)} on {_day(naive)} happens twice in the clinic's time zone ({_zone(tz)}), "
        f"because the clocks went back: {both}. Say which one by giving its UTC offset",
        code="ambiguous_local_time",
        offsets_minutes=offsets,
    )


def offset_label(naive: datetime, tz: tzinfo, utc_offset_minutes: int) -> str:
    """How a person reads one of the instants of a local time: 1:30 AM EST (UTC−5)."""
    for fold in (0, 1):
        aware = naive.replace(tzinfo=tz, fold=fold)
        if _minutes(aware) == utc_offset_minutes:
            return f"{_clock(naive)} {_name(aware)} ({_offset(utc_offset_minutes)})"
    return f"{_clock(naive)} ({_offset(utc_offset_minutes)})"


def _minutes(aware: datetime) -> int:
    return int(aware.utcoffset().total_seconds() // 60)


def _offset(minutes: int) -> str:
    """UTC−4, UTC+5:30, UTC+0."""
    sign = MINUS if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def _clock(at: datetime) -> str:
    """1:30 AM (a nurse's clock, not an ISO string)."""
    hour = at.hour % 12 or 12
    return f"{hour}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"


def _day(at: datetime) -> str:
    return f"{at:%a} {at.day} {at:%b %Y}"


def _name(aware: datetime) -> str:
    """The zone's abbreviation (EDT), or the offset when the zone has only numbers."""
    name = aware.tzname() or ""
    return name if name and name[0] not in "+-" else _offset(_minutes(aware))


def _zone(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or str(tz)


def _duration(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    hours, rest = divmod(minutes, 60)
    if rest == 0:
        return "one hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"
