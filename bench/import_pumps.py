"""A clinic's registry of N pumps imported from a spreadsheet, on PostgreSQL.

    .venv/bin/python bench/import_pumps.py [--rows 2000] [--kind csv|xlsx]
        [--database-url postgres://postgres@127.0.0.1:5432/pumpcare_bench_import]

It (re)creates the bench database, writes an N-row registry file in the import's columns
(one pump per patient, a mix of continuous, flex and periodic prescriptions, one caregiver
in two, a booked refill in three), then times, through ``exchange.imports`` — the services
the API uses, every check included — the import of the whole file in one transaction, the
import of the same file again (nothing changes) and the export of the registry. It prints
wall times, rows per second, this process's CPU and the queries a row. No assertions. The
target is under a minute for 2,000 rows.

Measured (3 Dec 2026, 2 cores, loaded: a mutation-testing run, a simulation and other test
runs, load average 3 to 5; before and after in turns, four runs each): 2,000 rows (xlsx)
imported in 35.5 to 78.8 s (mean 51.2 s), 30.1 s of it this process's CPU, 38.4 queries a
row, since the file's patients and pumps are looked up once, each uniqueness checked once
and the default drug read once (before: 55.2 to 82.5 s, mean 67.2 s, 37.5 s CPU, 46.4
queries a row; 52 queries a row before the role was read once, 96 queries a row and 258 s
before the import batched the projection refresh and the state alerts); the 78.8 s (and
82.5 s before) on the machine saturated by three other jobs, 35.5 to 54.0 s otherwise;
re-import 14 to 20 s; export 1 to 2 s. Again after the merge, with one other job running
(load average 2.3 to 2.9): 36.5 s (29.5 s CPU), re-import 9.7 s, export 1.0 s. The wall
time follows the machine's load; the time
is Django building and running the services' queries (docs/import.md, "Speed").
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from nightly_projection import prepare_database  # noqa: E402

PRESCRIPTIONS = [
    "continuous 150/day",
    "continuous 220.5/day",
    "flex 00:00 6/h; 08:00 8/h; 20:00 6/h",
    "periodic 120/day; 08:00 25 over 30 min; 20:00 25 over 30 min",
    "continuous 100/day + on demand 10 max 4/day lockout 120 min",
]


def registry_rows(n: int, today) -> list[dict[str, str]]:
    rng = random.Random(16)
    rows = []
    for i in range(n):
        refill_at = today - timedelta(days=rng.randint(1, 10))
        row = {
            "mrn": f"B{i:06d}",
            "family_name": f"Family{i}",
            "given_name": rng.choice(["Ana", "Ben", "Chen", "Dara", "Eli"]),
            "birth_date": f"{rng.randint(1940, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "origin": rng.choice(["spinal", "cerebral"]),
            "phone": f"+1 555 {i:04d}",
            "email": "",
            "consent": rng.choice(["yes", "no"]),
            "pump_model": "8637-20",
            "pump_serial": f"BENCH{i:06d}",
            "implanted_on": f"{rng.randint(2019, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "catheter_model": "8709SC",
            "catheter_length_cm": str(rng.randint(30, 60)),
            "last_refill_at": f"{refill_at:%Y-%m-%d} 10:{rng.randint(0, 59):02d}",
            "volume_ml": "20",
            "concentration_mcg_per_ml": "500",
            "prescription": rng.choice(PRESCRIPTIONS),
        }
        if i % 2 == 0:
            row |= {
                "caregiver_name": f"Carer {i}",
                "caregiver_relation": "spouse",
                "caregiver_consent": "yes",
            }
        if i % 3 == 0:
            day = today + timedelta(days=rng.randint(3, 14))
            while day.isoweekday() > 5:
                day += timedelta(days=1)
            row["next_appointment"] = f"{day:%Y-%m-%d} 09:30"
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--kind", choices=["csv", "xlsx"], default="xlsx")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/pumpcare_bench_import")
    args = parser.parse_args()

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pumpcare.settings")
    prepare_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from exchange.exports import registry_export
    from exchange.imports import registry_import
    from exchange.spreadsheet import read, write
    from patients.models import Pump
    from patients.services import clinic_create, staff_create
    from pumpcare import clock

    call_command("migrate", verbosity=0)
    clinic = clinic_create(
        code="BENCH", name="Bench Clinic", timezone_name="UTC", emergency_phone="+1 555 0100"
    )
    physician, _ = staff_create(username="bench-physician", clinic=clinic, role="physician")
    today = clock.now().date()
    content = write(registry_rows(args.rows, today), args.kind)
    name = f"registry.{args.kind}"

    def progress(done: int, total: int) -> None:
        if done % 250 == 0 or done == total:
            print(
                f"\r  row {done} of {total}", end="\n" if done == total else "", file=sys.stderr, flush=True
            )

    def timed_import(label: str):
        started, cpu = time.perf_counter(), time.process_time()
        sheet = read(content, name)
        queries = []

        def count(execute, sql, params, many, context):
            queries.append(1)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            report = registry_import(
                actor=physician, clinic=clinic, sheet=sheet, source=name, progress=progress
            )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"{label:10} {args.rows:,} rows ({args.kind}): {seconds:7.1f} s, {args.rows / seconds:6.1f} rows/s "
            f"(this process's CPU {cpu:.1f} s; {len(queries) / args.rows:.1f} queries a row) — "
            f"{report.summary()}"
        )
        refused = [r for r in report.rows if r.refusals][:3]
        for r in refused:
            print("   ", r.row, [x.text() for x in r.refusals])

    print(f"{os.cpu_count()} cores; the machine may be shared: the figures are wall times")
    timed_import("import")
    print(f"           {Pump.objects.filter(patient__clinic=clinic).count():,} pumps in pumpcare")
    timed_import("re-import")
    started = time.perf_counter()
    exported = registry_export(clinic, args.kind)
    print(
        f"export     {args.rows:,} rows ({args.kind}): {time.perf_counter() - started:7.1f} s, {len(exported):,} bytes"
    )


if __name__ == "__main__":
    main()
