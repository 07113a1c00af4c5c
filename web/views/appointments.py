"""Booking, moving and cancelling a pump's appointments (LRA-5 proposes the day)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.dateparse import parse_date, parse_time
from django.views.decorators.http import require_http_methods

import therapy
from patients.models import Pump, Role
from patients.permissions import clinics_of
from pumpcare.inputs import text_problem
from refills.projections import stored_projection
from scheduling import appointments, proposals
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus

from .. import wording
from .common import REFUSALS, back, pump_or_404, refused, render_page


def _nurses(clinic):
    return (
        get_user_model()
        .objects.filter(memberships__clinic=clinic, memberships__role__in=[Role.NURSE, Role.PHYSICIAN])
        .order_by("username")
    )


def _suggested_day(pump: Pump):
    """LRA-5: the day the core proposes (the latest working day on or before refill-by, or
    for an overdue refill the earliest working day from today), from a fresh projection."""
    projection = stored_projection(pump)
    clinic = pump.patient.clinic
    if projection is None or projection.refill_by is None:
        return None
    try:
        return therapy.refill_day(
            projection.refill_by,
            today=proposals.local_today(clinic),
            working_weekdays=set(clinic.working_days),
            closures=set(clinic.closures.values_list("date", flat=True)),
        )
    except therapy.CalculationError:
        return None


def _appointment_fields(request, clinic, errors):
    """Day, time and nurse from the form; errors named by field."""
    post = request.POST
    day = None
    if post.get("day"):
        try:  # a well-formed but impossible date (30 Feb) is a ValueError, not None
            day = parse_date(post["day"])
        except ValueError:
            day = None
        if day is None:
            errors["day"] = ["is not a date: pick one in the calendar"]
        else:
            try:
                therapy.units.check_year(day, "day")
            except therapy.CalculationError as error:
                errors["day"] = [error.message]
                day = None
    at = None
    if post.get("time"):
        try:
            at = parse_time(post["time"])
        except ValueError:  # 25:99
            at = None
        if at is None:
            errors["time"] = ["is not a time of day: pick one, or leave it empty"]
    nurse = None
    if post.get("nurse"):
        if text_problem(post["nurse"], one_line=True) is None:
            nurse = _nurses(clinic).filter(username=post["nurse"]).first()
        if nurse is None:
            errors["nurse"] = ["is not a nurse of this clinic"]
    return day, at, nurse


@login_required
@require_http_methods(["GET", "POST"])
def appointment_new(request, pump_id):
    pump = pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    kind = request.POST.get("kind") or request.GET.get("kind") or AppointmentKind.REFILL
    if kind not in AppointmentKind.values:
        raise Http404("unknown appointment kind")
    errors: dict[str, list[str]] = {}
    values = {"day": "", "time": "", "nurse": request.user.username, "notes": ""}
    suggested = _suggested_day(pump) if kind == AppointmentKind.REFILL else None
    if suggested:
        values["day"] = suggested.day.isoformat()
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        day, at, nurse = _appointment_fields(request, clinic, errors)
        if not day and "day" not in errors:
            errors["day"] = ["is required"]
        if not errors:
            try:
                appointment, warnings = appointments.appointment_create(
                    actor=request.user,
                    pump=pump,
                    kind=kind,
                    day=day,
                    at=at,
                    nurse=nurse,
                    notes=values["notes"],
                )
            except REFUSALS as error:
                refused(errors, error, values, clinic)
            else:
                _booked_message(request, appointment, warnings, "booked")
                return redirect(back(request, reverse("web:pump", args=[pump.pk]) + "#appointments"))
    return _appointment_form(request, pump, kind, values, errors, suggested, appointment=None)


def _appointment_form(request, pump, kind, values, errors, suggested, *, appointment):
    """The form that books a new appointment or books/moves ``appointment``."""
    clinic = pump.patient.clinic
    return render_page(
        request,
        "web/appointment_form.html",
        clinic,
        {
            "pump": pump,
            "patient": pump.patient,
            "kind": kind,
            "kind_label": AppointmentKind(kind).label,
            "values": values,
            "errors": errors,
            "nurses": _nurses(clinic),
            "suggested": suggested,
            "appointment": appointment,
            "next": back(request, ""),
        },
        status=400 if errors else 200,
    )


def _appointment_or_404(request, appointment_id) -> Appointment:
    return get_object_or_404(
        Appointment.objects.filter(pump__patient__clinic__in=clinics_of(request.user)).select_related(
            "pump__patient__clinic", "pump__model", "pump__projection", "nurse"
        ),
        pk=appointment_id,
    )


def _booked_message(request, appointment, warnings, verb):
    when = f"{appointment.day:%a %d %b %Y}" + (f" at {appointment.time:%H:%M}" if appointment.time else "")
    who = f" with {appointment.nurse.username}" if appointment.nurse else ""
    messages.success(request, f"{appointment.get_kind_display()} {verb} for {when}{who}.")
    for warning in warnings:
        messages.warning(request, wording.humane(warning["message"], appointment.pump.patient.clinic.tz))


@login_required
@require_http_methods(["GET", "POST"])
def appointment_book(request, appointment_id):
    """Book a proposal, or move a booked appointment."""
    appointment = _appointment_or_404(request, appointment_id)
    pump = appointment.pump
    clinic = pump.patient.clinic
    errors: dict[str, list[str]] = {}
    values = {
        "day": appointment.day.isoformat(),
        "time": appointment.time.strftime("%H:%M") if appointment.time else "",
        "nurse": appointment.nurse.username if appointment.nurse else request.user.username,
        "notes": appointment.notes,
    }
    if request.method == "POST":
        values.update({k: request.POST.get(k, "") for k in ("day", "time", "nurse")})
        day, at, nurse = _appointment_fields(request, clinic, errors)
        if not errors:
            try:
                was = appointment.status
                appointment, warnings = appointments.appointment_book(
                    actor=request.user, appointment=appointment, day=day, at=at, nurse=nurse
                )
            except REFUSALS as error:
                refused(errors, error, values, clinic)
            else:
                _booked_message(
                    request, appointment, warnings, "moved" if was == AppointmentStatus.BOOKED else "booked"
                )
                return redirect(back(request, reverse("web:pump", args=[pump.pk]) + "#appointments"))
    suggested = _suggested_day(pump) if appointment.kind == AppointmentKind.REFILL else None
    return _appointment_form(
        request, pump, appointment.kind, values, errors, suggested, appointment=appointment
    )


@login_required
@require_http_methods(["GET", "POST"])
def appointment_cancel(request, appointment_id):
    appointment = _appointment_or_404(request, appointment_id)
    pump = appointment.pump
    errors: dict[str, list[str]] = {}
    reason = ""
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            appointments.appointment_cancel(actor=request.user, appointment=appointment, reason=reason)
        except REFUSALS as error:
            refused(errors, error, ("reason",), pump.patient.clinic)
        else:
            messages.success(
                request, f"{appointment.get_kind_display()} of {appointment.day:%a %d %b %Y} cancelled."
            )
            return redirect(back(request, reverse("web:pump", args=[pump.pk]) + "#appointments"))
    return render_page(
        request,
        "web/appointment_cancel.html",
        pump.patient.clinic,
        {
            "appointment": appointment,
            "pump": pump,
            "patient": pump.patient,
            "reason": reason,
            "errors": errors,
            "next": back(request, ""),
        },
        status=400 if errors else 200,
    )
