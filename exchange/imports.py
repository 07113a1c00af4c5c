"""A clinic moves in: its registry spreadsheet imported row by row through the services the
API uses (``patients.services``, ``refills.services.refill_record``,
``scheduling.appointments``), never by writing models.

- Every row is checked by those services; a refusal names the cell (W5) and says why in the
  words the services use, under the column's name.
- The whole file is one transaction: nothing is written unless every row passes, unless
  ``partial`` keeps the rows that pass (each row is then its own savepoint). ``dry_run``
  checks everything and writes nothing.
- A re-import changes nothing: patients are matched by clinic and MRN, pumps by model and
  serial; a row that says what pumpcare already holds is "unchanged". A row that says
  something else about a patient or pump already held is refused: corrections are made on
  the patient's or pump's page, where the history keeps who and why, not by re-import.
- The last refill of a pump new to pumpcare becomes its first fill, and its prescription
  the first prescription of the pump. START-2, TITRATE-1 and TITRATE-2 apply to it as to any
  first fill: without a recorded screening trial it carries a warning; a stopped pump
  (0 mcg a day), or a patient already in pumpcare whose dose history or screening trial
  does not allow the dose, is refused unless the import carries an ``override_reason``,
  which only a physician may give (the services check it) and which the history keeps on
  each prescription that needed it.
- DOSE-4: a concentration that is not a supplied one is compounded; the row confirms it with
  yes in its Compounded cell (``refill_record``'s ``compounded_confirmed``), else it is
  refused at its Concentration cell, saying so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.exceptions import PermissionDenied

import therapy
from patients import services as patient_services
from patients.models import CatheterModel, Clinic, Patient, Pump, PumpModel, SpasticityOrigin
from patients.permissions import CLINICAL_WRITERS, require_role, roles_remembered
from patients.selectors import catalog_remembered
from refills import selectors as refill_selectors
from refills.models import Prescription
from refills.projections import projections_batched
from refills.services import refill_record
from scheduling.appointments import appointment_book, appointment_create
from scheduling.models import OPEN_STATUSES, Appointment, AppointmentKind, AppointmentStatus

from .notation import NotationError, prescription_from_text, prescription_text
from .spreadsheet import BY_KEY, Sheet

REFUSALS = (therapy.CalculationError, PermissionDenied, ValidationError)
# Keys a query for the patients and pumps already held asks for at once (SQLite takes at
# most 32,766 parameters a statement).
HELD_CHUNK = 1000

# Titration verdicts an established therapy may meet at its first fill in pumpcare.
OVERRIDABLE = (
    "titration_limit_exceeded",
    "discontinuation_requires_override",
    "above_starting_dose",
    "screening_not_positive",
)
# DOSE-4: the service's refusal of an unconfirmed compounded concentration, said for the file.
COMPOUNDED_HINT = ": if a pharmacy compounded it, write yes in the Compounded column"
OVERRIDE_HINT = (
    " To import an established therapy as it stands, a physician imports the file with an "
    "override reason (for example 'migrated from the spreadsheet of {clinic}'), kept in the "
    "prescription's history."
)

# Which column a service's field comes from, per step of the row.
PATIENT_FIELDS = {
    "mrn": "mrn",
    "given_name": "given_name",
    "family_name": "family_name",
    "birth_date": "birth_date",
    "spasticity_origin": "origin",
    "phone": "phone",
    "email": "email",
    "communication_consent": "consent",
}
CAREGIVER_FIELDS = {
    "name": "caregiver_name",
    "relation": "caregiver_relation",
    "phone": "caregiver_phone",
    "email": "caregiver_email",
    "communication_consent": "caregiver_consent",
}
PUMP_FIELDS = {
    "model": "pump_model",
    "serial_number": "pump_serial",
    "implanted_on": "implanted_on",
    "catheter_model": "catheter_model",
    "catheter_length_cm": "catheter_length_cm",
    "low_reservoir_alarm_ml": "pump_model",
    "eri_on": "eri_on",
}
REFILL_FIELDS = {
    "performed_at": "last_refill_at",
    "volume_added_ml": "volume_ml",
    "volume_withdrawn_ml": "volume_ml",
    "concentration_mcg_per_ml": "concentration_mcg_per_ml",
    "compounded_confirmed": "concentration_mcg_per_ml",
    "drug": "concentration_mcg_per_ml",
    "prescription": "prescription",
}
APPOINTMENT_FIELDS = {"day": "next_appointment", "at": "next_appointment", "pump": "next_appointment"}

PUMP_KEYS = (
    "pump_model",
    "pump_serial",
    "implanted_on",
    "catheter_model",
    "catheter_length_cm",
    "eri_on",
)
FILL_KEYS = ("last_refill_at", "volume_ml", "concentration_mcg_per_ml", "prescription")
CAREGIVER_KEYS = (
    "caregiver_name",
    "caregiver_relation",
    "caregiver_phone",
    "caregiver_email",
    "caregiver_consent",
)

_INSTANT = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"(?:\s*\(?(?:UTC)?\s*([+\-\u2212])(\d{1,2}):?(\d{2})\)?)?$"
)
_DATE_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}):(\d{2}))?$")


@dataclass
class Refusal:
    row: int
    cell: str  # W5, or "" for the whole row
    column: str  # the column's label, or ""
    message: str

    def text(self) -> str:
        where = f"cell {self.cell} ({self.column})" if self.cell else f"row {self.row}"
        return f"{where}: {self.message}"


@dataclass
class RowOutcome:
    row: int  # the spreadsheet's row number (the header is row 1)
    mrn: str
    serial: str
    outcome: str = ""  # created, updated, unchanged, refused
    done: list[str] = field(default_factory=list)  # what was (or would be) written
    warnings: list[str] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)


@dataclass
class ImportReport:
    rows: list[RowOutcome]
    written: bool  # whether anything was kept
    dry_run: bool
    partial: bool

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def refused(self) -> int:
        return self.count("refused")

    def outcome_text(self, outcome: str) -> str:
        """A row's outcome as the report says it: a row that passed in a file that was not
        written "would be created"."""
        if outcome in ("created", "updated") and not self.written:
            return f"would be {outcome}"
        return outcome

    def summary(self) -> str:
        counts = ", ".join(
            f"{self.count(o)} {self.outcome_text(o)}"
            for o in ("created", "updated", "unchanged", "refused")
            if self.count(o)
        )
        if self.dry_run:
            verdict = "Checked only: nothing was written."
        elif self.written and self.refused:
            verdict = "The rows that passed were imported; the refused rows were not."
        elif self.written:
            verdict = "Imported."
        elif self.refused:
            verdict = "Nothing was imported: correct the refused rows and import the file again."
        else:
            verdict = "Nothing to import."
        return f"{len(self.rows)} rows: {counts or 'none'}. {verdict}"

    def lines(self) -> list[str]:
        """The report as text: every row with its outcome, each refusal with its cell."""
        lines = [self.summary()]
        for r in self.rows:
            who = " ".join(
                x for x in (f"MRN {r.mrn}" if r.mrn else "", f"pump {r.serial}" if r.serial else "") if x
            )
            outcome = self.outcome_text(r.outcome)
            head = f"row {r.row} ({who}): {outcome}" if who else f"row {r.row}: {outcome}"
            if r.done:
                head += " — " + "; ".join(r.done)
            lines.append(head)
            lines += [f"    refused: {x.text()}" for x in r.refusals]
            lines += [f"    warning: {w}" for w in r.warnings]
        return lines


class RowRefused(Exception):
    def __init__(self, refusals: list[Refusal]):
        super().__init__(refusals)
        self.refusals = refusals


class _Rollback(Exception):
    pass


# --- reading cells ---------------------------------------------------------------------


class _Cells:
    """One row's cells, read into the services' types; every problem is collected with its
    cell so the report names them all at once."""

    def __init__(self, sheet: Sheet, values: dict[str, str], row: int):
        self.sheet, self.values, self.row = sheet, values, row
        self.problems: list[Refusal] = []

    def refuse(self, key: str, message: str) -> None:
        self.problems.append(Refusal(self.row, self.sheet.cell(key, self.row), BY_KEY[key].label, message))

    def text(self, key: str) -> str:
        return self.values.get(key, "")

    def required(self, key: str) -> str:
        value = self.text(key)
        if not value:
            self.refuse(key, "is empty: it is required")
        return value

    def day(self, key: str, *, required: bool = False) -> date | None:
        value = self.text(key)
        if not value:
            if required:
                self.refuse(key, "is empty: write the date as year-month-day, like 2024-03-31")
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.refuse(key, f"'{value}' is not a date: write it as year-month-day, like 2024-03-31")
            return None

    def number(self, key: str) -> Decimal | None:
        value = self.text(key)
        if not value:
            self.refuse(key, "is empty: it is required")
            return None
        try:
            number = Decimal(value.replace(",", "."))
        except InvalidOperation:
            self.refuse(key, f"'{value}' is not a number: write it like 20 or 19.5")
            return None
        if not number.is_finite():
            self.refuse(key, f"'{value}' is not a number: write it like 20 or 19.5")
            return None
        return number

    def yes_no(self, key: str) -> bool:
        value = self.text(key).lower()
        if value in ("yes", "y", "true", "1"):
            return True
        if value in ("", "no", "n", "false", "0"):
            return False
        self.refuse(key, f"'{self.text(key)}' is neither yes nor no")
        return False

    def instant(self, key: str, clinic: Clinic) -> datetime | None:
        """REFILL-2: a local date-time at the clinic, refused when it does not exist or
        occurs twice without its UTC offset."""
        value = self.text(key)
        match = _INSTANT.match(value)
        if not match:
            self.refuse(
                key,
                f"'{value}' is not a date and time: write it as year-month-day hour:minute, like 2024-03-31 14:30",
            )
            return None
        try:
            naive = datetime.combine(
                date.fromisoformat(match[1]), time(int(match[2]), int(match[3]), int(match[4] or 0))
            )
        except ValueError:
            self.refuse(
                key,
                f"'{value}' is not a date and time: write it as year-month-day hour:minute, like 2024-03-31 14:30",
            )
            return None
        offset = None
        if match[5]:
            sign = 1 if match[5] == "+" else -1
            offset = sign * (int(match[6]) * 60 + int(match[7]))
        try:
            return therapy.local_instant(naive, clinic.tz, offset, field=key)
        except therapy.CalculationError as error:
            self.refuse(key, error.message)
            return None

    def appointment(self, key: str) -> tuple[date, time | None] | None:
        value = self.text(key)
        if not value:
            return None
        match = _DATE_TIME.match(value)
        try:
            if not match:
                raise ValueError
            return date.fromisoformat(match[1]), (time(int(match[2]), int(match[3])) if match[2] else None)
        except ValueError:
            self.refuse(
                key,
                f"'{value}' is not a day: write it as year-month-day, with the time if known, like 2024-03-31 or 2024-03-31 14:30",
            )
            return None


# --- the import ------------------------------------------------------------------------


@dataclass
class _Catalog:
    pump_models: dict[str, PumpModel]
    catheter_models: dict[str, CatheterModel]

    @classmethod
    def load(cls) -> _Catalog:
        return cls(
            {m.code.lower(): m for m in PumpModel.objects.all()},
            {m.code.lower(): m for m in CatheterModel.objects.all()},
        )


def registry_import(
    *,
    actor,
    clinic: Clinic,
    sheet: Sheet,
    source: str,
    dry_run: bool = False,
    partial: bool = False,
    override_reason: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import the registry rows of ``sheet`` into ``clinic`` as ``actor``; see the module's
    docstring for what is written, matched, refused and overridden. ``source`` names the
    file in the history ("imported from …"); ``progress(done, total)`` is called as rows go."""
    require_role(actor, clinic, CLINICAL_WRITERS, "Importing pumps with their therapy record")
    catalog = _Catalog.load()
    rows = [(i + 2, values) for i, values in enumerate(sheet.rows) if any(values.values())]
    outcomes: list[RowOutcome] = []
    importer = _RowImporter(actor, clinic, sheet, catalog, source, override_reason.strip())
    written = False
    try:
        with transaction.atomic():
            importer.read_held([values for _, values in rows])
            # the projections and state alerts of the imported pumps, once for all of them;
            # the actor's role and the default drug read once, every service still checking
            with projections_batched(), roles_remembered(), catalog_remembered():
                for done, (number, values) in enumerate(rows, start=1):
                    outcome = RowOutcome(number, values.get("mrn", ""), values.get("pump_serial", ""))
                    try:
                        with transaction.atomic():
                            importer.run(values, number, outcome)
                    except RowRefused as refused:
                        outcome.outcome = "refused"
                        outcome.refusals = refused.refusals
                        outcome.done = []
                    outcomes.append(outcome)
                    if progress is not None:
                        progress(done, len(rows))
            refused = any(o.outcome == "refused" for o in outcomes)
            changed = any(o.outcome in ("created", "updated") for o in outcomes)
            if dry_run or (refused and not partial) or not changed:
                raise _Rollback
            written = True
    except _Rollback:
        pass
    return ImportReport(outcomes, written, dry_run, partial)


