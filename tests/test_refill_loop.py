"""The refill loop over time (LRA-5): no pump is ever left without a bookable refill day.

First the defects a 120-day run found, each on its own (each passes on the code it guards);
then the loop itself over four months on the service clock.

The single-defect tests: "now" starts on Thursday 2026-11-26 12:00Z; the clinic (UTC) works
Monday to Friday. A fill of 20 mL at 500 mcg/mL and 250 mcg/day (0.5 mL/day) on an 8637-20
(tolerance 14.5 %, alarm at 2 mL) reaches its worst-case alarm 18 / (0.5 x 1.145) = 31.441
days = 31 d 10 h 35 min after the fill; refill-by is 7 days before the alarm's date. Filled on
2026-11-20 10:00 (LATER): alarm 2026-12-21 20:35, refill-by Monday 2026-12-14.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from alerts.models import Alert, AlertKind
from patients.models import ClinicClosure
from refills.models import PumpProjection
from scheduling.models import Appointment
from scheduling.proposals import refill_proposals_run
from tests.conftest import client_for
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import clock_at, fill

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]

LATER = "2026-11-20T10:00:00Z"
REFILL_BY = date(2026, 12, 14)  # a Monday


def new_pump(clinic, api, at=LATER, family_name="Moreno"):
    pump = PumpFactory(
        patient=PatientFactory(clinic=clinic, family_name=family_name), implanted_on=date(2026, 1, 2)
    )
    fill(api, pump, at)
    return pump


def open_refill(pump):
    return Appointment.objects.get(pump=pump, kind="refill", status__in=["proposed", "booked"])


def at(day: date, hour: int = 8) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def taken(clinic, *days):
    """Another pump's booked refill on each of ``days``."""
    for day in days:
        other = PumpFactory(patient=PatientFactory(clinic=clinic))
        Appointment.objects.create(pump=other, kind="refill", day=day, status="booked")


# --- 1. a no-show on refill-by is proposed and bookable again --------------------------------


@pytest.mark.rule("LRA-5")
def test_a_no_show_on_the_refill_by_day_is_proposed_again_and_bookable_the_next_day(clinic, api, monkeypatch):
    pump = new_pump(clinic, api)
    assert PumpProjection.objects.get(pump=pump).refill_by == REFILL_BY
    clock_at(monkeypatch, at(REFILL_BY))
    refill_proposals_run(clinic)
    proposal = open_refill(pump)
    assert proposal.day == REFILL_BY
    assert api.post(f"/api/v1/appointments/{proposal.pk}/book/", {}, format="json").status_code == 200
    # the patient does not come on Monday 14 (refill-by); the nurse records it that evening
    clock_at(monkeypatch, at(REFILL_BY, 17))
    assert api.post(f"/api/v1/appointments/{proposal.pk}/no-show/", {}, format="json").status_code == 200
    refill_proposals_run(clinic)
    assert open_refill(pump).day == REFILL_BY  # still today: never without a proposal
    # Tuesday 15: refill-by passed, overdue: proposed today and bookable today or later
    clock_at(monkeypatch, at(date(2026, 12, 15)))
    result = refill_proposals_run(clinic)
    assert (result.withdrawn, result.proposed, result.overdue, result.no_slot) == (1, 1, 1, 0)
    again = open_refill(pump)
    assert (again.day, again.status) == (date(2026, 12, 15), "proposed")
    response = api.post(f"/api/v1/appointments/{again.pk}/book/", {"day": "2026-12-16"}, format="json")
    assert response.status_code == 200, response.json()
    assert [w["code"] for w in response.json()["warnings"]] == ["overdue"]
    assert not Alert.objects.filter(pump=pump, kind=AlertKind.NO_REFILL_SLOT).exists()


