"""Replacement planning (ERI-2): a planning task from six months before ERI, escalated
once the book-by date has passed without a booked replacement surgery."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models, transaction
from django.db.models import Exists, OuterRef

import therapy
from alerts.models import Alert, AlertKind, Severity
from alerts.services import alert_raise, alert_resolve
from patients.models import Clinic, Pump, PumpStatus
from refills.projections import Counts, loaded_projection, projections_refresh_stale, stale_ids

from .models import Appointment, AppointmentKind, AppointmentStatus
from .proposals import local_today


@dataclass
class ReplacementResult(Counts):
    opened: int = 0
    escalated: int = 0


def replacement_planning_run(clinic: Clinic) -> ReplacementResult:
    """ERI-2 for one clinic: from 6 months before ERI, a pump without a booked replacement
    gets a task for staff (an alert); once book-by (ERI − 90 days) has passed without one,
    the task escalates to an overdue alert, emailed to the on-call address daily until
    acknowledged (ALERT-1). Each is raised once and stays until a replacement is booked
    (today or later: a surgery whose day passed without the replacement does not count).

    Never from a stale projection: those an edit marked stale are recomputed first, before
    the run's transaction; those still marked in it (another transaction is recomputing
    them) wait for the next run."""
    active = Pump.objects.filter(patient__clinic=clinic, status=PumpStatus.ACTIVE)
    projections_refresh_stale(active)
    return _replacement_planning(clinic, active)


@transaction.atomic
def _replacement_planning(clinic: Clinic, active) -> ReplacementResult:
    result = ReplacementResult()
    today = local_today(clinic)
    # A surgery booked on a day that has passed without the replacement (the patient did not
    # come, nobody recorded it) is not a booked replacement: the task comes back.
    booked = Appointment.objects.filter(
        pump=OuterRef("pk"), kind=AppointmentKind.REPLACEMENT, status=AppointmentStatus.BOOKED, day__gte=today
    )
    booked_for_alert = Appointment.objects.filter(
        pump=OuterRef("pump"),
        kind=AppointmentKind.REPLACEMENT,
        status=AppointmentStatus.BOOKED,
        day__gte=today,
    )
    for alert in Alert.objects.filter(
        clinic=clinic,
        kind__in=[AlertKind.REPLACEMENT_PLANNING, AlertKind.REPLACEMENT_OVERDUE],
        resolved_at__isnull=True,
    ).filter(models.Q(Exists(booked_for_alert)) | ~models.Q(pump__status=PumpStatus.ACTIVE)):
        alert_resolve(alert=alert, why="a replacement is booked or the pump is no longer active")
    held = stale_ids(active)
    pumps = (
        Pump.objects.filter(
            patient__clinic=clinic,
            status=PumpStatus.ACTIVE,
            projection__replacement_planning_opens_on__lte=today,
        )
        .exclude(Exists(booked))
        .exclude(pk__in=held)
        .select_related("projection__stale", "patient", "model")
    )
    for pump in pumps:
        if pump.projection.replacement_book_by < today:
            kind, severity = AlertKind.REPLACEMENT_OVERDUE, Severity.WARNING
        else:
            kind, severity = AlertKind.REPLACEMENT_PLANNING, Severity.WARNING
        message = replacement_alert_text(kind, pump) or ""
        if Alert.objects.filter(pump=pump, kind=kind, resolved_at__isnull=True).exists():
            continue
        alert_raise(clinic=clinic, pump=pump, kind=kind, severity=severity, message=message)
        if kind == AlertKind.REPLACEMENT_OVERDUE:
            result.escalated += 1
        else:
            result.opened += 1
    return result


def replacement_alert_text(kind: str, pump: Pump) -> str | None:
    """ERI-2 / ALERT-1: the words of a replacement alert from the pump's current plan."""
    plan = loaded_projection(pump)  # loaded with the pump where shown in lists
    if plan is None or plan.eri_on is None or plan.replacement_book_by is None:
        return None
    eri, book_by = therapy.day_text(plan.eri_on), therapy.day_text(plan.replacement_book_by)
    eos = therapy.day_text(plan.eos_on) if plan.eos_on else "unknown"
    if kind == AlertKind.REPLACEMENT_OVERDUE:
        return (
            f"Pump {pump} ({pump.patient}): the replacement had to be booked by {book_by} "
            f"(ERI {eri}{', estimated' if plan.eri_estimated else ''}; the pump stops at EOS {eos})."
        )
    return (
        f"Pump {pump} ({pump.patient}) reaches ERI on {eri}{' (estimated)' if plan.eri_estimated else ''}: "
        f"book the replacement surgery by {book_by}."
    )


def replacement_alert_words(alert: Alert) -> str | None:
    return replacement_alert_text(alert.kind, alert.pump)


def replacement_planning_run_all() -> ReplacementResult:
    return sum((replacement_planning_run(clinic) for clinic in Clinic.objects.all()), ReplacementResult())
