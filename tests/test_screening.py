"""The screening trial (SCREEN-1), its starting dose (START-1) and the first prescription of
the therapy checked against it (START-2).

GET/POST /api/v1/patients/{id}/screening-trial/; the check runs when the first fill of the
patient's therapy is recorded (POST /api/v1/pumps/{id}/refills/). "Now" is frozen at
2026-11-26T12:00Z; the clinic is in UTC.
"""

from __future__ import annotations

import pytest

from refills.models import ScreeningBolus, ScreeningTrial
from tests.conftest import client_for
from tests.helpers import assert_refused, simple
from tests.helpers import therapy_rows as therapy_counts

pytestmark = pytest.mark.usefixtures("frozen_now")

FIRST_FILL_AT = "2026-03-01T10:00:00Z"


def counts() -> dict:
    return therapy_counts() | {
        "trials": ScreeningTrial.objects.count(),
        "boluses": ScreeningBolus.objects.count(),
        "bolus_history": ScreeningBolus.history.count(),
    }


def url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/screening-trial/"


def bolus(client, patient, dose, at, responded, **extra):
    return client.post(
        url(patient),
        {"dose_mcg": str(dose), "given_at": at, "observed_by": "Dr Vale", "responded": responded, **extra},
        format="json",
    )


def first_fill(client, pump, daily, **extra):
    return client.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": FIRST_FILL_AT,
            "volume_withdrawn_ml": "0",
            "volume_added_ml": "20",
            "concentration_mcg_per_ml": "500",
            "prescription": simple(daily),
            **extra,
        },
        format="json",
    )


@pytest.fixture
def positive_at_75(api, patient):
    """No response at 50 mcg, a response at 75 mcg lasting 6 h: start at 2 x 75 = 150 mcg/day."""
    assert bolus(api, patient, 50, "2026-02-01T09:00:00Z", False).status_code == 201
    response = bolus(api, patient, 75, "2026-02-02T09:00:00Z", True, effect_duration_hours="6")
    assert response.status_code == 201, response.json()
    return patient


# --- SCREEN-1 / START-1 --------------------------------------------------------------------


@pytest.mark.rule("SCREEN-1", "START-1")
def test_a_screening_trial_records_its_boluses_and_gives_the_starting_dose(api, positive_at_75):
    body = api.get(url(positive_at_75)).json()
    assert body["patient"] == positive_at_75.pk
    assert [(b["dose_mcg"], b["responded"]) for b in body["boluses"]] == [("50.0", False), ("75.0", True)]
    assert body["boluses"][1]["effect_duration_hours"] == "6.00"
    assert body["boluses"][1]["observed_by"] == "Dr Vale"
    assert body["boluses"][1]["recorded_by"] == "nurse"
    # positive at 75 mcg, effect 6 h (not more than 8 h), no adverse reactions: 2 x 75 = 150
    assert body["outcome"]["status"] == "respond"
    assert body["outcome"]["effective_dose_mcg"] == "75.0"
    assert body["outcome"]["starting_daily_dose_mcg"] == "150.0"
    record = ScreeningBolus.objects.get(dose_mcg=75).history.get()
    assert record.history_user.username == "nurse"


@pytest.mark.rule("SCREEN-1", "START-1")
def test_adverse_reactions_start_at_the_screening_dose(api, patient):
    response = bolus(api, patient, 50, "2026-02-01T09:00:00Z", True, adverse_reactions="drowsiness")
    # positive at 50 with adverse reactions: the screening dose itself, 50 mcg/day
    assert response.json()["outcome"]["starting_daily_dose_mcg"] == "50.0"


@pytest.mark.rule("SCREEN-1", "START-1")
def test_an_effect_lasting_more_than_8_hours_starts_at_the_screening_dose(api, patient):
    """The duration that counts is the responding bolus's: START-1 reads it from the record."""
    assert bolus(api, patient, 50, "2026-02-01T09:00:00Z", False).status_code == 201
    response = bolus(api, patient, 75, "2026-02-02T09:00:00Z", True, effect_duration_hours="8.5")
    # positive at 75 mcg, effect 8.5 h (more than 8 h): the screening dose itself, 75 mcg/day,
    # not 2 x 75 = 150
    assert response.json()["outcome"]["starting_daily_dose_mcg"] == "75.0"


@pytest.mark.rule("SCREEN-1")
def test_a_patient_without_a_trial_has_no_outcome(api, patient):
    assert api.get(url(patient)).json() == {"patient": patient.pk, "boluses": [], "outcome": None}


@pytest.mark.rule("SCREEN-1")
def test_a_negative_trial_ends_after_no_response_at_100(api, patient):
    for dose, at in (
        (50, "2026-02-01T09:00:00Z"),
        (75, "2026-02-02T09:00:00Z"),
        (100, "2026-02-03T09:00:00Z"),
    ):
        response = bolus(api, patient, dose, at, False)
        assert response.status_code == 201, response.json()
    assert response.json()["outcome"]["status"] == "not_a_candidate"
    before = counts()
    body = assert_refused(
        bolus(api, patient, 100, "2026-02-04T09:00:00Z", True), "dose_mcg", "screening_trial_ended"
    )
    assert "not a candidate" in body["errors"]["dose_mcg"][0]
    assert counts() == before


@pytest.mark.rule("SCREEN-1")
def test_no_bolus_after_a_positive_one(api, positive_at_75):
    before = counts()
    assert_refused(
        bolus(api, positive_at_75, 100, "2026-02-03T09:00:00Z", True), "dose_mcg", "screening_trial_ended"
    )
    assert counts() == before


