"""The pump's device page in the web app: record an interrogation (DEVICE-1) and an MRI
(MRI-1), see the follow-up on the pump page and the worklist; refusals in words."""

from __future__ import annotations

import html
from datetime import UTC, date, datetime

import pytest
from django.test import Client

from alerts.models import Alert, AlertKind
from devices.models import Interrogation, Mri
from patients.models import PumpModel
from refills.models import Prescription
from tests.conftest import client_for
from tests.factories import PumpFactory
from tests.helpers import fill, therapy_rows

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


# --- an open MRI's follow-up on the device page: emptying a Prometra II, cancelling ---------


@pytest.fixture
def prometra(nurse, patient):
    """A Prometra II filled on 2026-11-16 12:00Z (300 mcg/day), its MRI at 15:00 today."""
    pump = PumpFactory(
        patient=patient, model=PumpModel.objects.get(code="13827"), implanted_on=date(2026, 1, 2)
    )
    fill(client_for(nurse), pump, "2026-11-16T12:00:00Z")
    web(nurse).post(f"/pumps/{pump.pk}/device/", {"action": "mri", "scan_at": "2026-11-26T15:00"})
    return pump


def empty_post(mri, **overrides) -> dict:
    return {"action": "emptying", "mri": str(mri.pk), "emptied_at": "2026-11-26T11:30"} | overrides


@pytest.mark.rule("MRI-1", "TITRATE-2")
def test_mri_1_a_physician_records_the_emptying_of_a_prometra_with_a_reason(physician, prometra):
    mri = Mri.objects.get()
    client = web(physician)
    page = client.get(f"/pumps/{prometra.pk}/device/").content.decode()
    assert f'data-testid="emptying-form-{mri.pk}"' in page and "stops the therapy" in page
    response = client.post(
        f"/pumps/{prometra.pk}/device/", empty_post(mri, override_reason="MRI of the spine"), follow=True
    )
    said = response.content.decode()
    # the clinic is in UTC: 11:30 typed is 11:30Z
    assert "Pump emptied at Thu 26 Nov 2026 11:30" in said
    assert "a critical alert went to the on-call address" in said
    mri.refresh_from_db()
    assert mri.emptied_at == datetime(2026, 11, 26, 11, 30, tzinfo=UTC)
    zero = Prescription.objects.get(pk=mri.emptying_id)
    assert (zero.daily_dose_mcg, zero.override_reason) == (0, "MRI of the spine")
    assert Alert.objects.get(kind=AlertKind.DISCONTINUATION).severity == "critical"
    # emptied once: the form is no longer offered
    assert (
        f'data-testid="emptying-form-{mri.pk}"'
        not in client.get(f"/pumps/{prometra.pk}/device/").content.decode()
    )


@pytest.mark.rule("MRI-1", "TITRATE-2")
@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"override_reason": ""}, "write the physician's reason for stopping it"),
        ({"override_reason": "MRI", "emptied_at": "2026-11-26T16:00"}, "the pump is emptied before the MRI"),
        ({"override_reason": "MRI", "emptied_at": "tomorrow"}, "Time the pump was emptied"),
    ],
)
def test_titrate_2_an_emptying_refused_is_said_in_words_and_writes_nothing(physician, prometra, body, words):
    mri = Mri.objects.get()
    rows = therapy_rows()
    response = web(physician).post(f"/pumps/{prometra.pk}/device/", empty_post(mri, **body))
    assert response.status_code == 400
    said = html.unescape(response.content.decode())
    assert "The emptying was not recorded" in said and words in said
    summary = said.split("The emptying was not recorded", 1)[1].split("</div>", 1)[0]
    assert "emptied_at" not in summary.replace(
        "#emptied_at-", ""
    ) and "override_reason" not in summary.replace(
        "#override_reason-", ""
    )  # the nurse's words, not the API's field names
    assert therapy_rows() == rows
    assert Mri.objects.get().emptied_at is None
    assert not Alert.objects.filter(kind=AlertKind.DISCONTINUATION).exists()


@pytest.mark.rule("TITRATE-2")
def test_titrate_2_a_nurse_is_not_offered_the_emptying_and_is_refused_it(nurse, prometra):
    mri = Mri.objects.get()
    client = web(nurse)
    page = client.get(f"/pumps/{prometra.pk}/device/").content.decode()
    assert f'data-testid="emptying-form-{mri.pk}"' not in page
    assert "a physician records it here" in page
    response = client.post(f"/pumps/{prometra.pk}/device/", empty_post(mri, override_reason="MRI"))
    assert response.status_code == 403
    assert Mri.objects.get().emptied_at is None
    assert not Prescription.objects.filter(daily_dose_mcg=0).exists()


@pytest.mark.rule("MRI-1")
def test_mri_1_a_nurse_cancels_an_mri_with_a_reason_and_its_task_goes(nurse, filled, clinic):
    client = web(nurse)
    client.post(f"/pumps/{filled.pk}/device/", {"action": "mri", "scan_at": "2026-11-26T09:00"})
    mri = Mri.objects.get()
    refused = client.post(
        f"/pumps/{filled.pk}/device/", {"action": "cancel", "mri": str(mri.pk), "reason": " "}
    )
    assert refused.status_code == 400
    assert "The MRI was not cancelled" in refused.content.decode()
    assert Mri.objects.get().cancelled_at is None
    response = client.post(
        f"/pumps/{filled.pk}/device/",
        {"action": "cancel", "mri": str(mri.pk), "reason": "the scanner is broken"},
        follow=True,
    )
    assert "MRI of Thu 26 Nov 2026 09:00" in response.content.decode()
    assert "cancelled: its follow-up is no longer due" in response.content.decode()
    mri.refresh_from_db()
    assert mri.cancel_reason == "the scanner is broken" and mri.cancelled_at is not None
    assert mri.history.first().history_change_reason == "MRI cancelled: the scanner is broken"
    worklist = client.get(f"/clinics/{clinic.code}/worklist/").content.decode()
    assert "Interrogate the pump today" not in worklist
    # cancelled: no form is offered, and a second cancel is refused without writing
    again = client.post(
        f"/pumps/{filled.pk}/device/", {"action": "cancel", "mri": str(mri.pk), "reason": "x"}
    )
    assert again.status_code == 400
    assert "not one of this pump's open MRIs" in html.unescape(again.content.decode())
    assert Mri.objects.get().cancel_reason == "the scanner is broken"


def test_an_mri_of_another_pump_is_not_cancelled_from_this_page(nurse, filled, prometra):
    other = Mri.objects.get(pump=prometra)
    response = web(nurse).post(
        f"/pumps/{filled.pk}/device/", {"action": "cancel", "mri": str(other.pk), "reason": "x"}
    )
    assert response.status_code == 400
    assert Mri.objects.get(pk=other.pk).cancelled_at is None
