"""The device record through the API: interrogations with their alarms (DEVICE-1, ERI-1)
and MRIs with their follow-up (MRI-1), clinic-scoped, refusals that write nothing."""

from __future__ import annotations

import html
from datetime import UTC, date, datetime
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.test import Client

from alerts import tasks
from alerts.models import Alert, AlertKind, Notification
from devices.models import Interrogation, Mri
from patients.models import Pump, PumpModel
from refills.models import Prescription, PumpProjection
from scheduling import mri as mri_follow_ups
from scheduling.models import Appointment
from scheduling.replacements import replacement_planning_run
from scheduling.state_alerts import state_alerts_run
from tests.conftest import client_for
from tests.factories import PumpFactory
from tests.helpers import assert_refused, clock_at, fill, therapy_rows

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]


@pytest.fixture
def filled(api, pump, clinic):
    clinic.on_call_email = "oncall@example.org"
    clinic.save()
    fill(api, pump, "2026-11-16T12:00:00Z")
    return pump


def interrogate(api, pump, **body):
    body.setdefault("interrogated_at", "2026-11-26T10:00:00Z")
    return api.post(f"/api/v1/pumps/{pump.pk}/interrogations/", body, format="json")


def open_alerts(pump, kind):
    return Alert.objects.filter(pump=pump, kind=kind, resolved_at__isnull=True)


# --- DEVICE-1 --------------------------------------------------------------------------------


@pytest.mark.rule("DEVICE-1")
def test_device_1_a_motor_stall_raises_a_critical_alert_that_reaches_on_call(api, filled):
    response = interrogate(api, filled, alarms=["motor_stall", "low_reservoir"], notes="read in clinic")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["alarms_by_class"] == {"critical": ["motor_stall"], "eri": [], "logged": ["low_reservoir"]}
    alert = open_alerts(filled, AlertKind.DEVICE_ALARM).get()
    assert alert.severity == "critical"
    assert "motor stall" in alert.message and "Withdrawal risk" in alert.message
    # escalated like "past projected empty": the on-call address, repeated until acknowledged
    row = Notification.objects.get(subject=f"alert:{alert.pk}")
    assert (row.recipient, row.kind, row.status) == (
        f"on_call:{filled.clinic.code}",
        "device_alarm",
        "pending",
    )
    assert Interrogation.history.count() == 1  # audited


@pytest.mark.rule("DEVICE-1")
def test_device_1_logged_alarms_raise_nothing(api, filled):
    assert interrogate(api, filled, alarms=["low_reservoir", "other"]).status_code == 201
    assert not Alert.objects.filter(kind=AlertKind.DEVICE_ALARM).exists()


@pytest.mark.rule("DEVICE-1", "ERI-1")
def test_device_1_eri_alarm_sets_the_eri_date_no_longer_an_estimate(api, filled):
    before = api.get(f"/api/v1/pumps/{filled.pk}/projection/").json()
    assert before["eri_estimated"] is True
    response = interrogate(api, filled, alarms=["eri"], eri_since="2026-11-20")
    assert response.status_code == 201, response.content
    filled.refresh_from_db()
    assert filled.eri_on == date(2026, 11, 20)
    after = api.get(f"/api/v1/pumps/{filled.pk}/projection/").json()
    # ERI-1: entered, not estimated; ERI-2: book-by = ERI - 90 days = 22 Aug 2026; EOS = ERI + 90 days
    assert (after["eri_on"], after["eri_estimated"]) == ("2026-11-20", False)
    assert after["replacement_book_by"] == "2026-08-22"
    assert after["eos_on"] == "2027-02-18"
    history = filled.history.order_by("-history_date").first()
    assert "ERI alarm read at the interrogation" in history.history_change_reason