@pytest.mark.rule("SCREEN-1")
@pytest.mark.parametrize(
    "dose, at, extra, field",
    [
        (60, "2026-02-01T09:00:00Z", {}, "dose_mcg"),  # not a screening step
        (50, "2026-11-26T12:00:01Z", {}, "given_at"),  # in the future
        (50, "2026-02-01T09:00:00Z", {"observed_by": " "}, "observed_by"),
        (50, "2026-02-01T09:00:00Z", {"effect_duration_hours": "-1"}, "effect_duration_hours"),
    ],
)
def test_a_bad_bolus_is_refused_and_writes_nothing(api, patient, dose, at, extra, field):
    before = counts()
    response = api.post(
        url(patient),
        {"dose_mcg": str(dose), "given_at": at, "observed_by": "Dr Vale", "responded": False} | extra,
        format="json",
    )
    body = assert_refused(response, field)
    assert field not in body["errors"][field][0]  # the nurse's words
    assert counts() == before


@pytest.mark.rule("SCREEN-1")
def test_a_bolus_before_the_previous_one_is_refused(api, patient):
    assert bolus(api, patient, 50, "2026-02-02T09:00:00Z", False).status_code == 201
    before = counts()
    body = assert_refused(bolus(api, patient, 75, "2026-02-01T09:00:00Z", True), "given_at")
    assert "Mon 2 Feb 2026 09:00 UTC" in body["errors"]["given_at"][0]
    assert counts() == before


def test_staff_cannot_record_and_outsiders_do_not_see_the_trial(patient, staff, outsider):
    before = counts()
    assert bolus(client_for(staff), patient, 50, "2026-02-01T09:00:00Z", False).status_code == 403
    assert bolus(client_for(outsider), patient, 50, "2026-02-01T09:00:00Z", False).status_code == 404
    assert client_for(outsider).get(url(patient)).status_code == 404
    assert counts() == before


# --- START-2: the first prescription of the therapy -------------------------------------------


@pytest.mark.rule("START-2")
def test_a_first_fill_at_the_starting_dose_is_accepted(api, positive_at_75, pump):
    response = first_fill(api, pump, 150)
    assert response.status_code == 201, response.json()
    assert response.json()["warnings"] == []


@pytest.mark.rule("START-2")
def test_a_first_fill_above_the_starting_dose_is_refused(api, positive_at_75, pump):
    before = counts()
    body = assert_refused(first_fill(api, pump, "150.1"), "prescription", "above_starting_dose")
    assert body["max_allowed_daily_dose_mcg"] == "150.0"
    message = body["errors"]["prescription"][0]
    assert "150.0 mcg" in message and "screening" in message and "override" in message
    assert counts() == before
    # a nurse cannot override
    assert first_fill(api, pump, 200, override_reason="the doctor said so").status_code == 403
    assert counts() == before


@pytest.mark.rule("START-2")
def test_a_physician_overrides_the_starting_dose(positive_at_75, pump, physician):
    response = first_fill(client_for(physician), pump, 200, override_reason="severe spasticity, Frankel A")
    assert response.status_code == 201, response.json()
    assert pump.prescriptions.get().override_reason == "severe spasticity, Frankel A"


@pytest.mark.rule("START-2")
def test_a_first_fill_without_a_trial_warns(api, patient, pump):
    response = first_fill(api, pump, 250)
    assert response.status_code == 201, response.json()
    assert response.json()["warnings"] == [
        {
            "code": "no_screening_trial",
            "message": "No screening trial is recorded for this patient: the starting dose could not "
            "be checked against it (START-2). Record the trial's boluses.",
        }
    ]


@pytest.mark.rule("START-2", "SCREEN-1")
def test_a_first_fill_after_a_negative_trial_needs_an_override(api, patient, pump, physician):
    for dose, at in (
        (50, "2026-02-01T09:00:00Z"),
        (75, "2026-02-02T09:00:00Z"),
        (100, "2026-02-03T09:00:00Z"),
    ):
        assert bolus(api, patient, dose, at, False).status_code == 201
    before = counts()
    body = assert_refused(first_fill(api, pump, 100), "prescription", "screening_not_positive")
    assert "not a candidate" in body["errors"]["prescription"][0]
    assert counts() == before
    assert (
        first_fill(client_for(physician), pump, 100, override_reason="trial repeated elsewhere").status_code
        == 201
    )


@pytest.mark.rule("START-2")
def test_the_refill_preview_shows_the_starting_dose_refusal(api, positive_at_75, pump):
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/refills/preview/",
        {
            "performed_at": FIRST_FILL_AT,
            "volume_withdrawn_ml": "0",
            "volume_added_ml": "20",
            "concentration_mcg_per_ml": "500",
            "prescription": simple(300),
        },
        format="json",
    )
    assert_refused(response, "prescription", "above_starting_dose")


@pytest.mark.rule("SCREEN-1", "REFILL-2")
def test_a_bolus_time_without_offset_is_the_clinics_local_time(api, patient):
    # A New York clinic: 09:00 typed on 2 Feb 2026 is 09:00 EST = 14:00Z (it was read as UTC);
    # 1:30 on Sun 1 Nov 2026 happens twice (EDT and EST) and is refused naming both.
    from datetime import UTC, datetime

    clinic = patient.clinic
    clinic.timezone = "America/New_York"
    clinic.save()
    before = counts()
    body = assert_refused(bolus(api, patient, 50, "2026-11-01T01:30:00", False), "given_at")
    assert "EDT" in body["errors"]["given_at"][0] and "EST" in body["errors"]["given_at"][0]
    assert counts() == before
    response = bolus(api, patient, 50, "2026-02-02T09:00:00", False)
    assert response.status_code == 201, response.json()
    assert ScreeningBolus.objects.get().given_at == datetime(2026, 2, 2, 14, 0, tzinfo=UTC)
