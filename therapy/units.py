"""Exact quantities and rounding at the edge.

The core computes with exact rationals — GMP's ``mpq`` through gmpy2 (``Q``), which
behaves like ``fractions.Fraction`` and mixes with it, about ten times faster — so a crossing
time through flex steps and boluses is exact; numbers are rounded once, when they leave
the core, to the precision DOMAIN.md gives: reservoir volumes 0.01 mL, pathway and bridge
volumes 0.001 mL, doses 0.1 mcg, durations 0.01 h, instants to the second.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from fractions import Fraction

from .errors import CalculationError

try:  # GMP's rationals: exact like Fraction, about ten times faster
    from gmpy2 import mpq as Q
except ImportError:  # pragma: no cover - gmpy2 is in requirements.txt
    Q = Fraction

SECONDS_PER_DAY = 86_400
SECONDS_PER_HOUR = 3_600

VOLUME_ML = Decimal("0.01")
PATH_VOLUME_ML = Decimal("0.001")
DOSE_MCG = Decimal("0.1")
HOURS = Decimal("0.01")
RATE_ML_PER_DAY = Decimal("0.001")
LATEST_SECONDS = 253_402_214_400  # 9999-12-31T00:00:00Z

# Technical bounds on what a number or a date from outside may be (not clinical limits:
# DOMAIN.md gives none of these). They keep exact arithmetic small and every date the
# calculations derive (ERI + months, alarm dates) inside what the calendar can hold.
MAX_INTEGER_DIGITS = 12
MAX_FRACTION_DIGITS = 7
EARLIEST_YEAR = 1900
LATEST_YEAR = 2200


def exact(value, field: str, *, allow_none: bool = False) -> Fraction | None:
    """A number from JSON, a form or the database as an exact rational (``Q``).

    Accepts int, Decimal, str and float (a float goes through its shortest repr, so 0.1
    is 1/10, not the binary approximation). Refuses bool, NaN and infinity.
    """
    if value is None or value == "":
        if allow_none:
            return None
        raise CalculationError(field, "is required: a number")
    if isinstance(value, bool):
        raise CalculationError(field, "must be a number, not true/false")
    if isinstance(value, Fraction | Q):
        return Q(value)
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise CalculationError(field, f"must be a number (got {_shown(value)})") from None
    if not d.is_finite():
        raise CalculationError(field, f"must be a finite number (got {_shown(value)})")
    _check_digits(d, field, value)
    return Q(d)


def _check_digits(d: Decimal, field: str, value) -> None:
    """At most ``MAX_INTEGER_DIGITS`` before the decimal point and ``MAX_FRACTION_DIGITS``
    after it: 1e30 or a 5,000-digit number is no dose anyone meant."""
    if d == 0:
        return
    _, digits, exponent = d.as_tuple()
    significant = len(digits)
    while significant > 1 and digits[significant - 1] == 0 and exponent < 0:  # 2.50 is 2.5
        significant -= 1
        exponent += 1
    integer_digits = max(significant + exponent, 0)
    fraction_digits = max(-exponent, 0)
    if integer_digits > MAX_INTEGER_DIGITS or fraction_digits > MAX_FRACTION_DIGITS:
        raise CalculationError(
            field,
            f"must be a number with at most {MAX_INTEGER_DIGITS} digits before the decimal point "
            f"and {MAX_FRACTION_DIGITS} after it (got {_shown(value)})",
        )


def _shown(value) -> str:
    """A value as echoed in a message, cut short: a refusal does not repeat 5,000 digits."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"


def check_year(day: date, field: str) -> None:
    """Refuse a date (or instant) outside ``EARLIEST_YEAR``..``LATEST_YEAR``: a technical
    bound, so that year 1 or 9999 cannot overflow the date arithmetic of the projection."""
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise CalculationError(
            field,
            f"must be a date in the years {EARLIEST_YEAR} to {LATEST_YEAR} (got the year {day.year})",
            code="date_out_of_range",
        )


def rounded(value: Fraction | None, quantum: Decimal) -> Decimal | None:
    """Round half up to ``quantum`` (for example ``VOLUME_ML``); None stays None."""
    if value is None:
        return None
    numerator, denominator = int(value.numerator), int(value.denominator)
    # Enough precision for every digit before the point and the quantum's after it: the
    # default context (28 digits) raises InvalidOperation on a larger number.
    with localcontext() as context:
        context.prec = max(28, len(str(abs(numerator) // denominator)) - quantum.as_tuple().exponent + 2)
        d = Decimal(numerator) / Decimal(denominator)
        return d.quantize(quantum, rounding=ROUND_HALF_UP)


def epoch_seconds(at: datetime) -> Fraction:
    """Exact seconds since 1970-01-01T00:00Z of an aware datetime."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: the core works with aware instants only")
    at = at.astimezone(UTC)
    whole = calendar.timegm(at.utctimetuple())
    return Q(whole) + Q(at.microsecond, 1_000_000)


def representable(seconds: Fraction | None) -> Fraction | None:
    """None for an instant past what ``datetime`` can hold (year 9999): a pump delivering so
    little that its reservoir lasts millennia has, for every purpose, no such instant."""
    return seconds if seconds is not None and seconds < LATEST_SECONDS else None


def instant(seconds: Fraction) -> datetime:
    """An instant rounded (half up) to the second, in UTC."""
    whole = int((seconds + Q(1, 2)) // 1)
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=whole)


def local_date(at: datetime, tz) -> date:
    return at.astimezone(tz).date()


def add_months(d: date, months: int) -> date:
    """Calendar months, the day clamped to the end of a shorter month (31 Jan + 1 = 28/29 Feb)."""
    month_index = d.month - 1 + months
    year, month = d.year + month_index // 12, month_index % 12 + 1
    day = min(d.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def day_text(day: date) -> str:
    """A date as people read it: ``25 Nov 2026`` (never ISO in a message)."""
    return f"{day.day} {day:%b %Y}"


def instant_text(at: datetime, tz) -> str:
    """An instant as people read it, in the clinic's zone: ``Wed 25 Nov 2026 14:35 CET``."""
    local = at.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"
