"""Celery tasks: thin, each loads what it needs and calls one service.

The nightly job fans its batches out as tasks, so more workers finish a large registry
sooner; every batch task is idempotent (it stores what the inputs give), so it is safe to
run twice and with ``acks_late``.
"""

from celery import group, shared_task

from pumpcare import clock, data_version
from pumpcare.jobs import job_claim

from . import projections


@shared_task(name="refills.refresh_projections")
def refresh_projections(force: bool = False) -> int | None:
    """Nightly: queue one batch task per range of active pumps; returns the batch count.
    Also deletes the data-change rows no data version reads any more.

    Once a night (UTC): a second run of the same night — another beat queued it too —
    does nothing and returns None. A forced run (every projection recomputed) is an
    operator's, and always runs."""
    if not force and not job_claim("refills.refresh_projections", clock.now().date().isoformat()):
        return None
    data_version.data_changes_prune()
    ranges = projections.id_ranges()
    if ranges:
        group(refresh_projection_batch.s(first, last, force) for first, last in ranges).apply_async()
    return len(ranges)


@shared_task(name="refills.refresh_projection_batch", acks_late=True)
def refresh_projection_batch(first_id: int, last_id: int, force: bool = False) -> dict:
    return projections.projections_refresh_range(first_id, last_id, force=force).as_dict()
