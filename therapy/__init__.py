"""pumpcare's clinical mathematics: plain Python, no Django, no I/O.

Everything ../shared/DOMAIN.md specifies lives here once; each function names the rule IDs
it implements. Inputs and outputs are dataclasses and exact rationals (``Fraction`` in, GMP's
``mpq`` inside and out; the two mix freely);
rounding happens once, at the edge (``therapy.units.rounded``).
"""

from .battery import ReplacementPlan, appointment_day, check_replacement_date, replacement_plan
from .clock import local_instant
from .dosing import Prescription, daily_volume_ml, parse_prescription
from .errors import CalculationError
from .projection import (
    BridgeDrain,
    Notice,
    Projection,
    Reservoir,
    TherapyPeriod,
    project,
    refill_by,
    time_at_volume,
    volume_at,
)
from .refill import (
    BridgeBolus,
    Discrepancy,
    bridge_bolus,
    bridge_for_volume,
    check_concentration,
    check_event_time,
    check_refill_volumes,
    residual_discrepancy,
)
from .titration import (
    ScreeningOutcome,
    TitrationCheck,
    TitrationLimits,
    check_new_daily_dose,
    screening_outcome,
    titration_limit_pct,
)

__all__ = [
    "BridgeBolus",
    "BridgeDrain",
    "CalculationError",
    "Discrepancy",
    "Notice",
    "Prescription",
    "Projection",
    "ReplacementPlan",
    "Reservoir",
    "ScreeningOutcome",
    "TherapyPeriod",
    "TitrationCheck",
    "TitrationLimits",
    "appointment_day",
    "bridge_bolus",
    "bridge_for_volume",
    "check_concentration",
    "check_event_time",
    "check_new_daily_dose",
    "check_refill_volumes",
    "check_replacement_date",
    "daily_volume_ml",
    "local_instant",
    "parse_prescription",
    "project",
    "refill_by",
    "replacement_plan",
    "residual_discrepancy",
    "screening_outcome",
    "time_at_volume",
    "titration_limit_pct",
    "volume_at",
]
