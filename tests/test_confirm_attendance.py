"""The "confirm attendance" link of a reminder: signed, expiring, void
once the appointment moves; opening it confirms nothing, the button does; the worklist
shows the confirmation."""

import re
from datetime import UTC, date, datetime

import pytest
from django.core import mail

from patients.models import Caregiver
from scheduling.confirm import confirmation_url
from scheduling.models import Appointment
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import clock_at, deliver, fill

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def appointment(clinic, api):
    patient = PatientFactory(clinic=clinic, email="ada@example.org", communication_consent=True)
    pump = PumpFactory(patient=patient, implanted_on=date(2026, 1, 2))
    fill(api, pump, "2026-11-20T10:00:00Z")  # refill-by 2026-12-14
    response = api.post(
        "/api/v1/appointments/",
        {"pump": pump.pk, "kind": "refill", "day": "2026-12-14", "time": "10:30"},
        format="json",
    )
    assert response.status_code == 201
    return Appointment.objects.get(pk=response.json()["id"])


def path_of(url):
    """The path of an absolute link (the test client serves the app at /)."""
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_the_link_in_the_reminder_opens_a_page_and_the_button_confirms(
    client, api, appointment, monkeypatch, django_capture_on_commit_callbacks
):
    clock_at(monkeypatch, datetime(2026, 12, 13, 9, 0, tzinfo=UTC))
    deliver(django_capture_on_commit_callbacks)
    link = re.search(r"http\S+/confirm/\S+/", mail.outbox[0].body).group(0)
    page = client.get(path_of(link))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Monday 14 December 2026" in text and "10:30" in text and "Home Clinic" in text
    assert "I will come" in text
    appointment.refresh_from_db()
    assert appointment.confirmed_at is None  # opening the link (a mail scanner) confirms nothing
    done = client.post(path_of(link))
    assert done.status_code == 200 and "Your attendance is confirmed" in done.content.decode()
    appointment.refresh_from_db()
    assert appointment.confirmed_at == datetime(2026, 12, 13, 9, 0, tzinfo=UTC)
    assert appointment.confirmed_by == f"patient:{appointment.pump.patient_id}"
    assert appointment.history.latest().history_change_reason == (
        f"attendance confirmed by patient:{appointment.pump.patient_id} from a reminder"
    )
    client.post(path_of(link))  # twice: still the first confirmation
    appointment.refresh_from_db()
    assert appointment.confirmed_at == datetime(2026, 12, 13, 9, 0, tzinfo=UTC)


def test_the_worklist_shows_the_confirmation(client, api, appointment):
    url = path_of(confirmation_url(appointment, "patient:1"))
    client.post(url)
    row = api.get("/api/v1/worklist/?clinic=HOME").json()["results"][0]
    assert row["flags"]["attendance_confirmed"] is True
    assert row["appointment"]["confirmed_at"] == "2026-11-26T12:00:00Z"


def test_a_moved_appointment_voids_the_link_and_the_confirmation(client, api, appointment):
    url = path_of(confirmation_url(appointment, "patient:1"))
    client.post(url)
    api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"day": "2026-12-11"}, format="json")
    appointment.refresh_from_db()
    assert (appointment.confirmed_at, appointment.confirmed_by) == (None, "")
    refused = client.post(url)
    assert refused.status_code == 410
    assert "changed or cancelled" in refused.content.decode()
    assert "+1 555 0100" in refused.content.decode()  # whom to call instead
    appointment.refresh_from_db()
    assert appointment.confirmed_at is None


@pytest.mark.rule("ALERT-2")
def test_a_new_time_the_same_day_voids_the_link_and_the_confirmation(client, api, appointment):
    url = path_of(confirmation_url(appointment, "patient:1"))
    client.post(url)
    response = api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"time": "14:00"}, format="json")
    assert response.status_code == 200, response.json()
    appointment.refresh_from_db()
    assert (appointment.day, appointment.time.isoformat()) == (date(2026, 12, 14), "14:00:00")
    # The patient confirmed 10:30, not 14:00: the worklist must not show them as coming.
    assert (appointment.confirmed_at, appointment.confirmed_by) == (None, "")
    refused = client.post(url)
    assert refused.status_code == 410 and "changed or cancelled" in refused.content.decode()


@pytest.mark.rule("ALERT-2")
def test_a_caregivers_link_confirms_for_the_person_they_care_for(client, appointment):
    caregiver = Caregiver.objects.create(
        patient=appointment.pump.patient,
        name="Grace Hopper",
        email="grace@example.org",
        communication_consent=True,
    )
    url = path_of(confirmation_url(appointment, f"caregiver:{caregiver.pk}"))
    name = f"{appointment.pump.patient.given_name} {appointment.pump.patient.family_name}"
    page = client.get(url).content.decode()
    assert f"Confirm the appointment of {name}" in page and f"{name} will come" in page
    assert "your appointment" not in page.lower() and "I will come" not in page
    done = client.post(url).content.decode()
    assert f"The attendance of {name} is confirmed." in done and "Your attendance" not in done
    appointment.refresh_from_db()
    assert appointment.confirmed_by == f"caregiver:{caregiver.pk}"


def test_a_tampered_link_is_refused(client, appointment):
    url = path_of(confirmation_url(appointment, "patient:1"))
    assert client.get(url[:-3] + "xx/").status_code == 410
    assert "not valid" in client.get(url[:-3] + "xx/").content.decode()


def test_the_link_expires_after_the_appointment_day(client, appointment, monkeypatch):
    url = path_of(confirmation_url(appointment, "patient:1"))
    clock_at(monkeypatch, datetime(2026, 12, 14, 23, 0, tzinfo=UTC))
    assert client.get(url).status_code == 200  # the day itself
    clock_at(monkeypatch, datetime(2026, 12, 15, 0, 1, tzinfo=UTC))
    expired = client.post(url)
    assert expired.status_code == 410 and "expired" in expired.content.decode()
