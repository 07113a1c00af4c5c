"""MRI follow-ups (MRI-1) on persisted state: a SynchroMed II's interrogation after the
scan (a task due the scan day, escalated to the on-call address once that day is over
without it), and an emptied Prometra II's refill after the scan, which must be booked on
the scan day (an alert, escalated, until it is). Raised and resolved by the periodic
planning job and, in their transaction, by every write that changes them: an MRI planned,
emptied or cancelled, an interrogation, a refill booked or recorded."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

import therapy
from alerts.models import Alert, AlertKind, Severity
from alerts.services import alert_raise, alert_resolve
from devices import selectors as device_selectors
from devices.models import Mri
from devices.services import mri_complete, mri_reopen
from patients.models import Clinic, PumpStatus
from pumpcare import clock
from refills.models import Refill
from refills.projections import Counts
from refills.services import local_time
from therapy.device import EMPTY_BEFORE

from .models import Appointment, AppointmentKind, AppointmentStatus

MRI_ALERTS = {
    "interrogation_due": (AlertKind.MRI_INTERROGATION_DUE, Severity.WARNING),
    "interrogation_overdue": (AlertKind.MRI_INTERROGATION_OVERDUE, Severity.CRITICAL),
    "refill_unbooked": (AlertKind.MRI_REFILL_UNBOOKED, Severity.WARNING),
}
KINDS = [kind for kind, _ in MRI_ALERTS.values()]


@dataclass
class MriResult(Counts):
    """Named apart from the pump-state pass's counts: the planning job merges them in one dict."""

    mri_alerts_raised: int = 0
    mri_alerts_resolved: int = 0
    mris_completed: int = 0


def refill_after_scan(mri: Mri) -> tuple[str, Refill | None]:
    """MRI-1: why an emptied Prometra II's refill after the scan is taken care of (done
    after the scan: the first refill since, not a voided one; or booked on the scan day),
    with that refill, or ``("", None)``."""
    due_on = therapy.units.local_date(mri.scan_at, mri.pump.patient.clinic.tz)
    refill = (
        Refill.objects.filter(pump=mri.pump, performed_at__gte=mri.scan_at)
        .order_by("performed_at", "pk")
        .first()
    )
    if refill is not None:
        return "the pump was refilled after the scan", refill
    if Appointment.objects.filter(
        pump=mri.pump,
        kind=AppointmentKind.REFILL,
        status__in=[AppointmentStatus.BOOKED, AppointmentStatus.COMPLETED],
        day=due_on,
    ).exists():
        return f"the refill is booked on the scan day, {therapy.day_text(due_on)}", None
    return "", None


@transaction.atomic
def mri_follow_ups_run(clinic: Clinic, *, pump_ids: list[int] | None = None) -> MriResult:
    """MRI-1 for one clinic (or some of its pumps): one alert per pump and state, raised
    once and resolved when the state ends."""
    return _follow_ups(clinic, pump_ids)


def _follow_ups(clinic: Clinic, pump_ids: list[int] | None) -> MriResult:
    result = MriResult()
    now = clock.now()
    wanted: dict[tuple[int, str], tuple[str, str, object]] = {}
    # a pump's pass (a refill, a booking): nearly always no open MRI, found in one light query
    mris = device_selectors.open_mris(clinic, pump_ids) if pump_ids is None or _any_open(pump_ids) else []
    for mri in mris:
        pump = mri.pump
        if pump.status != PumpStatus.ACTIVE:
            continue
        if mri.follow_up == EMPTY_BEFORE and mri.emptied_at is not None:
            why, refill = refill_after_scan(mri)
            if why:
                mri_complete(mri=mri, why=why, refill=refill)
                result.mris_completed += 1
                continue
        state = device_selectors.mri_state(mri, now)
        if state.status not in MRI_ALERTS:
            continue
        kind, severity = MRI_ALERTS[state.status]
        words = f"Pump {pump} ({pump.patient}), MRI of {local_time(mri.scan_at, clinic)}: {state.words}"
        wanted[(pump.pk, kind)] = (severity, words, pump)
    alerts = Alert.objects.select_for_update().filter(clinic=clinic, kind__in=KINDS, resolved_at__isnull=True)
    if pump_ids is not None:
        alerts = alerts.filter(pump_id__in=pump_ids)
    have = set()
    for alert in alerts:
        if (alert.pump_id, alert.kind) in wanted:
            have.add((alert.pump_id, alert.kind))
        else:
            alert_resolve(alert=alert, why="the MRI follow-up is done, cancelled or has moved on")
            result.mri_alerts_resolved += 1
    for (pump_id, kind), (severity, words, pump) in wanted.items():
        if (pump_id, kind) not in have:
            alert_raise(clinic=clinic, pump=pump, kind=kind, severity=severity, message=words)
            result.mri_alerts_raised += 1
    return result


def _any_open(pump_ids: list[int]) -> bool:
    """Whether any of the pumps has an MRI whose follow-up is neither done nor cancelled
    (``open_mris`` without reading them)."""
    return Mri.objects.filter(
        pump_id__in=pump_ids, completed_at__isnull=True, cancelled_at__isnull=True
    ).exists()


def mri_follow_ups_run_all() -> MriResult:
    return sum((mri_follow_ups_run(clinic) for clinic in Clinic.objects.all()), MriResult())


def mri_follow_ups_of_pump(pump) -> MriResult:
    """MRI-1 for one pump, in the transaction of the write that moved its follow-up on (a
    refill, a booking, an interrogation): no savepoint of its own."""
    return _follow_ups(pump.patient.clinic, [pump.pk])


# --- receivers (connected in ``apps``) ----------------------------------------------------


def on_mri_follow_up_changed(sender, *, pump, **kwargs) -> None:
    mri_follow_ups_of_pump(pump)


def on_refill_recorded(sender, *, refill, first_fill=False, **kwargs) -> None:
    """MRI-1: a refill after the scan completes an emptied pump's follow-up. A pump's first
    fill completes none (only a filled pump is emptied), and leaves the other follow-ups
    where they were: the periodic pass moves those on with time."""
    if not first_fill:
        mri_follow_ups_of_pump(refill.pump)


def on_refill_voided(sender, *, refill, actor, **kwargs) -> None:
    """A voided refill was not done: the follow-up it completed (the pump refilled after the
    scan) is open again, and its alert raised again when it is due. A follow-up done
    otherwise (the refill booked on the scan day) or cancelled stays as it is."""
    for mri in Mri.objects.filter(completed_by_refill=refill, cancelled_at__isnull=True):
        mri_reopen(actor=actor, mri=mri, why="the refill after the scan was voided")
