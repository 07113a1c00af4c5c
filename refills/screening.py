"""The screening trial (SCREEN-1): each intrathecal screening bolus and what was observed.
Its outcome is START-1's starting dose, which the first prescription of the patient's
therapy is checked against (START-2, in ``services._titration``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

import therapy
from patients.models import Patient, fraction
from patients.permissions import CLINICAL_WRITERS, require_role
from patients.services import save_audited
from pumpcare import clinical, clock

from . import selectors
from .models import ScreeningBolus, ScreeningTrial
from .services import local_time


@dataclass
class ScreeningTrialState:
    """A patient's recorded boluses and START-1's outcome from them (None: none recorded)."""

    boluses: list[ScreeningBolus]
    outcome: therapy.ScreeningOutcome | None


def screening_trial_read(patient: Patient) -> ScreeningTrialState:
    boluses = selectors.screening_boluses(patient)
    return ScreeningTrialState(boluses, selectors.screening_outcome_of(boluses) if boluses else None)


@transaction.atomic
def screening_bolus_record(
    *,
    actor,
    patient: Patient,
    dose_mcg: Decimal,
    given_at: datetime,
    observed_by: str,
    responded: bool,
    effect_duration_hours: Decimal | None = None,
    adverse_reactions: str = "",
) -> ScreeningTrialState:
    """SCREEN-1: record a screening bolus. The dose must be a screening step (50, 75 or 100
    mcg by default); boluses are recorded in the order given; nothing is added once the
    trial has ended, positive at the first response or negative after no response at the
    last step."""
    patient = Patient.objects.select_for_update(of=("self",)).select_related("clinic").get(pk=patient.pk)
    clinic = patient.clinic
    require_role(actor, clinic, CLINICAL_WRITERS, "Recording a screening bolus")
    if not (observed_by or "").strip():
        raise therapy.CalculationError("observed_by", "Say who observed the response to the bolus.")
    if effect_duration_hours is not None and effect_duration_hours < 0:
        raise therapy.CalculationError(
            "effect_duration_hours", "The duration of the effect is a number of hours, 0 or more."
        )
    if given_at > clock.now():
        raise therapy.CalculationError(
            "given_at", "The time the bolus was given is in the future: record a bolus once it is given."
        )
    steps = clinical.screening_steps()
    if fraction(dose_mcg) not in steps:
        allowed = ", ".join(format(Decimal(s.numerator) / Decimal(s.denominator), "f") for s in steps)
        raise therapy.CalculationError(
            "dose_mcg",
            f"A screening bolus is one of the screening doses: {allowed or 'none configured'} mcg.",
        )
    boluses = selectors.screening_boluses(patient)
    if boluses:
        outcome = selectors.screening_outcome_of(boluses)
        if outcome.status != "next_step":
            raise therapy.CalculationError(
                "dose_mcg",
                f"The screening trial has ended ({outcome.reason}): no further bolus is recorded.",
                code="screening_trial_ended",
            )
        if given_at <= boluses[-1].given_at:
            raise therapy.CalculationError(
                "given_at",
                "A bolus is recorded after the previous one, given "
                f"{local_time(boluses[-1].given_at, clinic)}.",
            )
    trial = ScreeningTrial.objects.filter(patient=patient).first()
    if trial is None:
        trial = ScreeningTrial(patient=patient, created_by=actor)
        save_audited(trial, actor=actor, reason="screening trial started")
    bolus = ScreeningBolus(
        trial=trial,
        dose_mcg=dose_mcg,
        given_at=given_at,
        observed_by=observed_by.strip(),
        responded=responded,
        effect_duration_hours=effect_duration_hours,
        adverse_reactions=adverse_reactions or "",
        recorded_by=actor,
    )
    save_audited(bolus, actor=actor, reason="screening bolus recorded")
    return screening_trial_read(patient)
