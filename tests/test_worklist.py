"""The nurses' worklist (ALERT-1). "Now" is Thursday 2026-11-26 12:00Z.

A first fill of 20 mL at 500 mcg/mL and 250 mcg/day drains 0.5 mL/day; its worst-case alarm
is 31.441 days (31 d 10 h 35 min) after the fill, its worst-case empty time
20 / 0.5725 = 34.934 days (34 d 22 h 25 min) after it, refill-by 7 days before the alarm date.
"""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.models import Alert, AlertKind
from patients.models import Caregiver
from scheduling.models import Appointment
from scheduling.proposals import refill_proposals_run
from tests.conftest import client_for
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import prescribe, simple

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]
URL = "/api/v1/worklist/"


def filled(clinic, api, at, *, withdrawn=None, previous=None, **patient):
    pump = PumpFactory(patient=PatientFactory(clinic=clinic, **patient), implanted_on=date(2026, 1, 2))
    for when, residual in ([(previous, 0)] if previous else []) + [(at, withdrawn if previous else 0)]:
        response = api.post(
            f"/api/v1/pumps/{pump.pk}/refills/",
            {
                "performed_at": when,
                "volume_withdrawn_ml": residual,
                "volume_added_ml": 20,
                "concentration_mcg_per_ml": 500,
                "prescription": simple(250),
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
    return pump


def rows(api, query=""):
    response = api.get(f"{URL}?clinic=HOME{query}")
    assert response.status_code == 200, response.json()
    return response.json()["results"]


@pytest.mark.rule("ALERT-1")
def test_pumps_are_ordered_by_urgency_then_refill_by(clinic, api):
    # Filled 2026-10-20T10:00Z: worst-case empty 2026-11-24T08:25Z, before now -> past_empty
    empty = filled(clinic, api, "2026-10-20T10:00:00Z", family_name="Empty")
    # Filled 2026-10-24T10:00Z: worst alarm 2026-11-24T20:35Z (past), empty 2026-11-28 -> past_alarm
    alarm = filled(clinic, api, "2026-10-24T10:00:00Z", family_name="Alarm")
    # Filled 2026-11-05T10:00Z: worst alarm 2026-12-06T20:35Z, refill-by 2026-11-29 (within 7 days), unbooked
    due = filled(clinic, api, "2026-11-05T10:00:00Z", family_name="Due")
    # Filled 2026-11-20T10:00Z: refill-by 2026-12-14 -> upcoming
    later = filled(clinic, api, "2026-11-20T10:00:00Z", family_name="Later")
    got = rows(api)
    assert [r["pump"]["id"] for r in got] == [empty.pk, alarm.pk, due.pk, later.pk]
    assert [r["urgency"]["code"] for r in got] == ["past_empty", "past_alarm", "due_unbooked", "upcoming"]
    assert got[2]["refill_by"] == "2026-11-29" and got[2]["refill_by_reason"] == "alarm"
    assert got[2]["alarm_on"] == "2026-12-06"
    # volume now: 21 days and 2 hours after the fill at 0.5 mL/day -> 20 - 10.5417 = 9.46 mL
    assert got[2]["reservoir_volume_ml"] == "9.46"
    # past the worst-case empty time, yet nominally 20 - 0.5 x 37.083 days = 1.46 mL remain
    assert got[0]["reservoir_volume_ml"] == "1.46"


@pytest.mark.rule("ALERT-1")
def test_a_booked_refill_lowers_the_urgency_and_a_no_show_raises_it(clinic, api):
    due = filled(clinic, api, "2026-11-02T10:00:00Z")  # refill-by 2026-11-26: today
    refill_proposals_run(clinic)
    appointment = Appointment.objects.get(pump=due)
    assert rows(api)[0]["urgency"]["code"] == "due_unbooked"  # a proposal is not a booking
    api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"time": "09:00"}, format="json")
    row = rows(api)[0]
    assert row["urgency"]["code"] == "scheduled"
    assert row["appointment"]["status"] == "booked" and row["appointment"]["day"] == "2026-11-26"
    api.post(f"/api/v1/appointments/{appointment.pk}/no-show/", {}, format="json")
    other = filled(clinic, api, "2026-11-03T10:00:00Z")  # due too, unbooked, later refill-by
    got = rows(api)
    assert [r["pump"]["id"] for r in got[:2]] == [due.pk, other.pk]
    assert got[0]["urgency"]["code"] == "no_show"


