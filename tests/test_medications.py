"""Oral medications (ORAL-1), their weaning (WEAN-1) and the patient's risk flags (RISK-1)
through the API: GET/POST /api/v1/patients/{id}/oral-medications/, POST
/oral-medications/{id}/stop/ and /weaning-plan/, POST /weaning-steps/{id}/done/, GET
/patients/{id}/risk-flags/. "Now" is frozen at 2026-11-26T12:00Z; the clinic is in UTC.
"""

from __future__ import annotations

from datetime import date

import pytest

from medications.models import OralMedication, WeaningPlan, WeaningStep
from tests.conftest import client_for
from tests.helpers import assert_refused

pytestmark = pytest.mark.usefixtures("frozen_now")


def counts() -> dict:
    return {
        "courses": OralMedication.objects.count(),
        "course_history": OralMedication.history.count(),
        "plans": WeaningPlan.objects.count(),
        "steps": WeaningStep.objects.count(),
        "step_history": WeaningStep.history.count(),
    }


def url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/oral-medications/"


def add(client, patient, drug="baclofen_oral", dose="5", times=3, started_on="2026-11-01", **extra):
    return client.post(
        url(patient),
        {
            "drug": drug,
            "dose_mg": dose,
            "times_per_day": times,
            "started_on": started_on,
            "prescriber": "Dr Osei",
            **extra,
        },
        format="json",
    )


def plan(client, medication_id, steps, **extra):
    return client.post(
        f"/api/v1/oral-medications/{medication_id}/weaning-plan/",
        {"steps": [{"day": d, "dose_mg": m} for d, m in steps], **extra},
        format="json",
    )


@pytest.fixture
def doctor(physician):
    return client_for(physician)


@pytest.fixture
def older(clinic, patient):
    """A 76-year-old at a clinic that counts 65 and over as older."""
    patient.birth_date = date(1950, 3, 1)
    patient.save()
    clinic.older_adult_from_age_years = 65
    clinic.save()
    return patient


def codes(items) -> list[str]:
    return [item["code"] for item in items]


@pytest.mark.rule("ORAL-1")
def test_oral_1_a_start_at_5_mg_three_times_a_day_is_recorded_without_warning(api, patient):
    response = add(api, patient)
    assert response.status_code == 201, response.content
    body = response.json()
    # 5 mg × 3 = 15 mg a day
    assert body["medication"]["daily_dose_mg"] == "15.00"
    assert body["medication"]["recorded_by"] == "nurse"
    # no age setting at the clinic: said so, not silently skipped
    assert codes(body["warnings"]) == ["older_adult_age_not_set"]
    listed = api.get(url(patient)).json()
    assert listed["medications"][0]["medication"]["drug"] == "baclofen_oral"
    assert listed["medications"][0]["active"] is True


@pytest.mark.rule("ORAL-1")
def test_oral_1_above_80_mg_and_older_adult_warnings(api, older):
    # 25 mg × 4 = 100 mg a day: a start above 5 mg × 3, above 80, and a 76-year-old above 30
    body = add(api, older, dose="25", times=4).json()
    assert codes(body["warnings"]) == [
        "above_oral_starting_dose",
        "above_oral_maximum",
        "above_older_adult_tolerance",
    ]
    assert "30–40 mg a day" in body["warnings"][2]["message"]
    # RISK-1 on the same answer: old age from the clinic's setting
    assert codes(body["risk_flags"]) == ["seizures_psychological"]


@pytest.mark.rule("ORAL-1")
def test_oral_1_dantrolene_carries_hepatotoxicity_and_tizanidine_its_start(api, patient):
    assert codes(add(api, patient, drug="dantrolene", dose="25", times=1).json()["warnings"]) == [
        "hepatotoxic"
    ]
    (warning,) = add(api, patient, drug="tizanidine", dose="4").json()["warnings"]
    assert "Tizanidine usually starts at 2 mg up to 3 times a day" in warning["message"]


@pytest.mark.rule("ORAL-1")
def test_oral_1_a_change_of_dose_ends_the_course_and_follows_titrate_1(api, patient):
    first = add(api, patient, dose="10", started_on="2026-11-01").json()["medication"]
    # spinal adult: 30 mg a day × 1.3 = 39; 13 mg × 3 = 39 passes
    body = add(api, patient, dose="13", started_on="2026-11-10").json()
    assert "oral_titration_limit_exceeded" not in codes(body["warnings"])
    assert OralMedication.objects.get(pk=first["id"]).stopped_on == date(2026, 11, 10)
    # 39 × 1.3 = 50.7; 17 mg × 3 = 51 is above: a warning, and still recorded
    body = add(api, patient, dose="17", started_on="2026-11-20").json()
    assert "oral_titration_limit_exceeded" in codes(body["warnings"])
    assert "at most 50.7 mg a day" in body["warnings"][-1]["message"]
    assert OralMedication.objects.filter(patient=patient, stopped_on__isnull=True).count() == 1


