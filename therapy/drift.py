"""Delivery drift (DRIFT-1): what a refill observes about how much the pump delivered, and the
trend of it across a pump's refills.

The programmed volume is the projection's own nominal drain (``programmed_volume_ml``), so a
ratio and the expected residual of REFILL-1 are computed from one integration. The
projection itself keeps the model's tolerance (LRA-3): an observed ratio is shown beside the
tolerance band, never learned into the worst case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from .errors import CalculationError
from .projection import Reservoir, programmed_volume_ml
from .units import Q, rounded

UNDER, OVER = "under_delivery", "over_delivery"
RATIO = Decimal("0.001")  # a ratio is shown to three decimals (0.875); classified exactly

# REFILL-1's directions, read as delivery: more residual than expected is under-delivery.
_FROM_DISCREPANCY = {"more_than_expected": UNDER, "less_than_expected": OVER}


@dataclass(frozen=True)
class DeliveryObservation:
    """DRIFT-1 at one refill. ``ratio`` is None when it cannot be observed (``why_no_ratio``
    says why); ``direction`` is flagged by the ratio outside 1 ± tolerance or by REFILL-1's
    discrepancy over its threshold, and ``flagged_by`` names which."""

    programmed_ml: Fraction
    delivered_ml: Fraction
    ratio: Fraction | None
    direction: str | None
    flagged_by: tuple[str, ...]
    why_no_ratio: str = ""
    notes: tuple[str, ...] = ()

    @property
    def ratio_shown(self) -> Decimal | None:
        return rounded(self.ratio, RATIO)


def delivery_observation(
    *,
    reservoir: Reservoir,
    refilled_at: datetime,
    residual_ml: Fraction,
    tolerance_pct: Fraction | None,
    discrepancy_direction: str | None,
) -> DeliveryObservation:
    """DRIFT-1: observed delivery ratio = (volume after the previous refill − measured
    residual) / the volume the prescriptions programmed since (``programmed_volume_ml``).

    Flagged when the ratio is outside 1 ± the model's tolerance (strictly: a ratio on the
    band's edge is within it), or when REFILL-1 flagged the residual (more than expected:
    under-delivery; less: over-delivery). No ratio when nothing was programmed (0 mL: no
    delivery to compare with) or when the programme would have emptied the reservoir before
    this refill (the pump could not deliver more than it held, so the ratio would read as
    under-delivery whatever the pump did), nor across an emptying of the reservoir (MRI-1:
    the drug taken out was not delivered); REFILL-1's discrepancy still flags. A model
    whose tolerance is not configured is judged by the discrepancy alone, and says so.
    """
    filled = Q(reservoir.volume_ml)
    programmed = programmed_volume_ml(reservoir, refilled_at)
    delivered = filled - Q(residual_ml)
    ratio, why, notes = None, "", []
    if reservoir.emptied_at is not None and reservoir.emptied_at <= refilled_at:
        why = (
            "the reservoir was emptied since the previous refill (before an MRI): what was taken out "
            "then was not delivered, so the residual says nothing of the pump's delivery"
        )
    elif programmed <= 0:
        why = "nothing was programmed since the previous refill (0 mL): there is no delivery to compare with"
    elif programmed > filled:
        why = (
            f"the prescriptions programmed {_ml(programmed)} mL since the previous refill, more than the "
            f"{_ml(filled)} mL it added: the projection ran the reservoir empty before this refill"
        )
    else:
        ratio = delivered / programmed
    flagged_by, direction = [], None
    if ratio is not None and tolerance_pct is not None:
        band = Q(tolerance_pct) / 100
        if ratio < 1 - band:
            direction = UNDER
        elif ratio > 1 + band:
            direction = OVER
        if direction:
            flagged_by.append("ratio")
    if ratio is not None and tolerance_pct is None:
        notes.append(
            "The pump model's flow accuracy tolerance is not configured: the ratio is judged by the "
            "refill discrepancy alone until an admin sets it."
        )
    from_discrepancy = _FROM_DISCREPANCY.get(discrepancy_direction or "")
    if from_discrepancy is not None:
        direction = direction or from_discrepancy
        if from_discrepancy == direction:
            flagged_by.append("discrepancy")
    return DeliveryObservation(
        programmed_ml=programmed,
        delivered_ml=delivered,
        ratio=ratio,
        direction=direction,
        flagged_by=tuple(flagged_by),
        why_no_ratio=why,
        notes=tuple(notes),
    )


def tolerance_band(tolerance_pct: Fraction | None) -> tuple[Fraction, Fraction] | None:
    """DRIFT-1 / PUMP-1: the ratios within the model's flow accuracy, 1 ± tolerance (None
    when the tolerance is not configured)."""
    if tolerance_pct is None:
        return None
    band = Q(tolerance_pct) / 100
    return 1 - band, 1 + band


def drift_trend(directions: Sequence[str | None], *, consecutive: int | None) -> tuple[str | None, int]:
    """DRIFT-1's trend: the direction of the pump's latest refills and how many in a row
    share it (directions oldest first, one per refill with an observation; a refill that
    flags nothing breaks the run). Returns (direction, run length) when the run is at least
    ``consecutive`` long — a physician-review alert — else (None, run length).

    ``consecutive`` is a pumpcare setting (2 by default), not a clinical number; unset, the
    trend refuses."""
    if consecutive is None or consecutive < 1:
        raise CalculationError(
            "settings.PUMPCARE_CLINICAL.drift_consecutive_refills",
            "must be configured as 1 or more refills in a row",
        )
    run, last = 0, None
    for direction in reversed(directions):
        if direction is None or (last is not None and direction != last):
            break
        last, run = direction, run + 1
    return (last if run >= consecutive else None), run


def _ml(value: Fraction) -> str:
    return format(rounded(Q(value), Decimal("0.01")), "f")
