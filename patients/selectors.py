"""Reads of the patients app that the calculation core answers from a pump's own record."""

from __future__ import annotations

import therapy
from pumpcare import clinical

from .models import Pump


def replacement_plan(pump: Pump) -> therapy.ReplacementPlan:
    """ERI-1 / ERI-2 for the pump; refuses (``eri_unknown``) when neither an interrogated ERI
    date nor the model's service life is known."""
    return therapy.replacement_plan(
        implanted_on=pump.implanted_on,
        eri_on=pump.eri_on,
        service_life_months=pump.model.service_life_months,
        **clinical.replacement_parameters(),
    )


def replacement(pump: Pump) -> tuple[therapy.ReplacementPlan | None, list[therapy.Notice]]:
    """ERI-1 / ERI-2 for the pump, or a notice saying what is missing."""
    try:
        plan = replacement_plan(pump)
    except therapy.CalculationError as error:
        return None, [therapy.Notice(error.code, error.message)]
    return plan, []
