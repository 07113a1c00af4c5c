"""Raising, resolving and acknowledging alerts (ALERT-1). Writes are audited."""

from __future__ import annotations

from django.db import transaction

from patients.models import Clinic, Pump
from patients.permissions import PATIENT_WRITERS, require_role
from patients.services import save_audited
from pumpcare import clock
from therapy import CalculationError

from .models import Alert
from .outbox import ESCALATED, NOTICE, alert_notifications_cancel, alert_notifications_plan


@transaction.atomic
def alert_raise(
    *, clinic: Clinic, pump: Pump | None, kind: str, severity: str, message: str, actor=None
) -> Alert:
    alert = Alert(clinic=clinic, pump=pump, kind=kind, severity=severity, message=message, raised_by=actor)
    save_audited(alert, actor=actor, reason=f"alert raised: {kind}")
    if kind in ESCALATED or kind in NOTICE:
        alert_notifications_plan(alert, clock.now())
    return alert


@transaction.atomic
def alert_resolve(*, alert: Alert, why: str) -> Alert:
    """The state that raised the alert has ended (a refill, a booking): it stops escalating."""
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.resolved_at is None:
        alert.resolved_at = clock.now()
        save_audited(alert, actor=None, reason=f"resolved: {why}")
        alert_notifications_cancel(alert, f"the alert was resolved: {why}")
    return alert


# What an acknowledgement note holds (what was done, who is handling it) fits in a paragraph;
# the note is repeated in the audit record and shown on every page that lists the alert.
NOTE_MAX_CHARS = 2000


@transaction.atomic
def alert_acknowledge(*, actor, alert: Alert, note: str) -> Alert:
    """A staff member takes the alert in hand: who, when and why are audited; its
    escalation stops (pending repeats are cancelled)."""
    alert = Alert.objects.select_for_update().select_related("clinic").get(pk=alert.pk)
    require_role(actor, alert.clinic, PATIENT_WRITERS, "Acknowledging an alert")
    if not (note or "").strip():
        raise CalculationError("note", "is required: say what was done or who is handling it")
    if len(note.strip()) > NOTE_MAX_CHARS:
        raise CalculationError(
            "note",
            f"is too long: at most {NOTE_MAX_CHARS} characters (this one has {len(note.strip())})",
            code="max_length",
        )
    if alert.acknowledged_at is not None:
        raise CalculationError(
            "alert",
            f"was already acknowledged by {alert.acknowledged_by} at {alert.acknowledged_at:%Y-%m-%d %H:%M} UTC",
            code="already_acknowledged",
        )
    alert.acknowledged_at, alert.acknowledged_by, alert.acknowledgement_note = (
        clock.now(),
        actor,
        note.strip(),
    )
    save_audited(alert, actor=actor, reason=f"acknowledged: {note.strip()}")
    alert_notifications_cancel(alert, f"the alert was acknowledged by {actor.get_username()}")
    return alert
