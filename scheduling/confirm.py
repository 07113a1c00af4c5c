"""The "confirm attendance" link of a reminder (ALERT-2): a signed token naming the
appointment, the day and time it was booked for and the recipient. It expires at the end of
that day, and stops working when the appointment is moved (to another day or time) or
cancelled. Opening the link shows
the appointment and a button; only the button (a POST) confirms, so a mail scanner that
follows links confirms nothing. The confirmation shows on the worklist."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.shortcuts import render
from django.urls import path
from django.utils import formats
from django.views.decorators.http import require_http_methods

from patients.services import save_audited
from pumpcare import clock

from .models import Appointment

SALT = "pumpcare.confirm-attendance"
# The signature itself expires too (the longest reminder lead time is 365 days).
MAX_AGE = timedelta(days=400)


def confirmation_token(appointment, recipient: str) -> str:
    return signing.dumps(
        {"a": appointment.pk, "d": appointment.day.isoformat(), "t": _time(appointment), "r": recipient},
        salt=SALT,
    )


def _time(appointment) -> str:
    return appointment.time.strftime("%H:%M") if appointment.time else ""


def confirmation_url(appointment, recipient: str) -> str:
    return f"{settings.PUMPCARE_BASE_URL}/confirm/{confirmation_token(appointment, recipient)}/"


class LinkRefused(Exception):
    def __init__(self, message: str, appointment=None):
        super().__init__(message)
        self.message, self.appointment = message, appointment


def appointment_of(token: str):
    """The booked appointment a valid token confirms, or LinkRefused with what is wrong."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise LinkRefused("This link has expired.") from None
    except signing.BadSignature:
        raise LinkRefused("This link is not valid.") from None
    appointment = Appointment.objects.select_related("pump__patient__clinic").filter(pk=data["a"]).first()
    if appointment is None:
        raise LinkRefused("This appointment no longer exists.")
    clinic = appointment.pump.patient.clinic
    # a link issued before tokens carried the time ("t") is checked against the day alone
    if (
        appointment.status != "booked"
        or appointment.day.isoformat() != data["d"]
        or data.get("t", _time(appointment)) != _time(appointment)
    ):
        raise LinkRefused("This appointment has been changed or cancelled.", appointment)
    if date.fromisoformat(data["d"]) < clock.now().astimezone(clinic.tz).date():
        raise LinkRefused("This link has expired: the appointment day has passed.", appointment)
    return appointment, data["r"]


@transaction.atomic
def attendance_confirm(*, token: str):
    """Record the confirmation on the appointment (audited; the actor is the recipient)."""
    appointment, recipient = appointment_of(token)
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.confirmed_at is None:
        appointment.confirmed_at = clock.now()
        appointment.confirmed_by = recipient
        save_audited(appointment, actor=None, reason=f"attendance confirmed by {recipient} from a reminder")
    return appointment


def _page(request, status: int, **context):
    appointment = context.get("appointment")
    if appointment is not None:
        clinic = appointment.pump.patient.clinic
        context.update(
            clinic=clinic,
            when_date=formats.date_format(appointment.day, "l j F Y"),
            when_time=appointment.time.strftime("%H:%M") if appointment.time else "",
        )
    return render(request, "scheduling/confirm.html", context, status=status)


@require_http_methods(["GET", "POST"])
def confirm_view(request, token: str):
    try:
        _, recipient = appointment_of(token)
        if request.method == "POST":
            appointment, confirmed = attendance_confirm(token=token), True
        else:
            appointment, _ = appointment_of(token)
            confirmed = appointment.confirmed_at is not None
    except LinkRefused as refused:
        return _page(request, 410, error=refused.message, appointment=refused.appointment)
    # ALERT-2: a caregiver confirms for the person they care for, named, not "your appointment"
    patient = appointment.pump.patient
    cared_for = f"{patient.given_name} {patient.family_name}" if recipient.startswith("caregiver:") else ""
    return _page(request, 200, appointment=appointment, confirmed=confirmed, cared_for=cared_for)


urlpatterns = [path("confirm/<str:token>/", confirm_view, name="confirm-attendance")]
