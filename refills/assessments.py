"""Visit assessments (MONITOR-1): recorded with a refill (in its transaction) or on their own
at a titration or other visit; the signs are sorted by ``therapy.classify_assessment``. A
withdrawal sign raises a critical alert, escalated to the clinic's on-call address at once
and again until acknowledged (the outbox's ``ESCALATED``, as for a pump past its projected
empty time); a side-effect sign raises a physician-review alert. Each assessment supersedes
the pump's open assessment alerts: a later visit without the signs resolves them."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

import therapy
from alerts.models import Alert, AlertKind, Severity
from alerts.services import alert_raise, alert_resolve
from patients.models import Pump, PumpStatus
from patients.permissions import CLINICAL_WRITERS, require_role
from patients.services import save_audited
from pumpcare import clock

from .models import SIGN_FIELDS, Refill, VisitAssessment, VisitKind
from .signals import visit_assessed

ASSESSMENT_ALERTS = (AlertKind.WITHDRAWAL_SIGNS, AlertKind.SIDE_EFFECTS)


def assessment_save(
    *,
    actor,
    pump: Pump,
    visit_kind: str,
    assessed_at: datetime,
    signs: dict,
    notes: str = "",
    refill: Refill | None = None,
) -> VisitAssessment:
    """Store an assessment and raise or resolve its alerts (MONITOR-1). The caller holds the
    pump's lock and has checked the role and the time."""
    chosen = [name for name in SIGN_FIELDS if signs.get(name)]
    findings = therapy.classify_assessment(chosen)
    row = VisitAssessment(
        pump=pump,
        refill=refill,
        visit_kind=visit_kind,
        assessed_at=assessed_at,
        assessed_by=actor,
        notes=notes,
        **{name: name in chosen for name in SIGN_FIELDS},
    )
    save_audited(row, actor=actor, reason=f"{row.get_visit_kind_display().lower()} assessment")
    _alerts_update(row, findings, actor)
    return row


@transaction.atomic
def assessment_record(
    *, actor, pump: Pump, visit_kind: str, assessed_at: datetime, signs: dict, notes: str = ""
) -> VisitAssessment:
    """MONITOR-1 at a visit without a refill (a titration or other visit). A refill's
    assessment is recorded with the refill (``refill_record``'s ``assessment``). The
    assessment of a titration visit completes the pump's booked titration visit of that day
    or earlier (scheduling)."""
    pump = (
        Pump.objects.select_for_update(of=("self",))
        .select_related("model", "patient__clinic")
        .get(pk=pump.pk)
    )
    require_role(actor, pump.clinic, CLINICAL_WRITERS, "Recording a visit assessment")
    if pump.status != PumpStatus.ACTIVE:
        raise therapy.CalculationError(
            "pump",
            "The pump was explanted: record the assessment on the patient's current pump.",
            code="explanted",
        )
    if visit_kind == VisitKind.REFILL:
        raise therapy.CalculationError(
            "visit_kind",
            "a refill's assessment is recorded with the refill: choose titration or other",
            code="invalid_choice",
        )
    therapy.check_event_time(
        at=assessed_at,
        now=clock.now(),
        implanted_on=pump.implanted_on,
        tz=pump.clinic.tz,
        field="assessed_at",
    )
    row = assessment_save(
        actor=actor, pump=pump, visit_kind=visit_kind, assessed_at=assessed_at, signs=signs, notes=notes
    )
    # the visit has happened: a booked titration visit it records is done (scheduling)
    visit_assessed.send(sender=VisitAssessment, assessment=row, actor=actor)
    return row


def _alerts_update(row: VisitAssessment, findings: therapy.AssessmentFindings, actor) -> None:
    pump = row.pump
    when = therapy.units.instant_text(row.assessed_at, pump.clinic.tz)
    for alert in Alert.objects.select_for_update().filter(
        pump=pump, kind__in=ASSESSMENT_ALERTS, resolved_at__isnull=True
    ):
        alert_resolve(alert=alert, why=f"a later assessment was recorded ({when})")
    who = f"Pump {pump} ({pump.patient})"
    if findings.withdrawal:
        alert_raise(
            clinic=pump.clinic,
            pump=pump,
            kind=AlertKind.WITHDRAWAL_SIGNS,
            severity=Severity.CRITICAL,
            message=(
                f"{who}: withdrawal signs at the {row.get_visit_kind_display().lower()} of {when} "
                f"({findings.words('withdrawal')}). {therapy.monitoring.WITHDRAWAL_ADVICE} "
                "Reach the physician now."
            ),
            actor=actor,
        )
    if findings.side_effects:
        alert_raise(
            clinic=pump.clinic,
            pump=pump,
            kind=AlertKind.SIDE_EFFECTS,
            severity=Severity.WARNING,
            message=(
                f"{who}: signs of too much drug at the {row.get_visit_kind_display().lower()} of {when} "
                f"({findings.words('side_effects')}). A physician should review the dose."
            ),
            actor=actor,
        )
