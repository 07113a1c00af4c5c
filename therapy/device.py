"""The device: alarms read at an interrogation (DEVICE-1) and the follow-up an MRI needs
(MRI-1). Which follow-up a pump model needs is catalog data (``PumpModel.mri_follow_up``,
with its source); this module decides what it means, and refuses when none is on file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .errors import CalculationError
from .units import day_text, instant_text, local_date

# --- DEVICE-1 ----------------------------------------------------------------------------

# The alarms a nurse reads at an interrogation. Critical: the pump has stopped or may stop
# delivering (DEVICE-1: motor stall, memory error, end of service). ERI: the elective
# replacement indicator (ERI-1). The others are logged.
CRITICAL_ALARMS = {
    "motor_stall": "motor stall",
    "memory_error": "memory error",
    "end_of_service": "end of service",
}
ERI_ALARM = "eri"
LOGGED_ALARMS = {
    "low_reservoir": "low reservoir",
    "other": "other alarm",
}
ALARMS = {**CRITICAL_ALARMS, ERI_ALARM: "elective replacement indicator (ERI)", **LOGGED_ALARMS}

CRITICAL, ERI, LOGGED = "critical", "eri", "logged"


def alarm_class(code: str, field: str = "alarms") -> str:
    """DEVICE-1: ``critical`` (motor stall, memory error, end of service), ``eri``, or
    ``logged`` (every other alarm the list knows). An unknown code is refused, naming
    the codes allowed: an alarm is never classified by a guess."""
    if code in CRITICAL_ALARMS:
        return CRITICAL
    if code == ERI_ALARM:
        return ERI
    if code in LOGGED_ALARMS:
        return LOGGED
    raise CalculationError(
        field, f"{code!r} is not a known alarm: use one of {', '.join(ALARMS)}", code="unknown_alarm"
    )


@dataclass(frozen=True)
class InterrogationFindings:
    """What an interrogation's alarms mean: the critical ones (a critical alert), the ERI
    date it sets (None without an ERI alarm), and the ones only logged."""

    critical: tuple[str, ...]
    eri_on: date | None
    logged: tuple[str, ...]


def interrogation_findings(
    *,
    alarms: list[str],
    interrogated_at: datetime,
    tz,
    implanted_on: date,
    eri_since: date | None = None,
) -> InterrogationFindings:
    """DEVICE-1 / ERI-1. Classify the alarms read (each at most once). An ERI alarm sets the
    pump's ERI date, entered from the interrogation and so no longer an estimate: the day
    the pump reports it has been showing ERI since (``eri_since``), else the interrogation's
    local day. That day may be neither after the interrogation nor on or before the implant
    day; ``eri_since`` without an ERI alarm is refused."""
    if len(set(alarms)) != len(alarms):
        raise CalculationError("alarms", "lists an alarm twice: list each alarm read once", code="repeated")
    classes = [alarm_class(code, f"alarms[{i}]") for i, code in enumerate(alarms)]
    critical = tuple(code for code, kind in zip(alarms, classes, strict=True) if kind == CRITICAL)
    logged = tuple(code for code, kind in zip(alarms, classes, strict=True) if kind == LOGGED)
    has_eri = ERI in classes
    on = local_date(interrogated_at, tz)
    if eri_since is not None and not has_eri:
        raise CalculationError(
            "eri_since", "is given but no ERI alarm was read: add the ERI alarm or leave it empty"
        )
    eri_on = None
    if has_eri:
        eri_on = eri_since or on
        if eri_on > on:
            raise CalculationError(
                "eri_since",
                f"{day_text(eri_on)} is after the interrogation ({day_text(on)}): the pump can only "
                "report an ERI it has reached",
            )
        if eri_on <= implanted_on:
            raise CalculationError(
                "eri_since",
                f"{day_text(eri_on)} is not after the implant day {day_text(implanted_on)}",
            )
    return InterrogationFindings(critical=critical, eri_on=eri_on, logged=logged)


def alarm_words(codes) -> str:
    """The alarms as a nurse reads them: ``motor stall, memory error``."""
    return ", ".join(ALARMS[code] for code in codes)


# --- MRI-1 -------------------------------------------------------------------------------

# What the catalog says a pump model needs around an MRI (PumpModel.mri_follow_up).
INTERROGATE_AFTER = "interrogate_after"  # SynchroMed II: the motor stalls in the scanner
EMPTY_BEFORE = "empty_before"  # Prometra II: the pump is emptied before the scan
FOLLOW_UPS = (INTERROGATE_AFTER, EMPTY_BEFORE)


def mri_follow_up(guidance: str, *, model: str) -> str:
    """MRI-1: the follow-up the pump's model needs, from the catalog. A model without MRI
    guidance on file is refused: no follow-up is ever guessed."""
    if guidance not in FOLLOW_UPS:
        raise CalculationError(
            "pump",
            f"no MRI guidance is on file for pump model {model}: plan the MRI with the "
            "manufacturer's instructions, and have an admin record the model's MRI follow-up "
            "in the catalog",
            code="no_mri_guidance",
        )
    return guidance


@dataclass(frozen=True)
class MriState:
    """Where an MRI's follow-up stands. ``status``: ``planned`` (before the scan),
    ``interrogation_due`` (SynchroMed II: the scan has happened, the interrogation is due
    today), ``interrogation_overdue`` (the scan day is over without it), ``emptying_due``
    (Prometra II: not emptied yet), ``refill_unbooked`` (emptied, no refill booked on the
    scan day), ``done`` or ``cancelled``. ``due_on``: the scan's local day."""

    status: str
    due_on: date
    words: str


