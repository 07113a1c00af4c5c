"""The refill form's fields, read into the API's refill shape and validated by the API's own
serializer (``refills.api.RefillInputSerializer``), so the form and ``POST
/api/v1/pumps/{id}/refills/`` accept and refuse exactly the same input. The prescription
itself is checked by the calculation core (``therapy.parse_prescription``) when the service
runs, as for the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import therapy
from devices.api import (
    InterrogationInputSerializer,
    MriCancelInputSerializer,
    MriEmptyingInputSerializer,
    MriInputSerializer,
)
from refills.api import (
    ClinicLocalDateTimeField,
    ImplantMonitoringInputSerializer,
    RefillInputSerializer,
    ScreeningBolusSerializer,
)
from refills.models import SIGN_FIELDS

from .wording import field_label, serializer_message

MODES = [
    ("simple_continuous", "Simple continuous"),
    ("flex", "Flex (a 24-hour schedule of steps)"),
    ("periodic_bolus", "Periodic boluses (basal plus boluses at set times)"),
]
SCALARS = [
    "performed_at",
    "volume_withdrawn_ml",
    "volume_added_ml",
    "concentration_mcg_per_ml",
    "daily_dose_mcg",
    "basal_daily_dose_mcg",
    "pab_dose_mcg",
    "pab_max_per_day",
    "pab_lockout_minutes",
    "lot_number",
    "notes",
    "reason",
    "override_reason",
    "assessment_notes",  # MONITOR-1: the visit's notes
    "utc_offset",  # REFILL-2: minutes east of UTC, asked only when the typed time happens twice
]
MIN_ROWS = 4  # empty rows offered for flex steps and boluses
# The fields as the form shows them, top to bottom (errors are listed in this order).
FORM_ORDER = [
    "general",
    "role",
    "performed_at",
    "utc_offset",
    "volume_withdrawn_ml",
    "volume_added_ml",
    "concentration_mcg_per_ml",
    "compounded_confirmed",
    "implant_fill",
    "catheter_primed",
    "drug",
    "prescription",
    "lot_number",
    "notes",
    "reason",
    "override_reason",
    "assessment",
]
# MONITOR-1 on the refill form: the signs to tick, grouped as the nurse reads them.
SIGN_GROUPS = [
    (
        "Signs of too much drug",
        [(n, w.capitalize()) for n, w in therapy.monitoring.SIDE_EFFECT_SIGNS.items()],
    ),
    (
        "Withdrawal signs (a critical alert to the on-call nurse at once)",
        [(n, w.capitalize()) for n, w in therapy.monitoring.WITHDRAWAL_SIGNS.items()],
    ),
]


@dataclass
class RefillForm:
    """What the nurse typed (to show it again) and the errors per field."""

    values: dict = field(default_factory=dict)
    mode: str = "simple_continuous"
    compounded_confirmed: bool = False
    implant_fill: bool = False  # IMPLANT-1: a first fill only
    catheter_primed: bool = False
    steps: list[dict] = field(default_factory=list)
    boluses: list[dict] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    # REFILL-2: when the typed refill time happens twice (the clocks went back), the two
    # UTC offsets to choose from, as (minutes, label); empty otherwise.
    offset_choices: list[tuple[str, str]] = field(default_factory=list)
    signs: set[str] = field(default_factory=set)  # MONITOR-1: the signs ticked

    def padded(self, extra_rows: int = 0) -> RefillForm:
        """At least MIN_ROWS rows (one more empty row than filled), plus ``extra_rows``."""
        for rows, blank in (
            (self.steps, {"start": "", "dose": ""}),
            (self.boluses, {"time": "", "dose": "", "duration": ""}),
        ):
            want = max(MIN_ROWS, len([r for r in rows if any(r.values())]) + 1) + extra_rows
            while len(rows) < want:
                rows.append(dict(blank))
        return self

    def add_error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    @property
    def error_items(self) -> list[tuple[str, str, str]]:
        """(field, label, message) in the order of the form, the first problem first."""
        order = {name: i for i, name in enumerate(FORM_ORDER)}
        names = sorted(self.errors, key=lambda name: order.get(name, len(order)))
        return [
            (name, "" if name == "general" else field_label(name), message)
            for name in names
            for message in self.errors[name]
        ]


def _rows(post, prefix: str, keys: list[str]) -> list[dict]:
    rows, i = [], 0
    while f"{prefix}-{i}-{keys[0]}" in post:
        rows.append({k: post.get(f"{prefix}-{i}-{k}", "").strip() for k in keys})
        i += 1
    return rows


def form_from_post(post) -> RefillForm:
    form = RefillForm(
        values={name: post.get(name, "").strip() for name in SCALARS},
        mode=post.get("mode") or "simple_continuous",
        compounded_confirmed=post.get("compounded_confirmed") in ("on", "1", "true"),
        implant_fill=post.get("implant_fill") in ("on", "1", "true"),
        catheter_primed=post.get("catheter_primed") in ("on", "1", "true"),
        steps=_rows(post, "step", ["start", "dose"]),
        boluses=_rows(post, "bolus", ["time", "dose", "duration"]),
        signs={name for name in SIGN_FIELDS if post.get(f"sign_{name}") in ("on", "1", "true")},
    )
    return form


def form_initial(*, performed_at: datetime, last_refill, current, carried_from=None) -> RefillForm:
    """A new refill prefilled from the pump's record: the same concentration, volume added
    and prescription as now (the nurse changes what changes). A replacement pump's first
    fill takes the concentration of the replaced pump's last fill (``carried_from``)."""
    form = RefillForm(values={name: "" for name in SCALARS})
    form.values["performed_at"] = performed_at.strftime("%Y-%m-%dT%H:%M")
    if last_refill is not None:
        form.values["volume_added_ml"] = _plain(last_refill.volume_added_ml)
        form.values["concentration_mcg_per_ml"] = _plain(last_refill.concentration_mcg_per_ml)
    else:
        form.values["volume_withdrawn_ml"] = "0"
        if carried_from is not None:
            form.values["concentration_mcg_per_ml"] = _plain(carried_from.concentration_mcg_per_ml)
    if current is not None:
        schedule = current.schedule
        form.mode = schedule.get("mode", "simple_continuous")
        form.values["daily_dose_mcg"] = str(schedule.get("daily_dose_mcg", "") or "")
        form.values["basal_daily_dose_mcg"] = str(schedule.get("basal_daily_dose_mcg", "") or "")
        form.steps = [
            {"start": s["start"], "dose": str(s["dose_mcg_per_hour"])} for s in schedule.get("steps", [])
        ]
        form.boluses = [
            {"time": b["time"], "dose": str(b["dose_mcg"]), "duration": str(b["duration_minutes"])}
            for b in schedule.get("boluses", [])
        ]
        pab = schedule.get("patient_activated_bolus")
        if pab:
            form.values["pab_dose_mcg"] = str(pab["dose_mcg"])
            form.values["pab_max_per_day"] = str(pab["max_per_day"])
            form.values["pab_lockout_minutes"] = str(pab["lockout_minutes"])
    return form


