"""The daily notice to a clinic's staff that emergency cards are stale (REFILL-4), planned
into the outbox. The outbox (``alerts``) stores and delivers it; this module is the planner
it asks, when the notice is about to be sent, whether cards are still stale and what the
notice lists."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction

from alerts.models import Notification, NotificationKind
from alerts.outbox import Planned, local_instant, reminder_time, rows_plan, staff_recipient
from alerts.planners import MESSAGES, Planner, register, register_pass
from patients.models import Clinic, Pump
from pumpcare import clock

from .selectors import stale_card_pump_ids

SUBJECT = "cards"


def card_stale_notices_plan(now: datetime | None = None) -> int:
    """Once a day per clinic, at the reminder time, a notice to the staff address when
    emergency cards are stale (REFILL-4): how many, and the link that prints them all in
    one batch. One row per clinic and day; the stale cards are counted again when it is
    sent. Returns the notices planned."""
    now = now or clock.now()
    planned = 0
    for clinic in Clinic.objects.all():
        local = now.astimezone(clinic.tz)
        due = local_instant(clinic, local.date(), reminder_time())
        if due > now:
            continue
        subject = f"{SUBJECT}:{clinic.code}"
        existing = list(Notification.objects.filter(subject=subject, due_at=due))
        if existing or not stale_card_pump_ids(clinic):
            continue
        with transaction.atomic():
            rows_plan(
                subject,
                clinic,
                [Planned(staff_recipient(clinic), NotificationKind.CARD_STALE, due, {})],
                existing,
                "superseded",
            )
        planned += 1
    return planned


def notice_obsolete(row, now: datetime) -> str:
    return "" if stale_card_pump_ids(row.clinic) else "no emergency card is stale any more"


def notice_context(row, now: datetime) -> dict:
    """The stale cards as they are when the notice is sent (the first 25, and how many)."""
    clinic = row.clinic
    stale = stale_card_pump_ids(clinic)  # cached per data version: the check before read it
    return {
        "stale": list(
            Pump.objects.filter(pk__in=stale)
            .select_related("patient", "model")
            .order_by("patient__family_name", "patient__given_name", "pk")[:25]
        ),
        "stale_count": len(stale),
        "batch_url": f"{settings.PUMPCARE_BASE_URL}/api/v1/clinics/{clinic.code}/emergency-cards.pdf?stale=1",
    }


def register_planner() -> None:
    """Called when the app is ready."""
    register(
        Planner(
            subject=SUBJECT,
            template="cards/email/cards_stale",
            obsolete=notice_obsolete,
            context=notice_context,
        )
    )
    register_pass(MESSAGES, SUBJECT, lambda: {"card_notices_planned": card_stale_notices_plan()})
