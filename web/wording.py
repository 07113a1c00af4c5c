"""What a nurse reads when the web app refuses something: the field as its form labels it,
and the message without the API's vocabulary.

The services and the calculation core word their refusals for the API: the field is named
as the JSON names it (``prescription.steps[1].start``), instants are ISO 8601 in UTC, and a
message may name another field (``needs compounded_confirmed: true``). The API keeps that;
here the same refusal is shown with the form's label ("Flex step 2, start"), instants as
the clinic's local time, and field names as the words on the form. Django REST
framework's stock messages (which quote ISO format strings) are replaced by their code.
Hand-written because it is the vocabulary of these forms; no library knows it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import therapy

LABELS = {
    "assessment": "What you observed",
    "performed_at": "Time of the refill",
    "effective_at": "Time the prescription takes effect",
    "volume_withdrawn_ml": "Volume withdrawn",
    "volume_added_ml": "Volume added",
    "concentration_mcg_per_ml": "Concentration",
    "compounded_confirmed": "Compounded concentration",
    "drug": "Drug",
    "prescription": "Prescription",
    "mode": "Mode",
    "daily_dose_mcg": "Daily dose",
    "basal_daily_dose_mcg": "Basal daily dose",
    "steps": "Flex step",
    "start": "start",
    "dose_mcg_per_hour": "dose (mcg/hour)",
    "boluses": "Bolus",
    "time": "time",
    "dose_mcg": "dose (mcg)",
    "duration_minutes": "duration (minutes)",
    "patient_activated_bolus": "Patient-activated bolus",
    "pab_dose_mcg": "Patient-activated bolus dose",
    "pab_max_per_day": "Patient-activated boluses a day",
    "pab_lockout_minutes": "Patient-activated bolus lockout",
    "max_per_day": "maximum a day",
    "lockout_minutes": "lockout (minutes)",
    "lot_number": "Lot number",
    "notes": "Notes",
    "note": "Note",
    "reason": "Reason",
    "override_reason": "Physician's override reason",
    "utc_offset": "UTC offset",
    "role": "Your role",
    "day": "Day",
    "nurse": "Nurse",
    "status": "Status",
    "surgery_on": "Surgery day",
    # replacing or explanting a pump (TITRATE-2, IMPLANT-1)
    "explanted_on": "Date of the surgery",
    "model": "New pump model",
    "catheter_model": "Catheter model",
    "catheter_length_cm": "Catheter length",
    "low_reservoir_alarm_ml": "Low-reservoir alarm volume",
    "eri_on": "ERI date",
    # the implant fill and the monitoring after it (IMPLANT-1)
    "implant_fill": "Implant fill",
    "catheter_primed": "Catheter priming",
    "started_at": "Start of the monitoring",
    "ended_at": "End of the monitoring",
    "findings": "Findings",
    # a screening bolus (SCREEN-1)
    "given_at": "Time the bolus was given",
    "observed_by": "Observed by",
    "responded": "Response",
    "effect_duration_hours": "Duration of the effect",
    "adverse_reactions": "Adverse reactions",
    # an interrogation (DEVICE-1) and an MRI (MRI-1)
    "interrogated_at": "Time of the interrogation",
    "alarms": "Alarms read",
    "eri_since": "ERI shown since",
    "scan_at": "Time of the scan",
    "emptied_at": "Time the pump was emptied",
    "mri": "MRI",
    # what an emergency card must show (CARD-1)
    "patient_name": "Patient name",
    "birth_date": "Date of birth",
    "pump_model": "Pump model",
    "serial_number": "Serial number",
    "implanted_on": "Implant date",
    "concentration": "Concentration",
    "low_reservoir_alarm_on": "Low-reservoir alarm date",
    "refill_by": "Refill-by date",
    "clinic_name": "Clinic",
    "emergency_phone": "24/7 emergency phone",
    "physician": "Physician",
    "withdrawal_warning": "Withdrawal warning",
    "mri_note": "MRI note",
    "card": "Card",
    "stale": "Stale cards",
}
# Phrases of the API that name a field as a JSON value, and what the form calls it.
PHRASES = {
    "compounded_confirmed: true": "ticking “I confirm a compounded concentration”",
    "compounded_confirmed true": "ticking “I confirm a compounded concentration”",
    "'HH:MM' ": "",
    "HH:MM ": "",
    "YYYY-MM-DD": "",
}
# DRF's stock messages, by their code, in the form's words.
BY_CODE = {
    "required": "is required",
    "null": "is required",
    "blank": "is required",
    "invalid": "is not valid",
    "max_length": "is too long",
    "max_digits": "is too large",
    "max_whole_digits": "is too large",
    "max_decimal_places": "has too many decimals",
    "max_value": "is too large",
    "min_value": "is too small",
    "date": "must be a date and time, not only a date",
}
BY_FIELD_INVALID = {
    "performed_at": "must be a date and a time",
    "effective_at": "must be a date and a time",
    "given_at": "must be a date and a time",
    "explanted_on": "must be a date: pick one in the calendar",
    "responded": "choose yes or no",
}
NUMBER = "must be a number, like 20 or 19.5"

_INDEX = re.compile(r"^(?P<name>[a-z_]+)\[(?P<index>\d+)\]$")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_FIELD = re.compile(
    r"\b(" + "|".join(sorted((k for k in LABELS if "_" in k), key=len, reverse=True)) + r")\b"
)


def field_label(path: str) -> str:
    """``prescription.steps[1].start`` → "Flex step 2, start"; ``volume_added_ml`` →
    "Volume added"; an unknown name is shown with spaces for underscores."""
    parts = [p for p in (path or "").split(".") if p]
    if len(parts) > 1 and parts[0] == "prescription":
        parts = parts[1:]
    words = []
    for part in parts:
        indexed = _INDEX.match(part)
        if indexed:
            name = LABELS.get(indexed["name"], indexed["name"].replace("_", " "))
            words.append(f"{name} {int(indexed['index']) + 1}")
        else:
            words.append(LABELS.get(part, part.replace("_", " ")))
    text = ", ".join(words)
    return text[:1].upper() + text[1:]


def humane(message: str, tz=None) -> str:
    """The message with instants as the clinic's local time, dates written out, and the
    API's field names in the form's words."""
    text = str(message)
    for phrase, words in PHRASES.items():
        text = text.replace(phrase, words)
    if tz is not None:
        text = _INSTANT.sub(lambda m: _instant(m.group(0), tz), text)
    text = _DATE.sub(lambda m: _date(m.group(0)), text)
    return _FIELD.sub(lambda m: LABELS[m.group(1)].lower(), text)


def serializer_message(field: str, detail) -> str:
    """A DRF error (``ErrorDetail`` with its code) in the form's words."""
    code = getattr(detail, "code", None)
    if code == "invalid":
        if field in BY_FIELD_INVALID:
            return BY_FIELD_INVALID[field]
        if field.endswith(("_ml", "_mcg", "_mcg_per_ml", "_per_day", "_minutes", "_cm", "_hours")):
            return NUMBER
    if code in BY_CODE and code not in ("invalid",):
        return BY_CODE[code]
    return humane(str(detail))