def _plain(value) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def prescription_of(form: RefillForm) -> dict:
    """The API's prescription shape (DOSE-1) from the form's fields for the chosen mode;
    blank rows are left out. Validation is the core's."""
    v = form.values
    if form.mode == "flex":
        data = {
            "mode": "flex",
            "steps": [
                {"start": r["start"], "dose_mcg_per_hour": r["dose"]} for r in form.steps if any(r.values())
            ],
        }
    elif form.mode == "periodic_bolus":
        data = {
            "mode": "periodic_bolus",
            "basal_daily_dose_mcg": v["basal_daily_dose_mcg"],
            "boluses": [
                {"time": r["time"], "dose_mcg": r["dose"], "duration_minutes": r["duration"]}
                for r in form.boluses
                if any(r.values())
            ],
        }
    else:
        data = {"mode": form.mode, "daily_dose_mcg": v["daily_dose_mcg"]}
    if any(v[k] for k in ("pab_dose_mcg", "pab_max_per_day", "pab_lockout_minutes")):
        data["patient_activated_bolus"] = {
            "dose_mcg": v["pab_dose_mcg"],
            "max_per_day": v["pab_max_per_day"],
            "lockout_minutes": v["pab_lockout_minutes"],
        }
    return data


def api_payload(form: RefillForm) -> dict:
    """The body ``POST /api/v1/pumps/{id}/refills/`` would receive. The refill time goes as
    typed, the clinic's local time (``datetime-local``) without an offset: the serializer
    reads it in the clinic's zone with REFILL-2's daylight-saving check, as for the API."""
    v = form.values
    payload = {
        "performed_at": v["performed_at"],
        "volume_withdrawn_ml": v["volume_withdrawn_ml"],
        "volume_added_ml": v["volume_added_ml"],
        "concentration_mcg_per_ml": v["concentration_mcg_per_ml"],
        "compounded_confirmed": form.compounded_confirmed,
        "implant_fill": form.implant_fill,
        "catheter_primed": form.catheter_primed,
        "prescription": prescription_of(form),
        "lot_number": v["lot_number"],
        "notes": v["notes"],
        "reason": v["reason"],
        "override_reason": v["override_reason"],
        # MONITOR-1: every visit records an assessment; a sign not ticked was not observed.
        "assessment": {**{name: name in form.signs for name in SIGN_FIELDS}, "notes": v["assessment_notes"]},
    }
    # A measurement left empty is missing ("is required"), not a malformed number.
    for name in ("performed_at", "volume_withdrawn_ml", "volume_added_ml", "concentration_mcg_per_ml"):
        if payload[name] == "":
            del payload[name]
    return payload


