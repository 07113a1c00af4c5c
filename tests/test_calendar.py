"""The iCalendar feed of booked appointments (RFC 5545)."""

import re
from datetime import date, time

import pytest

from alerts.identity import instance_id
from patients.models import Clinic
from scheduling.models import Appointment
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


def feed_url(client, clinic, nurse=None):
    body = {"clinic": clinic.code} | ({"nurse": nurse} if nurse else {})
    response = client.post("/api/v1/calendar-feeds/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


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
    assert "SUMMARY:Refill: Okafor-Lindqvist\\, Zoë (NY-7)" in lines
    assert all(len(raw.encode()) <= 75 for raw in response.content.decode().split("\r\n"))


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


def test_long_lines_are_folded_at_75_octets_without_splitting_characters():
    from scheduling.calendar import _fold

    line = "SUMMARY:" + "é" * 100  # 8 + 200 octets
    folded = _fold(line)
    parts = folded.split("\r\n")
    assert all(len(p.encode()) <= 75 for p in parts)
    assert all(p.startswith(" ") for p in parts[1:])
    assert folded.replace("\r\n ", "") == line


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
def test_a_line_break_typed_into_a_name_does_not_break_the_feed(api, booked, given, family, mrn):
    clinic, timed, all_day = booked
    patient = timed.pump.patient
    patient.given_name, patient.family_name, patient.mrn = given, family, mrn
    patient.save()
    clinic.name = "Neuro,\rEast; Side"
    clinic.save()
    feed = feed_url(api, clinic)
    body = client_for(None).get(feed["url"].replace("http://testserver", "")).content
    events = strict_parse(body)
    assert len(events) == 2
    timed_event = next(e for e in events if e["DTSTART"] == "20261214T143000Z")
    # Each break or control character is one space: the name reads as the clinic typed it.
    expected_mrn = "NY-7" if mrn == "NY-7" else "NY- 7"
    assert timed_event["SUMMARY"] == f"Refill: Okafor Lindqvist, Zoë Ann ({expected_mrn})"
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
