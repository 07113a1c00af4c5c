"""The end of a pump's therapy: a replacement continues it, an explant without one stops it.

POST /api/v1/pumps/{id}/replace/ and POST /api/v1/pumps/{id}/explant/ (TITRATE-1, TITRATE-2,
IMPLANT-1). The dose history is the patient's: a replacement pump's first fill is checked
against the doses of the pump it replaces.

"Now" is frozen at 2026-11-26T12:00Z. The patient is a spinal adult (born 1980-05-17): the
titration limit is 30 % per 24 hours.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from fractions import Fraction

import pytest

from alerts.models import Alert
from patients.models import Pump
from refills.models import PumpExplant
from refills.selectors import patient_dose_history
from tests.conftest import client_for
from tests.factories import PumpFactory
from tests.helpers import assert_refused, simple
from tests.helpers import therapy_rows as therapy_counts

pytestmark = pytest.mark.usefixtures("frozen_now")

FILLED_AT = "2026-03-01T10:00:00Z"
REPLACED_ON = "2026-06-01"
NEW_FILL_AT = "2026-06-01T15:00:00Z"


def counts() -> dict:
    return therapy_counts() | {
        "pumps": Pump.objects.count(),
        "explants": PumpExplant.objects.count(),
        "explant_history": PumpExplant.history.count(),
    }


def refill(client, pump, *, at, daily, conc="500", withdrawn="0", **extra):
    return client.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": at,
            "volume_withdrawn_ml": withdrawn,
            "volume_added_ml": "20",
            "concentration_mcg_per_ml": conc,
            "prescription": simple(daily),
            **extra,
        },
        format="json",
    )


def replace(client, pump, **overrides):
    return client.post(
        f"/api/v1/pumps/{pump.pk}/replace/",
        {
            "explanted_on": REPLACED_ON,
            "reason": "end of battery life",
            "model": "8637-40",
            "serial_number": "NEW-0001",
            "catheter_model": "8709SC",
            "catheter_length_cm": "50",
        }
        | overrides,
        format="json",
    )


def explant(client, pump, **overrides):
    return client.post(
        f"/api/v1/pumps/{pump.pk}/explant/",
        {"explanted_on": REPLACED_ON, "reason": "pocket infection", "override_reason": ""} | overrides,
        format="json",
    )


@pytest.fixture
def at_300(api, pump):
    """The patient's pump, filled on 2026-03-01 10:00Z at 300 mcg/day, 500 mcg/mL."""
    response = refill(api, pump, at=FILLED_AT, daily=300)
    assert response.status_code == 201, response.json()
    return pump


@pytest.fixture
def replaced(api, at_300) -> Pump:
    """The pump at 300 mcg/day, replaced on 2026-06-01 by a new 40 mL pump (not yet filled)."""
    response = replace(api, at_300)
    assert response.status_code == 201, response.json()
    return Pump.objects.get(pk=response.json()["id"])


# --- the replacement ----------------------------------------------------------------------


@pytest.mark.rule("TITRATE-2", "IMPLANT-1")
def test_a_replacement_explants_the_old_pump_and_implants_the_new_one_the_same_day(api, at_300, patient):
    response = replace(api, at_300)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["patient"] == patient.pk
    assert body["model"] == "8637-40"
    assert body["implanted_on"] == REPLACED_ON
    assert body["status"] == "active"
    at_300.refresh_from_db()
    assert (at_300.status, at_300.explanted_on) == ("explanted", date(2026, 6, 1))
    record = PumpExplant.objects.get(pump=at_300)
    assert record.replaced_by_id == body["id"]
    assert record.stopped_at is None  # the therapy continues
    assert record.recorded_by.username == "nurse"
    assert at_300.history.latest().history_change_reason == "replaced: end of battery life"
    # a replacement is not a discontinuation
    assert not Alert.objects.filter(kind="discontinuation").exists()


@pytest.mark.rule("TITRATE-1")
def test_a_replacement_first_fill_over_the_limit_is_refused(api, replaced):
    """The defect: the dose history was per pump and a pump's first prescription was never
    checked, so the new pump's first fill at 900 mcg/day (3 x 300) was accepted."""
    before = counts()
    # 300 in effect on the replaced pump; 300 x 1.30 = 390 is the ceiling.
    body = assert_refused(
        refill(api, replaced, at=NEW_FILL_AT, daily=900), "prescription", "titration_limit_exceeded"
    )
    assert body["lowest_daily_dose_mcg"] == "300.0"
    assert body["max_allowed_daily_dose_mcg"] == "390.0"
    assert counts() == before


