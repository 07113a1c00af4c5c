"""Delivery of N due reminders through Celery and Redis to an SMTP server on loopback.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/reminders.py \
        [--reminders 10000] [--workers 2] [--concurrency 2] \
        [--database-url postgres://postgres@127.0.0.1:5432/pumpcare_bench_mail]

It (re)creates the bench database, seeds booked refill appointments whose patients and
caregivers consent to reminders (10 people per appointment), plans their reminders with the
real planner and makes them due, starts an aiosmtpd server that counts every message by
its Message-ID and ``--workers`` Celery worker processes, then runs the delivery tick and
waits until every row is sent. It prints the planning time, the delivery time, messages per
second, duplicates (must be 0) and lost (must be 0). No assertions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from nightly_projection import prepare_database  # noqa: E402

PEOPLE_PER_APPOINTMENT = 10


def seed(reminders: int) -> int:
    from django.utils import timezone

    from patients.models import Caregiver, CatheterModel, Clinic, Patient, Pump, PumpModel
    from scheduling.models import Appointment

    clinic = Clinic.objects.create(
        code="BENCH",
        name="Bench Clinic",
        timezone="UTC",
        emergency_phone="+1 555 0100",
        reminder_days_before=[1],
    )
    appointments = reminders // PEOPLE_PER_APPOINTMENT
    patients = Patient.objects.bulk_create(
        Patient(
            clinic=clinic,
            mrn=f"B{i:06d}",
            given_name="Pat",
            family_name=f"Bench{i}",
            birth_date=date(1970, 1, 1),
            spasticity_origin="spinal",
            email=f"p{i}@example.org",
            communication_consent=True,
        )
        for i in range(appointments)
    )
    Caregiver.objects.bulk_create(
        Caregiver(
            patient=p,
            name=f"Carer {k}",
            relation="family",
            email=f"c{p.pk}-{k}@example.org",
            communication_consent=True,
        )
        for p in patients
        for k in range(PEOPLE_PER_APPOINTMENT - 1)
    )
    model, catheter = PumpModel.objects.get(code="8637-20"), CatheterModel.objects.get(code="8709SC")
    pumps = Pump.objects.bulk_create(
        Pump(
            patient=p,
            model=model,
            serial_number=f"BS{p.pk:07d}",
            implanted_on=date(2025, 1, 2),
            catheter_model=catheter,
            catheter_length_cm=50,
            low_reservoir_alarm_ml=model.low_reservoir_alarm_ml,
        )
        for p in patients
    )
    day = timezone.localdate() + timedelta(days=3)
    Appointment.objects.bulk_create(
        Appointment(pump=p, kind="refill", status="booked", day=day) for p in pumps
    )
    return appointments


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per worker")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/pumpcare_bench_mail")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit(
            "set REDIS_URL (for example redis://127.0.0.1:6379/0): delivery runs through Celery and Redis"
        )

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
    os.environ["DJANGO_SETTINGS_MODULE"] = "pumpcare.settings"
    prepare_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from alerts.models import Notification
    from alerts.tasks import deliver_notifications
    from pumpcare.celery import app
    from scheduling.reminders import reminders_plan_all
    from tests.smtp_sink import SmtpSink
    from tests.workers import Worker, wait_ready, worker_env

    call_command("migrate", verbosity=0)
    appointments = seed(args.reminders)
    started = time.perf_counter()
    reminders_plan_all()
    planned = Notification.objects.filter(status="pending").count()
    plan_s = time.perf_counter() - started
    Notification.objects.update(due_at=timezone.now() - timedelta(minutes=1))
    print(
        f"planned   {planned:,} reminders for {appointments:,} booked appointments in {plan_s:.1f} s "
        f"({planned / plan_s:,.0f} rows/s, {os.cpu_count()} cores)"
    )

    app.control.purge()
    with SmtpSink() as sink:
        env = worker_env(database_url=args.database_url, smtp_port=sink.port)
        names = [f"bench{i}" for i in range(args.workers)]
        workers = [Worker(name, env, args.concurrency) for name in names]
        try:
            wait_ready(app, names)
            started = time.perf_counter()
            deliver_notifications.delay()
            last_tick = time.perf_counter()
            while Notification.objects.filter(status="sent").count() < planned:
                time.sleep(0.25)
                if time.perf_counter() - last_tick > 60:  # beat's one-minute tick
                    deliver_notifications.delay()
                    last_tick = time.perf_counter()
                if time.perf_counter() - started > 1800:
                    raise TimeoutError("not delivered within 30 minutes")
            elapsed = time.perf_counter() - started
        finally:
            for worker in workers:
                worker.stop()
        counts = sink.recorder.counts()
    sent_ids = set(Notification.objects.filter(status="sent").values_list("message_id", flat=True))
    lost = len(sent_ids - set(counts)) + Notification.objects.exclude(status="sent").count()
    print(
        f"delivered {len(counts):,} messages through Celery/Redis to SMTP on loopback with {args.workers} workers x "
        f"{args.concurrency} processes in {elapsed:.1f} s: {len(counts) / elapsed:,.0f} messages/s, "
        f"duplicates {sink.recorder.duplicates()}, lost {lost}"
    )


if __name__ == "__main__":
    main()
