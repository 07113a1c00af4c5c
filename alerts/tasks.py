"""Celery tasks of the outbox: thin, each calls one service.

No reminder is ever a far-future ETA task: rows wait in the database and the one-minute
delivery tick claims those that are due (with Redis, a task held longer than the
visibility timeout is delivered twice; a row in the database is not)."""

from celery import shared_task

from . import delivery, outbox, planners


@shared_task(name="alerts.deliver_notifications")
def deliver_notifications() -> int:
    """Every minute: re-queue rows whose task was lost (the sweeper), claim due rows and
    queue one send per row (on commit)."""
    return delivery.due_claim_all(enqueue=_send)


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
    """Every 5 minutes: the state passes the apps registered (the pump-state alerts: past
    empty, past alarm, refill due and not booked), then the messages of every open alert,
    then the message passes (appointment reminders, the daily notice of stale cards)."""
    counts: dict = {}
    for run in planners.passes(planners.STATE):
        counts.update(run())
    counts["alerts_planned"] = outbox.escalations_plan_all()
    for run in planners.passes(planners.MESSAGES):
        counts.update(run())
    return counts


def _send(pk: int, claim: str) -> None:
    send_notification.delay(pk, claim)
