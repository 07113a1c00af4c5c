"""The nightly projection job through a real Celery worker and the real broker (Redis in
CI), not eager mode: the fan-out task queues one batch task per range of pumps, the worker
runs them, and every active pump ends up with its stored projection."""

import time
from datetime import date

import pytest
from celery.contrib.testing.worker import start_worker

from pumpcare.celery import app
from refills import tasks
from refills.models import PumpProjection
from tests.factories import PatientFactory, PumpFactory


def wait_for(condition, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_nightly_projection_job_runs_on_a_real_worker(needs_redis, clinic, monkeypatch):
    assert app.conf.broker_url.startswith("redis://"), app.conf.broker_url
    monkeypatch.setattr("refills.projections.BATCH_SIZE", 3)
    pumps = [
        PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2)) for _ in range(7)
    ]
    PumpProjection.objects.all().delete()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        tasks.refresh_projections.delay(force=True)  # fans out 3 batch tasks: 7 pumps in ranges of 3
        assert wait_for(lambda: PumpProjection.objects.count() == len(pumps))
