"""Reminders to patients and caregivers (ALERT-2, REFILL-4): planned when a refill
is booked, moved when it moves, cancelled when it is cancelled or done, sent once, and
saying no more than the date, the time, the place and the clinic's phone.

"Now" is Thursday 2026-11-26 12:00Z; the clinic is in UTC and reminds 14, 7 and 1 days
before, at 09:00 local time. A first fill on 2026-11-20 (20 mL, 250 mcg/day) has its
refill-by date on Monday 2026-12-14.
"""

import importlib
import itertools
from datetime import UTC, date, datetime
from email.header import decode_header, make_header

import pytest
from django.core import mail

from alerts.models import Notification
from patients.models import Caregiver
from scheduling import reminders
from scheduling.models import Appointment
from tests.conftest import client_for
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import clock_at, deliver, fill

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


def at(day, hour=9):
    return datetime(2026, *day, hour, 0, tzinfo=UTC)


@pytest.fixture
def home(clinic):
    clinic.phone = "+1 555 0123"
    clinic.address = "12 Harbour Road, Springfield"
    clinic.save()
    return clinic


@pytest.fixture
def patient(home):
    return PatientFactory(
        clinic=home,
        given_name="Ada",
        family_name="Byron",
        email="ada@example.org",
        communication_consent=True,
    )


@pytest.fixture
def caregivers(patient):
    return [
        Caregiver.objects.create(
            patient=patient,
            name="Grace Hopper",
            relation="sister",
            email="grace@example.org",
            communication_consent=True,
        ),
        Caregiver.objects.create(
            patient=patient,
            name="Alan Turing",
            relation="friend",
            email="alan@example.org",
            communication_consent=False,
        ),
    ]


@pytest.fixture
def pump(patient, api):
    pump = PumpFactory(patient=patient, implanted_on=date(2026, 1, 2))
    fill(api, pump, "2026-11-20T10:00:00Z")
    return pump


def book(api, pump, day="2026-12-14", time="10:30", kind="refill"):
    response = api.post(
        "/api/v1/appointments/", {"pump": pump.pk, "kind": kind, "day": day, "time": time}, format="json"
    )
    assert response.status_code == 201, response.json()
    return Appointment.objects.get(pk=response.json()["id"])


def rows(appointment, status=None):
    queryset = Notification.objects.filter(subject=f"appointment:{appointment.pk}")
    if status:
        queryset = queryset.filter(status=status)
    return sorted((n.recipient_role, n.due_at) for n in queryset)


@pytest.mark.rule("ALERT-2")
def test_booking_a_refill_plans_three_reminders_for_each_consenting_person(api, pump, caregivers):
    appointment = book(api, pump)
    # 2026-12-14 minus 14, 7 and 1 days, at 09:00 clinic time (UTC here).
    due = [at((11, 30)), at((12, 7)), at((12, 13))]
    assert rows(appointment, "pending") == sorted(
        [("patient", d) for d in due] + [("caregiver", d) for d in due]
    )
    pending = Notification.objects.filter(subject=f"appointment:{appointment.pk}", status="pending")
    assert {n.recipient for n in pending} == {f"patient:{pump.patient_id}", f"caregiver:{caregivers[0].pk}"}
    assert {n.kind for n in pending} == {"refill_reminder"}
    # The caregiver without consent is skipped visibly, not silently.
    skipped = Notification.objects.filter(recipient=f"caregiver:{caregivers[1].pk}")
    assert skipped.count() == 3
    assert {(n.status, n.status_reason) for n in skipped} == {
        ("cancelled", "skipped: no consent to reminders")
    }


@pytest.mark.rule("ALERT-2")
def test_the_reminder_days_are_a_clinic_setting(api, pump, home):
    home.reminder_days_before = [3]
    home.save()
    appointment = book(api, pump)
    assert rows(appointment, "pending") == [("patient", at((12, 11)))]


