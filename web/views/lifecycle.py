"""The end of a pump's therapy: replacement and explant (TITRATE-2, IMPLANT-1)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

import therapy
from alerts.models import Alert, AlertKind
from patients.models import CatheterModel, PumpModel, PumpStatus
from patients.permissions import PRESCRIBERS, PUMP_WRITERS, role_at
from pumpcare import clock
from refills import replacement
from refills.api import PumpExplantInputSerializer, PumpReplaceInputSerializer

from .. import forms
from .common import pump_or_404, render_page, status_of, submit


def _not_active(request, pump):
    """A pump already replaced or explanted has no therapy to end: back to its page."""
    messages.error(
        request,
        f"Pump #{pump.serial_number} is no longer active: it was {pump.get_status_display().lower()}"
        + (f" on {therapy.day_text(pump.explanted_on)}." if pump.explanted_on else "."),
    )
    return redirect("web:pump", pump.pk)


def _today(clinic):
    return clock.now().astimezone(clinic.tz).date()


@login_required
@require_http_methods(["GET", "POST"])
def pump_replace(request, pump_id):
    """Replace a pump (explant and implant the same day): the therapy continues on the new
    pump, whose first fill is checked against the patient's doses (TITRATE-1, IMPLANT-1)."""
    pump = pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    if pump.status != PumpStatus.ACTIVE:
        return _not_active(request, pump)
    if request.method == "GET":
        form = forms.ServiceForm(
            forms.REPLACE_FIELDS,
            {
                "explanted_on": _today(clinic).isoformat(),
                "model": "",
                "serial_number": "",
                "catheter_model": pump.catheter_model.code,
                "catheter_length_cm": forms._plain(pump.catheter_length_cm),
                "low_reservoir_alarm_ml": "",
                "reason": "",
            },
        )
    else:
        form = forms.ServiceForm.from_post(forms.REPLACE_FIELDS, request.POST)
        done = submit(
            form,
            clinic,
            PumpReplaceInputSerializer,
            replacement.pump_replace,
            optional=("low_reservoir_alarm_ml",),
            context={"request": request},
            actor=request.user,
            old_pump=pump,
        )
        if done is not None:
            new_pump, _ = done
            messages.success(
                request,
                f"Pump #{pump.serial_number} explanted and pump #{new_pump.serial_number} implanted "
                f"on {therapy.day_text(new_pump.implanted_on)}. The therapy continues: record the new "
                "pump's first fill (the implant fill). Its dose is checked against the patient's "
                "doses on the old pump, and its concentration against theirs.",
            )
            return redirect("web:pump", new_pump.pk)
    return render_page(
        request,
        "web/pump_replace.html",
        clinic,
        {
            "pump": pump,
            "patient": pump.patient,
            "form": form,
            "pump_models": PumpModel.objects.order_by("manufacturer", "name"),
            "catheter_models": CatheterModel.objects.order_by("manufacturer", "name"),
            "can_replace": role_at(request.user, clinic) in PUMP_WRITERS,
        },
        status=status_of(form),
    )


@login_required
@require_http_methods(["GET", "POST"])
def pump_explant(request, pump_id):
    """Explant a pump without a replacement: the therapy stops (TITRATE-2). The service
    needs a prescriber and a written override reason, and raises the critical alert."""
    pump = pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    if pump.status != PumpStatus.ACTIVE:
        return _not_active(request, pump)
    if request.method == "GET":
        form = forms.ServiceForm(
            forms.EXPLANT_FIELDS,
            {"explanted_on": _today(clinic).isoformat(), "reason": "", "override_reason": ""},
        )
    else:
        form = forms.ServiceForm.from_post(forms.EXPLANT_FIELDS, request.POST)
        done = submit(
            form,
            clinic,
            PumpExplantInputSerializer,
            replacement.pump_explant,
            context={"request": request},
            actor=request.user,
            pump=pump,
        )
        if done is not None:
            record, _ = done
            alert = (
                Alert.objects.filter(pump=pump, kind=AlertKind.DISCONTINUATION)
                .order_by("-raised_at", "-pk")
                .first()
            )
            messages.success(
                request,
                f"Explant of pump #{pump.serial_number} on {therapy.day_text(record.explanted_on)} recorded.",
            )
            if alert is not None:
                messages.error(request, f"Critical alert: {alert.text}")
            return redirect(reverse("web:pump", args=[pump.pk]) + "#alerts")
    is_prescriber = role_at(request.user, clinic) in PRESCRIBERS
    return render_page(
        request,
        "web/pump_explant.html",
        clinic,
        {
            "pump": pump,
            "patient": pump.patient,
            "form": form,
            "is_prescriber": is_prescriber,
            "withdrawal_signs": therapy.titration.WITHDRAWAL_SIGNS,
        },
        status=status_of(form) if form.errors or is_prescriber else 403,
    )
