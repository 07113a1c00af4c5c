"""Refill proposals (LRA-5) and what nurses do with appointments.

"Now" is Thursday 2026-11-26 12:00Z; the clinic works Monday to Friday, in UTC.
A first fill of 20 mL at 500 mcg/mL, 250 mcg/day (0.5 mL/day) has its worst-case alarm
18 / (0.5 x 1.145) = 31.441 days = 31 d 10 h 35 min after the fill, and refill-by 7 days
before that alarm's date.
"""

import io
import threading
from datetime import date

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from alerts.models import Alert
from patients.models import ClinicClosure, PumpModel
from refills.models import PumpProjection
from scheduling.models import Appointment
from scheduling.proposals import refill_proposals_run
from tests.conftest import NOW, client_for
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import assert_refused, simple

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def fill(api, pump, at, daily=250):
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": at,
            "volume_withdrawn_ml": 0,
            "volume_added_ml": 20,
            "concentration_mcg_per_ml": 500,
            "prescription": simple(daily),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()


def new_pump(clinic, api, at):
    pump = PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2))
    fill(api, pump, at)
    return pump


# Fill 2026-11-20T10:00Z -> alarm 2026-12-21T20:35Z -> refill-by Monday 2026-12-14.
ON_MONDAY = "2026-11-20T10:00:00Z"
# Fill 2026-11-19T10:00Z -> alarm 2026-12-20T20:35Z -> refill-by Sunday 2026-12-13.
ON_SUNDAY = "2026-11-19T10:00:00Z"


def proposals(pump):
    return list(Appointment.objects.filter(pump=pump, status="proposed").values_list("day", flat=True))


@pytest.mark.rule("LRA-5")
def test_a_refill_is_proposed_on_refill_by_when_it_is_a_working_day(clinic, api):
    pump = new_pump(clinic, api, ON_MONDAY)
    assert PumpProjection.objects.get(pump=pump).refill_by == date(2026, 12, 14)
    assert refill_proposals_run(clinic).proposed == 1
    assert proposals(pump) == [date(2026, 12, 14)]


@pytest.mark.rule("LRA-5")
def test_the_proposal_walks_back_over_the_weekend_and_closures(clinic, api):
    pump = new_pump(clinic, api, ON_SUNDAY)
    ClinicClosure.objects.create(clinic=clinic, date=date(2026, 12, 11), reason="staff training")
    refill_proposals_run(clinic)
    # Sunday 13 -> Saturday 12 -> Friday 11 (closed) -> Thursday 10
    assert proposals(pump) == [date(2026, 12, 10)]


@pytest.mark.rule("LRA-5")
def test_full_days_are_skipped_most_urgent_first(clinic, api):
    clinic.refill_slots_per_day = 1
    clinic.save()
    first, second = new_pump(clinic, api, ON_SUNDAY), new_pump(clinic, api, ON_SUNDAY)
    assert refill_proposals_run(clinic).proposed == 2
    # one slot a day: Friday 11, then Thursday 10
    assert proposals(first) == [date(2026, 12, 11)] and proposals(second) == [date(2026, 12, 10)]


@pytest.mark.rule("LRA-5")
def test_a_closed_window_takes_the_latest_earlier_working_day_instead_of_missing(clinic, api):
    pump = new_pump(clinic, api, ON_MONDAY)
    for day in range(8, 15):  # the whole week before Monday 14 closed
        ClinicClosure.objects.create(clinic=clinic, date=date(2026, 12, day))
    result = refill_proposals_run(clinic)
    # Tuesday 8 .. Monday 14 closed -> Monday 7 Dec, the latest earlier working day from today
    assert (result.proposed, result.no_slot, result.overdue) == (1, 0, 0)
    assert proposals(pump) == [date(2026, 12, 7)]
    assert not Alert.objects.filter(pump=pump).exists()


@pytest.mark.rule("LRA-5")
def test_a_refill_by_date_in_the_past_is_proposed_today_marked_overdue(clinic, api):
    # Fill 2026-10-20: alarm 2026-11-20, refill-by 2026-11-13, before today (Thursday 2026-11-26):
    # proposed on today, the earliest working day, overdue; no "no slot" alert.
    pump = new_pump(clinic, api, "2026-10-20T10:00:00Z")
    result = refill_proposals_run(clinic)
    assert (result.proposed, result.overdue, result.no_slot) == (1, 1, 0)
    assert proposals(pump) == [date(2026, 11, 26)]
    assert not Alert.objects.filter(pump=pump, kind="no_refill_slot").exists()
    assert refill_proposals_run(clinic).proposed == 0  # kept, not withdrawn and made again


def test_the_job_is_idempotent(clinic, api):
    new_pump(clinic, api, ON_MONDAY)
    assert refill_proposals_run(clinic).proposed == 1
    assert refill_proposals_run(clinic).proposed == 0
    assert Appointment.objects.count() == 1


