"""A patient's oral medications (ORAL-1's warnings), their weaning plans (WEAN-1: written and
changed by a physician, each step ticked off by a nurse) and the patient's risk flags
(RISK-1)."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods, require_POST

import therapy
from medications import selectors, services
from medications.api import (
    OralMedicationSerializer,
    StopSerializer,
    WeaningPlanEditSerializer,
    WeaningPlanInputSerializer,
)
from medications.models import OralDrug, OralMedication, WeaningPlan, WeaningStep
from patients.models import RISK_FLAGS, Patient, PumpStatus
from patients.permissions import CLINICAL_WRITERS, PATIENT_WRITERS, PRESCRIBERS, clinics_of, role_at
from patients.services import patient_update
from pumpcare import clock

from .. import forms, wording
from .common import REFUSALS, refusal_of, render_page

ADD_FIELDS = ["drug", "dose_mg", "times_per_day", "started_on", "prescriber"]
PLAN_ROWS = 6  # rows of the step table the page offers; a plan may use fewer
NEW_ROWS = 3  # empty rows the change form offers after the steps not done
_ROW_FIELD = re.compile(r"^(id|day|dose)_(\d{1,4})$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RISK_WORDS = {
    "renal_impairment": "Kidney impairment",
    "obstructive_sleep_apnoea": "Obstructive sleep apnoea",
    "brain_injury": "Brain injury",
    "old_age": "Older adult",
    "stroke_recovery": "Recovering from a stroke",
    "complete_spinal_cord_lesion": "Complete spinal cord lesion (Frankel A)",
}


def _patient(request, patient_id) -> Patient:
    return get_object_or_404(
        Patient.objects.filter(clinic__in=clinics_of(request.user)).select_related("clinic"), pk=patient_id
    )


def _page(request, patient, *, form=None, refusal=None, status=200):
    clinic = patient.clinic
    role = role_at(request.user, clinic)
    pumps = list(patient.pumps.order_by("-implanted_on", "-pk"))
    today = selectors.clinic_today(clinic)
    if form is None:
        form = forms.ServiceForm(
            ADD_FIELDS,
            {
                "drug": "",
                "dose_mg": "",
                "times_per_day": "",
                "started_on": today.isoformat(),
                "prescriber": "",
            },
        )
    return render_page(
        request,
        "web/medications.html",
        clinic,
        {
            "patient": patient,
            "pump": next((p for p in pumps if p.status == PumpStatus.ACTIVE), pumps[0] if pumps else None),
            "rows": selectors.medication_rows(patient),
            "risk_flags": selectors.risk_flags(patient),
            "on_medications_page": True,
            "risk_choices": [(name, RISK_WORDS[name], getattr(patient, name)) for name in RISK_FLAGS],
            "drugs": OralDrug.objects.all(),
            "form": form,
            "refusal": refusal,
            "today": today,
            "plan_rows": range(1, PLAN_ROWS + 1),
            "new_rows": range(1, NEW_ROWS + 1),
            "can_record": role in CLINICAL_WRITERS,
            "can_plan": role in PRESCRIBERS,
            "can_flag": role in PATIENT_WRITERS,
        },
        status=status,
    )


def _refused(request, patient, error, **kwargs):
    refusal = refusal_of(error, patient.clinic)
    return _page(
        request, patient, refusal=refusal, status=403 if refusal["code"] == "role_required" else 400, **kwargs
    )


@login_required
@require_http_methods(["GET", "POST"])
def medications_page(request, patient_id):
    """The oral list with ORAL-1's warnings, weaning plans, risk flags; POST adds a course."""
    patient = _patient(request, patient_id)
    if request.method == "GET":
        return _page(request, patient)
    form = forms.ServiceForm.from_post(ADD_FIELDS, request.POST)
    data = form.validated(OralMedicationSerializer)
    if data is None:
        return _page(request, patient, form=form, status=400)
    try:
        medication, warnings = services.oral_medication_add(actor=request.user, patient=patient, **data)
    except REFUSALS as error:
        return _refused(request, patient, error, form=form)
    messages.success(
        request,
        f"{medication.drug.name} {wording.mg(medication.dose_mg)} mg {medication.times_per_day} times a day "
        f"from {medication.started_on:%a %-d %b %Y} recorded.",
    )
    for warning in warnings:
        messages.warning(request, warning.message)
    return redirect("web:medications", patient.pk)


def _medication(request, medication_id) -> OralMedication:
    return get_object_or_404(
        OralMedication.objects.filter(patient__clinic__in=clinics_of(request.user)).select_related(
            "patient__clinic", "drug"
        ),
        pk=medication_id,
    )


def _validated(serializer_class, data: dict):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=False)
    return serializer


@login_required
@require_POST
def medication_stop(request, medication_id):
    medication = _medication(request, medication_id)
    patient = medication.patient
    serializer = _validated(StopSerializer, {"stopped_on": request.POST.get("stopped_on", "").strip()})
    try:
        if serializer.errors:
            raise _serializer_error(serializer, {"stopped_on": "stopped_on"})
        services.oral_medication_stop(actor=request.user, medication=medication, **serializer.validated_data)
    except REFUSALS as error:
        return _refused(request, patient, error)
    messages.success(request, f"{medication.drug.name} stopped.")
    return redirect("web:medications", patient.pk)


