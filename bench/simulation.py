"""Wall time and peak memory of ``manage.py simulate_clinic`` at a given size.

    DEBUG=1 python bench/simulation.py --pumps 200 --days 365 [--profile-day]

Runs the command in this process (on the in-memory SQLite database it creates, unless
DATABASE_URL names PostgreSQL), prints the wall time and the peak RSS
(``resource.getrusage``), and extrapolates linearly to 2000 pumps × 365 days. With
``--profile-day`` it profiles one simulated day (cProfile, top 25 by cumulative time), with
``--profile-days N`` the first N. With ``--warm W`` it plays W days unmeasured (the first
booking wave) and then prints the CPU time per pump-day of the next ``--days``: the
steady-state cost, robust to a machine shared with other work.

Where the time goes now (cProfile of simulated days 20–26 at 200 pumps, SQLite, after the
first booking wave): ``refill_record`` about a third (about 0.3 s a refill: the projection,
REFILL-1 and DRIFT-1 checks, history rows, and the signals that complete the appointment,
re-plan its reminders and raise or resolve the pump's state alerts); the delivery tick
(``notification_send``: the planner's checks, the template, the row updates) about 15 %;
the reminder pass (every booked appointment and every row planned for it, three times a
day) about 15 %; the state-alert pass about 10 %; the nurses' desk (the simulator's own
reads and ``appointment_book``) about 10 %; the daily stale-card notice (it reads every
card of the clinic once a day) about 8 %; the nightly refresh, proposals and replacement
planning under 10 % together. Creating the database (all migrations) is a fixed ~9 s (more
on a loaded machine), and setting up the pumps about 0.1–0.3 s a pump (each is created and
filled through the services). Nearly every item grows with the number of pumps, so the run
grows as pumps × days.

Measured (``--warm 20 --days 10``: CPU seconds of the process over days 20–30, SQLite in memory,
on a machine loaded 9–13 on 2 cores, so wall times were 4–6× the CPU time): before the
set-based state pass, the leaner reminder pass and the skipped constraint queries,
6.98 ms CPU per pump-day at 100 pumps; after, 5.42 ms at 100 pumps and 4.01 ms at 500
pumps (peak RSS 120 MB). Extrapolated to 2000 × 365: 2000 × 365 × 4.0 ms ≈ 49 min of CPU
for the day loop plus a few minutes of setup, i.e. about 50–55 min on an idle machine —
not yet the 10 min target (≈ 0.8 ms per pump-day). Earlier figure (wall, before these
changes, 2 cores shared with another run): 200 pumps × 365 days in 740 s, peak RSS 115 MB,
1390 refills.

The full size, run (``manage.py simulate_clinic --pumps 2000 --days 365 --seed 1``, SQLite,
3 Dec 2026, the 2 cores shared with a CI run part of the time): 3997 s wall (184 s setup,
10.4 s per simulated day), 3594 s CPU (≈ 4.9 ms per pump-day), peak RSS 300 MB, 12,055
refills; 0 pumps past the true alarm, 0 empty, 0 duplicate and 0 lost reminders.

Measured again after the planning passes were made to read less per pump (3 Dec 2026: outbox
rows read as plain rows in the reminder pass and an appointment's planning; a pump's
state-alert pass asking in a query of ids whether any of its pumps is in a state before the
worklist's ranking; a pump's MRI pass reading MRIs only when one is open; the clinic's
calendar read only when a booking is to be checked; a booked, cancelled or missed
appointment read with its pump, patient and clinic; a message to the patient reusing the
patient read with the row). CPU seconds of the day loop (setup excluded), SQLite in memory,
seed 1, the code before and after run in turns on a machine loaded 3–4 on 2 cores: 200 pumps
× 60 days, 3 runs each, 2.75 ms CPU per pump-day before (2.65, 2.87, 2.75) and 2.43 after
(2.28, 2.49, 2.51), 51,413 queries before and 48,470 after (outbox-row reads 2,887 → 1,994,
pump reads 2,349 → 1,555, clinic reads 1,827 → 1,340); 500 pumps × 120 days, once each,
2.37 → 2.14 ms CPU per pump-day. The outcome figures were identical before and after, all of
them (the whole summary compared): at 200 × 60, 205 refills, 500 reminders; at 500 × 120,
1,015 refills, 2,716 reminders; 0 past the true alarm, 0 empty, 0 duplicate and 0 lost
reminders in both. The full size was not run again. Where the day loop's time goes after
(py-spy samples of the 200 × 60 run): ``refill_record`` 21 %, the planning job 25 % (the
reminder pass 11 %, the stale-card notice 6 %, the state passes 5 %), ``appointment_book``
13 %, the delivery tick 11 %, the nightly proposals 8 %. The day loop costs about 0.5 ms of
CPU per query on average, most of it in Django building and compiling the queries and
making the rows' objects (cProfile), little in SQLite itself.
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
from datetime import timedelta
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


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pumps", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile-day", action="store_true", help="profile the first simulated day")
    parser.add_argument("--profile-days", type=int, metavar="N", help="profile the first N simulated days")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--warm", type=int, metavar="W", help="play W days, then time --days (CPU)")
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
    if args.warm is not None:
        with fresh_database():
            sim = Simulation(Options(pumps=args.pumps, days=args.warm + args.days, seed=args.seed))
            sim.setup()
            for n in range(args.warm):
                sim.play_day(sim.o.start + timedelta(days=n))
            cpu, wall = cpu_seconds(), time.perf_counter()
            for n in range(args.warm, args.warm + args.days):
                sim.play_day(sim.o.start + timedelta(days=n))
            cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
        print(
            f"{args.pumps} pumps, days {args.warm}..{args.warm + args.days}: CPU {cpu:.1f} s, wall {wall:.1f} s, "
            f"{cpu / (args.pumps * args.days) * 1000:.2f} ms CPU per pump-day; peak RSS {peak_rss_mb():.0f} MB"
        )
        return
    started = time.perf_counter()
    results = simulate(Options(pumps=args.pumps, days=args.days, seed=args.seed))
    wall = time.perf_counter() - started
    print(report.text(results))
    perf = results.performance
    per_pump = perf["setup_seconds"] / args.pumps
    per_pump_day = (perf["wall_seconds"] - perf["setup_seconds"]) / (args.pumps * args.days)
    print(
        f"wall {wall:.1f} s (database creation included), CPU {cpu_seconds():.1f} s, "
        f"peak RSS {peak_rss_mb():.0f} MB"
    )
    estimate = per_pump * 2000 + per_pump_day * 2000 * 365
    print(
        f"extrapolated to 2000 pumps × 365 days: ~{estimate / 3600:.1f} h "
        f"({per_pump:.3f} s per pump set up, {per_pump_day * 1000:.1f} ms per pump-day; linear in pumps × days)"
    )


if __name__ == "__main__":
    main()
