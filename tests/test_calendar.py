"""The iCalendar feed of booked appointments (RFC 5545)."""

import re
from datetime import UTC, date, datetime, time

import icalendar
import pytest
import vobject
from django.conf import settings

from alerts.identity import instance_id
from patients.models import Clinic
from scheduling.models import Appointment, CalendarFeed
from tests.conftest import client_for
from tests.factories import PatientFactory, PumpFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def unfold(body: str) -> list[str]:
    """RFC 5545 3.1: CRLF followed by a space continues the previous line."""
    assert "\n" not in body.replace("\r\n", ""), "every line ends in CRLF"
    return body.replace("\r\n ", "").split("\r\n")[:-1]


def properties(lines, name):
    return [line for line in lines if line.split(":", 1)[0].split(";", 1)[0] == name]


@pytest.fixture
def booked(nurse, physician):
    clinic = Clinic.objects.create(
        code="NYC", name="Neuro, East; Side", timezone="America/New_York", emergency_phone="1"
    )
    clinic.memberships.create(user=nurse, role="nurse")
    clinic.memberships.create(user=physician, role="physician")
    pump = PumpFactory(
        patient=PatientFactory(clinic=clinic, given_name="Zoë", family_name="Okafor-Lindqvist", mrn="NY-7"),
        implanted_on=date(2026, 1, 2),
    )
    other = PumpFactory(
        patient=PatientFactory(clinic=clinic, family_name="Other"), implanted_on=date(2026, 1, 2)
    )
    timed = Appointment.objects.create(
        pump=pump, kind="refill", status="booked", day=date(2026, 12, 14), time=time(9, 30), nurse=nurse
    )
    all_day = Appointment.objects.create(
        pump=other, kind="replacement", status="booked", day=date(2026, 12, 15), nurse=physician
    )
    Appointment.objects.create(pump=other, kind="refill", status="proposed", day=date(2026, 12, 10))
    return clinic, timed, all_day