def test_the_database_allows_one_open_refill_appointment_per_pump(clinic, api):
    pump = new_pump(clinic, api, ON_MONDAY)
    Appointment.objects.create(pump=pump, kind="refill", day=date(2026, 12, 14))
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(pump=pump, kind="refill", day=date(2026, 12, 11), status="booked")
    Appointment.objects.create(pump=pump, kind="titration", day=date(2026, 12, 11))  # another kind is fine


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_racing_runs_create_no_duplicate(clinic, nurse, frozen_now):
    if connection.vendor != "postgresql":
        pytest.skip("a real race needs PostgreSQL (DATABASE_URL); SQLite serialises every writer")
    api = client_for(nurse)
    pumps = [new_pump(clinic, api, ON_MONDAY) for _ in range(5)]
    start = threading.Barrier(2)
    errors = []

    def run():
        try:
            start.wait(5)
            with transaction.atomic():
                refill_proposals_run(clinic)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for pump in pumps:
        assert Appointment.objects.filter(pump=pump, status="proposed").count() == 1


def test_a_refill_completes_the_booked_appointment(clinic, api, nurse):
    pump = new_pump(clinic, api, ON_MONDAY)
    refill_proposals_run(clinic)
    appointment = Appointment.objects.get(pump=pump)
    response = api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"time": "09:30"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "booked"
    # 20 mL filled 2026-11-20T10:00Z, 6 days at 0.5 mL/day -> 17.0 mL expected at the refill
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": "2026-11-26T10:00:00Z",
            "volume_withdrawn_ml": "17.0",
            "volume_added_ml": 20,
            "concentration_mcg_per_ml": 500,
            "prescription": simple(250),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    appointment.refresh_from_db()
    assert appointment.status == "completed" and appointment.refill_id == response.json()["id"]
    assert appointment.history.first().history_change_reason == "completed by the refill"


def test_a_refill_withdraws_a_proposal_and_the_job_proposes_the_next(clinic, api):
    pump = new_pump(clinic, api, ON_MONDAY)
    refill_proposals_run(clinic)
    fill_again = {
        "performed_at": "2026-11-26T10:00:00Z",
        "volume_withdrawn_ml": "17.0",
        "volume_added_ml": 20,
        "concentration_mcg_per_ml": 500,
        "prescription": simple(250),
    }
    assert api.post(f"/api/v1/pumps/{pump.pk}/refills/", fill_again, format="json").status_code == 201
    assert Appointment.objects.get(pump=pump).status == "cancelled"
    refill_proposals_run(clinic)
    # alarm 31.441 days after 2026-11-26T10:00Z = 2026-12-27T20:35Z; refill-by Sunday 2026-12-20 -> Friday 18
    assert proposals(pump) == [date(2026, 12, 18)]


def test_a_proposal_after_a_new_earlier_refill_by_is_moved(clinic, api, physician):
    pump = new_pump(clinic, api, ON_MONDAY)
    refill_proposals_run(clinic)
    PumpModel.objects.filter(code="8637-20").update(accuracy_tolerance_pct=50)
    from refills.projections import projections_refresh_all

    projections_refresh_all()
    # worst case 18 / (0.5 x 1.5) = 24 days after 2026-11-20T10:00Z = 2026-12-14; refill-by Monday 12-07
    assert PumpProjection.objects.get(pump=pump).refill_by == date(2026, 12, 7)
    refill_proposals_run(clinic)
    assert proposals(pump) == [date(2026, 12, 7)]
    (withdrawn,) = Appointment.objects.filter(pump=pump, status="cancelled")
    assert reason(withdrawn) == "proposal withdrawn: the refill-by date moved before it"


# --- the API ----------------------------------------------------------------------------


@pytest.fixture
def proposed(clinic, api):
    pump = new_pump(clinic, api, ON_MONDAY)
    refill_proposals_run(clinic)
    return Appointment.objects.get(pump=pump)


def test_nurses_list_and_filter_appointments(api, proposed, clinic):
    body = api.get(f"/api/v1/appointments/?clinic={clinic.code}&status=proposed").json()
    assert [a["id"] for a in body["results"]] == [proposed.pk]
    assert body["results"][0]["day"] == "2026-12-14" and body["results"][0]["proposed_by_job"] is True
    assert api.get("/api/v1/appointments/?status=booked").json()["count"] == 0


@pytest.mark.rule("LRA-5")
def test_moving_a_refill_after_a_refill_by_date_still_ahead_is_refused(api, proposed):
    # refill-by Monday 14 Dec is ahead and a working day: Tuesday 15 is refused, naming Monday 14
    response = api.post(f"/api/v1/appointments/{proposed.pk}/book/", {"day": "2026-12-15"}, format="json")
    body = assert_refused(response, "day", "after_refill_by")
    assert "14 Dec 2026" in body["detail"] and "2026-12" not in body["detail"]
    proposed.refresh_from_db()
    assert proposed.status == "proposed"


@pytest.mark.parametrize(
    "day, why",
    [("2026-11-25", "in the past"), ("2026-12-12", "not a working day")],
)
def test_booking_a_past_or_non_working_day_is_refused(api, proposed, day, why):
    body = assert_refused(
        api.post(f"/api/v1/appointments/{proposed.pk}/book/", {"day": day}, format="json"), "day"
    )
    assert why in body["detail"]


def test_booking_moves_and_assigns_a_nurse(api, proposed, nurse):
    response = api.post(
        f"/api/v1/appointments/{proposed.pk}/book/",
        {"day": "2026-12-11", "time": "14:00", "nurse": nurse.username},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["day"], response.json()["time"], response.json()["nurse"]) == (
        "2026-12-11",
        "14:00:00",
        "nurse",
    )


