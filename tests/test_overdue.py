"""An overdue refill is always proposed and bookable (LRA-5),
overdue is its own urgency worded as such (ALERT-1), and an alert shows the pump's current
dates (ALERT-1).

"Now" is Thursday 2026-11-26 12:00Z; the clinic (UTC) works Monday to Friday. A fill of 20 mL
at 500 mcg/mL and 250 mcg/day (0.5 mL/day) on a 8637-20 (tolerance 14.5 %) reaches its
worst-case alarm (2 mL left) 18 / (0.5 x 1.145) = 31.441 days = 31 d 10 h 35 min after the
fill; refill-by is 7 days before the alarm's date.

- OVERDUE: fill 2026-11-01 10:00 -> alarm 2026-12-02 20:35 -> refill-by Wednesday 2026-11-25,
  passed yesterday: overdue by 1 day, the alarm still ahead (like the demo's Moreno).
- DUE: fill 2026-11-05 10:00 -> alarm 2026-12-06 20:35 -> refill-by Sunday 2026-11-29.
- LATER: fill 2026-11-20 10:00 -> alarm 2026-12-21 20:35 -> refill-by Monday 2026-12-14.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from alerts.models import Alert, AlertKind, Notification
from cards.models import CardSettings
from cards.selectors import card_data, digest
from patients.models import ClinicClosure, PumpModel
from refills.models import PumpProjection
from refills.projections import projections_refresh_all
from scheduling.models import Appointment
from scheduling.proposals import refill_proposals_run
from scheduling.state_alerts import state_alerts_run
from tests.conftest import NOW
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import clock_at, deliver, fill

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]

OVERDUE = "2026-11-01T10:00:00Z"
DUE = "2026-11-05T10:00:00Z"
LATER = "2026-11-20T10:00:00Z"


def new_pump(clinic, api, at, family_name="Moreno"):
    pump = PumpFactory(
        patient=PatientFactory(clinic=clinic, family_name=family_name), implanted_on=date(2026, 1, 2)
    )
    fill(api, pump, at)
    return pump


def proposals(pump):
    return list(Appointment.objects.filter(pump=pump, status="proposed").values_list("day", flat=True))


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- LRA-5: proposed and bookable -------------------------------------------------------------


@pytest.mark.rule("LRA-5")
def test_an_overdue_refill_is_proposed_today(clinic, api):
    pump = new_pump(clinic, api, OVERDUE)
    assert PumpProjection.objects.get(pump=pump).refill_by == date(2026, 11, 25)
    result = refill_proposals_run(clinic)
    # refill-by Wednesday 25 passed; Thursday 26 (today) works: proposed today, overdue
    assert (result.proposed, result.overdue, result.no_slot) == (1, 1, 0)
    assert proposals(pump) == [date(2026, 11, 26)]
    body = api.get(f"/api/v1/appointments/?pump={pump.pk}").json()["results"][0]
    assert (body["day"], body["overdue"]) == ("2026-11-26", True)


@pytest.mark.rule("LRA-5")
def test_seen_on_a_saturday_an_overdue_refill_is_proposed_on_the_next_working_day(clinic, api, monkeypatch):
    pump = new_pump(clinic, api, OVERDUE)
    clock_at(monkeypatch, datetime(2026, 11, 28, 9, 0, tzinfo=UTC))  # Saturday
    ClinicClosure.objects.create(clinic=clinic, date=date(2026, 11, 30), reason="training")
    refill_proposals_run(clinic)
    # Saturday 28, Sunday 29 not worked, Monday 30 closed -> Tuesday 1 Dec
    assert proposals(pump) == [date(2026, 12, 1)]


@pytest.mark.rule("LRA-5")
def test_the_most_overdue_pump_can_be_booked_through_the_api_on_any_working_day_from_today(clinic, api):
    pump = new_pump(clinic, api, OVERDUE)
    refill_proposals_run(clinic)
    proposal = Appointment.objects.get(pump=pump)
    # Friday 27 Nov, two days after refill-by: booked, with a warning that it is overdue and
    # that Thursday 26 (today) was the earliest working day
    response = api.post(f"/api/v1/appointments/{proposal.pk}/book/", {"day": "2026-11-27"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["day"], body["overdue"]) == ("booked", "2026-11-27", True)
    assert [w["code"] for w in body["warnings"]] == ["overdue"]
    assert body["warnings"][0]["message"] == (
        "The refill is overdue: its refill-by date was 25 Nov 2026. "
        "26 Nov 2026 is the earliest working day: refill sooner if you can."
    )
    # a second overdue pump booked directly for today, the day after the deadline
    other = new_pump(clinic, api, OVERDUE, family_name="Other")
    response = api.post(
        "/api/v1/appointments/", {"pump": other.pk, "kind": "refill", "day": "2026-11-26"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["warnings"] == [
        {"code": "overdue", "message": "The refill is overdue: its refill-by date was 25 Nov 2026."}
    ]


@pytest.mark.rule("LRA-5")
def test_the_web_booking_form_offers_and_books_the_overdue_day(clinic, api, nurse):
    pump = new_pump(clinic, api, OVERDUE)
    c = browser(nurse)
    form = c.get(f"/pumps/{pump.pk}/appointments/new/?kind=refill").content.decode()
    assert 'value="2026-11-26"' in form  # today suggested, not a refusal
    # worded as overdue, not as "the latest working day on or before" a date a week ago
    assert "The refill-by date was <strong>Wednesday 25 November 2026</strong>: book the earliest" in form
    assert "on or before it" not in form
    response = c.post(
        f"/pumps/{pump.pk}/appointments/new/",
        {"kind": "refill", "day": "2026-11-27", "time": "09:00", "nurse": "nurse"},
        follow=True,
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Refill booked for Fri 27 Nov 2026 at 09:00 with nurse." in page
    assert "The refill is overdue: its refill-by date was 25 Nov 2026." in page
    assert Appointment.objects.get(pump=pump).status == "booked"


def no_slot_until_refill_by(clinic) -> None:
    """One refill slot a day, Friday 27 Nov .. Sunday 13 Dec closed: the working days from
    today to refill-by (Monday 14 Dec) are Thursday 26 and Monday 14, each taken by another
    pump's booked refill."""
    clinic.refill_slots_per_day = 1
    clinic.save()
    for day in range(27, 31):
        ClinicClosure.objects.create(clinic=clinic, date=date(2026, 11, day))
    for day in range(1, 14):
        ClinicClosure.objects.create(clinic=clinic, date=date(2026, 12, day))
    for day in (date(2026, 11, 26), date(2026, 12, 14)):
        other = PumpFactory(patient=PatientFactory(clinic=clinic))
        Appointment.objects.create(pump=other, kind="refill", day=day, status="booked")


