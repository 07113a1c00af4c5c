"""Delivering the outbox: a due row is claimed, sent once by its task,
retried with exponential backoff when the mail server fails, failed (and staff alerted)
after the last attempt, re-queued by the sweeper when its worker died, and resent on
request. These run the tasks in this process; tests/test_outbox_reliability.py runs them
on real Celery workers against a real SMTP server."""

import smtplib
import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import OperationalError

from alerts import delivery
from alerts.identity import instance_id
from alerts.models import Alert, Notification
from tests.conftest import NOW, client_for
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import assert_refused, clock_at, deliver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


class FlakyBackend(EmailBackend):
    """Django's in-memory backend that raises ``FlakyBackend.error`` while it is set."""

    error: Exception | None = None

    def send_messages(self, messages):
        if FlakyBackend.error is not None:
            raise FlakyBackend.error
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = "tests.test_outbox_delivery.FlakyBackend"
    FlakyBackend.error = smtplib.SMTPResponseException(451, b"4.3.0 try again later")
    yield FlakyBackend
    FlakyBackend.error = None


@pytest.fixture
def row(clinic):
    """A staff notice due now (the simplest row: no appointment, no alert)."""
    clinic.staff_email = "desk@home.example"
    clinic.save()
    pump = PumpFactory(patient=PatientFactory(clinic=clinic))
    return Notification.objects.create(
        clinic=clinic,
        kind="refill_unbooked",
        recipient="staff:HOME",
        recipient_role="staff",
        subject=f"pump:{pump.pk}",
        pump=pump,
        due_at=NOW,
        email="desk@home.example",
    )


def claimed(capture):
    """Claim the due rows (committing) without running their tasks; returns {pk: claim}."""
    queued = {}
    with capture(execute=True):
        delivery.due_claim(enqueue=lambda pk, claim: queued.__setitem__(pk, claim))
    return queued


def test_a_due_row_is_sent_once_even_when_its_task_runs_twice(row, django_capture_on_commit_callbacks):
    queued = claimed(django_capture_on_commit_callbacks)
    assert queued.keys() == {row.pk}
    row.refresh_from_db()
    assert row.status == "sending" and row.claim == queued[row.pk]
    assert delivery.notification_send(row.pk, queued[row.pk]).status == "sent"
    assert delivery.notification_send(row.pk, queued[row.pk]).status == "skipped"  # a redelivered task
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.sent_at, row.claim) == ("sent", 1, NOW, "")
    assert row.message_id == f"<pumpcare.notification.{row.pk}.{instance_id()}@localhost>"
    assert mail.outbox[0].extra_headers["Message-ID"] == row.message_id


def test_rows_are_not_queued_by_a_transaction_that_rolls_back(row, django_capture_on_commit_callbacks):
    queued = {}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        delivery.due_claim(enqueue=lambda pk, claim: queued.__setitem__(pk, claim))
    assert len(callbacks) == 1 and queued == {}  # queued on commit, not before


def test_a_future_row_waits(row, django_capture_on_commit_callbacks):
    Notification.objects.filter(pk=row.pk).update(due_at=NOW + timedelta(minutes=1))
    assert claimed(django_capture_on_commit_callbacks) == {}


def test_a_failure_is_retried_with_exponential_backoff_then_failed_and_staff_alerted(
    row, flaky, monkeypatch, django_capture_on_commit_callbacks
):
    # max 6 attempts; the waits after attempts 1..5 are 60, 120, 240, 480 and 960 s.
    now = NOW
    for attempt, wait in enumerate([60, 120, 240, 480, 960], start=1):
        clock_at(monkeypatch, now)
        assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["retry"]
        row.refresh_from_db()
        assert (row.status, row.attempts) == ("pending", attempt)
        assert row.next_attempt_at == now + timedelta(seconds=wait)
        assert "451" in row.last_error
        clock_at(monkeypatch, now + timedelta(seconds=wait - 3))  # more than DUE_TOLERANCE (2 s) early
        assert deliver(django_capture_on_commit_callbacks) == []  # not yet
        now += timedelta(seconds=wait)
    clock_at(monkeypatch, now)
    assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["failed"]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.status_reason) == ("failed", 6, "failed 6 times")
    alert = Alert.objects.get(kind="delivery_failed")
    assert alert.pump_id == row.pump_id and f"notification {row.pk}" in alert.message
    assert mail.outbox == []


def test_a_recovered_server_gets_the_row_on_the_next_attempt(
    row, flaky, monkeypatch, django_capture_on_commit_callbacks
):
    deliver(django_capture_on_commit_callbacks)
    flaky.error = None
    clock_at(monkeypatch, NOW + timedelta(seconds=60))
    assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["sent"]
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")


def test_a_permanent_refusal_fails_at_once(row, flaky, django_capture_on_commit_callbacks):
    flaky.error = smtplib.SMTPRecipientsRefused({"desk@home.example": (550, b"5.1.1 no such user")})
    assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["failed"]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.status_reason) == ("failed", 1, "refused permanently")
    assert Alert.objects.filter(kind="delivery_failed").count() == 1


