"""MONITOR-1 through the service and the API: a visit's assessment recorded with a refill (in
its transaction) or on its own at a titration or other visit; a withdrawal sign raises a
critical alert that reaches the clinic's on-call address at once (and again every 4 hours
until acknowledged), a side-effect sign a physician-review alert; a later assessment
without the signs resolves them.

"Now" is 2026-11-26 12:00Z; the pump is filled on 2026-11-20 and refilled on 2026-11-25.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from alerts import outbox
from alerts.models import Alert, Notification
from refills.models import VisitAssessment
from tests.conftest import NOW, client_for
from tests.helpers import assert_refused, clock_at, deliver, fill, simple, therapy_rows

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]

FILLED = "2026-11-20T10:00:00Z"
REFILLED = "2026-11-25T10:00:00Z"


@pytest.fixture
def home(clinic):
    clinic.on_call_email = "oncall@home.example"
    clinic.staff_email = "desk@home.example"
    clinic.save()
    return clinic


def refill_with(api, pump, assessment):
    # 5 days at 0.5 mL/day: 2.5 mL delivered, 17.5 mL left (ratio 1, no drift)
    return api.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": REFILLED,
            "volume_withdrawn_ml": "17.5",
            "volume_added_ml": 20,
            "concentration_mcg_per_ml": 500,
            "prescription": simple(250),
            "assessment": assessment,
        },
        format="json",
    )


def visit(api, pump, **body):
    return api.post(
        f"/api/v1/pumps/{pump.pk}/assessments/",
        {"visit_kind": "titration", "assessed_at": "2026-11-26T09:00:00Z", **body},
        format="json",
    )


def alerts(pump, kind):
    return list(Alert.objects.filter(pump=pump, kind=kind).order_by("pk"))


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_a_withdrawal_sign_at_a_refill_reaches_on_call_at_once(
    home, api, pump, monkeypatch, django_capture_on_commit_callbacks
):
    fill(api, pump, FILLED)
    response = refill_with(api, pump, {"itching": True, "fever": True, "notes": "itchy since Sunday"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assessment = body["assessment"]
    assert (assessment["visit_kind"], assessment["itching"], assessment["fever"]) == ("refill", True, True)
    assert assessment["sedation"] is False and assessment["notes"] == "itchy since Sunday"
    assert assessment["refill"] == body["id"] and assessment["assessed_by"] == "nurse"
    (alert,) = alerts(pump, "withdrawal_signs")
    assert alert.severity == "critical"
    assert "itching, fever" in alert.message
    assert "evolves over 1–3 days" in alert.message and "resumed at once" in alert.message
    assert "high-dose oral baclofen may not prevent it" in alert.message
    assert "Wed 25 Nov 2026 10:00 UTC" in alert.message
    # escalated like a pump past its projected empty time: on-call now, again every 4 hours
    rows = Notification.objects.filter(subject=f"alert:{alert.pk}", recipient_role="on_call")
    assert list(rows.values_list("due_at", "kind")) == [(NOW, "withdrawal_signs")]
    deliver(django_capture_on_commit_callbacks)
    (sent,) = [m for m in mail.outbox if m.to == ["oncall@home.example"]]
    assert sent.subject.startswith("[pumpcare HOME] CRITICAL: Withdrawal signs at a visit")
    assert "resumed at once" in sent.body and "repeated every 4 hours" in sent.body
    clock_at(monkeypatch, NOW + timedelta(hours=4))
    outbox.escalations_plan_all()
    assert rows.count() == 2
    # no physician-review alert: no side-effect sign
    assert alerts(pump, "side_effects") == []


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_side_effect_signs_ask_for_a_physician_review(home, api, pump):
    fill(api, pump, FILLED)
    response = refill_with(api, pump, {"sedation": True, "muscle_weakness": True})
    assert response.status_code == 201, response.json()
    (alert,) = alerts(pump, "side_effects")
    assert alert.severity == "warning"
    assert "muscle weakness, sedation" in alert.message and "physician should review" in alert.message
    assert alerts(pump, "withdrawal_signs") == []
    notices = Notification.objects.filter(subject=f"alert:{alert.pk}")
    assert [(n.email, n.kind) for n in notices] == [("desk@home.example", "side_effects")]


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_a_refill_without_assessment_records_none(api, pump):
    fill(api, pump, FILLED)
    response = refill_with(api, pump, None)
    assert response.status_code == 201 and response.json()["assessment"] is None
    assert not VisitAssessment.objects.exists()
    # an assessment with no sign is recorded and raises nothing
    pump2_body = api.get(f"/api/v1/pumps/{pump.pk}/assessments/").json()
    assert pump2_body["results"] == []


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_a_titration_visit_without_signs_resolves_the_open_alerts(home, api, pump):
    fill(api, pump, FILLED)
    refill_with(api, pump, {"seizures": True, "sedation": True})
    (withdrawal,) = alerts(pump, "withdrawal_signs")
    (side,) = alerts(pump, "side_effects")
    response = visit(api, pump, notes="infusion resumed, settled")
    assert response.status_code == 201, response.json()
    assert response.json()["visit_kind"] == "titration" and response.json()["refill"] is None
    for alert in (withdrawal, side):
        alert.refresh_from_db()
        assert alert.resolved_at is not None
    listed = api.get(f"/api/v1/pumps/{pump.pk}/assessments/").json()["results"]
    assert [a["visit_kind"] for a in listed] == ["titration", "refill"]  # newest first
    # a titration visit with a withdrawal sign raises a new critical alert
    response = visit(api, pump, visit_kind="other", assessed_at="2026-11-26T11:00:00Z", hypotension=True)
    assert response.status_code == 201
    assert [a.resolved_at is None for a in alerts(pump, "withdrawal_signs")] == [False, True]
    # the assessment's history is audited
    assert VisitAssessment.history.count() == 3


@pytest.mark.rule("MONITOR-1")
@pytest.mark.parametrize(
    "body, field",
    [
        ({"visit_kind": "refill"}, "visit_kind"),
        ({"visit_kind": "surgery"}, "visit_kind"),
        ({"assessed_at": "2026-11-27T09:00:00Z"}, "assessed_at"),  # in the future
        ({"assessed_at": "2025-12-01T09:00:00Z"}, "assessed_at"),  # before the implant
        ({"itching": "sometimes"}, "itching"),
        ({"notes": "x" * 4001}, "notes"),
    ],
)
def test_monitor_1_bad_assessments_are_refused_and_write_nothing(api, pump, body, field):
    fill(api, pump, FILLED)
    before = therapy_rows()
    assert_refused(visit(api, pump, **body), field)
    assert therapy_rows() == before and not VisitAssessment.objects.exists()


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_a_bad_nested_assessment_refuses_the_whole_refill(api, pump):
    fill(api, pump, FILLED)
    before = therapy_rows()
    assert_refused(refill_with(api, pump, {"fever": "high"}), "assessment")
    assert_refused(refill_with(api, pump, "itching"), "assessment")
    assert therapy_rows() == before and not VisitAssessment.objects.exists()


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_assessments_are_scoped_to_the_clinic(api, pump, outsider, staff):
    fill(api, pump, FILLED)
    assert visit(client_for(outsider), pump, itching=True).status_code == 404
    assert client_for(outsider).get(f"/api/v1/pumps/{pump.pk}/assessments/").status_code == 404
    # the front-desk role reads but does not record clinical observations
    assert visit(client_for(staff), pump, itching=True).status_code == 403
    assert not VisitAssessment.objects.exists()


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_the_refill_form_records_the_assessment_without_javascript(home, api, pump, nurse):
    from django.test import Client

    fill(api, pump, FILLED)
    client = Client()
    client.force_login(nurse)
    form = {
        "performed_at": "2026-11-25T10:00",
        "volume_withdrawn_ml": "17.5",
        "volume_added_ml": "20",
        "concentration_mcg_per_ml": "500",
        "mode": "simple_continuous",
        "daily_dose_mcg": "250",
        "sign_paresthesia": "on",
        "assessment_notes": "tingling legs",
    }
    page = client.get(f"/pumps/{pump.pk}/refill/")
    assert b"What you observed at this visit" in page.content and b"Rebound spasticity" in page.content
    response = client.post(f"/pumps/{pump.pk}/refill/", {**form, "action": "save"})
    assert response.status_code == 302, response.content.decode()[:2000]
    row = VisitAssessment.objects.get(pump=pump)
    assert row.signs == ["paresthesia"] and row.notes == "tingling legs" and row.visit_kind == "refill"
    assert alerts(pump, "withdrawal_signs")[0].severity == "critical"
    # the pump page lists it in words
    assert "paresthesia" in client.get(f"/pumps/{pump.pk}/").content.decode()
    # a note too long is refused under the assessment, and nothing is written
    before = therapy_rows()
    refused = client.post(
        f"/pumps/{pump.pk}/refill/",
        {**form, "performed_at": "2026-11-26T10:00", "assessment_notes": "x" * 4001, "action": "save"},
    )
    assert refused.status_code == 400
    assert "What you observed" in refused.content.decode()
    assert therapy_rows() == before