class _RowImporter:
    def __init__(self, actor, clinic: Clinic, sheet: Sheet, catalog: _Catalog, source: str, override: str):
        self.actor, self.clinic, self.sheet, self.catalog = actor, clinic, sheet, catalog
        self.reason = f"imported from {source}"
        self.override = override
        # MRNs and (pump model, serial) keys of the file that pumpcare did not hold when the
        # import began and no row has registered since: a row's lookup of its patient or
        # pump is not made for them. A key leaves the set when a row registers it, whether
        # or not the row is kept, so a later row with that key looks it up.
        self.new_mrns: set[str] = set()
        self.new_pumps: set[tuple[int, str]] = set()

    def read_held(self, rows: list[dict[str, str]]) -> None:
        """Which patients and pumps of the file pumpcare holds, in a few queries for the
        file (``HELD_CHUNK`` keys each) rather than two a row. A key that PostgreSQL cannot
        hold (a NUL) is left to the row's own lookup."""
        mrns = sorted({m for v in rows if (m := v.get("mrn", "")) and "\x00" not in m})
        held = set()
        for start in range(0, len(mrns), HELD_CHUNK):
            chunk = mrns[start : start + HELD_CHUNK]
            held |= set(
                Patient.objects.filter(clinic=self.clinic, mrn__in=chunk).values_list("mrn", flat=True)
            )
        self.new_mrns = set(mrns) - held
        keys = {
            (model.pk, serial)
            for v in rows
            if (model := self.catalog.pump_models.get(v.get("pump_model", "").lower())) is not None
            and (serial := v.get("pump_serial", ""))
            and "\x00" not in serial
        }
        serials = sorted({serial for _, serial in keys})
        held = set()
        for start in range(0, len(serials), HELD_CHUNK):
            chunk = serials[start : start + HELD_CHUNK]
            held |= set(Pump.objects.filter(serial_number__in=chunk).values_list("model_id", "serial_number"))
        self.new_pumps = keys - held

    # a service's refusal, under the column its field comes from
    def _refused(self, error, row: int, fields: dict[str, str], default: str) -> RowRefused:
        if isinstance(error, therapy.CalculationError):
            items = [(error.field, error.message, error.code)]
        elif isinstance(error, PermissionDenied):
            return RowRefused([Refusal(row, "", "", str(error.detail))])
        elif hasattr(error, "error_dict"):
            items = [(f, "; ".join(m), "invalid") for f, m in error.message_dict.items()]
        else:
            items = [("", "; ".join(error.messages), "invalid")]
        refusals = []
        for name, message, code in items:
            key = fields.get(name.split(".")[0].split("[")[0], default)
            if code == "compounded_not_confirmed":
                message = message.split(";")[0] + COMPOUNDED_HINT
            if code in OVERRIDABLE and not self.override:
                message += OVERRIDE_HINT.format(clinic=self.clinic.code)
            refusals.append(Refusal(row, self.sheet.cell(key, row), BY_KEY[key].label, message))
        return RowRefused(refusals)

    def _call(self, service, row: int, fields: dict[str, str], default: str, **arguments):
        try:
            return service(**arguments)
        except REFUSALS as error:
            raise self._refused(error, row, fields, default) from None

    def run(self, values: dict[str, str], row: int, outcome: RowOutcome) -> None:
        cells = _Cells(self.sheet, values, row)
        patient_fields = self._patient_fields(cells)
        caregiver_fields = self._caregiver_fields(cells)
        pump_fields = self._pump_fields(cells)
        fill = self._fill(cells, pump_fields is not None)
        booking = cells.appointment("next_appointment")
        if booking is not None and pump_fields is None:
            cells.refuse("next_appointment", "a refill appointment needs the pump it is for")
        if cells.problems:
            raise RowRefused(cells.problems)
        created = False
        mrn = patient_fields["mrn"]
        patient = (
            None if mrn in self.new_mrns else Patient.objects.filter(clinic=self.clinic, mrn=mrn).first()
        )
        if patient is None:
            self.new_mrns.discard(mrn)
            patient = self._call(
                patient_services.patient_create,
                row,
                PATIENT_FIELDS,
                "mrn",
                actor=self.actor,
                clinic=self.clinic,
                **patient_fields,
            )
            outcome.done.append("patient registered")
            created = True
        else:
            self._same(cells, patient, patient_fields, PATIENT_FIELDS, "patient")
        if caregiver_fields is not None:
            self._caregiver(cells, patient, caregiver_fields, outcome, registered=created)
        if pump_fields is not None:
            pump, registered = self._pump(cells, patient, pump_fields, outcome)
            if fill is not None:
                self._fill_record(cells, pump, fill, outcome, registered=registered)
            if booking is not None:
                self._booking(cells, pump, booking, outcome)
        if cells.problems:
            raise RowRefused(cells.problems)
        outcome.outcome = "created" if created else ("updated" if outcome.done else "unchanged")

    # patient and caregiver

    def _patient_fields(self, cells: _Cells) -> dict:
        origin = cells.required("origin").lower()
        if origin and origin not in SpasticityOrigin.values:
            cells.refuse("origin", f"'{cells.text('origin')}' is not an origin: write spinal or cerebral")
        return {
            "mrn": cells.required("mrn"),
            "family_name": cells.required("family_name"),
            "given_name": cells.required("given_name"),
            "birth_date": cells.day("birth_date", required=True),
            "spasticity_origin": origin,
            "phone": cells.text("phone"),
            "email": cells.text("email"),
            "communication_consent": cells.yes_no("consent"),
        }

    def _caregiver_fields(self, cells: _Cells) -> dict | None:
        if not any(cells.text(k) for k in CAREGIVER_KEYS):
            return None
        return {
            "name": cells.required("caregiver_name"),
            "relation": cells.required("caregiver_relation"),
            "phone": cells.text("caregiver_phone"),
            "email": cells.text("caregiver_email"),
            "communication_consent": cells.yes_no("caregiver_consent"),
        }

    def _same(self, cells: _Cells, obj, fields: dict, columns: dict[str, str], what: str) -> None:
        """A record pumpcare already holds: the row must say the same, else each differing
        cell is refused (a correction is made on its page, with a reason)."""
        for name, value in fields.items():
            held = getattr(obj, name)
            if held != value:
                shown = (
                    "empty"
                    if held in ("", None)
                    else ("yes" if held is True else "no" if held is False else held)
                )
                cells.refuse(
                    columns[name],
                    f"the {what} is already in pumpcare with {shown} here: correct it on the {what}'s "
                    "page (the history keeps who and why), not by importing it again",
                )

    def _caregiver(
        self, cells: _Cells, patient: Patient, fields: dict, outcome: RowOutcome, *, registered: bool
    ) -> None:
        # a patient this row registered has no caregiver yet
        held = None if registered else patient.caregivers.filter(name=fields["name"]).first()
        if held is not None:
            self._same(cells, held, fields, CAREGIVER_FIELDS, "caregiver")
            return
        self._call(
            patient_services.caregiver_create,
            cells.row,
            CAREGIVER_FIELDS,
            "caregiver_name",
            actor=self.actor,
            patient=patient,
            **fields,
        )
        outcome.done.append("caregiver added")

    # pump

    def _pump_fields(self, cells: _Cells) -> dict | None:
        if not any(cells.text(k) for k in PUMP_KEYS):
            for key in (*FILL_KEYS, "next_appointment"):
                if cells.text(key):
                    cells.refuse(key, "belongs to a pump, but the row has no pump: give its model and serial")
                    break
            return None
        model = self.catalog.pump_models.get(cells.required("pump_model").lower())
        if cells.text("pump_model") and model is None:
            known = ", ".join(sorted(m.code for m in self.catalog.pump_models.values()))
            cells.refuse(
                "pump_model", f"'{cells.text('pump_model')}' is not a pump model in the catalog ({known})"
            )
        catheter = self.catalog.catheter_models.get(cells.required("catheter_model").lower())
        if cells.text("catheter_model") and catheter is None:
            known = ", ".join(sorted(m.code for m in self.catalog.catheter_models.values()))
            cells.refuse(
                "catheter_model",
                f"'{cells.text('catheter_model')}' is not a catheter model in the catalog ({known})",
            )
        return {
            "model": model,
            "serial_number": cells.required("pump_serial"),
            "implanted_on": cells.day("implanted_on", required=True),
            "catheter_model": catheter,
            "catheter_length_cm": cells.number("catheter_length_cm"),
            "eri_on": cells.day("eri_on"),
        }

    def _pump(self, cells: _Cells, patient: Patient, fields: dict, outcome: RowOutcome) -> tuple[Pump, bool]:
        """The row's pump, and whether the row registered it."""
        key = (fields["model"].pk, fields["serial_number"])
        held = (
            None
            if key in self.new_pumps
            else Pump.objects.select_related("patient__clinic")
            .filter(model=fields["model"], serial_number=fields["serial_number"])
            .first()
        )
        if held is None:
            self.new_pumps.discard(key)
            pump = self._call(
                patient_services.pump_create,
                cells.row,
                PUMP_FIELDS,
                "pump_serial",
                actor=self.actor,
                patient=patient,
                **fields,
            )
            outcome.done.append("pump registered")
            return pump, True
        if held.patient_id != patient.pk:
            elsewhere = (
                f"patient MRN {held.patient.mrn}"
                if held.patient.clinic_id == self.clinic.pk
                else "a patient of another clinic"
            )
            cells.refuse("pump_serial", f"this pump is already registered for {elsewhere}")
            raise RowRefused(cells.problems)
        comparable = {k: v for k, v in fields.items() if k not in ("model", "serial_number")}
        self._same(cells, held, comparable, PUMP_FIELDS, "pump")
        return held, False

    # last refill and current prescription: the pump's first fill in pumpcare

    def _fill(self, cells: _Cells, has_pump: bool) -> dict | None:
        compounded = cells.yes_no("compounded")
        if not any(cells.text(k) for k in FILL_KEYS):
            if compounded:
                cells.refuse(
                    "compounded",
                    "says the last refill's concentration was compounded, but the row has no last "
                    "refill: give the refill, or leave it empty",
                )
            return None
        if not has_pump:
            return None
        missing = [k for k in FILL_KEYS if not cells.text(k)]
        for key in missing:
            cells.refuse(
                key,
                "is empty: the last refill needs its date and time, volume, concentration and "
                "the prescription programmed, together",
            )
        if missing:
            return None
        plan = None
        try:
            plan = prescription_from_text(cells.text("prescription"))
        except NotationError as error:
            cells.refuse("prescription", str(error))
        return {
            "performed_at": cells.instant("last_refill_at", self.clinic),
            "volume_added_ml": cells.number("volume_ml"),
            "concentration_mcg_per_ml": cells.number("concentration_mcg_per_ml"),
            "compounded_confirmed": compounded,
            "prescription": plan,
        }

    def _fill_record(
        self, cells: _Cells, pump: Pump, fill: dict, outcome: RowOutcome, *, registered: bool
    ) -> None:
        # a pump this row registered has no refill yet
        last = None if registered else refill_selectors.last_refill(pump)
        if last is None:
            change = self._call(
                refill_record,
                cells.row,
                REFILL_FIELDS,
                "prescription",
                actor=self.actor,
                pump=pump,
                volume_withdrawn_ml=Decimal("0"),
                reason=self.reason,
                override_reason=self.override,
                **fill,
            )
            outcome.done.append("last refill and prescription recorded")
            outcome.warnings += [w["message"] for w in change.warnings]
            return
        if last.performed_at != fill["performed_at"]:
            cells.refuse(
                "last_refill_at",
                f"pumpcare already holds a later or other last refill of this pump "
                f"({therapy.instant_text(last.performed_at, self.clinic.tz)}): record new refills in "
                "pumpcare, not by importing them",
            )
        if last.volume_added_ml != fill["volume_added_ml"]:
            cells.refuse(
                "volume_ml",
                f"pumpcare holds {last.volume_added_ml} mL for this refill: correct it in pumpcare, not by import",
            )
        if last.concentration_mcg_per_ml != fill["concentration_mcg_per_ml"]:
            cells.refuse(
                "concentration_mcg_per_ml",
                f"pumpcare holds {last.concentration_mcg_per_ml.normalize()} mcg/mL for this refill: "
                "correct it in pumpcare, not by import",
            )
        # A file without the Compounded column says nothing about it.
        if self.sheet.has("compounded") and last.compounded_confirmed != fill["compounded_confirmed"]:
            held = "compounded by a pharmacy" if last.compounded_confirmed else "not compounded"
            cells.refuse(
                "compounded",
                f"pumpcare holds this refill's concentration as {held}: correct it in pumpcare, "
                "not by import",
            )
        current = current_prescription(pump)
        try:
            wanted = therapy.parse_prescription(fill["prescription"]).as_dict()
        except therapy.CalculationError as error:
            raise self._refused(error, cells.row, REFILL_FIELDS, "prescription") from None
        if current is None or current.schedule != wanted:
            held = prescription_text(current.schedule) if current else "none"
            cells.refuse(
                "prescription",
                f"the pump's current prescription in pumpcare is '{held}': a new prescription is "
                "recorded in pumpcare by a prescriber, not by import",
            )

    # next appointment

    def _booking(self, cells: _Cells, pump: Pump, booking: tuple[date, time | None], outcome) -> None:
        day, at = booking
        open_one = Appointment.objects.filter(
            pump=pump, kind=AppointmentKind.REFILL, status__in=OPEN_STATUSES
        ).first()
        if open_one is not None and open_one.status == AppointmentStatus.BOOKED:
            if open_one.day != day or (at is not None and open_one.time != at):
                when = therapy.day_text(open_one.day) + (
                    f" at {open_one.time:%H:%M}" if open_one.time else ""
                )
                cells.refuse(
                    "next_appointment",
                    f"the pump's refill is already booked for {when}: move it in pumpcare, not by import",
                )
            return
        if open_one is not None:  # a proposal: booking it is what a nurse would do
            _, warnings = self._call(
                appointment_book,
                cells.row,
                APPOINTMENT_FIELDS,
                "next_appointment",
                actor=self.actor,
                appointment=open_one,
                day=day,
                at=at,
            )
        else:
            _, warnings = self._call(
                appointment_create,
                cells.row,
                APPOINTMENT_FIELDS,
                "next_appointment",
                actor=self.actor,
                pump=pump,
                kind=AppointmentKind.REFILL,
                day=day,
                at=at,
            )
        outcome.done.append("refill appointment booked")
        outcome.warnings += [w["message"] for w in warnings]


def current_prescription(pump: Pump) -> Prescription | None:
    return pump.prescriptions.order_by("-effective_at", "-pk").first()
