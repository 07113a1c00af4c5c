"""The broker carries tasks to a real worker: Redis when REDIS_URL is set (CI), and the
filesystem transport that `make run` uses without Redis."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ROUND_TRIP = textwrap.dedent(
    """
    import os, threading, django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pumpcare.settings")
    django.setup()
    from celery.contrib.testing.worker import start_worker
    from pumpcare.celery import app

    done = threading.Event()

    @app.task(name="tests.round_trip")
    def round_trip(value):
        if value == 42:
            done.set()

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        round_trip.delay(42)
        assert done.wait(20), "the worker never ran the task"
    print("delivered through", app.connection().transport_cls)
    """
)


def run_round_trip(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS", "CELERY"))}
    clean.update({"DEBUG": "1", "PUMPCARE_VAR_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "-c", ROUND_TRIP], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_filesystem_broker_of_make_run_delivers_to_a_worker(tmp_path):
    result = run_round_trip(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "delivered through filesystem" in result.stdout


def test_redis_broker_delivers_to_a_worker(tmp_path, needs_redis):
    result = run_round_trip(tmp_path, REDIS_URL=needs_redis)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "delivered through redis" in result.stdout
