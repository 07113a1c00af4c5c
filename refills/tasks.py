"""Celery tasks: thin, each loads what it needs and calls one service.

The nightly job fans its batches out as tasks, so more workers finish a large registry
sooner; every batch task is idempotent (it stores what the inputs give), so it is safe to
run twice and with ``acks_late``.
"""

import logging
import time
from datetime import timedelta

from celery import group, shared_task
from celery.exceptions import MaxRetriesExceededError

from pumpcare import clock, data_version
from pumpcare.jobs import job_claim

from . import projections

log = logging.getLogger(__name__)

# A batch that found pumps held by another transaction (a refill being recorded, another
# batch) runs again this much later, to check them once that transaction committed.
LOCKED_RETRY_SECONDS = 5
LOCKED_RETRIES = 12


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
    _fan_out(ranges, force)
    return len(ranges)


@shared_task(name="refills.refresh_projection_batch", acks_late=True, bind=True)
def refresh_projection_batch(self, first_id: int, last_id: int, force: bool = False) -> dict:
    """One batch. Pumps another transaction held were skipped: the batch runs again a few
    seconds later, when it has committed, and recomputes those whose inputs still differ
    from what was stored (what that transaction stored may predate a catalog edit). The
    result has the counts and the batch's seconds, for sizing a cluster."""
    start = time.perf_counter()
    result = projections.projections_refresh_range(first_id, last_id, force=force).as_dict()
    result["seconds"] = round(time.perf_counter() - start, 3)
    if result["skipped_locked"] and not self.request.called_directly:
        try:
            self.retry(
                args=(first_id, last_id, False), countdown=LOCKED_RETRY_SECONDS, max_retries=LOCKED_RETRIES
            )
        except MaxRetriesExceededError:
            log.warning(
                "pumps %s..%s still held after %d tries: the nightly job checks them",
                first_id,
                last_id,
                LOCKED_RETRIES,
            )
    return result


def _fan_out(ranges: list[tuple[int, int]], force: bool = False) -> None:
    """One ``refresh_projection_batch`` task per range of pump ids."""
    if ranges:
        group(refresh_projection_batch.s(first, last, force) for first, last in ranges).apply_async()


@shared_task(name="refills.refresh_stale_projections")
def refresh_stale_projections(requeue: bool = True) -> int:
    """Recompute the projections an edit marked stale, one batch task per range of them.
    Queued when the edit commits (``requeue`` False: every stale projection); from beat
    every minute (``requeue`` True), only those stale longer than
    ``projections.REQUEUE_AFTER_SECONDS`` — their first queueing was lost (the broker was
    away) — so a recompute under way is not queued twice. Returns the batch count."""
    older_than = clock.now() - timedelta(seconds=projections.REQUEUE_AFTER_SECONDS) if requeue else None
    ranges = projections.stale_ranges(older_than=older_than)
    _fan_out(ranges)
    return len(ranges)


def on_projections_marked_stale(sender, **kwargs) -> None:
    """``projections_marked_stale`` (after the edit's commit): queue their recompute. Should
    the broker be away, the minute's sweep queues it later; the edit stands either way."""
    try:
        refresh_stale_projections.delay(requeue=False)
    except Exception:
        log.exception("the recompute of stale projections could not be queued: beat's sweep will")