@pytest.mark.rule("LRA-5")
def test_a_booked_refill_by_day_that_passes_unrecorded_is_a_no_show_and_booking_is_never_refused(
    clinic, api, monkeypatch
):
    pump = new_pump(clinic, api)
    response = api.post(
        "/api/v1/appointments/", {"pump": pump.pk, "kind": "refill", "day": "2026-12-14"}, format="json"
    )
    assert response.status_code == 201, response.json()
    # Tuesday 15: nobody recorded anything; the nightly job makes it a no-show and proposes today
    clock_at(monkeypatch, at(date(2026, 12, 15), 2))
    result = refill_proposals_run(clinic)
    assert (result.no_shows, result.proposed, result.overdue) == (1, 1, 1)
    assert Appointment.objects.get(pk=response.json()["id"]).status == "no_show"
    # a nurse who cancels the proposal can still book directly, any working day from today
    proposal = open_refill(pump)
    api.post(f"/api/v1/appointments/{proposal.pk}/cancel/", {"reason": "phoning"}, format="json")
    response = api.post(
        "/api/v1/appointments/", {"pump": pump.pk, "kind": "refill", "day": "2026-12-16"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["overdue"] is True


# --- 2. a full window falls back to an earlier free day -------------------------------------


@pytest.mark.rule("LRA-5")
def test_a_full_window_proposes_the_latest_earlier_free_working_day(clinic, api):
    clinic.refill_slots_per_day = 1
    clinic.save()
    # the week before refill-by is full: Mon 7 .. Fri 11 and Mon 14 Dec (one slot each)
    taken(clinic, *(date(2026, 12, d) for d in (7, 8, 9, 10, 11, 14)))
    pump = new_pump(clinic, api)
    result = refill_proposals_run(clinic)
    # the latest free working day before them: Friday 4 Dec, neither overdue nor over capacity
    assert (result.proposed, result.overdue, result.over_capacity, result.no_slot) == (1, 0, 0, 0)
    assert open_refill(pump).day == date(2026, 12, 4)


# --- 3. a closure added after booking -------------------------------------------------------


@pytest.mark.rule("LRA-5")
def test_a_closure_added_after_booking_alerts_at_once_and_its_bookings_can_be_moved_or_lapse(
    clinic, api, admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    kept = new_pump(clinic, api, family_name="Kept")
    moved = new_pump(clinic, api, family_name="Moved")
    for pump in (kept, moved):
        response = api.post(
            "/api/v1/appointments/", {"pump": pump.pk, "kind": "refill", "day": "2026-12-14"}, format="json"
        )
        assert response.status_code == 201, response.json()
    # Thursday 10 Dec: the admin closes the clinic Thursday 10 to Monday 14
    clock_at(monkeypatch, at(date(2026, 12, 10)))
    admin = client_for(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        for day in ("2026-12-10", "2026-12-11", "2026-12-14"):
            response = admin.post(
                "/api/v1/clinics/HOME/closures/", {"date": day, "reason": "works"}, format="json"
            )
            assert response.status_code == 201, response.json()
    # in the same request: each booking on a closed day is alerted for a nurse to move it
    for pump in (kept, moved):
        alert = Alert.objects.get(pump=pump, kind=AlertKind.APPOINTMENT_DAY_CLOSED, resolved_at__isnull=True)
        assert "14 Dec 2026" in alert.text and "move it" in alert.text
    # no working day is left before refill-by (10, 11 and 14 closed, 12-13 a weekend): overdue,
    # so moving to Tuesday 15 is not refused
    response = api.post(
        f"/api/v1/appointments/{open_refill(moved).pk}/book/", {"day": "2026-12-15"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert [w["code"] for w in response.json()["warnings"]] == ["overdue"]
    # Tuesday 15: the booking left on the closed day lapsed: a no-show, proposed again today
    clock_at(monkeypatch, at(date(2026, 12, 15), 2))
    result = refill_proposals_run(clinic)
    assert result.no_shows == 1
    assert (open_refill(kept).day, open_refill(kept).status) == (date(2026, 12, 15), "proposed")
    assert not Alert.objects.filter(
        pump__in=[kept, moved], kind=AlertKind.APPOINTMENT_DAY_CLOSED, resolved_at__isnull=True
    ).exists()


# --- 4. a change of working days -------------------------------------------------------------


@pytest.mark.rule("LRA-5")
def test_a_change_of_working_days_through_the_api_re_plans_in_the_same_request(
    clinic, api, admin_user, django_capture_on_commit_callbacks
):
    proposed = new_pump(clinic, api, family_name="Proposed")
    booked = new_pump(clinic, api, family_name="Booked")
    refill_proposals_run(clinic)
    assert open_refill(proposed).day == REFILL_BY  # a Monday
    api.post(f"/api/v1/appointments/{open_refill(booked).pk}/book/", {}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).patch(
            "/api/v1/clinics/HOME/", {"working_days": [2, 3, 4, 5], "reason": "no Mondays"}, format="json"
        )
    assert response.status_code == 200, response.json()
    # Monday 14 is no longer worked: the proposal moves to Friday 11, the booking is alerted
    assert open_refill(proposed).day == date(2026, 12, 11)
    assert Alert.objects.filter(pump=booked, kind=AlertKind.APPOINTMENT_DAY_CLOSED).exists()
    # and the booking can be moved to the new last working day, or cancelled
    response = api.post(
        f"/api/v1/appointments/{open_refill(booked).pk}/book/", {"day": "2026-12-11"}, format="json"
    )
    assert response.status_code == 200, response.json()


# --- 5. the no-slot alert never reads backwards, and never blames slots for a passed date ----


@pytest.mark.rule("LRA-5")
def test_a_passed_refill_by_with_every_day_full_is_proposed_over_capacity_not_left_without(
    clinic, api, monkeypatch
):
    clinic.refill_slots_per_day = 1
    clinic.save()
    pump = new_pump(clinic, api)
    # Wednesday 16 Dec, refill-by passed; Wed 16 .. Fri 18 full
    clock_at(monkeypatch, at(date(2026, 12, 16)))
    taken(clinic, date(2026, 12, 16), date(2026, 12, 17), date(2026, 12, 18))
    result = refill_proposals_run(clinic)
    assert (result.proposed, result.overdue, result.over_capacity, result.no_slot) == (1, 1, 1, 0)
    assert open_refill(pump).day == date(2026, 12, 16)
    assert not Alert.objects.filter(kind=AlertKind.NO_REFILL_SLOT).exists()


@pytest.mark.rule("LRA-5")
def test_the_no_slot_alert_blames_the_calendar_in_forward_dates(clinic, api):
    # the clinic works Sundays only and is closed every Sunday for a year: the one case left
    # where nothing can be proposed is a calendar error, said as such
    clinic.working_days = [7]
    clinic.save()
    for week in range(54):
        ClinicClosure.objects.create(
            clinic=clinic, date=date.fromordinal(date(2026, 11, 29).toordinal() + 7 * week)
        )
    pump = new_pump(clinic, api)
    result = refill_proposals_run(clinic)
    assert (result.proposed, result.no_slot) == (0, 1)
    text = Alert.objects.get(pump=pump, kind=AlertKind.NO_REFILL_SLOT).text
    assert "the clinic has no working day in the 366 days from 26 Nov 2026" in text
    assert "between" not in text and "slot" not in text.split(":", 1)[1]