def test_the_sweeper_requeues_a_row_whose_worker_died(row, monkeypatch, django_capture_on_commit_callbacks):
    queued = claimed(django_capture_on_commit_callbacks)
    Notification.objects.filter(pk=row.pk).update(attempt_started_at=NOW)  # the worker dies while sending
    assert delivery.stuck_sweep(now=NOW + timedelta(minutes=9)) == 0  # not stuck yet (10 min)
    assert delivery.stuck_sweep(now=NOW + timedelta(minutes=11)) == 1
    row.refresh_from_db()
    assert (row.status, row.claim) == ("pending", "")
    assert delivery.notification_send(row.pk, queued[row.pk]).status == "skipped"  # the old task is void
    assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["sent"]
    assert len(mail.outbox) == 1


def test_a_row_whose_task_was_lost_is_sent_by_the_tick_two_minutes_later(
    row, monkeypatch, django_capture_on_commit_callbacks
):
    # The broker lost the task (a Redis restart): the row, claimed at NOW and never
    # started, waited for a 5-minute sweep job with a 10-minute limit (10-15 minutes). Now
    # the delivery tick sweeps first, with a 60 s limit for a row whose send never started.
    lost = claimed(django_capture_on_commit_callbacks)[row.pk]
    clock_at(monkeypatch, NOW + timedelta(seconds=60))  # claimed 60 s ago: not yet past the limit
    assert deliver(django_capture_on_commit_callbacks) == []
    clock_at(monkeypatch, NOW + timedelta(seconds=120))  # the tick after: 120 s > 60 s
    assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["sent"]
    assert delivery.notification_send(row.pk, lost).status == "skipped"  # the lost task turns up: void
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 1)


def test_the_lost_task_limit_is_configurable(row, settings, django_capture_on_commit_callbacks):
    settings.PUMPCARE_NOTIFICATIONS = {**settings.PUMPCARE_NOTIFICATIONS, "unstarted_after_seconds": 300}
    claimed(django_capture_on_commit_callbacks)
    assert delivery.stuck_sweep(now=NOW + timedelta(seconds=299)) == 0
    assert delivery.stuck_sweep(now=NOW + timedelta(seconds=301)) == 1


def test_a_retry_lands_on_the_tick_it_was_scheduled_for(
    row, flaky, monkeypatch, django_capture_on_commit_callbacks
):
    # The tick claims at NOW, the send task runs 7 ms later and fails: its retry is
    # due at NOW + 7 ms + 60 s. The next tick's clock reads NOW + 60 s, 7 ms earlier; the
    # retry used to wait for the tick after (a minute more, every attempt).
    clock_at(monkeypatch, NOW)
    with django_capture_on_commit_callbacks(execute=True):
        delivery.due_claim_all(
            enqueue=lambda pk, claim: (
                clock_at(monkeypatch, NOW + timedelta(milliseconds=7)),
                delivery.notification_send(pk, claim),
            )
        )
    row.refresh_from_db()
    assert row.next_attempt_at == NOW + timedelta(seconds=60, milliseconds=7)
    flaky.error = None
    clock_at(monkeypatch, NOW + timedelta(seconds=60))
    assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["sent"]


def test_a_late_outcome_of_a_swept_row_does_not_overwrite_the_new_claim(
    row, django_capture_on_commit_callbacks
):
    first = claimed(django_capture_on_commit_callbacks)[row.pk]
    delivery.stuck_sweep(now=NOW + timedelta(minutes=11))
    second = claimed(django_capture_on_commit_callbacks)[row.pk]
    assert first != second
    # The first task, still busy when the sweeper ran, finishes late: its outcome is dropped.
    assert delivery._finish(row, first, status="failed") is False
    assert delivery.notification_send(row.pk, first).status == "skipped"
    assert delivery.notification_send(row.pk, second).status == "sent"
    row.refresh_from_db()
    assert row.status == "sent"


def test_staff_resend_a_failed_row(row, flaky, nurse, django_capture_on_commit_callbacks):
    flaky.error = smtplib.SMTPRecipientsRefused({"desk@home.example": (550, b"5.1.1 no such user")})
    deliver(django_capture_on_commit_callbacks)
    flaky.error = None
    api = client_for(nurse)
    response = api.post(f"/api/v1/notifications/{row.pk}/resend/")
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["attempts"], response.json()["resent_by"]) == (
        "pending",
        0,
        "nurse",
    )
    assert_refused(api.post(f"/api/v1/notifications/{row.pk}/resend/"), "status", code="not_finished")
    assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["sent"]
    row.refresh_from_db()
    assert (
        row.message_id
        == f"<pumpcare.notification.{row.pk}.r{int(NOW.timestamp())}.{instance_id()}@localhost>"
    )


