"""What an alert says when it is shown or sent (ALERT-1: the pump's current dates, read then,
never the dates of the moment it was raised).

Alerts know clinics and pumps, not projections or appointments: the app that raises a kind
of alert registers how to word it from the current state (``register``), and the alert's
stored ``message`` — the record of what it said when raised — is shown for the kinds no one
registered, for resolved alerts, and when the state it needs is gone.
"""

from __future__ import annotations

from collections.abc import Callable

_TEXTS: dict[str, Callable] = {}


def register(kind: str, text: Callable) -> None:
    """``text(alert) -> str | None``: the alert's words now (None: use the stored message)."""
    _TEXTS[kind] = text


def current_text(alert) -> str:
    """The alert's words now. A resolved alert's state has ended (the pump was refilled, the
    surgery booked): its record, what it said then, is what it says."""
    text = _TEXTS.get(alert.kind)
    if text is None or alert.pump_id is None or alert.resolved_at is not None:
        return alert.message
    return text(alert) or alert.message
