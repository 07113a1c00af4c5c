"""Refills: volume and time checks, the residual discrepancy, the bridge bolus
(REFILL-1, REFILL-2, BRIDGE-1, BRIDGE-2, DOSE-4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from .dosing import Prescription
from .errors import CalculationError
from .implant import catheter_volume_ml
from .units import (
    DOSE_MCG,
    HOURS,
    PATH_VOLUME_ML,
    SECONDS_PER_DAY,
    VOLUME_ML,
    Q,
    day_text,
    instant_text,
    local_date,
    rounded,
)


def check_refill_volumes(
    *,
    volume_withdrawn_ml: Fraction,
    volume_added_ml: Fraction,
    concentration_mcg_per_ml: Fraction,
    reservoir_ml: Fraction,
    first_fill: bool,
) -> None:
    """REFILL-2: refuse an overfill, a volume added ≤ 0, a concentration ≤ 0, a negative
    withdrawal or one larger than the reservoir; the first fill after implant withdraws
    nothing."""
    if volume_added_ml <= 0:
        raise CalculationError("volume_added_ml", f"must be greater than 0 mL (got {volume_added_ml})")
    if volume_added_ml > reservoir_ml:
        raise CalculationError(
            "volume_added_ml",
            f"{_ml(volume_added_ml)} mL overfills the reservoir: at most {_ml(reservoir_ml)} mL",
        )
    if volume_withdrawn_ml < 0:
        raise CalculationError("volume_withdrawn_ml", "must be 0 mL or more")
    if volume_withdrawn_ml > reservoir_ml:
        # REFILL-2: the residual comes out of the reservoir, so it cannot exceed it: a
        # larger number is a typing error, not a discrepancy to flag.
        raise CalculationError(
            "volume_withdrawn_ml",
            f"{_ml(volume_withdrawn_ml)} mL is more than the reservoir holds: at most {_ml(reservoir_ml)} mL",
        )
    if first_fill and volume_withdrawn_ml != 0:
        raise CalculationError(
            "volume_withdrawn_ml", "must be 0 at the first fill after implant (nothing to withdraw)"
        )
    if concentration_mcg_per_ml <= 0:
        raise CalculationError("concentration_mcg_per_ml", "must be greater than 0 mcg/mL")


def check_event_time(
    *, at: datetime, now: datetime, implanted_on: date, tz, field: str, not_before: datetime | None = None
) -> None:
    """REFILL-2: a refill (or prescription) may not be in the future or before the implant
    (the implant date is a local date of the clinic), nor before the pump's last recorded
    event (``not_before``), so the therapy record stays in time order."""
    if at > now:
        raise CalculationError(
            field, f"{instant_text(at, tz)} is in the future: record what has happened", code="in_future"
        )
    if local_date(at, tz) < implanted_on:
        raise CalculationError(
            field, f"is before the pump was implanted on {day_text(implanted_on)}", code="before_implant"
        )
    if not_before is not None and at <= not_before:
        raise CalculationError(
            field,
            f"must be after the pump's last recorded refill or prescription ({instant_text(not_before, tz)})",
            code="out_of_order",
        )


def check_concentration(
    *, concentration_mcg_per_ml: Fraction, supplied: list[Fraction], compounded_confirmed: bool
) -> None:
    """DOSE-4: a concentration outside the supplied list is compounded and must be
    confirmed explicitly. A concentration ≤ 0 is refused as such first (REFILL-2): it is
    no compounded concentration to confirm."""
    if concentration_mcg_per_ml <= 0:
        raise CalculationError("concentration_mcg_per_ml", "must be greater than 0 mcg/mL")
    if concentration_mcg_per_ml in supplied or compounded_confirmed:
        return
    allowed = ", ".join(_plain(c) for c in sorted(supplied))
    raise CalculationError(
        "concentration_mcg_per_ml",
        f"{_plain(concentration_mcg_per_ml)} mcg/mL is not a supplied concentration ({allowed}); "
        "a compounded concentration needs compounded_confirmed: true",
        code="compounded_not_confirmed",
    )


@dataclass(frozen=True)
class Discrepancy:
    expected_residual_ml: Decimal
    discrepancy_ml: Decimal
    direction: str | None  # None, "less_than_expected", "more_than_expected"


def residual_discrepancy(
    *, expected_residual_ml: Fraction, volume_withdrawn_ml: Fraction, threshold_ml: Fraction | None
) -> Discrepancy:
    """REFILL-1: discrepancy = withdrawn − expected (both to 0.01 mL). A difference greater
    than the model's threshold is flagged: less than expected (over-delivery, leak, earlier
    pocket fill) or more than expected (under-delivery: stall or occlusion, withdrawal risk)."""
    if threshold_ml is None:
        raise CalculationError(
            "pump_model.discrepancy_threshold_ml",
            "is not configured: an admin must set the model's refill discrepancy threshold",
        )
    expected = rounded(Q(expected_residual_ml), VOLUME_ML)
    difference = rounded(Q(volume_withdrawn_ml), VOLUME_ML) - expected
    direction = None
    if abs(difference) > rounded(Q(threshold_ml), VOLUME_ML):
        direction = "more_than_expected" if difference > 0 else "less_than_expected"
    return Discrepancy(expected, difference, direction)


@dataclass(frozen=True)
class BridgeBolus:
    """BRIDGE-1: exact values (the projection drains ``path_volume_ml`` over
    ``duration_seconds``) and the four numbers shown, rounded."""

    path_volume_ml: Fraction
    duration_seconds: Fraction
    programmed_dose_mcg: Fraction
    delivered_dose_mcg: Fraction

    def shown(self) -> dict[str, Decimal]:
        return {
            "path_volume_ml": rounded(self.path_volume_ml, PATH_VOLUME_ML),
            "duration_hours": rounded(self.duration_seconds / 3600, HOURS),
            "programmed_dose_mcg": rounded(self.programmed_dose_mcg, DOSE_MCG),
            "delivered_dose_mcg": rounded(self.delivered_dose_mcg, DOSE_MCG),
        }


def bridge_daily_dose_mcg(prescription: Prescription) -> Fraction:
    """BRIDGE-3: the dose D that pushes the old drug out is the scheduled daily dose —
    basal, flex steps and periodic boluses — without patient-activated boluses, which the
    pump gives only on demand. Chosen here only: the bolus a nurse programs and the drain
    the projection rebuilds from a recorded refill both read it from this function."""
    return prescription.scheduled_daily_dose_mcg


def bridge_bolus(
    *,
    old_concentration_mcg_per_ml: Fraction,
    new_concentration_mcg_per_ml: Fraction,
    prescription: Prescription,
    pathway_volume_min_ml: Fraction | None,
    pathway_volume_max_ml: Fraction | None,
    catheter_volume_ml_per_cm: Fraction | None,
    catheter_length_cm: Fraction | None,
) -> BridgeBolus | None:
    """BRIDGE-1 / BRIDGE-2.

    No bridge when the concentration is unchanged. Otherwise path volume
    V = pathway volume (the model's minimum when the concentration rises, its maximum when
    it falls) + catheter length × volume per cm; the old drug is pushed out at
    rate = D / C_old mL/day, so T = V × C_old / D; delivered V × C_old, programmed V × C_new,
    with D the prescription's scheduled daily dose (BRIDGE-3, ``bridge_daily_dose_mcg``).
    Refuses, naming the catalog value, when a volume it needs is not configured.
    BRIDGE-3: the path volume is rounded to 0.001 mL before T and the doses are derived
    from it, so the four numbers shown agree with each other and with the projection.
    """
    old, new = Q(old_concentration_mcg_per_ml), Q(new_concentration_mcg_per_ml)
    if old == new:
        return None
    rising = new > old
    pathway = pathway_volume_min_ml if rising else pathway_volume_max_ml
    if pathway is None:
        which = "pathway_volume_min_ml" if rising else "pathway_volume_max_ml"
        raise CalculationError(
            f"pump_model.{which}",
            f"is not configured: a bridge bolus for a concentration {'rise' if rising else 'fall'} "
            f"needs the pump model's {'minimum' if rising else 'maximum'} internal pathway volume; "
            "an admin must set it from the labeling",
            code="bridge_volume_not_configured",
        )
    exact_volume = Q(pathway) + catheter_volume_ml(
        volume_ml_per_cm=catheter_volume_ml_per_cm,
        length_cm=catheter_length_cm,
        use="a bridge bolus",
        code="bridge_volume_not_configured",
    )
    return bridge_for_volume(
        path_volume_ml=Q(rounded(exact_volume, PATH_VOLUME_ML)),
        old_concentration_mcg_per_ml=old,
        new_concentration_mcg_per_ml=new,
        prescription=prescription,
    )


def bridge_for_volume(
    *,
    path_volume_ml: Fraction,
    old_concentration_mcg_per_ml: Fraction,
    new_concentration_mcg_per_ml: Fraction,
    prescription: Prescription,
) -> BridgeBolus:
    """BRIDGE-1 for a known path volume V: T = V × C_old / D (days), delivered V × C_old,
    programmed V × C_new, D chosen by ``bridge_daily_dose_mcg`` (BRIDGE-3). The projection
    rebuilds a recorded bridge with this, from the volume stored rounded."""
    daily_dose_mcg = bridge_daily_dose_mcg(prescription)
    if daily_dose_mcg <= 0:
        raise CalculationError(
            "prescription", "a bridge bolus needs a daily dose greater than 0 to push the old drug out"
        )
    v, old = Q(path_volume_ml), Q(old_concentration_mcg_per_ml)
    return BridgeBolus(
        path_volume_ml=v,
        duration_seconds=v * old / Q(daily_dose_mcg) * SECONDS_PER_DAY,
        programmed_dose_mcg=v * Q(new_concentration_mcg_per_ml),
        delivered_dose_mcg=v * old,
    )


def _ml(value: Fraction) -> str:
    return format(rounded(Q(value), VOLUME_ML), "f")


def _plain(value: Fraction) -> str:
    return format(rounded(Q(value), Decimal("0.01")).normalize(), "f")