def test_cancelling_needs_a_reason_and_lets_the_job_propose_again(api, proposed, clinic):
    assert_refused(api.post(f"/api/v1/appointments/{proposed.pk}/cancel/", {}, format="json"), "reason")
    response = api.post(
        f"/api/v1/appointments/{proposed.pk}/cancel/", {"reason": "patient travelling"}, format="json"
    )
    assert response.json()["status"] == "cancelled"
    assert refill_proposals_run(clinic).proposed == 1


def test_a_no_show_is_recorded_once_the_day_has_come(api, clinic):
    # Fill 2026-11-02: alarm 2026-12-03T20:35Z, refill-by Thursday 2026-11-26 (today).
    pump = new_pump(clinic, api, "2026-11-02T10:00:00Z")
    refill_proposals_run(clinic)
    appointment = Appointment.objects.get(pump=pump)
    assert appointment.day == date(2026, 11, 26)
    assert_refused(api.post(f"/api/v1/appointments/{appointment.pk}/no-show/", {}, format="json"), "status")
    api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"time": "08:00"}, format="json")
    response = api.post(
        f"/api/v1/appointments/{appointment.pk}/no-show/", {"notes": "no answer"}, format="json"
    )
    assert response.json()["status"] == "no_show"


def test_booking_directly_and_only_one_open_per_kind(api, clinic):
    pump = new_pump(clinic, api, ON_MONDAY)
    with CaptureQueriesContext(connection) as queries:
        response = api.post(
            "/api/v1/appointments/", {"pump": pump.pk, "kind": "refill", "day": "2026-12-10"}, format="json"
        )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "booked"
    # the service's own check for an open one, once; the database's constraint still holds
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert sum('FROM "scheduling_appointment"' in sql for sql in reads) == 1
    again = api.post(
        "/api/v1/appointments/", {"pump": pump.pk, "kind": "refill", "day": "2026-12-11"}, format="json"
    )
    body = assert_refused(again, "pump", "already_open")
    assert body["errors"]["pump"] == [
        "the pump already has an open refill appointment: book or move that one"
    ]
    assert refill_proposals_run(clinic).proposed == 0  # a booked refill needs no proposal


