"""The worklist of a clinic with 2,000 pumps under 20 concurrent clients, on PostgreSQL.

    .venv/bin/python bench/worklist_load.py [--pumps 2000] [--clients 20] [--seconds 15]
        [--workers 4] [--writes-per-minute 0] [--clinics 1] [--writes-at same-clinic]
        [--database-url postgres://postgres@127.0.0.1:5432/pumpcare_bench_worklist]

Seeds one clinic (therapy histories as in bench/nightly_projection.py), stores the
projections and refill proposals, serves the app with gunicorn on 127.0.0.1, and has
``--clients`` clients (in two processes) request the first page of the worklist as fast as
they can. Prints p50/p95/p99 latency and requests per second. No assertions. The load comes from
``wrk`` when it is installed (``apt-get install wrk``: a C client that leaves the two cores
to the server) or from Python threads in two processes (``--client python``), which take
a good part of the CPU themselves.

A page is cached until the next write or the next minute (``refills.worklist.cached_page``),
so the figures above are mostly cache hits. Two more figures keep that honest:

- before the load, the cost of one request in this process (Django's test client, no
  HTTP), served from the cache and rendered afresh (the cache cleared before each);
- ``--writes-per-minute N``: while the clients read, a nurse books N refill proposals a
  minute through the API (``POST /api/v1/appointments/{id}/book/``), each of which makes
  every worker render the page again; with ``--clinics N`` (N clinics of ``--pumps`` pumps)
  and ``--writes-at other-clinics`` the bookings happen at the other clinics, which leaves
  the page the clients read cached (the data version is per clinic).
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

    from patients.models import Clinic, StaffMembership
    from patients.services import staff_create
    from refills.projections import projections_refresh_all
    from scheduling.proposals import refill_proposals_run

    call_command("migrate", verbosity=0)
    seed(args.pumps * args.clinics, zones=["America/New_York"] * args.clinics)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have, in production
    projections_refresh_all(force=True)
    clinics = list(Clinic.objects.order_by("code"))  # B0 is the one the clients read
    for clinic in clinics:
        clinic.refill_slots_per_day = 12
        clinic.save()
        refill_proposals_run(clinic)
    user, token = staff_create(username="bench_nurse", clinic=clinics[0], role="nurse")
    for clinic in clinics[1:]:
        StaffMembership.objects.create(user=user, clinic=clinic, role="nurse")
    return token.key


def in_process(token: str, path: str) -> tuple[float, float]:
    """Median milliseconds of one request in this process: from the cache, and rendered."""
    from django.core.cache import cache
    from django.test import Client

    from pumpcare import caching

    browser = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")

    def median_ms(n: int, clear: bool) -> float:
        times = []
        for _ in range(n):
            if clear:
                cache.clear()
                caching.local_clear()
            start = time.perf_counter()
            assert browser.get(path).status_code == 200  # noqa: S101 - a bench that measures errors is wrong
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    median_ms(20, False)  # warm-up
    return median_ms(300, False), median_ms(30, True)


def writer(token: str, seconds: float, per_minute: float, elsewhere: bool, out) -> None:
    """A nurse booking refill proposals, ``per_minute`` a minute, through the API: at the
    clinic the clients read (B0), or (``elsewhere``) at the other clinics."""
    from scheduling.models import Appointment, AppointmentStatus

    proposals = Appointment.objects.filter(status=AppointmentStatus.PROPOSED)
    if elsewhere:
        proposals = proposals.exclude(pump__patient__clinic__code="B0")
    else:
        proposals = proposals.filter(pump__patient__clinic__code="B0")
    ids = list(proposals.order_by("day", "pk").values_list("pk", flat=True))
    booked, failed, start = 0, 0, time.perf_counter()
    for n, pk in enumerate(ids):
        wait = start + n * 60 / per_minute - time.perf_counter()
        if time.perf_counter() - start + max(wait, 0) >= seconds:
            break
        time.sleep(max(wait, 0))
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        conn.request(
            "POST",
            f"/api/v1/appointments/{pk}/book/",
            body=b'{"time": "10:00"}',
            headers={
                "Authorization": f"Token {token}",
                "Host": "127.0.0.1",
                "Content-Type": "application/json",
            },
        )
        response = conn.getresponse()
        response.read()
        conn.close()
        booked, failed = booked + (response.status == 200), failed + (response.status != 200)
    out.append((booked, failed))


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
        "--cache-url",
        default=os.environ.get("CACHE_URL", ""),
        help="CACHE_URL of the server (redis://...: one cache for the workers, as docker-compose runs it); "
        "default $CACHE_URL, else a cache in each worker",
    )
    parser.add_argument(
        "--writes-per-minute",
        type=float,
        default=0,
        help="refill proposals a nurse books a minute through the API during the load (0: none)",
    )
    parser.add_argument(
        "--writes-at",
        choices=["same-clinic", "other-clinics"],
        default="same-clinic",
        help="where the bookings happen: at the clinic the clients read, or at the other clinics",
    )
    parser.add_argument(
        "--clinics",
        type=int,
        default=1,
        help="clinics of --pumps pumps each; the clients read the first one's worklist",
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/pumpcare_bench_worklist"
    )
    args = parser.parse_args()
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
    # The bench speaks plain http on loopback, in this process as through the server: the
    # production default (redirect to https) would answer every request with a redirect.
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    if args.cache_url:
        os.environ["CACHE_URL"] = args.cache_url
        import redis

        redis.Redis.from_url(args.cache_url).flushdb()
    token = prepare(args)
    path = "/api/v1/worklist/?clinic=B0"
    cached_ms, rendered_ms = in_process(token, path)
    print(
        f"one request in-process (no HTTP), median: from the cache {cached_ms:.2f} ms, "
        f"rendered (cache cleared) {rendered_ms:.1f} ms"
    )
    # Plain http on the loopback: production's redirect to https is off here (no proxy).
    env = dict(
        os.environ, DEBUG="0", ALLOWED_HOSTS="127.0.0.1", DATABASE_CONN_MAX_AGE="600", SECURE_SSL_REDIRECT="0"
    )
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
        queue = multiprocessing.Queue()
        client(token, path, 2, 4, queue)  # warm-up
        queue.get()
        writes: list[tuple[int, int]] = []
        booking = threading.Thread(
            target=writer,
            args=(token, args.seconds, args.writes_per_minute, args.writes_at == "other-clinics", writes),
        )
        if args.writes_per_minute:
            booking.start()
        use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
        if use_wrk:
            requests, errors, p50, p95, p99 = run_wrk(token, path, args)
            load = "concurrent connections (wrk)"
        else:
            processes = [
                multiprocessing.Process(
                    target=client, args=(token, path, args.seconds, args.clients // 2, queue)
                )
                for _ in range(2)
            ]
            for p in processes:
                p.start()
            results = [queue.get() for _ in processes]
            for p in processes:
                p.join()
            latencies = sorted(x for lat, _ in results for x in lat)
            requests, errors = len(latencies), sum(e for _, e in results)
            p50, p95, p99 = (statistics.quantiles(latencies, n=100)[k] * 1000 for k in (49, 94, 98))
            load = "concurrent clients (Python)"
        if args.writes_per_minute:
            booking.join()
    finally:
        server.terminate()
        server.wait(30)
    print(
        f"worklist of {args.pumps:,} pumps (first page of 50; {args.clinics} clinic(s) of that size), "
        f"{args.clients} {load}, "
        f"gunicorn {args.workers} sync workers, {os.cpu_count()} cores, {args.seconds:.0f} s, "
        f"cache: {'Redis (shared)' if args.cache_url else 'one per worker'}:"
    )
    print(
        f"  {requests:,} requests, {requests / args.seconds:,.1f} req/s, errors {errors}; "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms"
    )
    if args.writes_per_minute:
        booked, failed = writes[0] if writes else (0, 0)
        print(
            f"  meanwhile {booked} refill proposals booked through the API "
            f"({args.writes_per_minute:g} a minute asked, at {args.writes_at.replace('-', ' ')}), {failed} failed"
        )


if __name__ == "__main__":
    main()
