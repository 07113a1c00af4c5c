"""Voiding the pump's latest entry, entered by mistake (a refill, or a prescription between
refills by a prescriber): kept in the history with who and why; the right entry is then
recorded as usual (the refill form), and the record follows at once."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from patients.models import PumpStatus
from patients.permissions import CLINICAL_WRITERS, PRESCRIBERS, role_at
from refills import corrections
from refills.models import Prescription, Refill
from refills.serializers import VoidInputSerializer
from refills.services import local_time

from .. import forms
from .common import pump_or_404, render_page, status_of, submit


def latest_entry(pump) -> Refill | Prescription | None:
    """The entry a void can take: the pump's latest refill, or a later prescription made
    between refills (a refill's own prescription goes with the refill)."""
    refill = Refill.objects.filter(pump=pump).order_by("-performed_at").first()
    between = Prescription.objects.filter(pump=pump, refill__isnull=True).order_by("-effective_at").first()
    if between is not None and (refill is None or between.effective_at > refill.performed_at):
        return between
    return refill


def describe(entry) -> str:
    clinic = entry.pump.patient.clinic
    if isinstance(entry, Refill):
        return (
            f"the refill of {local_time(entry.performed_at, clinic)} by {entry.performed_by}: "
            f"{format(entry.volume_added_ml, 'f')} mL added at {format(entry.concentration_mcg_per_ml, 'f')} mcg/mL"
        )
    return (
        f"the prescription of {local_time(entry.effective_at, clinic)}: "
        f"{format(entry.daily_dose_mcg, 'f')} mcg/day ({entry.get_mode_display().lower()})"
    )


@login_required
@require_http_methods(["GET", "POST"])
def void_entry(request, pump_id):
    pump = pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    entry = latest_entry(pump)
    if pump.status != PumpStatus.ACTIVE or entry is None:
        messages.error(request, "There is no entry of this pump to void.")
        return redirect("web:pump", pump.pk)
    is_refill = isinstance(entry, Refill)
    allowed = role_at(request.user, clinic) in (CLINICAL_WRITERS if is_refill else PRESCRIBERS)
    form = forms.ServiceForm(["reason"], {"reason": ""})
    if request.method == "POST":
        form = forms.ServiceForm.from_post(["reason"], request.POST)
        service = corrections.refill_void if is_refill else corrections.prescription_void
        target = {"refill": entry} if is_refill else {"prescription": entry}
        if submit(form, clinic, VoidInputSerializer, service, actor=request.user, **target) is not None:
            messages.success(
                request,
                f"Voided {describe(entry)}. It stays in the history, with your reason."
                + (" Record the right refill now, if there was one." if is_refill else ""),
            )
            return redirect("web:refill" if is_refill else "web:pump", pump.pk)
    return render_page(
        request,
        "web/void_entry.html",
        clinic,
        {
            "pump": pump,
            "patient": pump.patient,
            "entry": describe(entry),
            "is_refill": is_refill,
            "allowed": allowed,
            "form": form,
        },
        status=status_of(form),
    )