@pytest.mark.rule("ERI-2")
def test_a_replacement_after_eri_is_flagged_and_after_eos_refused(api, clinic):
    pump = PumpFactory(
        patient=PatientFactory(clinic=clinic), implanted_on=date(2022, 1, 3), eri_on=date(2026, 12, 1)
    )
    # ERI 2026-12-01, EOS = ERI + 90 days = 2027-03-01
    response = api.post(
        "/api/v1/appointments/", {"pump": pump.pk, "kind": "replacement", "day": "2026-12-02"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert [w["code"] for w in response.json()["warnings"]] == ["after_eri"]
    Appointment.objects.all().delete()
    late = api.post(
        "/api/v1/appointments/", {"pump": pump.pk, "kind": "replacement", "day": "2027-03-02"}, format="json"
    )
    assert_refused(late, "surgery_on", "replacement_after_eos")


def test_another_clinic_cannot_see_or_touch_appointments(proposed, outsider):
    other = client_for(outsider)
    assert other.get(f"/api/v1/appointments/{proposed.pk}/").status_code == 404
    assert other.post(f"/api/v1/appointments/{proposed.pk}/book/", {}, format="json").status_code == 404
    assert other.get("/api/v1/appointments/").json()["count"] == 0
    response = other.post(
        "/api/v1/appointments/",
        {"pump": proposed.pump_id, "kind": "refill", "day": "2026-12-10"},
        format="json",
    )
    assert_refused(response, "pump")


def test_run_daily_jobs_runs_projections_then_proposals(clinic, api):
    new_pump(clinic, api, ON_MONDAY)
    out = io.StringIO()
    call_command("run_daily_jobs", stdout=out)
    assert "projections: 1 checked, 0 recomputed" in out.getvalue()
    assert "refills: 1 appointments proposed" in out.getvalue()
    assert "replacements: 0 planning tasks opened, 0 escalated" in out.getvalue()
    assert "alerts: 0 raised, 0 resolved" in out.getvalue()
    assert (
        "notifications: reminders planned for 0 booked appointments, 0 open alerts escalated"
        in out.getvalue()
    )


# --- replacement planning (ERI-2) ---------------------------------------------------------


def implanted(clinic, on):
    from refills.projections import projections_refresh

    pump = PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=on)
    projections_refresh([pump.pk])
    return pump


@pytest.mark.rule("ERI-1", "ERI-2")
def test_replacement_planning_opens_then_escalates(clinic, api):
    from scheduling.replacements import replacement_planning_run

    # ERI = implant + 60 months (estimated); planning opens ERI - 6 months; book-by = ERI - 90 days.
    # 2021-12-26 -> ERI 2026-12-26, opened 2026-06-26, book-by 2026-09-27: passed -> escalated
    overdue = implanted(clinic, date(2021, 12, 26))
    # 2022-03-01 -> ERI 2027-03-01, opened 2026-09-01, book-by 2026-12-01: still ahead -> task
    planning = implanted(clinic, date(2022, 3, 1))
    # 2022-06-01 -> ERI 2027-06-01, opens 2026-12-01: not yet
    later = implanted(clinic, date(2022, 6, 1))
    # a booked replacement closes the task
    booked = implanted(clinic, date(2022, 2, 1))
    Appointment.objects.create(pump=booked, kind="replacement", status="booked", day=date(2026, 12, 15))
    result = replacement_planning_run(clinic)
    assert (result.opened, result.escalated) == (1, 1)
    assert Alert.objects.get(pump=overdue).kind == "replacement_overdue"
    # Overdue, not critical: emailed to on-call daily until acknowledged (critical, every 4 h,
    # is for a pump past its projected empty time).
    assert Alert.objects.get(pump=overdue).severity == "warning"
    task = Alert.objects.get(pump=planning)
    assert (
        task.kind == "replacement_planning" and "1 Dec 2026" in task.message and "1 Mar 2027" in task.message
    )
    assert not Alert.objects.filter(pump__in=[later, booked]).exists()
    assert replacement_planning_run(clinic).opened == 0  # raised once, until resolved
    Appointment.objects.create(pump=planning, kind="replacement", status="booked", day=date(2026, 11, 30))
    replacement_planning_run(clinic)
    assert Alert.objects.get(pump=planning).resolved_at is not None  # the booking resolves it
    assert Alert.objects.get(pump=overdue).resolved_at is None
    assert replacement_planning_run(clinic).opened == 0  # and it is not raised again


@pytest.mark.rule("ERI-2", "ALERT-1")
def test_a_replacement_surgery_whose_day_passed_without_it_no_longer_counts_as_booked(clinic, api):
    """The patient did not come to the surgery and nobody recorded it: the booking stays
    open on a past day. It no longer stands for a booked replacement: the planning task
    (or, book-by passed, the overdue alert) comes back and the worklist says to book."""
    from scheduling.replacements import replacement_planning_run

    # ERI 2026-12-26 (estimated), book-by 2026-09-27: passed
    overdue = implanted(clinic, date(2021, 12, 26))
    # ERI 2027-03-01, book-by 2026-12-01: ahead
    planning = implanted(clinic, date(2022, 3, 1))
    for pump, day in ((overdue, date(2026, 11, 25)), (planning, date(2026, 11, 26))):
        Appointment.objects.create(pump=pump, kind="replacement", status="booked", day=day)
    result = replacement_planning_run(clinic)
    # yesterday's surgery did not happen: escalated again; today's is still to come
    assert (result.opened, result.escalated) == (0, 1)
    assert Alert.objects.get(pump=overdue, resolved_at__isnull=True).kind == "replacement_overdue"
    assert not Alert.objects.filter(pump=planning).exists()
    row = api.get("/api/v1/worklist/?clinic=HOME").json()["results"][0]
    assert (row["pump"]["id"], row["urgency"]["code"]) == (overdue.pk, "replacement_overdue")
    # moved to a working day ahead: booked again, the alert ends
    moved = api.post(
        f"/api/v1/appointments/{Appointment.objects.get(pump=overdue).pk}/book/",
        {"day": "2026-12-10"},
        format="json",
    )
    assert moved.status_code == 200, moved.json()
    replacement_planning_run(clinic)
    assert not Alert.objects.filter(pump=overdue, resolved_at__isnull=True).exists()


@pytest.mark.rule("ALERT-1")
def test_the_worklist_shows_an_overdue_replacement(clinic, api):
    pump = implanted(clinic, date(2021, 12, 26))
    row = api.get("/api/v1/worklist/?clinic=HOME").json()["results"][0]
    assert row["pump"]["id"] == pump.pk
    assert row["replacement_book_by"] == "2026-09-27"
    assert row["urgency"]["code"] == "replacement_overdue"


@pytest.mark.rule("LRA-5")
def test_a_clinic_left_without_working_days_alerts_once_for_each_pump(clinic, api):
    """A clinic is never saved without a working day (validation), but one that has none all
    the same (a row changed outside the services) cannot propose: each pump gets one alert
    that no refill appointment could be proposed, raised once however often the job runs,
    and whatever other alert the pump already has."""
    first = new_pump(clinic, api, ON_MONDAY)
    second = new_pump(clinic, api, ON_SUNDAY)
    Alert.objects.create(clinic=clinic, pump=first, kind="discontinuation", severity="critical", message="x")
    type(clinic).objects.filter(pk=clinic.pk).update(working_days=[])
    clinic.refresh_from_db()
    result = refill_proposals_run(clinic)
    assert (result.proposed, result.no_slot) == (0, 2)
    for pump in (first, second):
        (alert,) = Alert.objects.filter(pump=pump, kind="no_refill_slot")
        assert alert.message == (
            f"No refill appointment could be proposed for pump {pump} ({pump.patient}): "
            "no working day is configured for the clinic."
        )
        assert (alert.clinic, alert.severity) == (clinic, "warning")
    assert refill_proposals_run(clinic).no_slot == 0
    assert Alert.objects.filter(kind="no_refill_slot").count() == 2
    # acknowledged or resolved, the alert no longer stands for the problem: a new one is raised
    Alert.objects.filter(pump=first, kind="no_refill_slot").update(acknowledged_at=NOW)
    Alert.objects.filter(pump=second, kind="no_refill_slot").update(resolved_at=NOW)
    assert refill_proposals_run(clinic).no_slot == 2
    assert Alert.objects.filter(kind="no_refill_slot").count() == 4


# --- what one run decides, exactly ----------------------------------------------------------


def reason(row):
    """The reason the last change of an appointment or an alert carries in its history."""
    return type(row).objects.get(pk=row.pk).history.first().history_change_reason


def alert(clinic, pump, kind, **fields):
    return Alert.objects.create(
        clinic=clinic, pump=pump, kind=kind, severity="warning", message="x", **fields
    )


@pytest.mark.rule("LRA-5")
def test_one_clinics_run_leaves_another_clinics_pumps_appointments_and_alerts_alone(
    clinic, other_clinic, api, outsider
):
    away = client_for(outsider)
    clinic.refill_slots_per_day = 1
    clinic.save()
    ClinicClosure.objects.create(clinic=clinic, date=date(2026, 12, 10), reason="home only")
    home = new_pump(clinic, api, ON_MONDAY)  # refill-by Monday 14 Dec
    unproposed = new_pump(other_clinic, away, ON_MONDAY)
    passed_booking = new_pump(other_clinic, away, ON_MONDAY)
    passed_proposal = new_pump(other_clinic, away, ON_MONDAY)
    same_day = new_pump(other_clinic, away, ON_MONDAY)
    on_home_closure = new_pump(other_clinic, away, ON_MONDAY)
    booked_late = new_pump(other_clinic, away, ON_MONDAY)
    rows = [
        Appointment.objects.create(
            pump=passed_booking, kind="refill", status="booked", day=date(2026, 11, 25)
        ),
        Appointment.objects.create(pump=passed_proposal, kind="refill", day=date(2026, 11, 24)),
        # the home clinic's one slot on Monday 14 is not taken by another clinic's refill
        Appointment.objects.create(pump=same_day, kind="refill", status="booked", day=date(2026, 12, 14)),
        Appointment.objects.create(
            pump=on_home_closure, kind="refill", status="booked", day=date(2026, 12, 10)
        ),
        # Tuesday 15, after refill-by Monday 14 while Monday is still ahead: booked late
        Appointment.objects.create(pump=booked_late, kind="refill", status="booked", day=date(2026, 12, 15)),
    ]
    alerts = [
        alert(other_clinic, unproposed, "over_capacity"),
        alert(other_clinic, unproposed, "appointment_day_closed"),
        alert(other_clinic, unproposed, "refill_booked_late"),
        alert(other_clinic, same_day, "no_refill_slot"),
    ]
    before = set(Alert.objects.values_list("pk", flat=True))
    result = refill_proposals_run(clinic)
    assert (result.proposed, result.no_shows, result.withdrawn) == (1, 0, 0)
    assert (result.closed_day_alerts, result.late_booking_alerts, result.over_capacity) == (0, 0, 0)
    assert proposals(home) == [date(2026, 12, 14)]
    assert not Appointment.objects.filter(pump=unproposed).exists()
    for row in rows:
        assert Appointment.objects.get(pk=row.pk).status == row.status
    for row in alerts:
        assert Alert.objects.get(pk=row.pk).resolved_at is None
    assert set(Alert.objects.values_list("pk", flat=True)) == before


@pytest.mark.rule("LRA-5")
def test_only_active_pumps_with_a_refill_by_date_are_proposed(clinic, api):
    from patients.models import Pump

    explanted = new_pump(clinic, api, ON_MONDAY)
    never_filled = implanted(clinic, date(2026, 1, 2))
    late_leftover = new_pump(clinic, api, ON_MONDAY)
    Appointment.objects.create(pump=late_leftover, kind="refill", status="booked", day=date(2026, 12, 15))
    # explanted outside the services: the stored projection and a booking after refill-by remain
    Pump.objects.filter(pk__in=[explanted.pk, late_leftover.pk]).update(status="explanted")
    assert PumpProjection.objects.filter(pump=explanted, refill_by__isnull=False).exists()
    result = refill_proposals_run(clinic)
    assert (result.proposed, result.no_slot, result.late_booking_alerts) == (0, 0, 0)
    assert not Appointment.objects.filter(pump__in=[explanted, never_filled], status="proposed").exists()
    assert not Alert.objects.exists()


@pytest.mark.rule("LRA-5")
def test_an_open_appointment_of_another_kind_is_not_an_open_refill(clinic, api):
    clinic.refill_slots_per_day = 1
    clinic.save()
    pump = new_pump(clinic, api, ON_MONDAY)
    Appointment.objects.create(pump=pump, kind="titration", status="booked", day=date(2026, 12, 14))
    # a replacement proposed on a day that has passed: not a refill proposal to withdraw
    replacement = Appointment.objects.create(pump=pump, kind="replacement", day=date(2026, 11, 25))
    Appointment.objects.create(pump=pump, kind="refill", status="cancelled", day=date(2026, 12, 14))
    result = refill_proposals_run(clinic)
    # neither a titration visit nor a cancelled refill on Monday 14 takes its refill slot
    assert (result.proposed, result.over_capacity) == (1, 0)
    assert Appointment.objects.get(pump=pump, kind="refill", status="proposed").day == date(2026, 12, 14)
    assert (result.withdrawn, Appointment.objects.get(pk=replacement.pk).status) == (0, "proposed")
    assert reason(Appointment.objects.get(pump=pump, kind="refill", status="proposed")) == (
        "proposed by the scheduling job (LRA-5)"
    )


@pytest.mark.rule("LRA-5")
def test_with_one_slot_a_day_the_pump_whose_refill_by_comes_first_gets_the_day(clinic, api):
    clinic.refill_slots_per_day = 1
    clinic.save()
    # made first: fill 2026-11-18T10:00Z -> alarm 2026-12-19T20:35Z -> refill-by Saturday 12 -> Friday 11
    later = new_pump(clinic, api, "2026-11-18T10:00:00Z")
    # made second: fill 2026-11-17T10:00Z -> refill-by Friday 11
    sooner = new_pump(clinic, api, "2026-11-17T10:00:00Z")
    assert refill_proposals_run(clinic).proposed == 2
    assert proposals(sooner) == [date(2026, 12, 11)] and proposals(later) == [date(2026, 12, 10)]


@pytest.mark.rule("LRA-5")
def test_two_slots_a_day_take_two_pumps_and_no_more(clinic, api):
    clinic.refill_slots_per_day = 2
    clinic.save()
    pumps = [new_pump(clinic, api, "2026-11-17T10:00:00Z") for _ in range(3)]  # refill-by Friday 11
    assert refill_proposals_run(clinic).proposed == 3
    assert [proposals(p) for p in pumps] == [[date(2026, 12, 11)], [date(2026, 12, 11)], [date(2026, 12, 10)]]


@pytest.mark.rule("LRA-5")
def test_the_runs_counts_overdue_and_over_capacity_pumps_each(clinic, api):
    clinic.refill_slots_per_day = 1
    clinic.save()
    # refill-by 13, 14 and 15 Nov, all passed: each proposed on today, the earliest working day
    overdue = [new_pump(clinic, api, f"2026-10-{day}T10:00:00Z") for day in (20, 21, 22)]
    on_time = new_pump(clinic, api, ON_MONDAY)  # last in refill-by order
    result = refill_proposals_run(clinic)
    assert (result.proposed, result.overdue, result.over_capacity, result.no_slot) == (4, 3, 2, 0)
    assert [proposals(p) for p in overdue] == [[date(2026, 11, 26)]] * 3
    assert proposals(on_time) == [date(2026, 12, 14)]
    assert reason(Appointment.objects.get(pump=overdue[0])) == (
        "proposed by the scheduling job (LRA-5): overdue, on the earliest working day"
    )
    assert reason(Appointment.objects.get(pump=on_time)) == "proposed by the scheduling job (LRA-5)"
    full = Alert.objects.filter(kind="over_capacity").order_by("pk")
    assert [a.pump_id for a in full] == [overdue[1].pk, overdue[2].pk]
    assert "(of 1 a day)" in full[0].message
    # the first over-capacity proposal booked: its alert ends, with why; the second cancelled
    # and proposed again on a full day: its alert stands, not raised twice
    booked, cancelled = (Appointment.objects.get(pump=p) for p in overdue[1:])
    Appointment.objects.filter(pk=booked.pk).update(status="booked")
    Appointment.objects.filter(pk=cancelled.pk).update(status="cancelled")
    # a titration visit proposed for the booked one is not a refill proposal
    Appointment.objects.create(pump=overdue[1], kind="titration", day=date(2026, 12, 9))
    again = refill_proposals_run(clinic)
    assert (again.proposed, again.over_capacity) == (1, 0)
    first, second = (Alert.objects.get(pk=a.pk) for a in full)
    assert first.resolved_at is not None and second.resolved_at is None
    assert reason(first) == "resolved: the proposal was booked, withdrawn or the pump refilled"


@pytest.mark.rule("LRA-5")
def test_a_no_refill_slot_alert_ends_with_the_pumps_refill_appointment(clinic, api):
    pump = new_pump(clinic, api, ON_MONDAY)
    other = new_pump(clinic, api, ON_MONDAY)
    titration = new_pump(clinic, api, ON_MONDAY)
    slotless = [alert(clinic, p, "no_refill_slot") for p in (pump, other, titration)]
    # a pump not filled yet has no refill to propose: neither its titration visit nor its
    # cancelled refill ends its alert
    unfilled = implanted(clinic, date(2026, 1, 2))
    Appointment.objects.create(pump=unfilled, kind="titration", status="booked", day=date(2026, 12, 9))
    Appointment.objects.create(pump=unfilled, kind="refill", status="cancelled", day=date(2026, 12, 9))
    standing = alert(clinic, unfilled, "no_refill_slot")
    Appointment.objects.create(pump=other, kind="refill", status="booked", day=date(2026, 12, 11))
    # a titration visit is not a refill: that pump still gets its refill proposed
    Appointment.objects.create(pump=titration, kind="titration", status="booked", day=date(2026, 12, 9))
    refill_proposals_run(clinic)
    for row in slotless:
        row.refresh_from_db()
        assert row.resolved_at is not None
        assert reason(row) == "resolved: the pump has a refill proposal or booking"
    assert Alert.objects.get(pk=standing.pk).resolved_at is None


@pytest.mark.rule("LRA-5")
def test_a_clinic_without_working_days_alerts_no_pump_with_an_open_refill(clinic, api):
    free = new_pump(clinic, api, ON_MONDAY)
    booked = new_pump(clinic, api, ON_MONDAY)
    Appointment.objects.create(pump=booked, kind="refill", status="booked", day=date(2026, 12, 11))
    type(clinic).objects.filter(pk=clinic.pk).update(working_days=[])
    clinic.refresh_from_db()
    result = refill_proposals_run(clinic)
    assert (result.proposed, result.no_slot) == (0, 1)
    assert list(Alert.objects.filter(kind="no_refill_slot").values_list("pump", flat=True)) == [free.pk]


@pytest.mark.rule("LRA-5")
def test_why_each_stale_proposal_is_withdrawn_is_kept(clinic, api):
    passed = new_pump(clinic, api, ON_MONDAY)
    closed = new_pump(clinic, api, ON_MONDAY)
    overdue = new_pump(clinic, api, "2026-10-20T10:00:00Z")  # refill-by 13 Nov, passed
    unprojected = PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2))
    assert not PumpProjection.objects.filter(pump=unprojected).exists()
    rows = {
        "the day passed": Appointment.objects.create(pump=passed, kind="refill", day=date(2026, 11, 25)),
        "the clinic does not work that day any more": Appointment.objects.create(
            pump=closed, kind="refill", day=date(2026, 12, 9)
        ),
        "the refill is overdue and an earlier working day is open": Appointment.objects.create(
            pump=overdue, kind="refill", day=date(2026, 12, 1)
        ),
    }
    kept = Appointment.objects.create(pump=unprojected, kind="refill", day=date(2026, 12, 10))
    ClinicClosure.objects.create(clinic=clinic, date=date(2026, 12, 9), reason="training")
    result = refill_proposals_run(clinic)
    assert result.withdrawn == 3
    for why, row in rows.items():
        assert Appointment.objects.get(pk=row.pk).status == "cancelled"
        assert reason(row) == f"proposal withdrawn: {why}"
    # a pump without a projection: its proposal is kept, and no other is made
    assert Appointment.objects.get(pk=kept.pk).status == "proposed"
    assert proposals(overdue) == [date(2026, 11, 26)]


