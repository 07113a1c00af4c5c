"""A patient's timeline (the whole course of therapy): the screening trial (SCREEN-1), the
implant fill and the monitoring after it (IMPLANT-1), prescriptions, visits, a missed
appointment, the replacement (TITRATE-1: the therapy continues) — in order, each with who
and when. GET /api/v1/patients/{id}/timeline/ and the web page.

"Now" is frozen at 2026-11-26T12:00Z; the clinic is in Europe/Paris, so the times shown are
the clinic's.
"""

from __future__ import annotations

from datetime import date, time

import pytest

from patients.models import CatheterModel, PumpModel
from scheduling.models import Appointment
from tests.conftest import client_for
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import simple

pytestmark = pytest.mark.usefixtures("frozen_now")


@pytest.fixture
def course(api, clinic, nurse):
    """Screening (no response at 50 mcg, then 75 mcg for 6 h: start at 150 mcg/day), a
    Prometra II implanted on 2 March with a new 60 cm catheter, the monitoring after it, a
    titration, a titration visit, a missed refill, a refill, and the replacement in November."""
    clinic.timezone = "Europe/Paris"
    clinic.save()
    patient = PatientFactory(clinic=clinic, given_name="Ines", family_name="Roux")
    pump = PumpFactory(
        patient=patient,
        model=PumpModel.objects.get(code="13827"),
        catheter_model=CatheterModel.objects.get(code="11823"),
        catheter_length_cm=60,
        implanted_on=date(2026, 3, 2),
        serial_number="PROM-1",
    )
    screening = f"/api/v1/patients/{patient.pk}/screening-trial/"
    for dose, at, responded, extra in (
        ("50", "2026-02-20T09:00", False, {}),
        ("75", "2026-02-21T09:00", True, {"effect_duration_hours": "6"}),
    ):
        body = {"dose_mcg": dose, "given_at": at, "observed_by": "Dr Vale", "responded": responded, **extra}
        assert api.post(screening, body, format="json").status_code == 201
    fill = {
        "performed_at": "2026-03-02T10:00",
        "volume_withdrawn_ml": "0",
        "volume_added_ml": "20",
        "concentration_mcg_per_ml": "500",
        "prescription": simple(150),
        "implant_fill": True,
        "catheter_primed": True,
    }
    assert api.post(f"/api/v1/pumps/{pump.pk}/refills/", fill, format="json").status_code == 201
    monitoring = {
        "started_at": "2026-03-02T10:00",
        "ended_at": "2026-03-02T18:30",
        "observed_by": "Nurse Kim",
        "findings": "no sedation",
    }
    assert (
        api.put(f"/api/v1/pumps/{pump.pk}/implant-monitoring/", monitoring, format="json").status_code == 200
    )
    change = {"effective_at": "2026-03-05T10:00", "prescription": simple(180), "reason": "titration +20 %"}
    assert api.post(f"/api/v1/pumps/{pump.pk}/prescriptions/", change, format="json").status_code == 201
    Appointment.objects.create(
        pump=pump, kind="titration", status="completed", day=date(2026, 3, 10), time=time(10, 30), nurse=nurse
    )
    Appointment.objects.create(pump=pump, kind="refill", status="no_show", day=date(2026, 3, 20))
    refill = {
        "performed_at": "2026-03-25T10:00",
        "volume_withdrawn_ml": "11.74",
        "volume_added_ml": "20",
        "concentration_mcg_per_ml": "500",
        "prescription": simple(180),
        "assessment": {"sedation": True, "notes": "drowsy after lunch"},
    }
    assert api.post(f"/api/v1/pumps/{pump.pk}/refills/", refill, format="json").status_code == 201
    replace = {
        "explanted_on": "2026-11-20",
        "reason": "end of battery life",
        "model": "13827",
        "serial_number": "PROM-2",
        "catheter_model": "11823",
        "catheter_length_cm": "60",
    }
    response = api.post(f"/api/v1/pumps/{pump.pk}/replace/", replace, format="json")
    assert response.status_code == 201, response.json()
    return patient


