"""The outbox under real conditions: real Celery worker processes
on Redis, PostgreSQL, and a real SMTP server on loopback (aiosmtpd). Every message is
counted by its Message-ID at the server.

- two workers and two overlapping delivery ticks over 1,000 due reminders: every reminder
  delivered, none twice;
- the SMTP server refusing for a while, then recovering: every reminder delivered exactly
  once after recovery;
- the database refusing connections and cutting the worker's for 4 seconds mid-batch:
  every reminder delivered once, and one log line per worker process, no traceback;
- a worker SIGKILLed in the middle of a batch: nothing lost once the sweeper has run, and
  at most one duplicate per pool process that was sending at the instant of the kill (a
  message the server accepted before the row could be marked sent; see alerts.delivery).

- a moved appointment: the old reminders are cancelled and never sent, the new ones are
  due and delivered, saying the new day (test_reminders.py covers the planning in detail).
"""

from __future__ import annotations

import os
import time
from datetime import date, timedelta

import psycopg
import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from alerts import delivery
from alerts.models import Notification
from alerts.tasks import deliver_notifications
from patients.models import Caregiver, Patient, Pump
from pumpcare.celery import app
from scheduling import reminders
from scheduling.models import Appointment
from tests.factories import PatientFactory, PumpFactory
from tests.smtp_sink import SmtpSink
from tests.workers import Worker, wait_ready, worker_env

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def services(needs_redis):
    if connection.vendor != "postgresql":
        pytest.skip(
            "DATABASE_URL is not a PostgreSQL database: worker processes cannot share the test "
            "database (SQLite's test database lives in memory)"
        )
    assert app.conf.broker_url.startswith("redis://"), app.conf.broker_url
    app.control.purge()


def database_url() -> str:
    settings = connection.settings_dict
    return f"postgres://{settings['USER'] or 'postgres'}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


def due_reminders(clinic, appointments: int, people_per_patient: int) -> int:
    """``appointments`` booked refills, each reminding its patient and caregivers, planned by
    the real planner and then made due now."""
    clinic.reminder_days_before = [1]
    clinic.save()
    day = timezone.localdate() + timedelta(days=3)
    for i in range(appointments):
        patient = PatientFactory(clinic=clinic, email=f"p{i}@example.org", communication_consent=True)
        Caregiver.objects.bulk_create(
            Caregiver(
                patient=patient,
                name=f"C{i}-{k}",
                relation="family",
                email=f"c{i}-{k}@example.org",
                communication_consent=True,
            )
            for k in range(people_per_patient - 1)
        )
        pump = PumpFactory(patient=patient, implanted_on=date(2026, 1, 2))
        Appointment.objects.create(pump=pump, kind="refill", status="booked", day=day)
    reminders.reminders_plan_all()
    Notification.objects.update(due_at=timezone.now() - timedelta(minutes=1))
    total = Notification.objects.filter(status="pending").count()
    assert total == appointments * people_per_patient
    assert Patient.objects.count() == appointments and Pump.objects.count() == appointments
    return total