@pytest.mark.parametrize(
    "kind, status, refill_by, day, today, late",
    [
        ("refill", "booked", date(2026, 12, 14), date(2026, 12, 15), date(2026, 11, 26), True),
        ("refill", "booked", date(2026, 12, 14), date(2026, 12, 14), date(2026, 11, 26), False),
        ("refill", "booked", date(2026, 12, 14), date(2026, 12, 15), date(2026, 12, 16), False),
        ("refill", "booked", None, date(2026, 12, 15), date(2026, 11, 26), False),
        ("refill", "booked", date(2026, 11, 13), date(2026, 11, 27), date(2026, 11, 26), False),
        ("refill", "proposed", date(2026, 12, 14), date(2026, 12, 15), date(2026, 11, 26), False),
        ("titration", "booked", date(2026, 12, 14), date(2026, 12, 15), date(2026, 11, 26), False),
        ("titration", "proposed", date(2026, 12, 14), date(2026, 12, 15), date(2026, 11, 26), False),
    ],
)
@pytest.mark.rule("LRA-5")
def test_booked_late_is_a_booked_refill_after_refill_by_while_a_working_day_is_left(
    kind, status, refill_by, day, today, late
):
    from scheduling.proposals import booked_late

    appointment = Appointment(kind=kind, status=status, day=day)
    weekdays = {1, 2, 3, 4, 5}
    assert booked_late(appointment, refill_by, today=today, weekdays=weekdays, closures=set()) is late


