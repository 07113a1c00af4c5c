"""The refill form and its live check (the preview panel the form's script fetches)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from medications import selectors as medication_selectors
from patients.permissions import CLINICAL_WRITERS, PRESCRIBERS, role_at
from pumpcare import clock
from refills import selectors, services

from .. import forms, wording
from .common import REFUSALS, pump_or_404, refusal_of, render_page
from .screening import screening_read


def _refill_context(request, pump, form, *, preview=None, refusal=None, extra_rows=0, page=True):
    clinic = pump.patient.clinic
    role = role_at(request.user, clinic)
    return {
        "pump": pump,
        "patient": pump.patient,
        "risk_flags": medication_selectors.risk_flags(pump.patient),
        "form": form.padded(extra_rows),
        "modes": forms.MODES,
        "sign_groups": forms.SIGN_GROUPS,
        "preview": preview,
        "refusal": refusal,
        "last_refill": selectors.last_refill(pump),
        "supplied": selectors.last_refill(pump).drug.supplied_concentrations_mcg_per_ml
        if selectors.last_refill(pump)
        else ["500", "1000", "2000"],
        "is_prescriber": role in PRESCRIBERS,
        "can_refill": role in CLINICAL_WRITERS,
        "override_needed": bool(refusal and refusal["code"] in OVERRIDE_CODES),
        "override_codes": OVERRIDE_CODES,
        "start_of_therapy": _start_of_therapy(pump) if page else None,  # not in the live check's panel
    }


# The refusals a prescriber may override with a written reason (TITRATE-1, TITRATE-2, START-2).
OVERRIDE_CODES = (
    "titration_limit_exceeded",
    "discontinuation_requires_override",
    "above_starting_dose",
    "screening_not_positive",
)


def _start_of_therapy(pump) -> dict | None:
    """START-2 on the refill form: when this fill starts the patient's therapy (no dose of
    theirs recorded on any pump), the screening trial's outcome it is checked against, in
    words (None when the patient's therapy has already started)."""
    patient = pump.patient
    if selectors.patient_dose_history(patient):
        return None
    state, refusal = screening_read(patient, patient.clinic)
    outcome = state.outcome
    return {
        "outcome": outcome,
        "words": wording.screening_outcome(outcome) if outcome else "",
        "refusal": refusal,
        "patient": patient,
    }


def _run(request, pump, form, service):
    """Validate with the API's serializer, then run ``service`` (the preview or the real
    write). Returns (change, refusal)."""
    data = forms.validated(form, pump.patient.clinic.tz, request)
    if data is None:
        return None, {"field": "", "message": "Some fields need correcting (see below).", "code": "invalid"}
    try:
        return service(actor=request.user, pump=pump, **data), None
    except REFUSALS as error:
        refusal = refusal_of(error, pump.patient.clinic)
        name = refusal["field"].split(".")[0].split("[")[0] or "general"
        where = refusal["field"][len(name) :].lstrip(".")
        # Under its field on the form; a refusal of a part of it says which part.
        inner = wording.field_label(where) if where else ""
        form.add_error(name, f"{inner}: {refusal['message']}" if inner else refusal["message"])
        return None, refusal


@login_required
@require_http_methods(["GET", "POST"])
def refill_form(request, pump_id):
    pump = pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    if request.method == "GET":
        last = selectors.last_refill(pump)
        current = pump.prescriptions.order_by("-effective_at").first()
        carried = None
        if last is None and (replaced := selectors.replaced_pump(pump)) is not None:
            # IMPLANT-1: a replacement continues the patient's concentration and prescription
            carried = selectors.last_refill(replaced)
            current = replaced.prescriptions.order_by("-effective_at").first()
        form = forms.form_initial(
            performed_at=clock.now().astimezone(clinic.tz),
            last_refill=last,
            current=current,
            carried_from=carried,
        )
        return render_page(request, "web/refill_form.html", clinic, _refill_context(request, pump, form))
    form = forms.form_from_post(request.POST)
    action = request.POST.get("action", "check")
    if action == "add_row":
        return render_page(
            request, "web/refill_form.html", clinic, _refill_context(request, pump, form, extra_rows=1)
        )
    if action == "save":
        change, refusal = _run(request, pump, form, services.refill_record)
        if change is not None:
            messages.success(request, _saved_message(change))
            for warning in change.warnings:  # START-2, DOSE-4, IMPLANT-1: saved, but said
                messages.warning(request, wording.humane(warning["message"], clinic.tz))
            return redirect(reverse("web:pump", args=[pump.pk]) + "#appointments")
        return render_page(
            request,
            "web/refill_form.html",
            clinic,
            _refill_context(request, pump, form, refusal=refusal),
            status=403 if refusal["code"] == "role_required" else 400,
        )
    change, refusal = _run(request, pump, form, services.refill_preview)
    return render_page(
        request,
        "web/refill_form.html",
        clinic,
        _refill_context(request, pump, form, preview=change, refusal=refusal),
    )


@login_required
@require_POST
def refill_preview(request, pump_id):
    """The live check (fetched by the form's script on every change): the preview partial."""
    pump = pump_or_404(request, pump_id)
    form = forms.form_from_post(request.POST)
    change, refusal = _run(request, pump, form, services.refill_preview)
    context = _refill_context(request, pump, form, preview=change, refusal=refusal, page=False)
    context["clinic"] = pump.patient.clinic
    context["live"] = True
    response = render(request, "web/_refill_preview.html", context)
    # The script shows only an answer that says it is this panel (never an error page).
    response["X-Live-Check"] = "refill-preview"
    return response


def _saved_message(change) -> str:
    projection = change.projection
    parts = ["Refill recorded."]
    if change.refill.bridge_bolus:
        b = change.refill.bridge_bolus
        parts.append(
            f"Bridge bolus: {b['path_volume_ml']} mL over {b['duration_hours']} h "
            f"(programmed {b['programmed_dose_mcg']} mcg, delivered {b['delivered_dose_mcg']} mcg)."
        )
    if projection["refill_by"]:
        parts.append(f"Refill by {projection['refill_by']:%a %d %b %Y}: book the next refill below.")
    parts.append("The emergency card is now stale: print a new one.")
    return " ".join(parts)
