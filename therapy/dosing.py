"""What the pump is programmed to deliver (DOSE-1, DOSE-2).

A prescription is turned into a *daily profile*: the 24-hour day of the pump's clock cut
into pieces of constant rate (mcg per second), from 00:00 to 24:00. Everything else (daily
dose, daily volume, the reservoir projection) is read off that profile, so flex steps and
bolus times are never averaged away.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .errors import CalculationError
from .units import SECONDS_PER_DAY, SECONDS_PER_HOUR, Q, exact, rounded

MODES = ("simple_continuous", "flex", "periodic_bolus")
MINUTES_PER_DAY = 1440
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class FlexStep:
    start_minute: int
    dose_mcg_per_hour: Fraction


@dataclass(frozen=True)
class Bolus:
    time_minute: int
    dose_mcg: Fraction
    duration_minutes: int


@dataclass(frozen=True)
class PatientActivatedBolus:
    dose_mcg: Fraction
    max_per_day: int
    lockout_minutes: int


@dataclass(frozen=True)
class Prescription:
    """DOSE-1. One of three programmed modes, optionally with patient-activated boluses."""

    mode: str
    daily_dose_mcg: Fraction | None = None  # simple_continuous
    steps: tuple[FlexStep, ...] = ()  # flex
    basal_daily_dose_mcg: Fraction | None = None  # periodic_bolus
    boluses: tuple[Bolus, ...] = ()  # periodic_bolus
    patient_activated: PatientActivatedBolus | None = None

    @property
    def scheduled_daily_dose_mcg(self) -> Fraction:
        """DOSE-1: total daily dose = the sum of the programmed delivery over 24 h."""
        if self.mode == "simple_continuous":
            return self.daily_dose_mcg
        if self.mode == "flex":
            return sum(
                (
                    step.dose_mcg_per_hour * Q(end - step.start_minute, 60)
                    for step, end in zip(self.steps, _ends(self.steps), strict=True)
                ),
                Q(0),
            )
        return self.basal_daily_dose_mcg + sum((b.dose_mcg for b in self.boluses), Q(0))

    @property
    def daily_dose_mcg_total(self) -> Fraction:
        """DOSE-2: the daily dose for projection and titration, patient-activated boluses
        counted at their maximum per day (the conservative choice)."""
        extra = Q(0)
        if self.patient_activated is not None:
            extra = self.patient_activated.dose_mcg * self.patient_activated.max_per_day
        return self.scheduled_daily_dose_mcg + extra

    @property
    def is_time_dependent(self) -> bool:
        """True when the rate depends on the clock (flex steps of different rates or
        boluses): only then can a clock one hour off change what is delivered when."""
        if self.mode == "flex":
            return len({s.dose_mcg_per_hour for s in self.steps}) > 1
        return self.mode == "periodic_bolus" and bool(self.boluses)

    def profile(self) -> tuple[tuple[int, int, Fraction], ...]:
        """The pump-clock day as (start_s, end_s, rate mcg/s) pieces covering [0, 86400).

        Patient-activated boluses are spread evenly over the day at their maximum count.
        """
        breakpoints = {0, SECONDS_PER_DAY}
        if self.mode == "flex":
            breakpoints |= {s.start_minute * 60 for s in self.steps}
        for b in self.boluses:
            for start, end in _bolus_pieces(b):
                breakpoints |= {start, end}
        points = sorted(breakpoints)
        pieces = []
        for start, end in zip(points, points[1:], strict=False):
            rate = self._rate_at(start)
            if pieces and pieces[-1][2] == rate:
                pieces[-1] = (pieces[-1][0], end, rate)
            else:
                pieces.append((start, end, rate))
        return tuple(pieces)

    def _rate_at(self, second: int) -> Fraction:
        """Rate in mcg/s at a pump-clock second (constant up to the next breakpoint)."""
        if self.mode == "simple_continuous":
            rate = self.daily_dose_mcg / SECONDS_PER_DAY
        elif self.mode == "flex":
            current = [s for s in self.steps if s.start_minute * 60 <= second][-1]
            rate = current.dose_mcg_per_hour / SECONDS_PER_HOUR
        else:
            rate = self.basal_daily_dose_mcg / SECONDS_PER_DAY
            for b in self.boluses:
                if any(start <= second < end for start, end in _bolus_pieces(b)):
                    rate += b.dose_mcg / (b.duration_minutes * 60)
        if self.patient_activated is not None:
            pa = self.patient_activated
            rate += pa.dose_mcg * pa.max_per_day / SECONDS_PER_DAY
        return rate

    def as_dict(self) -> dict:
        """The API/storage shape (numbers as strings, times as HH:MM)."""
        data: dict = {"mode": self.mode}
        if self.mode == "simple_continuous":
            data["daily_dose_mcg"] = _num(self.daily_dose_mcg)
        elif self.mode == "flex":
            data["steps"] = [
                {"start": _hhmm(s.start_minute), "dose_mcg_per_hour": _num(s.dose_mcg_per_hour)}
                for s in self.steps
            ]
        else:
            data["basal_daily_dose_mcg"] = _num(self.basal_daily_dose_mcg)
            data["boluses"] = [
                {
                    "time": _hhmm(b.time_minute),
                    "dose_mcg": _num(b.dose_mcg),
                    "duration_minutes": b.duration_minutes,
                }
                for b in self.boluses
            ]
        if self.patient_activated is not None:
            pa = self.patient_activated
            data["patient_activated_bolus"] = {
                "dose_mcg": _num(pa.dose_mcg),
                "max_per_day": pa.max_per_day,
                "lockout_minutes": pa.lockout_minutes,
            }
        return data


def daily_volume_ml(daily_dose_mcg: Fraction, concentration_mcg_per_ml: Fraction) -> Fraction:
    """DOSE-2: daily volume (mL/day) = total daily dose / concentration."""
    if concentration_mcg_per_ml <= 0:
        raise CalculationError("concentration_mcg_per_ml", "must be greater than 0 mcg/mL")
    return daily_dose_mcg / concentration_mcg_per_ml


def parse_prescription(data, field: str = "prescription") -> Prescription:
    """DOSE-1: validate the API shape of a prescription and build it.

    Refuses, naming the field: an unknown mode, negative doses, flex steps that do not
    start at 00:00 or whose starts do not strictly increase (overlap or gap), bolus times
    outside 00:00–23:59, bolus durations outside 1–1440 minutes, overlapping boluses.
    A total daily dose of 0 is accepted here; TITRATE-2 decides whether it may be saved.
    """
    if not isinstance(data, dict):
        raise CalculationError(field, "must be an object with a 'mode'")
    mode = data.get("mode")
    if mode not in MODES:
        raise CalculationError(f"{field}.mode", f"must be one of {', '.join(MODES)} (got {mode!r})")
    known = {"mode", "patient_activated_bolus"} | {
        "simple_continuous": {"daily_dose_mcg"},
        "flex": {"steps"},
        "periodic_bolus": {"basal_daily_dose_mcg", "boluses"},
    }[mode]
    _only(data, known, field, what=f"a {mode} prescription")
    patient_activated = _parse_patient_activated(
        data.get("patient_activated_bolus"), f"{field}.patient_activated_bolus"
    )
    if mode == "simple_continuous":
        dose = _non_negative(data.get("daily_dose_mcg"), f"{field}.daily_dose_mcg", "mcg/day")
        return Prescription(mode, daily_dose_mcg=dose, patient_activated=patient_activated)
    if mode == "flex":
        return Prescription(
            mode, steps=_parse_steps(data.get("steps"), f"{field}.steps"), patient_activated=patient_activated
        )
    basal = _non_negative(data.get("basal_daily_dose_mcg"), f"{field}.basal_daily_dose_mcg", "mcg/day")
    boluses = _parse_boluses(data.get("boluses"), f"{field}.boluses")
    return Prescription(
        mode, basal_daily_dose_mcg=basal, boluses=boluses, patient_activated=patient_activated
    )


def _parse_steps(steps, field: str) -> tuple[FlexStep, ...]:
    if not isinstance(steps, list) or not steps:
        raise CalculationError(field, "must be a non-empty list of {start: 'HH:MM', dose_mcg_per_hour}")
    parsed = []
    for i, step in enumerate(steps):
        here = f"{field}[{i}]"
        if not isinstance(step, dict):
            raise CalculationError(here, "must be an object {start: 'HH:MM', dose_mcg_per_hour}")
        _only(step, {"start", "dose_mcg_per_hour"}, here)
        start = parse_hhmm(step.get("start"), f"{here}.start")
        rate = _non_negative(step.get("dose_mcg_per_hour"), f"{here}.dose_mcg_per_hour", "mcg/hour")
        if i == 0 and start != 0:
            raise CalculationError(
                f"{here}.start", "the first flex step must start at 00:00 so the steps cover 24 hours"
            )
        if parsed and start <= parsed[-1].start_minute:
            raise CalculationError(
                f"{here}.start",
                f"must be later than the previous step's start {_hhmm(parsed[-1].start_minute)} "
                "(starts strictly increase; each step runs until the next, the last until 24:00)",
            )
        parsed.append(FlexStep(start, rate))
    return tuple(parsed)


def _parse_boluses(boluses, field: str) -> tuple[Bolus, ...]:
    if not isinstance(boluses, list) or not boluses:
        raise CalculationError(
            field, "must be a non-empty list of {time: 'HH:MM', dose_mcg, duration_minutes}"
        )
    parsed = []
    for i, bolus in enumerate(boluses):
        here = f"{field}[{i}]"
        if not isinstance(bolus, dict):
            raise CalculationError(here, "must be an object {time: 'HH:MM', dose_mcg, duration_minutes}")
        _only(bolus, {"time", "dose_mcg", "duration_minutes"}, here)
        time = parse_hhmm(bolus.get("time"), f"{here}.time")
        dose = _positive(bolus.get("dose_mcg"), f"{here}.dose_mcg", "mcg")
        duration = _whole(bolus.get("duration_minutes"), f"{here}.duration_minutes", 1, MINUTES_PER_DAY)
        parsed.append(Bolus(time, dose, duration))
    parsed.sort(key=lambda b: b.time_minute)
    seconds = []
    for b in parsed:
        seconds.extend((start, end, b) for start, end in _bolus_pieces(b))
    seconds.sort(key=lambda x: x[0])
    for (_, end, first), (start, _, second) in zip(seconds, seconds[1:], strict=False):
        if start < end:
            raise CalculationError(
                field,
                f"the bolus at {_hhmm(second.time_minute)} starts before the bolus at "
                f"{_hhmm(first.time_minute)} has finished; boluses may not overlap",
            )
    return tuple(parsed)


def _parse_patient_activated(data, field: str) -> PatientActivatedBolus | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise CalculationError(field, "must be an object {dose_mcg, max_per_day, lockout_minutes}")
    _only(data, {"dose_mcg", "max_per_day", "lockout_minutes"}, field)
    dose = _positive(data.get("dose_mcg"), f"{field}.dose_mcg", "mcg")
    max_per_day = _whole(data.get("max_per_day"), f"{field}.max_per_day", 1, MINUTES_PER_DAY)
    lockout = _whole(data.get("lockout_minutes"), f"{field}.lockout_minutes", 0, MINUTES_PER_DAY)
    if max_per_day * lockout > MINUTES_PER_DAY:
        raise CalculationError(
            f"{field}.max_per_day",
            f"{max_per_day} boluses with a {lockout}-minute lockout do not fit in 24 hours",
        )
    return PatientActivatedBolus(dose, max_per_day, lockout)


def _only(data: dict, known: set[str], field: str, what: str = "this object") -> None:
    """Refuse keys that are not part of the shape, so a typo is never silently ignored."""
    unknown = sorted(set(data) - known)
    if unknown:
        raise CalculationError(
            f"{field}.{unknown[0]}", f"is not part of {what} (allowed: {', '.join(sorted(known))})"
        )


def parse_hhmm(value, field: str) -> int:
    """'HH:MM' (00:00–23:59) as minutes after midnight."""
    match = _HHMM.match(value) if isinstance(value, str) else None
    if not match:
        raise CalculationError(field, f"must be a time 'HH:MM' from 00:00 to 23:59 (got {value!r})")
    return int(match[1]) * 60 + int(match[2])


def _bolus_pieces(b: Bolus) -> list[tuple[int, int]]:
    """The bolus as pump-clock second ranges; one past midnight wraps to the next day."""
    start = b.time_minute * 60
    end = start + b.duration_minutes * 60
    if end <= SECONDS_PER_DAY:
        return [(start, end)]
    return [(start, SECONDS_PER_DAY), (0, end - SECONDS_PER_DAY)]


def _ends(steps: tuple[FlexStep, ...]) -> list[int]:
    return [s.start_minute for s in steps[1:]] + [MINUTES_PER_DAY]


def _non_negative(value, field: str, unit: str) -> Fraction:
    number = exact(value, field)
    if number < 0:
        raise CalculationError(field, f"must be 0 or more {unit} (got {value})")
    return number


def _positive(value, field: str, unit: str) -> Fraction:
    number = exact(value, field)
    if number <= 0:
        raise CalculationError(field, f"must be greater than 0 {unit} (got {value})")
    return number


def _whole(value, field: str, low: int, high: int) -> int:
    number = exact(value, field)
    if number.denominator != 1 or not low <= number <= high:
        raise CalculationError(field, f"must be a whole number from {low} to {high} (got {value})")
    return int(number)


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _num(value: Fraction) -> str:
    return format(rounded(value, Decimal("0.0001")).normalize(), "f")
