"""The monitoring after an implant (IMPLANT-1): delivery starts at the intraoperative implant
fill and is watched for at least 8 hours (a deployment setting), recorded with its start,
end, observer and findings. An implant fill without a completed record is flagged (the
worklist and the pump page read ``selectors.implant_monitoring_flags``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

import therapy
from patients.models import Pump
from patients.permissions import CLINICAL_WRITERS, require_role
from patients.services import save_audited
from pumpcare import clinical, clock

from . import selectors
from .models import ImplantMonitoring, Refill
from .services import local_time, lock_active_pump


@dataclass
class ImplantMonitoringState:
    """A pump's implant fill, its monitoring record (None: not recorded) and IMPLANT-1's
    verdict on it (None: nothing recorded yet)."""

    implant_fill: Refill
    record: ImplantMonitoring | None
    verdict: therapy.Monitoring | None


def implant_monitoring_read(pump: Pump) -> ImplantMonitoringState | None:
    """None when the pump has no recorded implant fill (nothing to monitor)."""
    fill = selectors.implant_fill(pump)
    if fill is None:
        return None
    record = ImplantMonitoring.objects.filter(refill=fill).first()
    return ImplantMonitoringState(fill, record, selectors.monitoring_verdict(fill, record, pump.clinic))


@transaction.atomic
def implant_monitoring_record(
    *,
    actor,
    pump: Pump,
    started_at: datetime,
    ended_at: datetime | None,
    observed_by: str,
    findings: str = "",
) -> ImplantMonitoringState:
    """IMPLANT-1: record (or complete, or correct) the monitoring after the pump's implant
    fill: it starts with delivery, ends after it starts, neither in the future."""
    pump = lock_active_pump(pump)
    clinic = pump.clinic
    require_role(actor, clinic, CLINICAL_WRITERS, "Recording the monitoring after an implant")
    fill = selectors.implant_fill(pump)
    if fill is None:
        raise therapy.CalculationError(
            "pump",
            "This pump has no recorded implant fill: record the fill made during the operation first.",
            code="no_implant_fill",
        )
    if not (observed_by or "").strip():
        raise therapy.CalculationError("observed_by", "Say who watched the patient after the implant.")
    now = clock.now()
    for name, at in (("started_at", started_at), ("ended_at", ended_at)):
        if at is not None and at > now:
            raise therapy.CalculationError(
                name,
                f"{local_time(at, clinic)} is in the future: record what has happened.",
                code="in_future",
            )
    verdict = therapy.implant_monitoring(
        fill_at=fill.performed_at,
        started_at=started_at,
        ended_at=ended_at,
        min_hours=clinical.implant_monitoring_min_hours(),
        tz=clinic.tz,
    )
    record = ImplantMonitoring.objects.filter(refill=fill).first() or ImplantMonitoring(refill=fill)
    first = record.pk is None
    record.started_at = started_at
    record.ended_at = ended_at
    record.observed_by = observed_by.strip()
    record.findings = findings or ""
    record.recorded_by = actor
    save_audited(
        record,
        actor=actor,
        reason="monitoring after the implant recorded" if first else "monitoring after the implant updated",
    )
    return ImplantMonitoringState(fill, record, verdict)
