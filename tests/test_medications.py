"""Oral medications (ORAL-1), their weaning (WEAN-1) and the patient's risk flags (RISK-1)
through the API: GET/POST /api/v1/patients/{id}/oral-medications/, POST
/oral-medications/{id}/stop/ and /weaning-plan/, POST /weaning-steps/{id}/done/, GET
/patients/{id}/risk-flags/. "Now" is frozen at 2026-11-26T12:00Z; the clinic is in UTC.
"""

from __future__ import annotations

import html
from datetime import date

import pytest
from django.test import Client

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
    assert "runs 27 Nov 2026 to 4 Dec 2026" in body["detail"]
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


# --- WEAN-1: a prescriber changes a plan's steps not yet done ----------------------------------


def edit(client, medication_id, steps, reason="tolerating it poorly", **extra):
    """PUT the medication's plan's steps from the first one not done: (id or None, day, dose)."""
    found = WeaningPlan.objects.filter(medication_id=medication_id).first()
    return client.put(
        f"/api/v1/weaning-plans/{found.pk if found else 0}/",
        {"steps": [{"id": i, "day": d, "dose_mg": m} for i, d, m in steps], "reason": reason, **extra},
        format="json",
    )


@pytest.fixture
def weaning(api, doctor, patient):
    """Oral baclofen 10 mg × 3 from 1 Nov, weaned 7.5 mg from 20 Nov (ticked off by the
    nurse), 5 mg from 27 Nov, 2.5 mg from 4 Dec, 0 from 11 Dec."""
    baclofen = add(api, patient, dose="10").json()["medication"]["id"]
    steps = plan(
        doctor,
        baclofen,
        [("2026-11-20", "7.5"), ("2026-11-27", "5"), ("2026-12-04", "2.5"), ("2026-12-11", "0")],
    ).json()["weaning_plan"]["steps"]
    assert api.post(f"/api/v1/weaning-steps/{steps[0]['id']}/done/").status_code == 200
    return baclofen, [s["id"] for s in steps]


def plan_steps(medication_id) -> list[tuple]:
    return [
        (s.number, s.day.isoformat(), str(s.dose_mg), s.done_at is not None)
        for s in WeaningStep.objects.filter(plan__medication_id=medication_id).order_by("number")
    ]


@pytest.mark.rule("WEAN-1")
def test_wean_1_a_physician_changes_removes_and_adds_steps_not_done_with_a_reason(doctor, weaning):
    baclofen, (s1, s2, s3, s4) = weaning
    # step 2 slower (6 mg, a day later), step 3 removed, a step at 3 mg added before the end
    response = edit(
        doctor,
        baclofen,
        [(s2, "2026-11-28", "6"), (None, "2026-12-08", "3"), (s4, "2026-12-15", "0")],
        reason="drowsy less, spasms back",
    )
    assert response.status_code == 200, response.content
    assert [(s["id"], s["number"]) for s in response.json()["weaning_plan"]["steps"]][:2] == [
        (s1, 1),
        (s2, 2),
    ]
    assert plan_steps(baclofen) == [
        (1, "2026-11-20", "7.50", True),  # ticked off: unchanged
        (2, "2026-11-28", "6.00", False),
        (3, "2026-12-08", "3.00", False),
        (4, "2026-12-15", "0.00", False),
    ]
    assert not WeaningStep.objects.filter(pk=s3).exists()
    # audited: each step's history says what happened and why, and who
    assert WeaningStep.history.filter(id=s2).first().history_change_reason == (
        "weaning step changed: drowsy less, spasms back"
    )
    removed = WeaningStep.history.filter(id=s3).first()
    assert (removed.history_type, removed.history_change_reason) == (
        "-",
        "weaning step removed: drowsy less, spasms back",
    )
    assert removed.history_user.username == "physician"
    added = WeaningStep.objects.get(number=3, plan__medication_id=baclofen)
    assert added.history.first().history_change_reason == "weaning step added: drowsy less, spasms back"
    # step 4 moved to its new day, its number unchanged; step 1 has no new history row
    assert WeaningStep.history.filter(id=s1).count() == 2  # planned, done


@pytest.mark.rule("WEAN-1")
def test_wean_1_a_step_ticked_off_is_never_changed(doctor, weaning):
    baclofen, (s1, s2, s3, s4) = weaning
    before = counts()
    body = assert_refused(
        edit(doctor, baclofen, [(s1, "2026-11-21", "7"), (s2, "2026-11-27", "5")]),
        "steps[0].id",
        "weaning_step_done",
    )
    assert "Step 1 was ticked off by nurse" in body["detail"]
    assert counts() == before