def feed_url(client, clinic, nurse=None, detail=None):
    body = (
        {"clinic": clinic.code} | ({"nurse": nurse} if nurse else {}) | ({"detail": detail} if detail else {})
    )
    response = client.post("/api/v1/calendar-feeds/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def fetch(feed) -> bytes:
    response = client_for(None).get(feed["url"].replace("http://testserver", ""))
    assert response.status_code == 200
    return response.content


@pytest.fixture
def clinic_admin(booked, admin_user):
    clinic, *_ = booked
    clinic.memberships.create(user=admin_user, role="admin")
    return client_for(admin_user)


def test_a_clinic_feed_lists_booked_appointments_in_utc(api, booked):
    clinic, timed, all_day = booked
    feed = feed_url(api, clinic)
    assert feed["url"].startswith("http://testserver/calendar/") and feed["url"].endswith(".ics")
    response = client_for(None).get(feed["url"].replace("http://testserver", ""))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    lines = unfold(response.content.decode())
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and properties(lines, "PRODID")
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == 2  # the proposal is not published
    assert len(properties(lines, "UID")) == len(set(properties(lines, "UID"))) == 2
    assert len(properties(lines, "DTSTAMP")) == 2
    # 09:30 in New York on 2026-12-14 (EST, UTC-5) is 14:30Z; 30 minutes long
    assert "DTSTART:20261214T143000Z" in lines and "DTEND:20261214T150000Z" in lines
    assert "DTSTART;VALUE=DATE:20261215" in lines
    # text values are escaped (RFC 5545 3.3.11) and long lines folded at 75 octets
    assert "LOCATION:Neuro\\, East\\; Side" in lines
    assert "X-WR-CALNAME:pumpcare Neuro\\, East\\; Side" in lines
    assert all(len(raw.encode()) <= 75 for raw in response.content.decode().split("\r\n"))
    # the default format: kind, time, initials and the pump page; no name, MRN or serial
    assert feed["detail"] == "minimal"
    assert "SUMMARY:Refill: Z.O." in lines and "SUMMARY:Replacement surgery: L.O." in lines
    pump_page = f"{settings.PUMPCARE_BASE_URL}/pumps/{timed.pump.pk}/"
    assert f"URL:{pump_page}" in lines
    assert f"DESCRIPTION:Nurse: nurse\\nPump page (sign in to pumpcare): {pump_page}" in lines
    body = response.content.decode()
    for secret in ("Okafor", "Lindqvist", "Zoë", "NY-7", "Other", timed.pump.serial_number, "8637"):
        assert secret not in body, secret


def test_a_nurse_feed_shows_only_that_nurse(api, booked, nurse):
    clinic, timed, _ = booked
    feed = feed_url(api, clinic, nurse=nurse.username)
    lines = unfold(client_for(None).get(feed["url"].replace("http://testserver", "")).content.decode())
    assert properties(lines, "UID") == [f"UID:appointment-{timed.pk}.{instance_id()}@pumpcare"]


def test_a_revoked_feed_is_gone(api, booked):
    clinic, *_ = booked
    feed = feed_url(api, clinic)
    path = feed["url"].replace("http://testserver", "")
    assert api.post(f"/api/v1/calendar-feeds/{feed['id']}/revoke/").json()["revoked_at"]
    assert client_for(None).get(path).status_code == 404


def test_an_unknown_token_is_not_found(client):
    assert client.get("/calendar/not-a-token.ics").status_code == 404


def test_feeds_are_scoped_to_the_users_clinics(api, booked, outsider):
    clinic, *_ = booked
    feed = feed_url(api, clinic)
    other = client_for(outsider)
    assert other.get(f"/api/v1/calendar-feeds/{feed['id']}/").status_code == 404
    assert other.post("/api/v1/calendar-feeds/", {"clinic": clinic.code}, format="json").status_code == 400


def test_long_lines_are_folded_at_75_octets_without_splitting_characters(booked, clinic_admin):
    clinic, timed, _ = booked
    patient = timed.pump.patient
    patient.family_name = "é" * 100  # 200 octets in one SUMMARY
    patient.save()
    body = fetch(feed_url(clinic_admin, clinic, detail="full"))
    physical = body.split(b"\r\n")
    assert all(len(raw) <= 75 for raw in physical)
    for raw in physical:
        raw.decode()  # strict: a character split across two lines raises
    summaries = [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(body).walk("VEVENT")]
    assert f"Refill: {'é' * 100}, Zoë (NY-7)" in summaries


def test_the_full_format_names_the_patient_and_the_pump(booked, clinic_admin):
    clinic, timed, _ = booked
    feed = feed_url(clinic_admin, clinic, detail="full")
    assert feed["detail"] == "full"
    lines = unfold(fetch(feed).decode())
    serial = timed.pump.serial_number
    pump_page = f"{settings.PUMPCARE_BASE_URL}/pumps/{timed.pump.pk}/"
    assert "SUMMARY:Refill: Okafor-Lindqvist\\, Zoë (NY-7)" in lines
    assert (
        f"DESCRIPTION:Pump 8637-20 #{serial}\\nNurse: nurse\\nPump page (sign in to pumpcare): {pump_page}"
        in lines
    )


def test_only_a_clinic_admin_chooses_the_full_format(api, booked, clinic_admin, admin_user):
    clinic, *_ = booked
    response = api.post("/api/v1/calendar-feeds/", {"clinic": clinic.code, "detail": "full"}, format="json")
    assert response.status_code == 403, response.json()
    assert "admin" in response.json()["detail"]
    feed = feed_url(api, clinic)
    path = f"/api/v1/calendar-feeds/{feed['id']}/"
    response = api.patch(path, {"detail": "full"}, format="json")
    assert response.status_code == 403
    assert CalendarFeed.objects.get(pk=feed["id"]).detail == "minimal"

    # The admin turns it full: same URL, the feed now names the patient; the history says who.
    response = clinic_admin.patch(path, {"detail": "full"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["detail"] == "full" and response.json()["url"] == feed["url"]
    assert b"Okafor-Lindqvist" in fetch(feed)
    latest = CalendarFeed.history.filter(id=feed["id"]).latest("history_id")
    assert (latest.detail, latest.history_user, latest.history_change_reason) == (
        "full",
        admin_user,
        "calendar feed detail minimal → full",
    )

    # Anyone who may create a feed may make it minimal again.
    assert api.patch(path, {"detail": "minimal"}, format="json").json()["detail"] == "minimal"
    assert b"Okafor" not in fetch(feed)
    reasons = [
        h.history_change_reason for h in CalendarFeed.history.filter(id=feed["id"]).order_by("history_id")
    ]
    assert reasons == [
        "calendar feed created (minimal)",
        "calendar feed detail minimal → full",
        "calendar feed detail full → minimal",
    ]


def test_a_bad_detail_is_refused_and_writes_nothing(api, booked, clinic_admin):
    clinic, *_ = booked
    response = api.post("/api/v1/calendar-feeds/", {"clinic": clinic.code, "detail": "names"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"detail": ["must be minimal or full"]}
    assert not CalendarFeed.objects.exists()
    feed = feed_url(api, clinic)
    path = f"/api/v1/calendar-feeds/{feed['id']}/"
    for body in ({"detail": "FULL"}, {}, {"detail": None}):
        response = clinic_admin.patch(path, body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert response.json()["field"] == "detail"
    # a revoked feed stays gone: changing it is refused, not silently kept
    api.post(f"{path}revoke/")
    response = clinic_admin.patch(path, {"detail": "full"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"detail": ["this feed was revoked: create a new one"]}
    assert CalendarFeed.objects.get(pk=feed["id"]).detail == "minimal"
    assert CalendarFeed.history.filter(id=feed["id"]).count() == 2  # created, revoked


def test_a_feed_made_before_the_formats_keeps_its_url_and_turns_minimal(booked, nurse):
    """A URL a calendar subscribed to before detail levels existed still answers, now with
    the minimal text (the migration's default)."""
    clinic, timed, _ = booked
    feed = CalendarFeed.objects.create(clinic=clinic, created_by=nurse)
    response = client_for(None).get(f"/calendar/{feed.token}.ics")
    assert response.status_code == 200
    lines = unfold(response.content.decode())
    assert "SUMMARY:Refill: Z.O." in lines and b"NY-7" not in response.content


def test_uids_are_stable_across_fetches_and_moves(api, booked):
    clinic, timed, _ = booked
    feed = feed_url(api, clinic)
    before = {str(e["UID"]) for e in icalendar.Calendar.from_ical(fetch(feed)).walk("VEVENT")}
    timed.day, timed.time = date(2026, 12, 16), time(11, 0)
    timed.save()
    events = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(fetch(feed)).walk("VEVENT")}
    assert set(events) == before
    uid = f"appointment-{timed.pk}.{instance_id()}@pumpcare"
    # 11:00 in New York (EST, UTC-5) is 16:00Z
    assert events[uid].decoded("DTSTART") == datetime(2026, 12, 16, 16, 0, tzinfo=UTC)


# --- two independent parsers: icalendar and vobject -------------------------------------

RLM, ALM = "\u200f", "\u061c"  # right-to-left mark, Arabic letter mark: kept (not overrides)


@pytest.mark.parametrize(
    "given, family, mrn, initials, full_summary",
    [
        ("Zoë\rAnn", "Okafor\r\nLindqvist", "NY\r7", "Z.O.", "Refill: Okafor Lindqvist, Zoë Ann (NY 7)"),
        ("Zoë\nAnn", "O'Brien, Jr.; MD", "NY,7;a", "Z.O.", "Refill: O'Brien, Jr.; MD, Zoë Ann (NY,7;a)"),
        ("🙂 Zoë", "Okafor 🩺💉", "NY-7", "Z.O.", "Refill: Okafor 🩺💉, 🙂 Zoë (NY-7)"),
        (
            f"{RLM}زينب",
            f"{ALM}العلي{RLM}",
            "NY-7",
            "ز.ا.",
            f"Refill: {ALM}العلي{RLM}, {RLM}زينب (NY-7)",
        ),
    ],
    ids=["carriage-return-and-newline", "commas-and-semicolons", "emoji", "right-to-left-marks"],
)
def test_two_parsers_read_the_feed_and_the_default_names_no_one(
    api, booked, clinic_admin, given, family, mrn, initials, full_summary
):
    clinic, timed, all_day = booked
    patient = timed.pump.patient
    patient.given_name, patient.family_name, patient.mrn = given, family, mrn
    patient.save()  # directly: the API refuses some of these
    serial = timed.pump.serial_number
    timed_uid = f"appointment-{timed.pk}.{instance_id()}@pumpcare"
    for client, detail, summary in ((api, None, f"Refill: {initials}"), (clinic_admin, "full", full_summary)):
        body = fetch(feed_url(client, clinic, detail=detail))
        by_icalendar = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}
        by_vobject = {e.uid.value: e for e in vobject.readOne(body.decode("utf-8")).vevent_list}
        assert (
            set(by_icalendar)
            == set(by_vobject)
            == {
                timed_uid,
                f"appointment-{all_day.pk}.{instance_id()}@pumpcare",
            }
        )
        assert str(by_icalendar[timed_uid]["SUMMARY"]) == by_vobject[timed_uid].summary.value == summary
        assert str(by_icalendar[timed_uid]["LOCATION"]) == by_vobject[timed_uid].location.value
        assert by_vobject[timed_uid].location.value == "Neuro, East; Side"
        assert by_vobject[timed_uid].dtstart.value == datetime(2026, 12, 14, 14, 30, tzinfo=UTC)
        assert by_vobject[timed_uid].url.value == f"{settings.PUMPCARE_BASE_URL}/pumps/{timed.pump.pk}/"
        if detail is None:
            parsed = [
                str(value)
                for event in by_icalendar.values()
                for value in (event["SUMMARY"], event["DESCRIPTION"], event["LOCATION"], event["URL"])
            ]
            text = body.decode() + "\n".join(parsed)
            words = [w.strip(RLM + ALM) for w in re.split(r"[\s,;]+", f"{given} {family}")]
            words = [w for w in words if len(w) > 1]
            for secret in [*words, mrn, serial, "Other"]:
                assert secret not in text, secret


# --- a strict reader: what a strict calendar client does with the feed ------------------

CONTENT_LINE = re.compile(
    # RFC 5545 3.1: name *(";" param) ":" value; param values quoted or plain; no control
    # character anywhere but HTAB (a bare CR, LF, NUL or VT makes the line invalid)
    r"^(?P<name>[A-Za-z0-9-]+)"
    r'(?P<params>(?:;[A-Za-z0-9-]+=(?:"[^"\x00-\x08\x0a-\x1f\x7f]*"|[^";:,\x00-\x08\x0a-\x1f\x7f]*)'
    r'(?:,(?:"[^"\x00-\x08\x0a-\x1f\x7f]*"|[^";:,\x00-\x08\x0a-\x1f\x7f]*))*)*)'
    r":(?P<value>[^\x00-\x08\x0a-\x1f\x7f]*)$"
)


def strict_parse(body: bytes) -> list[dict]:
    """The events of an RFC 5545 stream, refusing what a strict parser refuses: a line not
    ended by CRLF, a line longer than 75 octets, a control character, a malformed content
    line, a component not closed. Returns each VEVENT's properties, TEXT values unescaped."""
    assert body.endswith(b"\r\n"), "the stream ends with CRLF"
    physical = body[:-2].split(b"\r\n")
    for raw in physical:
        assert b"\r" not in raw and b"\n" not in raw, f"a bare CR or LF in {raw!r}"
        assert len(raw) <= 75, f"a line longer than 75 octets: {raw!r}"
    lines: list[str] = []
    for raw in physical:
        text = raw.decode("utf-8")  # strict: invalid UTF-8 raises
        if text[:1] in (" ", "\t"):
            assert lines, "a continuation line first"
            lines[-1] += text[1:]
        else:
            lines.append(text)
    stack, events = [], []
    for line in lines:
        match = CONTENT_LINE.match(line)
        assert match, f"not a content line: {line!r}"
        name, value = match["name"].upper(), match["value"]
        if name == "BEGIN":
            stack.append(value)
            if value == "VEVENT":
                events.append({})
        elif name == "END":
            assert stack and stack.pop() == value, f"END:{value} closes nothing"
        elif stack and stack[-1] == "VEVENT":
            events[-1][name] = re.sub(r"\\([\\;,nN])", lambda m: "\n" if m[1] in "nN" else m[1], value)
            assert not re.search(r"(?<!\\)[;,]", value.replace("\\\\", "")) or name not in TEXT, line
    assert stack == [], f"components left open: {stack}"
    return events


TEXT = {"SUMMARY", "DESCRIPTION", "LOCATION"}


@pytest.mark.parametrize(
    "given, family, mrn",
    [
        ("Zoë\rAnn", "Okafor\r\nLindqvist", "NY-7"),
        ("Zoë\u2028Ann", "Okafor\x0bLindqvist", "NY-\x1b7"),
        ("Zoë\nAnn", "Okafor\x85Lindqvist", "NY-\t7"),
    ],
    ids=["carriage-returns", "line-separator-and-vertical-tab", "newline-nel-and-tab"],
)
def test_a_line_break_typed_into_a_name_does_not_break_the_feed(
    api, booked, clinic_admin, given, family, mrn
):
    clinic, timed, all_day = booked
    patient = timed.pump.patient
    patient.given_name, patient.family_name, patient.mrn = given, family, mrn
    patient.save()
    clinic.name = "Neuro,\rEast; Side"
    clinic.save()
    # Each break or control character is one space: the name reads as the clinic typed it.
    expected_mrn = "NY-7" if mrn == "NY-7" else "NY- 7"
    for client, detail, summary in (
        (api, None, "Refill: Z.O."),
        (clinic_admin, "full", f"Refill: Okafor Lindqvist, Zoë Ann ({expected_mrn})"),
    ):
        events = strict_parse(fetch(feed_url(client, clinic, detail=detail)))
        assert len(events) == 2
        timed_event = next(e for e in events if e["DTSTART"] == "20261214T143000Z")
        assert timed_event["SUMMARY"] == summary
        assert timed_event["LOCATION"] == "Neuro, East; Side"


def test_the_feed_answers_only_reads(api, booked):
    """The feed answered a POST, PUT, PATCH or DELETE
    with the feed itself (200), as if it were a read. It is one: GET and HEAD only."""
    clinic, *_ = booked
    path = feed_url(api, clinic)["url"].replace("http://testserver", "")
    anyone = client_for(None)
    assert anyone.get(path).status_code == 200
    assert anyone.head(path).status_code == 200
    for method in ("post", "put", "patch", "delete"):
        response = getattr(anyone, method)(path)
        assert response.status_code == 405, (method, response.status_code)
        assert b"BEGIN:VCALENDAR" not in response.content
