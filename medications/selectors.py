"""Reads: a patient's oral medications with ORAL-1's warnings, their weaning plans, the
RISK-1 notices wherever a dose is decided, and the weaning steps due for the worklist."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Q

import therapy
from patients.models import Clinic, Patient
from pumpcare import clinical, clock
from therapy.oral import RiskFlags, WeaningCourse, oral_dose_notices, oral_titration_notice, risk_notices

from .models import ORAL_BACLOFEN, OralDrug, OralMedication, WeaningPlan, WeaningStep


def clinic_today(clinic: Clinic) -> date:
    return clock.now().astimezone(clinic.tz).date()


def courses(patient: Patient) -> list[OralMedication]:
    return list(
        OralMedication.objects.filter(patient=patient)
        .select_related("drug", "recorded_by", "weaning_plan", "patient__clinic")
        .order_by("started_on", "pk")
    )


def is_start(medication: OralMedication, others: list[OralMedication]) -> bool:
    """A course starts the drug unless another course of it ran up to (or over) its first day."""
    return not any(
        o.pk != medication.pk
        and o.drug_id == medication.drug_id
        and o.started_on < medication.started_on
        and (o.stopped_on is None or o.stopped_on >= medication.started_on)
        for o in others
    )


def dose_history(medication: OralMedication, others: list[OralMedication]) -> list[tuple[date, object]]:
    """The patient's daily doses of this drug before the course (0 from a stop not followed
    by another course the same day): ORAL-1's titration input."""
    history = []
    same = [o for o in others if o.drug_id == medication.drug_id and o.pk != medication.pk]
    for o in same:
        if o.started_on < medication.started_on:
            history.append((o.started_on, o.daily_dose_mg))
            if o.stopped_on is not None and o.stopped_on < medication.started_on:
                if not any(x.started_on == o.stopped_on for x in same):
                    history.append((o.stopped_on, 0))
    return history


def medication_notices(medication: OralMedication, others: list[OralMedication]) -> tuple:
    """ORAL-1's warnings on a course, computed from the current catalog and clinic setting."""
    patient = medication.patient
    drug = medication.drug.as_core()
    start = is_start(medication, others)
    found = list(
        oral_dose_notices(
            drug=drug,
            dose_mg=medication.daily_dose_mg / medication.times_per_day,
            times_per_day=medication.times_per_day,
            starting=start,
            birth_date=patient.birth_date,
            on=medication.started_on,
            older_adult_from_age_years=patient.clinic.older_adult_from_age_years,
        )
    )
    if not start:
        try:
            titration = oral_titration_notice(
                drug=drug,
                new_daily_dose_mg=medication.daily_dose_mg,
                starts_on=medication.started_on,
                history=dose_history(medication, others),
                spasticity_origin=patient.spasticity_origin,
                birth_date=patient.birth_date,
                limits=clinical.titration_limits(),
            )
        except therapy.CalculationError as error:
            titration = therapy.DoseNotice(
                "oral_titration_not_checked", f"The titration limit was not checked: {error.message}"
            )
        if titration is not None:
            found.append(titration)
    return tuple(found)


@dataclass
class MedicationRow:
    medication: OralMedication
    notices: tuple
    active: bool
    plan: WeaningPlan | None = None
    steps: list[WeaningStep] = field(default_factory=list)


def medication_rows(patient: Patient) -> list[MedicationRow]:
    """Every course, newest first, with its warnings and its weaning plan and steps."""
    all_courses = courses(patient)
    today = clinic_today(patient.clinic)
    plans = {
        p.medication_id: p
        for p in WeaningPlan.objects.filter(medication__patient=patient).select_related("created_by")
    }
    steps: dict[int, list[WeaningStep]] = {}
    for step in (
        WeaningStep.objects.filter(plan__in=plans.values()).select_related("done_by").order_by("number")
    ):
        steps.setdefault(step.plan_id, []).append(step)
    rows = []
    for medication in reversed(all_courses):
        plan = plans.get(medication.pk)
        rows.append(
            MedicationRow(
                medication,
                medication_notices(medication, all_courses),
                medication.stopped_on is None or medication.stopped_on > today,
                plan,
                steps.get(plan.pk, []) if plan else [],
            )
        )
    return rows


def weaning_courses(patient: Patient, *, excluding: int | None = None) -> list[WeaningCourse]:
    """WEAN-1's input: the patient's weaning plans, each from its first step's day to its last's."""
    found = []
    for plan in WeaningPlan.objects.filter(medication__patient=patient).select_related("medication__drug"):
        if plan.medication_id == excluding:
            continue
        days = list(plan.steps.order_by("number").values_list("day", flat=True))
        if days:
            found.append(
                WeaningCourse(plan.medication.drug.code, plan.medication.drug.name, days[0], days[-1])
            )
    return found


def takes_oral_baclofen(patient: Patient, on: date) -> bool:
    """WEAN-1: oral baclofen is on the patient's list on that day (not stopped by then)."""
    return (
        OralMedication.objects.filter(patient=patient, drug__code=ORAL_BACLOFEN)
        .filter(Q(stopped_on__isnull=True) | Q(stopped_on__gt=on))
        .exists()
    )


def oral_baclofen() -> OralDrug:
    return OralDrug.objects.get(code=ORAL_BACLOFEN)


def risk_flags(patient: Patient) -> tuple:
    """RISK-1: the notices a person deciding a dose sees about this patient (the stroke and
    benzodiazepine combination from the oral list today)."""
    clinic = patient.clinic
    today = clinic_today(clinic)
    benzodiazepines = sorted(
        {
            m.drug.name
            for m in OralMedication.objects.filter(patient=patient, drug__benzodiazepine=True).select_related(
                "drug"
            )
            if m.active_on(today) or m.started_on > today
        }
    )
    frankel, incomplete = clinical.frankel_a_starting_doses_mcg()
    return risk_notices(
        flags=RiskFlags(
            renal_impairment=patient.renal_impairment,
            obstructive_sleep_apnoea=patient.obstructive_sleep_apnoea,
            brain_injury=patient.brain_injury,
            old_age=patient.old_age,
            stroke_recovery=patient.stroke_recovery,
            complete_spinal_cord_lesion=patient.complete_spinal_cord_lesion,
        ),
        benzodiazepines=benzodiazepines,
        birth_date=patient.birth_date,
        on=today,
        older_adult_from_age_years=clinic.older_adult_from_age_years,
        frankel_a_starting_dose_mcg=frankel,
        incomplete_lesion_starting_dose_mcg=incomplete,
    )


def weaning_steps_due(clinic: Clinic, today: date) -> list[WeaningStep]:
    """The clinic's weaning steps due today or earlier and not ticked off, oldest first."""
    return list(
        WeaningStep.objects.filter(
            plan__medication__patient__clinic=clinic, day__lte=today, done_at__isnull=True
        )
        .select_related("plan__medication__drug", "plan__medication__patient")
        .order_by("day", "plan_id", "number")
    )