@pytest.mark.rule("LRA-5")
def test_no_free_slot_from_today_proposes_the_earliest_day_and_alerts_over_capacity(clinic, api):
    no_slot_until_refill_by(clinic)
    pump = new_pump(clinic, api, LATER)
    result = refill_proposals_run(clinic)
    # nothing free: the earliest working day from today, Thursday 26, whatever the capacity
    assert (result.proposed, result.over_capacity, result.overdue) == (1, 1, 0)
    assert proposals(pump) == [date(2026, 11, 26)]
    alert = Alert.objects.get(pump=pump, kind=AlertKind.OVER_CAPACITY)
    assert "over capacity" in alert.text and "26 Nov 2026" in alert.text
    # a nurse must act: the staff address is told once
    assert list(
        Notification.objects.filter(subject=f"alert:{alert.pk}").values_list("recipient_role", "kind")
    ) == [("staff", "over_capacity")]
    assert refill_proposals_run(clinic).over_capacity == 0  # raised once
    appointment = Appointment.objects.get(pump=pump)
    api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"time": "16:00"}, format="json")
    refill_proposals_run(clinic)
    alert.refresh_from_db()
    assert alert.resolved_at is not None  # booked: a nurse dealt with it


@pytest.mark.rule("LRA-5")
def test_a_new_closure_withdraws_its_proposals_at_once_and_alerts_its_bookings(
    clinic, api, django_capture_on_commit_callbacks
):
    proposed = new_pump(clinic, api, LATER)
    booked = new_pump(clinic, api, LATER, family_name="Booked")
    refill_proposals_run(clinic)
    appointment = Appointment.objects.get(pump=booked)
    api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"time": "10:00"}, format="json")
    assert proposals(proposed) == [date(2026, 12, 14)]
    with django_capture_on_commit_callbacks(execute=True):
        ClinicClosure.objects.create(clinic=clinic, date=date(2026, 12, 14), reason="strike")
    # Monday 14 closed: the proposal moves at once to the latest working day before, Friday 11
    assert proposals(proposed) == [date(2026, 12, 11)]
    assert Appointment.objects.get(pump=proposed, status="cancelled").day == date(2026, 12, 14)
    # the booking stays (a nurse moves it, with the patient) and is alerted
    alert = Alert.objects.get(pump=booked, kind=AlertKind.APPOINTMENT_DAY_CLOSED)
    assert "14 Dec 2026" in alert.text and "move it" in alert.text
    api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"day": "2026-12-11"}, format="json")
    refill_proposals_run(clinic)
    alert.refresh_from_db()
    assert alert.resolved_at is not None


