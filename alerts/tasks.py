"""Celery tasks of the outbox: thin, each calls one service.

No reminder is ever a far-future ETA task: rows wait in the database and the one-minute
delivery tick claims those that are due (with Redis, a task held longer than the
visibility timeout is delivered twice; a row in the database is not)."""

from celery import shared_task

from . import delivery, outbox


@shared_task(name="alerts.deliver_notifications")
def deliver_notifications() -> int:
    """Every minute: re-queue rows whose task was lost (the sweeper), claim due rows and
    queue one send per row (on commit)."""
    return delivery.due_claim_all()


# acks_late: a send whose worker dies is redelivered; the claim makes a second run a no-op
# once the first has started, and the sweeper covers a run that started and died.
@shared_task(name="alerts.send_notification", acks_late=True)
def send_notification(pk: int, claim: str) -> str:
    return delivery.notification_send(pk, claim).status


@shared_task(name="alerts.sweep_notifications")
def sweep_notifications() -> int:
    """Re-queue rows left "sending" (every delivery tick does this first; kept for a run by
    hand: ``celery -A pumpcare call alerts.sweep_notifications``)."""
    return delivery.stuck_sweep()


@shared_task(name="alerts.plan_notifications")
def plan_notifications() -> dict:
    """Every 5 minutes: raise and resolve the pump-state alerts (past empty, past alarm,
    refill due and not booked), then plan reminders, escalations and the daily notice of
    stale emergency cards."""
    from refills.scheduling import state_alerts_run_all  # refills depends on alerts

    states = state_alerts_run_all()
    return {
        **states.as_dict(),
        "appointments_planned": outbox.reminders_plan_all(),
        "alerts_planned": outbox.escalations_plan_all(),
        "card_notices_planned": outbox.card_stale_notices_plan(),
    }