def _instant(text: str, tz) -> str:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if at.tzinfo is None:
        return f"{at:%a} {at.day} {at:%b %Y %H:%M}"
    return therapy.units.instant_text(at, tz)


def _date(text: str) -> str:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text
    return f"{day:%a} {day.day} {day:%b %Y}"


def mg(value) -> str:
    """An oral dose as the page shows it: 5, 7.5, 0.25 (to 0.01 mg, trailing zeros dropped)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator) if hasattr(value, "numerator") else value
    text = f"{Decimal(exact).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def mcg(value) -> str:
    """An exact dose as the page shows it: 150, 7.5 (to 0.1 mcg, trailing zeros dropped)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator) if hasattr(value, "numerator") else value
    text = f"{Decimal(exact).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".")


def screening_outcome(outcome) -> str:
    """START-1's outcome (``therapy.ScreeningOutcome``) in a sentence: "Positive at 75 mcg:
    start at 150 mcg/day", "No response yet: next step 75 mcg", "Not a candidate"."""
    if outcome.status == "respond":
        return (
            f"Positive at {mcg(outcome.effective_dose_mcg)} mcg: "
            f"start at {mcg(outcome.starting_daily_dose_mcg)} mcg/day"
        )
    if outcome.status == "next_step":
        return f"No response yet: next step {mcg(outcome.next_dose_mcg)} mcg"
    return "Not a candidate for intrathecal baclofen"


def ack_note_tag(alert_id: int) -> str:
    """The tag of a refused acknowledgement's message shown under that alert's note field
    (the page's message list leaves such field errors to their field)."""
    return f"field-error alert-{alert_id}-note"
