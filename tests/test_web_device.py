"""The pump's device page in the web app: record an interrogation (DEVICE-1) and an MRI
(MRI-1), see the follow-up on the pump page and the worklist; refusals in words."""

from __future__ import annotations

import pytest
from django.test import Client

from alerts.models import Alert, AlertKind
from devices.models import Interrogation, Mri
from patients.models import PumpModel
from tests.conftest import client_for
from tests.helpers import fill

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def filled(nurse, pump):
    fill(client_for(nurse), pump, "2026-11-16T12:00:00Z")
    return pump


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.rule("DEVICE-1")
def test_device_1_a_nurse_records_an_interrogation_with_a_motor_stall(nurse, filled):
    response = web(nurse).post(
        f"/pumps/{filled.pk}/device/",
        {"action": "interrogation", "interrogated_at": "2026-11-26T11:00", "alarms": ["motor_stall", "eri"]},
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "motor stall — a critical alert went to the on-call address" in text
    assert "ERI date set to 26 Nov 2026" in text
    assert Interrogation.objects.get().alarms == ["motor_stall", "eri"]
    assert Alert.objects.get(kind=AlertKind.DEVICE_ALARM).severity == "critical"


@pytest.mark.rule("DEVICE-1")
def test_device_1_an_unknown_alarm_or_a_future_time_is_refused_in_words(nurse, filled):
    response = web(nurse).post(
        f"/pumps/{filled.pk}/device/",
        {"action": "interrogation", "interrogated_at": "2026-11-27T11:00", "alarms": ["battery_fire"]},
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "The interrogation was not recorded" in text
    assert "Alarms read" in text
    assert not Interrogation.objects.exists()


@pytest.mark.rule("MRI-1")
def test_mri_1_a_nurse_records_an_mri_and_the_pump_page_shows_the_task(nurse, filled, clinic):
    client = web(nurse)
    response = client.post(
        f"/pumps/{filled.pk}/device/", {"action": "mri", "scan_at": "2026-11-26T09:00"}, follow=True
    )
    assert "Interrogate the pump today (26 Nov 2026): the scan is over." in response.content.decode()
    pump_page = client.get(f"/pumps/{filled.pk}/").content.decode()
    assert "Interrogate the pump today" in pump_page
    worklist = client.get(f"/clinics/{clinic.code}/worklist/").content.decode()
    assert "MRI follow-ups" in worklist and "Interrogate the pump today" in worklist
    assert Mri.objects.get().follow_up == "interrogate_after"


@pytest.mark.rule("MRI-1")
def test_mri_1_no_guidance_on_file_is_said_and_refused(nurse, filled):
    PumpModel.objects.filter(pk=filled.model_id).update(mri_follow_up="")
    client = web(nurse)
    assert (
        "No MRI guidance is on file for pump model 8637-20"
        in client.get(f"/pumps/{filled.pk}/device/").content.decode()
    )
    response = client.post(f"/pumps/{filled.pk}/device/", {"action": "mri", "scan_at": "2026-11-26T09:00"})
    assert response.status_code == 400
    assert "no MRI guidance is on file" in response.content.decode()
    assert not Mri.objects.exists()


def test_the_device_page_of_another_clinic_is_not_found(outsider, filled):
    assert web(outsider).get(f"/pumps/{filled.pk}/device/").status_code == 404


def test_staff_read_the_device_page_but_cannot_record(staff, filled):
    client = web(staff)
    assert "needs the nurse or physician role" in client.get(f"/pumps/{filled.pk}/device/").content.decode()
    response = client.post(
        f"/pumps/{filled.pk}/device/", {"action": "interrogation", "interrogated_at": "2026-11-26T11:00"}
    )
    assert response.status_code == 403
    assert not Interrogation.objects.exists()


def test_an_unknown_action_is_refused(nurse, filled):
    response = web(nurse).post(f"/pumps/{filled.pk}/device/", {"action": "\x00"})
    assert response.status_code == 400
    assert not Interrogation.objects.exists() and not Mri.objects.exists()
