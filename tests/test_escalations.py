"""Escalations (ALERT-1): a pump past its projected empty time, past its alarm
time, or due without a booked refill has an alert raised on persisted state; overdue and
critical alerts are emailed to the clinic's on-call address again and again — critical
every 4 hours, overdue daily — until a staff member acknowledges them.

"Now" is 2026-11-26 12:00Z. A first fill of 20 mL at 500 mcg/mL, 250 mcg/day drains
0.5 mL/day, 0.5 × 1.145 = 0.5725 mL/day in the worst case (SynchroMed II, 14.5 %): the
2 mL alarm comes 18 / 0.5725 = 31.441 d (31 d 10 h 35 min) after the fill and empty
20 / 0.5725 = 34.934 d (34 d 22 h 25 min) after it.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail

from alerts import outbox
from alerts.models import Alert, Notification
from cards import notices
from patients.models import Pump
from scheduling.state_alerts import state_alert_text, state_alerts_run_all
from tests.conftest import NOW, client_for
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import assert_refused, clock_at, deliver, fill

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]

# 2026-10-01 10:00 + 34 d 22 h 25 min = 2026-11-05 08:25: past empty.
PAST_EMPTY = "2026-10-01T10:00:00Z"
# 2026-10-24 10:00 + 31 d 10 h 35 min = 2026-11-24 20:35 (alarm passed); empty 2026-11-28 08:25.
PAST_ALARM = "2026-10-24T10:00:00Z"
# 2026-11-05 10:00: alarm 2026-12-06 20:35, refill-by 2026-11-29 — within 7 days, not booked.
DUE_UNBOOKED = "2026-11-05T10:00:00Z"


@pytest.fixture
def home(clinic):
    clinic.on_call_email = "oncall@home.example"
    clinic.save()
    return clinic


def pump_filled(clinic, api, at, **patient):
    pump = PumpFactory(
        patient=PatientFactory(clinic=clinic, communication_consent=True, **patient),
        implanted_on=date(2026, 1, 2),
    )
    fill(api, pump, at)
    return pump


def alert_of(pump, kind):
    return Alert.objects.get(pump=pump, kind=kind)


def on_call_rows(alert):
    return list(
        Notification.objects.filter(subject=f"alert:{alert.pk}", recipient_role="on_call")
        .order_by("due_at")
        .values_list("due_at", "status")
    )


@pytest.mark.rule("ALERT-1")
def test_state_alerts_are_raised_once_on_persisted_state(home, api):
    empty = pump_filled(home, api, PAST_EMPTY)
    alarm = pump_filled(home, api, PAST_ALARM)
    due = pump_filled(home, api, DUE_UNBOOKED)
    assert alert_of(empty, "past_empty").severity == "critical"
    assert alert_of(alarm, "past_alarm").severity == "warning"
    assert alert_of(due, "refill_unbooked").severity == "warning"
    # Times and dates in the clinic's zone, as people read them (no ISO format).
    assert "Thu 5 Nov 2026 08:25 UTC" in alert_of(empty, "past_empty").message
    assert "Tue 24 Nov 2026 20:35 UTC" in alert_of(alarm, "past_alarm").message
    assert "must be refilled by 29 Nov 2026" in alert_of(due, "refill_unbooked").message
    # The job finds the same state: nothing new.
    assert (state_alerts_run_all().raised, Alert.objects.count()) == (0, 3)


@pytest.mark.rule("ALERT-1")
def test_a_job_that_was_down_still_raises_when_it_comes_back(home, api, monkeypatch):
    pump = pump_filled(home, api, DUE_UNBOOKED)
    Alert.objects.all().delete()
    # Days later, the pump is past its alarm time: the job raises what the state is now.
    clock_at(monkeypatch, datetime(2026, 12, 7, 6, 0, tzinfo=UTC))
    result = state_alerts_run_all()
    assert result.raised == 1
    assert list(Alert.objects.values_list("kind", flat=True)) == ["past_alarm"]
    assert Alert.objects.get().pump == pump


@pytest.mark.rule("ALERT-1")
def test_critical_alerts_go_to_on_call_every_4_hours_and_the_patient_once(
    home, api, monkeypatch, django_capture_on_commit_callbacks
):
    pump = pump_filled(home, api, PAST_EMPTY, given_name="Ada", family_name="Byron", email="ada@example.org")
    alert = alert_of(pump, "past_empty")
    assert on_call_rows(alert) == [(NOW, "pending")]
    assert deliver(django_capture_on_commit_callbacks)  # sent now
    to_on_call = next(m for m in mail.outbox if m.to == ["oncall@home.example"])
    assert to_on_call.subject.startswith("[pumpcare HOME] CRITICAL: Past the projected empty time")
    assert pump.patient.mrn in to_on_call.subject and "repeated every 4 hours" in to_on_call.body
    to_patient = next(m for m in mail.outbox if m.to == ["ada@example.org"])
    assert to_patient.subject == "Urgent: please call Home Clinic now"
    assert "+1 555 0100" in to_patient.body  # the 24/7 emergency phone
    for word in ("baclofen", "pump", "empty", "withdrawal", "spastic"):
        assert word not in (to_patient.subject + to_patient.body).lower(), word

    # 3 h 59 min later: nothing new. 4 h later: the first repeat, and only to on-call.
    clock_at(monkeypatch, NOW + timedelta(hours=3, minutes=59))
    outbox.escalations_plan_all()
    assert len(on_call_rows(alert)) == 1
    clock_at(monkeypatch, NOW + timedelta(hours=4))
    outbox.escalations_plan_all()
    outbox.escalations_plan_all()  # twice: still one row per repeat
    assert on_call_rows(alert) == [(NOW, "sent"), (NOW + timedelta(hours=4), "pending")]
    mail.outbox.clear()
    deliver(django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [["oncall@home.example"]]
    assert "(repeat 1)" in mail.outbox[0].subject


@pytest.mark.rule("ALERT-1")
def test_overdue_alerts_repeat_daily(home, api, monkeypatch):
    alert = alert_of(pump_filled(home, api, PAST_ALARM), "past_alarm")
    clock_at(monkeypatch, NOW + timedelta(hours=23))
    outbox.escalations_plan_all()
    assert [due for due, _ in on_call_rows(alert)] == [NOW]
    clock_at(monkeypatch, NOW + timedelta(hours=24))
    outbox.escalations_plan_all()
    assert [due for due, _ in on_call_rows(alert)] == [NOW, NOW + timedelta(hours=24)]
    # The first was never sent (mail down): it is superseded, not sent as a burst.
    assert on_call_rows(alert)[0][1] == "cancelled"


@pytest.mark.rule("ALERT-1")
def test_a_job_down_for_13_hours_plans_the_latest_repeat_only(home, api, monkeypatch):
    alert = alert_of(pump_filled(home, api, PAST_EMPTY), "past_empty")
    clock_at(monkeypatch, NOW + timedelta(hours=13))
    outbox.escalations_plan_all()
    # 13 h after raising, every 4 h: repeats due at +4, +8 and +12 h; only +12 h is planned.
    assert [due for due, _ in on_call_rows(alert)] == [NOW, NOW + timedelta(hours=12)]


@pytest.mark.rule("ALERT-1")
def test_acknowledging_stops_the_escalation_and_is_audited(home, api, nurse, monkeypatch):
    alert = alert_of(pump_filled(home, api, PAST_EMPTY), "past_empty")
    url = f"/api/v1/alerts/{alert.pk}/acknowledge/"
    assert_refused(api.post(url, {}, format="json"), "note")
    assert_refused(api.post(url, {"note": "  "}, format="json"), "note")
    response = api.post(url, {"note": "called the patient; refill at 14:00 today"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["acknowledged_by"], body["acknowledged_at"]) == ("nurse", "2026-11-26T12:00:00Z")
    assert body["acknowledgement_note"] == "called the patient; refill at 14:00 today"
    record = Alert.objects.get(pk=alert.pk).history.latest()
    assert record.history_user == nurse
    assert record.history_change_reason == "acknowledged: called the patient; refill at 14:00 today"
    assert on_call_rows(alert) == [(NOW, "cancelled")]  # the pending one is not sent
    clock_at(monkeypatch, NOW + timedelta(hours=8))
    outbox.escalations_plan_all()
    assert len(on_call_rows(alert)) == 1  # no more repeats
    assert state_alerts_run_all().raised == 0  # and not raised again while the state lasts
    again = api.post(url, {"note": "again"}, format="json")
    assert_refused(again, "alert", code="already_acknowledged")
    assert api.get("/api/v1/alerts/?open=1&kind=past_empty").json()["count"] == 0


@pytest.mark.rule("ALERT-1")
@pytest.mark.parametrize(
    "note, message",
    [
        (42, "Not a valid string."),
        (["called"], "Not a valid string."),
        ({"text": "called"}, "Not a valid string."),
        ("x" * 300_000, "Ensure this field has no more than 2000 characters."),
    ],
    ids=["number", "list", "object", "300-kB"],
)
def test_an_acknowledgement_note_is_words_of_a_bounded_length(home, api, note, message):
    alert = alert_of(pump_filled(home, api, PAST_EMPTY), "past_empty")
    body = assert_refused(
        api.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {"note": note}, format="json"), "note"
    )
    assert body["errors"]["note"] == [message]
    alert.refresh_from_db()
    assert (alert.acknowledged_at, alert.acknowledgement_note) == (None, "")
    assert alert.history.count() == 1  # raised; nothing written by the refusal
    # 2000 characters is a note (the longest one).
    done = api.post(f"/api/v1/alerts/{alert.pk}/acknowledge/", {"note": "y" * 2000}, format="json")
    assert done.status_code == 200 and len(done.json()["acknowledgement_note"]) == 2000


def test_another_clinic_cannot_acknowledge(home, api, outsider):
    alert = alert_of(pump_filled(home, api, PAST_EMPTY), "past_empty")
    response = client_for(outsider).post(
        f"/api/v1/alerts/{alert.pk}/acknowledge/", {"note": "x"}, format="json"
    )
    assert response.status_code == 404
    assert Alert.objects.get(pk=alert.pk).acknowledged_at is None


@pytest.mark.rule("ALERT-1")
def test_a_refill_resolves_the_alert_and_cancels_its_escalation(home, api, monkeypatch):
    pump = pump_filled(home, api, PAST_ALARM)
    alert = alert_of(pump, "past_alarm")
    fill(api, pump, "2026-11-26T11:30:00Z", volume_added_ml=18)
    alert.refresh_from_db()
    assert alert.resolved_at == NOW and alert.acknowledged_at is None
    assert on_call_rows(alert) == [(NOW, "cancelled")]
    assert Notification.objects.get(subject=f"alert:{alert.pk}").status_reason.startswith(
        "the alert was resolved"
    )


@pytest.mark.rule("ALERT-1")
def test_refill_due_and_not_booked_is_a_staff_notice_sent_once(home, api, monkeypatch):
    home.staff_email = "desk@home.example"
    home.save()
    pump = pump_filled(home, api, DUE_UNBOOKED)
    alert = alert_of(pump, "refill_unbooked")
    notices = Notification.objects.filter(subject=f"alert:{alert.pk}")
    assert [(n.recipient, n.email, n.kind) for n in notices] == [
        ("staff:HOME", "desk@home.example", "refill_unbooked")
    ]
    clock_at(monkeypatch, NOW + timedelta(days=2))
    outbox.escalations_plan_all()
    assert notices.count() == 1  # a notice, not an escalation
    # Booking the refill ends the state: the job resolves the alert.
    clock_at(monkeypatch, NOW)
    response = api.post(
        "/api/v1/appointments/", {"pump": pump.pk, "kind": "refill", "day": "2026-11-27"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert state_alerts_run_all().resolved == 1
    assert Alert.objects.get(pk=alert.pk).resolved_at is not None


@pytest.mark.rule("TITRATE-2", "ALERT-1")
def test_a_discontinuation_tells_the_staff_once_to_watch_for_withdrawal(
    home, api, physician, monkeypatch, django_capture_on_commit_callbacks
):
    # A physician stops the therapy with a written reason: the critical alert is mailed to the
    # clinic's staff address once (it is a decision, not a state to escalate until acknowledged).
    home.staff_email = "desk@home.example"
    home.save()
    pump = pump_filled(home, api, DUE_UNBOOKED)
    response = client_for(physician).post(
        f"/api/v1/pumps/{pump.pk}/prescriptions/",
        {
            "effective_at": "2026-11-20T10:00:00Z",
            "prescription": {"mode": "simple_continuous", "daily_dose_mcg": "0"},
            "reason": "pocket infection",
            "override_reason": "explant planned; oral baclofen started",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    alert = alert_of(pump, "discontinuation")
    notices = Notification.objects.filter(subject=f"alert:{alert.pk}")
    assert [(n.email, n.kind) for n in notices] == [("desk@home.example", "discontinuation")]
    clock_at(monkeypatch, NOW + timedelta(days=2))
    outbox.escalations_plan_all()
    assert notices.count() == 1
    deliver(django_capture_on_commit_callbacks)
    sent = [m for m in mail.outbox if m.to == ["desk@home.example"]]
    assert len(sent) == 1 and "CRITICAL" in sent[0].subject
    assert "explant planned; oral baclofen started" in sent[0].body


@pytest.mark.rule("ALERT-1")
def test_a_clinic_without_an_on_call_address_is_skipped_visibly(clinic, api):
    alert = alert_of(pump_filled(clinic, api, PAST_EMPTY), "past_empty")
    row = Notification.objects.get(subject=f"alert:{alert.pk}", recipient_role="on_call")
    assert (row.status, row.status_reason) == ("cancelled", "skipped: the clinic has no on-call address")
    assert api.get("/api/v1/notifications/?status=cancelled&kind=past_empty").json()["count"] >= 1


def test_the_periodic_jobs_are_in_the_beat_schedule_and_run(home, api):
    from django_celery_beat.models import PeriodicTask

    from alerts import tasks

    schedule = {t.task: t.interval.every for t in PeriodicTask.objects.filter(task__startswith="alerts.")}
    # The sweeper runs with every delivery tick: no beat entry of its own.
    assert schedule == {"alerts.deliver_notifications": 1, "alerts.plan_notifications": 5}
    pump = pump_filled(home, api, PAST_ALARM)
    Alert.objects.all().delete()
    result = tasks.plan_notifications()
    assert (result["raised"], result["alerts_planned"]) == (1, 1)
    assert Notification.objects.get(recipient_role="on_call").pump == pump


@pytest.mark.rule("REFILL-4")
def test_stale_emergency_cards_are_a_daily_staff_notice(
    home, api, monkeypatch, django_capture_on_commit_callbacks
):
    from cards.models import CardSettings

    CardSettings.objects.create(clinic=home, default_physician="Dr. Ana Rivera")
    home.staff_email = "desk@home.example"
    home.save()
    pump = pump_filled(home, api, DUE_UNBOOKED)  # a first fill: its card was never printed
    assert notices.card_stale_notices_plan() == 1  # due at 09:00 today (now is 12:00)
    assert notices.card_stale_notices_plan() == 0  # one a day
    notice = Notification.objects.get(kind="card_stale")
    assert (notice.recipient, notice.email, notice.due_at) == (
        "staff:HOME",
        "desk@home.example",
        NOW.replace(hour=9),
    )
    mail.outbox.clear()
    deliver(django_capture_on_commit_callbacks)
    message = next(m for m in mail.outbox if m.to == ["desk@home.example"] and "emergency card" in m.subject)
    assert message.subject == "[pumpcare HOME] 1 emergency card to print again"
    assert pump.patient.mrn in message.body
    assert "/api/v1/clinics/HOME/emergency-cards.pdf?stale=1" in message.body

    # The next day, after the card was printed: nothing stale, no notice.
    assert api.get(f"/api/v1/pumps/{pump.pk}/emergency-card.pdf").status_code == 200
    clock_at(monkeypatch, NOW + timedelta(days=1))
    assert notices.card_stale_notices_plan() == 0


@pytest.mark.rule("REFILL-4")
def test_a_card_notice_is_not_sent_once_the_cards_are_printed(home, api, django_capture_on_commit_callbacks):
    from cards.models import CardSettings

    CardSettings.objects.create(clinic=home, default_physician="Dr. Ana Rivera")
    pump = pump_filled(home, api, DUE_UNBOOKED)
    notices.card_stale_notices_plan()
    assert api.get(f"/api/v1/pumps/{pump.pk}/emergency-card.pdf").status_code == 200
    outcomes = [o for o in deliver(django_capture_on_commit_callbacks) if o.detail.startswith("no emergency")]
    assert [(o.status, o.detail) for o in outcomes] == [("cancelled", "no emergency card is stale any more")]


@pytest.mark.rule("ALERT-1", "TITRATE-2")
def test_a_pump_past_its_alarm_stays_past_it_when_the_therapy_stops_before_it_runs_empty(
    home, api, physician
):
    # alarm (worst case) passed on 24 Nov 20:35; stopped on 25 Nov 10:00, before it would run
    # empty (28 Nov 08:25): it will now never run empty, but it is still past its alarm
    # without a refill, and the alert stays raised (the worklist ranks it so too)
    pump = pump_filled(home, api, PAST_ALARM)
    alert = alert_of(pump, "past_alarm")
    response = client_for(physician).post(
        f"/api/v1/pumps/{pump.pk}/prescriptions/",
        {
            "effective_at": "2026-11-25T10:00:00Z",
            "prescription": {"mode": "simple_continuous", "daily_dose_mcg": "0"},
            "reason": "pocket infection",
            "override_reason": "explant planned; oral baclofen started",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["projection"]["empty_at_worst_case"] is None
    state_alerts_run_all()
    alert.refresh_from_db()
    assert alert.resolved_at is None
    # worded from the current projection: no empty time to announce any more
    words = state_alert_text("past_alarm", Pump.objects.get(pk=pump.pk), home, NOW)
    assert words.endswith("(worst case, Tue 24 Nov 2026 20:35 UTC) without a refill.")
