"""django-celery-beat's database scheduler, waiting for its database at start.

The stock scheduler reads the schedule when beat starts: with the database away, beat died
with a traceback (and, restarted by the orchestrator, died again with another). This one
logs one line (pumpcare.outage folds the rest) and tries again every few seconds. Once
running, the stock scheduler already keeps going through an outage (its logged errors are
folded into one line per outage by the same filter)."""

from __future__ import annotations

import logging
import time

from django.db import DatabaseError, InterfaceError, connection
from django_celery_beat.schedulers import DatabaseScheduler as StockDatabaseScheduler

from pumpcare.outage import database_unavailable

log = logging.getLogger(__name__)

WAIT_SECONDS = 5


class DatabaseScheduler(StockDatabaseScheduler):
    _waiting = False

    def setup_schedule(self):
        if DatabaseScheduler._waiting:
            # Beat's SIGTERM handler syncs the scheduler, which it has not got yet: it makes
            # another, which lands here. Stop, as the signal asks.
            raise SystemExit("beat stopped while waiting for the database")
        DatabaseScheduler._waiting = True
        try:
            self._wait_for_database()
        finally:
            DatabaseScheduler._waiting = False
        return super().setup_schedule()

    def _wait_for_database(self):
        # Before the stock code reads: it marks the schedule read even when the read failed,
        # so it cannot simply be called again.
        while True:
            try:
                connection.ensure_connection()
                return
            except (DatabaseError, InterfaceError) as exc:
                if not database_unavailable(exc):
                    raise
                log.error("beat is waiting for the database to read its schedule", exc_info=exc)
                connection.close()
                time.sleep(WAIT_SECONDS)
