"""pumpcare's clinical mathematics: plain Python, no Django, no I/O.

Everything ../shared/DOMAIN.md specifies lives here once; each function names the rule IDs
it implements. Inputs and outputs are dataclasses and exact rationals (``Fraction`` in, GMP's
``mpq`` inside and out; the two mix freely);
rounding happens once, at the edge (``therapy.units.rounded``).
"""

from . import oral
from .battery import (
    RefillDay,
    ReplacementPlan,
    appointment_day,
    check_refill_day,
    check_replacement_date,
    earliest_working_day,
    refill_day,
    refill_overdue,
    refill_overdue_days,
    replacement_plan,
)
from .clock import local_instant
from .device import (
    InterrogationFindings,
    MriState,
    alarm_class,
    check_emptying_time,
    interrogation_findings,
    mri_follow_up,
    mri_state,
)
from .dosing import Prescription, daily_volume_ml, parse_prescription
from .drift import DeliveryObservation, delivery_observation, drift_trend, tolerance_band
from .errors import CalculationError
from .implant import Monitoring, catheter_volume_ml, check_implant_fill, implant_monitoring, priming_volume_ml
from .monitoring import AssessmentFindings, classify_assessment
from .projection import (
    BridgeDrain,
    Notice,
    Projection,
    Reservoir,
    TherapyPeriod,
    programmed_volume_ml,
    project,
    refill_by,
    time_at_volume,
    volume_at,
)
from .refill import (
    BridgeBolus,
    Discrepancy,
    bridge_bolus,
    bridge_daily_dose_mcg,
    bridge_for_volume,
    check_concentration,
    check_event_time,
    check_refill_volumes,
    residual_discrepancy,
)
from .titration import (
    DoseNotice,
    ScreeningOutcome,
    TitrationCheck,
    TitrationLimits,
    check_first_fill_concentration,
    check_first_prescription,
    check_new_daily_dose,
    is_zero_daily_dose,
    screening_outcome,
    titration_limit_pct,
)
from .units import day_text, instant_text

# The version of the calculations' results: bumped by every change to the core that changes
# a number it returns for the same inputs. Stored projections carry it in their fingerprint,
# so the next refresh (nightly, or ``run_daily_jobs`` after an upgrade) recomputes them all
# instead of keeping numbers the corrected code would not give.
CALCULATION_VERSION = "2026-12-03 MRI-1 emptied reservoir"

__all__ = [
    "CALCULATION_VERSION",
    "AssessmentFindings",
    "DeliveryObservation",
    "classify_assessment",
    "delivery_observation",
    "drift_trend",
    "programmed_volume_ml",
    "tolerance_band",
    "BridgeBolus",
    "BridgeDrain",
    "CalculationError",
    "Monitoring",
    "catheter_volume_ml",
    "check_implant_fill",
    "implant_monitoring",
    "priming_volume_ml",
    "Discrepancy",
    "InterrogationFindings",
    "MriState",
    "alarm_class",
    "check_emptying_time",
    "interrogation_findings",
    "mri_follow_up",
    "mri_state",
    "DoseNotice",
    "Notice",
    "Prescription",
    "Projection",
    "RefillDay",
    "ReplacementPlan",
    "Reservoir",
    "ScreeningOutcome",
    "TherapyPeriod",
    "TitrationCheck",
    "TitrationLimits",
    "appointment_day",
    "bridge_bolus",
    "bridge_daily_dose_mcg",
    "bridge_for_volume",
    "check_concentration",
    "check_refill_day",
    "check_event_time",
    "check_first_fill_concentration",
    "check_first_prescription",
    "check_new_daily_dose",
    "check_refill_volumes",
    "check_replacement_date",
    "daily_volume_ml",
    "day_text",
    "instant_text",
    "earliest_working_day",
    "is_zero_daily_dose",
    "local_instant",
    "parse_prescription",
    "project",
    "refill_by",
    "refill_day",
    "refill_overdue",
    "refill_overdue_days",
    "replacement_plan",
    "residual_discrepancy",
    "screening_outcome",
    "time_at_volume",
    "titration_limit_pct",
    "volume_at",
    "oral",
]
