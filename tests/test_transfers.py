"""Transfers: a patient with their pumps moves to another clinic — asked by an admin of the
clinic they leave, accepted (or declined) by an admin of the clinic they join, in one step by
an admin of both. The record moves with the patient, the old clinic keeps no access, open
appointments are cancelled for the new clinic to book, and the projection is recomputed in
the new clinic's zone.

Hand-worked: the pump filled on 16 Nov 12:00 UTC with 20 mL at 500 mcg/mL, 250 mcg/day
(0.5 mL/day; worst case at 14.5 %: 0.5725 mL/day) reaches its 2 mL alarm, worst case, after
18 / 0.5725 = 31.441 days (31 days 10 h 35 min): 17 Dec 22:35 UTC. At the home clinic (UTC)
that is 17 Dec, less 7 days: refill by 10 Dec. In Auckland (UTC+13 in December) it is 18 Dec
11:35: refill by 11 Dec.
"""

from __future__ import annotations

import io
from datetime import date, time

import pytest
from django.core.management import CommandError, call_command

from alerts.models import Alert
from exchange.models import Transfer
from patients.models import Patient
from scheduling.models import Appointment
from tests.conftest import _member, client_for
from tests.factories import PatientFactory, UserFactory
from tests.helpers import assert_refused, fill

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def away(other_clinic):
    other_clinic.timezone = "Pacific/Auckland"
    other_clinic.save()
    return other_clinic


@pytest.fixture
def home_admin(admin_user):
    return client_for(admin_user)


@pytest.fixture
def away_admin(away):
    return client_for(_member(away, "admin", "away_admin"))


@pytest.fixture
def filled(api, pump):
    fill(api, pump, "2026-11-16T12:00:00Z")
    Appointment.objects.create(
        pump=pump, kind="refill", status="booked", day=date(2026, 12, 10), time=time(9, 0)
    )
    return pump


def ask(client, patient, to="AWAY", reason="moved to Auckland"):
    return client.post(
        f"/api/v1/patients/{patient.pk}/transfers/", {"to_clinic": to, "reason": reason}, format="json"
    )


def test_a_patient_moves_with_the_whole_record_and_the_old_clinic_keeps_no_access(
    api, home_admin, away_admin, filled, away
):
    patient = filled.patient
    assert api.get(f"/api/v1/pumps/{filled.pk}/projection/").json()["refill_by"] == "2026-12-10"
    Alert.objects.create(
        clinic=patient.clinic, pump=filled, kind="refill_unbooked", severity="warning", message="x"
    )
    asked = ask(home_admin, patient)
    assert asked.status_code == 201, asked.json()
    assert (asked.json()["status"], asked.json()["to_clinic"]) == ("requested", "AWAY")
    # the clinic the patient joins sees the request, and accepts it
    listed = away_admin.get("/api/v1/transfers/").json()["results"]
    assert [t["patient_mrn"] for t in listed] == [patient.mrn]
    done = away_admin.post(f"/api/v1/transfers/{asked.json()['id']}/accept/", {}, format="json")
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == "done" and done.json()["decided_by"] == "away_admin"
    # the old clinic keeps no access to the patient, the pump, its record or its alerts
    for url in (
        f"/api/v1/patients/{patient.pk}/",
        f"/api/v1/pumps/{filled.pk}/",
        f"/api/v1/pumps/{filled.pk}/refills/",
        f"/api/v1/patients/{patient.pk}/fhir/",
    ):
        assert api.get(url).status_code == 404, url
    assert api.get("/api/v1/alerts/").json()["count"] == 0
    # the new clinic has it all: the refill history, the alerts, the dates in its zone
    assert len(away_admin.get(f"/api/v1/pumps/{filled.pk}/refills/").json()["results"]) == 1
    projection = away_admin.get(f"/api/v1/pumps/{filled.pk}/projection/").json()
    assert projection["refill_by"] == "2026-12-11"
    assert Alert.objects.filter(pump=filled).exclude(clinic=away).count() == 0
    # the booked refill is cancelled for the new clinic to book with its own slots
    appointment = Appointment.objects.get(pump=filled, day=date(2026, 12, 10))
    assert appointment.status == "cancelled"
    assert "the patient moved to Away Clinic" in appointment.history.first().history_change_reason
    # audited: who moved the patient, from where, why
    record = Patient.history.filter(id=patient.pk).first()
    assert record.history_change_reason == "transferred from HOME to AWAY: moved to Auckland"


def test_only_admins_ask_and_accept_and_a_refusal_changes_nothing(api, home_admin, away_admin, filled, away):
    patient = filled.patient
    assert ask(api, patient).status_code == 403  # a nurse is no admin
    asked = ask(home_admin, patient).json()
    assert home_admin.post(f"/api/v1/transfers/{asked['id']}/accept/", {}, format="json").status_code == 403
    assert_refused(ask(home_admin, patient), "patient", code="transfer_open")
    assert Patient.objects.get(pk=patient.pk).clinic.code == "HOME"