@pytest.mark.rule("DEVICE-1", "ERI-1", "ERI-2")
def test_device_1_eri_picked_up_by_replacement_planning(api, filled):
    interrogate(api, filled, alarms=["eri"])
    # ERI 26 Nov 2026: planning opened 26 May, book-by 28 Aug has passed: the overdue alert
    replacement_planning_run(filled.clinic)
    assert open_alerts(filled, AlertKind.REPLACEMENT_OVERDUE).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"alarms": ["battery_fire"]}, "alarms"),
        ({"alarms": ["eri", "eri"]}, "alarms"),
        ({"alarms": ["eri"], "eri_since": "2026-11-27"}, "eri_since"),
        ({"alarms": [], "eri_since": "2026-11-20"}, "eri_since"),
        ({"interrogated_at": "2026-11-27T10:00:00Z"}, "interrogated_at"),  # the future
        ({"interrogated_at": "2025-01-01T10:00:00Z"}, "interrogated_at"),  # before the implant
    ],
)
@pytest.mark.rule("DEVICE-1")
def test_device_1_refusals_name_the_field_and_write_nothing(api, filled, body, field):
    rows = therapy_rows()
    assert_refused(interrogate(api, filled, **body), field)
    assert therapy_rows() == rows
    assert not Interrogation.objects.exists()


@pytest.mark.rule("DEVICE-1")
def test_device_1_interrogations_are_listed_newest_first_and_scoped_to_the_clinic(api, filled, outsider):
    interrogate(api, filled, interrogated_at="2026-11-20T10:00:00Z")
    interrogate(api, filled, alarms=["other"])
    listed = api.get(f"/api/v1/pumps/{filled.pk}/interrogations/").json()["results"]
    assert [i["alarms"] for i in listed] == [["other"], []]
    assert client_for(outsider).get(f"/api/v1/pumps/{filled.pk}/interrogations/").status_code == 404
    assert interrogate(client_for(outsider), filled).status_code == 404


@pytest.mark.rule("DEVICE-1")
def test_device_1_staff_role_may_read_but_not_record(filled, staff):
    assert interrogate(client_for(staff), filled).status_code == 403
    assert client_for(staff).get(f"/api/v1/pumps/{filled.pk}/interrogations/").status_code == 200


# --- MRI-1: SynchroMed II --------------------------------------------------------------------


def plan(api, pump, scan_at="2026-11-26T09:00:00Z"):
    return api.post(f"/api/v1/pumps/{pump.pk}/mris/", {"scan_at": scan_at}, format="json")


@pytest.mark.rule("MRI-1")
def test_mri_1_synchromed_interrogation_task_due_the_scan_day_then_escalated(api, filled, monkeypatch):
    response = plan(api, filled, scan_at="2026-11-26T15:00:00Z")  # after NOW (12:00)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["follow_up"], body["status"], body["due_on"]) == (
        "interrogate_after",
        "planned",
        "2026-11-26",
    )
    assert not Alert.objects.filter(kind__in=mri_follow_ups.KINDS).exists()
    # 16:00: the scan is over, the interrogation is due today (a staff task)
    # (the periodic planning job runs the pass: fire on persisted state)
    clock_at(monkeypatch, datetime(2026, 11, 26, 16, 0, tzinfo=UTC))
    assert tasks.plan_notifications()["mri_alerts_raised"] == 1
    due = open_alerts(filled, AlertKind.MRI_INTERROGATION_DUE).get()
    assert due.severity == "warning"
    assert Notification.objects.filter(subject=f"alert:{due.pk}", recipient_role="staff").exists()
    # the next day (clinic in UTC) it is overdue: critical, escalated to on-call
    clock_at(monkeypatch, datetime(2026, 11, 27, 0, 0, tzinfo=UTC))
    mri_follow_ups.mri_follow_ups_run_all()
    due.refresh_from_db()
    assert due.resolved_at is not None
    overdue = open_alerts(filled, AlertKind.MRI_INTERROGATION_OVERDUE).get()
    assert overdue.severity == "critical"
    assert Notification.objects.get(subject=f"alert:{overdue.pk}").recipient_role == "on_call"
    # the interrogation after the scan completes it and resolves the alert, in its transaction
    response = interrogate(api, filled, interrogated_at="2026-11-26T23:30:00Z")
    assert response.status_code == 201, response.content
    overdue.refresh_from_db()
    assert overdue.resolved_at is not None
    mri = Mri.objects.get()
    assert mri.interrogation_id == response.json()["id"] and mri.completed_at is not None
    assert api.get(f"/api/v1/mris/{mri.pk}/").json()["status"] == "done"