def _typed_time(text: str) -> datetime | None:
    try:
        typed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return typed if typed.tzinfo is None else None


def twice_offsets(text: str, tz) -> list[int]:
    """REFILL-2: the UTC offsets (minutes) of a typed local time when it happens twice in
    the clinic's zone, earlier instant first; empty when it happens once (or not at all)."""
    typed = _typed_time(text)
    if typed is None:
        return []
    try:
        therapy.local_instant(typed, tz)
    except therapy.CalculationError as error:
        if error.code == "ambiguous_local_time":
            return list(error.details["offsets_minutes"])
    return []


def offset_choice(text: str, chosen: str, tz) -> tuple[int | None, list[tuple[str, str]]]:
    """For a typed local time that happens twice: the UTC offset the person chose (None if
    none of the two) and the two choices as (minutes, label); (None, []) otherwise."""
    offsets = twice_offsets(text, tz)
    if not offsets:
        return None, []
    offset = int(chosen) if chosen.lstrip("-").isdigit() and int(chosen) in offsets else None
    typed = _typed_time(text)
    return offset, [(str(minutes), therapy.clock.offset_label(typed, tz, minutes)) for minutes in offsets]


def validated(form: RefillForm, tz, request) -> dict | None:
    """The service's arguments, or None with the serializer's errors put on the form."""
    offset, form.offset_choices = offset_choice(
        form.values["performed_at"], form.values.get("utc_offset", ""), tz
    )
    context = {"request": request, "clinic_tz": tz, "utc_offset_minutes": offset}
    serializer = RefillInputSerializer(data=api_payload(form), context=context)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    for name, messages in serializer.errors.items():
        for where, detail in _flatten(messages):
            message = serializer_message(name, detail)
            form.add_error(name, f"{field_label(where)}: {message}" if where else message)
    return None


def _flatten(messages, where: str = "") -> list[tuple[str, object]]:
    """(path inside the field, error) pairs: nested errors keep where they are."""
    if isinstance(messages, dict):
        return [
            pair
            for key, value in messages.items()
            for pair in _flatten(value, f"{where}.{key}" if where else str(key))
        ]
    if isinstance(messages, list):
        return [pair for item in messages for pair in _flatten(item, where)]
    return [(where, messages)]


