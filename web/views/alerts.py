"""Acknowledging an alert."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from alerts.models import Alert
from alerts.services import alert_acknowledge
from patients.permissions import clinics_of

from .. import wording
from .common import REFUSALS, back, refusal_of


@login_required
@require_POST
def alert_ack(request, alert_id):
    alert = get_object_or_404(
        Alert.objects.filter(clinic__in=clinics_of(request.user)).select_related("pump"), pk=alert_id
    )
    default = reverse("web:pump", args=[alert.pump_id]) + "#alerts" if alert.pump_id else "/"
    try:
        alert_acknowledge(actor=request.user, alert=alert, note=request.POST.get("note", ""))
    except REFUSALS as error:
        refusal = refusal_of(error, alert.clinic)
        if refusal["field"] == "note":  # said under the note field too (web/_alert.html)
            words = f"the {refusal['label'].lower()} {refusal['message']}"
            messages.error(
                request, words[0].upper() + words[1:] + ".", extra_tags=wording.ack_note_tag(alert.pk)
            )
            messages.error(request, f"The alert was not acknowledged: {words}.")
        else:
            messages.error(request, f"The alert was not acknowledged: {refusal['message']}")
    else:
        messages.success(request, f"Alert acknowledged: {alert.get_kind_display()}.")
    return redirect(back(request, default))