@pytest.mark.rule("MRI-1")
def test_mri_1_an_interrogation_before_the_scan_does_not_complete_it(api, filled):
    plan(api, filled, scan_at="2026-11-26T09:00:00Z")
    interrogate(api, filled, interrogated_at="2026-11-26T08:00:00Z")
    assert Mri.objects.get().completed_at is None
    assert open_alerts(filled, AlertKind.MRI_INTERROGATION_DUE).exists()  # scan over, due today


@pytest.mark.rule("MRI-1")
def test_mri_1_a_cancelled_mri_resolves_its_task(api, filled):
    mri = plan(api, filled).json()
    assert open_alerts(filled, AlertKind.MRI_INTERROGATION_DUE).exists()
    assert_refused(api.post(f"/api/v1/mris/{mri['id']}/cancel/", {"reason": " "}, format="json"), "reason")
    response = api.post(f"/api/v1/mris/{mri['id']}/cancel/", {"reason": "scan postponed"}, format="json")
    assert response.json()["status"] == "cancelled"
    assert not open_alerts(filled, AlertKind.MRI_INTERROGATION_DUE).exists()


@pytest.mark.rule("MRI-1")
def test_mri_1_a_model_without_guidance_is_refused(api, filled):
    PumpModel.objects.filter(pk=filled.model_id).update(mri_follow_up="")
    body = assert_refused(plan(api, filled), "pump", code="no_mri_guidance")
    assert "no MRI guidance is on file for pump model 8637-20" in body["detail"]
    assert not Mri.objects.exists()


@pytest.mark.rule("MRI-1")
def test_mri_1_the_shipped_catalog_has_guidance_with_its_source():
    for code, follow_up in {"8637-20": "interrogate_after", "8637-40": "interrogate_after"}.items():
        model = PumpModel.objects.get(code=code)
        assert model.mri_follow_up == follow_up and "mri_follow_up: Medtronic" in model.source
    for code in ("13827", "16827"):
        model = PumpModel.objects.get(code=code)
        assert model.mri_follow_up == "empty_before" and "mri_follow_up: Prometra II IFU" in model.source


@pytest.mark.rule("MRI-1")
def test_mri_1_mris_of_another_clinic_are_not_found(api, filled, outsider):
    mri = plan(api, filled).json()
    away = client_for(outsider)
    assert away.get(f"/api/v1/mris/{mri['id']}/").status_code == 404
    assert away.get(f"/api/v1/pumps/{filled.pk}/mris/").status_code == 404
    assert away.post(f"/api/v1/mris/{mri['id']}/cancel/", {"reason": "x"}, format="json").status_code == 404


# --- MRI-1: Prometra II ----------------------------------------------------------------------


@pytest.fixture
def prometra(api, patient, clinic):
    clinic.on_call_email = "oncall@example.org"
    clinic.save()
    pump = PumpFactory(
        patient=patient, model=PumpModel.objects.get(code="13827"), implanted_on=date(2026, 1, 2)
    )
    fill(api, pump, "2026-11-16T12:00:00Z")
    return pump


def empty(client, mri_id, **body):
    body.setdefault("emptied_at", "2026-11-26T08:00:00Z")
    return client.post(f"/api/v1/mris/{mri_id}/emptying/", body, format="json")