@pytest.mark.rule("IMPLANT-1")
def test_a_replacement_first_fill_continues_the_patients_drug(api, pump, patient):
    # The patient's pump was filled with a drug other than the default one; its replacement's
    # first fill names no drug: it continues the patient's drug, not the catalog default.
    from patients.models import Drug

    other = Drug.objects.create(
        code="baclofen-compounded",
        name="Baclofen (compounded)",
        supplied_concentrations_mcg_per_ml=["500"],
        starting_concentration_mcg_per_ml="500",
        max_reservoir_days=180,
    )
    response = refill(api, pump, at=FILLED_AT, daily=300, drug=other.code)
    assert response.status_code == 201, response.json()
    response = replace(api, pump)
    assert response.status_code == 201, response.json()
    new_pump = Pump.objects.get(pk=response.json()["id"])
    response = refill(api, new_pump, at=NEW_FILL_AT, daily=300)
    assert response.status_code == 201, response.json()
    assert response.json()["drug"] == "baclofen-compounded"


@pytest.mark.rule("TITRATE-1")
def test_a_replacement_first_fill_within_the_limit_is_accepted(api, replaced):
    # 300 x 1.30 = 390 for a spinal adult
    response = refill(api, replaced, at=NEW_FILL_AT, daily=390)
    assert response.status_code == 201, response.json()
    # the therapy continues: no START-2 warning (it is not the start), same concentration
    assert response.json()["warnings"] == []


@pytest.mark.rule("TITRATE-1")
def test_a_physician_overrides_the_limit_on_a_replacement_first_fill(replaced, physician):
    response = refill(
        client_for(physician),
        replaced,
        at=NEW_FILL_AT,
        daily=900,
        override_reason="tolerated 900 mcg/day before; dose lowered during the pump failure",
    )
    assert response.status_code == 201, response.json()
    row = replaced.prescriptions.get()
    assert row.override_reason.startswith("tolerated 900")


@pytest.mark.rule("TITRATE-1")
def test_the_replacement_pump_then_titrates_on_the_patients_history(api, replaced):
    assert refill(api, replaced, at=NEW_FILL_AT, daily=390).status_code == 201
    # 10 h later the window (from 2026-06-01T01:00Z) still holds the old pump's 300:
    # at most 300 x 1.3 = 390, so 400 is refused.
    response = api.post(
        f"/api/v1/pumps/{replaced.pk}/prescriptions/",
        {"effective_at": "2026-06-02T01:00:00Z", "prescription": simple(400), "reason": "spasms"},
        format="json",
    )
    body = assert_refused(response, "prescription", "titration_limit_exceeded")
    assert body["lowest_daily_dose_mcg"] == "300.0"


@pytest.mark.rule("TITRATE-1")
def test_a_second_pump_of_the_patient_is_checked_against_the_first(api, at_300, patient):
    """However the second pump came to be registered, its first prescription is checked
    against the patient's history (here a pump registered directly, the first one explanted
    in the database)."""
    Pump.objects.filter(pk=at_300.pk).update(status="explanted", explanted_on=date(2026, 6, 1))
    second = PumpFactory(patient=patient, implanted_on=date(2026, 6, 1))
    before = counts()
    assert_refused(refill(api, second, at=NEW_FILL_AT, daily=900), "prescription", "titration_limit_exceeded")
    assert counts() == before


@pytest.mark.rule("IMPLANT-1")
def test_a_replacement_at_another_concentration_than_the_patients_warns(api, replaced):
    # 390 mcg/day at 1000 mcg/mL; the patient was at 500 mcg/mL
    response = refill(api, replaced, at=NEW_FILL_AT, daily=390, conc="1000")
    assert response.status_code == 201, response.json()
    warnings = response.json()["warnings"]
    assert [w["code"] for w in warnings] == ["not_patient_concentration"]
    assert "500 mcg/mL" in warnings[0]["message"] and "1000 mcg/mL" in warnings[0]["message"]