@login_required
@require_POST
def weaning_plan(request, medication_id):
    """WEAN-1: the physician's steps (day, dose per intake), filled rows only, in order."""
    medication = _medication(request, medication_id)
    patient = medication.patient
    steps = []
    for i in range(1, PLAN_ROWS + 1):
        day, dose = request.POST.get(f"day_{i}", "").strip(), request.POST.get(f"dose_{i}", "").strip()
        if day or dose:
            steps.append({"day": day, "dose_mg": dose})
    serializer = _validated(
        WeaningPlanInputSerializer,
        {"steps": steps, "override_reason": request.POST.get("override_reason", "").strip()},
    )
    try:
        if serializer.errors:
            raise _serializer_error(serializer, {})
        plan, notices = services.weaning_plan_create(
            actor=request.user, medication=medication, **serializer.validated_data
        )
    except REFUSALS as error:
        return _refused(request, patient, error)
    messages.success(request, f"Weaning plan of {medication.drug.name} recorded: {plan.steps.count()} steps.")
    for notice in notices:
        messages.warning(request, notice.message)
    return redirect("web:medications", patient.pk)


@login_required
@require_POST
def weaning_plan_edit(request, plan_id):
    """WEAN-1: the physician's changes to the steps not done: each row of a step not done
    keeps its id (ticked "remove": the step goes), an empty row filled adds a step; rows go
    in the order of their days; the reason is required. The service checks the whole plan
    again and never changes a step ticked off."""
    plan = get_object_or_404(
        WeaningPlan.objects.filter(medication__patient__clinic__in=clinics_of(request.user)).select_related(
            "medication__patient__clinic", "medication__drug"
        ),
        pk=plan_id,
    )
    patient = plan.medication.patient
    rows = []
    for i in sorted({int(m[2]) for key in request.POST if (m := _ROW_FIELD.match(key))}):
        step_id = request.POST.get(f"id_{i}", "").strip()
        day, dose = request.POST.get(f"day_{i}", "").strip(), request.POST.get(f"dose_{i}", "").strip()
        if request.POST.get(f"remove_{i}") == "on" or not (day or dose):
            continue
        rows.append({"id": step_id or None, "day": day, "dose_mg": dose})
    # input type=date sends YYYY-MM-DD, which sorts as the days do; anything else goes last
    rows.sort(key=lambda row: (not _ISO_DAY.match(row["day"]), row["day"]))
    serializer = _validated(
        WeaningPlanEditSerializer,
        {
            "steps": rows,
            "reason": request.POST.get("reason", "").strip(),
            "override_reason": request.POST.get("override_reason", "").strip(),
        },
    )
    try:
        if serializer.errors:
            raise _serializer_error(serializer, {})
        plan, notices = services.weaning_plan_edit(actor=request.user, plan=plan, **serializer.validated_data)
    except REFUSALS as error:
        refusal = refusal_of(error, patient.clinic)
        if refusal["field"].startswith("steps"):
            refusal["label"] = ""  # the message names the step by its number in the plan
        return _page(
            request, patient, refusal=refusal, status=403 if refusal["code"] == "role_required" else 400
        )
    steps = list(plan.steps.order_by("number"))
    left = [s for s in steps if s.done_at is None]
    messages.success(
        request,
        f"Weaning plan of {plan.medication.drug.name} changed: {len(steps)} steps, {len(left)} still to do"
        + (f", the last on {left[-1].day:%a %-d %b %Y}." if left else "."),
    )
    for notice in notices:
        messages.warning(request, notice.message)
    return redirect("web:medications", patient.pk)


@login_required
@require_POST
def weaning_step_done(request, step_id):
    step = get_object_or_404(
        WeaningStep.objects.filter(
            plan__medication__patient__clinic__in=clinics_of(request.user)
        ).select_related("plan__medication__patient__clinic", "plan__medication__drug"),
        pk=step_id,
    )
    patient = step.plan.medication.patient
    try:
        services.weaning_step_done(actor=request.user, step=step)
    except REFUSALS as error:
        return _refused(request, patient, error)
    messages.success(
        request,
        f"Step {step.number} of the weaning of {step.plan.medication.drug.name} "
        f"({wording.mg(step.dose_mg)} mg from {step.day:%a %-d %b %Y}) ticked off.",
    )
    return redirect("web:medications", patient.pk)


@login_required
@require_POST
def risk_flags(request, patient_id):
    """RISK-1: the patient's flags as ticked, with the reason in the history."""
    patient = _patient(request, patient_id)
    changes = {name: request.POST.get(name) == "on" for name in RISK_FLAGS}
    try:
        patient_update(
            actor=request.user,
            patient=patient,
            changes=changes,
            reason=request.POST.get("reason", "").strip() or "risk flags updated",
        )
    except REFUSALS as error:
        return _refused(request, _patient(request, patient_id), error)
    messages.success(request, f"Risk flags saved at {clock.now().astimezone(patient.clinic.tz):%H:%M}.")
    return redirect("web:medications", patient.pk)


def _serializer_error(serializer, _names) -> therapy.CalculationError:
    """A serializer's first error as the refusal the page shows (field and message)."""
    field, detail = _first_error(serializer.errors)
    return therapy.CalculationError(field, detail)


def _first_error(errors, prefix=""):
    if isinstance(errors, dict):
        name, value = next(iter(errors.items()))
        return _first_error(value, f"{prefix}.{name}" if prefix else name)
    if isinstance(errors, list):
        for i, item in enumerate(errors):
            if item:
                if isinstance(item, dict):
                    return _first_error(item, f"{prefix}[{i}]")
                if isinstance(item, list):
                    return _first_error(item, prefix)
                return prefix, str(item)
    return prefix, str(errors)