@pytest.mark.rule("ALERT-1")
def test_a_refill_after_a_no_show_ends_the_missed_urgency(clinic, api):
    due = filled(clinic, api, "2026-11-02T10:00:00Z")
    refill_proposals_run(clinic)
    appointment = Appointment.objects.get(pump=due)
    api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"time": "09:00"}, format="json")
    api.post(f"/api/v1/appointments/{appointment.pk}/no-show/", {}, format="json")
    assert rows(api)[0]["urgency"]["code"] == "no_show"
    # The patient came later that day: 24 days x 0.5 mL/day = 12 mL used, 8 mL left.
    response = api.post(
        f"/api/v1/pumps/{due.pk}/refills/",
        {
            "performed_at": "2026-11-26T11:00:00Z",
            "volume_withdrawn_ml": 8,
            "volume_added_ml": 20,
            "concentration_mcg_per_ml": 500,
            "prescription": simple(250),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    # The no-show's day is not after the day of the last fill: no longer missed.
    assert rows(api)[0]["urgency"]["code"] == "upcoming"


def test_until_filters_the_due_and_keeps_the_urgent(clinic, api):
    filled(clinic, api, "2026-10-24T10:00:00Z")  # past alarm, refill-by 2026-11-17
    filled(clinic, api, "2026-11-20T10:00:00Z")  # refill-by 2026-12-14
    assert len(rows(api, "&until=2026-12-01")) == 1
    assert len(rows(api, "&until=2026-12-14")) == 2


def test_flags(clinic, api):
    # Refilled 2026-11-20 withdrawing 5 mL where 20 - 0.5 x 10 days = 15 mL were expected: less than expected.
    pump = filled(
        clinic,
        api,
        "2026-11-20T10:00:00Z",
        withdrawn="5",
        previous="2026-11-10T10:00:00Z",
        communication_consent=False,
        phone="",
    )
    flags = rows(api)[0]["flags"]
    assert flags["discrepancy_at_last_refill"] == "less_than_expected"
    assert flags["no_reachable_contact"] is True
    Caregiver.objects.create(
        patient=pump.patient, name="Sam", relation="spouse", phone="1", communication_consent=True
    )
    assert rows(api)[0]["flags"]["no_reachable_contact"] is False
    assert flags["daylight_saving_warning"] is False and flags["tolerance_not_configured"] is False


def test_filters_by_appointment_status_and_nurse(clinic, api, nurse):
    a = filled(clinic, api, "2026-11-05T10:00:00Z")
    b = filled(clinic, api, "2026-11-06T10:00:00Z")
    refill_proposals_run(clinic)
    booked = Appointment.objects.get(pump=a)
    api.post(f"/api/v1/appointments/{booked.pk}/book/", {"nurse": nurse.username}, format="json")
    assert [r["pump"]["id"] for r in rows(api, "&status=booked")] == [a.pk]
    assert [r["pump"]["id"] for r in rows(api, "&status=proposed")] == [b.pk]
    assert [r["pump"]["id"] for r in rows(api, "&nurse=nurse")] == [a.pk]
    assert rows(api, "&status=none") == []


def test_bad_parameters_are_refused(api, clinic):
    assert api.get(f"{URL}?clinic=HOME&until=tomorrow").status_code == 400
    assert api.get(f"{URL}?clinic=HOME&status=maybe").status_code == 400


def test_another_clinic_is_not_found(clinic, outsider):
    assert client_for(outsider).get(f"{URL}?clinic=HOME").status_code == 404


def test_the_queries_per_page_do_not_grow_with_the_clinic(clinic, api):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert api.get(f"{URL}?clinic=HOME").status_code == 200
        return len(queries)

    for _ in range(2):
        filled(clinic, api, "2026-11-05T10:00:00Z")
    small = count()
    for _ in range(10):
        filled(clinic, api, "2026-11-05T10:00:00Z")
    refill_proposals_run(clinic)
    assert count() == small


def test_a_page_is_cached_until_a_write_or_the_next_minute(clinic, api, monkeypatch):
    from datetime import timedelta

    from tests.conftest import NOW

    pump = filled(clinic, api, "2026-11-05T10:00:00Z")
    refill_proposals_run(clinic)

    def get():
        with CaptureQueriesContext(connection) as queries:
            body = rows(api)
        return body, len(queries)

    first, cold = get()
    again, warm = get()
    assert again == first and warm < cold  # served from the cache
    appointment = Appointment.objects.get(pump=pump)
    api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"time": "10:00"}, format="json")
    booked, _ = get()
    assert booked[0]["appointment"]["status"] == "booked"  # a write shows at once
    # an hour later the volume now has moved: 0.5 mL/day x 1 h = 0.0208 mL (9.46 -> 9.44)
    monkeypatch.setattr("pumpcare.clock.now", lambda: NOW + timedelta(hours=1))
    later, _ = get()
    assert (booked[0]["reservoir_volume_ml"], later[0]["reservoir_volume_ml"]) == ("9.46", "9.44")