@pytest.mark.rule("LRA-5")
def test_a_booking_on_a_closed_day_is_alerted_once_for_each_pump_and_the_alert_ends_with_it(clinic, api):
    already, refill, titration, again, cancelled, past, moved = (
        new_pump(clinic, api, ON_MONDAY) for _ in range(7)
    )
    wednesday = date(2026, 12, 9)
    Appointment.objects.create(pump=already, kind="refill", status="booked", day=wednesday)
    Appointment.objects.create(pump=refill, kind="refill", status="booked", day=wednesday)
    Appointment.objects.create(pump=titration, kind="titration", status="booked", day=wednesday)
    Appointment.objects.create(pump=again, kind="refill", status="booked", day=wednesday)
    Appointment.objects.create(pump=cancelled, kind="refill", status="cancelled", day=wednesday)
    # a titration visit booked last Saturday: the day has passed, nothing to move (and not a
    # refill: no no-show)
    last_saturday = Appointment.objects.create(
        pump=past, kind="titration", status="booked", day=date(2026, 11, 21)
    )
    standing = alert(clinic, already, "appointment_day_closed")
    alert(clinic, again, "appointment_day_closed", resolved_at=NOW)  # an earlier one, ended
    ended = alert(clinic, moved, "appointment_day_closed")  # its booking was moved off the day
    ClinicClosure.objects.create(clinic=clinic, date=wednesday, reason="training")
    result = refill_proposals_run(clinic)
    assert (result.closed_day_alerts, result.no_shows) == (3, 0)
    assert Appointment.objects.get(pk=last_saturday.pk).status == "booked"
    raised = Alert.objects.filter(kind="appointment_day_closed", resolved_at__isnull=True).exclude(
        pk=standing.pk
    )
    assert sorted(a.pump_id for a in raised) == sorted([refill.pk, titration.pk, again.pk])
    assert raised.get(pump=titration).message == (
        f"{titration.patient}: the titration visit booked on 9 Dec 2026 falls on a day the clinic is "
        "closed: move it and tell the patient."
    )
    ended.refresh_from_db()
    assert ended.resolved_at is not None
    assert reason(ended) == "resolved: the appointment was moved or cancelled"
    assert Alert.objects.get(pk=standing.pk).resolved_at is None
    assert refill_proposals_run(clinic).closed_day_alerts == 0


