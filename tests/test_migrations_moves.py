"""Appointments and calendar feeds moved from ``refills`` to ``scheduling``, the data version
to ``pumpcare``, and the outbox lost its key to the appointment (its subject names it). On a
database filled by ``loaddemo`` and the factories, migrating back to before the move and
forward again loses no row and keeps every id."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from alerts.models import Notification
from pumpcare.models import DataChange, DataVersion
from scheduling.models import Appointment, CalendarFeed
from tests.factories import MembershipFactory, PumpFactory

BEFORE = [
    ("alerts", "0011_sweep_with_every_delivery_tick"),
    ("refills", "0011_pump_explant_screening_trial"),
    ("scheduling", None),
    ("pumpcare", None),
]
MOVED = {  # table before the move → table after it
    "refills_appointment": "scheduling_appointment",
    "refills_historicalappointment": "scheduling_historicalappointment",
    "refills_calendarfeed": "scheduling_calendarfeed",
    "refills_historicalcalendarfeed": "scheduling_historicalcalendarfeed",
    "refills_dataversion": "pumpcare_dataversion",
    "refills_datachange": "pumpcare_datachange",
}


def _ids(table: str) -> list:
    column = "history_id" if "historical" in table else "id"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} ORDER BY {column}")  # noqa: S608 - constant names
        return [row[0] for row in cursor.fetchall()]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


# Migrations need real transactions; serialized_rollback as every transactional test here, so
# the test after it finds the content types and catalogs the database was created with.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_move_loses_no_row_forward_and_backward(monkeypatch):
    call_command("loaddemo", "--allow-production", verbosity=0)
    member = MembershipFactory(role="nurse")
    pump = PumpFactory(patient__clinic=member.clinic)
    appointment = Appointment.objects.create(pump=pump, kind="refill", status="booked", day=date(2031, 1, 6))
    CalendarFeed.objects.create(clinic=member.clinic, created_by=member.user)
    reminder = Notification.objects.create(
        clinic=member.clinic,
        kind="refill_reminder",
        recipient=f"patient:{pump.patient_id}",
        recipient_role="patient",
        subject=f"appointment:{appointment.pk}",
        due_at="2031-01-05T08:00:00Z",
        pump=pump,
        event_on=appointment.day,
    )
    after = {table: _ids(table) for table in MOVED.values()}
    assert all(after.values()), after  # every moved table has rows to lose
    assert DataVersion.objects.exists() and DataChange.objects.exists()

    try:
        _migrate(BEFORE)
        before = {old: _ids(old) for old in MOVED}
        assert before == {old: after[new] for old, new in MOVED.items()}
        with connection.cursor() as cursor:
            cursor.execute("SELECT appointment_id FROM alerts_notification WHERE id = %s", [reminder.pk])
            assert cursor.fetchone() == (appointment.pk,)  # the key is filled from the subject again
    finally:
        _migrate(_latest())

    assert {new: _ids(new) for new in MOVED.values()} == after
    assert Appointment.objects.get(pk=appointment.pk).pump == pump
    assert Appointment.history.filter(id=appointment.pk).exists()  # its audit trail came along
    assert Notification.objects.get(pk=reminder.pk).subject == f"appointment:{appointment.pk}"


@pytest.mark.django_db
def test_the_beat_jobs_and_content_types_carry_the_new_app_names():
    from django.contrib.contenttypes.models import ContentType
    from django_celery_beat.models import PeriodicTask

    tasks = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {"scheduling.propose_refills", "scheduling.plan_replacements"} <= tasks
    assert not {task for task in tasks if task.startswith("refills.") and "projection" not in task}
    assert ContentType.objects.get_for_model(Appointment).app_label == "scheduling"
    assert ContentType.objects.get_for_model(DataVersion).app_label == "pumpcare"