def test_the_clinic_is_needed_only_for_users_of_several_clinics(clinic, api, nurse, other_clinic):
    filled(clinic, api, "2026-11-05T10:00:00Z")
    assert api.get(URL).json()["count"] == 1  # one clinic: it is the default
    other_clinic.memberships.create(user=nurse, role="nurse")
    response = api.get(URL)
    assert response.status_code == 400 and "clinic" in response.json()["errors"]
    assert api.get(f"{URL}?clinic=AWAY").json()["count"] == 0


def version(clinic) -> str:
    from patients.models import Clinic
    from pumpcare.data_version import with_data_version

    return with_data_version(Clinic.objects.filter(pk=clinic.pk)).values_list("data_version", flat=True).get()


def test_a_write_changes_the_data_version_of_the_clinics_that_show_it(clinic, other_clinic, api):
    from cards.models import CardText
    from patients.models import Drug, PumpModel
    from refills.projections import projections_refresh

    pump = filled(clinic, api, "2026-11-05T10:00:00Z")
    away = PatientFactory(clinic=other_clinic)

    def changed(write) -> set[str]:
        before = {c.code: version(c) for c in (clinic, other_clinic)}
        write()
        return {c.code for c in (clinic, other_clinic) if version(c) != before[c.code]}

    assert changed(lambda: refill_proposals_run(clinic)) == {"HOME"}  # appointments
    assert changed(lambda: Caregiver.objects.create(patient=away, name="Sam")) == {"AWAY"}
    assert changed(lambda: projections_refresh([pump.pk], force=True)) == {"HOME"}
    patient = pump.patient
    patient.given_name = "Adaline"
    assert changed(patient.save) == {"HOME"}
    patient.clinic = other_clinic  # a patient moving changes both clinics
    assert changed(patient.save) == {"HOME", "AWAY"}
    model = PumpModel.objects.get(code="8637-20")  # a catalog entry every clinic shows
    model.name = "SynchroMed II (renamed)"
    assert changed(model.save) == {"HOME", "AWAY"}
    drug = Drug.objects.get(code="baclofen")
    default = CardText.objects.get(clinic=None, pump_model=model, drug=drug)  # shipped, shown by all
    default.mri_note += " (reviewed)"
    assert changed(default.save) == {"HOME", "AWAY"}
    assert changed(lambda: CardText.objects.create(clinic=clinic, pump_model=model, drug=drug)) == {"HOME"}
    assert changed(lambda: None) == set()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_write_committed_after_a_later_one_still_shows(clinic, nurse, frozen_now):
    """Two bookings at one clinic race: the one that started first (and wrote the older
    change row) commits last. The later one does not wait for it, and a page cached
    between the two commits is not served after the second."""
    import threading
    from datetime import time

    from django.db import connections, transaction

    from scheduling.appointments import appointment_book

    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL (DATABASE_URL); SQLite serialises every writer")
    api = client_for(nurse)
    first = filled(clinic, api, "2026-11-02T10:00:00Z")
    second = filled(clinic, api, "2026-11-03T10:00:00Z")
    refill_proposals_run(clinic)
    slow, fast = (Appointment.objects.get(pump=pump) for pump in (first, second))
    booked, release = threading.Event(), threading.Event()

    def book_and_wait():
        try:
            with transaction.atomic():
                appointment_book(actor=nurse, appointment=slow, at=time(9))
                booked.set()
                release.wait(10)
        finally:
            connections.close_all()

    def statuses():
        return {row["pump"]["id"]: row["appointment"]["status"] for row in rows(api)}

    writer = threading.Thread(target=book_and_wait)
    writer.start()
    try:
        assert booked.wait(10)
        response = api.post(f"/api/v1/appointments/{fast.pk}/book/", {"time": "10:00"}, format="json")
        assert response.status_code == 200, response.json()
        assert statuses() == {first.pk: "proposed", second.pk: "booked"}  # cached now
    finally:
        release.set()
        writer.join()
    assert statuses() == {first.pk: "booked", second.pk: "booked"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_transaction_counts_once_per_clinic_and_a_rollback_not_at_all(clinic, other_clinic):
    from django.db import transaction

    from pumpcare.data_version import data_changes_prune
    from pumpcare.models import DataChange, DataVersion

    def counts() -> dict:
        changes = DataChange.objects.filter(clinic__isnull=False).values_list("clinic__code", flat=True)
        committed = DataVersion.objects.filter(clinic__isnull=False).values_list("clinic__code", "commits")
        return {"changes": sorted(changes), "committed": dict(committed)}

    before = counts()
    with transaction.atomic():
        for _ in range(3):  # a patient and a pump each: six history rows at HOME
            PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2))
        Caregiver.objects.create(patient=PatientFactory(clinic=other_clinic), name="Sam")
        # in the transaction: one change row per clinic, the counters not yet
        assert counts()["committed"] == before["committed"]
    after = counts()
    assert after["changes"] == sorted([*before["changes"], "AWAY", "HOME"])
    committed = {code: n - before["committed"].get(code, 0) for code, n in after["committed"].items()}
    assert committed == {"HOME": 1, "AWAY": 1}
    with transaction.atomic():
        Caregiver.objects.create(patient=PatientFactory(clinic=clinic), name="Kim")
        transaction.set_rollback(True)
    assert counts() == after
    # The nightly prune keeps each clinic's newest change: no version goes back.
    versions = {c.code: version(c) for c in (clinic, other_clinic)}
    data_changes_prune()
    assert sorted(counts()["changes"]) == ["AWAY", "HOME"]
    assert {c.code: version(c) for c in (clinic, other_clinic)} == versions


