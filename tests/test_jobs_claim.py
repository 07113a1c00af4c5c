"""Two beats (a scaled service, an overlapping restart) queue the nightly projection job
twice: one run of a night fans out, the other does nothing and says so."""

import logging
import threading
from datetime import date, timedelta

import pytest
from django.db import connection, connections

from pumpcare.models import JobClaim
from refills import tasks
from tests.factories import PatientFactory, PumpFactory


@pytest.fixture
def queued(monkeypatch):
    """The batch groups the job queues, recorded instead of sent to a broker."""
    groups = []

    class Group:
        def __init__(self, signatures):
            self.signatures = list(signatures)

        def apply_async(self):
            groups.append(self.signatures)

    monkeypatch.setattr(tasks, "group", Group)
    return groups


def _pumps(clinic, count):
    return [
        PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2))
        for _ in range(count)
    ]


def test_a_second_run_of_the_same_night_does_nothing_and_says_so(
    clinic, frozen_now, queued, caplog, monkeypatch
):
    _pumps(clinic, 2)
    assert tasks.refresh_projections() == 1
    with caplog.at_level(logging.WARNING, logger="pumpcare.jobs"):
        assert tasks.refresh_projections() is None
    assert len(queued) == 1
    assert "already ran" in caplog.text and "does nothing" in caplog.text
    # the next night runs; an operator's forced recompute always does
    monkeypatch.setattr("pumpcare.clock.now", lambda: frozen_now + timedelta(days=1))
    assert tasks.refresh_projections() == 1
    assert tasks.refresh_projections(force=True) == 1
    assert len(queued) == 3
    assert JobClaim.objects.count() == 2


def test_claims_of_past_nights_are_deleted(clinic, frozen_now, queued, monkeypatch):
    _pumps(clinic, 1)
    tasks.refresh_projections()
    monkeypatch.setattr("pumpcare.clock.now", lambda: frozen_now + timedelta(days=31))
    tasks.refresh_projections()
    assert list(JobClaim.objects.values_list("period", flat=True)) == [
        (frozen_now + timedelta(days=31)).date().isoformat()
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_beats_running_the_nightly_job_at_once_fan_out_once(clinic, frozen_now, queued):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (DATABASE_URL); SQLite runs one at a time")
    _pumps(clinic, 3)
    start, results = threading.Barrier(2), []

    def beat():
        try:
            start.wait(10)
            results.append(tasks.refresh_projections())
        finally:
            connections.close_all()

    beats = [threading.Thread(target=beat) for _ in range(2)]
    for thread in beats:
        thread.start()
    for thread in beats:
        thread.join(30)
    assert sorted(results, key=str) == [1, None]
    assert len(queued) == 1
