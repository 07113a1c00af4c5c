"""The worklist of a clinic with 2,000 pumps under 20 concurrent clients, on PostgreSQL.

    .venv/bin/python bench/worklist_load.py [--pumps 2000] [--clients 20] [--seconds 15]
        [--workers 4] [--database-url postgres://postgres@127.0.0.1:5432/pumpcare_bench_worklist]

Seeds one clinic (therapy histories as in bench/nightly_projection.py), stores the
projections and refill proposals, serves the app with gunicorn on 127.0.0.1, and has
``--clients`` clients (in two processes) request the first page of the worklist as fast as
they can. Prints p50/p95/p99 latency and requests per second. No assertions. The load comes from
``wrk`` when it is installed (``apt-get install wrk``: a C client that leaves the two cores
to the server) or from Python threads in two processes (``--client python``), which take
a good part of the CPU themselves.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PORT = int(os.environ.get("BENCH_PORT", "8766"))
WRK_SCRIPT = """
wrk.headers["Authorization"] = "Token %s"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f\\n", summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def prepare(args) -> str:
    """Seed the database; return the nurse's token."""
    from nightly_projection import prepare_database, seed

    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pumpcare.settings")
    prepare_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from patients.models import Clinic
    from patients.services import staff_create
    from refills.projections import projections_refresh_all
    from refills.scheduling import refill_proposals_run

    call_command("migrate", verbosity=0)
    seed(args.pumps, zones=["America/New_York"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have, in production
    projections_refresh_all(force=True)
    clinic = Clinic.objects.get()
    clinic.refill_slots_per_day = 12
    clinic.save()
    refill_proposals_run(clinic)
    _, token = staff_create(username="bench_nurse", clinic=clinic, role="nurse")
    return token.key


def client(token: str, path: str, seconds: float, threads: int, out) -> None:
    latencies, errors = [], [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def loop():
        mine, failed = [], 0
        while time.perf_counter() < stop:
            start = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                conn.request("GET", path, headers={"Authorization": f"Token {token}", "Host": "127.0.0.1"})
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status != 200:
                    failed += 1
                    continue
            except OSError:
                failed += 1
                continue
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((latencies, errors[0]))


def run_wrk(token: str, path: str, args) -> tuple[int, int, float, float, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % token)
    output = subprocess.run(  # noqa: S603 - Debian's wrk, our arguments
        [
            "wrk",
            "-t2",
            f"-c{args.clients}",
            f"-d{args.seconds:.0f}s",
            "-s",
            script.name,
            f"http://127.0.0.1:{PORT}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    fields = next(line for line in output.splitlines() if line.startswith("RESULT")).split()[1:]
    return int(fields[0]), int(fields[1]), float(fields[2]), float(fields[3]), float(fields[4])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pumps", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: wrk (Debian's package; light, so the server gets the CPU) or Python threads",
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/pumpcare_bench_worklist"
    )
    args = parser.parse_args()
    token = prepare(args)
    env = dict(os.environ, DEBUG="0", ALLOWED_HOSTS="127.0.0.1", DATABASE_CONN_MAX_AGE="600")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:pumpcare.gunicorn_conf",
            "pumpcare.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/api/schema/")
                break
            except OSError:
                time.sleep(0.2)
        path = "/api/v1/worklist/?clinic=B0"
        queue = multiprocessing.Queue()
        client(token, path, 2, 4, queue)  # warm-up
        queue.get()
        use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
        if use_wrk:
            wrk_result = run_wrk(token, path, args)
            server.terminate()
            server.wait(30)
            requests, errors, p50, p95, p99 = wrk_result
            print(
                f"worklist of {args.pumps:,} pumps (first page of 50), {args.clients} concurrent connections (wrk), "
                f"gunicorn {args.workers} sync workers, {os.cpu_count()} cores, {args.seconds:.0f} s:"
            )
            print(
                f"  {requests:,} requests, {requests / args.seconds:,.1f} req/s, errors {errors}; "
                f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms"
            )
            return
        processes = [
            multiprocessing.Process(target=client, args=(token, path, args.seconds, args.clients // 2, queue))
            for _ in range(2)
        ]
        for p in processes:
            p.start()
        results = [queue.get() for _ in processes]
        for p in processes:
            p.join()
    finally:
        server.terminate()
        server.wait(30)
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"worklist of {args.pumps:,} pumps (first page of 50), {args.clients} concurrent clients, "
        f"gunicorn {args.workers} sync workers, {os.cpu_count()} cores, {args.seconds:.0f} s:"
    )
    print(
        f"  {len(latencies):,} requests, {len(latencies) / args.seconds:,.1f} req/s, errors {errors}; "
        f"p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
