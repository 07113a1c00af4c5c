"""The entry page (the worklist of the clinic chosen last) and the clinic switcher."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET

from patients.permissions import clinics_of
from pumpcare.inputs import text_problem

from .common import my_clinics


@login_required
@require_GET
def home(request):
    """The worklist of the user's first clinic (the one chosen last in this session)."""
    clinics = my_clinics(request)
    chosen = request.session.get("clinic")
    clinic = next((c for c in clinics if c.code == chosen), clinics[0])
    return redirect("web:worklist", code=clinic.code)


@login_required
@require_GET
def switch_clinic(request):
    code = request.GET.get("clinic", "")
    if text_problem(code, one_line=True):  # a NUL cannot be looked up: no such clinic
        raise Http404("not one of your clinics")
    clinic = get_object_or_404(clinics_of(request.user), code=code)
    return redirect("web:worklist", code=clinic.code)