# --- the forms of one service each: replace, explant, screening bolus ------------------------


@dataclass
class ServiceForm:
    """A form whose fields are one service's arguments, validated by the API's serializer
    for that service (so the page and the endpoint accept the same input): the values as
    typed, to show them again, and the errors per field in the nurse's words."""

    fields: list[str]
    values: dict = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    # REFILL-2: when a typed time happens twice (the clocks went back), its two UTC offsets
    # as (minutes, label) to choose from; empty otherwise.
    offset_choices: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_post(cls, fields: list[str], post) -> ServiceForm:
        return cls(fields, {name: post.get(name, "").strip() for name in fields})

    def add_error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    @property
    def error_items(self) -> list[tuple[str, str, str]]:
        """(field, label, message) in the order of the form, the first problem first."""
        order = {name: i for i, name in enumerate(["general", "role", *self.fields])}
        names = sorted(self.errors, key=lambda name: order.get(name, len(order)))
        return [
            (name, "" if name in ("general", "role") else field_label(name), message)
            for name in names
            for message in self.errors[name]
        ]

    def validated(self, serializer_class, *, optional=(), context=None) -> dict | None:
        """The service's arguments, or None with the serializer's errors put on the form.
        An ``optional`` field left empty is not sent (the serializer's default applies)."""
        payload = {k: v for k, v in self.values.items() if not (k in optional and v == "")}
        serializer = serializer_class(data=payload, context=context or {})
        if serializer.is_valid():
            return dict(serializer.validated_data)
        for name, messages in serializer.errors.items():
            for where, detail in _flatten(messages):
                message = serializer_message(name, detail)
                self.add_error(
                    name if name in self.fields else "general",
                    f"{field_label(where)}: {message}" if where else message,
                )
        return None


REPLACE_FIELDS = [
    "explanted_on",
    "model",
    "serial_number",
    "catheter_model",
    "catheter_length_cm",
    "low_reservoir_alarm_ml",
    "reason",
]
EXPLANT_FIELDS = ["explanted_on", "reason", "override_reason"]
BOLUS_FIELDS = [
    "dose_mcg",
    "given_at",
    "observed_by",
    "responded",
    "effect_duration_hours",
    "adverse_reactions",
]


MONITORING_FIELDS = ["started_at", "ended_at", "observed_by", "findings"]


class ImplantMonitoringInput(ImplantMonitoringInputSerializer):
    """The API's monitoring record after an implant (IMPLANT-1), its times as the form gives
    them: the clinic's local time, read in the clinic's zone with REFILL-2's check."""

    started_at = ClinicLocalDateTimeField()
    ended_at = ClinicLocalDateTimeField(required=False, allow_null=True, default=None)


class ScreeningBolusInput(ScreeningBolusSerializer):
    """The API's screening bolus, with the time as the form gives it: the clinic's local
    time (``datetime-local``), read in the clinic's zone with REFILL-2's daylight-saving
    check, as the refill form's time is."""

    given_at = ClinicLocalDateTimeField()


class InterrogationInput(InterrogationInputSerializer):
    """The API's interrogation (DEVICE-1), with the time as the form gives it: the clinic's
    local time, read in the clinic's zone with REFILL-2's daylight-saving check."""

    interrogated_at = ClinicLocalDateTimeField()


class MriInput(MriInputSerializer):
    """The API's planned MRI (MRI-1), the scan's time as the form gives it."""

    scan_at = ClinicLocalDateTimeField()


class MriEmptyingInput(MriEmptyingInputSerializer):
    """The API's emptying of a Prometra II before its scan (MRI-1, TITRATE-2), the time as
    the form gives it."""

    emptied_at = ClinicLocalDateTimeField()


MriCancelInput = MriCancelInputSerializer
