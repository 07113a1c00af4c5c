"""Titration visits and weaning steps (WEAN-1) on the worklist and in reminders (ALERT-2):
a titration visit is booked like a refill, reminded 14, 7 and 1 days before with the least
health information, and listed with the weaning steps due in GET
/api/v1/worklist/titration/. "Now" is Thursday 2026-11-26 12:00Z; the clinic is in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.core import mail

from alerts.models import Notification
from medications.models import OralDrug, OralMedication, WeaningPlan, WeaningStep
from scheduling.models import Appointment
from tests.conftest import NOW, client_for
from tests.factories import PumpFactory
from tests.helpers import clock_at, deliver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def pump(patient, clinic):
    clinic.phone = "+1 555 0123"
    clinic.save()
    patient.communication_consent = True
    patient.save()
    return PumpFactory(patient=patient, implanted_on=date(2026, 1, 2))


def book_titration(api, pump, day="2026-12-14", time="10:30"):
    response = api.post(
        "/api/v1/appointments/",
        {"pump": pump.pk, "kind": "titration", "day": day, "time": time},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return Appointment.objects.get(pk=response.json()["id"])


@pytest.mark.rule("ALERT-2")
def test_alert_2_a_titration_visit_is_reminded_like_a_refill(api, pump):
    appointment = book_titration(api, pump)
    rows = Notification.objects.filter(subject=f"appointment:{appointment.pk}")
    assert {n.kind for n in rows} == {"titration_reminder"}
    # 2026-12-14 minus 14, 7 and 1 days at 09:00 (the patient consented; no caregiver)
    assert sorted(n.due_at.date() for n in rows) == [
        date(2026, 11, 30),
        date(2026, 12, 7),
        date(2026, 12, 13),
    ]


@pytest.mark.rule("ALERT-2")
def test_alert_2_the_titration_reminder_says_no_drug_and_no_diagnosis(
    api, pump, monkeypatch, django_capture_on_commit_callbacks
):
    book_titration(api, pump)
    clock_at(monkeypatch, datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["sent"]
    (message,) = mail.outbox
    for text in (message.subject + message.body, message.alternatives[0][0]):
        for fact in ("Monday 14 December 2026", "10:30", "Home Clinic", "+1 555 0123"):
            assert fact in text
        for word in ("baclofen", "tizanidine", "titration", "wean", "spastic", "intrathecal", "pump", " mg"):
            assert word not in text.lower(), word


def weaning_step(patient, user, day, number=1, done=False):
    medication, _ = OralMedication.objects.get_or_create(
        patient=patient,
        drug=OralDrug.objects.get(code="baclofen_oral"),
        defaults={
            "dose_mg": 10,
            "times_per_day": 3,
            "started_on": date(2026, 11, 1),
            "prescriber": "Dr Osei",
            "recorded_by": user,
        },
    )
    plan, _ = WeaningPlan.objects.get_or_create(
        medication=medication, defaults={"created_by": user, "created_at": NOW}
    )
    return WeaningStep.objects.create(
        plan=plan,
        number=number,
        day=day,
        dose_mg={1: 6, 2: 2, 3: 0}[number],
        done_at=NOW if done else None,
        done_by=user if done else None,
    )


@pytest.mark.rule("WEAN-1")
def test_wean_1_the_worklist_lists_titration_visits_and_weaning_steps_due(api, nurse, pump, outsider):
    visit = book_titration(api, pump, day="2026-12-01")
    patient = pump.patient
    weaning_step(patient, nurse, date(2026, 11, 20), number=1, done=True)  # done: not listed
    due = weaning_step(patient, nurse, date(2026, 11, 26), number=2)  # today: listed
    weaning_step(patient, nurse, date(2026, 11, 27), number=3)  # tomorrow: not yet
    body = api.get("/api/v1/worklist/titration/?clinic=HOME").json()
    assert [v["id"] for v in body["titration_visits"]] == [visit.pk]
    assert body["titration_visits"][0]["day"] == "2026-12-01"
    assert [s["id"] for s in body["weaning_steps_due"]] == [due.pk]
    assert body["weaning_steps_due"][0] | {"patient_name": ""} == {
        "id": due.pk,
        "patient": patient.pk,
        "patient_name": "",
        "drug": "Oral baclofen",
        "number": 2,
        "day": "2026-11-26",
        "dose_mg": "2.00",
        "times_per_day": 3,
    }
    # ticked off: gone from the list
    assert api.post(f"/api/v1/weaning-steps/{due.pk}/done/").status_code == 200
    assert api.get("/api/v1/worklist/titration/?clinic=HOME").json()["weaning_steps_due"] == []
    # another clinic's staff: not their clinic
    assert client_for(outsider).get("/api/v1/worklist/titration/?clinic=HOME").status_code == 404


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_a_titration_visits_assessment_completes_the_booked_visit(api, pump):
    """Found by the clinic simulation: a booked titration visit could never be completed, so it
    stayed on the agenda as still to do and the pump's next visit could not be booked."""
    later = book_titration(api, pump, day="2026-12-14")
    # an assessment of another kind of visit, or before the booked day, leaves it booked
    for kind in ("other", "titration"):
        response = api.post(
            f"/api/v1/pumps/{pump.pk}/assessments/",
            {"visit_kind": kind, "assessed_at": "2026-11-26T11:00:00Z"},
            format="json",
        )
        assert response.status_code == 201, response.json()
    later.refresh_from_db()
    assert later.status == "booked"
    api.post(f"/api/v1/appointments/{later.pk}/cancel/", {"reason": "moved to today"}, format="json")
    today = book_titration(api, pump, day="2026-11-26", time="10:30")
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/assessments/",
        {"visit_kind": "titration", "assessed_at": "2026-11-26T11:00:00Z"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    today.refresh_from_db()
    assert today.status == "completed"
    assert api.get("/api/v1/worklist/titration/?clinic=HOME").json()["titration_visits"] == []
    # the next visit can be booked
    book_titration(api, pump, day="2026-12-10")
