"""The oral medications' part of a patient's timeline: each course started and stopped
(ORAL-1), each weaning plan and the steps a nurse ticked off (WEAN-1)."""

from __future__ import annotations

from decimal import Decimal

from patients.models import Patient
from patients.timeline import Event, on_day, register

from .models import OralMedication, WeaningStep


def _mg(value: Decimal) -> str:
    return format(value.normalize(), "f")


def medication_events(patient: Patient) -> list[Event]:
    events = []
    courses = OralMedication.objects.filter(patient=patient).select_related(
        "drug", "weaning_plan__created_by"
    )
    for course in courses:
        dose = f"{_mg(course.dose_mg)} mg {course.times_per_day}× a day"
        events.append(
            Event(
                at=on_day(course.started_on, patient),
                kind="oral_started",
                title=f"{course.drug.name} started: {dose}",
                by=course.prescriber,
                all_day=True,
            )
        )
        if course.stopped_on:
            events.append(
                Event(
                    at=on_day(course.stopped_on, patient),
                    kind="oral_stopped",
                    title=f"{course.drug.name} stopped",
                    by=course.prescriber,
                    all_day=True,
                )
            )
        plan = getattr(course, "weaning_plan", None)
        if plan is not None:
            events.append(
                Event(
                    at=plan.created_at,
                    kind="weaning_plan",
                    title=f"Weaning plan: {course.drug.name}",
                    detail=f"override: {plan.override_reason}" if plan.override_reason else "",
                    by=plan.created_by.username,
                )
            )
    steps = WeaningStep.objects.filter(
        plan__medication__patient=patient, done_at__isnull=False
    ).select_related("plan__medication__drug", "done_by")
    for step in steps:
        events.append(
            Event(
                at=step.done_at,
                kind="weaning_step",
                title=f"Weaning step {step.number} of {step.plan.medication.drug.name}: {_mg(step.dose_mg)} mg",
                by=step.done_by.username if step.done_by else "",
            )
        )
    return events


def register_timeline() -> None:
    register("medications", medication_events)