@pytest.mark.rule("MRI-1", "TITRATE-2")
def test_mri_1_prometra_emptying_follows_titrate_2(api, prometra, physician):
    mri = plan(api, prometra, scan_at="2026-11-26T15:00:00Z").json()
    assert (mri["follow_up"], mri["status"]) == ("empty_before", "emptying_due")
    rows = therapy_rows()
    # TITRATE-2: without a prescriber's override with a reason, emptying is refused
    assert_refused(
        empty(api, mri["id"], override_reason=""), "prescription", code="discontinuation_requires_override"
    )
    assert empty(api, mri["id"], override_reason="MRI").status_code == 403  # a nurse is no prescriber
    assert therapy_rows() == rows
    response = empty(client_for(physician), mri["id"], override_reason="MRI of the spine")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "refill_unbooked"
    zero = Prescription.objects.get(pk=response.json()["emptying"])
    assert zero.daily_dose_mcg == 0 and zero.override_reason == "MRI of the spine"
    assert open_alerts(prometra, AlertKind.DISCONTINUATION).get().severity == "critical"
    unbooked = open_alerts(prometra, AlertKind.MRI_REFILL_UNBOOKED).get()
    assert Notification.objects.get(subject=f"alert:{unbooked.pk}").recipient_role == "on_call"
    # the emptied reservoir is to be refilled the day it was emptied: a refill the next
    # day cannot be booked (its refill-by is the emptying's date)
    late = api.post(
        "/api/v1/appointments/", {"pump": prometra.pk, "kind": "refill", "day": "2026-11-27"}, format="json"
    )
    assert_refused(late, "day", code="after_refill_by")
    assert open_alerts(prometra, AlertKind.MRI_REFILL_UNBOOKED).exists()
    # booked on the scan day: done, the alert resolved in the booking's transaction
    booked = api.post(
        "/api/v1/appointments/", {"pump": prometra.pk, "kind": "refill", "day": "2026-11-26"}, format="json"
    )
    assert booked.status_code == 201, booked.content
    assert not open_alerts(prometra, AlertKind.MRI_REFILL_UNBOOKED).exists()
    assert api.get(f"/api/v1/mris/{mri['id']}/").json()["status"] == "done"


@pytest.mark.rule("MRI-1", "REFILL-1", "DRIFT-1")
def test_mri_1_an_emptied_prometra_holds_nothing_and_its_refill_after_the_scan_expects_nothing(
    api, prometra, physician, monkeypatch
):
    # filled 16 Nov 12:00 with 20 mL at 500 mcg/mL, 250 mcg/day (0.5 mL/day); emptied on
    # 26 Nov 08:00, after 9 days 20 hours: it held 20 - 9.8333 x 0.5 = 15.08 mL
    mri = plan(api, prometra, scan_at="2026-11-26T15:00:00Z").json()
    assert empty(client_for(physician), mri["id"], override_reason="MRI of the spine").status_code == 201
    assert Prescription.objects.get(daily_dose_mcg=0).empties_reservoir
    projection = api.get(f"/api/v1/pumps/{prometra.pk}/projection/").json()
    assert projection["reservoir_volume_ml"] == "0.00"
    assert (projection["refill_by"], projection["refill_by_reason"]) == ("2026-11-26", "emptied")
    assert projection["low_reservoir_alarm_at"] is None and projection["empty_at_worst_case"] is None
    assert "emptied" in [w["code"] for w in projection["warnings"]]
    stored = PumpProjection.objects.get(pump=prometra)
    assert (stored.refill_by, stored.refill_by_reason) == (date(2026, 11, 26), "emptied")
    assert stored.low_reservoir_alarm_at_worst_case is None
    # ALERT-1: not past empty (nobody paged while the patient is in the scanner): due today
    # and not booked; the MRI's own alert asks for the refill after the scan
    state_alerts_run(prometra.clinic)
    assert not open_alerts(prometra, AlertKind.PAST_EMPTY).exists()
    assert (
        open_alerts(prometra, AlertKind.REFILL_UNBOOKED)
        .get()
        .message.endswith(
            "must be refilled by 26 Nov 2026 (the reservoir was emptied that day) and no refill is booked."
        )
    )
    # the refill after the scan finds an empty reservoir, as expected: no discrepancy and
    # no delivery ratio (the 15 mL taken out were not delivered)
    clock_at(monkeypatch, datetime(2026, 11, 26, 18, 0, tzinfo=UTC))
    refill = fill(
        client_for(physician), prometra, "2026-11-26T17:00:00Z", override_reason="restart after the MRI"
    )
    assert (refill["expected_residual_ml"], refill["discrepancy"]) == ("0.00", None)
    assert refill["delivery_ratio"] is None and refill["delivery_drift"] is None
    assert "no_delivery_ratio" in [n["code"] for n in refill["warnings"]]
    projection = api.get(f"/api/v1/pumps/{prometra.pk}/projection/").json()
    # an hour after the refill at 0.5 mL/day: 20 - 0.5 / 24 = 19.979 mL
    assert (projection["reservoir_volume_ml"], projection["refill_by_reason"]) == ("19.98", "alarm")
    state_alerts_run(prometra.clinic)
    assert not open_alerts(prometra, AlertKind.REFILL_UNBOOKED).exists()


