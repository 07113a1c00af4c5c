"""The reservoir projection (LRA-1..LRA-4, DOSE-3's clock warning).

Time on a pump is physical time: the projection works in exact seconds since the epoch
(UTC) and reads flex steps and bolus times on the pump's own clock, which is the clinic's
UTC offset at the moment of programming and does not follow daylight-saving changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from .dosing import Prescription
from .errors import CalculationError
from .titration import is_zero_daily_dose
from .units import (
    RATE_ML_PER_DAY,
    SECONDS_PER_DAY,
    VOLUME_ML,
    Q,
    day_text,
    epoch_seconds,
    instant,
    instant_text,
    local_date,
    representable,
    rounded,
)


@dataclass(frozen=True)
class TherapyPeriod:
    """A prescription in effect from ``starts_at`` until the next period starts."""

    starts_at: datetime
    prescription: Prescription
    clock_offset_seconds: int  # DOSE-3: the pump clock's UTC offset, fixed at programming


@dataclass(frozen=True)
class BridgeDrain:
    """BRIDGE-1: after a concentration change the pump first pushes out ``volume_ml``
    over ``duration_seconds`` instead of following the prescription."""

    volume_ml: Fraction
    duration_seconds: Fraction


@dataclass(frozen=True)
class Reservoir:
    """What the projection needs: the last refill and the therapy since then."""

    filled_at: datetime
    volume_ml: Fraction
    concentration_mcg_per_ml: Fraction
    periods: tuple[TherapyPeriod, ...]
    bridge: BridgeDrain | None = None
    priming_ml: Fraction = Fraction(0)  # IMPLANT-1: a new catheter primed at the implant fill
    emptied_at: datetime | None = None  # MRI-1: the reservoir emptied (a Prometra II before a scan)

    def __post_init__(self):
        if not self.periods:
            raise CalculationError("prescription", "a projection needs the prescription in effect")
        if self.concentration_mcg_per_ml <= 0:
            raise CalculationError("concentration_mcg_per_ml", "must be greater than 0 mcg/mL")
        if not 0 <= self.priming_ml < self.volume_ml:
            raise CalculationError(
                "priming_volume_ml", "must be 0 mL or more and less than the volume filled"
            )
        if self.emptied_at is not None and self.emptied_at <= self.filled_at:
            raise CalculationError(
                "emptied_at", "must be after the fill: a reservoir is emptied after it is filled"
            )


@dataclass(frozen=True)
class Notice:
    code: str
    message: str


@dataclass(frozen=True)
class Projection:
    as_of: datetime
    reservoir_volume_ml: Decimal
    daily_volume_ml: Decimal
    low_reservoir_alarm_at: datetime | None
    low_reservoir_alarm_at_worst_case: datetime | None
    empty_at: datetime | None
    empty_at_worst_case: datetime | None
    refill_by: date
    refill_by_reason: str
    warnings: tuple[Notice, ...]


# --- the timeline: spans of a repeating pump-clock day ---------------------------------
#
# A span is the bridge drain, or one prescription's period: a pump-clock day cut into
# pieces of constant volumetric rate, repeating from a pump-clock midnight (``origin``).
# Whole days are skipped arithmetically, so a span costs the same however many days it
# lasts: the work is proportional to the number of prescriptions and pieces, not to time.


@dataclass(frozen=True)
class _Span:
    start: Fraction
    end: Fraction | None  # None: the last span runs for ever
    origin: Fraction
    pieces: tuple[tuple[Fraction, Fraction, Fraction], ...]  # (from, to) seconds after origin, mL/s
    repeats: bool  # daily (a prescription) or once (the bridge)
    volume: Fraction  # per day (repeating) or in all (once)

    def drained(self, at: Fraction) -> Fraction:
        """Volume delivered from ``origin`` to ``at``."""
        elapsed = at - self.origin
        total = Q(0)
        if self.repeats:
            days = elapsed // SECONDS_PER_DAY
            total, elapsed = days * self.volume, elapsed - days * SECONDS_PER_DAY
        for begin, finish, rate in self.pieces:
            if elapsed <= begin:
                break
            total += rate * (min(finish, elapsed) - begin)
        return total

    def reaches(self, amount: Fraction) -> Fraction | None:
        """First instant at which ``drained`` reaches ``amount`` (> 0); None if never."""
        if self.volume == 0:
            return None
        base = self.origin
        if self.repeats:
            days = max(0, math.ceil(amount / self.volume) - 1)
            amount -= days * self.volume
            base += days * SECONDS_PER_DAY
        elif amount > self.volume:
            return None
        for begin, finish, rate in self.pieces:
            drop = rate * (finish - begin)
            if rate > 0 and amount <= drop:
                return base + begin + amount / rate
            amount -= drop
        raise AssertionError("unreachable: a day's volume covers the amount")


@dataclass(frozen=True)
class _Timeline:
    start: Fraction
    volume: Fraction  # after the priming, if any
    spans: tuple[_Span, ...]
    emptied: Fraction | None = None  # MRI-1: the instant the reservoir was emptied
    resumed: Fraction | None = None  # the first instant after it at which a prescription delivers


@lru_cache(maxsize=4096)
def _day(prescription: Prescription, concentration: Fraction, factor: Fraction):
    """A prescription's pump-clock day in mL/s, and its daily volume (cached: a registry
    shares few distinct prescriptions)."""
    pieces = tuple((Q(s), Q(e), r * factor / concentration) for s, e, r in prescription.profile())
    return pieces, sum((rate * (e - s) for s, e, rate in pieces), Q(0))


def _timeline(res: Reservoir, factor: Fraction) -> _Timeline:
    t = start = epoch_seconds(res.filled_at)
    spans: list[_Span] = []
    if res.bridge is not None and res.bridge.duration_seconds > 0:
        # LRA-3: the bridge is a rate like any other. In the worst case it runs for its
        # whole programmed duration at (1 + tolerance) × V / T: an over-infusing pump
        # delivers more in the programmed time, it does not end the bridge early.
        duration = res.bridge.duration_seconds
        drained = res.bridge.volume_ml * factor
        piece = ((Q(0), duration, drained / duration),)
        spans.append(_Span(t, t + duration, t, piece, False, drained))
        t += duration
    periods = sorted(res.periods, key=lambda p: p.starts_at)
    bounds = [epoch_seconds(p.starts_at) for p in periods] + [None]
    for period, begins, ends in zip(periods, bounds, bounds[1:], strict=False):
        if ends is not None and ends <= t:
            continue
        a = max(begins, t)
        pieces, daily = _day(period.prescription, res.concentration_mcg_per_ml, factor)
        origin = a - (a + period.clock_offset_seconds) % SECONDS_PER_DAY  # pump-clock midnight
        spans.append(_Span(a, ends, origin, pieces, True, daily))
        t = ends
    # IMPLANT-1: the priming of a new catheter leaves the reservoir first, before the bridge
    # or the prescribed rate. It is pumped like any other volume, so in the worst case
    # (LRA-3) the reservoir loses (1 + tolerance) × the priming volume.
    volume = res.volume_ml - res.priming_ml * factor
    if res.emptied_at is None:
        return _Timeline(start, volume, tuple(spans))
    emptied = epoch_seconds(res.emptied_at)
    return _Timeline(start, volume, tuple(spans), emptied, _resumed(spans, emptied))


def _resumed(spans: list[_Span], emptied: Fraction) -> Fraction | None:
    """MRI-1: the first instant after the emptying at which a prescription delivers: an empty
    reservoir reaches every level there (the start of the first span with a daily volume)."""
    for span in spans:
        if span.volume > 0 and (span.end is None or span.end > emptied):
            return max(span.start, emptied)
    return None


def _held(tl: _Timeline, at: Fraction) -> Fraction:
    """LRA-1: what the reservoir holds at ``at``: 0 from the instant it was emptied (MRI-1)."""
    if tl.emptied is not None and at >= tl.emptied:
        return Q(0)
    return _volume_at(tl, at)


def _volume_at(tl: _Timeline, at: Fraction) -> Fraction:
    """LRA-1: volume at ``at`` as programmed (may go below 0; callers clip)."""
    v = tl.volume
    for span in tl.spans:
        if at <= span.start:
            break
        v -= span.drained(at if span.end is None else min(at, span.end)) - span.drained(span.start)
        if span.end is None or at < span.end:
            break
    return v


def _crossing(tl: _Timeline, level: Fraction) -> Fraction | None:
    """LRA-2: the first instant the volume reaches ``level``; None if it never does. After
    an emptying (MRI-1) the reservoir holds nothing: a level not reached before it is
    reached when a prescription next delivers, never while the pump delivers nothing."""
    crossing = _programmed_crossing(tl, level)
    if tl.emptied is None or (crossing is not None and crossing <= tl.emptied):
        return crossing
    return tl.resumed


def _programmed_crossing(tl: _Timeline, level: Fraction) -> Fraction | None:
    v = tl.volume
    if v <= level:
        return tl.start
    for span in tl.spans:
        before = span.drained(span.start)
        at = span.reaches(before + v - level)
        if at is not None and (span.end is None or at <= span.end):
            return at
        if span.end is None:
            return None
        v -= span.drained(span.end) - before
    return None


# --- public functions -----------------------------------------------------------------


def worst_case_factor(tolerance_pct: Fraction | None) -> Fraction:
    """LRA-3: every rate multiplied by (1 + tolerance); 1 when it is not configured."""
    return Q(1) if tolerance_pct is None else 1 + Q(tolerance_pct) / 100


def volume_at(res: Reservoir, at: datetime, *, tolerance_pct: Fraction | None = None) -> Fraction:
    """LRA-1: projected reservoir volume (mL, never below 0) at ``at``.

    With ``tolerance_pct`` the worst case (LRA-3). REFILL-1 uses the nominal value as the
    expected residual.
    """
    tl = _timeline(res, worst_case_factor(tolerance_pct))
    return max(Q(0), _held(tl, epoch_seconds(at)))


def programmed_volume_ml(res: Reservoir, at: datetime) -> Fraction:
    """DRIFT-1: the volume (mL) the prescriptions programmed from the fill to ``at``: the
    nominal LRA-1 drain (the bridge of a concentration change included, every prescription
    change followed step by step, and the priming of a new catheter at an implant fill,
    IMPLANT-1), not clipped at an empty reservoir — what the pump was told to deliver,
    whether or not the reservoir held it."""
    tl = _timeline(res, Q(1))
    return res.volume_ml - _volume_at(tl, epoch_seconds(at))


def time_at_volume(
    res: Reservoir, level_ml: Fraction, *, tolerance_pct: Fraction | None = None
) -> datetime | None:
    """LRA-2: first instant (to the second) the volume reaches ``level_ml``; None when the
    pump delivers nothing."""
    crossing = representable(_crossing(_timeline(res, worst_case_factor(tolerance_pct)), Q(level_ml)))
    return None if crossing is None else instant(crossing)


def refill_by(
    *,
    worst_case_alarm_at: datetime | None,
    filled_at: datetime,
    tz,
    safety_margin_days: int,
    max_reservoir_days: int,
    emptied_at: datetime | None = None,
) -> tuple[date, str]:
    """LRA-4: the earliest of (a) local date of the worst-case alarm − safety margin,
    (b) fill date + the drug's maximum time in the reservoir. Ties report ``alarm``.
    MRI-1: a reservoir emptied before a scan is refilled after it the same day, so its
    refill-by is at the latest the local date of the emptying (``emptied``): nothing is left
    to project, and no margin is taken off a date that is not a projection."""
    if max_reservoir_days is None:
        raise CalculationError(
            "drug.max_reservoir_days", "is not configured: set the drug's maximum time in the reservoir"
        )
    if safety_margin_days is None or safety_margin_days < 0:
        raise CalculationError("clinic.safety_margin_days", "must be configured as 0 or more days")
    candidates = [(local_date(filled_at, tz) + timedelta(days=max_reservoir_days), "drug_stability")]
    if worst_case_alarm_at is not None:
        alarm_day = local_date(worst_case_alarm_at, tz) - timedelta(days=safety_margin_days)
        candidates.insert(0, (alarm_day, "alarm"))
    if emptied_at is not None:
        candidates.append((local_date(emptied_at, tz), "emptied"))
    return min(candidates, key=lambda c: c[0])


def clock_warnings(period: TherapyPeriod, tz, start: datetime, end: datetime) -> list[Notice]:
    """DOSE-3: the pump clock keeps the UTC offset it was programmed with. When the clinic's
    offset differs now, or changes before ``end`` (the next refill), a schedule that
    depends on the clock runs off the wall clock."""
    if not period.prescription.is_time_dependent:
        return []

    def offset(at: datetime) -> int:
        return int(at.astimezone(tz).utcoffset().total_seconds())

    pump = period.clock_offset_seconds
    if offset(start) != pump:
        shift = _minutes(offset(start) - pump)
        return [
            Notice(
                "clock_off_wall_clock",
                f"The pump's clock is {shift} off the clinic's wall clock since a daylight-saving "
                "change: flex steps and boluses run at the programmed pump-clock times, not the "
                "wall-clock times, until the pump is reprogrammed.",
            )
        ]
    day = start
    while day < end:
        nxt = min(day + timedelta(days=1), end)
        if offset(nxt) != pump:
            lo, hi = day, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if offset(mid) == pump else (lo, mid)
            when = day_text(hi.astimezone(tz).date())
            shift = _minutes(offset(hi) - pump)
            return [
                Notice(
                    "daylight_saving_change",
                    f"A daylight-saving change on {when} falls before the next refill: from then "
                    f"the pump's schedule runs {shift} off the wall clock unless the pump is "
                    "reprogrammed.",
                )
            ]
        day = nxt
    return []


def project(
    res: Reservoir,
    *,
    as_of: datetime,
    lra_ml: Fraction,
    tolerance_pct: Fraction | None,
    tz,
    safety_margin_days: int,
    max_reservoir_days: int,
) -> Projection:
    """LRA-1..LRA-4 in one pass: volume now, nominal and worst-case alarm and empty times,
    refill-by date and reason, and the warnings a nurse must see."""
    if lra_ml is None:
        raise CalculationError("pump.low_reservoir_alarm_ml", "is not configured for this pump or its model")
    warnings: list[Notice] = []
    if tolerance_pct is None:
        warnings.append(
            Notice(
                "tolerance_not_configured",
                "The pump model's flow accuracy tolerance is not configured: the worst case "
                "equals the nominal projection until an admin sets it.",
            )
        )
    nominal = _timeline(res, Q(1))
    worst = _timeline(res, worst_case_factor(tolerance_pct))
    lra = Q(lra_ml)

    def when(tl, level):
        crossing = representable(_crossing(tl, level))
        return None if crossing is None else instant(crossing)

    alarm, alarm_worst = when(nominal, lra), when(worst, lra)
    empty, empty_worst = when(nominal, Q(0)), when(worst, Q(0))
    by, reason = refill_by(
        worst_case_alarm_at=alarm_worst,
        filled_at=res.filled_at,
        tz=tz,
        safety_margin_days=safety_margin_days,
        max_reservoir_days=max_reservoir_days,
        emptied_at=res.emptied_at,
    )
    current = period_at(res, as_of)
    daily_dose = current.prescription.daily_dose_mcg_total
    if res.emptied_at is not None:
        warnings.append(
            Notice(
                "emptied",
                f"The reservoir was emptied on {instant_text(res.emptied_at, tz)}: it holds no drug "
                "until it is refilled, which is due that same day.",
            )
        )
    elif is_zero_daily_dose(daily_dose):  # TITRATE-2: 0 at the stored precision is zero
        warnings.append(
            Notice(
                "no_delivery",
                "The current prescription delivers nothing (0.0 mcg a day): the therapy is "
                "stopped, and the refill-by date follows the drug's stability.",
            )
        )
    horizon = datetime.combine(by + timedelta(days=1), datetime.min.time(), tzinfo=tz).astimezone(UTC)
    warnings.extend(clock_warnings(current, tz, max(as_of, res.filled_at), horizon))
    volume_now = max(Q(0), _held(nominal, epoch_seconds(as_of)))
    return Projection(
        as_of=as_of,
        reservoir_volume_ml=rounded(volume_now, VOLUME_ML),
        daily_volume_ml=rounded(daily_dose / res.concentration_mcg_per_ml, RATE_ML_PER_DAY),
        low_reservoir_alarm_at=alarm,
        low_reservoir_alarm_at_worst_case=alarm_worst,
        empty_at=empty,
        empty_at_worst_case=empty_worst,
        refill_by=by,
        refill_by_reason=reason,
        warnings=tuple(warnings),
    )


def period_at(res: Reservoir, at: datetime) -> TherapyPeriod:
    """The prescription in effect at ``at`` (the first one before the fill)."""
    periods = sorted(res.periods, key=lambda p: p.starts_at)
    current = periods[0]
    for p in periods:
        if p.starts_at <= at:
            current = p
    return current


def _minutes(seconds: int) -> str:
    minutes = abs(seconds) // 60
    hours, rest = divmod(minutes, 60)
    text = f"{hours} hour" + ("s" if hours != 1 else "") if hours else ""
    if rest:
        text = (text + " " if text else "") + f"{rest} minute" + ("s" if rest != 1 else "")
    return text