@pytest.mark.rule("LRA-5")
def test_a_refill_booked_after_refill_by_is_alerted_once_for_each_pump_and_the_alert_ends_with_it(
    clinic, api
):
    already, late, again, moved = (new_pump(clinic, api, ON_MONDAY) for _ in range(4))  # refill-by Monday 14
    tuesday = date(2026, 12, 15)
    for pump in (already, late, again):
        Appointment.objects.create(pump=pump, kind="refill", status="booked", day=tuesday)
    Appointment.objects.create(pump=moved, kind="refill", status="booked", day=date(2026, 12, 11))
    standing = alert(clinic, already, "refill_booked_late")
    alert(clinic, again, "refill_booked_late", resolved_at=NOW)  # an earlier one, ended
    ended = alert(clinic, moved, "refill_booked_late")
    result = refill_proposals_run(clinic)
    assert result.late_booking_alerts == 2
    raised = Alert.objects.filter(kind="refill_booked_late", resolved_at__isnull=True).exclude(pk=standing.pk)
    assert sorted(a.pump_id for a in raised) == sorted([late.pk, again.pk])
    ended.refresh_from_db()
    assert ended.resolved_at is not None
    assert reason(ended) == "resolved: the refill was moved on or before the refill-by date, or is overdue"
    assert refill_proposals_run(clinic).late_booking_alerts == 0


