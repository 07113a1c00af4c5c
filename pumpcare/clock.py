"""The service's one notion of "now", so that tests can fix it in one place
(``tests/conftest.py``'s ``frozen_now``) and every service and selector agrees on it."""

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    """The current instant, aware, in UTC (or the instant being replayed, see ``replaying``)."""
    return _replayed.get() or timezone.now()


_replayed: ContextVar[datetime | None] = ContextVar("replayed", default=None)


@contextmanager
def replaying(at: datetime):
    """Inside the block, "now" is ``at``: a past record is entered as it happened, so the
    checks and alerts the services run see the pump as it was then (the demo loader
    replays a therapy history; otherwise each past refill would raise, and the next one
    resolve, alerts for a pump that was never in that state)."""
    if at.tzinfo is None:
        raise ValueError("replaying needs an aware instant")
    token = _replayed.set(at)
    try:
        yield at
    finally:
        _replayed.reset(token)
