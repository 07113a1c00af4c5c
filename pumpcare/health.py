"""Health endpoints for the orchestrator (docker-compose.yml's healthcheck), open to anyone
and saying nothing but what is up:

- ``/health/live/``: the process answers (no database, no broker): 200 ``{"status": "alive"}``.
- ``/health/ready/``: the database answers ``SELECT 1`` and the broker accepts a connection,
  each within a couple of seconds: 200 ``{"status": "ready", "checks": {...: "ok"}}``, or 503
  ``{"status": "unavailable", "checks": {"database": "down", ...}, "detail": ...}`` naming
  what is down (never why: an error text could carry a host name or a user).

Plain Django views, outside the API and its OpenAPI document.
"""

from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pumpcare.celery import app

log = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        log.warning("readiness: the database did not answer: %s", exc)
        if not connection.in_atomic_block:
            try:  # checking a broken connection may reach the database too, and fail
                connection.close_if_unusable_or_obsolete()
            except Exception:  # noqa: BLE001, S110 - the next request opens a new one
                pass
        return False


def broker_ok() -> bool:
    try:
        with app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
            return True
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        log.warning("readiness: the broker did not answer: %s", exc)
        return False


@never_cache
@require_GET
def live(request):
    return JsonResponse({"status": "alive"})


@never_cache
@require_GET
def ready(request):
    checks = {"database": database_ok(), "broker": broker_ok()}
    body = {"status": "ready", "checks": {name: "ok" if up else "down" for name, up in checks.items()}}
    down = [name for name, up in checks.items() if not up]
    if not down:
        return JsonResponse(body)
    body["status"] = "unavailable"
    body["detail"] = f"{' and '.join(down)} not answering"
    return JsonResponse(body, status=503)