@pytest.mark.rule("WEAN-1")
def test_wean_1_an_edit_is_checked_again_and_a_refusal_writes_nothing(api, doctor, patient, weaning):
    baclofen, (s1, s2, s3, s4) = weaning
    before = counts()
    # doses go down: step 2 may not be above step 1's 7.5 mg (named as the edit's first step)
    body = assert_refused(
        edit(doctor, baclofen, [(s2, "2026-11-27", "8")]), "steps[0].dose_mg", "weaning_steps_invalid"
    )
    assert "Step 2's dose, 8 mg, must be lower than step 1 (7.5 mg)" in body["detail"]
    # a day before the step done
    assert_refused(edit(doctor, baclofen, [(s2, "2026-11-19", "5")]), "steps[0].day", "weaning_steps_invalid")
    # steps keep their order
    assert_refused(edit(doctor, baclofen, [(s3, "2026-11-27", "5"), (s2, "2026-12-04", "2.5")]), "steps")
    # a step of another plan is not this plan's
    assert_refused(edit(doctor, baclofen, [(999999, "2026-11-27", "5")]), "steps[0].id")
    # the reason is required
    assert_refused(edit(doctor, baclofen, [(s2, "2026-11-27", "5")], reason=""), "reason")
    # a nurse does not change the plan
    assert edit(api, baclofen, [(s2, "2026-11-27", "5")]).status_code == 403
    # one drug at a time: tizanidine's plan from 20 Dec; baclofen's may not be extended onto it
    tizanidine = add(api, patient, drug="tizanidine", dose="4").json()["medication"]["id"]
    assert plan(doctor, tizanidine, [("2026-12-20", "2"), ("2026-12-27", "0")]).status_code == 201
    before = counts()
    assert_refused(
        edit(doctor, baclofen, [(s2, "2026-11-27", "5"), (s4, "2026-12-21", "0")]),
        "steps",  # the plan's period, which starts at the step done
        "weaning_overlap",
    )
    assert counts() == before
    assert plan_steps(baclofen)[1:] == [
        (2, "2026-11-27", "5.00", False),
        (3, "2026-12-04", "2.50", False),
        (4, "2026-12-11", "0.00", False),
    ]


@pytest.mark.rule("WEAN-1")
def test_wean_1_an_edit_keeps_the_order_override_and_needs_one_if_it_had_none(api, doctor, patient):
    """Tizanidine weaned before oral baclofen by an override: the edit keeps the plan's
    reason. A plan of tizanidine made after baclofen's weaning ended needs none, but moved
    before that end it needs one."""
    add(api, patient, dose="10")
    tizanidine = add(api, patient, drug="tizanidine", dose="4").json()["medication"]["id"]
    plan(doctor, tizanidine, [("2026-11-27", "2"), ("2026-12-04", "0")], override_reason="low blood pressure")
    step_ids = list(WeaningStep.objects.order_by("number").values_list("pk", flat=True))
    response = edit(doctor, tizanidine, [(step_ids[0], "2026-11-28", "2"), (step_ids[1], "2026-12-05", "0")])
    assert response.status_code == 200, response.content
    assert codes(response.json()["notices"]) == ["weaning_order_overridden"]
    assert WeaningPlan.objects.get().override_reason == "low blood pressure"


@pytest.mark.rule("WEAN-1")
def test_wean_1_a_plan_of_another_clinic_or_none_at_all_is_not_found(api, doctor, patient, outsider):
    baclofen = add(api, patient, dose="10").json()["medication"]["id"]
    assert edit(doctor, baclofen, [(None, "2026-11-27", "5")]).status_code == 404  # no plan yet
    plan(doctor, baclofen, [("2026-11-27", "5")])
    assert edit(client_for(outsider), baclofen, [(None, "2026-11-27", "4")]).status_code == 404


