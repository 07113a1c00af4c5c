"""Raising alerts. Escalation and delivery come with the reminders issue."""

from __future__ import annotations

from django.db import transaction

from patients.models import Clinic, Pump
from patients.services import save_audited

from .models import Alert


@transaction.atomic
def alert_raise(
    *, clinic: Clinic, pump: Pump | None, kind: str, severity: str, message: str, actor=None
) -> Alert:
    alert = Alert(clinic=clinic, pump=pump, kind=kind, severity=severity, message=message, raised_by=actor)
    save_audited(alert, actor=actor, reason=f"alert raised: {kind}")
    return alert