def run_until_sent(total: int, seconds: float, tick_every: float = 0.5) -> None:
    """Beat: a delivery tick every ``tick_every`` seconds until every row is sent."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if Notification.objects.filter(status="sent").count() == total:
            return
        deliver_notifications.delay()
        time.sleep(tick_every)
    statuses = dict(
        Notification.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    raise AssertionError(f"not every row was sent within {seconds} s: {statuses}")


def assert_each_sent_once(sink, total: int) -> None:
    counts = sink.recorder.counts()
    sent_ids = set(Notification.objects.filter(status="sent").values_list("message_id", flat=True))
    assert len(sent_ids) == total
    assert set(counts) == sent_ids, "a row marked sent that the server never accepted (or the reverse)"
    assert sink.recorder.duplicates() == 0, counts.most_common(3)


@pytest.fixture
def workers():
    started: list[Worker] = []

    def start(name, env, concurrency=2):
        worker = Worker(name, env, concurrency)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def test_two_workers_and_overlapping_ticks_deliver_1000_reminders_once(services, clinic, workers):
    total = due_reminders(clinic, appointments=100, people_per_patient=10)
    with SmtpSink() as sink:
        env = worker_env(database_url=database_url(), smtp_port=sink.port, PUMPCARE_SEND_CLAIM_BATCH="50")
        names = ["alpha", "beta"]
        for name in names:
            workers(name, env)
        wait_ready(app, names)
        deliver_notifications.delay()  # two ticks at once: one on each worker
        deliver_notifications.delay()
        run_until_sent(total, seconds=120)
        assert_each_sent_once(sink, total)
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}


def test_an_smtp_server_refusing_for_a_while_gets_every_reminder_once_after_recovery(
    services, clinic, workers
):
    total = due_reminders(clinic, appointments=50, people_per_patient=4)
    with SmtpSink() as sink:
        env = worker_env(
            database_url=database_url(),
            smtp_port=sink.port,
            PUMPCARE_SEND_RETRY_BASE_SECONDS="0.5",
            PUMPCARE_SEND_RETRY_MAX_SECONDS="2",
            PUMPCARE_SEND_MAX_ATTEMPTS="30",
        )
        workers("alpha", env)
        workers("beta", env)
        wait_ready(app, ["alpha", "beta"])
        sink.recorder.refuse_count = total  # down for the first 200 attempts, then back
        run_until_sent(total, seconds=120, tick_every=0.3)
        assert sink.recorder.refused == total
        assert_each_sent_once(sink, total)
    retried = Notification.objects.filter(attempts__gt=1)
    assert retried.exists()  # the refused ones, sent on a later attempt
    assert not Notification.objects.filter(status="failed").exists()


def _settled(read, quiet=1.0, seconds=30):
    """``read()`` once it returns the same value twice ``quiet`` seconds apart."""
    deadline = time.monotonic() + seconds
    last = read()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = read()
        if now == last:
            return now
        last = now
    raise AssertionError(f"the rows kept moving: {last}")


def test_a_worker_killed_mid_batch_loses_nothing_once_the_sweeper_has_run(services, clinic, workers):
    total = due_reminders(clinic, appointments=100, people_per_patient=3)
    concurrency = 4
    with SmtpSink() as sink:
        sink.recorder.delay = 0.02  # 20 ms per message: the kill lands mid-batch
        env = worker_env(database_url=database_url(), smtp_port=sink.port, PUMPCARE_SEND_CLAIM_BATCH="100")
        victim = workers("victim", env, concurrency=concurrency)
        wait_ready(app, ["victim"])
        deliver_notifications.delay()
        deadline = time.monotonic() + 60
        while len(sink.recorder.accepted) < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        victim.kill()
        # A commit the victim sent just before it died may still land: count once the rows
        # have stopped moving.
        sent_before, stuck = _settled(
            lambda: (
                Notification.objects.filter(status="sent").count(),
                Notification.objects.filter(status="sending").count(),
            )
        )
        assert 0 < sent_before < total and stuck > 0, (sent_before, stuck)

        # The sweeper (its 10-minute limit, run as if 11 minutes had passed).
        assert delivery.stuck_sweep(now=timezone.now() + timedelta(minutes=11)) == stuck
        workers("rescuer", env, concurrency=concurrency)
        wait_ready(app, ["rescuer"])
        run_until_sent(total, seconds=120)

        counts = sink.recorder.counts()
        sent_ids = set(Notification.objects.values_list("message_id", flat=True))
        assert len(sent_ids) == total and set(counts) == sent_ids  # nothing lost
        duplicates = sink.recorder.duplicates()
        print(
            f"\nSIGKILL mid-batch: {sent_before} sent before the kill, {stuck} stuck, {duplicates} duplicates"
        )
        assert duplicates <= concurrency
    if os.environ.get("PUMPCARE_KEEP_WORKER_LOGS"):
        print(victim.log())


def test_a_database_outage_during_delivery_loses_nothing_and_sends_nothing_twice(services, clinic, workers):
    # Mid-batch, PostgreSQL refuses new connections and cuts the worker's (as a
    # restart or a failover does) for 4 seconds. Sends in flight keep retrying their record
    # (for half the sweeper's limit: 15 s here), tasks that failed before sending are
    # re-queued by the sweeper (5 s for one never started, 30 s for one started), and the
    # ticks sent during the outage fail quietly: one log line per process, no traceback.
    total = due_reminders(clinic, appointments=40, people_per_patient=3)
    name = connection.ops.quote_name(connection.settings_dict["NAME"])
    with SmtpSink() as sink:
        sink.recorder.delay = 0.02  # 20 ms per message: the outage lands mid-batch
        env = worker_env(
            database_url=database_url(),
            smtp_port=sink.port,
            PUMPCARE_SEND_CLAIM_BATCH="40",
            PUMPCARE_SEND_STUCK_AFTER_SECONDS="30",
            PUMPCARE_SEND_UNSTARTED_AFTER_SECONDS="5",
        )
        worker = workers("alpha", env, concurrency=4)
        wait_ready(app, ["alpha"])
        deliver_notifications.delay()
        deadline = time.monotonic() + 60
        while len(sink.recorder.accepted) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        # From the maintenance database: PostgreSQL will not close the one it is connected to.
        settings = connection.settings_dict
        with psycopg.connect(
            host=settings["HOST"] or "127.0.0.1",
            port=settings["PORT"] or 5432,
            user=settings["USER"] or "postgres",
            dbname="postgres",
            autocommit=True,
        ) as admin:
            try:
                admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
                cut = admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    [settings["NAME"]],
                ).fetchall()
                for _ in range(8):  # beat goes on ticking through the outage
                    deliver_notifications.delay()
                    time.sleep(0.5)
            finally:
                admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        connection.close()  # this test's own connection was cut too
        sent_during = len(sink.recorder.accepted)
        assert cut and sent_during < total, (len(cut), sent_during)
        run_until_sent(total, seconds=120)
        assert_each_sent_once(sink, total)  # nothing lost, nothing twice
        print(f"\ndatabase outage: {len(cut)} connections cut, {sent_during} accepted by its end")
    log = worker.log()
    assert "Traceback" not in log, log
    assert log.count("the database is unreachable") <= 5, log  # a line per process at most


def test_a_moved_appointment_sends_only_its_new_reminders(services, clinic, workers, nurse):
    from scheduling.appointments import appointment_book

    clinic.reminder_days_before = [7, 1]
    clinic.save()
    patient = PatientFactory(clinic=clinic, email="ada@example.org", communication_consent=True)
    pump = PumpFactory(patient=patient, implanted_on=date(2026, 1, 2))
    today = timezone.localdate()
    first_day = today + timedelta(days=20)
    while first_day.isoweekday() > 5:
        first_day += timedelta(days=1)
    appointment = Appointment.objects.create(pump=pump, kind="replacement", status="booked", day=first_day)
    reminders.appointment_reminders_plan(appointment)
    old = list(Notification.objects.filter(status="pending"))
    assert len(old) == 2
    new_day = first_day + timedelta(days=7)
    while new_day.isoweekday() > 5:
        new_day += timedelta(days=1)
    appointment_book(actor=nurse, appointment=appointment, day=new_day)
    assert {n.status for n in Notification.objects.filter(pk__in=[n.pk for n in old])} == {"cancelled"}
    new = Notification.objects.filter(status="pending")
    assert sorted(n.event_on for n in new) == [new_day, new_day]
    # Make every row due now, the cancelled ones too: only the new ones may go out.
    for i, row in enumerate(Notification.objects.all()):
        Notification.objects.filter(pk=row.pk).update(due_at=timezone.now() - timedelta(minutes=1 + i))
    with SmtpSink(keep_messages=True) as sink:
        workers("alpha", worker_env(database_url=database_url(), smtp_port=sink.port))
        wait_ready(app, ["alpha"])
        run_until_sent(2, seconds=60)
        assert_each_sent_once(sink, 2)
        bodies = [m.get_body(("plain",)).get_content() for m in sink.recorder.messages]
    day_text = f"{new_day:%A} {new_day.day} {new_day:%B %Y}"
    assert all(day_text in body for body in bodies), (day_text, bodies[0])
    assert {n.status for n in Notification.objects.filter(pk__in=[n.pk for n in old])} == {"cancelled"}