@pytest.mark.rule("ORAL-1")
def test_oral_1_refusals_name_the_field_and_write_nothing(api, patient):
    add(api, patient, started_on="2026-11-10")
    before = counts()
    assert_refused(add(api, patient, dose="0"), "dose_mg")
    assert_refused(add(api, patient, times=0), "times_per_day")
    assert_refused(add(api, patient, drug="aspirin"), "drug")
    assert_refused(add(api, patient, prescriber=" "), "prescriber")
    # a new dose starts after the running course's first day
    body = assert_refused(add(api, patient, started_on="2026-11-10"), "started_on")
    assert "already recorded from" in body["detail"]
    assert counts() == before


def test_stop_an_oral_medication(api, patient):
    medication = add(api, patient).json()["medication"]
    stop = f"/api/v1/oral-medications/{medication['id']}/stop/"
    assert_refused(api.post(stop, {"stopped_on": "2026-10-01"}, format="json"), "stopped_on")
    response = api.post(stop, {"stopped_on": "2026-11-20", "reason": "drowsy"}, format="json")
    assert response.status_code == 200
    assert response.json()["stopped_on"] == "2026-11-20"
    assert_refused(api.post(stop, {"stopped_on": "2026-11-21"}, format="json"), "stopped_on")
    assert OralMedication.history.filter(id=medication["id"]).first().history_change_reason == "drowsy"


@pytest.mark.rule("WEAN-1")
def test_wean_1_baclofen_first_then_the_next_drug_after_it_ends(api, doctor, patient):
    baclofen = add(api, patient, dose="10").json()["medication"]["id"]
    tizanidine = add(api, patient, drug="tizanidine", dose="4").json()["medication"]["id"]
    response = plan(doctor, baclofen, [("2026-11-27", "5"), ("2026-12-04", "0")])
    assert response.status_code == 201, response.content
    assert [s["number"] for s in response.json()["weaning_plan"]["steps"]] == [1, 2]
    # one drug at a time: tizanidine may not start on 2026-12-04, the baclofen plan's last day
    before = counts()
    body = assert_refused(plan(doctor, tizanidine, [("2026-12-04", "2")]), "steps[0].day", "weaning_overlap")
    assert "runs 2026-11-27 to 2026-12-04" in body["detail"]
    assert counts() == before
    assert plan(doctor, tizanidine, [("2026-12-05", "2"), ("2026-12-12", "0")]).status_code == 201


@pytest.mark.rule("WEAN-1")
def test_wean_1_no_drug_before_oral_baclofen_without_a_prescribers_reason(api, doctor, patient):
    add(api, patient, dose="10")
    tizanidine = add(api, patient, drug="tizanidine", dose="4").json()["medication"]["id"]
    before = counts()
    assert_refused(
        plan(doctor, tizanidine, [("2026-11-27", "2")]), "override_reason", "weaning_order_requires_override"
    )
    assert counts() == before
    response = plan(doctor, tizanidine, [("2026-11-27", "2")], override_reason="low blood pressure on it")
    assert response.status_code == 201
    assert codes(response.json()["notices"]) == ["weaning_order_overridden"]
    plan_row = WeaningPlan.objects.get()
    assert plan_row.override_reason == "low blood pressure on it"
    assert plan_row.history.first().history_change_reason == "low blood pressure on it"


@pytest.mark.rule("WEAN-1")
def test_wean_1_plan_is_the_prescribers_and_steps_go_down(api, doctor, patient):
    baclofen = add(api, patient, dose="10").json()["medication"]["id"]
    # a nurse does not write the plan
    assert plan(api, baclofen, [("2026-11-27", "5")]).status_code == 403
    assert_refused(
        plan(doctor, baclofen, [("2026-11-27", "10")]), "steps[0].dose_mg", "weaning_steps_invalid"
    )
    assert_refused(plan(doctor, baclofen, []), "steps")
    assert_refused(plan(doctor, baclofen, [("2026-10-27", "5")]), "steps[0].day")
    assert counts()["plans"] == 0