@pytest.mark.rule("ALERT-2")
def test_the_reminder_time_is_the_clinics_local_time(api, settings):
    from patients.models import Clinic

    clinic = Clinic.objects.get(code="HOME")
    clinic.timezone = "America/New_York"
    clinic.reminder_days_before = [1]
    clinic.save()
    patient = PatientFactory(clinic=clinic, communication_consent=True)
    pump = PumpFactory(patient=patient, implanted_on=date(2026, 1, 2))
    fill(api, pump, "2026-11-20T10:00:00Z")
    appointment = book(api, pump, day="2026-12-11")
    # 09:00 in New York on 2026-12-10 is 14:00 UTC (EST, UTC-5).
    assert rows(appointment, "pending") == [("patient", at((12, 10), 14))]


@pytest.mark.rule("ALERT-2")
def test_reminder_days_already_past_are_not_planned(api, pump):
    appointment = book(api, pump, day="2026-12-01")
    # 14 days before (11-17) and 7 days before (11-24) have passed; 1 day before is 11-30.
    assert rows(appointment, "pending") == [("patient", at((11, 30)))]


@pytest.mark.rule("ALERT-2")
def test_moving_an_appointment_cancels_its_reminders_and_plans_new_ones(api, pump):
    appointment = book(api, pump)
    response = api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"day": "2026-12-11"}, format="json")
    assert response.status_code == 200, response.json()
    old = Notification.objects.filter(subject=f"appointment:{appointment.pk}", event_on=date(2026, 12, 14))
    assert {(n.status, n.status_reason) for n in old} == {
        ("cancelled", "the appointment moved to 2026-12-11 10:30")
    }
    assert rows(appointment, "pending") == [
        ("patient", at((11, 27))),
        ("patient", at((12, 4))),
        ("patient", at((12, 10))),
    ]
    # Moving back revives the first rows rather than making new ones (one row per key).
    api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"day": "2026-12-14"}, format="json")
    assert rows(appointment, "pending") == [
        ("patient", at((11, 30))),
        ("patient", at((12, 7))),
        ("patient", at((12, 13))),
    ]
    assert Notification.objects.filter(subject=f"appointment:{appointment.pk}").count() == 6


@pytest.mark.rule("ALERT-2")
def test_a_new_time_the_same_day_tells_whoever_was_reminded_of_the_old_one(
    api, pump, caregivers, monkeypatch, django_capture_on_commit_callbacks
):
    appointment = book(api, pump)  # Monday 14 December, 10:30
    clock_at(monkeypatch, at((12, 13), 9))
    deliver(django_capture_on_commit_callbacks)  # the 1-day reminders: Ada and Grace read 10:30
    assert {("10:30" in m.body, m.to[0]) for m in mail.outbox} == {
        (True, "ada@example.org"),
        (True, "grace@example.org"),
    }
    mail.outbox.clear()
    clock_at(monkeypatch, at((12, 13), 15))
    response = api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"time": "14:00"}, format="json")
    assert response.status_code == 200, response.json()
    # No configured day before is left (14, 7 and 1 days before have passed): without a new
    # message the only one they hold says 10:30. Each is told again, at once.
    outcomes = deliver(django_capture_on_commit_callbacks)
    assert [o.status for o in outcomes] == ["sent", "sent"]
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.org", "grace@example.org"]
    for message in mail.outbox:
        assert "14:00" in message.body and "10:30" not in message.body
        assert "Monday 14 December 2026" in message.body
    assert deliver(django_capture_on_commit_callbacks) == []  # told once
    reminders.reminders_plan_all()  # the periodic pass finds the rows it made: nothing new
    assert deliver(django_capture_on_commit_callbacks) == []


