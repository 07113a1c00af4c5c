"""How long do emergency cards take to print, and how much memory? One wallet card, one
caregiver sheet, and a batch of 200 stale wallet cards (targets: ≤ 0.5 s and ≤ 30 s).

    .venv/bin/python bench/cards.py [--cards 200] [--database-url sqlite:////tmp/pumpcare-bench-cards.sqlite3]

Creates its own clinic, patients, pumps and first fills through the services (a fresh
SQLite file by default; a PostgreSQL URL works too, on a database it may wipe), then times
the services the endpoints call (role check, card data, render, record). Peak memory is
tracemalloc's peak of Python allocations (a second, traced run of the same call) and the
process's maximum RSS.
Prints figures; no assertions.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(url: str):
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pumpcare.settings")
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("flush" if not url.startswith("sqlite") else "migrate", verbosity=0, interactive=False)
    if not url.startswith("sqlite"):
        call_command("migrate", verbosity=0)


def seed(count: int):
    from django.utils import timezone

    from cards.models import CardSettings
    from patients.models import CatheterModel, PumpModel
    from patients.services import clinic_create, patient_create, pump_create, staff_create
    from refills.services import refill_record

    clinic = clinic_create(
        code="BENCH",
        name="Bench Neuromodulation Clinic",
        timezone_name="America/New_York",
        emergency_phone="+1 555 0100",
    )
    CardSettings.objects.create(clinic=clinic, default_physician="Dr. Ana Rivera", paper_size="letter")
    nurse, _ = staff_create(username="bench_nurse", clinic=clinic, role="nurse")
    models = [PumpModel.objects.get(code=c) for c in ("8637-20", "8637-40", "13827", "16827")]
    catheter = CatheterModel.objects.get(code="11823")
    now = timezone.now().replace(second=0, microsecond=0)
    pumps = []
    for i in range(count):
        patient = patient_create(
            actor=nurse,
            clinic=clinic,
            mrn=f"B-{i:05d}",
            given_name="Alexandra-Maria",
            family_name=f"Vandenberghe-Okonkwo {i}",
            birth_date=date(1950 + i % 50, 1 + i % 12, 1 + i % 28),
            spasticity_origin="spinal",
        )
        model = models[i % 4]
        pump = pump_create(
            actor=nurse,
            patient=patient,
            model=model,
            serial_number=f"BENCH-{i:06d}",
            implanted_on=(now - timedelta(days=400)).date(),
            catheter_model=catheter,
            catheter_length_cm=50,
        )
        refill_record(
            actor=nurse,
            pump=pump,
            performed_at=now - timedelta(days=i % 20),
            volume_withdrawn_ml=0,
            volume_added_ml=model.reservoir_ml,
            concentration_mcg_per_ml=500,
            prescription={"mode": "simple_continuous", "daily_dose_mcg": 200 + i % 100},
        )
        pumps.append(pump)
    return clinic, nurse, pumps


def measure(label: str, call, *, trace: bool = True):
    """Time ``call`` untraced; then, if ``trace``, run it again under tracemalloc for its
    peak of Python allocations (tracemalloc slows WeasyPrint several times over)."""
    start = time.perf_counter()
    result = call()
    elapsed = time.perf_counter() - start
    peak = ""
    if trace:
        tracemalloc.start()
        call()
        peak = f"peak {tracemalloc.get_traced_memory()[1] / 2**20:6.1f} MiB (tracemalloc)"
        tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {label:<44} {elapsed:7.3f} s   {peak:<30} max RSS so far {rss:5.0f} MiB")
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--database-url", default="sqlite:////tmp/pumpcare-bench-cards.sqlite3")
    args = parser.parse_args()
    setup(args.database_url)
    from django.db import connection

    from cards.services import card_issue, cards_issue_batch

    started = time.perf_counter()
    clinic, nurse, pumps = seed(args.cards)
    print(f"seeded {len(pumps)} pumps in {time.perf_counter() - started:.1f} s ({connection.vendor})")
    from cards.render import warm_up

    measure("warm-up at worker start (gunicorn post_worker_init)", warm_up)
    first = measure(
        "one wallet card, first after the warm-up", lambda: card_issue(actor=nurse, pump=pumps[0])
    )
    times = []
    for pump in pumps[1:6]:
        start = time.perf_counter()
        card_issue(actor=nurse, pump=pump)
        times.append(time.perf_counter() - start)
    print(f"  {'one wallet card, warm (median of 5)':<48} {sorted(times)[2]:7.3f} s")
    measure("one wallet card, warm, measured", lambda: card_issue(actor=nurse, pump=pumps[6]))
    measure(
        "one caregiver sheet (Letter)", lambda: card_issue(actor=nurse, pump=pumps[7], card_format="sheet")
    )
    # Every active pump's card (stale or not): the same 200 cards a first batch prints.
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    batch = measure(
        f"batch of {len(pumps)} wallet cards (every active pump)",
        lambda: cards_issue_batch(actor=nurse, clinic=clinic, stale_only=False),
        trace=False,
    )
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  batch: max RSS grew {rss_after - rss_before:.0f} MiB during the batch")
    print(
        f"  batch: {len(batch.cards)} cards, {len(batch.pdf) / 2**20:.1f} MiB PDF; "
        f"one card: {len(first.pdf) / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