@pytest.mark.rule("MRI-1")
def test_mri_1_prometra_is_emptied_before_the_scan_not_after(api, prometra, physician):
    mri = plan(api, prometra, scan_at="2026-11-26T09:00:00Z").json()
    body = assert_refused(
        empty(client_for(physician), mri["id"], emptied_at="2026-11-26T10:00:00Z", override_reason="MRI"),
        "emptied_at",
    )
    assert "before the MRI" in body["detail"]
    assert not Prescription.objects.filter(daily_dose_mcg=0).exists()


@pytest.mark.rule("MRI-1")
def test_mri_1_a_synchromed_is_not_emptied(api, filled, physician):
    mri = plan(api, filled).json()
    assert_refused(empty(client_for(physician), mri["id"], override_reason="MRI"), "mri")


@pytest.mark.rule("MRI-1")
def test_mri_1_a_refill_booked_on_the_scan_day_before_the_emptying_completes_it(api, prometra, physician):
    mri = plan(api, prometra, scan_at="2026-11-26T15:00:00Z").json()
    Appointment.objects.create(pump=prometra, kind="refill", status="booked", day=date(2026, 11, 26))
    empty(client_for(physician), mri["id"], override_reason="MRI of the spine")
    assert Mri.objects.get().completed_at is not None
    assert not Alert.objects.filter(kind=AlertKind.MRI_REFILL_UNBOOKED).exists()


def void(client, refill_id, reason="entered on the wrong pump"):
    return client.post(f"/api/v1/refills/{refill_id}/void/", {"reason": reason}, format="json")


def emptied_and_scanned(api, prometra, physician) -> int:
    """The Prometra II emptied at 08:00 for its scan at 10:00 today (now is 12:00): the
    refill after the scan is due, unbooked. Returns the MRI's id."""
    mri = plan(api, prometra, scan_at="2026-11-26T10:00:00Z").json()
    assert empty(client_for(physician), mri["id"], override_reason="MRI of the spine").status_code == 201
    assert open_alerts(prometra, AlertKind.MRI_REFILL_UNBOOKED).exists()
    return mri["id"]


