"""A pump's device page: its interrogations with the alarms read (DEVICE-1) and its MRIs
with where each follow-up stands (MRI-1), and the forms that record an interrogation and
plan an MRI. The pump page shows the open follow-ups and links here."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

import therapy
from devices import selectors, services
from patients.models import PumpStatus
from patients.permissions import CLINICAL_WRITERS, role_at
from pumpcare import clock
from therapy.device import ALARMS, CRITICAL_ALARMS, alarm_words

from .. import forms
from .common import pump_or_404, render_page, status_of, submit

INTERROGATION_FIELDS = ["interrogated_at", "alarms", "eri_since", "notes"]
MRI_FIELDS = ["scan_at", "notes"]


def _with_offset(form, name: str, request, tz) -> int | None:
    """REFILL-2 for a typed local time that happens twice: the UTC offset chosen."""
    offset, form.offset_choices = forms.offset_choice(
        form.values[name], request.POST.get("utc_offset", ""), tz
    )
    form.values["utc_offset"] = str(offset) if offset is not None else ""
    return offset


def _read(interrogation) -> tuple:
    """An interrogation and its alarms in words, by class (DEVICE-1)."""
    found = selectors.alarms_by_class(interrogation)
    return interrogation, {name: alarm_words(codes) for name, codes in found.items()}


@login_required
@require_http_methods(["GET", "POST"])
def device_page(request, pump_id):
    pump = pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    now = clock.now()
    local_now = now.astimezone(clinic.tz).strftime("%Y-%m-%dT%H:%M")
    interrogation_form = forms.ServiceForm(
        INTERROGATION_FIELDS, {"interrogated_at": local_now, "alarms": [], "eri_since": "", "notes": ""}
    )
    mri_form = forms.ServiceForm(MRI_FIELDS, {"scan_at": "", "notes": ""})
    action = request.POST.get("action", "")
    if request.method == "POST" and action == "interrogation":
        interrogation_form = forms.ServiceForm.from_post(INTERROGATION_FIELDS, request.POST)
        interrogation_form.values["alarms"] = [a.strip() for a in request.POST.getlist("alarms")]
        offset = _with_offset(interrogation_form, "interrogated_at", request, clinic.tz)
        done = submit(
            interrogation_form,
            clinic,
            forms.InterrogationInput,
            services.interrogation_record,
            optional=("eri_since",),
            context={"request": request, "clinic_tz": clinic.tz, "utc_offset_minutes": offset},
            actor=request.user,
            pump=pump,
        )
        if done is not None:
            record, data = done
            critical = [a for a in record.alarms if a in CRITICAL_ALARMS]
            words = (
                f"Interrogation of {therapy.units.instant_text(record.interrogated_at, clinic.tz)} recorded"
            )
            if critical:
                words += f": {alarm_words(critical)} — a critical alert went to the on-call address"
            if record.eri_on:
                words += f"; ERI date set to {therapy.day_text(record.eri_on)}"
            messages.success(request, words + ".")
            return redirect("web:pump-device", pump.pk)
    elif request.method == "POST" and action == "mri":
        mri_form = forms.ServiceForm.from_post(MRI_FIELDS, request.POST)
        offset = _with_offset(mri_form, "scan_at", request, clinic.tz)
        done = submit(
            mri_form,
            clinic,
            forms.MriInput,
            services.mri_plan,
            context={"request": request, "clinic_tz": clinic.tz, "utc_offset_minutes": offset},
            actor=request.user,
            pump=pump,
        )
        if done is not None:
            mri, _ = done
            state = selectors.mri_state(mri, clock.now())
            messages.success(
                request,
                f"MRI of {therapy.units.instant_text(mri.scan_at, clinic.tz)} recorded. {state.words}",
            )
            return redirect("web:pump-device", pump.pk)
    elif request.method == "POST":
        interrogation_form.add_error("general", "Choose what to record: an interrogation or an MRI.")
    mris = [(mri, selectors.mri_state(mri, now)) for mri in selectors.pump_mris(pump)]
    failed = interrogation_form if interrogation_form.errors else mri_form
    return render_page(
        request,
        "web/pump_device.html",
        clinic,
        {
            "pump": pump,
            "patient": pump.patient,
            "interrogations": [_read(i) for i in selectors.pump_interrogations(pump)[:50]],
            "alarm_choices": [(code, label, code in CRITICAL_ALARMS) for code, label in ALARMS.items()],
            "mris": mris,
            "guidance": pump.model.get_mri_follow_up_display() if pump.model.mri_follow_up else "",
            "interrogation_form": interrogation_form,
            "mri_form": mri_form,
            "can_record": pump.status == PumpStatus.ACTIVE
            and role_at(request.user, clinic) in CLINICAL_WRITERS,
        },
        status=status_of(failed),
    )