def test_refusals_name_what_is_wrong(home_admin, filled, away):
    patient = filled.patient
    assert_refused(ask(home_admin, patient, to="HOME"), "to_clinic", code="same_clinic")
    assert_refused(ask(home_admin, patient, to="NOPE"), "to_clinic")
    assert_refused(ask(home_admin, patient, reason=" "), "reason")
    PatientFactory(clinic=away, mrn=patient.mrn)
    body = assert_refused(ask(home_admin, patient), "to_clinic", code="mrn_taken")
    assert f"Away Clinic already has a patient with MRN {patient.mrn}" in body["detail"]
    assert not Transfer.objects.exists()


def test_declined_by_the_other_clinic_or_withdrawn_by_the_asking_one(home_admin, away_admin, filled, away):
    patient = filled.patient
    first = ask(home_admin, patient).json()
    assert_refused(away_admin.post(f"/api/v1/transfers/{first['id']}/decline/", {}, format="json"), "note")
    declined = away_admin.post(
        f"/api/v1/transfers/{first['id']}/decline/", {"note": "no capacity"}, format="json"
    )
    assert declined.json()["status"] == "declined"
    second = ask(home_admin, patient).json()
    withdrawn = home_admin.post(
        f"/api/v1/transfers/{second['id']}/decline/", {"note": "stays"}, format="json"
    )
    assert withdrawn.json()["status"] == "withdrawn"
    assert_refused(
        away_admin.post(f"/api/v1/transfers/{second['id']}/accept/", {}, format="json"),
        "transfer",
        code="not_open",
    )
    assert Patient.objects.get(pk=patient.pk).clinic.code == "HOME"


def test_the_platform_operator_moves_a_patient_in_one_step(filled, away):
    operator = UserFactory(username="operator", is_superuser=True, is_staff=True)
    out = io.StringIO()
    call_command(
        "transfer_patient",
        "--from=HOME",
        f"--mrn={filled.patient.mrn}",
        "--to=AWAY",
        "--reason=moved to Auckland",
        "--operator=operator",
        stdout=out,
    )
    assert "moved from HOME to AWAY" in out.getvalue()
    transfer = Transfer.objects.get()
    assert (transfer.status, transfer.requested_by, transfer.decided_by) == ("done", operator, operator)
    assert Patient.objects.get(pk=filled.patient_id).clinic == away
    with pytest.raises(CommandError, match="is the patient's clinic already"):
        call_command(
            "transfer_patient",
            "--from=AWAY",
            f"--mrn={filled.patient.mrn}",
            "--to=AWAY",
            "--reason=x",
            "--operator=operator",
        )


def test_an_admin_asks_and_the_other_clinics_admin_accepts_in_the_web_app(client, admin_user, filled, away):
    client.force_login(admin_user)
    page = client.get("/clinics/HOME/transfers/").content.decode()
    assert "Move a patient to another clinic" in page and "Away Clinic (AWAY)" in page
    unknown = client.post(
        "/clinics/HOME/transfers/", {"action": "ask", "mrn": "NOPE", "to_clinic": "AWAY"}, follow=True
    )
    assert "no patient of Home Clinic has MRN “NOPE”" in unknown.content.decode()
    asked = client.post(
        "/clinics/HOME/transfers/",
        {"action": "ask", "mrn": filled.patient.mrn, "to_clinic": "AWAY", "reason": "moved to Auckland"},
        follow=True,
    )
    assert "an admin of that clinic accepts or declines it" in asked.content.decode()
    transfer = Transfer.objects.get()
    client.force_login(_member(away, "admin", "away_admin"))
    listed = client.get("/clinics/AWAY/transfers/").content.decode()
    assert "moved to Auckland" in listed and 'value="accept"' in listed
    done = client.post("/clinics/AWAY/transfers/", {"action": "accept", "transfer": transfer.pk}, follow=True)
    assert "is now a patient of Away Clinic: book their next refill." in done.content.decode()
    assert Patient.objects.get(pk=filled.patient_id).clinic == away


def test_a_nurse_reads_the_transfers_but_cannot_answer_them(client, nurse, home_admin, filled, away):
    ask(home_admin, filled.patient)
    client.force_login(nurse)
    page = client.get("/clinics/HOME/transfers/").content.decode()
    assert "moved to Auckland" in page and "Move a patient to another clinic" not in page
    transfer = Transfer.objects.get()
    refused = client.post(
        "/clinics/HOME/transfers/", {"action": "decline", "transfer": transfer.pk, "note": "x"}, follow=True
    )
    assert "Nothing was done" in refused.content.decode()
    assert Transfer.objects.get().status == "requested"
