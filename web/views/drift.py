"""The clinic's pumps with a delivery drift (DRIFT-1): those whose latest refills observed
less or more delivery than programmed, the longest runs first."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from patients.permissions import clinics_of
from pumpcare import clinical
from refills import drift

from .common import render_page


@login_required
@require_GET
def drift_page(request, code):
    clinic = get_object_or_404(clinics_of(request.user), code=code)
    return render_page(
        request,
        "web/drift.html",
        clinic,
        {
            "rows": drift.clinic_drifts(clinic),
            "consecutive": clinical.drift_consecutive_refills(),
            "nav": "drift",
        },
    )