@pytest.mark.rule("IMPLANT-1", "DOSE-4")
def test_a_replacement_continuing_a_higher_concentration_does_not_warn_about_500(api, pump, physician):
    # The patient's pump at 1000 mcg/mL (first fill warns: therapy starts at 500, DOSE-4).
    assert refill(api, pump, at=FILLED_AT, daily=300, conc="1000").status_code == 201
    new = Pump.objects.get(pk=replace(api, pump).json()["id"])
    response = refill(api, new, at=NEW_FILL_AT, daily=300, conc="1000")
    assert response.status_code == 201, response.json()
    assert response.json()["warnings"] == []


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"explanted_on": "2026-11-27"}, "explanted_on"),  # tomorrow
        ({"explanted_on": "2026-02-28"}, "explanted_on"),  # before the last fill (2026-03-01)
        ({"explanted_on": "2025-12-31"}, "explanted_on"),  # before the implant (2026-01-02)
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"model": "nope"}, "model"),
        ({"catheter_length_cm": "0"}, "catheter_length_cm"),
    ],
)
def test_a_bad_replacement_is_refused_and_writes_nothing(api, at_300, overrides, field):
    before = counts()
    body = assert_refused(replace(api, at_300, **overrides), field)
    assert "explanted_on" not in body["errors"][field][0]  # the nurse's words
    assert counts() == before
    at_300.refresh_from_db()
    assert at_300.status == "active"


def test_a_replacement_with_a_taken_serial_number_writes_nothing(api, at_300):
    PumpFactory(serial_number="TAKEN-1", model=at_300.model)
    before = counts()
    assert_refused(replace(api, at_300, model=at_300.model.code, serial_number="TAKEN-1"), "serial_number")
    assert counts() == before
    at_300.refresh_from_db()
    assert at_300.status == "active"


def test_an_explanted_pump_cannot_be_replaced_again(api, replaced, at_300):
    assert_refused(replace(api, at_300, serial_number="NEW-0002"), "pump", "explanted")


def test_staff_cannot_replace_and_outsiders_do_not_see_the_pump(at_300, staff, outsider):
    before = counts()
    assert replace(client_for(staff), at_300).status_code == 403
    assert replace(client_for(outsider), at_300).status_code == 404
    assert counts() == before


# --- an explant without a replacement: a discontinuation (TITRATE-2) ------------------------


@pytest.mark.rule("TITRATE-2")
def test_an_explant_without_an_override_is_refused_and_writes_nothing(api, at_300):
    before = counts()
    body = assert_refused(explant(api, at_300), "override_reason", "discontinuation_requires_override")
    # the nurse reads why, what it risks and what to do instead, word for word
    assert body["errors"]["override_reason"] == [
        "Explanting a pump without a replacement implanted the same day stops the therapy, which "
        "causes withdrawal (itching, hypotension, paresthesia, high fever, altered mental status, "
        "rebound spasticity, rhabdomyolysis, death), typically within 1–3 days. It needs a "
        "prescriber's override with a written reason. To replace the pump, record a replacement "
        "instead."
    ]
    assert counts() == before


@pytest.mark.rule("TITRATE-2")
def test_a_nurse_cannot_explant_even_with_a_reason(api, at_300):
    before = counts()
    response = explant(api, at_300, override_reason="the surgeon said so")
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"
    assert response.json()["detail"] == (
        "Explanting a pump without a replacement (stopping the therapy) needs the physician role "
        "at clinic HOME (yours: nurse)"
    )
    assert counts() == before
    at_300.refresh_from_db()
    assert at_300.status == "active"


