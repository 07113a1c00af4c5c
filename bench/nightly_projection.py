"""Nightly projection of N active pumps with realistic therapy histories, on PostgreSQL.

    .venv/bin/python bench/nightly_projection.py [--pumps 100000] [--workers 2,4]
        [--database-url postgres://postgres@127.0.0.1:5432/pumpcare_bench]

It (re)creates the bench database, seeds N pumps (each with a few refills and prescription
changes, a mix of simple-continuous, flex and periodic-bolus schedules, clinics in several
time zones), then measures, in the same run:

- baseline: one raw-SQL UPDATE computing the simple-continuous alarm date of every pump
  from its last refill and prescription (what a spreadsheet-grade system would do);
- cold: every projection recomputed (``projections_refresh_all(force=True)``), in this
  process, and with ``--workers`` Celery worker processes over Redis (``REDIS_URL``);
- nightly: the real nightly job, where nothing changed since the last run;
- catalog: an admin's edit of the drug every pump is filled with, through the service, in
  its transaction (rolled back afterwards): one no projection reads (its source text), and
  one every projection reads (its maximum time in the reservoir).

It prints wall time, queries issued, the ratio to the baseline and the CPU this process
(or the Celery workers) spent. No assertions.

Where the time goes (cold, one process, 5,000 pumps; profiled with cProfile and timed per
phase): a batch of 500 pumps costs ten queries. Two thirds of this process's CPU is the
calculation itself (``selectors.compute_projection``, mostly ``therapy.project`` on exact
fractions). The rest: reading the inputs (three queries returning plain rows, no model
instances, on PostgreSQL with per-pump lateral lookups from one array of ids; a clinic,
pump model and drug is one object a batch, each distinct schedule parsed once), the
fingerprints read again under the row locks (database time), and one INSERT … ON CONFLICT
a batch (the batch as one JSON document read by ``JSONB_TO_RECORDSET``). Per 5,000 pumps:
2.0–2.7 s wall and 1.4–1.6 s CPU here, of which the calculation 1.05 s CPU, the reads 0.2 s
CPU (0.4 s wall), the fingerprints 0.3 s wall (0.01 s CPU) and the write 0.35 s wall (0.13 s
CPU); the remaining wall time is PostgreSQL's, on the same two cores. Before: 4.7 s wall
and 3.1–3.3 s CPU (model instances for every pump, refill and prescription, and Django's
``bulk_create`` of every row, cost as much as the calculation). The nightly run with
nothing changed is one query a batch, outside any transaction (about 14 ms of database
time for 500 pumps: each pump's inputs read by index lookups, hashed and compared by
PostgreSQL), and almost no CPU here.

Measured at 100,000 pumps (300,000 refills, 433,333 prescriptions) on this 2-core machine
while other heavy work shared it (a mutation-testing run on one core; load average 3–5, so
figures move between runs by up to 30 %), PostgreSQL 15 with autovacuum off (the bench now
vacuums where autovacuum would: ``vacuum_if_autovacuum_is_off``), 3 December 2026, in one run
of ``--workers 2,4``:

- baseline: 0.75 s (1.1–1.8 s in earlier runs on an unvacuumed table);
- cold, one process: 30.3 s, 19.7 s CPU in the process (40x); earlier runs 46.7–48.5 s
  (before the lean batch path: 97.7 s);
- cold, 2 Celery worker processes: 28.1 s (37x), 200 batches of 500 pumps, 0.27 s a batch on
  average, 0.62 s the slowest; 4 worker processes: 16.9 s (22x), 0.33 s a batch. The target
  of 10x on 2 workers is not reached: the calculation (about 0.2 ms of CPU a pump) and
  PostgreSQL share the same two cores. Four processes on two cores still gain because a
  batch waits on the database for part of its time;
- nightly, nothing changed, one process: 1.58 s (2.1x; 0.07 s CPU here: the rest is the
  database); 2.81 s on 2 workers and 2.30 s on 4 (200 tasks' overhead: 0.02 s a batch);
- a catalog edit every projection reads (a drug's maximum days in the reservoir; then the
  value back), as the request sees it: 0.92 and 1.15 s (one process), 1.83 and 1.18 s (2
  workers), 0.84 and 0.91 s (4 workers) — 100,000 projections marked stale by one INSERT,
  10 queries (it was 44–54 s, recomputing all of them in the request). Every projection
  fresh again after the edit: 36–58 s recomputed in one process, 21–31 s on 2 workers,
  21–22 s on 4. An edit no projection reads (the drug's source text): 0.01–0.02 s.

Sizing: a batch of 500 pumps costs 0.3 s of a worker process, so a cold recompute of a
million pumps is 2,000 batches, about 600 worker-seconds: about 10 minutes on one process,
30 s on 20 worker processes on enough cores, provided PostgreSQL has the cores to answer
them (here it shares two). The nightly run with nothing changed is 0.02 s a batch, 40 s of
worker time for a million pumps.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ZONES = [
    "America/New_York",
    "Europe/Paris",
    "America/Los_Angeles",
    "Europe/London",
    "Australia/Sydney",
    "UTC",
]
PLANS = [
    {"mode": "simple_continuous", "daily_dose_mcg": "250"},
    {"mode": "simple_continuous", "daily_dose_mcg": "400"},
    {
        "mode": "flex",
        "steps": [
            {"start": "00:00", "dose_mcg_per_hour": "8"},
            {"start": "07:00", "dose_mcg_per_hour": "14"},
            {"start": "22:00", "dose_mcg_per_hour": "8"},
        ],
    },
    {
        "mode": "periodic_bolus",
        "basal_daily_dose_mcg": "150",
        "boluses": [
            {"time": "08:00", "dose_mcg": "25", "duration_minutes": 30},
            {"time": "20:00", "dose_mcg": "25", "duration_minutes": 30},
        ],
    },
]


def prepare_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def counting_queries():
    from django.db import connection

    counter = {"n": 0}

    def wrapper(execute, sql, params, many, context):
        counter["n"] += 1
        return execute(sql, params, many, context)

    return connection.execute_wrapper(wrapper), counter


def seed(pumps: int, zones: list[str] = ZONES) -> None:
    from django.contrib.auth import get_user_model

    import therapy
    from patients.models import CatheterModel, Clinic, Drug, Patient, Pump, PumpModel
    from refills.models import Prescription, Refill

    rng = random.Random(7)
    user = get_user_model().objects.create(username="bench")
    clinics = Clinic.objects.bulk_create(
        Clinic(code=f"B{i}", name=f"Bench {i}", timezone=tz, emergency_phone="1")
        for i, tz in enumerate(zones)
    )
    models = list(PumpModel.objects.all())
    catheter = CatheterModel.objects.get(code="11823")
    baclofen = Drug.objects.get(code="baclofen")
    parsed = [therapy.parse_prescription(p) for p in PLANS]
    today = datetime(2026, 11, 20, 9, tzinfo=UTC)
    chunk = 5000
    for start in range(0, pumps, chunk):
        n = min(chunk, pumps - start)
        patients = Patient.objects.bulk_create(
            Patient(
                clinic=clinics[(start + i) % len(clinics)],
                mrn=f"M{start + i}",
                given_name="Bench",
                family_name=f"Patient{start + i}",
                birth_date=date(1950 + (i % 50), 1 + i % 12, 1 + i % 28),
                spasticity_origin="spinal" if i % 3 else "cerebral",
            )
            for i in range(n)
        )
        rows = []
        for i, patient in enumerate(patients):
            model = models[i % len(models)]
            rows.append(
                Pump(
                    patient=patient,
                    model=model,
                    serial_number=f"S{start + i}",
                    implanted_on=date(2023, 1, 1) + timedelta(days=i % 700),
                    catheter_model=catheter,
                    catheter_length_cm=Decimal("60.0"),
                    low_reservoir_alarm_ml=model.low_reservoir_alarm_ml,
                )
            )
        created = Pump.objects.bulk_create(rows)
        refills, prescriptions = [], []
        for pump in created:
            reservoir = int(pump.model.reservoir_ml)
            plan_index = rng.randrange(len(PLANS))
            # Three refills, about six weeks apart, the last 1-40 days ago; a titration
            # between the last two, and one after the last refill for every third pump.
            last = today - timedelta(days=rng.randint(1, 40), hours=rng.randint(0, 8))
            for k, at in enumerate([last - timedelta(days=84), last - timedelta(days=42), last]):
                refills.append(
                    Refill(
                        pump=pump,
                        performed_at=at,
                        performed_by=user,
                        volume_withdrawn_ml=Decimal(0 if k == 0 else 3),
                        volume_added_ml=Decimal(reservoir),
                        drug=baclofen,
                        concentration_mcg_per_ml=Decimal(1000),
                        expected_residual_ml=None if k == 0 else Decimal(3),
                        discrepancy_ml=None if k == 0 else Decimal(0),
                    )
                )
                moments = [at] + (
                    [at + timedelta(days=10)] if k == 1 or (k == 2 and pump.pk % 3 == 0) else []
                )
                for m in moments:
                    prescriptions.append(
                        Prescription(
                            pump=pump,
                            effective_at=m,
                            drug=baclofen,
                            concentration_mcg_per_ml=Decimal(1000),
                            mode=PLANS[plan_index]["mode"],
                            schedule=parsed[plan_index].as_dict(),
                            daily_dose_mcg=therapy.units.rounded(
                                parsed[plan_index].daily_dose_mcg_total, Decimal("0.1")
                            ),
                            clock_utc_offset_minutes=0,
                            reason="bench",
                            created_by=user,
                        )
                    )
        Refill.objects.bulk_create(refills)
        Prescription.objects.bulk_create(prescriptions)
        print(f"  seeded {start + n:,} pumps", end="\r", flush=True)
    print()


BASELINE_SQL = """
UPDATE bench_baseline b
   SET alarm_at = lr.performed_at
       + ((lr.volume_added_ml - pu.low_reservoir_alarm_ml) * lr.concentration_mcg_per_ml / rx.daily_dose_mcg)
         * interval '1 day'
  FROM (SELECT DISTINCT ON (pump_id) pump_id, performed_at, volume_added_ml, concentration_mcg_per_ml
          FROM refills_refill ORDER BY pump_id, performed_at DESC) lr
  JOIN patients_pump pu ON pu.id = lr.pump_id
  JOIN (SELECT DISTINCT ON (pump_id) pump_id, daily_dose_mcg
          FROM refills_prescription ORDER BY pump_id, effective_at DESC) rx ON rx.pump_id = lr.pump_id
 WHERE b.pump_id = lr.pump_id