def test_the_outbox_lists_and_filters(row, nurse):
    api = client_for(nurse)
    other = Notification.objects.create(
        clinic=row.clinic,
        kind="past_alarm",
        recipient="staff:HOME",
        recipient_role="staff",
        subject="alert:1",
        due_at=NOW,
        status="sent",
    )
    assert api.get("/api/v1/notifications/").json()["count"] == 2
    assert [r["id"] for r in api.get("/api/v1/notifications/?status=sent").json()["results"]] == [other.pk]
    assert [r["id"] for r in api.get("/api/v1/notifications/?kind=refill_unbooked").json()["results"]] == [
        row.pk
    ]
    assert [r["id"] for r in api.get(f"/api/v1/notifications/?pump={row.pump_id}").json()["results"]] == [
        row.pk
    ]
    assert api.get("/api/v1/notifications/?clinic=HOME").json()["count"] == 2


def test_the_admin_lists_the_outbox_and_resends(row, client, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.org", "Pass-word-123!")
    client.force_login(root)
    page = client.get("/admin/alerts/notification/?status__exact=pending")
    assert page.status_code == 200 and b"desk@home.example" not in page.content  # lists keys, not addresses
    Notification.objects.filter(pk=row.pk).update(status="failed")
    response = client.post("/admin/alerts/notification/", {"action": "resend", "_selected_action": [row.pk]})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.status, row.resent_by) == ("pending", root)


def test_a_worker_reuses_its_smtp_connection_and_reconnects_when_the_server_dropped_it(
    row, settings, django_capture_on_commit_callbacks
):
    from tests.smtp_sink import SmtpSink

    second = Notification.objects.create(
        clinic=row.clinic,
        kind="refill_unbooked",
        recipient="staff:HOME",
        recipient_role="staff",
        subject="pump:other",
        due_at=NOW,
    )
    with SmtpSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        with django_capture_on_commit_callbacks(execute=True):
            queued = {}
            delivery.due_claim(enqueue=lambda pk, claim: queued.__setitem__(pk, claim))
        assert delivery.notification_send(row.pk, queued[row.pk]).status == "sent"
        kept = delivery._MAIL["connection"]
        assert kept is not None and kept.connection is not None  # still open for the next message
        kept.connection.sock.shutdown(socket.SHUT_RDWR)  # the server (or a firewall) dropped it
        assert delivery.notification_send(second.pk, queued[second.pk]).status == "sent"
        assert delivery._MAIL["connection"] is not kept
        assert len(sink.recorder.accepted) == 2 and sink.recorder.duplicates() == 0
    delivery._mail_close()


def database_away(monkeypatch, failures: int) -> list[float]:
    """The database is unreachable for the first ``failures`` writes of a send's outcome (as
    psycopg reports a server gone mid-connection); returns the worker's waits."""
    real, calls, waits = delivery._finish, [], []

    def finish(row, claim, **fields):
        calls.append(fields.get("status"))
        if len(calls) <= failures:
            raise OperationalError("server closed the connection unexpectedly")
        return real(row, claim, **fields)

    monkeypatch.setattr(delivery, "_finish", finish)
    monkeypatch.setattr(delivery.time, "sleep", waits.append)
    return waits


@pytest.mark.rule("ALERT-1")
def test_a_database_away_after_the_mail_server_accepted_sends_nothing_twice(
    row, monkeypatch, django_capture_on_commit_callbacks
):
    # The tester's case: PostgreSQL unreachable for 41 s just after the SMTP server accepted.
    # Tries at 0, 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s fail (0.5 + 1 + 2 + 4 + 8 + 16 = 31.5);
    # the one after a 30 s wait, at 61.5 s, finds the database back.
    waits = database_away(monkeypatch, failures=7)
    assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["sent"]
    assert waits == [0.5, 1, 2, 4, 8, 16, 30]
    row.refresh_from_db()
    assert (row.status, row.claim, row.sent_at) == ("sent", "", NOW)
    # The sweeper, ten minutes on, finds nothing "sending" to send again.
    assert delivery.stuck_sweep(now=NOW + timedelta(seconds=601)) == 0
    assert deliver(django_capture_on_commit_callbacks, now=NOW + timedelta(hours=1)) == []
    assert len(mail.outbox) == 1


def test_the_outcome_is_retried_for_half_the_sweepers_limit_and_no_longer(
    row, monkeypatch, django_capture_on_commit_callbacks, settings
):
    waits = database_away(monkeypatch, failures=100)
    with pytest.raises(OperationalError):
        deliver(django_capture_on_commit_callbacks)
    # 0.5 + 1 + … + 16 = 31.5, then 30 s steps: 31.5 + 8 × 30 = 271.5; one more would pass 300.
    assert waits == [0.5, 1, 2, 4, 8, 16] + [30.0] * 8
    assert sum(waits) <= settings.PUMPCARE_NOTIFICATIONS["stuck_after_seconds"] / 2 == 300
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.status == "sending"  # the bound that remains: the sweeper sends it again
