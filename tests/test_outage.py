"""The app with its database away: the API answers 503 JSON, pages a short human
page (the nurses' pages and the patient's confirm page), the readiness endpoint says what is
down, and the logs carry one line per outage, not a traceback per request or tick.

The outage is real where it can be: the connection is pointed at a closed port (PostgreSQL),
so Django meets the same error psycopg raises when the server is gone."""

from __future__ import annotations

import logging
import socket
from datetime import date
from types import SimpleNamespace

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client

from pumpcare import outage
from scheduling.confirm import confirmation_token


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nobody listens there once the socket is closed


@pytest.fixture
def database_away(monkeypatch):
    """From here on every new connection is refused, as with the server down."""
    connection.close()
    if connection.vendor == "postgresql":
        monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
        monkeypatch.setitem(connection.settings_dict, "PORT", str(closed_port()))
    else:
        # SQLite: the test database lives in memory and its connection is never closed, so
        # refuse using it as well as opening a new one.
        def refused(*args, **kwargs):
            raise OperationalError("connection refused")

        monkeypatch.setattr(connection, "get_new_connection", refused)
        monkeypatch.setattr(connection, "ensure_connection", refused)
    yield
    connection.close()


@pytest.fixture(autouse=True)
def fresh_outage_log_state():
    outage.OutageLogFilter._state.update(last_error=None, last_line=None, dropped=0)
    yield
    outage.OutageLogFilter._state.update(last_error=None, last_line=None, dropped=0)


def test_health_live_answers_without_the_database(client, database_away):
    response = client.get("/health/live/")
    assert response.status_code == 200 and response.json() == {"status": "alive"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_health_ready_says_ready_anonymously_and_nothing_else(client):
    response = client.get("/health/ready/")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_health_ready_names_the_database_when_it_is_down(client, database_away):
    response = client.get("/health/ready/")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "down", "broker": "ok"},
        "detail": "database not answering",
    }


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_health_ready_names_the_broker_when_it_is_down(client, monkeypatch):
    monkeypatch.setattr("pumpcare.celery.app.conf.broker_url", f"redis://127.0.0.1:{closed_port()}/0")
    response = client.get("/health/ready/")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "broker": "down"}
    assert response.json()["detail"] == "broker not answering"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_api_answers_503_json_when_the_database_is_away(api, database_away):
    api.raise_request_exception = False
    response = api.get("/api/v1/patients/")
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "database_unavailable"
    assert "try again" in response.json()["detail"].lower()
    assert response["Retry-After"] == "60"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_nurses_page_is_a_short_human_page_when_the_database_is_away(nurse, database_away):
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "a-session-the-app-must-look-up"
    response = client.get("/")
    assert response.status_code == 503, response.content[:300]
    text = response.content.decode()
    assert response["Content-Type"].startswith("text/html")
    assert "Temporarily unavailable" in text and "try again in a few minutes" in text
    assert "Server Error" not in text and "Traceback" not in text and len(text) < 600


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_patients_confirm_page_is_a_short_human_page_when_the_database_is_away(database_away):
    # A genuine link from a reminder (signed; checking the signature needs no database).
    token = confirmation_token(SimpleNamespace(pk=1, day=date(2026, 12, 10), time=None), "patient")
    response = Client(raise_request_exception=False).get(f"/confirm/{token}/")
    assert response.status_code == 503
    assert "Temporarily unavailable" in response.content.decode()


def _wrapped(driver_error) -> OperationalError:
    try:
        try:
            raise driver_error
        except psycopg.Error as exc:
            raise OperationalError(str(exc)) from exc
    except OperationalError as exc:
        return exc


def test_which_errors_mean_the_database_is_away():
    assert outage.database_unavailable(_wrapped(psycopg.OperationalError("connection refused")))
    assert outage.database_unavailable(_wrapped(psycopg.errors.AdminShutdown("terminating connection")))
    # A fault of the statement keeps its 500 and its traceback.
    assert not outage.database_unavailable(_wrapped(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert not outage.database_unavailable(_wrapped(psycopg.errors.QueryCanceled("statement timeout")))
    assert not outage.database_unavailable(ValueError("x"))


def test_an_outage_raised_outside_a_view_is_a_503_too(rf):
    try:
        raise _wrapped(psycopg.OperationalError("connection refused"))
    except OperationalError:
        response = outage.server_error(rf.get("/api/v1/patients/"))
    assert response.status_code == 503 and b"database_unavailable" in response.content


def test_an_outage_is_one_log_line_not_a_traceback_each_time(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(outage.time, "monotonic", lambda: now[0])
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect()
    handler.addFilter(outage.OutageLogFilter())
    logger = logging.getLogger("tests.outage")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        error = _wrapped(psycopg.OperationalError("connection refused"))
        for _ in range(24):  # beat's 5-second tick for two minutes, less a second each
            logger.error("Database gave error", exc_info=error)
            now[0] += 4.9
        assert len(lines) == 1 and "Traceback" not in lines[0]
        assert "the database is unreachable (connection refused)" in lines[0]
        logger.error("something else", exc_info=ValueError("x"))
        assert len(lines) == 2 and "ValueError: x" in lines[1]  # other errors keep their traceback
        for _ in range(10):  # a worker's task failing every minute for ten minutes more
            now[0] += 60
            logger.error("Task raised unexpected", exc_info=error)
        assert len(lines) == 3 and "still unreachable" in lines[2] and "Traceback" not in lines[2]
        now[0] += 121  # two minutes without one: that outage is over; the next is a new one
        logger.error("Database gave error", exc_info=error)
        assert len(lines) == 4 and "the database is unreachable" in lines[3]
    finally:
        logger.removeHandler(handler)


def test_beat_with_its_database_away_waits_and_logs_one_line(tmp_path):
    # Beat died at start with an 80-line traceback (and again at each restart).
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.workers import ROOT

    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS", "REDIS_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="pumpcare.settings",
        DEBUG="0",
        SECRET_KEY="pumpcare-outage-" + "z" * 50,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{closed_port()}/pumpcare",
        PUMPCARE_VAR_DIR=str(tmp_path),
        CELERY_BROKER_URL="",
    )
    log_path = tmp_path / "beat.log"
    beat = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "celery", "-A", "pumpcare", "beat", "--loglevel", "INFO"]
        + ["--scheduler", "pumpcare.beat:DatabaseScheduler", "-s", str(tmp_path / "schedule")],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        time.sleep(12)  # three tries, 5 s apart
        assert beat.poll() is None, log_path.read_text()[-3000:]  # still there, waiting
        beat.send_signal(signal.SIGTERM)
        beat.wait(20)
    finally:
        if beat.poll() is None:
            os.killpg(beat.pid, signal.SIGKILL)
    log = log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert log.count("the database is unreachable") == 1, log[-3000:]
    assert "beat is waiting for the database" in log
