"""A patient's course of therapy in order: the screening trial, the implant and the
monitoring after it, refills, prescriptions, visits, device events, replacements and the
explant — each with who and when.

This app knows patients and pumps, not what a refill or an appointment is. Each app that
records part of the course registers a source when it is ready: ``source(patient) ->
list[Event]``, read when the timeline is shown, in a constant number of queries per source.
The timeline merges them in time order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time

from .models import Patient, Pump


@dataclass(frozen=True)
class Event:
    """One step of the course. ``at`` orders it; a step known only by its day (an implant, a
    surgery) is ``all_day`` and placed at the start of that day in the clinic's zone."""

    at: datetime
    kind: str  # stable code: "refill", "implant_fill", "explant", …
    title: str  # what happened, in a nurse's words
    detail: str = ""
    by: str = ""  # who did it or observed it
    pump: Pump | None = None
    all_day: bool = False
    rank: int = 1  # at the same instant, lower first (a pump's end before its successor's implant)


Source = Callable[[Patient], list[Event]]
_SOURCES: dict[str, Source] = {}


def register(name: str, source: Source) -> None:
    _SOURCES[name] = source


def on_day(day: date, patient: Patient) -> datetime:
    """The start of a local day of the patient's clinic, for an ``all_day`` event."""
    return datetime.combine(day, time.min, tzinfo=patient.clinic.tz)


def patient_timeline(patient: Patient) -> list[Event]:
    """Every registered source's events, oldest first (a day's all-day events first)."""
    events = [event for source in _SOURCES.values() for event in source(patient)]
    return sorted(events, key=lambda e: (e.at, not e.all_day, e.rank, e.kind))


def _pumps(patient: Patient) -> list[Event]:
    """The pumps implanted: the day, the model and serial, who entered the record."""
    events = []
    pumps = patient.pumps.select_related("model", "catheter_model").order_by("implanted_on", "pk")
    creators = {
        row.id: row.history_user.username if row.history_user else ""
        for row in Pump.history.filter(id__in=[p.pk for p in pumps], history_type="+").select_related(
            "history_user"
        )
    }
    for pump in pumps:
        events.append(
            Event(
                at=on_day(pump.implanted_on, patient),
                kind="implant",
                title=f"Pump implanted: {pump.model.manufacturer} {pump.model.name}, serial {pump.serial_number}",
                detail=f"Catheter {pump.catheter_model.name}, {pump.catheter_length_cm} cm",
                by=creators.get(pump.pk, ""),
                pump=pump,
                all_day=True,
            )
        )
    return events


register("pumps", _pumps)