@pytest.mark.rule("LRA-5")
def test_a_booked_refill_that_now_falls_after_refill_by_is_flagged_to_move(clinic, api):
    """Filled 2026-11-20 10:00: refill-by Monday 14 Dec, booked that day. A dose of 280
    mcg/day from now (Thursday 26 Nov 12:00) moves refill-by to Saturday 12 Dec (worst case
    16.517 mL left, 0.6412 mL/day to the 2 mL alarm: 22.64 days, Saturday 19 Dec, less 7
    days): the booking falls after it while working days are left before it."""
    pump = filled(clinic, api, "2026-11-20T10:00:00Z")
    refill_proposals_run(clinic)
    booking = Appointment.objects.get(pump=pump)
    assert booking.day == date(2026, 12, 14)
    assert api.post(f"/api/v1/appointments/{booking.pk}/book/", {}, format="json").status_code == 200
    assert rows(api)[0]["flags"]["booked_after_refill_by"] is False
    prescribe(api, pump, "2026-11-26T12:00:00Z", 280)
    row = rows(api)[0]
    assert row["refill_by"] == "2026-12-12" and row["appointment"]["day"] == "2026-12-14"
    assert row["flags"]["booked_after_refill_by"] is True
    # the flag and the alert say the same
    assert Alert.objects.filter(
        pump=pump, kind=AlertKind.REFILL_BOOKED_LATE, resolved_at__isnull=True
    ).exists()
    # moved to Friday 11 Dec: the flag goes with the alert
    response = api.post(f"/api/v1/appointments/{booking.pk}/book/", {"day": "2026-12-11"}, format="json")
    assert response.status_code == 200, response.json()
    assert rows(api)[0]["flags"]["booked_after_refill_by"] is False
    assert not Alert.objects.filter(
        pump=pump, kind=AlertKind.REFILL_BOOKED_LATE, resolved_at__isnull=True
    ).exists()
