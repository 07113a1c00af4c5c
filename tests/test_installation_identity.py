"""Message-IDs and iCalendar UIDs name the installation: a second
installation sent a different message under the same Message-ID, and its calendar events
shared UIDs with the first's. The identifier is generated once per database (it survives
restarts), or set with PUMPCARE_INSTANCE_ID."""

import os
import subprocess
import sys
from datetime import date, time
from pathlib import Path

import pytest
from django.core import mail

from alerts import identity
from alerts.models import Installation, Notification
from scheduling.calendar import render_feed
from scheduling.models import Appointment, CalendarFeed
from tests.conftest import NOW
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import deliver

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch, settings):
    settings.PUMPCARE_INSTANCE_ID = ""
    monkeypatch.setattr(identity, "_CACHE", {})


def another_installation(monkeypatch, instance="b0b0b0b0b0b0b0b0"):
    """The same database rows, as a second installation with its own identifier has them."""
    Installation.objects.update(instance_id=instance)
    monkeypatch.setattr(identity, "_CACHE", {})


@pytest.fixture
def row(clinic):
    clinic.staff_email = "desk@home.example"
    clinic.save()
    pump = PumpFactory(patient=PatientFactory(clinic=clinic))
    return Notification.objects.create(
        clinic=clinic,
        kind="refill_unbooked",
        recipient="staff:HOME",
        recipient_role="staff",
        subject=f"pump:{pump.pk}",
        pump=pump,
        due_at=NOW,
        email="desk@home.example",
    )


def test_the_identifier_is_made_once_and_kept_in_the_database(monkeypatch):
    first = identity.instance_id()
    assert len(first) == 16 and Installation.objects.get().instance_id == first
    monkeypatch.setattr(identity, "_CACHE", {})  # a restarted process reads the same one
    assert identity.instance_id() == first
    Installation.objects.all().delete()  # an emptied database makes a new one, once
    monkeypatch.setattr(identity, "_CACHE", {})
    made = identity.instance_id()
    assert made != first and identity.instance_id() == made == Installation.objects.get().instance_id


def test_two_installations_never_send_two_messages_under_one_message_id(
    row, monkeypatch, django_capture_on_commit_callbacks
):
    assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["sent"]
    here = mail.outbox[0].extra_headers["Message-ID"]
    assert here == f"<pumpcare.notification.{row.pk}.{identity.instance_id()}@localhost>"
    # The other installation's notification of the same number (its own database): another id.
    another_installation(monkeypatch)
    Notification.objects.filter(pk=row.pk).update(status="pending", sent_at=None, attempts=0)
    assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["sent"]
    there = mail.outbox[1].extra_headers["Message-ID"]
    assert there == f"<pumpcare.notification.{row.pk}.b0b0b0b0b0b0b0b0@localhost>" != here


def test_the_setting_names_the_installation(row, settings, django_capture_on_commit_callbacks):
    settings.PUMPCARE_INSTANCE_ID = "springfield-staging"
    deliver(django_capture_on_commit_callbacks)
    assert mail.outbox[0].extra_headers["Message-ID"] == (
        f"<pumpcare.notification.{row.pk}.springfield-staging@localhost>"
    )


def test_two_installations_never_publish_two_events_under_one_uid(clinic, nurse, monkeypatch):
    pump = PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2))
    appointment = Appointment.objects.create(
        pump=pump, kind="refill", status="booked", day=date(2026, 12, 14), time=time(9, 30)
    )
    feed = CalendarFeed.objects.create(clinic=clinic, created_by=nurse)
    here = identity.instance_id()
    assert f"UID:appointment-{appointment.pk}.{here}@pumpcare\r\n" in render_feed(feed)
    another_installation(monkeypatch)
    assert f"UID:appointment-{appointment.pk}.b0b0b0b0b0b0b0b0@pumpcare\r\n" in render_feed(feed)


@pytest.mark.parametrize("value", ["two words", "a@b", "<x>", "-x", "x" * 64])
def test_a_setting_that_cannot_stand_in_a_message_id_is_refused_at_start(tmp_path, value):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "REDIS", "CELERY"))}
    env.update(DEBUG="1", PUMPCARE_VAR_DIR=str(tmp_path), PUMPCARE_INSTANCE_ID=value)
    result = subprocess.run(
        [sys.executable, "-c", "import pumpcare.settings"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "PUMPCARE_INSTANCE_ID may hold letters, digits, '-' and '.' only" in result.stderr
