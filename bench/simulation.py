"""Wall time and peak memory of ``manage.py simulate_clinic`` at a given size.

    DEBUG=1 python bench/simulation.py --pumps 200 --days 365 [--profile-day]

Runs the command in this process (on the in-memory SQLite database it creates, unless
DATABASE_URL names PostgreSQL), prints the wall time and the peak RSS
(``resource.getrusage``), and extrapolates linearly to 2000 pumps × 365 days. With
``--profile-day`` it profiles one simulated day (cProfile, top 25 by cumulative time).

Where the time goes (cProfile, 50 pumps, SQLite, 20 days): creating the database (all
migrations) is a fixed ~9 s; of the day loop, the planning job (``plan_notifications``:
state alerts, escalations, the reminder pass, each run over every pump or booked
appointment) takes about half, ``refill_record`` about a third (projection, REFILL-1 and
DRIFT-1 checks, signals to scheduling that raise/resolve state alerts, history rows),
and the nightly refresh and proposals the rest. The first day (``--profile-day``, 100
pumps: 4.1 s) is different: every pump is proposed at once, and each proposal's
``save_audited`` runs ``full_clean``, whose constraint validation queries the database
(about 17 ms a proposal), plus the nurses' first bookings. The cost per day grows with the
number of pumps (every pass reads each pump), so the whole run grows as pumps × days.

Measured (SQLite in memory, 2 cores shared with another simulation): 200 pumps × 365 days
in 740 s, peak RSS 115 MB, 1390 refills; extrapolated to 2000 × 365: about 2 h.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pumpcare.test_settings")

import django  # noqa: E402

django.setup()

from simulation import report  # noqa: E402
from simulation.run import Options, Simulation, fresh_database, simulate  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pumps", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile-day", action="store_true", help="profile the first simulated day")
    parser.add_argument("--profile-days", type=int, metavar="N", help="profile the first N simulated days")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.profile_day or args.profile_days:
        with fresh_database():
            sim = Simulation(Options(pumps=args.pumps, days=args.profile_days or 1, seed=args.seed))
            sim.setup()
            sim.setup = lambda: None  # already done: profile the day alone
            profiler = cProfile.Profile()
            profiler.enable()
            sim.run()
            profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())
        return
    started = time.perf_counter()
    results = simulate(Options(pumps=args.pumps, days=args.days, seed=args.seed))
    wall = time.perf_counter() - started
    print(report.text(results))
    perf = results.performance
    per_pump = perf["setup_seconds"] / args.pumps
    per_pump_day = (perf["wall_seconds"] - perf["setup_seconds"]) / (args.pumps * args.days)
    print(f"wall {wall:.1f} s (database creation included), peak RSS {peak_rss_mb():.0f} MB")
    estimate = per_pump * 2000 + per_pump_day * 2000 * 365
    print(
        f"extrapolated to 2000 pumps × 365 days: ~{estimate / 3600:.1f} h "
        f"({per_pump:.3f} s per pump set up, {per_pump_day * 1000:.1f} ms per pump-day; linear in pumps × days)"
    )


if __name__ == "__main__":
    main()