"""


CPU: dict[str, float] = {}  # this process's CPU seconds of each timed run, by label


def timed(label, func):
    wrapper, counter = counting_queries()
    start, cpu = time.perf_counter(), time.process_time()
    with wrapper:
        result = func()
    elapsed = time.perf_counter() - start
    CPU[label] = time.process_time() - cpu
    return elapsed, counter["n"], result


def vacuum_if_autovacuum_is_off() -> None:
    """A full recompute leaves a dead row version of every projection. Production
    PostgreSQL's autovacuum clears them; where it is off (this machine's), the bench
    vacuums the tables the recompute rewrote, as autovacuum would have, so the next figure
    is not that of a table ten times its size."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "on":
            return
        cursor.execute("VACUUM ANALYZE refills_pumpprojection")
        cursor.execute("VACUUM ANALYZE pumpcare_datachange")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _catalog_edit(changes: dict) -> tuple[float, int, int]:
    """An admin's edit of the drug every pump is filled with, through the service, committed
    as a request commits it: (seconds as the request sees them, queries, projections left
    stale for the workers)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from patients.models import Drug
    from patients.services import catalog_update
    from refills.models import StaleProjection

    admin, _ = get_user_model().objects.get_or_create(
        username="bench_admin", defaults={"is_superuser": True, "is_staff": True}
    )
    drug = Drug.objects.get(code="baclofen")

    def request():
        with transaction.atomic():
            catalog_update(actor=admin, entry=drug, changes=changes, reason="bench")

    seconds, queries, _ = timed("catalog", request)
    return seconds, queries, StaleProjection.objects.count()


def _until_fresh(start: float, timeout: float = 1800) -> float:
    """Seconds from ``start`` until no projection is stale any more."""
    from refills.models import StaleProjection

    while StaleProjection.objects.exists():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("projections still stale")
        time.sleep(0.1)
    return time.perf_counter() - start


def catalog_edits(recompute=None) -> list[tuple[str, float, int, int, float]]:
    """An admin edits the catalog entry of the drug every pump holds: a field no projection
    reads (its source text), then one every projection reads (its maximum days in the
    reservoir), then that one back. Each edit commits; the projections it marks stale are
    recomputed by ``recompute`` (None: the Celery workers, asked when the edit commits).
    Returns (what, seconds of the request, queries, projections marked stale, seconds from
    the edit until every projection is fresh again)."""
    from patients.models import Drug

    drug = Drug.objects.get(code="baclofen")
    results = []
    for what, changes in [
        ("its source text (no projection reads it)", {"source": drug.source + " (bench)"}),
        ("its maximum days in the reservoir", {"max_reservoir_days": drug.max_reservoir_days - 1}),
        ("that value back", {"max_reservoir_days": drug.max_reservoir_days}),
    ]:
        vacuum_if_autovacuum_is_off()  # the previous edit's recompute rewrote every projection
        start = time.perf_counter()
        seconds, queries, stale = _catalog_edit(changes)
        if recompute is not None:
            recompute()
        results.append((what, seconds, queries, stale, _until_fresh(start)))
    return results


def recompute_here() -> None:
    """The stale projections recomputed in this process, batch after batch, as the workers'
    batches would."""
    from refills import projections

    for first, last in projections.stale_ranges():
        projections.projections_refresh_range(first, last)


def print_catalog(results, where: str) -> None:
    for what, seconds, queries, stale, fresh in results:
        print(
            f"catalog   an admin edits the drug of every pump, {what}: the request {seconds:6.2f} s "
            f"({queries:,} queries, {stale:,} projections marked stale); every projection fresh "
            f"again {fresh:7.2f} s after the edit, {where}"
        )


def celery_runs(workers: int, cold: bool = True) -> tuple | None:
    """The nightly job's fan-out on ``workers`` Celery worker processes over Redis: one
    ``refresh_projection_batch`` task per range of 500 pumps, as ``refills.refresh_projections``
    queues them, timed until the last batch has finished (a result backend on Redis tells).
    Returns ((wall, batches, mean and slowest batch seconds) of every projection
    recomputed, or None, and of nothing changed); prints the catalog edits on these workers."""
    from celery import group

    from refills import projections
    from refills.tasks import refresh_projection_batch

    if not os.environ.get("REDIS_URL"):
        return None
    env = dict(
        os.environ, DJANGO_SETTINGS_MODULE="pumpcare.settings", CELERY_RESULT_BACKEND=os.environ["REDIS_URL"]
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "pumpcare",
            "worker",
            "-c",
            str(workers),
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--prefetch-multiplier=1",
        ],
        cwd=ROOT,
        env=env,
    )

    def fan_out(force: bool) -> tuple[float, int, float, float]:
        start = time.perf_counter()
        ranges = projections.id_ranges()
        results = (
            group(refresh_projection_batch.s(first, last, force) for first, last in ranges)
            .apply_async()
            .get(timeout=900, disable_sync_subtasks=False)
        )
        seconds = [r["seconds"] for r in results]
        return time.perf_counter() - start, len(seconds), sum(seconds) / len(seconds), max(seconds)

    try:
        from pumpcare.celery import app
        from tests.workers import wait_ready

        wait_ready(app, ["celery"])  # the worker has booted and answers
        first, last = projections.id_ranges()[0]
        group(refresh_projection_batch.s(first, last, False) for _ in range(workers * 2)).apply_async().get(
            timeout=120, disable_sync_subtasks=False
        )  # every pool process has loaded Django and connected
        cold_wall = fan_out(True) if cold else None
        vacuum_if_autovacuum_is_off()
        walls = cold_wall, fan_out(False)
        print_catalog(catalog_edits(), f"{workers} worker processes")
        return walls
    finally:
        worker.terminate()
        worker.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pumps", type=int, default=100_000)
    parser.add_argument(
        "--workers", default="2,4", help="the numbers of Celery worker processes to measure, comma-separated"
    )
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/pumpcare_bench")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database a previous run seeded (no seeding, no cold recompute): re-measure the nightly runs",
    )
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pumpcare.settings")
    if not args.reuse:
        prepare_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from refills.projections import projections_refresh_all
    from refills.tasks import on_projections_marked_stale

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    if not args.reuse:
        seed(args.pumps)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        if not args.reuse:
            cursor.execute("CREATE TABLE bench_baseline (pump_id bigint PRIMARY KEY, alarm_at timestamptz)")
            cursor.execute("INSERT INTO bench_baseline SELECT id FROM patients_pump")
        cursor.execute("SELECT count(*) FROM refills_refill")
        refills = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM refills_prescription")
        prescriptions = cursor.fetchone()[0]
    print(
        f"{'reusing' if args.reuse else 'seeded'} {args.pumps:,} active pumps, {refills:,} refills, {prescriptions:,} prescriptions "
        f"in {time.perf_counter() - started:.1f} s (PostgreSQL {connection.pg_version // 10000}, {os.cpu_count()} cores)"
    )

    def baseline():
        with connection.cursor() as cursor:
            cursor.execute(BASELINE_SQL)
            return cursor.rowcount

    base_s, base_q, rows = timed("baseline", baseline)
    print(
        f"baseline  one SQL UPDATE, simple-continuous alarm of {rows:,} pumps: {base_s:7.2f} s, {base_q} query"
    )
    if not args.reuse:
        cold_s, cold_q, cold = timed("cold", lambda: projections_refresh_all(force=True))
        print(
            f"cold      every projection recomputed, 1 process:  {cold_s:7.2f} s, {cold_q:,} queries "
            f"({cold.recomputed:,} recomputed), {cold_s / base_s:5.1f}x baseline, {CPU['cold']:.2f} s CPU here"
        )
    vacuum_if_autovacuum_is_off()
    warm_s, warm_q, warm = timed("nightly", projections_refresh_all)
    print(
        f"nightly   nothing changed since the last run:      {warm_s:7.2f} s, {warm_q:,} queries "
        f"({warm.checked:,} checked, {warm.recomputed:,} recomputed), {warm_s / base_s:5.1f}x baseline, "
        f"{CPU['nightly']:.2f} s CPU here"
    )
    # In this process: the workers are not asked (no worker runs yet).
    from refills.signals import projections_marked_stale

    projections_marked_stale.disconnect(dispatch_uid="projections-stale")
    print_catalog(catalog_edits(recompute_here), "recomputed in 1 process")
    projections_marked_stale.connect(on_projections_marked_stale, dispatch_uid="projections-stale")
    os.environ.setdefault("CELERY_RESULT_BACKEND", os.environ.get("REDIS_URL", ""))
    from pumpcare.celery import app

    app.conf.result_backend = os.environ["CELERY_RESULT_BACKEND"] or None
    for workers in [int(n) for n in args.workers.split(",")]:
        workers_cpu = children_cpu()
        runs = celery_runs(workers, cold=not args.reuse)
        workers_cpu = children_cpu() - workers_cpu
        if runs is None:
            print("celery    skipped: set REDIS_URL to measure the fan-out over Celery workers")
            break
        for what, run in zip(["every projection recomputed", "nightly, nothing changed"], runs, strict=True):
            if run is None:
                continue
            wall, batches, mean, slowest = run
            print(
                f"celery    {what}, {workers} worker processes: {wall:7.2f} s, {wall / base_s:5.1f}x baseline; "
                f"{batches} batches of up to 500 pumps, {mean:.3f} s a batch on average, {slowest:.3f} s the slowest"
            )
        print(
            f"celery    the {workers} worker processes' CPU, boot, runs and catalog edits: {workers_cpu:.1f} s"
        )


if __name__ == "__main__":
    main()