@pytest.mark.rule("WEAN-1")
def test_wean_1_a_nurse_ticks_off_each_step_in_order_on_or_after_its_day(api, doctor, nurse, patient):
    baclofen = add(api, patient, dose="10").json()["medication"]["id"]
    steps = plan(doctor, baclofen, [("2026-11-20", "5"), ("2026-11-26", "0"), ("2026-12-01", "0")])
    # doses go down strictly: the third step at 0 again is refused
    assert_refused(steps, "steps[2].dose_mg")
    steps = plan(doctor, baclofen, [("2026-11-20", "5"), ("2026-11-26", "0")]).json()["weaning_plan"]["steps"]
    done = "/api/v1/weaning-steps/{}/done/"
    assert_refused(api.post(done.format(steps[1]["id"])), "step")  # step 1 first
    response = api.post(done.format(steps[0]["id"]))
    assert response.status_code == 200
    assert response.json()["done_by"] == "nurse"
    assert response.json()["done_at"] == "2026-11-26T12:00:00Z"
    assert_refused(api.post(done.format(steps[0]["id"])), "step", "weaning_step_done")
    api.post(done.format(steps[1]["id"]))
    # the last step at 0 mg stops the drug on its day
    assert OralMedication.objects.get(pk=baclofen).stopped_on == date(2026, 11, 26)


@pytest.mark.rule("WEAN-1")
def test_wean_1_a_step_is_not_ticked_off_before_its_day(api, doctor, patient):
    baclofen = add(api, patient, dose="10").json()["medication"]["id"]
    steps = plan(doctor, baclofen, [("2026-11-27", "5")]).json()["weaning_plan"]["steps"]
    body = assert_refused(api.post(f"/api/v1/weaning-steps/{steps[0]['id']}/done/"), "step")
    assert "due on" in body["detail"]


@pytest.mark.rule("RISK-1")
def test_risk_1_stroke_recovery_with_a_benzodiazepine_is_flagged(api, patient):
    patch = api.patch(
        f"/api/v1/patients/{patient.pk}/",
        {"stroke_recovery": True, "complete_spinal_cord_lesion": True, "reason": "history taken"},
        format="json",
    )
    assert patch.status_code == 200, patch.content
    flags = api.get(f"/api/v1/patients/{patient.pk}/risk-flags/").json()["risk_flags"]
    assert codes(flags) == ["stroke_recovery", "frankel_a"]
    assert "about 156 mcg against 44 mcg" in flags[1]["message"]
    add(api, patient, drug="diazepam", dose="2", times=2)
    flags = api.get(f"/api/v1/patients/{patient.pk}/risk-flags/").json()["risk_flags"]
    assert codes(flags) == ["stroke_recovery_benzodiazepine", "frankel_a"]
    assert "Diazepam" in flags[0]["message"]


def test_another_clinic_sees_none_of_it(api, patient, outsider):
    medication = add(api, patient).json()["medication"]["id"]
    away = client_for(outsider)
    assert away.get(url(patient)).status_code == 404
    assert (
        away.post(f"/api/v1/oral-medications/{medication}/stop/", {"stopped_on": "2026-11-20"}).status_code
        == 404
    )
    assert away.get(f"/api/v1/patients/{patient.pk}/risk-flags/").status_code == 404


@pytest.mark.rule("RISK-1")
def test_risk_1_the_refill_check_and_a_new_prescription_carry_the_risk_flags(api, doctor, patient, pump):
    patient.renal_impairment = True
    patient.save()
    first_fill = {
        "performed_at": "2026-11-20T10:00:00Z",
        "volume_withdrawn_ml": "0",
        "volume_added_ml": "20",
        "concentration_mcg_per_ml": "500",
        "prescription": {"mode": "simple_continuous", "daily_dose_mcg": "100"},
    }
    preview = api.post(f"/api/v1/pumps/{pump.pk}/refills/preview/", first_fill, format="json")
    assert preview.status_code == 200, preview.content
    assert codes(preview.json()["risk_flags"]) == ["renal_impairment"]
    assert api.post(f"/api/v1/pumps/{pump.pk}/refills/", first_fill, format="json").status_code == 201
    # 100 → 110 mcg/day six days later: within +30 %
    change = doctor.post(
        f"/api/v1/pumps/{pump.pk}/prescriptions/",
        {
            "effective_at": "2026-11-26T11:00:00Z",
            "prescription": {"mode": "simple_continuous", "daily_dose_mcg": "110"},
            "reason": "more spasticity",
        },
        format="json",
    )
    assert change.status_code == 201, change.content
    assert "Kidney impairment" in change.json()["risk_flags"][0]["message"]