def test_the_timeline_lists_the_course_in_order_with_who_and_when(api, course):
    events = api.get(f"/api/v1/patients/{course.pk}/timeline/").json()
    kinds = [e["kind"] for e in events]
    assert kinds == [
        "screening_bolus",
        "screening_bolus",
        "implant",  # 2 March, all day: before the day's timed events
        "implant_fill",
        "implant_monitoring",
        "prescription",
        "titration",
        "no_show",
        "refill",
        "assessment",  # at the refill, after it
        "replacement",  # 20 November, all day: the old pump's end and the new pump's implant
        "implant",
    ]
    by_kind = {}
    for event in events:
        by_kind.setdefault(event["kind"], []).append(event)
    first, second = by_kind["screening_bolus"]
    assert first["title"] == "Screening bolus 50 mcg: no response"
    assert second["title"] == "Screening bolus 75 mcg: response lasting 6 h"
    assert second["by"] == "Dr Vale"
    assert second["at"] == "2026-02-21T08:00:00Z"  # typed as 09:00 in Paris
    implant = by_kind["implant_fill"][0]
    assert implant["title"] == "Implant fill: 20 mL at 500 mcg/mL, 150 mcg/day"
    assert implant["detail"] == "new catheter primed with 0.156 mL"
    assert implant["by"] == "nurse" and implant["pump_serial_number"] == "PROM-1"
    monitoring = by_kind["implant_monitoring"][0]
    assert monitoring["title"] == "Monitoring after the implant until Mon 2 Mar 2026 18:30 CET"
    assert monitoring["by"] == "Nurse Kim" and monitoring["detail"] == "no sedation"
    assert by_kind["prescription"][0]["title"] == "Prescription: 180 mcg/day (simple continuous)"
    assert by_kind["prescription"][0]["detail"] == "titration +20 %"
    assert by_kind["titration"][0]["title"] == "Titration visit"
    assert by_kind["titration"][0]["at"] == "2026-03-10T09:30:00Z"  # 10:30 in Paris
    assert by_kind["no_show"][0]["title"] == "Missed: refill (no-show)"
    assert by_kind["no_show"][0]["all_day"] is True
    assert by_kind["refill"][0]["title"] == "Refill: 20 mL at 500 mcg/mL, 180 mcg/day"
    # DRIFT-1: programmed 0.156 (priming) + 3 days × 0.3 + 20 days × 0.36 = 8.256 mL;
    # delivered 20 − 11.74 = 8.26 mL; 8.26 / 8.256 = 1.0005 → 1.000
    assert by_kind["refill"][0]["detail"] == "observed delivery ratio 1"
    assessment = by_kind["assessment"][0]
    assert assessment["title"] == "Assessment (refill): signs of too much drug: sedation"
    assert assessment["detail"] == "drowsy after lunch" and assessment["by"] == "nurse"
    replacement = by_kind["replacement"][0]
    assert replacement["title"] == "Pump replaced by serial PROM-2: the therapy continues"
    assert replacement["detail"] == "end of battery life"
    assert [e["pump_serial_number"] for e in by_kind["implant"]] == ["PROM-1", "PROM-2"]


def test_the_timeline_is_the_clinics_own(course, outsider):
    assert client_for(outsider).get(f"/api/v1/patients/{course.pk}/timeline/").status_code == 404


def test_a_new_patient_has_an_empty_timeline(api, patient):
    assert api.get(f"/api/v1/patients/{patient.pk}/timeline/").json() == []


def test_the_timeline_page_shows_the_course_newest_first(client, nurse, course):
    client.force_login(nurse)
    page = client.get(f"/patients/{course.pk}/timeline/").content.decode()
    newest, oldest = page.index("Pump replaced by serial PROM-2"), page.index("Screening bolus 50 mcg")
    assert newest < oldest
    assert "Sat 21 Feb 2026 09:00 CET" in page
    assert "Implant fill: 20 mL at 500 mcg/mL, 150 mcg/day" in page
    assert "Missed: refill (no-show)" in page


def test_interrogations_and_mris_join_the_timeline(api, pump):
    # DEVICE-1 / MRI-1: an interrogation with a motor stall and an MRI planned after it.
    from tests.helpers import fill

    fill(api, pump, "2026-11-16T12:00:00Z")
    body = {"interrogated_at": "2026-11-20T09:00:00Z", "alarms": ["motor_stall"], "notes": "rotor check"}
    assert api.post(f"/api/v1/pumps/{pump.pk}/interrogations/", body, format="json").status_code == 201
    assert (
        api.post(
            f"/api/v1/pumps/{pump.pk}/mris/", {"scan_at": "2026-11-30T10:00:00Z"}, format="json"
        ).status_code
        == 201
    )
    events = api.get(f"/api/v1/patients/{pump.patient.pk}/timeline/").json()
    assert [e["kind"] for e in events][-2:] == ["interrogation", "mri"]
    interrogation, mri = events[-2:]
    assert interrogation["title"] == "Pump interrogated: motor stall"
    assert interrogation["detail"] == "rotor check" and interrogation["by"] == "nurse"
    assert mri["title"] == "MRI: interrogate the pump after the scan (the motor stalls) — follow-up open"


def test_oral_courses_weaning_plans_and_steps_join_the_timeline(api, physician, patient):
    # ORAL-1 / WEAN-1: oral baclofen 10 mg 3× a day from 1 Nov, weaned to 5 mg on 20 Nov
    # then 0 mg on 26 Nov, both steps ticked off today: the course stops on 26 Nov.
    url = f"/api/v1/patients/{patient.pk}/oral-medications/"
    body = {
        "drug": "baclofen_oral",
        "dose_mg": "10",
        "times_per_day": 3,
        "started_on": "2026-11-01",
        "prescriber": "Dr Osei",
    }
    medication = api.post(url, body, format="json").json()["medication"]["id"]
    steps = {"steps": [{"day": "2026-11-20", "dose_mg": "5"}, {"day": "2026-11-26", "dose_mg": "0"}]}
    plan = client_for(physician).post(
        f"/api/v1/oral-medications/{medication}/weaning-plan/", steps, format="json"
    )
    for step in plan.json()["weaning_plan"]["steps"]:
        assert api.post(f"/api/v1/weaning-steps/{step['id']}/done/").status_code == 200
    events = api.get(f"/api/v1/patients/{patient.pk}/timeline/").json()
    titles = [(e["kind"], e["title"], e["by"]) for e in events]
    assert titles == [
        ("oral_started", "Oral baclofen started: 10 mg 3× a day", "Dr Osei"),
        ("oral_stopped", "Oral baclofen stopped", "Dr Osei"),
        ("weaning_plan", "Weaning plan: Oral baclofen", "physician"),
        ("weaning_step", "Weaning step 1 of Oral baclofen: 5 mg", "nurse"),
        ("weaning_step", "Weaning step 2 of Oral baclofen: 0 mg", "nurse"),
    ]
