"""Periodic jobs run once per period, however many beats queue them.

Exactly one ``celery beat`` should run, but nothing in a deployment enforces it: a scaled
service, a second host or a restarted one that overlaps the old keeps its own clock and
queues the same job. The first run of a period inserts its claim (a unique row); any other
run of the same period fails to, does nothing and says so. The claim is a database row, so
it holds across processes and hosts in every deployment (PostgreSQL or the embedded SQLite),
and it is kept when the run fails: the period is retried by hand (``run_daily_jobs``), not by
a second beat.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction

from pumpcare import clock
from pumpcare.models import JobClaim

log = logging.getLogger(__name__)

KEPT_DAYS = 30


def job_claim(job: str, period: str) -> bool:
    """Claim ``job``'s run of ``period``: True for the first caller, False (logged) for any
    other. Claims older than ``KEPT_DAYS`` are deleted."""
    now = clock.now()
    try:
        with transaction.atomic():
            JobClaim.objects.create(job=job, period=period, claimed_at=now)
    except IntegrityError:
        log.warning("%s of %s already ran (another beat queued it too): this run does nothing", job, period)
        return False
    JobClaim.objects.filter(job=job, claimed_at__lt=now - timedelta(days=KEPT_DAYS)).delete()
    return True
