"""A pump's device page: its interrogations with the alarms read (DEVICE-1) and its MRIs
with where each follow-up stands (MRI-1), and the forms that record an interrogation, plan
an MRI and, for each open MRI, record the emptying of a Prometra II before its scan (a
physician's, TITRATE-2) or cancel it with a reason. The pump page shows the open follow-ups
and links here."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

import therapy
from devices import selectors, services
from patients.models import PumpStatus
from patients.permissions import CLINICAL_WRITERS, PRESCRIBERS, role_at
from pumpcare import clock
from therapy.device import ALARMS, CRITICAL_ALARMS, EMPTY_BEFORE, alarm_words

from .. import forms
from .common import REFUSALS, pump_or_404, refused, render_page, status_of, submit

INTERROGATION_FIELDS = ["interrogated_at", "alarms", "eri_since", "notes"]
MRI_FIELDS = ["scan_at", "notes"]
EMPTYING_FIELDS = ["emptied_at", "override_reason"]
CANCEL_FIELDS = ["reason"]


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
    # the forms of each open MRI, keyed (action, MRI id): the one posted keeps what was typed
    mri_forms: dict[tuple[str, int], forms.ServiceForm] = {}
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
    elif request.method == "POST" and action in ("emptying", "cancel"):
        mri = _open_mri(pump, request.POST.get("mri", ""))
        if mri is None:
            interrogation_form.add_error(
                "general", "That MRI is not one of this pump's open MRIs: reload the page and choose again."
            )
        else:
            form, done = _mri_follow_up_post(request, action, mri, clinic)
            if done is not None:
                messages.success(request, done)
                return redirect("web:pump-device", pump.pk)
            mri_forms[(action, mri.pk)] = form
    elif request.method == "POST":
        interrogation_form.add_error("general", "Choose what to record: an interrogation or an MRI.")
    role = role_at(request.user, clinic)
    mris = [
        (mri, selectors.mri_state(mri, now), _follow_up_forms(mri, mri_forms, local_now))
        for mri in selectors.pump_mris(pump)
    ]
    failed = next(
        (f for f in [interrogation_form, mri_form, *mri_forms.values()] if f.errors), interrogation_form
    )
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
            "can_record": pump.status == PumpStatus.ACTIVE and role in CLINICAL_WRITERS,
            "can_empty": pump.status == PumpStatus.ACTIVE and role in PRESCRIBERS,
        },
        status=status_of(failed),
    )


def _open_mri(pump, mri_id: str):
    """One of this pump's open MRIs by the id the form posted, or None."""
    if not mri_id.isdigit():
        return None
    return next((m for m in selectors.open_mris(pump_ids=[pump.pk]) if m.pk == int(mri_id)), None)


def _mri_follow_up_post(request, action: str, mri, clinic) -> tuple:
    """An open MRI's form posted: (the form, the success message or None). Emptying a
    Prometra II stops the therapy (TITRATE-2): the service refuses it without a physician's
    written reason, and that refusal is filed under the reason the physician types."""
    if action == "cancel":
        form = forms.ServiceForm.from_post(CANCEL_FIELDS, request.POST)
        done = submit(form, clinic, forms.MriCancelInput, services.mri_cancel, actor=request.user, mri=mri)
        if done is None:
            return form, None
        return form, (
            f"MRI of {therapy.units.instant_text(mri.scan_at, clinic.tz)} cancelled: its follow-up is "
            "no longer due."
        )
    form = forms.ServiceForm.from_post(EMPTYING_FIELDS, request.POST)
    offset = _with_offset(form, "emptied_at", request, clinic.tz)
    data = form.validated(
        forms.MriEmptyingInput,
        context={"request": request, "clinic_tz": clinic.tz, "utc_offset_minutes": offset},
    )
    if data is None:
        return form, None
    try:
        emptied = services.mri_emptying_record(actor=request.user, mri=mri, **data)
    except REFUSALS as error:
        if getattr(error, "code", "") == "discontinuation_requires_override":
            form.add_error(
                "override_reason",
                "Emptying the pump stops the therapy, and withdrawal can follow within 1–3 days: "
                "write the physician's reason for stopping it.",
            )
        else:
            refused(form.errors, error, ["role", *form.fields], clinic)
        return form, None
    state = selectors.mri_state(emptied, clock.now())
    return form, (
        f"Pump emptied at {therapy.units.instant_text(emptied.emptied_at, clinic.tz)}: the therapy is "
        f"stopped (a critical alert went to the on-call address). {state.words}"
    )


def _follow_up_forms(mri, posted: dict, local_now: str) -> dict:
    """The forms an open MRI offers: the emptying (a Prometra II not yet emptied) and the
    cancelling; the one just posted with what was typed and its errors."""
    if not mri.is_open:
        return {}
    found = {"cancel": posted.get(("cancel", mri.pk)) or forms.ServiceForm(CANCEL_FIELDS, {"reason": ""})}
    if mri.follow_up == EMPTY_BEFORE and mri.emptied_at is None:
        found["emptying"] = posted.get(("emptying", mri.pk)) or forms.ServiceForm(
            EMPTYING_FIELDS, {"emptied_at": local_now, "override_reason": ""}
        )
    return found
