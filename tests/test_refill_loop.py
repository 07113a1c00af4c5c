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

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client

import therapy
from alerts.models import Alert, AlertKind
from patients import services
from patients.models import ClinicClosure, Pump, PumpModel
from pumpcare import clock
from refills.models import PumpProjection
from refills.projections import projections_refresh_all
from refills.services import refill_record
from scheduling import appointments
from scheduling.models import Appointment
from scheduling.proposals import refill_proposals_run, refill_proposals_run_all, working_calendar
from scheduling.state_alerts import state_alerts_run_all
from tests.conftest import client_for
from tests.factories import ClinicFactory, MembershipFactory, PatientFactory, PumpFactory
from tests.helpers import clock_at, fill, prescribe

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
    clinic, api, nurse, admin_user, monkeypatch, django_capture_on_commit_callbacks
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
    # and the worklist says so on each row
    rows = api.get("/api/v1/worklist/?clinic=HOME").json()["results"]
    assert {row["pump"]["id"] for row in rows if row["flags"]["booked_on_closed_day"]} == {kept.pk, moved.pk}
    page = Client()
    page.force_login(nurse)
    assert page.get("/clinics/HOME/worklist/").content.decode().count("clinic closed that day: move it") == 2
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


@pytest.mark.rule("LRA-5")
def test_a_dose_change_that_moves_refill_by_before_a_booked_refill_alerts_at_once(clinic, api):
    """Found by the clinic simulation: after a titration moved refill-by earlier, a booked
    refill was left after it, silently, until refill-by passed and it was overdue.

    Filled 2026-11-20 10:00 (20 mL, 500 mcg/mL, 250 mcg/day: worst case 0.5725 mL/day); at
    now, Thursday 26 Nov 12:00 (6.0833 days later), the worst case leaves 20 - 3.4827 =
    16.517 mL. From then 280 mcg/day: worst case 0.56 x 1.145 = 0.6412 mL/day, alarm at 2 mL
    after 14.517 / 0.6412 = 22.64 days, Saturday 19 Dec: refill-by Saturday 12 Dec, so the
    refill booked on Monday 14 Dec now falls after it (working days are left before it)."""
    pump = new_pump(clinic, api)
    refill_proposals_run(clinic)
    booking = open_refill(pump)
    assert booking.day == REFILL_BY
    assert api.post(f"/api/v1/appointments/{booking.pk}/book/", {}, format="json").status_code == 200
    assert not Alert.objects.filter(pump=pump, kind=AlertKind.REFILL_BOOKED_LATE).exists()
    prescribe(api, pump, "2026-11-26T12:00:00Z", 280)
    assert PumpProjection.objects.get(pump=pump).refill_by == date(2026, 12, 12)
    # in the same request: the nurse is told to move the booking
    alert = Alert.objects.get(pump=pump, kind=AlertKind.REFILL_BOOKED_LATE, resolved_at__isnull=True)
    assert "booked on 14 Dec 2026" in alert.text and "refill-by date, 12 Dec 2026" in alert.text
    assert "move it" in alert.text
    # the nightly run raises no second one
    refill_proposals_run(clinic)
    assert Alert.objects.filter(pump=pump, kind=AlertKind.REFILL_BOOKED_LATE).count() == 1
    # moved to Friday 11 Dec: the alert ends at once
    response = api.post(f"/api/v1/appointments/{booking.pk}/book/", {"day": "2026-12-11"}, format="json")
    assert response.status_code == 200, response.json()
    assert not Alert.objects.filter(
        pump=pump, kind=AlertKind.REFILL_BOOKED_LATE, resolved_at__isnull=True
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


# --- the loop over four months -----------------------------------------------------------------

# Twelve pumps of the four models, their daily doses chosen so the worst-case alarm comes
# 24 to 41 days after a full fill (a 20 mL SynchroMed at 300 mcg/day, 500 mcg/mL: 18 mL at
# 0.6 x 1.145 mL/day = 26.2 days; a 40 mL Prometra at 450: 37 mL at 0.9 x 1.15 = 35.7 days).
LOOP_PUMPS = [
    ("8637-20", 20, 250),
    ("8637-20", 20, 300),
    ("8637-20", 20, 220),
    ("8637-40", 40, 500),
    ("8637-40", 40, 450),
    ("8637-40", 40, 600),
    ("13827", 20, 240),
    ("13827", 20, 280),
    ("13827", 20, 200),
    ("16827", 40, 450),
    ("16827", 40, 520),
    ("16827", 40, 400),
]
CONCENTRATION = Decimal("500")
LOOP_START = date(2026, 12, 1)  # a Tuesday; the loop crosses Paris' DST change (28 Mar 2027)
LOOP_DAYS = 120
NO_SHOW_RATE = 0.05


class Nurse:
    """Books every proposal the morning it appears, moves a booking on a day the clinic
    stopped working to the day the booking form suggests, and refills each booked pump on
    its day, unless the patient does not come (seeded 5 %): the nightly job then finds the
    day passed."""

    def __init__(self, clinic, user, rng):
        self.clinic, self.user, self.rng = clinic, user, rng
        self.doses = {}
        self.moved = self.no_shows = self.refills = 0

    def fill(self, pump, volume_ml, daily_mcg, withdrawn_ml=Decimal("0")):
        self.doses[pump.pk] = (volume_ml, daily_mcg)
        refill_record(
            actor=self.user,
            pump=pump,
            performed_at=clock.now() - timedelta(minutes=1),
            volume_withdrawn_ml=withdrawn_ml,
            volume_added_ml=Decimal(volume_ml),
            concentration_mcg_per_ml=CONCENTRATION,
            prescription={"mode": "simple_continuous", "daily_dose_mcg": str(daily_mcg)},
        )

    def book_proposals(self):
        for proposal in Appointment.objects.filter(
            pump__patient__clinic=self.clinic, kind="refill", status="proposed"
        ).order_by("day", "pk"):
            appointments.appointment_book(actor=self.user, appointment=proposal)

    def move_bookings_off_closed_days(self, today):
        weekdays, closures = working_calendar(self.clinic)
        for booking in Appointment.objects.filter(
            pump__patient__clinic=self.clinic, kind="refill", status="booked", day__gte=today
        ).select_related("pump__projection"):
            if booking.day.isoweekday() in weekdays and booking.day not in closures:
                continue
            # the suggestion of the booking form (web.views.appointments._suggested_day)
            day = therapy.refill_day(
                booking.pump.projection.refill_by,
                today=today,
                working_weekdays=weekdays,
                closures=closures,
                full_days=self.full_days(today),
            ).day
            appointments.appointment_book(actor=self.user, appointment=booking, day=day)
            self.moved += 1

    def full_days(self, today):
        counts = Counter(
            Appointment.objects.filter(
                pump__patient__clinic=self.clinic,
                kind="refill",
                status__in=["proposed", "booked"],
                day__gte=today,
            ).values_list("day", flat=True)
        )
        return {day for day, n in counts.items() if n >= self.clinic.refill_slots_per_day}

    def refill_booked(self, today):
        for booking in Appointment.objects.filter(
            pump__patient__clinic=self.clinic, kind="refill", status="booked", day=today
        ).select_related("pump__model", "pump__projection"):
            if self.rng.random() < NO_SHOW_RATE:
                self.no_shows += 1
                continue
            pump = booking.pump
            volume_ml, daily_mcg = self.doses[pump.pk]
            # the residual measured: what the nominal rate left (REFILL-1 expects the same)
            elapsed_days = Decimal((clock.now() - pump.projection.filled_at).total_seconds()) / 86400
            residual = Decimal(volume_ml) - Decimal(daily_mcg) / CONCENTRATION * elapsed_days
            self.fill(
                pump, volume_ml, daily_mcg, withdrawn_ml=max(residual, Decimal("0")).quantize(Decimal("0.1"))
            )
            self.refills += 1


def local(clinic, day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=clinic.tz)


def assert_every_pump_has_a_bookable_refill(clinic, today, *, closed_bookings_alerted=False):
    """LRA-5: one open refill appointment per active pump, from today, on a working day (right
    after the nightly job, a booking on a day that stopped being worked is allowed while its
    alert tells a nurse to move it)."""
    weekdays, closures = working_calendar(clinic)
    alerted = set(
        Alert.objects.filter(
            clinic=clinic, kind=AlertKind.APPOINTMENT_DAY_CLOSED, resolved_at__isnull=True
        ).values_list("pump_id", flat=True)
    )
    open_ones = Counter()
    for pump_id, day, status in Appointment.objects.filter(
        pump__patient__clinic=clinic, kind="refill", status__in=["proposed", "booked"]
    ).values_list("pump_id", "day", "status"):
        open_ones[pump_id] += 1
        assert day >= today, (today, pump_id, day)
        if day.isoweekday() not in weekdays or day in closures:
            assert closed_bookings_alerted and status == "booked" and pump_id in alerted, (
                today,
                pump_id,
                day,
                status,
            )
    active = Pump.objects.filter(patient__clinic=clinic, status="active").values_list("pk", flat=True)
    assert {pump_id: open_ones[pump_id] for pump_id in active} == dict.fromkeys(active, 1), today


def assert_no_pump_at_its_alarm(clinic, now):
    for projection in PumpProjection.objects.filter(pump__patient__clinic=clinic, pump__status="active"):
        assert projection.low_reservoir_alarm_at_worst_case > now, (now, projection.pump_id)


@pytest.mark.rule("LRA-5")
def test_over_four_months_no_pump_is_left_without_a_bookable_refill_nor_reaches_its_alarm(
    monkeypatch, django_capture_on_commit_callbacks
):
    clinic = ClinicFactory(code="LOOP", timezone="Europe/Paris", refill_slots_per_day=2)
    nurse = Nurse(clinic, MembershipFactory(clinic=clinic, role="nurse").user, random.Random(19))
    admin = MembershipFactory(clinic=clinic, role="admin").user
    pumps = []
    # the first fills bunched over three days, so the refill-by dates crowd and days fill up
    for n, (model, volume_ml, daily_mcg) in enumerate(LOOP_PUMPS):
        clock_at(monkeypatch, local(clinic, LOOP_START - timedelta(days=3 - n % 3), 11))
        pump = PumpFactory(
            patient=PatientFactory(clinic=clinic),
            model=PumpModel.objects.get(code=model),
            implanted_on=date(2026, 1, 2),
        )
        nurse.fill(pump, volume_ml, daily_mcg)
        pumps.append(pump)
    closed_week = changed_days = None
    totals = Counter()
    for offset in range(LOOP_DAYS):
        today = LOOP_START + timedelta(days=offset)
        # 02:00 the nightly jobs
        clock_at(monkeypatch, local(clinic, today, 2))
        projections_refresh_all()
        result = refill_proposals_run_all()
        state_alerts_run_all()
        totals.update(proposed=result.proposed, no_shows=result.no_shows, over_capacity=result.over_capacity)
        assert result.no_slot == 0, today
        clinic.refresh_from_db()
        totals["earlier"] += _proposed_before_a_full_window(clinic, today)
        assert_every_pump_has_a_bookable_refill(clinic, today, closed_bookings_alerted=True)
        # 08:00 the nurse books what was proposed and moves what the alerts say to move
        clock_at(monkeypatch, local(clinic, today, 8))
        nurse.move_bookings_off_closed_days(today)
        nurse.book_proposals()
        # after the bookings: a closure week (day 40), then no more Fridays (day 75)
        if offset == 40:
            closed_week = _busiest_week_ahead(clinic, today)
            with django_capture_on_commit_callbacks(execute=True):
                for day in closed_week:
                    services.closure_add(actor=admin, clinic=clinic, day=day, reason="staff training")
            totals["alerted"] = Alert.objects.filter(
                clinic=clinic, kind=AlertKind.APPOINTMENT_DAY_CLOSED, resolved_at__isnull=True
            ).count()
        if offset == 75:
            with django_capture_on_commit_callbacks(execute=True):
                services.clinic_update(
                    actor=admin, clinic=clinic, changes={"working_days": [1, 2, 3, 4]}, reason="no Fridays"
                )
            changed_days = Appointment.objects.filter(
                pump__patient__clinic=clinic, status="booked", day__gte=today, day__week_day=6
            ).count()
            clinic.refresh_from_db()
        nurse.move_bookings_off_closed_days(today)
        nurse.book_proposals()
        assert_every_pump_has_a_bookable_refill(clinic, today)
        # 10:00 the refills booked for today
        clock_at(monkeypatch, local(clinic, today, 10))
        assert_no_pump_at_its_alarm(clinic, clock.now())
        nurse.refill_booked(today)
    # the loop went through what it is meant to: every pump refilled several times, full
    # days, no-shows, bookings moved off the closed week and off Fridays
    assert nurse.refills >= 3 * len(pumps), nurse.refills
    assert totals["earlier"] >= 1, totals
    assert nurse.no_shows >= 1 and totals["no_shows"] == nurse.no_shows
    assert totals["alerted"] >= 1 and changed_days is not None and nurse.moved >= totals["alerted"]
    assert not Appointment.objects.filter(
        pump__patient__clinic=clinic, status__in=["proposed", "booked"], day__in=closed_week
    ).exists()


def _proposed_before_a_full_window(clinic, today) -> int:
    """How many of the night's proposals (the nurse books every one each morning) fall before
    the latest working day on or before their refill-by date: the days between were full."""
    weekdays, closures = working_calendar(clinic)
    count = 0
    for proposal in Appointment.objects.filter(
        pump__patient__clinic=clinic, status="proposed"
    ).select_related("pump__projection"):
        refill_by = proposal.pump.projection.refill_by
        if refill_by >= today:
            latest = therapy.refill_day(refill_by, today=today, working_weekdays=weekdays, closures=closures)
            count += proposal.day < latest.day
    return count


def _busiest_week_ahead(clinic, today) -> list[date]:
    """The Monday-to-Friday week starting 3 to 30 days ahead with the most booked refills."""
    booked = Counter(
        Appointment.objects.filter(pump__patient__clinic=clinic, status="booked", day__gt=today).values_list(
            "day", flat=True
        )
    )
    mondays = [
        today + timedelta(days=d) for d in range(3, 31) if (today + timedelta(days=d)).isoweekday() == 1
    ]
    best = max(mondays, key=lambda monday: sum(booked[monday + timedelta(days=d)] for d in range(5)))
    return [best + timedelta(days=d) for d in range(5)]
