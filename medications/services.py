"""Writes: oral medications (ORAL-1), weaning plans and their steps (WEAN-1). One transaction
per request, every record audited; a refusal writes nothing."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from django.db import transaction

import therapy
from patients.models import Patient, fraction
from patients.permissions import CLINICAL_WRITERS, PRESCRIBERS, require_role
from patients.services import save_audited
from pumpcare import clock
from therapy.oral import check_weaning_plan, oral_daily_dose_mg

from . import selectors
from .models import OralDrug, OralMedication, WeaningPlan, WeaningStep

_STEP_FIELD = re.compile(r"^steps\[(\d+)\](.*)$")


def _day_text(day: date) -> str:
    return therapy.units.day_text(day)


@transaction.atomic
def oral_medication_add(
    *,
    actor,
    patient: Patient,
    drug: OralDrug,
    dose_mg: Decimal,
    times_per_day: int,
    started_on: date,
    prescriber: str,
    reason: str = "",
) -> tuple[OralMedication, tuple]:
    """Record a course of an oral drug. A course of the same drug still running is a change
    of dose: it ends the day this one starts. Returns the course and ORAL-1's warnings (a
    warning never stops it: the list records what the patient takes)."""
    patient = Patient.objects.select_for_update().select_related("clinic").get(pk=patient.pk)
    require_role(actor, patient.clinic, CLINICAL_WRITERS, "Recording an oral medication")
    therapy.units.check_year(started_on, "started_on")
    if not (prescriber or "").strip():
        raise therapy.CalculationError("prescriber", "Say who prescribed it (a name).")
    oral_daily_dose_mg(fraction(dose_mg), times_per_day)  # refuses 0 mg or 0 times a day
    running = list(
        OralMedication.objects.select_for_update()
        .filter(patient=patient, drug=drug, stopped_on__isnull=True)
        .order_by("started_on")
    )
    for course in running:
        if course.started_on >= started_on:
            raise therapy.CalculationError(
                "started_on",
                f"{drug.name} is already recorded from {_day_text(course.started_on)}: a new dose "
                "starts after that day (or stop that one first).",
            )
        if hasattr(course, "weaning_plan"):
            raise therapy.CalculationError(
                "drug",
                f"{drug.name} is being weaned by a plan: its doses follow the plan's steps.",
                code="weaning_in_progress",
            )
    for course in running:
        course.stopped_on = started_on
        save_audited(course, actor=actor, reason=reason or "dose changed")
    medication = OralMedication(
        patient=patient,
        drug=drug,
        dose_mg=dose_mg,
        times_per_day=times_per_day,
        started_on=started_on,
        prescriber=prescriber.strip(),
        recorded_by=actor,
    )
    save_audited(medication, actor=actor, reason=reason or "oral medication recorded")
    return medication, selectors.medication_notices(medication, selectors.courses(patient))


@transaction.atomic
def oral_medication_stop(
    *, actor, medication: OralMedication, stopped_on: date, reason: str = ""
) -> OralMedication:
    medication = (
        OralMedication.objects.select_for_update()
        .select_related("patient__clinic", "drug")
        .get(pk=medication.pk)
    )
    require_role(actor, medication.patient.clinic, CLINICAL_WRITERS, "Stopping an oral medication")
    therapy.units.check_year(stopped_on, "stopped_on")
    if medication.stopped_on is not None:
        raise therapy.CalculationError(
            "stopped_on", f"{medication.drug.name} was already stopped on {_day_text(medication.stopped_on)}."
        )
    if stopped_on < medication.started_on:
        raise therapy.CalculationError(
            "stopped_on",
            f"A medication stops on or after the day it started ({_day_text(medication.started_on)}).",
        )
    medication.stopped_on = stopped_on
    save_audited(medication, actor=actor, reason=reason or "oral medication stopped")
    return medication


def _checked_plan(medication, patient, ordered, override_reason: str, *, check_first_day: bool = True):
    """WEAN-1 for a plan's steps ``ordered`` (day, exact dose): each day a real one, the first
    after the medication started (``check_first_day``: unless a step is done already), the
    plan against the patient's other weaning courses. Returns the core's notices."""
    for i, (day, _dose) in enumerate(ordered):
        therapy.units.check_year(day, f"steps[{i}].day")
    if check_first_day and ordered and ordered[0][0] <= medication.started_on:
        raise therapy.CalculationError(
            "steps[0].day",
            f"The first step comes after the day {medication.drug.name} started at this dose "
            f"({_day_text(medication.started_on)}).",
            code="weaning_steps_invalid",
        )
    first = ordered[0][0] if ordered else medication.started_on
    return check_weaning_plan(
        drug=medication.drug.as_core(),
        current_dose_mg=fraction(medication.dose_mg),
        steps=ordered,
        others=selectors.weaning_courses(patient, excluding=medication.pk),
        takes_first_drug=selectors.takes_oral_baclofen(patient, first),
        first_drug=selectors.oral_baclofen().as_core(),
        override_reason=override_reason,
    )


@transaction.atomic
def weaning_plan_create(
    *, actor, medication: OralMedication, steps: list[dict], override_reason: str = ""
) -> tuple[WeaningPlan, tuple]:
    """WEAN-1: a prescriber's plan to wean one oral medication, in dated steps (a dose per
    intake from each day; 0 mg ends the drug). One drug at a time, oral baclofen first
    unless the prescriber overrides with a reason (kept in the plan and its history)."""
    medication = OralMedication.objects.select_related("patient__clinic", "drug").get(pk=medication.pk)
    patient = Patient.objects.select_for_update().get(pk=medication.patient_id)
    require_role(actor, patient.clinic, PRESCRIBERS, "A weaning plan")
    if WeaningPlan.objects.filter(medication=medication).exists():
        raise therapy.CalculationError(
            "medication", f"{medication.drug.name} already has a weaning plan.", code="weaning_plan_exists"
        )
    if medication.stopped_on is not None:
        raise therapy.CalculationError(
            "medication",
            f"{medication.drug.name} was stopped on {_day_text(medication.stopped_on)}: nothing to wean.",
        )
    ordered = [(s["day"], fraction(s["dose_mg"])) for s in steps]
    notices = _checked_plan(medication, patient, ordered, override_reason)
    plan = WeaningPlan(
        medication=medication,
        override_reason=(override_reason or "").strip() if notices else "",
        created_by=actor,
        created_at=clock.now(),
    )
    save_audited(plan, actor=actor, reason=plan.override_reason or "weaning plan")
    for number, (day, _dose) in enumerate(ordered, start=1):
        step = WeaningStep(plan=plan, number=number, day=day, dose_mg=steps[number - 1]["dose_mg"])
        save_audited(step, actor=actor, reason="weaning step planned")
    return plan, notices


@transaction.atomic
def weaning_step_done(*, actor, step: WeaningStep) -> WeaningStep:
    """A nurse ticks off a weaning step (who, when): on or after its day, after the steps
    before it. The last step at 0 mg stops the medication on its day."""
    step = (
        WeaningStep.objects.select_for_update()
        .select_related("plan__medication__patient__clinic", "plan__medication__drug")
        .get(pk=step.pk)
    )
    medication = step.plan.medication
    clinic = medication.patient.clinic
    require_role(actor, clinic, CLINICAL_WRITERS, "Ticking off a weaning step")
    if step.done_at is not None:
        raise therapy.CalculationError(
            "step",
            f"Step {step.number} was ticked off by {step.done_by} on "
            f"{therapy.units.instant_text(step.done_at, clinic.tz)}.",
            code="weaning_step_done",
        )
    today = selectors.clinic_today(clinic)
    if step.day > today:
        raise therapy.CalculationError(
            "step", f"Step {step.number} is due on {_day_text(step.day)}: tick it off on or after that day."
        )
    pending = step.plan.steps.filter(number__lt=step.number, done_at__isnull=True).order_by("number").first()
    if pending is not None:
        raise therapy.CalculationError(
            "step", f"Tick off step {pending.number} first: steps follow one another."
        )
    step.done_at = clock.now()
    step.done_by = actor
    save_audited(step, actor=actor, reason="weaning step done")
    if step.dose_mg == 0 and medication.stopped_on is None:
        medication.stopped_on = step.day
        save_audited(medication, actor=actor, reason="weaned off (last step done)")
    return step


def _shifted(error: therapy.CalculationError, done: int) -> therapy.CalculationError:
    """A refusal about the whole plan's ``steps[i]`` named as the edit's input names it: the
    steps not done, so ``steps[i - done]`` (the message keeps the plan's step numbers)."""
    match = _STEP_FIELD.match(error.field)
    if match is None or done == 0:
        return error
    index = int(match.group(1)) - done
    field = f"steps[{index}]{match.group(2)}" if index >= 0 else "steps"
    return therapy.CalculationError(field, error.message, error.code, **error.details)


@transaction.atomic
def weaning_plan_edit(
    *, actor, plan: WeaningPlan, steps: list[dict], reason: str, override_reason: str = ""
) -> tuple[WeaningPlan, tuple]:
    """WEAN-1: a prescriber changes the steps of a weaning plan not yet ticked off. ``steps``
    are the plan's steps from the first one not done, in order, as they are to be: one with
    the ``id`` of a step not done changes that step (day, dose), one without adds a step, and
    a step not done that is not listed is removed. A step ticked off is never changed: it
    stays as done, and naming it is refused. The whole plan (done steps and the new ones) is
    checked again by WEAN-1 (doses going down, one drug at a time, oral baclofen first: the
    plan's override reason stands unless a new one is given). The reason is required and is
    kept in the history of every step changed, added or removed."""
    plan = (
        WeaningPlan.objects.select_for_update()
        .select_related("medication__patient__clinic", "medication__drug")
        .get(pk=plan.pk)
    )
    medication = plan.medication
    patient = Patient.objects.select_for_update().get(pk=medication.patient_id)
    require_role(actor, patient.clinic, PRESCRIBERS, "Changing a weaning plan")
    if medication.stopped_on is not None:
        raise therapy.CalculationError(
            "medication",
            f"{medication.drug.name} was stopped on {_day_text(medication.stopped_on)}: its weaning is over.",
            code="weaning_over",
        )
    reason = (reason or "").strip()
    if not reason:
        raise therapy.CalculationError("reason", "Say why the weaning plan changes (kept in the history).")
    current = list(plan.steps.select_for_update(of=("self",)).select_related("done_by").order_by("number"))
    done = [s for s in current if s.done_at is not None]
    pending = {s.pk: s for s in current if s.done_at is None}
    by_id = {s.pk: s for s in current}
    listed: list[WeaningStep | None] = []
    for i, given in enumerate(steps):
        step_id = given.get("id")
        if step_id is None:
            listed.append(None)
            continue
        step = by_id.get(step_id)
        if step is None:
            raise therapy.CalculationError(
                f"steps[{i}].id", f"Step id {step_id} is not a step of this weaning plan.", code="not_found"
            )
        if step.done_at is not None:
            raise therapy.CalculationError(
                f"steps[{i}].id",
                f"Step {step.number} was ticked off by {step.done_by} on "
                f"{therapy.units.instant_text(step.done_at, patient.clinic.tz)}: a step done is not changed.",
                code="weaning_step_done",
            )
        if step in listed:
            raise therapy.CalculationError(f"steps[{i}].id", f"Step {step.number} is listed twice.")
        listed.append(step)
    kept = [s for s in listed if s is not None]
    if kept != sorted(kept, key=lambda s: s.number):
        raise therapy.CalculationError(
            "steps",
            "Steps keep their order: change a step's day and dose rather than moving it.",
            code="weaning_steps_invalid",
        )
    ordered = [(s.day, fraction(s.dose_mg)) for s in done] + [
        (given["day"], fraction(given["dose_mg"])) for given in steps
    ]
    override = (override_reason or "").strip() or plan.override_reason
    try:
        notices = _checked_plan(medication, patient, ordered, override, check_first_day=not done)
    except therapy.CalculationError as error:
        raise _shifted(error, len(done)) from error
    new_override = override if notices else ""
    if new_override != plan.override_reason:
        plan.override_reason = new_override
        save_audited(plan, actor=actor, reason=f"weaning plan changed: {reason}")
    for step in pending.values():
        if step not in kept:
            step._history_user = actor
            step._change_reason = f"weaning step removed: {reason}"
            step.delete()
    # Numbers follow the listed order after the steps done. A step keeps its relative order,
    # so moving those that go up from the last and those that go down from the first never
    # meets a number still held (the plan's numbers are unique).
    numbered = [(len(done) + 1 + i, listed[i], steps[i]) for i in range(len(steps))]
    up = [row for row in numbered if row[1] is not None and row[0] > row[1].number]
    rest = [row for row in numbered if row[1] is not None and row[0] <= row[1].number]
    for number, step, given in [*reversed(up), *rest]:
        if (step.number, step.day, step.dose_mg) != (number, given["day"], given["dose_mg"]):
            step.number, step.day, step.dose_mg = number, given["day"], given["dose_mg"]
            save_audited(step, actor=actor, reason=f"weaning step changed: {reason}")
    for number, step, given in numbered:
        if step is None:
            added = WeaningStep(plan=plan, number=number, day=given["day"], dose_mg=given["dose_mg"])
            save_audited(added, actor=actor, reason=f"weaning step added: {reason}")
    return plan, notices
