"""The implant (IMPLANT-1, PUMP-2): the intraoperative implant fill, the priming of a new
catheter that the projection drains first, and the monitoring record after the start of
delivery — through the API, with the worklist flag.

POST /api/v1/pumps/{id}/refills/ (``implant_fill``, ``catheter_primed``);
GET/PUT /api/v1/pumps/{id}/implant-monitoring/. "Now" is frozen at 2026-11-26T12:00Z; the
clinic is in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from patients.models import CatheterModel, PumpModel
from refills.models import ImplantMonitoring, Refill
from tests.conftest import client_for
from tests.factories import PumpFactory
from tests.helpers import assert_refused, fill, simple
from tests.helpers import therapy_rows as therapy_counts

pytestmark = pytest.mark.usefixtures("frozen_now")

IMPLANT_DAY = date(2026, 11, 20)
FILL_AT = "2026-11-20T08:00:00Z"


@pytest.fixture
def prometra(patient):
    """A Prometra II 20 mL (alarm 3.0 mL, tolerance 15 %) with Prometra's catheter
    (0.0026 mL/cm, PUMP-2), 60 cm implanted on 20 November."""
    return PumpFactory(
        patient=patient,
        model=PumpModel.objects.get(code="13827"),
        catheter_model=CatheterModel.objects.get(code="11823"),
        catheter_length_cm=60,
        implanted_on=IMPLANT_DAY,
    )


def implant_fill(api, pump, *, at=FILL_AT, daily=300, **extra):
    return api.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": at,
            "volume_withdrawn_ml": "0",
            "volume_added_ml": "20",
            "concentration_mcg_per_ml": "500",
            "prescription": simple(daily),
            "implant_fill": True,
            **extra,
        },
        format="json",
    )


def monitoring_url(pump) -> str:
    return f"/api/v1/pumps/{pump.pk}/implant-monitoring/"


def counts() -> dict:
    return therapy_counts() | {
        "monitoring": ImplantMonitoring.objects.count(),
        "monitoring_history": ImplantMonitoring.history.count(),
    }


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- the implant fill and the priming (IMPLANT-1, PUMP-2) -----------------------------------


def test_implant_1_primed_catheter_drains_first_in_the_stored_projection(api, prometra):
    # 60 cm × 0.0026 mL/cm = 0.156 mL primed; 300 mcg/day at 500 mcg/mL = 0.6 mL/day.
    # Alarm at 3.0 mL: (20 − 0.156 − 3) / 0.6 = 28.07333… days = 28 d 1 h 45 min 36 s.
    response = implant_fill(api, prometra, catheter_primed=True)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["implant_fill"] is True
    assert body["priming_volume_ml"] == "0.156"
    alarm = instant(body["projection"]["low_reservoir_alarm_at"])
    assert alarm == instant(FILL_AT) + timedelta(days=28, hours=1, minutes=45, seconds=36)
    # the stored projection the worklist and the scheduling read says the same
    projection = api.get(f"/api/v1/pumps/{prometra.pk}/projection/").json()
    assert instant(projection["low_reservoir_alarm_at"]) == alarm


def test_implant_1_without_priming_the_fill_drains_from_the_prescribed_rate(api, prometra):
    # Not primed (the catheter was already in place): (20 − 3) / 0.6 = 28.3333… days
    # = 28 d 8 h; the priming moved the alarm 0.156 / 0.6 = 0.26 days = 6 h 14 min 24 s.
    body = implant_fill(api, prometra).json()
    assert body["priming_volume_ml"] is None
    assert instant(body["projection"]["low_reservoir_alarm_at"]) == instant(FILL_AT) + timedelta(
        days=28, hours=8
    )


def test_implant_1_expected_residual_at_the_next_refill_counts_the_priming(api, prometra):
    # Five days later: 20 − 0.156 − 5 × 0.6 = 16.844 mL expected (REFILL-1: 16.84 mL).
    implant_fill(api, prometra, catheter_primed=True)
    response = api.post(
        f"/api/v1/pumps/{prometra.pk}/refills/",
        {
            "performed_at": "2026-11-25T08:00:00Z",
            "volume_withdrawn_ml": "16.84",
            "volume_added_ml": "20",
            "concentration_mcg_per_ml": "500",
            "prescription": simple(300),
        },
        format="json",
    )
    # 16.84 mL withdrawn: no discrepancy
    assert response.status_code == 201, response.json()
    assert response.json()["expected_residual_ml"] == "16.84"
    assert response.json()["discrepancy"] is None


def test_implant_1_priming_refused_when_the_catheter_volume_is_not_configured(api, pump):
    # The SynchroMed II factory pump has Medtronic's 8709SC, whose volume per cm is left empty
    # in the shipped catalog (PUMP-3): no number is guessed, nothing is written.
    pump.implanted_on = IMPLANT_DAY
    pump.save()
    before = counts()
    body = assert_refused(
        implant_fill(api, pump, catheter_primed=True),
        "catheter_model.volume_ml_per_cm",
        "catheter_volume_not_configured",
    )
    assert "priming the catheter" in str(body)
    assert counts() == before


def test_implant_1_implant_fill_is_on_the_implant_day(api, prometra):
    before = counts()
    assert_refused(
        implant_fill(api, prometra, at="2026-11-21T08:00:00Z"),
        "performed_at",
        "implant_fill_not_on_implant_day",
    )
    assert counts() == before


def test_implant_1_only_a_first_fill_is_an_implant_fill(api, prometra):
    fill(api, prometra, FILL_AT, daily=300)
    before = counts()
    assert_refused(implant_fill(api, prometra, at="2026-11-25T08:00:00Z"), "implant_fill")
    assert counts() == before


def test_implant_1_a_catheter_is_primed_only_at_the_implant_fill(api, prometra):
    before = counts()
    assert_refused(implant_fill(api, prometra, implant_fill=False, catheter_primed=True), "catheter_primed")
    assert counts() == before


def test_implant_1_preview_shows_the_priming_and_writes_nothing(api, prometra):
    before = counts()
    response = api.post(
        f"/api/v1/pumps/{prometra.pk}/refills/preview/",
        {
            "performed_at": FILL_AT,
            "volume_withdrawn_ml": "0",
            "volume_added_ml": "20",
            "concentration_mcg_per_ml": "500",
            "prescription": simple(300),
            "implant_fill": True,
            "catheter_primed": True,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["priming_volume_ml"] == "0.156"
    assert counts() == before


# --- the monitoring after the implant (IMPLANT-1) --------------------------------------------


def test_implant_1_monitoring_missing_is_flagged_until_eight_hours_are_recorded(api, prometra, clinic):
    implant_fill(api, prometra)
    state = api.get(monitoring_url(prometra)).json()
    assert state["complete"] is False
    assert (
        state["message"] == "No monitoring is recorded after the implant fill of Fri 20 Nov 2026 08:00 UTC."
    )
    assert _worklist_flag(api, prometra) is True

    # 08:05 to 16:04: 7 h 59 min — still flagged
    response = api.put(
        monitoring_url(prometra),
        {
            "started_at": "2026-11-20T08:05:00Z",
            "ended_at": "2026-11-20T16:04:00Z",
            "observed_by": "Nurse Kim",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["complete"] is False and body["hours"] == "7.98"
    assert body["message"] == (
        "Monitored for 7 h 59 min only: at least 8 h of monitoring are required after an implant."
    )
    assert _worklist_flag(api, prometra) is True

    # completed to 16:05: 8 h — the flag goes
    response = api.put(
        monitoring_url(prometra),
        {
            "started_at": "2026-11-20T08:05:00Z",
            "ended_at": "2026-11-20T16:05:00Z",
            "observed_by": "Nurse Kim",
            "findings": "no sedation, no hypotension",
        },
        format="json",
    )
    body = response.json()
    assert body["complete"] is True and body["hours"] == "8.00"
    assert body["message"] == "Monitored for 8 h after the implant."
    assert body["findings"] == "no sedation, no hypotension"
    assert _worklist_flag(api, prometra) is False
    # one record, audited twice (recorded, then completed)
    assert ImplantMonitoring.objects.count() == 1
    assert ImplantMonitoring.history.count() == 2


def test_implant_1_monitoring_under_way_is_recorded_without_an_end(api, prometra):
    implant_fill(api, prometra)
    body = api.put(
        monitoring_url(prometra),
        {"started_at": "2026-11-20T08:00:00Z", "observed_by": "Nurse Kim"},
        format="json",
    ).json()
    assert body["complete"] is False and body["ended_at"] is None
    assert body["message"] == "Monitoring under way since Fri 20 Nov 2026 08:00 UTC."


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"started_at": "2026-11-20T07:59:00Z"}, "started_at"),  # before delivery started
        ({"ended_at": "2026-11-20T08:00:00Z"}, "ended_at"),  # not after the start
        ({"ended_at": "2026-11-27T08:00:00Z"}, "ended_at"),  # in the future
        ({"observed_by": "  "}, "observed_by"),
    ],
)
def test_implant_1_monitoring_refusals_write_nothing(api, prometra, change, field):
    implant_fill(api, prometra)
    before = counts()
    body = {
        "started_at": "2026-11-20T08:00:00Z",
        "ended_at": "2026-11-20T17:00:00Z",
        "observed_by": "Nurse Kim",
    }
    assert_refused(api.put(monitoring_url(prometra), body | change, format="json"), field)
    assert counts() == before


def test_implant_1_no_monitoring_without_an_implant_fill(api, prometra):
    fill(api, prometra, FILL_AT, daily=300)  # a first fill, but not the operation's
    assert api.get(monitoring_url(prometra)).status_code == 404
    assert_refused(
        api.put(monitoring_url(prometra), {"started_at": FILL_AT, "observed_by": "Nurse Kim"}, format="json"),
        "pump",
        "no_implant_fill",
    )
    assert _worklist_flag(api, prometra) is False


def _correct(api, refill_id, **fields):
    body = {
        "performed_at": FILL_AT,
        "volume_withdrawn_ml": "0",
        "volume_added_ml": "20",
        "concentration_mcg_per_ml": "500",
        "prescription": simple(300),
        "correction_reason": "typed wrong",
        **fields,
    }
    response = api.post(f"/api/v1/refills/{refill_id}/correction/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_implant_1_the_monitoring_follows_a_corrected_implant_fill(api, prometra):
    typo = implant_fill(api, prometra, volume_added_ml="18").json()
    body = {"started_at": FILL_AT, "ended_at": "2026-11-20T16:30:00Z", "observed_by": "Nurse Kim"}
    assert api.put(monitoring_url(prometra), body, format="json").json()["complete"] is True
    corrected = _correct(api, typo["id"], implant_fill=True)
    # The monitoring happened whatever was mistyped: it is the corrected fill's, still complete.
    record = ImplantMonitoring.objects.get()
    assert record.refill_id == corrected["id"]
    state = api.get(monitoring_url(prometra)).json()
    assert state["complete"] is True and state["hours"] == "8.50"
    assert _worklist_flag(api, prometra) is False
    assert record.history.first().history_change_reason == "follows the corrected implant fill: typed wrong"


def test_implant_1_a_fill_corrected_to_no_implant_fill_leaves_the_monitoring_with_the_voided_one(
    api, prometra
):
    typo = implant_fill(api, prometra).json()
    body = {"started_at": FILL_AT, "ended_at": "2026-11-20T16:30:00Z", "observed_by": "Nurse Kim"}
    api.put(monitoring_url(prometra), body, format="json")
    _correct(api, typo["id"], implant_fill=False)
    assert ImplantMonitoring.objects.get().refill_id == typo["id"]
    assert api.get(monitoring_url(prometra)).status_code == 404  # no implant fill any more
    assert _worklist_flag(api, prometra) is False


def test_implant_1_monitoring_is_the_clinics_own(api, prometra, outsider, staff):
    implant_fill(api, prometra)
    body = {"started_at": FILL_AT, "ended_at": "2026-11-20T17:00:00Z", "observed_by": "Nurse Kim"}
    assert client_for(outsider).get(monitoring_url(prometra)).status_code == 404
    assert client_for(outsider).put(monitoring_url(prometra), body, format="json").status_code == 404
    assert client_for(staff).put(monitoring_url(prometra), body, format="json").status_code == 403
    assert not ImplantMonitoring.objects.exists()


def test_implant_1_existing_first_fills_are_not_implant_fills(api, pump):
    # A clinic that starts with pumpcare records pumps implanted long ago: their first fill in
    # pumpcare is not the operation's, and is not flagged for monitoring.
    fill(api, pump, "2026-11-16T12:00:00Z")
    assert Refill.objects.get().implant_fill is False
    assert _worklist_flag(api, pump) is False


def _worklist_flag(api, pump) -> bool:
    rows = api.get("/api/v1/worklist/", {"clinic": "HOME"}).json()["results"]
    return next(r for r in rows if r["pump"]["id"] == pump.pk)["flags"]["implant_monitoring_incomplete"]


def test_implant_1_monitoring_in_the_clinics_zone(api, patient):
    # A Paris clinic: 08:00 local on 20 Nov is 07:00 UTC; the message is in the clinic's zone.
    clinic = patient.clinic
    clinic.timezone = "Europe/Paris"
    clinic.save()
    pump = PumpFactory(
        patient=patient,
        model=PumpModel.objects.get(code="13827"),
        catheter_model=CatheterModel.objects.get(code="11823"),
        catheter_length_cm=60,
        implanted_on=IMPLANT_DAY,
    )
    assert implant_fill(api, pump, at="2026-11-20T08:00:00").status_code == 201
    assert Refill.objects.get(pump=pump).performed_at == datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    body = api.get(monitoring_url(pump)).json()
    assert body["message"] == "No monitoring is recorded after the implant fill of Fri 20 Nov 2026 08:00 CET."
