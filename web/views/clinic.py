"""The clinic's settings: scheduling (LRA-5: refill slots a day, working days and closures)
and the age from which a patient counts as an older adult (ORAL-1, RISK-1). Any of the
clinic's staff reads them; the clinic's admin changes them (the services check the role).
Each scheduling change re-plans the clinic's proposals and alerts bookings on days that
stopped being worked before the page comes back (``scheduling.proposals``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import NotFound

import therapy
from patients import services
from patients.api import ClinicSerializer
from patients.models import ISO_WEEKDAYS, Role
from patients.permissions import role_at
from pumpcare import clock

from .common import REFUSALS, my_clinics, refusal_of, render_page

MAX_SLOTS = 32767


def _clinic_or_404(request, code):
    clinic = next((c for c in my_clinics(request) if c.code == code), None)
    if clinic is None:
        raise Http404("not one of your clinics")
    return clinic


def _page(clinic) -> str:
    return reverse("web:clinic-settings", args=[clinic.code])


def _refused(request, clinic, what: str, error) -> None:
    refusal = refusal_of(error, clinic)
    label = f"{refusal['label']} " if refusal["field"] not in ("", "role", "non_field_errors") else ""
    messages.error(request, f"{what}: {label}{refusal['message']}")


@login_required
@require_http_methods(["GET", "POST"])
def clinic_settings(request, code):
    clinic = _clinic_or_404(request, code)
    if request.method == "POST" and request.POST.get("form") == "older_adult":
        _older_adult_save(request, clinic)
        return redirect(_page(clinic))
    if request.method == "POST":
        changes, problems = _settings_from(request.POST)
        if problems:
            messages.error(request, "The settings were not saved: " + "; ".join(problems) + ".")
        else:
            try:
                services.clinic_update(
                    actor=request.user,
                    clinic=clinic,
                    changes=changes,
                    reason=request.POST.get("reason", "").strip() or "scheduling settings changed",
                )
            except REFUSALS as error:
                _refused(request, clinic, "The settings were not saved", error)
            else:
                messages.success(request, "Scheduling settings saved; the refill proposals follow them.")
        return redirect(_page(clinic))
    today = clock.now().astimezone(clinic.tz).date()
    return render_page(
        request,
        "web/clinic_settings.html",
        clinic,
        {
            "nav": "clinic",
            "is_admin": role_at(request.user, clinic) == Role.ADMIN,
            "weekdays": [(n, name, n in clinic.working_days) for n, name in ISO_WEEKDAYS.items()],
            "closures": clinic.closures.filter(date__gte=today),
            "today": today,
        },
    )


def _older_adult_save(request, clinic) -> None:
    """ORAL-1, RISK-1: the age from which the clinic's patients count as older adults, read
    by the API's own field (a whole number of years from 1; empty: no age check)."""
    typed = request.POST.get("older_adult_from_age_years", "").strip()
    serializer = ClinicSerializer(clinic, data={"older_adult_from_age_years": typed or None}, partial=True)
    if not serializer.is_valid():
        messages.error(
            request,
            "The older-adult age was not saved: type a whole number of years from 1, or leave it "
            f"empty for no age check (“{typed}” is not one).",
        )
        return
    age = serializer.validated_data["older_adult_from_age_years"]
    try:
        services.clinic_update(
            actor=request.user,
            clinic=clinic,
            changes={"older_adult_from_age_years": age},
            reason=request.POST.get("reason", "").strip() or "older-adult age changed",
        )
    except REFUSALS as error:
        _refused(request, clinic, "The older-adult age was not saved", error)
        return
    if age is None:
        messages.success(
            request, "Older-adult age cleared: no patient is checked against the older-adult doses."
        )
    else:
        messages.success(
            request,
            f"Patients from {age} years count as older adults: their oral baclofen doses are "
            "checked against what older adults tolerate, and the flag shows where doses are decided.",
        )


def _settings_from(post) -> tuple[dict, list[str]]:
    problems = []
    slots_text = post.get("refill_slots_per_day", "").strip()
    slots = None
    if slots_text:
        try:
            slots = int(slots_text)
        except ValueError:
            slots = 0
        if not 1 <= slots <= MAX_SLOTS:
            problems.append(
                f"refill slots a day must be a whole number from 1 to {MAX_SLOTS}, or empty for no limit"
            )
    days = []
    for value in post.getlist("working_days"):
        if value not in {str(n) for n in ISO_WEEKDAYS}:
            problems.append("working days are chosen from Monday to Sunday")
            break
        days.append(int(value))
    if not days and not problems:
        problems.append("tick at least one working day")
    return {"refill_slots_per_day": slots, "working_days": sorted(set(days))}, problems


@login_required
@require_POST
def closure_add(request, code):
    clinic = _clinic_or_404(request, code)
    try:
        day = parse_date(request.POST.get("date", ""))
    except ValueError:  # 2027-02-30
        day = None
    if day is None:
        messages.error(
            request, "The closure was not added: the date is not a date: pick one in the calendar."
        )
        return redirect(_page(clinic))
    try:
        therapy.units.check_year(day, "date")
        services.closure_add(
            actor=request.user, clinic=clinic, day=day, reason=request.POST.get("reason", "")
        )
    except REFUSALS as error:
        _refused(request, clinic, "The closure was not added", error)
    else:
        messages.success(
            request,
            f"The clinic is closed on {therapy.day_text(day)}: refill proposals on it were moved, and "
            "appointments booked on it are in the alerts for a nurse to move.",
        )
    return redirect(_page(clinic))


@login_required
@require_POST
def closure_remove(request, code, day):
    clinic = _clinic_or_404(request, code)
    try:
        parsed = parse_date(day)
    except ValueError:
        parsed = None
    if parsed is None:
        raise Http404("not a date")
    try:
        services.closure_remove(
            actor=request.user, clinic=clinic, day=parsed, reason=request.POST.get("reason", "")
        )
    except NotFound as error:
        raise Http404(str(error.detail)) from None
    except REFUSALS as error:
        _refused(request, clinic, "The closure was not removed", error)
    else:
        messages.success(request, f"The clinic is open again on {therapy.day_text(parsed)}.")
    return redirect(_page(clinic))