def mri_state(
    *,
    follow_up: str,
    scan_at: datetime,
    now: datetime,
    tz,
    cancelled: bool = False,
    interrogated_at: datetime | None = None,
    emptied_at: datetime | None = None,
    refill_booked_on: date | None = None,
    refilled_after_scan: bool = False,
) -> MriState:
    """MRI-1. SynchroMed II: the pump is interrogated after the scan, a task due the scan's
    local day, overdue (escalated) once that day is over; an interrogation at or after the
    scan completes it. Prometra II: the pump is emptied before the scan, and the refill
    after the scan is booked on the scan's local day: done once both are."""
    due_on = local_date(scan_at, tz)
    today = local_date(now, tz)
    if cancelled:
        return MriState("cancelled", due_on, "The MRI was cancelled.")
    if follow_up == INTERROGATE_AFTER:
        if interrogated_at is not None and interrogated_at >= scan_at:
            return MriState("done", due_on, "The pump was interrogated after the scan.")
        if now < scan_at:
            return MriState("planned", due_on, f"Interrogate the pump after the scan, on {day_text(due_on)}.")
        if today <= due_on:
            return MriState(
                "interrogation_due",
                due_on,
                f"Interrogate the pump today ({day_text(due_on)}): the scan is over.",
            )
        return MriState(
            "interrogation_overdue",
            due_on,
            f"The pump was not interrogated after the scan of {day_text(due_on)}: the motor may have "
            "stalled; interrogate it now.",
        )
    if follow_up == EMPTY_BEFORE:
        if emptied_at is None:
            return MriState("emptying_due", due_on, f"Empty the pump before the scan ({day_text(due_on)}).")
        if refilled_after_scan:
            return MriState("done", due_on, "Emptied before the scan and refilled after it.")
        if refill_booked_on != due_on:
            return MriState(
                "refill_unbooked",
                due_on,
                f"The pump is empty: book the refill after the scan on {day_text(due_on)}.",
            )
        return MriState("done", due_on, f"Emptied; the refill is booked on {day_text(due_on)}.")
    return MriState(mri_follow_up(follow_up, model="?"), due_on, "")  # refuses


def check_emptying_time(*, emptied_at: datetime, scan_at: datetime, tz) -> None:
    """MRI-1: a Prometra II is emptied before the scan, not after it."""
    if emptied_at > scan_at:
        raise CalculationError(
            "emptied_at",
            f"is after the scan ({instant_text(scan_at, tz)}): the pump is emptied before the MRI",
            code="after_scan",
        )
