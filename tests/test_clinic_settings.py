"""The clinic's scheduling settings and closures (LRA-5), through the API and the web app:
the clinic's admin changes them, audited, and the refill proposals follow in the same
request.

"Now" is Thursday 2026-11-26 12:00Z; the clinic (UTC) works Monday to Friday. A pump filled
with 20 mL at 500 mcg/mL and 250 mcg/day on 2026-11-20 10:00 on an 8637-20 has its worst-case
alarm 18 / (0.5 x 1.145) = 31.441 days later, 2026-12-21 20:35, and refill-by 7 days before:
Monday 2026-12-14.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from alerts.models import Alert, AlertKind
from patients.models import Clinic, ClinicClosure
from scheduling.models import Appointment
from scheduling.proposals import refill_proposals_run
from tests.conftest import client_for
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import fill

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def admin(admin_user):
    return client_for(admin_user)


@pytest.fixture
def proposed(clinic, api):
    """A pump whose refill is proposed on Monday 14 Dec (its refill-by)."""
    pump = PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2))
    fill(api, pump, "2026-11-20T10:00:00Z")
    refill_proposals_run(clinic)
    assert proposal_days(pump) == [date(2026, 12, 14)]
    return pump


def proposal_days(pump):
    return list(Appointment.objects.filter(pump=pump, status="proposed").values_list("day", flat=True))


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the API ---------------------------------------------------------------------------------


@pytest.mark.rule("LRA-5")
def test_the_admin_sets_refill_slots_and_working_days_through_the_clinic_api(clinic, admin, api):
    body = api.get("/api/v1/clinics/HOME/").json()
    assert (body["refill_slots_per_day"], body["working_days"]) == (None, [1, 2, 3, 4, 5])
    assert "scheduling_window_days" not in body
    response = admin.patch(
        "/api/v1/clinics/HOME/",
        {"refill_slots_per_day": 2, "working_days": [1, 3, 5], "reason": "two nurses"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    clinic.refresh_from_db()
    assert (clinic.refill_slots_per_day, clinic.working_days) == (2, [1, 3, 5])
    assert clinic.history.first().history_change_reason == "two nurses"
    # no slot at all is not a setting: empty means no limit
    response = admin.patch("/api/v1/clinics/HOME/", {"refill_slots_per_day": 0}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "refill_slots_per_day"
    response = admin.patch("/api/v1/clinics/HOME/", {"refill_slots_per_day": None}, format="json")
    assert response.status_code == 200 and response.json()["refill_slots_per_day"] is None
    # a nurse reads them, does not change them
    response = api.patch("/api/v1/clinics/HOME/", {"refill_slots_per_day": 5}, format="json")
    assert response.status_code == 403 and "admin role" in response.json()["detail"]


@pytest.mark.rule("LRA-5")
def test_a_closure_added_through_the_api_is_audited_and_moves_the_proposals_in_the_request(
    clinic, admin, admin_user, api, proposed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            "/api/v1/clinics/HOME/closures/", {"date": "2026-12-14", "reason": "strike"}, format="json"
        )
    assert response.status_code == 201, response.json()
    assert response.json() == {"date": "2026-12-14", "reason": "strike"}
    closure = ClinicClosure.objects.get(clinic=clinic, date=date(2026, 12, 14))
    record = closure.history.first()
    assert (record.history_user, record.history_change_reason) == (admin_user, "closure added: strike")
    # Monday 14 closed: proposed on Friday 11 before the answer came back
    assert proposal_days(proposed) == [date(2026, 12, 11)]
    listed = api.get("/api/v1/clinics/HOME/closures/").json()
    assert listed == [{"date": "2026-12-14", "reason": "strike"}]
    assert api.get("/api/v1/clinics/HOME/").json()["closures"] == listed


@pytest.mark.rule("LRA-5")
def test_a_closure_in_the_past_a_duplicate_or_without_a_reason_is_refused_and_writes_nothing(
    clinic, admin, api
):
    ClinicClosure.objects.create(clinic=clinic, date=date(2026, 12, 24), reason="holiday")
    cases = [
        ({"date": "2026-11-25", "reason": "late"}, "date", "25 Nov 2026 is in the past"),
        ({"date": "2026-12-24", "reason": "again"}, "date", "already closed on 24 Dec 2026 (holiday)"),
        ({"date": "2026-12-28", "reason": "  "}, "reason", "required"),
        ({"date": "2026-12-28"}, "reason", "required"),
        ({"date": "2026-02-30", "reason": "x"}, "date", "Date has wrong format"),
    ]
    for body, field, words in cases:
        response = admin.post("/api/v1/clinics/HOME/closures/", body, format="json")
        assert response.status_code == 400, response.json()
        assert response.json()["field"] == field and words in response.json()["detail"], response.json()
    response = api.post(
        "/api/v1/clinics/HOME/closures/", {"date": "2026-12-28", "reason": "x"}, format="json"
    )
    assert response.status_code == 403 and "admin role" in response.json()["detail"]
    assert list(ClinicClosure.objects.values_list("date", flat=True)) == [date(2026, 12, 24)]


@pytest.mark.rule("LRA-5")
def test_removing_a_closure_reopens_the_day_and_a_missing_one_is_a_404(
    clinic, admin, admin_user, api, proposed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(
            "/api/v1/clinics/HOME/closures/", {"date": "2026-12-14", "reason": "strike"}, format="json"
        )
    assert proposal_days(proposed) == [date(2026, 12, 11)]
    assert api.delete("/api/v1/clinics/HOME/closures/2026-12-14/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.delete("/api/v1/clinics/HOME/closures/2026-12-14/?reason=called%20off")
    assert response.status_code == 204
    assert not ClinicClosure.objects.exists()
    record = ClinicClosure.history.filter(history_type="-").get()
    assert (record.history_user, record.history_change_reason) == (admin_user, "closure removed: called off")
    # a proposal already made stays where it is (still before refill-by, still a working day)
    assert proposal_days(proposed) == [date(2026, 12, 11)]
    response = admin.delete("/api/v1/clinics/HOME/closures/2026-12-15/")
    assert response.status_code == 404 and "no closure on 15 Dec 2026" in response.json()["detail"]
    assert admin.delete("/api/v1/clinics/HOME/closures/2026-02-30/").status_code == 404


@pytest.mark.rule("LRA-5")
def test_a_closure_over_a_booking_alerts_the_nurses_at_once(
    clinic, admin, api, proposed, django_capture_on_commit_callbacks
):
    appointment = Appointment.objects.get(pump=proposed, status="proposed")
    api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"time": "10:00"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(
            "/api/v1/clinics/HOME/closures/", {"date": "2026-12-14", "reason": "strike"}, format="json"
        )
    alert = Alert.objects.get(pump=proposed, kind=AlertKind.APPOINTMENT_DAY_CLOSED)
    assert "14 Dec 2026" in alert.text and "move it" in alert.text
    # reopening the day resolves it at the next run
    with django_capture_on_commit_callbacks(execute=True):
        admin.delete("/api/v1/clinics/HOME/closures/2026-12-14/")
    alert.refresh_from_db()
    assert alert.resolved_at is not None


# --- the web app -----------------------------------------------------------------------------


def test_the_settings_page_is_linked_for_admins_and_read_only_for_the_staff(clinic, admin_user, nurse):
    ClinicClosure.objects.create(clinic=clinic, date=date(2026, 12, 24), reason="holiday")
    ClinicClosure.objects.create(clinic=clinic, date=date(2026, 11, 2), reason="past")
    page = browser(admin_user).get("/clinics/HOME/settings/").content.decode()
    assert 'href="/clinics/HOME/settings/" aria-current="page">Scheduling settings</a>' in page
    assert "Thursday 24 December 2026" in page and "holiday" in page and "past" not in page
    assert 'name="refill_slots_per_day"' in page and "Open again" in page
    worklist = browser(nurse).get("/clinics/HOME/worklist/").content.decode()
    assert "Scheduling settings" not in worklist
    page = browser(nurse).get("/clinics/HOME/settings/").content.decode()
    assert "Refill slots a day: no limit." in page and "The clinic's admin changes them." in page
    assert 'name="refill_slots_per_day"' not in page and "Open again" not in page


@pytest.mark.rule("LRA-5")
def test_the_admin_changes_slots_working_days_and_closures_on_the_web_page(
    clinic, admin_user, nurse, proposed, django_capture_on_commit_callbacks
):
    c = browser(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(
            "/clinics/HOME/settings/",
            {"refill_slots_per_day": "2", "working_days": ["2", "3", "4", "5"], "reason": "no Mondays"},
            follow=True,
        )
    assert "Scheduling settings saved" in response.content.decode()
    clinic.refresh_from_db()
    assert (clinic.refill_slots_per_day, clinic.working_days) == (2, [2, 3, 4, 5])
    assert proposal_days(proposed) == [date(2026, 12, 11)]  # Monday 14 no longer worked
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post("/clinics/HOME/closures/", {"date": "2026-12-11", "reason": "audit"}, follow=True)
    page = response.content.decode()
    assert "The clinic is closed on 11 Dec 2026" in page and "Friday 11 December 2026" in page
    assert proposal_days(proposed) == [date(2026, 12, 10)]
    # refusals say what is wrong and change nothing
    for data, words in [
        ({"refill_slots_per_day": "0", "working_days": ["1"]}, "whole number from 1"),
        ({"refill_slots_per_day": "", "working_days": []}, "tick at least one working day"),
    ]:
        page = c.post("/clinics/HOME/settings/", data, follow=True).content.decode()
        assert "The settings were not saved" in page and words in page
    page = c.post(
        "/clinics/HOME/closures/", {"date": "2026-11-20", "reason": "x"}, follow=True
    ).content.decode()
    assert "The closure was not added: Date 20 Nov 2026 is in the past" in page
    page = c.post("/clinics/HOME/closures/", {"date": "nope", "reason": "x"}, follow=True).content.decode()
    assert "the date is not a date" in page
    assert Clinic.objects.get(pk=clinic.pk).working_days == [2, 3, 4, 5]
    # a nurse's post is refused in words
    page = browser(nurse).post("/clinics/HOME/closures/", {"date": "2026-12-28", "reason": "x"}, follow=True)
    assert "admin role" in page.content.decode()
    # reopening
    with django_capture_on_commit_callbacks(execute=True):
        page = c.post("/clinics/HOME/closures/2026-12-11/remove/", follow=True).content.decode()
    assert "The clinic is open again on 11 Dec 2026" in page
    assert c.post("/clinics/HOME/closures/2026-12-11/remove/").status_code == 404
    assert ClinicClosure.objects.count() == 0


# --- the older-adult age (ORAL-1, RISK-1) ----------------------------------------------------


@pytest.mark.rule("RISK-1", "ORAL-1")
def test_risk_1_the_admin_sets_the_older_adult_age_on_the_settings_page_audited(clinic, admin_user, nurse):
    c = browser(admin_user)
    page = c.get("/clinics/HOME/settings/").content.decode()
    assert 'name="older_adult_from_age_years"' in page and "not set" in page
    response = c.post(
        "/clinics/HOME/settings/",
        {"form": "older_adult", "older_adult_from_age_years": "65", "reason": "our physicians' choice"},
        follow=True,
    )
    page = response.content.decode()
    assert "Patients from 65 years count as older adults" in page and "from 65 years" in page
    clinic.refresh_from_db()
    assert clinic.older_adult_from_age_years == 65
    assert clinic.history.first().history_change_reason == "our physicians' choice"
    # the scheduling settings are untouched by this form
    assert (clinic.refill_slots_per_day, clinic.working_days) == (None, [1, 2, 3, 4, 5])
    # a nurse reads it and may not change it
    page = browser(nurse).get("/clinics/HOME/settings/").content.decode()
    assert "from 65 years" in page and 'name="older_adult_from_age_years"' not in page
    page = browser(nurse).post(
        "/clinics/HOME/settings/", {"form": "older_adult", "older_adult_from_age_years": "70"}, follow=True
    )
    assert (
        "The older-adult age was not saved" in page.content.decode() and "admin role" in page.content.decode()
    )
    # emptied: no age check
    page = c.post(
        "/clinics/HOME/settings/", {"form": "older_adult", "older_adult_from_age_years": ""}, follow=True
    ).content.decode()
    assert "Older-adult age cleared" in page
    clinic.refresh_from_db()
    assert clinic.older_adult_from_age_years is None


@pytest.mark.rule("RISK-1")
@pytest.mark.parametrize("typed", ["0", "-3", "sixty", "65.5", "40000"])
def test_risk_1_an_older_adult_age_that_is_no_age_is_refused_in_words_and_saves_nothing(
    clinic, admin_user, typed
):
    clinic.older_adult_from_age_years = 70
    clinic.save()
    page = (
        browser(admin_user)
        .post(
            "/clinics/HOME/settings/",
            {"form": "older_adult", "older_adult_from_age_years": typed},
            follow=True,
        )
        .content.decode()
    )
    assert "The older-adult age was not saved: type a whole number of years from 1" in page
    assert Clinic.objects.get(pk=clinic.pk).older_adult_from_age_years == 70
