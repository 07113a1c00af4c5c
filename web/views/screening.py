"""A patient's screening trial (SCREEN-1, START-1): the boluses given, the outcome and the
form that records the next bolus."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods

import therapy
from patients.models import Patient, PumpStatus
from patients.permissions import CLINICAL_WRITERS, clinics_of, role_at
from pumpcare import clinical, clock
from refills import screening, selectors

from .. import forms, wording
from .common import REFUSALS, refusal_of, render_page, status_of, submit


def _screening_steps() -> list[str]:
    """The configured screening doses (START-1), as the form offers them."""
    return [wording.mcg(step) for step in clinical.screening_steps()]


def screening_read(patient, clinic) -> tuple[object, dict | None]:
    """The patient's trial, or its refusal (steps or prolonged-effect hours not configured)."""
    try:
        return screening.screening_trial_read(patient), None
    except REFUSALS as error:
        return screening.ScreeningTrialState(selectors.screening_boluses(patient), None), refusal_of(
            error, clinic
        )


@login_required
@require_http_methods(["GET", "POST"])
def screening_page(request, patient_id):
    """A patient's screening trial: the boluses given, START-1's outcome in words and the
    form that records the next bolus (SCREEN-1)."""
    patient = get_object_or_404(
        Patient.objects.filter(clinic__in=clinics_of(request.user)).select_related("clinic"), pk=patient_id
    )
    clinic = patient.clinic
    state, refusal = screening_read(patient, clinic)
    outcome = state.outcome
    steps = _screening_steps()
    next_dose = (
        wording.mcg(outcome.next_dose_mcg) if outcome and outcome.next_dose_mcg else (steps[:1] or [""])[0]
    )
    form = forms.ServiceForm(
        forms.BOLUS_FIELDS,
        {
            "dose_mcg": next_dose,
            "given_at": clock.now().astimezone(clinic.tz).strftime("%Y-%m-%dT%H:%M"),
            "observed_by": "",
            "responded": "",
            "effect_duration_hours": "",
            "adverse_reactions": "",
        },
    )
    if request.method == "POST":
        form = forms.ServiceForm.from_post(forms.BOLUS_FIELDS, request.POST)
        offset, form.offset_choices = forms.offset_choice(
            form.values["given_at"], request.POST.get("utc_offset", ""), clinic.tz
        )
        form.values["utc_offset"] = str(offset) if offset is not None else ""
        done = submit(
            form,
            clinic,
            forms.ScreeningBolusInput,
            screening.screening_bolus_record,
            optional=("effect_duration_hours",),
            context={"request": request, "clinic_tz": clinic.tz, "utc_offset_minutes": offset},
            actor=request.user,
            patient=patient,
        )
        if done is not None:
            state, data = done
            messages.success(
                request,
                f"Screening bolus of {wording.mcg(data['dose_mcg'])} mcg given "
                f"{therapy.units.instant_text(data['given_at'], clinic.tz)} recorded. "
                + (f"{wording.screening_outcome(state.outcome)}." if state.outcome else ""),
            )
            return redirect("web:screening", patient.pk)
    pumps = list(patient.pumps.order_by("-implanted_on", "-pk"))
    return render_page(
        request,
        "web/screening.html",
        clinic,
        {
            "patient": patient,
            "pump": next((p for p in pumps if p.status == PumpStatus.ACTIVE), pumps[0] if pumps else None),
            "boluses": state.boluses,
            "outcome": outcome,
            "outcome_words": wording.screening_outcome(outcome) if outcome else "",
            "refusal": refusal,
            "steps": steps,
            "form": form,
            "ended": bool(outcome and outcome.status != "next_step"),
            "can_record": role_at(request.user, clinic) in CLINICAL_WRITERS,
        },
        status=status_of(form),
    )