@pytest.mark.rule("LRA-5")
def test_a_booked_day_that_passed_without_a_refill_is_a_no_show_and_proposed_again(clinic, api, monkeypatch):
    pump = new_pump(clinic, api, DUE)
    response = api.post(
        "/api/v1/appointments/", {"pump": pump.pk, "kind": "refill", "day": "2026-11-27"}, format="json"
    )
    assert response.status_code == 201, response.json()
    # Monday 30 Nov: Friday 27 passed without a refill; refill-by Sunday 29 passed too
    clock_at(monkeypatch, datetime(2026, 11, 30, 6, 0, tzinfo=UTC))
    result = refill_proposals_run(clinic)
    assert (result.no_shows, result.proposed, result.overdue) == (1, 1, 1)
    appointment = Appointment.objects.get(pk=response.json()["id"])
    assert appointment.status == "no_show"
    assert appointment.history.first().history_change_reason == "no-show: the day passed without a refill"
    assert proposals(pump) == [date(2026, 11, 30)]


@pytest.mark.rule("LRA-5")
def test_an_overdue_proposal_whose_day_passed_is_made_again_for_the_new_today(clinic, api, monkeypatch):
    pump = new_pump(clinic, api, OVERDUE)
    refill_proposals_run(clinic)
    assert proposals(pump) == [date(2026, 11, 26)]
    clock_at(monkeypatch, datetime(2026, 11, 27, 6, 0, tzinfo=UTC))  # Friday
    refill_proposals_run(clinic)
    assert proposals(pump) == [date(2026, 11, 27)]


# --- ALERT-1: overdue is its own urgency ------------------------------------------------------


@pytest.mark.rule("ALERT-1")
def test_the_worklist_ranks_overdue_above_due_and_words_it_with_the_days(clinic, api):
    overdue = new_pump(clinic, api, OVERDUE)
    due = new_pump(clinic, api, DUE, family_name="Due")
    booked_overdue = new_pump(clinic, api, OVERDUE, family_name="Booked")
    api.post(
        "/api/v1/appointments/",
        {"pump": booked_overdue.pk, "kind": "refill", "day": "2026-11-27"},
        format="json",
    )
    rows = api.get("/api/v1/worklist/?clinic=HOME").json()["results"]
    urgency = {row["pump"]["id"]: row["urgency"] for row in rows}
    # booked or not, a refill-by passed yesterday is overdue by 1 day, never "soon"
    for pump in (overdue, booked_overdue):
        assert urgency[pump.pk]["code"] == "overdue"
        assert urgency[pump.pk]["label"] == "Overdue by 1 day: the refill-by date 25 Nov 2026 has passed"
        assert "soon" not in urgency[pump.pk]["label"]
    assert urgency[due.pk]["code"] == "due_unbooked"
    assert urgency[overdue.pk]["rank"] < urgency[due.pk]["rank"]
    assert [row["pump"]["id"] for row in rows][-1] == due.pk


