"""The iCalendar (RFC 5545) feed of booked appointments, written with the ``icalendar``
library: it escapes text, folds lines at 75 octets without splitting a character, and ends
every line in CRLF.

Times are written in UTC (``DTSTART:20261214T140000Z``), so no VTIMEZONE component is
needed and every calendar shows them in its own zone; an appointment without a time is an
all-day event on the clinic's local date.

A subscribed feed is copied to whichever calendar service the nurse uses, so by default
(``FeedDetail.MINIMAL``) an event says only what plans a day: the kind of visit, its time,
the patient's initials and a link to the pump page, which asks for a pumpcare login. A
clinic admin may choose ``FeedDetail.FULL`` for a feed (name, MRN, pump model and serial).
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from icalendar import Calendar, Event, vText

from alerts.identity import instance_id
from patients.permissions import ADMINS, PATIENT_WRITERS, require_role
from patients.services import save_audited
from pumpcare import clock
from pumpcare.text import one_line

from .models import Appointment, AppointmentStatus, CalendarFeed, FeedDetail

PRODID = "-//pumpcare//appointments//EN"


def _text(value) -> str:
    """Stored text (a name, an MRN, a serial number) as one line: a line break typed into a
    patient's name reads as a space in a calendar's one-line title, as the clinic meant it.
    (The library escapes CR and LF, but writes a vertical tab or other control character as
    it is, which a strict reader refuses.)"""
    return one_line(str(value))


def initials(*names: str) -> str:
    """``Z.O.`` for Zoë Okafor-Lindqvist: the first letter of each name, upper case. Marks,
    emoji and punctuation before the first letter (a right-to-left mark) are skipped; a name
    without a letter gives nothing."""
    letters = []
    for name in names:
        letter = next((ch for ch in unicodedata.normalize("NFC", str(name)) if ch.isalpha()), None)
        if letter is not None:
            letters.append(f"{letter.upper()}.")
    return "".join(letters)


def pump_url(pump) -> str:
    """The pump's page: a calendar that holds the link learns an internal number, not who
    the patient is; the page itself asks for a pumpcare login."""
    return f"{settings.PUMPCARE_BASE_URL}/pumps/{pump.pk}/"


def event_uid(appointment: Appointment) -> str:
    """Stable across fetches and moves (the appointment's key), and another installation's
    appointment 7 is another event."""
    return f"appointment-{appointment.pk}.{instance_id()}@pumpcare"


def feed_appointments(feed: CalendarFeed):
    since = clock.now().date() - timedelta(days=settings.PUMPCARE_CALENDAR["past_days"])
    appointments = Appointment.objects.filter(
        pump__patient__clinic=feed.clinic, status=AppointmentStatus.BOOKED, day__gte=since
    ).select_related("pump__patient__clinic", "pump__model", "nurse")
    if feed.nurse_id:
        appointments = appointments.filter(nurse_id=feed.nurse_id)
    return appointments.order_by("day", "time", "pk")


def _wording(appointment: Appointment, detail: str) -> tuple[str, str]:
    """The event's title and description at the feed's detail level."""
    pump, patient = appointment.pump, appointment.pump.patient
    kind = appointment.get_kind_display()
    link = f"Pump page (sign in to pumpcare): {pump_url(pump)}"
    nurse = f"Nurse: {_text(appointment.nurse.get_username())}" if appointment.nurse_id else None
    if detail == FeedDetail.FULL:
        summary = f"{kind}: {_text(patient.family_name)}, {_text(patient.given_name)} ({_text(patient.mrn)})"
        lines = [f"Pump {_text(pump.model.code)} #{_text(pump.serial_number)}", nurse, link]
    else:
        who = initials(patient.given_name, patient.family_name)
        summary = f"{kind}: {who}" if who else kind
        lines = [nurse, link]
    return summary, "\n".join(line for line in lines if line)


def render_feed(feed: CalendarFeed) -> str:
    clinic = feed.clinic
    stamp = clock.now().astimezone(UTC).replace(microsecond=0)
    minutes = settings.PUMPCARE_CALENDAR["appointment_minutes"]
    name = f"pumpcare {_text(clinic.name)}" + (
        f" — {_text(feed.nurse.get_username())}" if feed.nurse_id else ""
    )
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # An X- property is written as the library received it unless it is told the value is
    # text: a comma or semicolon in the clinic's name would reach the calendar unescaped.
    calendar.add("x-wr-calname", vText(name))
    for appointment in feed_appointments(feed):
        event = Event()
        event.add("uid", event_uid(appointment))
        event.add("dtstamp", stamp)
        if appointment.time is None:
            event.add("dtstart", appointment.day)
        else:
            local = datetime.combine(appointment.day, appointment.time, tzinfo=clinic.tz)
            start = local.astimezone(UTC)
            event.add("dtstart", start)
            event.add("dtend", start + timedelta(minutes=minutes))
        summary, description = _wording(appointment, feed.detail)
        event.add("summary", summary)
        event.add("description", description)
        event.add("location", _text(clinic.name))
        event.add("url", pump_url(appointment.pump))
        event.add("status", "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical().decode()


def _require_detail_role(actor, clinic, detail: str, action: str) -> None:
    """Anyone who keeps patients' records may publish the minimal feed; only a clinic admin
    sends names, MRNs and serial numbers to a calendar service."""
    if detail == FeedDetail.FULL:
        require_role(actor, clinic, ADMINS, f"{action} with the full format (names, MRNs, serials)")
    else:
        require_role(actor, clinic, PATIENT_WRITERS, action)


@transaction.atomic
def feed_create(*, actor, clinic, nurse=None, detail: str = FeedDetail.MINIMAL) -> CalendarFeed:
    _require_detail_role(actor, clinic, detail, "Creating a calendar feed")
    feed = CalendarFeed(clinic=clinic, nurse=nurse, created_by=actor, detail=detail)
    save_audited(feed, actor=actor, reason=f"calendar feed created ({detail})")
    return feed


@transaction.atomic
def feed_set_detail(*, actor, feed: CalendarFeed, detail: str) -> CalendarFeed:
    """Change what a feed publishes; its URL stays the same, and calendars that subscribed
    show the new wording at their next fetch."""
    _require_detail_role(actor, feed.clinic, detail, "Changing a calendar feed")
    if feed.revoked_at is not None:
        raise ValidationError({"detail": ["this feed was revoked: create a new one"]})
    if feed.detail != detail:
        previous, feed.detail = feed.detail, detail
        save_audited(feed, actor=actor, reason=f"calendar feed detail {previous} → {detail}")
    return feed


@transaction.atomic
def feed_revoke(*, actor, feed: CalendarFeed) -> CalendarFeed:
    require_role(actor, feed.clinic, PATIENT_WRITERS, "Revoking a calendar feed")
    if feed.revoked_at is None:
        feed.revoked_at = clock.now()
        save_audited(feed, actor=actor, reason="calendar feed revoked")
    return feed
