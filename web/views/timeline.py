"""A patient's timeline: the whole course of therapy in order, each step with who and when."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from patients.models import Patient, PumpStatus
from patients.permissions import clinics_of
from patients.timeline import patient_timeline

from .common import render_page


@login_required
@require_GET
def timeline_page(request, patient_id):
    patient = get_object_or_404(
        Patient.objects.filter(clinic__in=clinics_of(request.user)).select_related("clinic"), pk=patient_id
    )
    pumps = list(patient.pumps.order_by("-implanted_on", "-pk"))
    return render_page(
        request,
        "web/timeline.html",
        patient.clinic,
        {
            "patient": patient,
            "pump": next((p for p in pumps if p.status == PumpStatus.ACTIVE), pumps[0] if pumps else None),
            # newest first: what happened last is what a nurse reads first
            "events": list(reversed(patient_timeline(patient))),
        },
    )
