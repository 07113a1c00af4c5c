"""The monitoring after a pump's implant fill (IMPLANT-1): at least 8 hours from the start of
delivery, recorded with its start, end, observer and findings; the form records it, then
completes it with its end."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from patients.permissions import CLINICAL_WRITERS, role_at
from refills import implant, selectors

from .. import forms
from .common import pump_or_404, render_page, status_of, submit


def _local(at, clinic) -> str:
    return at.astimezone(clinic.tz).strftime("%Y-%m-%dT%H:%M") if at else ""


@login_required
@require_http_methods(["GET", "POST"])
def implant_monitoring_page(request, pump_id):
    pump = pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    state = implant.implant_monitoring_read(pump)
    if state is None:
        raise Http404("This pump has no recorded implant fill.")
    record = state.record
    form = forms.ServiceForm(
        forms.MONITORING_FIELDS,
        {
            "started_at": _local(record.started_at if record else state.implant_fill.performed_at, clinic),
            "ended_at": _local(record.ended_at, clinic) if record else "",
            "observed_by": record.observed_by if record else "",
            "findings": record.findings if record else "",
        },
    )
    if request.method == "POST":
        form = forms.ServiceForm.from_post(forms.MONITORING_FIELDS, request.POST)
        done = submit(
            form,
            clinic,
            forms.ImplantMonitoringInput,
            implant.implant_monitoring_record,
            optional=("ended_at",),
            context={"request": request, "clinic_tz": clinic.tz},
            actor=request.user,
            pump=pump,
        )
        if done is not None:
            state, _ = done
            messages.success(request, f"Monitoring after the implant saved. {state.verdict.message}")
            return redirect("web:pump", pump.pk)
    return render_page(
        request,
        "web/implant_monitoring.html",
        clinic,
        {
            "pump": pump,
            "patient": pump.patient,
            "state": state,
            "flag": selectors.implant_monitoring_flags([pump.pk]).get(pump.pk),
            "form": form,
            "can_record": role_at(request.user, clinic) in CLINICAL_WRITERS,
        },
        status=status_of(form),
    )
