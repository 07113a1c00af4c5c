"""Small helpers shared by the API test modules."""

import threading
from contextlib import contextmanager

import pytest
from django.db import connection, connections, transaction

from alerts.models import Alert
from patients.models import Pump
from refills.models import Prescription, Refill


def simple(daily_dose_mcg) -> dict:
    """A simple-continuous prescription (DOSE-1)."""
    return {"mode": "simple_continuous", "daily_dose_mcg": str(daily_dose_mcg)}


def therapy_rows() -> dict:
    """Row counts of everything a refill or prescription could write, history included:
    a refusal must leave every one unchanged."""
    return {
        "refills": Refill.objects.count(),
        "prescriptions": Prescription.objects.count(),
        "refill_history": Refill.history.count(),
        "prescription_history": Prescription.history.count(),
        "alerts": Alert.objects.count(),
        "alert_history": Alert.history.count(),
        "pump_history": Pump.history.count(),
    }


def assert_refused(response, field, code=None) -> dict:
    """A 400 that names ``field`` (and, if given, carries ``code``)."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["errors"], body
    assert body["errors"][field] and body["detail"], body
    if code is not None:
        assert body["code"] == code, body
    return body


def fill(api, pump, at, daily=250, volume_added_ml=20, **extra):
    """Record a first fill (or refill) of ``volume_added_ml`` at 500 mcg/mL through the API;
    ``extra`` adds fields (``implant_fill=True``)."""
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": at,
            "volume_withdrawn_ml": 0,
            "volume_added_ml": volume_added_ml,
            "concentration_mcg_per_ml": 500,
            "prescription": simple(daily),
            **extra,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def prescribe(api, pump, at, daily, reason="titration visit") -> dict:
    """Record a new simple-continuous prescription between refills through the API."""
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/prescriptions/",
        {"effective_at": at, "prescription": simple(daily), "reason": reason},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def clock_at(monkeypatch, instant):
    """Move the service's clock (``pumpcare.clock.now``) to ``instant``."""
    monkeypatch.setattr("pumpcare.clock.now", lambda: instant)


def deliver(capture, now=None) -> list:
    """Run the delivery tick and the send tasks it queues, in this process: the tasks are
    queued on commit, so ``capture`` (pytest-django's ``django_capture_on_commit_callbacks``)
    runs them. Returns the outcomes."""
    from alerts import delivery

    outcomes = []
    with capture(execute=True):
        delivery.due_claim_all(
            now=now, enqueue=lambda pk, claim: outcomes.append(delivery.notification_send(pk, claim))
        )
    return outcomes


def oral_course(
    api, patient, drug="baclofen_oral", dose_mg="10", times_per_day=3, started_on="2026-11-01"
) -> int:
    """Record an oral medication course through the API (ORAL-1); its id."""
    response = api.post(
        f"/api/v1/patients/{patient.pk}/oral-medications/",
        {
            "drug": drug,
            "dose_mg": dose_mg,
            "times_per_day": times_per_day,
            "started_on": started_on,
            "prescriber": "Dr O",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["medication"]["id"]


@contextmanager
def held_by_another_transaction(lock):
    """While the block runs, another transaction — in another thread, on a connection of its
    own — holds the rows ``lock()`` locked in it (a refill being recorded, the workers'
    batch). PostgreSQL only: skipped elsewhere (SQLite locks the whole database)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (DATABASE_URL); SQLite locks the whole database")
    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            lock()
            locked.set()
            release.wait(20)
        connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        yield
    finally:
        release.set()
        holder.join()