@pytest.mark.rule("ALERT-2")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_reminders_sent_before_rows_named_their_slot_are_not_sent_again(
    api, pump, monkeypatch, django_capture_on_commit_callbacks
):
    """Migration alerts 0009 names the slot of the rows planned before it: a reminder sent
    then must not read as one for another slot, or everyone reminded would be told again.
    Its data step reads the outbox's key to the appointment, which a later migration removed:
    it runs here on the database migrated back to where it ran, with the models of then."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    migration = importlib.import_module("alerts.migrations.0009_notification_names_the_appointment_slot")
    appointment = book(api, pump)
    clock_at(monkeypatch, at((11, 30), 9))
    deliver(django_capture_on_commit_callbacks)
    subject = f"appointment:{appointment.pk}"
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    then = ("alerts", "0011_sweep_with_every_delivery_tick")
    try:
        executor.migrate([then])
        old = executor.loader.project_state(then).apps
        rows = old.get_model("alerts", "Notification").objects.filter(subject=subject)
        rows.update(event_slot="")  # as the rows were
        rows.filter(due_at=at((12, 13))).update(event_on=date(2026, 12, 10))
        migration.name_the_slots(old, None)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    assert sorted(Notification.objects.filter(subject=subject).values_list("event_slot", flat=True)) == [
        "2026-12-10",  # planned for a day the appointment has left: the day alone
        "2026-12-14 10:30",
        "2026-12-14 10:30",
    ]
    reminders.reminders_plan_all()
    assert deliver(django_capture_on_commit_callbacks) == []
    assert len(mail.outbox) == 1


@pytest.mark.rule("ALERT-2")
def test_a_new_time_the_same_day_moves_the_pending_reminders(api, pump):
    appointment = book(api, pump)
    response = api.post(f"/api/v1/appointments/{appointment.pk}/book/", {"time": "14:00"}, format="json")
    assert response.status_code == 200, response.json()
    old = Notification.objects.filter(subject=f"appointment:{appointment.pk}", event_slot="2026-12-14 10:30")
    assert {(n.status, n.status_reason) for n in old} == {
        ("cancelled", "the appointment moved to 2026-12-14 14:00")
    }
    new = Notification.objects.filter(subject=f"appointment:{appointment.pk}", event_slot="2026-12-14 14:00")
    # Same days (14, 7 and 1 before the same Monday): the same due times, new rows.
    assert sorted((n.status, n.due_at) for n in new) == [
        ("pending", at((11, 30))),
        ("pending", at((12, 7))),
        ("pending", at((12, 13))),
    ]


@pytest.mark.rule("ALERT-2")
def test_a_reminder_is_not_sent_for_a_time_changed_behind_the_planners_back(
    api, pump, monkeypatch, django_capture_on_commit_callbacks
):
    appointment = book(api, pump)
    Appointment.objects.filter(pk=appointment.pk).update(time="14:00")  # not through a service
    clock_at(monkeypatch, at((11, 30), 9))
    outcomes = deliver(django_capture_on_commit_callbacks)
    assert [(o.status, o.detail) for o in outcomes] == [
        ("cancelled", "the appointment moved to 2026-12-14 14:00")
    ]


@pytest.mark.rule("ALERT-2")
def test_cancelling_an_appointment_cancels_its_pending_reminders(api, pump):
    appointment = book(api, pump)
    api.post(
        f"/api/v1/appointments/{appointment.pk}/cancel/", {"reason": "patient in hospital"}, format="json"
    )
    assert rows(appointment, "pending") == []
    assert set(
        Notification.objects.filter(subject=f"appointment:{appointment.pk}").values_list(
            "status_reason", flat=True
        )
    ) == {"the appointment is cancelled"}


@pytest.mark.rule("ALERT-2", "REFILL-4")
def test_a_refill_completes_the_appointment_and_its_remaining_reminders_are_cancelled(api, pump, monkeypatch):
    appointment = book(api, pump, day="2026-12-14")
    clock_at(monkeypatch, at((12, 8), 12))
    fill(api, pump, "2026-12-08T11:00:00Z", volume_added_ml=15)
    appointment.refresh_from_db()
    assert appointment.status == "completed"
    assert rows(appointment, "pending") == []
    assert Notification.objects.get(
        subject=f"appointment:{appointment.pk}", due_at=at((12, 13))
    ).status_reason == ("the appointment is completed")


@pytest.mark.rule("ALERT-2")
def test_planning_twice_makes_no_second_row(api, pump, caregivers):
    appointment = book(api, pump)
    before = Notification.objects.count()
    reminders.appointment_reminders_plan(appointment)
    assert reminders.reminders_plan_all() == 1
    assert Notification.objects.count() == before


@pytest.mark.rule("ALERT-2")
def test_the_periodic_pass_follows_a_consent_given_or_withdrawn(api, pump, caregivers):
    appointment = book(api, pump)
    grace, alan = caregivers
    alan.communication_consent = True
    alan.save()
    grace.communication_consent = False
    grace.save()
    reminders.reminders_plan_all()
    assert {n.status for n in Notification.objects.filter(recipient=f"caregiver:{alan.pk}")} == {"pending"}
    assert {n.status_reason for n in Notification.objects.filter(recipient=f"caregiver:{grace.pk}")} == {
        "skipped: no consent to reminders"
    }
    assert len(rows(appointment, "pending")) == 6


@pytest.mark.rule("ALERT-2")
def test_a_reminder_is_sent_once_when_due_with_the_least_health_information(
    api, pump, caregivers, monkeypatch, django_capture_on_commit_callbacks
):
    book(api, pump)
    assert deliver(django_capture_on_commit_callbacks) == []  # nothing is due yet
    clock_at(monkeypatch, at((11, 30), 9))
    outcomes = deliver(django_capture_on_commit_callbacks)
    assert [o.status for o in outcomes] == ["sent", "sent"]
    assert deliver(django_capture_on_commit_callbacks) == []  # sent once
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.org", "grace@example.org"]
    message = next(m for m in mail.outbox if m.to == ["ada@example.org"])
    html = message.alternatives[0][0]
    for text in (message.subject + message.body, html):
        assert "Monday 14 December 2026" in text
        assert "10:30" in text
        assert "Home Clinic" in text
        assert "12 Harbour Road, Springfield" in text
        assert "+1 555 0123" in text
        # ALERT-2: no drug, no diagnosis, no device.
        for word in ("baclofen", "lioresal", "gablofen", "spastic", "intrathecal", "pump", "mcg", "refill"):
            assert word not in text.lower(), word
    assert "/confirm/" in message.body
    assert message.extra_headers["Message-ID"].startswith("<pumpcare.notification.")
    caregiver_message = next(m for m in mail.outbox if m.to == ["grace@example.org"])
    assert "Dear Grace Hopper" in caregiver_message.body and "Ada Byron" in caregiver_message.body
    sent = Notification.objects.filter(status="sent")
    assert sent.count() == 2
    assert all(n.sent_at and n.message_id and n.attempts == 1 for n in sent)


def raw_subject(message) -> tuple[list[str], str]:
    """The Subject header as it goes on the wire (its folded lines), and decoded."""
    raw = message.message().as_bytes()
    head = raw.split(b"\n\n", 1)[0].decode("ascii").split("\n")  # headers are 7-bit: encoded words
    start = next(i for i, line in enumerate(head) if line.startswith("Subject:"))
    lines = [head[start]] + list(itertools.takewhile(lambda line: line[:1] in (" ", "\t"), head[start + 1 :]))
    decoded = str(make_header(decode_header(" ".join(line.strip() for line in lines)[len("Subject:") :])))
    return lines, decoded


@pytest.mark.rule("ALERT-2")
def test_a_non_ascii_subject_starts_on_the_header_line(
    api, pump, home, monkeypatch, django_capture_on_commit_callbacks
):
    home.name = "Clinique Sainte-Thérèse\x07 & Saint-Éloi"  # typed with a stray control character
    home.save()
    book(api, pump)
    clock_at(monkeypatch, at((11, 30), 9))
    deliver(django_capture_on_commit_callbacks)
    lines, decoded = raw_subject(mail.outbox[0])
    # Django folded the encoded subject before its first word: "Subject: " alone on a line.
    assert lines[0].startswith("Subject: =?utf-8?"), lines
    assert all(len(line) <= 78 for line in lines)
    assert (
        decoded
        == "Reminder: your appointment at Clinique Sainte-Thérèse & Saint-Éloi on Monday 14 December 2026"
    )


@pytest.mark.rule("ALERT-2")
def test_a_caregiver_is_told_of_the_appointment_of_the_person_they_care_for(
    api, pump, caregivers, monkeypatch, django_capture_on_commit_callbacks
):
    book(api, pump)
    clock_at(monkeypatch, at((11, 30), 9))
    deliver(django_capture_on_commit_callbacks)
    message = next(m for m in mail.outbox if m.to == ["grace@example.org"])
    assert message.subject == "Reminder: Ada's appointment at Home Clinic on Monday 14 December 2026"
    html = message.alternatives[0][0]
    for text in (message.body, html):
        assert "your appointment" not in text and "you will come" not in text and "If you cannot" not in text
        assert "the appointment of Ada Byron, whom you help care for" in text
        assert "Confirm that Ada Byron will come" in text
        # ALERT-2: the date, the time, the clinic and its phone; no drug, diagnosis or device.
        for fact in ("Monday 14 December 2026", "10:30", "Home Clinic", "+1 555 0123"):
            assert fact in text
        for word in ("baclofen", "spastic", "intrathecal", "pump", "mcg", "refill"):
            assert word not in text.lower(), word
    patient_message = next(m for m in mail.outbox if m.to == ["ada@example.org"])
    assert patient_message.subject == "Reminder: your appointment at Home Clinic on Monday 14 December 2026"
    assert "Confirm that you will come" in patient_message.body


@pytest.mark.rule("ALERT-2")
def test_a_reminder_is_not_sent_for_an_appointment_moved_behind_the_planners_back(
    api, pump, monkeypatch, django_capture_on_commit_callbacks
):
    appointment = book(api, pump)
    Appointment.objects.filter(pk=appointment.pk).update(day=date(2026, 12, 11))  # not through a service
    clock_at(monkeypatch, at((11, 30), 9))
    outcomes = deliver(django_capture_on_commit_callbacks)
    assert [(o.status, o.detail) for o in outcomes] == [("cancelled", "the appointment moved to 2026-12-11")]
    assert mail.outbox == []


@pytest.mark.rule("ALERT-2")
def test_a_consent_withdrawn_before_sending_cancels_the_reminder(
    api, pump, monkeypatch, django_capture_on_commit_callbacks
):
    book(api, pump)
    patient = pump.patient
    patient.communication_consent = False
    patient.save()
    clock_at(monkeypatch, at((11, 30), 9))
    assert [o.status for o in deliver(django_capture_on_commit_callbacks)] == ["cancelled"]
    assert Notification.objects.get(due_at=at((11, 30))).status_reason == "skipped: no consent to reminders"
    assert mail.outbox == []


@pytest.mark.rule("ALERT-2")
def test_a_replacement_surgery_is_reminded_too(api, pump):
    appointment = book(api, pump, day="2026-12-21", kind="replacement")
    assert {n.kind for n in Notification.objects.filter(subject=f"appointment:{appointment.pk}")} == {
        "replacement_reminder"
    }
    assert len(rows(appointment, "pending")) == 3


@pytest.mark.rule("ALERT-2")
def test_the_worklist_flags_a_patient_who_cannot_be_reminded(api, pump, caregivers):
    def flags():
        body = api.get("/api/v1/worklist/?clinic=HOME").json()
        return body["results"][0]["flags"]

    assert flags()["cannot_be_reminded"] is False
    patient = pump.patient
    patient.communication_consent = False
    patient.save()
    assert flags()["cannot_be_reminded"] is False  # Grace still consents
    Caregiver.objects.filter(pk=caregivers[0].pk).update(email="")
    patient.save()  # update() writes no history row: this one gives the page cache a new data version
    assert flags()["cannot_be_reminded"] is True


def test_another_clinic_does_not_see_the_outbox(api, pump, outsider):
    book(api, pump)
    assert api.get("/api/v1/notifications/").json()["count"] == 3
    assert client_for(outsider).get("/api/v1/notifications/").json()["count"] == 0
    row = Notification.objects.first()
    assert client_for(outsider).get(f"/api/v1/notifications/{row.pk}/").status_code == 404
    assert client_for(outsider).post(f"/api/v1/notifications/{row.pk}/resend/").status_code == 404
