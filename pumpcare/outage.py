"""The app while its database is away: a short answer, not a bare 500, and one
log line per outage, not a traceback per request or beat tick.

- ``database_unavailable(exc)``: is this error "the database cannot be reached" (connection
  refused or lost, server shutting down: psycopg's SQLSTATE class 08 and 57P01-57P03, or no
  SQLSTATE at all) rather than a fault of the statement (a deadlock or a timeout, which keep
  their ordinary 500 and traceback)?
- ``DatabaseOutageMiddleware`` turns such an error raised by a view (or its template) into
  503: ``{"code": "database_unavailable", "detail": …}`` under ``/api/``, a short page
  elsewhere (the nurses' pages, the patient's confirm page). ``server_error`` (handler500)
  does the same for one raised by a middleware (a session saved after the view).
- ``OutageLogFilter`` lets the first such error of an outage through as one line (no
  traceback), drops the rest, says "still unreachable" every 10 minutes, and starts a new
  outage after two minutes without one. It sits on the console handler (settings.LOGGING)
  and on Celery's handlers (pumpcare.celery), which replace the root logger's.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.views.defaults import server_error as django_server_error

log = logging.getLogger("pumpcare.outage")

RETRY_AFTER_SECONDS = 60
# SQLSTATEs of a database that is not there: connection exceptions (class 08), and the
# server shutting down or starting (admin_shutdown, crash_shutdown, cannot_connect_now).
_UNREACHABLE_STATES = ("57P01", "57P02", "57P03")

API_DETAIL = "The database cannot be reached just now; nothing was read or saved. Try again in a minute."
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Temporarily unavailable</title></head>
<body><h1>Temporarily unavailable</h1>
<p>The records cannot be reached just now, so nothing was shown or saved.
Please try again in a few minutes.</p></body></html>
"""


def database_unavailable(exc: BaseException | None) -> bool:
    """True for an error that says the database cannot be reached (see the module)."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, InterfaceError):
            return True
        if isinstance(exc, OperationalError):
            state = getattr(exc.__cause__, "sqlstate", None)
            return state is None or state.startswith("08") or state in _UNREACHABLE_STATES
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def outage_response(request) -> HttpResponse:
    """503: JSON for the API, a short page for people."""
    if request.path.startswith("/api/"):
        response = JsonResponse({"code": "database_unavailable", "detail": API_DETAIL}, status=503)
    else:
        response = HttpResponse(PAGE, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseOutageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_unavailable(exception):
            return None
        log.error(
            "%s %s answered 503: the database is unreachable",
            request.method,
            request.path,
            exc_info=exception,
        )
        return outage_response(request)


def server_error(request, *args, **kwargs):
    """handler500: an unreachable database raised outside a view is a 503 too."""
    if database_unavailable(sys.exc_info()[1]):
        return outage_response(request)
    return django_server_error(request, *args, **kwargs)


class OutageLogFilter(logging.Filter):
    """One line per database outage instead of a traceback per request, task or beat tick."""

    ended_after = 120.0  # seconds without such an error: the outage is over
    remind_every = 600.0  # seconds between "still unreachable" lines

    # One state for every handler and logger of the process.
    _lock = threading.Lock()
    _state = {"last_error": None, "last_line": None, "dropped": 0}

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not database_unavailable(exc):
            return True
        now = time.monotonic()
        with self._lock:
            state = self._state
            new = state["last_error"] is None or now - state["last_error"] > self.ended_after
            state["last_error"] = now
            if not new and now - state["last_line"] < self.remind_every:
                state["dropped"] += 1
                return False
            dropped, state["dropped"], state["last_line"] = state["dropped"], 0, now
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if new:
            text = f"the database is unreachable ({reason}); its further errors are not logged until it answers again"
        else:
            text = f"the database is still unreachable ({reason}); {dropped} errors not logged"
        record.msg, record.args = f"{record.getMessage()} -- {text}", None
        record.exc_info, record.exc_text = None, None
        return True


def install_filter(logger: logging.Logger) -> None:
    """Put the outage filter on each of ``logger``'s handlers (once)."""
    for handler in logger.handlers:
        if not any(isinstance(f, OutageLogFilter) for f in handler.filters):
            handler.addFilter(OutageLogFilter())