@pytest.mark.rule("ALERT-1")
def test_the_worklist_strip_and_pump_page_say_overdue(clinic, api, nurse):
    pump = new_pump(clinic, api, OVERDUE)
    new_pump(clinic, api, DUE, family_name="Whitfield")
    c = browser(nurse)
    page = c.get("/clinics/HOME/worklist/").content.decode()
    strip = re.sub(r"\s+", " ", page)
    assert '<span class="n">1</span> overdue' in strip and '<span class="n">1</span> due this week' in strip
    assert "Overdue by 1 day" in page and "refill-by date soon" not in page
    assert len(re.findall(r'class="badge critical"[^>]*>Overdue<', page)) == 1
    filtered = c.get("/clinics/HOME/worklist/?urgency=overdue").content.decode()
    assert "Moreno" in filtered and "Whitfield" not in filtered
    pump_page = c.get(f"/pumps/{pump.pk}/").content.decode()
    assert "Overdue by 1 day" in pump_page
    refill_proposals_run(clinic)  # proposed today, after refill-by: marked overdue on the pump page
    pump_page = c.get(f"/pumps/{pump.pk}/").content.decode()
    assert '(by the scheduler) <span class="tag warn">overdue</span>' in pump_page


@pytest.mark.rule("ALERT-1")
def test_an_overdue_pump_has_an_overdue_alert_escalated_to_on_call(
    clinic, api, django_capture_on_commit_callbacks
):
    clinic.on_call_email = "oncall@home.example"
    clinic.save()
    pump = new_pump(clinic, api, OVERDUE)
    state_alerts_run(clinic)
    alert = Alert.objects.get(pump=pump, resolved_at__isnull=True)
    assert alert.kind == AlertKind.REFILL_OVERDUE
    assert alert.text.endswith(
        "the refill is overdue by 1 day. The refill-by date was 25 Nov 2026 "
        "(worst-case alarm 2 Dec 2026 less 7 days). No refill is booked: book it on the earliest working day."
    )
    assert "soon" not in alert.text and "2026-11-25" not in alert.text
    deliver(django_capture_on_commit_callbacks)
    sent = next(m for m in mail.outbox if m.to == ["oncall@home.example"])
    assert "overdue by 1 day" in sent.body and "25 Nov 2026" in sent.body
    assert "Raised: Thu 26 Nov 2026 12:00 UTC" in sent.body  # in the clinic's zone, in words