@pytest.mark.rule("LRA-5")
def test_a_proposal_that_lost_the_race_is_dropped_and_any_other_refusal_raised(clinic, api):
    from django.core.exceptions import ValidationError

    from scheduling.proposals import _propose

    pump, other = new_pump(clinic, api, ON_MONDAY), new_pump(clinic, api, ON_MONDAY)
    Appointment.objects.create(pump=other, kind="refill", day=date(2026, 12, 11))
    Appointment.objects.create(pump=pump, kind="titration", day=date(2026, 12, 9))
    Appointment.objects.create(pump=pump, kind="refill", status="cancelled", day=date(2026, 12, 8))
    # another run proposed one first: dropped
    assert _propose(other, date(2026, 12, 14)) is False
    assert Appointment.objects.filter(pump=other, kind="refill").count() == 1
    # refused for another reason (another pump's open refill, this pump's other appointments
    # do not count): raised, not dropped
    with pytest.raises(ValidationError):
        _propose(pump, None)
    assert _propose(pump, date(2026, 12, 14)) is True
    assert reason(Appointment.objects.get(pump=pump, kind="refill", status="proposed")) == (
        "proposed by the scheduling job (LRA-5)"
    )


@pytest.mark.rule("LRA-5")
def test_each_booked_refill_whose_day_passed_is_a_no_show(clinic, api):
    pumps = [new_pump(clinic, api, ON_MONDAY) for _ in range(2)]
    rows = [
        Appointment.objects.create(pump=p, kind="refill", status="booked", day=date(2026, 11, 25))
        for p in pumps
    ]
    result = refill_proposals_run(clinic)
    assert (result.no_shows, result.proposed) == (2, 2)
    for row in rows:
        assert Appointment.objects.get(pk=row.pk).status == "no_show"
        assert reason(row) == "no-show: the day passed without a refill"


@pytest.mark.rule("LRA-5")
def test_today_is_the_clinics_local_date(frozen_now):
    from scheduling.proposals import local_today
    from tests.factories import ClinicFactory

    # 2026-11-26T12:00Z is already 02:00 on Friday 27 at UTC+14
    assert local_today(ClinicFactory(code="KIRI", timezone="Pacific/Kiritimati")) == date(2026, 11, 27)
    assert local_today(ClinicFactory(code="PAGO", timezone="Pacific/Pago_Pago")) == date(2026, 11, 26)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.rule("LRA-5")
def test_a_failed_re_plan_after_a_calendar_change_does_not_undo_the_change(clinic, monkeypatch, caplog):
    """The closure is committed: the proposals' re-plan runs after the commit, and when it
    fails the error is logged and the nightly run repeats it; the change itself stands."""

    def failing(clinic):
        raise RuntimeError("re-plan failed")

    monkeypatch.setattr("scheduling.proposals.refill_proposals_run", failing)
    closure = ClinicClosure.objects.create(clinic=clinic, date=date(2026, 12, 9), reason="training")
    assert ClinicClosure.objects.filter(pk=closure.pk).exists()
    assert "re-plan failed" in caplog.text


@pytest.mark.rule("LRA-5")
def test_the_run_recomputes_its_own_clinics_stale_projections_first_and_no_others(
    clinic, other_clinic, api, outsider
):
    from patients.models import Pump
    from refills.models import StaleProjection

    pump = new_pump(clinic, api, ON_MONDAY)  # refill-by Monday 14 Dec
    explanted = new_pump(clinic, api, ON_MONDAY)
    away = new_pump(other_clinic, client_for(outsider), ON_MONDAY)
    Pump.objects.filter(pk=explanted.pk).update(status="explanted")
    # an edit marked the projections stale; the stored dates are not to be used
    PumpProjection.objects.update(refill_by=date(2026, 12, 21))
    for each in (pump, explanted, away):
        StaleProjection.objects.create(projection_id=each.pk, since=NOW)
    assert refill_proposals_run(clinic).proposed == 1
    assert proposals(pump) == [date(2026, 12, 14)]
    assert PumpProjection.objects.get(pump=pump).refill_by == date(2026, 12, 14)
    assert sorted(StaleProjection.objects.values_list("projection_id", flat=True)) == sorted(
        [explanted.pk, away.pk]
    )
