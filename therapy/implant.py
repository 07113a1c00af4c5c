"""The implant (IMPLANT-1): the intraoperative fill, the priming of a new catheter with its
volume (PUMP-2), and the monitoring record that must follow the start of delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from .errors import CalculationError
from .units import PATH_VOLUME_ML, Q, day_text, instant_text, local_date, rounded


def catheter_volume_ml(
    *, volume_ml_per_cm: Fraction | None, length_cm: Fraction | None, use: str, code: str
) -> Fraction:
    """PUMP-2: catheter volume = implanted length × volume per cm, exact. ``use`` says what
    needs it and ``code`` is the refusal's code when the catalog does not give the volume
    per cm (BRIDGE-2 for a bridge bolus, IMPLANT-1 for the priming)."""
    if volume_ml_per_cm is None:
        raise CalculationError(
            "catheter_model.volume_ml_per_cm",
            f"is not configured: {use} needs the catheter's volume per cm; an admin must set it "
            "from the labeling",
            code=code,
        )
    if length_cm is None:
        raise CalculationError(
            "pump.catheter_length_cm", f"is not recorded: {use} needs the implanted catheter length"
        )
    return Q(length_cm) * Q(volume_ml_per_cm)


def priming_volume_ml(
    *, volume_ml_per_cm: Fraction | None, length_cm: Fraction | None, volume_added_ml: Fraction
) -> Fraction:
    """IMPLANT-1: a new catheter is primed with its volume (PUMP-2) before the prescribed rate
    starts; the projection drains it from the reservoir first. Rounded to 0.001 mL like every
    pathway volume. Refused when it is not less than the volume put in the pump."""
    volume = Q(
        rounded(
            catheter_volume_ml(
                volume_ml_per_cm=volume_ml_per_cm,
                length_cm=length_cm,
                use="priming the catheter",
                code="catheter_volume_not_configured",
            ),
            PATH_VOLUME_ML,
        )
    )
    if volume >= Q(volume_added_ml):
        raise CalculationError(
            "volume_added_ml",
            f"priming the catheter takes {rounded(volume, PATH_VOLUME_ML)} mL: the fill must put more than "
            "that in the pump",
        )
    return volume


def check_implant_fill(*, performed_at: datetime, implanted_on: date, tz) -> None:
    """IMPLANT-1: the implant fill is intraoperative, so it happens on the implant day (a
    local date of the clinic)."""
    if local_date(performed_at, tz) != implanted_on:
        raise CalculationError(
            "performed_at",
            f"an implant fill is made during the operation, on the implant day ({day_text(implanted_on)}); "
            f"{instant_text(performed_at, tz)} is another day",
            code="implant_fill_not_on_implant_day",
        )


@dataclass(frozen=True)
class Monitoring:
    """IMPLANT-1's monitoring after the start of delivery: how long it lasted (None while it
    goes on) and whether it is complete (ended, and at least the minimum hours)."""

    hours: Fraction | None
    complete: bool
    message: str


def implant_monitoring(
    *,
    fill_at: datetime,
    started_at: datetime,
    ended_at: datetime | None,
    min_hours: Fraction | None,
    tz,
) -> Monitoring:
    """IMPLANT-1: monitoring starts with delivery (not before the implant fill), ends after it
    starts, and is complete once it has lasted at least ``min_hours`` (8 h by default, a
    deployment setting; refused when it is not set)."""
    if min_hours is None:
        raise CalculationError(
            "settings.PUMPCARE_CLINICAL.implant_monitoring_min_hours",
            "is not configured: the minimum monitoring after an implant must be set",
        )
    if started_at < fill_at:
        raise CalculationError(
            "started_at",
            f"monitoring follows the start of delivery: it cannot start before the implant fill "
            f"({instant_text(fill_at, tz)})",
        )
    if ended_at is None:
        return Monitoring(None, False, f"Monitoring under way since {instant_text(started_at, tz)}.")
    if ended_at <= started_at:
        raise CalculationError("ended_at", "must be after the start of the monitoring")
    hours = Q(int((ended_at - started_at).total_seconds()), 3600)
    if hours >= Q(min_hours):
        return Monitoring(hours, True, f"Monitored for {_hours(hours)} after the implant.")
    return Monitoring(
        hours,
        False,
        f"Monitored for {_hours(hours)} only: at least {_hours(Q(min_hours))} of monitoring are required "
        "after an implant.",
    )


def _hours(hours: Fraction) -> str:
    """Hours and whole minutes, the seconds cut off: a monitoring short of the minimum by
    seconds is never shown as the minimum itself."""
    whole, minutes = divmod(int(hours * 60), 60)
    text = f"{whole} h"
    return f"{text} {minutes:02d} min" if minutes else text
