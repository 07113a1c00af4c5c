"""The deployment's clinical defaults (settings.PUMPCARE_CLINICAL) as the calculation core's
argument types. A value set to None in settings makes the calculation that needs it refuse."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from django.conf import settings

import therapy


def _value(name: str):
    return settings.PUMPCARE_CLINICAL.get(name)


def _fraction(name: str) -> Fraction | None:
    value = _value(name)
    return None if value is None else Fraction(Decimal(str(value)))


def titration_limits() -> therapy.TitrationLimits:
    """TITRATE-1."""
    return therapy.TitrationLimits(
        spinal_pct=_fraction("titration_limit_spinal_pct"),
        cerebral_pct=_fraction("titration_limit_cerebral_pct"),
        pediatric_pct=_fraction("titration_limit_pediatric_pct"),
        pediatric_below_age_years=_value("titration_pediatric_below_age_years"),
        window_hours=_value("titration_window_hours"),
    )


def screening_steps() -> list[Fraction]:
    """START-1."""
    return [Fraction(Decimal(str(s))) for s in _value("screening_steps_mcg") or []]


def screening_prolonged_effect_hours() -> Fraction | None:
    return _fraction("screening_prolonged_effect_hours")


def implant_monitoring_min_hours() -> Fraction | None:
    """IMPLANT-1."""
    return _fraction("implant_monitoring_min_hours")


def frankel_a_starting_doses_mcg() -> tuple[Fraction | None, Fraction | None]:
    """RISK-1: about these starting doses, complete (Frankel A) against incomplete lesions."""
    return _fraction("frankel_a_starting_dose_mcg"), _fraction("incomplete_lesion_starting_dose_mcg")


def replacement_parameters() -> dict:
    """ERI-1 / ERI-2, as keyword arguments of therapy.replacement_plan."""
    values = {
        "eos_after_eri_days": _value("eos_after_eri_days"),
        "planning_opens_months_before_eri": _value("replacement_planning_opens_months_before_eri"),
        "book_by_days_before_eri": _value("replacement_book_by_days_before_eri"),
    }
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise therapy.CalculationError(f"settings.PUMPCARE_CLINICAL.{missing[0]}", "is not configured")
    return values


def alert_due_within_days() -> int:
    """ALERT-1: a refill-by date this close with no booked refill is urgent."""
    value = _value("alert_due_within_days")
    if value is None:
        raise therapy.CalculationError(
            "settings.PUMPCARE_CLINICAL.alert_due_within_days", "is not configured"
        )
    return value


def drift_consecutive_refills() -> int | None:
    """DRIFT-1: how many consecutive refills in one direction raise the trend alert."""
    return _value("drift_consecutive_refills")