@pytest.mark.rule("WEAN-1")
def test_wean_1_steps_are_numbered_again_after_a_removal_or_an_insertion(doctor, weaning):
    baclofen, (s1, s2, s3, s4) = weaning
    # step 2 removed: 2.5 mg from 4 Dec becomes step 2, the end step 3
    response = edit(doctor, baclofen, [(s3, "2026-12-04", "2.5"), (s4, "2026-12-11", "0")])
    assert response.status_code == 200, response.content
    assert [n for n, *_ in plan_steps(baclofen)] == [1, 2, 3]
    assert WeaningStep.objects.get(pk=s3).number == 2 and WeaningStep.objects.get(pk=s4).number == 3
    # a step inserted first: the others move up one (a number is never held twice)
    response = edit(
        doctor, baclofen, [(None, "2026-11-27", "5"), (s3, "2026-12-04", "2.5"), (s4, "2026-12-11", "0")]
    )
    assert response.status_code == 200, response.content
    assert plan_steps(baclofen) == [
        (1, "2026-11-20", "7.50", True),
        (2, "2026-11-27", "5.00", False),
        (3, "2026-12-04", "2.50", False),
        (4, "2026-12-11", "0.00", False),
    ]
    assert WeaningStep.objects.get(pk=s4).number == 4


# --- WEAN-1 on the web: the physician changes the steps not done -----------------------------


def web_as(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.rule("WEAN-1")
def test_wean_1_a_physician_changes_the_steps_on_the_medications_page(physician, nurse, patient, weaning):
    baclofen, (s1, s2, s3, s4) = weaning
    plan_id = WeaningPlan.objects.get().pk
    page = web_as(physician).get(f"/patients/{patient.pk}/medications/").content.decode()
    assert f'data-testid="plan-edit-{baclofen}"' in page
    assert f'data-testid="edit-step-{s1}"' not in page  # ticked off: not offered
    assert f'data-testid="edit-step-{s2}"' in page
    assert (
        f'data-testid="plan-edit-{baclofen}"'
        not in web_as(nurse).get(f"/patients/{patient.pk}/medications/").content.decode()
    )
    # step 2 slower, step 3 removed, a new 3 mg step typed in the empty row 5 on 8 Dec
    response = web_as(physician).post(
        f"/weaning-plans/{plan_id}/edit/",
        {
            "id_2": s2, "day_2": "2026-11-28", "dose_2": "6",
            "id_3": s3, "day_3": "2026-12-04", "dose_3": "2.5", "remove_3": "on",
            "id_4": s4, "day_4": "2026-12-15", "dose_4": "0",
            "day_5": "2026-12-08", "dose_5": "3",
            "day_6": "", "dose_6": "",
            "reason": "spasms came back",
        },
        follow=True,
    )  # fmt: skip
    said = html.unescape(response.content.decode())
    assert (
        "Weaning plan of Oral baclofen changed: 4 steps, 3 still to do, the last on Tue 15 Dec 2026." in said
    )
    assert plan_steps(baclofen) == [
        (1, "2026-11-20", "7.50", True),
        (2, "2026-11-28", "6.00", False),
        (3, "2026-12-08", "3.00", False),
        (4, "2026-12-15", "0.00", False),
    ]
    assert (
        WeaningStep.history.filter(id=s3).first().history_change_reason
        == "weaning step removed: spasms came back"
    )


@pytest.mark.rule("WEAN-1")
def test_wean_1_a_change_refused_on_the_web_is_said_in_words_and_writes_nothing(
    physician, nurse, patient, weaning
):
    baclofen, (s1, s2, s3, s4) = weaning
    plan_id = WeaningPlan.objects.get().pk
    before = counts()
    for post, words, status in [
        (
            {"id_2": s2, "day_2": "2026-11-27", "dose_2": "9", "reason": "x"},
            "Step 2's dose, 9 mg, must be lower",
            400,
        ),
        (
            {"id_1": s1, "day_1": "2026-11-21", "dose_1": "7", "reason": "x"},
            "Step 1 was ticked off by nurse",
            400,
        ),
        ({"id_2": s2, "day_2": "2026-11-27", "dose_2": "5", "reason": ""}, "Reason", 400),
        ({"id_2": s2, "day_2": "2026-11-27", "dose_2": "abc", "reason": "x"}, "Not saved", 400),
    ]:
        response = web_as(physician).post(f"/weaning-plans/{plan_id}/edit/", post)
        assert response.status_code == status, post
        said = html.unescape(response.content.decode())
        assert "Not saved" in said and words in said, said[:3000]
        assert "steps[" not in said.split('data-testid="refusal"', 1)[1].split("</div>", 1)[0]
    response = web_as(nurse).post(
        f"/weaning-plans/{plan_id}/edit/", {"id_2": s2, "day_2": "2026-11-27", "dose_2": "4", "reason": "x"}
    )
    assert response.status_code == 403
    assert counts() == before
