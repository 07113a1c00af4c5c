"""The compact prescription notation of the clinic spreadsheet (docs/import.md).

One cell holds a whole prescription, in any mode (DOSE-1), doses in mcg:

- ``continuous 300/day``
- ``flex 00:00 10/h; 08:00 20/h`` (steps: start and rate in mcg/hour)
- ``periodic 100/day; 08:00 50 over 30 min; 20:00 50 over 30 min`` (basal, then boluses)
- any of them may end with ``+ on demand 25 max 4/day lockout 120 min`` (patient-activated)

``prescription_from_text`` turns the cell into the API's shape (the dict
``therapy.parse_prescription`` validates, so a schedule the API refuses is refused here
for the same reason); ``prescription_text`` writes a stored schedule back, so an export
reads back as the same prescription. Hand-written because no kept library knows this
notation; it only splits the cell, every clinical check stays in ``therapy``.
"""

from __future__ import annotations

import re
from decimal import Decimal

NUMBER = r"(\d+(?:\.\d+)?)"
TIME = r"(\d{1,2}:\d{2})"
_CONTINUOUS = re.compile(rf"^continuous\s+{NUMBER}\s*(?:mcg)?\s*/\s*day$")
_FLEX_STEP = re.compile(rf"^{TIME}\s+{NUMBER}\s*(?:mcg)?\s*/\s*h(?:our)?$")
_BASAL = re.compile(rf"^{NUMBER}\s*(?:mcg)?\s*/\s*day$")
_BOLUS = re.compile(rf"^{TIME}\s+{NUMBER}\s*(?:mcg)?\s+over\s+(\d+)\s*min$")
_DEMAND = re.compile(rf"^on\s+demand\s+{NUMBER}\s*(?:mcg)?\s+max\s+(\d+)\s*/\s*day\s+lockout\s+(\d+)\s*min$")

EXAMPLES = (
    "write it like 'continuous 300/day', 'flex 00:00 10/h; 08:00 20/h' or "
    "'periodic 100/day; 08:00 50 over 30 min', optionally followed by "
    "'+ on demand 25 max 4/day lockout 120 min'"
)


class NotationError(ValueError):
    """The cell does not follow the notation; the message says what was expected."""


def _hhmm(text: str) -> str:
    hours, minutes = text.split(":")
    return f"{int(hours):02d}:{minutes}"


def prescription_from_text(text: str) -> dict:
    """The API shape of the prescription written in ``text``."""
    cleaned = " ".join(str(text).replace("\n", " ").split()).lower()
    if not cleaned:
        raise NotationError("is empty: " + EXAMPLES)
    main, _, demand = cleaned.partition("+")
    main, demand = main.strip(), demand.strip()
    mode_word, _, rest = main.partition(" ")
    rest = rest.strip()
    if mode_word == "continuous":
        match = _CONTINUOUS.match(main)
        if not match:
            raise NotationError(f"'{main}' is not a continuous dose: write it like 'continuous 300/day'")
        data: dict = {"mode": "simple_continuous", "daily_dose_mcg": match[1]}
    elif mode_word == "flex":
        steps = []
        for part in filter(None, (p.strip() for p in rest.split(";"))):
            match = _FLEX_STEP.match(part)
            if not match:
                raise NotationError(
                    f"the flex step '{part}' is not a start time and a rate: write it like '08:00 20/h'"
                )
            steps.append({"start": _hhmm(match[1]), "dose_mcg_per_hour": match[2]})
        if not steps:
            raise NotationError("has no flex step: write it like 'flex 00:00 10/h; 08:00 20/h'")
        data = {"mode": "flex", "steps": steps}
    elif mode_word == "periodic":
        parts = [p.strip() for p in rest.split(";") if p.strip()]
        basal = _BASAL.match(parts[0]) if parts else None
        if not basal:
            raise NotationError(
                "a periodic prescription starts with its basal dose: write it like "
                "'periodic 100/day; 08:00 50 over 30 min'"
            )
        boluses = []
        for part in parts[1:]:
            match = _BOLUS.match(part)
            if not match:
                raise NotationError(
                    f"the bolus '{part}' is not a time, a dose and a duration: write it like "
                    "'08:00 50 over 30 min'"
                )
            boluses.append({"time": _hhmm(match[1]), "dose_mcg": match[2], "duration_minutes": int(match[3])})
        data = {"mode": "periodic_bolus", "basal_daily_dose_mcg": basal[1], "boluses": boluses}
    else:
        raise NotationError(f"does not start with continuous, flex or periodic: {EXAMPLES}")
    if demand:
        match = _DEMAND.match(demand)
        if not match:
            raise NotationError(
                f"'{demand}' is not an on-demand bolus: write it like "
                "'+ on demand 25 max 4/day lockout 120 min'"
            )
        data["patient_activated_bolus"] = {
            "dose_mcg": match[1],
            "max_per_day": int(match[2]),
            "lockout_minutes": int(match[3]),
        }
    return data


def _num(value) -> str:
    shown = Decimal(str(value)).normalize()
    return format(shown, "f")


def prescription_text(schedule: dict) -> str:
    """The notation of a stored schedule (``therapy.Prescription.as_dict``'s shape)."""
    mode = schedule["mode"]
    if mode == "simple_continuous":
        text = f"continuous {_num(schedule['daily_dose_mcg'])}/day"
    elif mode == "flex":
        text = "flex " + "; ".join(
            f"{s['start']} {_num(s['dose_mcg_per_hour'])}/h" for s in schedule["steps"]
        )
    else:
        text = f"periodic {_num(schedule['basal_daily_dose_mcg'])}/day" + "".join(
            f"; {b['time']} {_num(b['dose_mcg'])} over {b['duration_minutes']} min"
            for b in schedule["boluses"]
        )
    demand = schedule.get("patient_activated_bolus")
    if demand:
        text += (
            f" + on demand {_num(demand['dose_mcg'])} max {demand['max_per_day']}/day "
            f"lockout {demand['lockout_minutes']} min"
        )
    return text