@pytest.mark.rule("TITRATE-2")
def test_a_physician_explants_with_an_override_and_a_critical_alert_is_raised(api, at_300, physician):
    response = explant(
        client_for(physician), at_300, override_reason="pocket infection; oral baclofen started"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["replaced_by"] is None
    assert body["reason"] == "pocket infection"
    assert body["override_reason"] == "pocket infection; oral baclofen started"
    # the therapy stops at the start of the explant day (UTC clinic), after the last fill
    assert body["stopped_at"] == "2026-06-01T00:00:00Z"
    at_300.refresh_from_db()
    assert (at_300.status, at_300.explanted_on) == ("explanted", date(2026, 6, 1))
    alerts = api.get("/api/v1/alerts/?kind=discontinuation").json()
    assert alerts["count"] == 1
    alert = alerts["results"][0]
    assert (alert["severity"], alert["pump"], alert["raised_by"]) == ("critical", at_300.pk, "physician")
    assert "pocket infection" in alert["message"] and "withdrawal" in alert["message"]
    assert "1 Jun 2026" in alert["message"]
    record = PumpExplant.objects.get().history.latest()
    assert record.history_user.username == "physician"
    assert "override" in record.history_change_reason


@pytest.mark.rule("TITRATE-1", "TITRATE-2")
def test_a_new_pump_after_a_discontinuation_restarts_only_with_an_override(api, at_300, physician, patient):
    assert explant(client_for(physician), at_300, override_reason="infection").status_code == 201
    later = PumpFactory(patient=patient, implanted_on=date(2026, 9, 1))
    before = counts()
    # the history holds 0 from 2026-06-01: any dose is an increase over a stopped therapy
    body = assert_refused(
        refill(api, later, at="2026-09-01T15:00:00Z", daily=300), "prescription", "titration_limit_exceeded"
    )
    assert "stopped" in body["errors"]["prescription"][0]
    assert counts() == before
    response = refill(
        client_for(physician), later, at="2026-09-01T15:00:00Z", daily=100, override_reason="restart low"
    )
    assert response.status_code == 201, response.json()


@pytest.mark.rule("TITRATE-1", "TITRATE-2")
def test_an_explant_on_the_day_of_the_last_fill_stops_the_therapy_a_second_after_it(
    at_300, physician, patient
):
    """The dose of 0 enters the patient's history after every recorded dose, so it is the one
    in effect from then on, even on the day of the last fill."""
    response = explant(client_for(physician), at_300, explanted_on="2026-03-01", override_reason="infection")
    assert response.status_code == 201, response.json()
    # filled at 2026-03-01 10:00:00Z; the explant day starts at 00:00 (UTC clinic), before
    # the fill: the therapy stops 1 s after the fill, at 10:00:01
    assert response.json()["stopped_at"] == "2026-03-01T10:00:01Z"
    assert patient_dose_history(patient)[-2:] == [
        (datetime(2026, 3, 1, 10, 0, tzinfo=UTC), Fraction(300)),
        (datetime(2026, 3, 1, 10, 0, 1, tzinfo=UTC), Fraction(0)),
    ]
    status_change = Pump.history.filter(id=at_300.pk).latest()
    assert status_change.status == "explanted"
    assert status_change.history_user.username == "physician"
    assert status_change.history_change_reason == "explanted without replacement: infection"


@pytest.mark.rule("TITRATE-2")
def test_a_pump_never_filled_is_explanted_from_the_start_of_the_day(pump, physician, patient):
    response = explant(client_for(physician), pump, reason="", override_reason="infection at implant")
    assert response.status_code == 201, response.json()
    assert response.json()["reason"] == "explanted without replacement"  # none given
    # no recorded dose on this pump: the therapy stops at the start of 2026-06-01 (UTC clinic)
    assert response.json()["stopped_at"] == "2026-06-01T00:00:00Z"
    assert patient_dose_history(patient) == [(datetime(2026, 6, 1, tzinfo=UTC), Fraction(0))]


@pytest.mark.rule("TITRATE-2")
def test_a_pump_can_be_explanted_today_in_the_clinics_zone(at_300, physician, clinic):
    """Today is the clinic's local date, not the server's."""
    clinic.timezone = "Pacific/Auckland"
    clinic.save()
    # now is 2026-11-26 12:00Z = 2026-11-27 01:00 in Auckland (UTC+13 in summer): the 28th is
    # in the future there, the 27th is today
    body = assert_refused(
        explant(client_for(physician), at_300, explanted_on="2026-11-28", override_reason="infection"),
        "explanted_on",
    )
    assert body["errors"]["explanted_on"] == [
        "The explant date is in the future: record an explant once it has happened."
    ]
    response = explant(client_for(physician), at_300, explanted_on="2026-11-27", override_reason="infection")
    assert response.status_code == 201, response.json()


@pytest.mark.rule("TITRATE-2")
def test_an_explant_is_checked_against_the_last_fill_in_the_clinics_zone(api, pump, physician, clinic):
    clinic.timezone = "Pacific/Auckland"
    clinic.save()
    # filled at 2026-03-01 12:00Z = Mon 2 Mar 2026 01:00 in Auckland (UTC+13): 1 Mar, the
    # fill's date in UTC, is before the fill there
    assert refill(api, pump, at="2026-03-01T12:00:00Z", daily=300).status_code == 201
    body = assert_refused(
        explant(client_for(physician), pump, explanted_on="2026-03-01", override_reason="infection"),
        "explanted_on",
    )
    assert body["errors"]["explanted_on"] == [
        "The explant date is before the pump's last recorded refill or prescription "
        "(Mon 2 Mar 2026 01:00 NZDT)."
    ]
    response = explant(client_for(physician), pump, explanted_on="2026-03-02", override_reason="infection")
    assert response.status_code == 201, response.json()
    # 2 Mar starts at 1 Mar 11:00Z in Auckland, before the fill: stopped 1 s after the fill
    assert response.json()["stopped_at"] == "2026-03-01T12:00:01Z"


@pytest.mark.rule("TITRATE-2")
def test_a_pump_can_be_explanted_the_day_it_was_implanted(pump, physician):
    # implanted on 2026-01-02, never filled
    response = explant(client_for(physician), pump, explanted_on="2026-01-02", override_reason="infection")
    assert response.status_code == 201, response.json()


def test_an_explant_date_before_the_last_fill_is_refused(at_300, physician):
    before = counts()
    body = assert_refused(
        explant(client_for(physician), at_300, explanted_on="2026-02-01", override_reason="infection"),
        "explanted_on",
    )
    assert "Sun 1 Mar 2026 10:00 UTC" in body["errors"]["explanted_on"][0]
    assert counts() == before


# --- the explanted pump's appointments -------------------------------------------------------


def _appointments(pump):
    from scheduling.models import Appointment

    refill_visit = Appointment.objects.create(
        pump=pump, kind="refill", status="booked", day=date(2026, 12, 1)
    )
    surgery = Appointment.objects.create(
        pump=pump, kind="replacement", status="booked", day=date(2026, 12, 2)
    )
    return refill_visit, surgery


def test_a_replacement_completes_the_booked_surgery_and_cancels_the_old_pumps_refill(api, at_300):
    refill_visit, surgery = _appointments(at_300)
    assert replace(api, at_300).status_code == 201
    refill_visit.refresh_from_db()
    surgery.refresh_from_db()
    assert (refill_visit.status, surgery.status) == ("cancelled", "completed")
    assert refill_visit.history.latest().history_change_reason == "cancelled: the pump was replaced"


def test_an_explant_cancels_the_pumps_open_appointments(at_300, physician):
    refill_visit, surgery = _appointments(at_300)
    assert explant(client_for(physician), at_300, override_reason="infection").status_code == 201
    refill_visit.refresh_from_db()
    surgery.refresh_from_db()
    assert (refill_visit.status, surgery.status) == ("cancelled", "cancelled")
    # the cancellation is the physician's, in each appointment's history
    for appointment in (refill_visit, surgery):
        cancelled = appointment.history.latest()
        assert cancelled.history_user.username == "physician"
        assert cancelled.history_change_reason == "cancelled: the pump was explanted without a replacement"


@pytest.mark.rule("TITRATE-1", "REFILL-2")
def test_a_replacement_first_fill_comes_after_the_replaced_pumps_last_event(api, at_300):
    # A prescription on the old pump at 2026-06-01 16:00Z, then the replacement that day: the
    # new pump's first fill at 15:00Z would put the patient's doses out of time order.
    response = api.post(
        f"/api/v1/pumps/{at_300.pk}/prescriptions/",
        {"effective_at": "2026-06-01T16:00:00Z", "prescription": simple(300), "reason": "same dose"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    new = Pump.objects.get(pk=replace(api, at_300).json()["id"])
    before = counts()
    assert_refused(refill(api, new, at=NEW_FILL_AT, daily=300), "performed_at")
    assert counts() == before
    assert refill(api, new, at="2026-06-01T17:00:00Z", daily=300).status_code == 201


@pytest.mark.rule("DRIFT-1", "TITRATE-2")
def test_an_explant_ends_the_pumps_delivery_drift_alerts_and_no_other(api, at_300, physician, clinic):
    other = PumpFactory(patient=at_300.patient, implanted_on=date(2026, 1, 2))
    drifting, elsewhere = (
        Alert.objects.create(clinic=clinic, pump=p, kind="delivery_drift", severity="warning", message="x")
        for p in (at_300, other)
    )
    assert explant(client_for(physician), at_300, override_reason="infection").status_code == 201
    drifting.refresh_from_db()
    assert drifting.resolved_at is not None
    assert drifting.history.first().history_change_reason == "resolved: the pump was explanted"
    assert Alert.objects.get(pk=elsewhere.pk).resolved_at is None


@pytest.mark.rule("TITRATE-1", "TITRATE-2")
def test_the_dose_history_is_the_patients_own_and_a_replacement_stops_nothing(
    api, replaced, physician, clinic, patient
):
    from tests.factories import PatientFactory

    someone_else = PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2))
    assert refill(api, someone_else, at=FILLED_AT, daily=200).status_code == 201
    assert explant(client_for(physician), someone_else, override_reason="infection").status_code == 201
    # an earlier pump of the patient's, explanted before the stop was recorded
    earlier = PumpFactory(patient=patient, implanted_on=date(2024, 1, 2))
    PumpExplant.objects.create(
        pump=earlier, explanted_on=date(2025, 12, 30), reason="legacy record", recorded_by=physician
    )
    assert patient_dose_history(patient) == [(datetime(2026, 3, 1, 10, tzinfo=UTC), Fraction(300))]
