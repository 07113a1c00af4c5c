"""The iCalendar (RFC 5545) feed of booked appointments.

Times are written in UTC (``DTSTART:20261214T140000Z``), so no VTIMEZONE component is
needed and every calendar shows them in its own zone; an appointment without a time is an
all-day event on the clinic's local date. Lines end in CRLF and are folded at 75 octets.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction

from alerts.identity import instance_id
from patients.permissions import PATIENT_WRITERS, require_role
from patients.services import save_audited
from pumpcare import clock
from pumpcare.text import one_line

from .models import Appointment, AppointmentStatus, CalendarFeed

PRODID = "-//pumpcare//appointments//EN"


def _escape(text: str) -> str:
    """RFC 5545 3.3.11 TEXT: backslash, semicolon and comma escaped, a line break written as
    ``\\n``. Stored text goes through ``one_line`` first (``_text``): only the breaks this
    module puts between lines of a description reach here."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _text(value) -> str:
    """Stored text (a name, an MRN, a serial number) as one line: a carriage return typed
    into a patient's name would otherwise end the line and break the whole feed."""
    return one_line(str(value))


def _fold(line: str) -> str:
    """RFC 5545 3.1: lines of at most 75 octets, continued with CRLF and a space."""
    data, out = line.encode(), []
    while len(data) > 75:
        cut = 75 if not out else 74
        while (data[cut] & 0xC0) == 0x80:  # never split a UTF-8 character
            cut -= 1
        out.append(data[:cut])
        data = data[cut:]
    out.append(data)
    return "\r\n ".join(part.decode() for part in out)


def feed_appointments(feed: CalendarFeed):
    since = clock.now().date() - timedelta(days=settings.PUMPCARE_CALENDAR["past_days"])
    appointments = Appointment.objects.filter(
        pump__patient__clinic=feed.clinic, status=AppointmentStatus.BOOKED, day__gte=since
    ).select_related("pump__patient__clinic", "pump__model", "nurse")
    if feed.nurse_id:
        appointments = appointments.filter(nurse_id=feed.nurse_id)
    return appointments.order_by("day", "time", "pk")


def render_feed(feed: CalendarFeed) -> str:
    clinic = feed.clinic
    stamp = f"{clock.now().astimezone(UTC):%Y%m%dT%H%M%SZ}"
    minutes = settings.PUMPCARE_CALENDAR["appointment_minutes"]
    instance = instance_id()  # another installation's appointment 7 is another event
    name = f"pumpcare {_text(clinic.name)}" + (
        f" — {_text(feed.nurse.get_username())}" if feed.nurse_id else ""
    )
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(name)}",
    ]
    for appointment in feed_appointments(feed):
        pump, patient = appointment.pump, appointment.pump.patient
        lines += ["BEGIN:VEVENT", f"UID:appointment-{appointment.pk}.{instance}@pumpcare", f"DTSTAMP:{stamp}"]
        if appointment.time is None:
            lines.append(f"DTSTART;VALUE=DATE:{appointment.day:%Y%m%d}")
        else:
            local = datetime.combine(appointment.day, appointment.time, tzinfo=clinic.tz)
            start = local.astimezone(UTC)
            lines += [
                f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
                f"DTEND:{start + timedelta(minutes=minutes):%Y%m%dT%H%M%SZ}",
            ]
        summary = (
            f"{appointment.get_kind_display()}: {_text(patient.family_name)}, {_text(patient.given_name)}"
            f" ({_text(patient.mrn)})"
        )
        description = f"Pump {_text(pump.model.code)} #{_text(pump.serial_number)}" + (
            f"\nNurse: {_text(appointment.nurse.get_username())}" if appointment.nurse_id else ""
        )
        lines += [
            f"SUMMARY:{_escape(summary)}",
            f"DESCRIPTION:{_escape(description)}",
            f"LOCATION:{_escape(_text(clinic.name))}",
            "STATUS:CONFIRMED",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


@transaction.atomic
def feed_create(*, actor, clinic, nurse=None) -> CalendarFeed:
    require_role(actor, clinic, PATIENT_WRITERS, "Creating a calendar feed")
    feed = CalendarFeed(clinic=clinic, nurse=nurse, created_by=actor)
    save_audited(feed, actor=actor, reason="calendar feed created")
    return feed


@transaction.atomic
def feed_revoke(*, actor, feed: CalendarFeed) -> CalendarFeed:
    require_role(actor, feed.clinic, PATIENT_WRITERS, "Revoking a calendar feed")
    if feed.revoked_at is None:
        feed.revoked_at = clock.now()
        save_audited(feed, actor=actor, reason="calendar feed revoked")
    return feed