@pytest.mark.rule("MRI-1")
def test_mri_1_voiding_the_refill_after_the_scan_opens_the_follow_up_again(
    api, prometra, physician, nurse, monkeypatch
):
    mri_id = emptied_and_scanned(api, prometra, physician)
    refill = fill(
        client_for(physician), prometra, "2026-11-26T11:00:00Z", override_reason="restart after the MRI"
    )
    assert Mri.objects.get().completed_by_refill_id == refill["id"]
    assert api.get(f"/api/v1/mris/{mri_id}/").json()["status"] == "done"
    assert not open_alerts(prometra, AlertKind.MRI_REFILL_UNBOOKED).exists()
    # the next day's refill, voided: the follow-up was done by the refill after the scan
    clock_at(monkeypatch, datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    later = fill(api, prometra, "2026-11-27T10:00:00Z", volume_withdrawn_ml="19.5")
    assert void(api, later["id"]).status_code == 200
    assert Mri.objects.get().completed_by_refill_id == refill["id"]
    assert not open_alerts(prometra, AlertKind.MRI_REFILL_UNBOOKED).exists()
    # the refill after the scan, voided: the pump was in fact not refilled after the scan
    assert void(api, refill["id"], reason="recorded for the wrong patient").status_code == 200
    mri = Mri.objects.get()
    assert (mri.completed_at, mri.completed_by_refill) == (None, None)
    entry = mri.history.first()
    assert entry.history_user == nurse
    assert entry.history_change_reason == "follow-up open again: the refill after the scan was voided"
    assert api.get(f"/api/v1/mris/{mri_id}/").json()["status"] == "refill_unbooked"
    assert open_alerts(prometra, AlertKind.MRI_REFILL_UNBOOKED).count() == 1
    # and the planning job keeps it open: a voided refill is no refill after the scan
    mri_follow_ups.mri_follow_ups_run(prometra.clinic)
    assert Mri.objects.get().completed_at is None
    assert open_alerts(prometra, AlertKind.MRI_REFILL_UNBOOKED).count() == 1


@pytest.mark.rule("MRI-1")
def test_mri_1_a_follow_up_done_before_the_mri_kept_its_refill_learns_it_from_its_history(
    api, prometra, physician
):
    backfill = import_module("devices.migrations.0004_mri_completed_by_refill_backfill").backfill
    emptied_and_scanned(api, prometra, physician)
    refill = fill(
        client_for(physician), prometra, "2026-11-26T11:00:00Z", override_reason="restart after the MRI"
    )
    Mri.objects.update(completed_by_refill=None)  # as recorded before the MRI kept it
    backfill(django_apps, None)
    assert Mri.objects.get().completed_by_refill_id == refill["id"]


@pytest.mark.rule("MRI-1")
def test_mri_1_a_follow_up_done_by_a_booking_learns_no_refill_from_its_history(api, prometra, physician):
    backfill = import_module("devices.migrations.0004_mri_completed_by_refill_backfill").backfill
    emptied_and_scanned(api, prometra, physician)
    booked = api.post(
        "/api/v1/appointments/", {"pump": prometra.pk, "kind": "refill", "day": "2026-11-26"}, format="json"
    )
    assert booked.status_code == 201, booked.content
    fill(client_for(physician), prometra, "2026-11-26T11:00:00Z", override_reason="restart after the MRI")
    backfill(django_apps, None)
    assert Mri.objects.get().completed_by_refill is None


@pytest.mark.rule("MRI-1")
def test_mri_1_a_corrected_refill_after_the_scan_keeps_the_follow_up_done(api, prometra, physician):
    emptied_and_scanned(api, prometra, physician)
    doctor = client_for(physician)
    typo = fill(doctor, prometra, "2026-11-26T11:00:00Z", volume_added_ml=12, override_reason="restart")
    corrected = doctor.post(
        f"/api/v1/refills/{typo['id']}/correction/",
        {
            "performed_at": "2026-11-26T11:00:00Z",
            "volume_withdrawn_ml": 0,
            "volume_added_ml": 20,
            "concentration_mcg_per_ml": 500,
            "prescription": {"mode": "simple_continuous", "daily_dose_mcg": "250"},
            "override_reason": "restart after the MRI",
            "correction_reason": "12 mL typed, 20 mL added",
        },
        format="json",
    )
    assert corrected.status_code == 201, corrected.json()
    # the follow-up is done by the correcting refill; the alert raised again for the
    # moment of the void was resolved in the same transaction, and nobody is paged for it
    mri = Mri.objects.get()
    assert mri.completed_at is not None and mri.completed_by_refill_id == corrected.json()["id"]
    assert not open_alerts(prometra, AlertKind.MRI_REFILL_UNBOOKED).exists()
    _, again = Alert.objects.filter(kind=AlertKind.MRI_REFILL_UNBOOKED).order_by("pk")
    assert set(again.notifications.values_list("status", flat=True)) <= {"cancelled"}


@pytest.mark.rule("MRI-1")
def test_mri_1_a_voided_refill_that_did_not_complete_the_follow_up_changes_nothing(api, prometra, physician):
    # done because the refill was booked on the scan day, then refilled after the scan:
    # voiding that refill books the appointment again, and the follow-up stays done
    mri_id = emptied_and_scanned(api, prometra, physician)
    booked = api.post(
        "/api/v1/appointments/", {"pump": prometra.pk, "kind": "refill", "day": "2026-11-26"}, format="json"
    )
    assert booked.status_code == 201, booked.content
    refill = fill(
        client_for(physician), prometra, "2026-11-26T11:00:00Z", override_reason="restart after the MRI"
    )
    assert Appointment.objects.get(pk=booked.json()["id"]).status == "completed"
    history = Mri.history.count()
    assert void(api, refill["id"]).status_code == 200
    assert Appointment.objects.get(pk=booked.json()["id"]).status == "booked"
    mri = Mri.objects.get(pk=mri_id)
    assert mri.completed_at is not None and mri.completed_by_refill is None
    assert Mri.history.count() == history
    assert not Alert.objects.filter(kind=AlertKind.MRI_REFILL_UNBOOKED, resolved_at__isnull=True).exists()


@pytest.mark.rule("MRI-1")
def test_mri_1_a_voided_refill_before_the_scan_changes_nothing(api, prometra):
    mri_id = plan(api, prometra, scan_at="2026-11-27T10:00:00Z").json()["id"]
    refill = fill(api, prometra, "2026-11-26T11:00:00Z", volume_withdrawn_ml="15")
    history = Mri.history.count()
    assert void(api, refill["id"]).status_code == 200
    assert Mri.history.count() == history
    assert api.get(f"/api/v1/mris/{mri_id}/").json()["status"] == "emptying_due"


@pytest.mark.rule("MRI-1")
def test_mri_1_an_explanted_pump_has_no_follow_up(api, filled):
    plan(api, filled)
    Pump.objects.filter(pk=filled.pk).update(status="explanted")
    mri_follow_ups.mri_follow_ups_run(filled.clinic)
    assert not open_alerts(filled, AlertKind.MRI_INTERROGATION_DUE).exists()


# --- MRI-1 on the API worklist ---------------------------------------------------------------


@pytest.mark.rule("MRI-1")
def test_mri_1_the_api_worklist_lists_the_open_mris_as_the_web_worklist_does(
    api, filled, prometra, nurse, clinic, outsider
):
    """Now is Thu 26 Nov 12:00Z (UTC clinic). The SynchroMed II was scanned yesterday 10:00
    and not interrogated (overdue since the scan day ended), and again today 09:00 (due
    today); the Prometra II's scan is at 15:00 (its emptying due); a SynchroMed MRI next week
    is planned; a cancelled one is not listed. The soonest scan first."""
    yesterday = plan(api, filled, scan_at="2026-11-25T10:00:00Z").json()
    today = plan(api, filled, scan_at="2026-11-26T09:00:00Z").json()
    emptying = plan(api, prometra, scan_at="2026-11-26T15:00:00Z").json()
    later = plan(api, filled, scan_at="2026-12-03T10:00:00Z").json()
    cancelled = plan(api, filled, scan_at="2026-12-04T10:00:00Z").json()
    api.post(f"/api/v1/mris/{cancelled['id']}/cancel/", {"reason": "not needed"}, format="json")

    response = api.get("/api/v1/worklist/mri/?clinic=HOME")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [(row["id"], row["status"], row["overdue"]) for row in body] == [
        (yesterday["id"], "interrogation_overdue", True),
        (today["id"], "interrogation_due", False),
        (emptying["id"], "emptying_due", False),
        (later["id"], "planned", False),
    ]
    first = body[1]
    assert (first["pump"], first["patient"], first["due_on"], first["follow_up"]) == (
        filled.pk,
        filled.patient_id,
        "2026-11-26",
        "interrogate_after",
    )
    assert first["words"] == "Interrogate the pump today (26 Nov 2026): the scan is over."
    assert first["patient_name"] == f"{filled.patient.family_name}, {filled.patient.given_name}"
    # the web worklist shows the same MRIs, in the same order, in the same words
    page = web_client(nurse).get("/clinics/HOME/worklist/").content.decode()
    section = page.split('data-testid="worklist-mri"', 1)[1].split("</section>", 1)[0]
    positions = [section.index(html.escape(row["words"], quote=False)) for row in body]
    assert positions == sorted(positions) and "not needed" not in section
    # a clinic not the user's is not found; a single-clinic user may leave the clinic out
    assert client_for(outsider).get("/api/v1/worklist/mri/?clinic=HOME").status_code == 404
    assert api.get("/api/v1/worklist/mri/").json() == body


@pytest.mark.rule("MRI-1")
def test_mri_1_the_api_worklist_drops_an_mri_whose_follow_up_is_done(api, filled):
    mri = plan(api, filled, scan_at="2026-11-26T09:00:00Z").json()
    assert [row["id"] for row in api.get("/api/v1/worklist/mri/").json()] == [mri["id"]]
    assert interrogate(api, filled, interrogated_at="2026-11-26T11:00:00Z").status_code == 201
    assert api.get("/api/v1/worklist/mri/").json() == []


def web_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client