@pytest.mark.rule("ALERT-1")
def test_the_days_overdue_are_counted_when_the_alert_is_read(clinic, api, monkeypatch):
    pump = new_pump(clinic, api, OVERDUE)
    state_alerts_run(clinic)
    alert = Alert.objects.get(pump=pump, kind=AlertKind.REFILL_OVERDUE)
    # Friday 27 Nov 08:00: refill-by 25 Nov passed 2 days ago; the alarm (2 Dec) still ahead
    clock_at(monkeypatch, datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
    body = api.get(f"/api/v1/alerts/{alert.pk}/").json()
    assert "overdue by 2 days" in body["message"] and "overdue by 1 day" in body["message_when_raised"]
    assert Notification.objects.get(alert=alert).kind == "refill_overdue"


@pytest.mark.rule("ALERT-1", "CARD-1")
def test_the_card_printed_while_overdue_says_so(clinic, api):
    CardSettings.objects.create(clinic=clinic, default_physician="Dr. Ana Rivera")
    overdue = new_pump(clinic, api, OVERDUE)
    later = new_pump(clinic, api, LATER, family_name="Later")
    assert (
        card_data(overdue)["refill_overdue"]
        == "Refill overdue: the refill-by date 25 Nov 2026 has passed. Contact the clinic today."
    )
    assert "refill_overdue" not in card_data(later)
    # printed on the wallet card (still two ID-1 pages) and the caregiver sheet
    for query in ("", "?format=sheet"):
        response = api.get(f"/api/v1/pumps/{overdue.pk}/emergency-card.pdf{query}")
        assert response.status_code == 200, response.content[:300]
        text = " ".join(
            " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages).split()
        )
        assert "Refill overdue: the refill-by date 25 Nov 2026 has passed." in text
    assert (
        len(PdfReader(io.BytesIO(api.get(f"/api/v1/pumps/{overdue.pk}/emergency-card.pdf").content)).pages)
        == 2
    )
    # becoming overdue does not make a card stale by itself: the digest leaves the line out
    assert digest(card_data(overdue)) == digest(
        {k: v for k, v in card_data(overdue).items() if k != "refill_overdue"}
    )


# --- ALERT-1: an alert shows the pump's current dates -----------------------------------------


@pytest.mark.rule("ALERT-1")
def test_an_alert_shows_the_dates_of_the_recomputed_projection(
    clinic, api, nurse, django_capture_on_commit_callbacks
):
    clinic.staff_email = "desk@home.example"
    clinic.save()
    pump = new_pump(clinic, api, DUE)
    state_alerts_run(clinic)
    alert = Alert.objects.get(pump=pump, kind=AlertKind.REFILL_UNBOOKED)
    assert "must be refilled by 29 Nov 2026" in alert.message
    # The model's tolerance is corrected to 20 %: worst case 18 / (0.5 x 1.2) = 30 days after
    # 2026-11-05 10:00 = 2026-12-05 10:00, refill-by Saturday 28 Nov. The alert stays open (still
    # due within 7 days, not booked) and says 28 Nov wherever it is read.
    PumpModel.objects.filter(code="8637-20").update(accuracy_tolerance_pct=20)
    projections_refresh_all()
    assert PumpProjection.objects.get(pump=pump).refill_by == date(2026, 11, 28)
    state_alerts_run(clinic)
    alert.refresh_from_db()
    assert alert.resolved_at is None
    body = api.get(f"/api/v1/alerts/{alert.pk}/").json()
    assert "must be refilled by 28 Nov 2026" in body["message"]
    assert "29 Nov 2026" in body["message_when_raised"]
    page = browser(nurse).get("/clinics/HOME/alerts/").content.decode()
    assert "must be refilled by 28 Nov 2026" in page and "29 Nov 2026" not in page
    pump_page = browser(nurse).get(f"/pumps/{pump.pk}/").content.decode()
    assert "must be refilled by 28 Nov 2026" in pump_page
    deliver(django_capture_on_commit_callbacks)
    sent = next(m for m in mail.outbox if m.to == ["desk@home.example"])
    assert "must be refilled by 28 Nov 2026" in sent.body and "29 Nov" not in sent.body


@pytest.mark.rule("LRA-5")
def test_an_old_no_slot_alert_is_resolved_once_the_pump_is_proposed(clinic, api):
    pump = new_pump(clinic, api, OVERDUE)
    old = Alert.objects.create(
        clinic=clinic,
        pump=pump,
        kind=AlertKind.NO_REFILL_SLOT,
        severity="warning",
        message="no clinic working day with a free slot between 2026-11-26 and 2026-11-25",
    )
    refill_proposals_run(clinic)
    old.refresh_from_db()
    assert proposals(pump) == [date(2026, 11, 26)] and old.resolved_at is not None


@pytest.mark.rule("ALERT-1")
def test_a_resolved_alert_keeps_saying_what_it_said(clinic, api):
    pump = new_pump(clinic, api, OVERDUE)
    state_alerts_run(clinic)
    alert = Alert.objects.get(pump=pump, kind=AlertKind.REFILL_OVERDUE)
    # refilled today (the residual is not what matters here): refill-by moves a month ahead
    fill(api, pump, "2026-11-26T10:00:00Z")
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert alert.text == alert.message and "overdue by 1 day" in alert.text


@pytest.mark.rule("LRA-5")
def test_a_change_of_working_days_moves_the_proposals_at_once(
    clinic, api, django_capture_on_commit_callbacks
):
    pump = new_pump(clinic, api, LATER)
    refill_proposals_run(clinic)
    assert proposals(pump) == [date(2026, 12, 14)]  # a Monday
    with django_capture_on_commit_callbacks(execute=True):
        clinic.working_days = [2, 3, 4, 5]  # no Mondays any more
        clinic.save()
    # Monday 14 is no longer worked: Sunday 13, Saturday 12 neither -> Friday 11
    assert proposals(pump) == [date(2026, 12, 11)]


@pytest.mark.rule("ALERT-1")
def test_the_state_pass_reads_the_pumps_in_any_state_in_one_query(clinic, api):
    """The periodic pass (and a refill's own) finds the pumps in each state with one query,
    however many pumps and states: overdue (refill-by 25 Nov passed), due within the window
    and unbooked (29 Nov), not yet due (14 Dec)."""
    overdue = new_pump(clinic, api, OVERDUE, "Moreno")
    due = new_pump(clinic, api, DUE, "Whitfield")
    later = new_pump(clinic, api, LATER, "Okafor")
    Alert.objects.all().delete()  # the fills' own passes raised them: the periodic pass alone
    with CaptureQueriesContext(connection) as queries:
        result = state_alerts_run(clinic)
    assert result.raised == 2
    kinds = dict(Alert.objects.filter(resolved_at__isnull=True).values_list("pump_id", "kind"))
    assert kinds == {overdue.pk: AlertKind.REFILL_OVERDUE, due.pk: AlertKind.REFILL_UNBOOKED}
    assert later.pk not in kinds
    pump_reads = [q for q in queries.captured_queries if q["sql"].startswith('SELECT "patients_pump"')]
    assert len(pump_reads) == 1
    assert state_alerts_run(clinic).raised == 0  # raised once, kept while the state lasts


@pytest.mark.rule("ALERT-1")
def test_a_pass_over_some_pumps_reads_only_those_in_a_state_and_raises_what_the_clinics_pass_would(
    clinic, api
):
    """A pass limited to some pumps (a refill's, a booking's) asks which of them are in a
    state in a query of ids: a pump in none is read no further; those in a state are read and
    raised as the clinic's pass raises them (overdue before due and unbooked)."""
    overdue = new_pump(clinic, api, OVERDUE, "Moreno")
    due = new_pump(clinic, api, DUE, "Whitfield")
    later = new_pump(clinic, api, LATER, "Okafor")
    Alert.objects.all().delete()  # the fills' own passes raised them
    with CaptureQueriesContext(connection) as queries:
        assert state_alerts_run(clinic, pump_ids=[later.pk]).raised == 0
    rows = [q for q in queries.captured_queries if q["sql"].startswith('SELECT "patients_pump"."id", ')]
    assert rows == []
    assert state_alerts_run(clinic, pump_ids=[due.pk, later.pk, overdue.pk]).raised == 2
    raised = list(
        Alert.objects.filter(resolved_at__isnull=True).order_by("pk").values_list("pump_id", "kind")
    )
    assert raised == [(overdue.pk, AlertKind.REFILL_OVERDUE), (due.pk, AlertKind.REFILL_UNBOOKED)]
    assert state_alerts_run(clinic, pump_ids=[due.pk, overdue.pk]).raised == 0  # kept while it lasts


@pytest.mark.rule("LRA-5")
def test_an_over_capacity_alert_is_raised_once_per_pump_while_it_stands(clinic, api):
    no_slot_until_refill_by(clinic)
    first = new_pump(clinic, api, LATER)
    # an old, resolved over-capacity alert and an alert of another kind do not stand for it
    Alert.objects.create(
        clinic=clinic,
        pump=first,
        kind=AlertKind.OVER_CAPACITY,
        severity="warning",
        message="old",
        resolved_at=NOW,
    )
    Alert.objects.create(
        clinic=clinic, pump=first, kind=AlertKind.DISCONTINUATION, severity="critical", message="x"
    )
    assert refill_proposals_run(clinic).over_capacity == 1
    # a second pump gets its own alert while the first one's stands
    second = new_pump(clinic, api, LATER)
    assert refill_proposals_run(clinic).over_capacity == 1
    # Thursday 26 closes: both proposals are withdrawn and made again on Monday 14 Dec, over
    # capacity again, while their alerts stand: no second alert
    ClinicClosure.objects.create(clinic=clinic, date=date(2026, 11, 26))
    result = refill_proposals_run(clinic)
    assert (result.withdrawn, result.proposed, result.over_capacity) == (2, 2, 0)
    assert proposals(first) == proposals(second) == [date(2026, 12, 14)]
    for pump in (first, second):
        assert (
            Alert.objects.filter(pump=pump, kind=AlertKind.OVER_CAPACITY, resolved_at__isnull=True).count()
            == 1
        )
