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
from scheduling import tasks as scheduling_tasks
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


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_scheduling_job_runs_on_a_real_worker(needs_redis, clinic, nurse, frozen_now):
    from refills.projections import projections_refresh
    from scheduling.models import Appointment
    from tests.conftest import client_for

    api = client_for(nurse)
    pumps = [
        PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2)) for _ in range(3)
    ]
    for pump in pumps:  # filled 2026-11-20: refill-by Monday 2026-12-14
        response = api.post(
            f"/api/v1/pumps/{pump.pk}/refills/",
            {
                "performed_at": "2026-11-20T10:00:00Z",
                "volume_withdrawn_ml": 0,
                "volume_added_ml": 20,
                "concentration_mcg_per_ml": 500,
                "prescription": {"mode": "simple_continuous", "daily_dose_mcg": 250},
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
    projections_refresh([p.pk for p in pumps])
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
        scheduling_tasks.propose_refills.delay()
        assert wait_for(lambda: Appointment.objects.filter(status="proposed").count() == len(pumps))
    assert set(Appointment.objects.values_list("day", flat=True)) == {date(2026, 12, 14)}
