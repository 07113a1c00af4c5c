"""The clinic registry spreadsheet: its columns (docs/import.md), read from and written to
CSV or XLSX by tablib (openpyxl underneath), never by hand.

A row is one pump of one patient (a patient with two pumps has two rows; one without a
pump has a row with the pump columns empty). Cells are read as text: a date or a number
typed in Excel arrives as a date or a number and is written back the way the import
reads it (2024-03-31, 20.5), so a nurse's spreadsheet and an export read the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import tablib


@dataclass(frozen=True)
class Column:
    key: str  # the header, as written in the file's first row
    label: str  # how a nurse names it in a message
    help: str
    optional: bool = False  # a file without the column reads it as empty


COLUMNS = (
    Column("mrn", "MRN", "the patient's medical record number at the clinic (required)"),
    Column("family_name", "Family name", "required"),
    Column("given_name", "Given name", "required"),
    Column("birth_date", "Birth date", "YYYY-MM-DD (required)"),
    Column("origin", "Origin", "origin of the spasticity: spinal or cerebral (required)"),
    Column("phone", "Patient phone", "optional"),
    Column("email", "Patient email", "optional"),
    Column("consent", "Patient consent", "yes if the patient agreed to reminders, else no or empty"),
    Column(
        "caregiver_name",
        "Caregiver name",
        "optional; one caregiver per row: a further caregiver on a row of its own, without the pump",
    ),
    Column("caregiver_relation", "Caregiver relation", "required when a caregiver is named"),
    Column("caregiver_phone", "Caregiver phone", "optional"),
    Column("caregiver_email", "Caregiver email", "optional"),
    Column("caregiver_consent", "Caregiver consent", "yes if the caregiver agreed to reminders"),
    Column("pump_model", "Pump model", "model code from the catalog, e.g. 8637-20 (empty: no pump)"),
    Column("pump_serial", "Pump serial", "the pump's serial number"),
    Column("implanted_on", "Implant date", "YYYY-MM-DD"),
    Column("catheter_model", "Catheter model", "catheter code from the catalog"),
    Column("catheter_length_cm", "Catheter length", "implanted length in cm"),
    Column("eri_on", "ERI date", "YYYY-MM-DD from an interrogation, if known (else estimated)"),
    Column("last_refill_at", "Last refill", "local date and time at the clinic: YYYY-MM-DD HH:MM"),
    Column("volume_ml", "Volume", "mL in the reservoir after the last refill"),
    Column("concentration_mcg_per_ml", "Concentration", "mcg/mL of the last refill"),
    Column(
        "compounded",
        "Compounded",
        "yes when the concentration was compounded by a pharmacy: it is not one of the supplied "
        "concentrations (empty: no)",
        optional=True,
    ),
    Column("prescription", "Prescription", "the current prescription, in the notation of docs/import.md"),
    Column("next_appointment", "Next appointment", "booked refill: YYYY-MM-DD or YYYY-MM-DD HH:MM"),
)
KEYS = tuple(c.key for c in COLUMNS)
BY_KEY = {c.key: c for c in COLUMNS}


def letter(index: int) -> str:
    """The spreadsheet's column letter of a 0-based column index (0 → A, 26 → AA)."""
    text = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        text = chr(65 + rest) + text
    return text


class FileRefused(ValueError):
    """The file cannot be read as a registry: not CSV/XLSX, or its header is wrong."""


def file_format(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".xlsx":
        return "xlsx"
    raise FileRefused(f"{name} is neither a .csv nor an .xlsx file: save the spreadsheet as one of them")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M" if value.second == 0 else "%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass
class Sheet:
    """The rows of a registry file as text, with where each column sits."""

    rows: list[dict[str, str]]
    positions: dict[str, int]  # key → 0-based column index in the file

    def has(self, key: str) -> bool:
        """Whether the file has the column (an optional one may be left out)."""
        return key in self.positions

    def cell(self, key: str, row_number: int) -> str:
        """A cell's address as the spreadsheet shows it: W5."""
        return f"{letter(self.positions[key])}{row_number}"


def read(content: bytes, name: str) -> Sheet:
    """The rows of a CSV (UTF-8, with or without BOM) or XLSX registry file."""
    kind = file_format(name)
    try:
        if kind == "csv":
            text = content.decode("utf-8-sig")
            data = tablib.Dataset().load(text, format="csv")
        else:
            data = tablib.Dataset().load(content, format="xlsx")
    except UnicodeDecodeError:
        raise FileRefused(f"{name} is not a UTF-8 CSV file: save it as 'CSV UTF-8'") from None
    except Exception as error:  # tablib/openpyxl raise many kinds for a damaged file
        raise FileRefused(f"{name} could not be read as a {kind.upper()} file ({error})") from None
    headers = [_text(h).lower() for h in (data.headers or [])]
    positions = {h: i for i, h in enumerate(headers) if h}
    missing = [k for k in KEYS if k not in positions and not BY_KEY[k].optional]
    if missing:
        raise FileRefused(
            f"the first row of {name} must name the columns; missing: {', '.join(missing)} "
            "(start from docs/import-template.csv)"
        )
    unknown = [h for h in headers if h and h not in BY_KEY]
    if unknown:
        raise FileRefused(
            f"{name} has columns pumpcare does not know: {', '.join(unknown)} (the columns are in docs/import.md)"
        )
    rows = []
    for values in data:
        row = {k: _text(values[positions[k]]) if k in positions else "" for k in KEYS}
        rows.append(row)
    return Sheet(rows, positions)


def write(rows: list[dict[str, str]], kind: str) -> bytes:
    """The registry as a CSV (UTF-8) or XLSX file, columns in the documented order."""
    data = tablib.Dataset(title="pumps")
    data.headers = list(KEYS)
    for row in rows:
        data.append([row.get(k, "") for k in KEYS])
    if kind == "csv":
        return data.export("csv").encode("utf-8")
    return data.export("xlsx")
