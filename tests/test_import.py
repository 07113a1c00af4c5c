"""A clinic moves in: its registry spreadsheet imported through the services (patients,
pumps, first fills with their prescriptions, booked refills), refused cell by cell in a
nurse's words, all or nothing unless --partial, a no-op when imported again, and exported
in the same columns so an import of an export changes nothing."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import PermissionDenied

from exchange.exports import local_text, registry_export
from exchange.imports import registry_import
from exchange.notation import NotationError, prescription_from_text, prescription_text
from exchange.spreadsheet import KEYS, Sheet, letter, read, write
from patients.models import Caregiver, Patient, Pump
from patients.selectors import catalog_remembered, default_drug
from refills.models import Prescription, Refill
from scheduling.models import Appointment, AppointmentStatus

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "docs" / "import-sample.csv"


@pytest.fixture(autouse=True)
def _now(frozen_now):
    return frozen_now  # Thu 26 Nov 2026 12:00 UTC; the clinic is in UTC


def sample_rows() -> list[dict[str, str]]:
    return read(SAMPLE.read_bytes(), "sample.csv").rows


def sheet_of(rows, kind="csv"):
    return read(write(rows, kind), f"pumps.{kind}")


def run(actor, clinic, rows, **options):
    return registry_import(actor=actor, clinic=clinic, sheet=sheet_of(rows), source="pumps.csv", **options)


def counts() -> tuple:
    return (
        Patient.objects.count(),
        Caregiver.objects.count(),
        Pump.objects.count(),
        Refill.objects.count(),
        Prescription.objects.count(),
        Appointment.objects.filter(status=AppointmentStatus.BOOKED).count(),
        Patient.history.count()
        + Pump.history.count()
        + Refill.history.count()
        + Prescription.history.count(),
    )


# --- the notation -----------------------------------------------------------------------


@pytest.mark.rule("DOSE-1")
@pytest.mark.parametrize(
    "text",
    [
        "continuous 300/day",
        "flex 00:00 10/h; 08:00 20/h",
        "periodic 100/day; 08:00 50 over 30 min; 20:00 50 over 30 min",
        "continuous 120.5/day + on demand 25 max 4/day lockout 120 min",
    ],
)
def test_notation_reads_every_mode_and_writes_it_back(text):
    assert prescription_text(prescription_from_text(text)) == text


def test_notation_accepts_loose_spacing_and_units():
    assert prescription_from_text("Flex 0:00 10 mcg/h ;08:00  20/hour") == {
        "mode": "flex",
        "steps": [
            {"start": "00:00", "dose_mcg_per_hour": "10"},
            {"start": "08:00", "dose_mcg_per_hour": "20"},
        ],
    }


def test_notation_refusal_shows_how_to_write_it():
    with pytest.raises(NotationError, match="write it like '08:00 20/h'"):
        prescription_from_text("flex 00:00 ten/h")


def test_column_letters():
    assert [letter(0), letter(25), letter(26), letter(KEYS.index("prescription"))] == ["A", "Z", "AA", "X"]


# --- importing ----------------------------------------------------------------------------


@pytest.mark.rule("START-2", "DOSE-4", "DOSE-2")
def test_sample_file_imports_every_row_through_the_services(clinic, physician):
    report = run(physician, clinic, sample_rows())
    assert report.written and report.refused == 0
    assert [r.outcome for r in report.rows] == ["created"] * 4
    assert Patient.objects.filter(clinic=clinic).count() == 4
    grace = Pump.objects.get(serial_number="NGP100001")
    fill = grace.refills.get()
    # The last refill is the pump's first fill: 20 mL in the reservoir, nothing withdrawn.
    assert (fill.volume_added_ml, fill.volume_withdrawn_ml) == (Decimal("20.00"), Decimal("0.00"))
    assert fill.performed_at == datetime(2026, 11, 10, 10, 30, tzinfo=UTC)
    prescription = grace.prescriptions.get()
    assert prescription.daily_dose_mcg == Decimal("150.0")
    assert prescription.reason == "imported from pumps.csv"
    booked = Appointment.objects.get(pump=grace, status=AppointmentStatus.BOOKED)
    assert (booked.day, booked.time) == (date(2026, 12, 15), time(9, 0))
    # flex: 6 × 12 h + 8 × 12 h = 168 mcg/day; periodic: 200 + 2 × 50, and the on-demand
    # boluses at their maximum, 4 × 25 (DOSE-2) = 400 mcg/day
    assert Prescription.objects.get(pump__serial_number="PII20-0042").daily_dose_mcg == Decimal("168.0")
    assert Prescription.objects.get(pump__serial_number="NGP400777").daily_dose_mcg == Decimal("400.0")
    assert Pump.objects.get(serial_number="NGP400777").eri_on == date(2027, 9, 1)
    # START-2: no screening trial is recorded for a migrated patient — a warning, not a refusal;
    # DOSE-4: a first fill at 1000 mcg/mL is not the starting concentration — a warning.
    warnings = " ".join(report.rows[1].warnings)
    assert "No screening trial is recorded" in warnings and "500 mcg/mL" in warnings
    assert Caregiver.objects.get(patient__mrn="1004").relation == "mother"
    assert "4 rows: 4 created. Imported." == report.summary()


def test_importing_the_same_file_again_changes_nothing(clinic, physician):
    run(physician, clinic, sample_rows())
    before = counts()
    report = run(physician, clinic, sample_rows())
    assert [r.outcome for r in report.rows] == ["unchanged"] * 4
    assert not report.written
    assert counts() == before


@pytest.mark.rule("REFILL-2")
def test_a_refused_cell_is_named_and_nothing_is_written(clinic, physician):
    rows = sample_rows()
    rows[1]["volume_ml"] = "25"  # row 3 of the file: a 20 mL Prometra II cannot take 25 mL
    rows[0]["birth_date"] = "12/04/1968"
    report = run(physician, clinic, rows)
    assert counts()[:6] == (0, 0, 0, 0, 0, 0)
    assert not report.written
    assert [r.outcome for r in report.rows] == ["refused", "refused", "created", "created"]
    (birth,) = report.rows[0].refusals
    assert (
        birth.text()
        == "cell D2 (Birth date): '12/04/1968' is not a date: write it as year-month-day, like 2024-03-31"
    )
    (volume,) = report.rows[1].refusals
    assert (volume.cell, volume.column) == ("U3", "Volume")
    assert volume.message == "25.00 mL overfills the reservoir: at most 20.00 mL"
    assert report.summary().endswith(
        "Nothing was imported: correct the refused rows and import the file again."
    )


def test_partial_keeps_the_rows_that_pass(clinic, physician):
    rows = sample_rows()
    rows[1]["pump_model"] = "PROMETRA-9"
    report = run(physician, clinic, rows, partial=True)
    assert report.written
    assert [r.outcome for r in report.rows] == ["created", "refused", "created", "created"]
    assert "is not a pump model in the catalog" in report.rows[1].refusals[0].text()
    assert not Patient.objects.filter(mrn="1002").exists()  # the refused row left nothing behind
    assert Patient.objects.filter(clinic=clinic).count() == 3


def test_dry_run_checks_everything_and_writes_nothing(clinic, physician):
    report = run(physician, clinic, sample_rows(), dry_run=True)
    assert [r.outcome for r in report.rows] == ["created"] * 4
    assert counts()[:6] == (0, 0, 0, 0, 0, 0)
    assert report.summary() == "4 rows: 4 would be created. Checked only: nothing was written."


@pytest.mark.rule("TITRATE-2")
def test_a_stopped_pump_needs_a_physicians_override_reason(clinic, physician, nurse):
    rows = sample_rows()[:1]
    rows[0]["prescription"] = "continuous 0/day"
    refused = run(physician, clinic, rows).rows[0].refusals[0]
    assert refused.cell == "X2"
    assert "stops the therapy" in refused.message
    assert "a physician imports the file with an override reason" in refused.message
    # A nurse may import, but not override (PRESCRIBERS): the services say so.
    by_nurse = run(nurse, clinic, rows, override_reason="migrated from the spreadsheet of HOME")
    assert by_nurse.refused == 1 and "physician role" in by_nurse.rows[0].refusals[0].message
    report = run(physician, clinic, rows, override_reason="migrated from the spreadsheet of HOME")
    assert report.written
    prescription = Prescription.objects.get()
    assert prescription.override_reason == "migrated from the spreadsheet of HOME"


@pytest.mark.rule("TITRATE-1")
def test_a_new_pump_of_a_patient_in_pumpcare_follows_the_patients_dose_history(clinic, physician):
    rows = sample_rows()[:1]
    run(physician, clinic, rows)
    # A second pump for the same patient, filled the next day at a much higher dose: the
    # first 24 hours after the start of therapy allow no increase (150 → 300 mcg/day).
    second = rows[0] | {
        "pump_serial": "NGP100002",
        "last_refill_at": "2026-11-11 09:00",
        "prescription": "continuous 300/day",
        "next_appointment": "",
    }
    report = run(physician, clinic, [second])
    assert report.rows[0].outcome == "refused"
    assert "exceeds the titration limit" in report.rows[0].refusals[0].message
    assert Pump.objects.count() == 1


def test_a_row_that_contradicts_pumpcare_is_refused_not_applied(clinic, physician):
    run(physician, clinic, sample_rows())
    rows = sample_rows()
    rows[0]["family_name"] = "Okafor-Ade"
    rows[0]["prescription"] = "continuous 160/day"
    report = run(physician, clinic, rows)
    texts = [x.text() for x in report.rows[0].refusals]
    assert texts[0].startswith("cell B2 (Family name): the patient is already in pumpcare with Okafor here")
    assert (
        "cell X2 (Prescription): the pump's current prescription in pumpcare is 'continuous 150/day'"
        in texts[1]
    )
    assert Patient.objects.get(mrn="1001").family_name == "Okafor"


def compounded_row(confirmed: str) -> dict[str, str]:
    """Grace's pump filled at 1500 mcg/mL, not a supplied concentration (DOSE-4)."""
    return sample_rows()[0] | {"concentration_mcg_per_ml": "1500", "compounded": confirmed}


@pytest.mark.rule("DOSE-4")
def test_a_compounded_concentration_needs_yes_in_the_compounded_column(clinic, physician):
    report = run(physician, clinic, [compounded_row("")])
    assert report.rows[0].outcome == "refused" and not report.written
    (refused,) = report.rows[0].refusals
    assert refused.text() == (
        "cell V2 (Concentration): 1500 mcg/mL is not a supplied concentration (50, 500, 1000, 2000): "
        "if a pharmacy compounded it, write yes in the Compounded column"
    )
    assert Refill.objects.count() == 0
    report = run(physician, clinic, [compounded_row("yes")])
    assert report.rows[0].outcome == "created" and report.written
    refill = Refill.objects.get()
    assert (refill.concentration_mcg_per_ml, refill.compounded_confirmed) == (Decimal("1500.00"), True)
    # DOSE-4 still warns that the first fill is not at the starting concentration
    assert "500 mcg/mL" in " ".join(report.rows[0].warnings)


def test_compounded_belongs_to_the_last_refill(clinic, physician):
    rows = sample_rows()[3:4]  # Aoife: no pump, no refill
    rows[0]["compounded"] = "yes"
    (refused,) = run(physician, clinic, rows).rows[0].refusals
    assert refused.cell == "W2" and "the row has no last refill" in refused.message
    rows[0]["compounded"] = "perhaps"
    (refused,) = run(physician, clinic, rows).rows[0].refusals
    assert refused.text() == "cell W2 (Compounded): 'perhaps' is neither yes nor no"


def test_a_reimport_that_says_otherwise_about_compounded_is_refused(clinic, physician):
    run(physician, clinic, [compounded_row("yes")])
    before = counts()
    assert run(physician, clinic, [compounded_row("yes")]).rows[0].outcome == "unchanged"
    report = run(physician, clinic, [compounded_row("no")])
    assert report.rows[0].outcome == "refused"
    texts = [x.text() for x in report.rows[0].refusals]
    assert texts == [
        "cell W2 (Compounded): pumpcare holds this refill's concentration as compounded by a "
        "pharmacy: correct it in pumpcare, not by import"
    ]
    assert counts() == before
    assert Refill.objects.get().compounded_confirmed


def without_compounded(rows) -> Sheet:
    """The rows as a file started from the template before the Compounded column."""
    columns = [k for k in KEYS if k != "compounded"]
    lines = [",".join(columns), *(",".join(f'"{row[k]}"' for k in columns) for row in rows)]
    return read(("\n".join(lines) + "\n").encode(), "old.csv")


def test_a_file_without_the_compounded_column_still_imports(clinic, physician):
    sheet = without_compounded(sample_rows())
    assert "compounded" not in sheet.positions
    report = registry_import(actor=physician, clinic=clinic, sheet=sheet, source="old.csv")
    assert [r.outcome for r in report.rows] == ["created"] * 4
    # nor does it contradict a compounded refill pumpcare holds: it says nothing about it
    again = compounded_row("yes") | {"mrn": "1005", "pump_serial": "NGP100005"}
    assert run(physician, clinic, [again]).rows[0].outcome == "created"
    report = registry_import(
        actor=physician, clinic=clinic, sheet=without_compounded([again]), source="old.csv"
    )
    assert report.rows[0].outcome == "unchanged"


@pytest.mark.rule("REFILL-2")
def test_a_local_time_that_occurs_twice_needs_its_offset(clinic, physician):
    clinic.timezone = "Europe/Paris"
    clinic.save()
    rows = sample_rows()[1:2]
    rows[0]["last_refill_at"] = "2026-10-25 02:30"  # the clocks went back from 03:00 to 02:00
    refused = run(physician, clinic, rows).rows[0].refusals[0]
    assert refused.cell == "T2" and "happens twice" in refused.message
    rows[0]["last_refill_at"] = "2026-10-25 02:30 +01:00"
    assert run(physician, clinic, rows).rows[0].outcome == "created"
    assert Refill.objects.get().performed_at == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    # the export writes the offset back for that instant only
    assert local_text(Refill.objects.get().performed_at, clinic.tz) == "2026-10-25 02:30 +01:00"


def test_an_import_reads_the_actors_role_once_for_all_its_rows(clinic, physician):
    """Once before the file is read and once for every check of every row's services (a
    refusal by those checks: ``test_a_stopped_pump_needs_a_physicians_override_reason``)."""
    with CaptureQueriesContext(connection) as queries:
        assert run(physician, clinic, sample_rows()).written
    assert sum("patients_staffmembership" in q["sql"] for q in queries.captured_queries) == 2


def test_an_import_looks_up_its_patients_pumps_and_default_drug_once(clinic, physician):
    """The patients and pumps the file names are looked up once for the file, the default
    drug of the first fills once for the import; each registration's uniqueness is still
    checked by its service, once, in its own words."""
    rows = sample_rows()
    pumps = sum(1 for row in rows if row["pump_serial"])
    with CaptureQueriesContext(connection) as queries:
        assert run(physician, clinic, rows).written
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert sum('FROM "patients_drug"' in sql for sql in reads) == 1
    mrn = [sql for sql in reads if 'FROM "patients_patient" WHERE' in sql and '"mrn"' in sql]
    assert len(mrn) == 1 + len(rows) and '"patients_patient"."mrn" IN' in mrn[0]
    serial = [sql for sql in reads if 'FROM "patients_pump" WHERE' in sql and '"serial_number"' in sql]
    assert len(serial) == 1 + pumps and '"patients_pump"."serial_number" IN' in serial[0]


def test_a_patient_on_two_rows_is_registered_once_even_if_its_first_row_is_refused(clinic, physician):
    first, second = sample_rows()[:2]
    second = second | {k: first[k] for k in ("mrn", "family_name", "given_name", "birth_date", "origin")}
    second |= {k: first[k] for k in ("phone", "email", "consent")}
    # the first row's refill is refused: the patient it registered is rolled back with it,
    # the second row registers it again, and the third (the same) finds it held
    report = run(physician, clinic, [first | {"volume_ml": "99"}, second, second], partial=True)
    assert [r.outcome for r in report.rows] == ["refused", "created", "unchanged"]
    assert report.rows[0].refusals[0].cell == "U2"
    assert Patient.objects.get(mrn="1001").pumps.get().serial_number == second["pump_serial"]
    # a second pump of a patient the file has just registered
    report = run(physician, clinic, [first, second])
    assert [r.outcome for r in report.rows] == ["updated", "unchanged"]
    assert Patient.objects.get(mrn="1001").pumps.count() == 2


def test_catalog_remembered_reads_the_default_drug_once_and_again_after_a_drug_changes(
    db, django_assert_num_queries
):
    with transaction.atomic(), catalog_remembered():
        with django_assert_num_queries(1):
            drug = default_drug()
            assert default_drug() is drug and drug.code == "baclofen"
        drug.name = "Baclofen (edited)"
        drug.save()  # a drug saved in the block: read again
        with django_assert_num_queries(1):
            assert default_drug().name == "Baclofen (edited)"
            default_drug()
    with django_assert_num_queries(2):  # the block ended: nothing is remembered
        default_drug()
        default_drug()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_catalog_remembered_needs_the_writers_transaction():
    with pytest.raises(RuntimeError, match="transaction"):
        with catalog_remembered():
            pass


def test_a_clinic_admin_cannot_record_the_therapy(clinic, admin_user):
    with pytest.raises(PermissionDenied, match="nurse or physician role"):
        run(admin_user, clinic, sample_rows())


# --- exporting ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_an_import_of_an_export_is_a_no_op(clinic, physician, kind):
    run(physician, clinic, sample_rows())
    exported = registry_export(clinic, kind)
    before = counts()
    report = registry_import(
        actor=physician, clinic=clinic, sheet=read(exported, f"registry.{kind}"), source=f"registry.{kind}"
    )
    assert [r.outcome for r in report.rows] == ["unchanged"] * 4
    assert counts() == before
    assert read(exported, f"registry.{kind}").rows == sample_rows()


def test_every_caregiver_is_exported_and_imported_back(clinic, physician):
    """A row holds one caregiver: a further one travels on a row of its own, with the
    patient's columns and no pump, and the import adds it to that patient."""
    run(physician, clinic, sample_rows())
    aoife = Patient.objects.get(clinic=clinic, mrn="1004")
    Caregiver.objects.create(patient=aoife, name="Sam Byrne", relation="father", phone="+353 1 555 0199")
    rows = read(registry_export(clinic, "csv"), "registry.csv").rows
    theirs = [r for r in rows if r["mrn"] == "1004"]
    assert [(r["caregiver_name"], r["pump_serial"]) for r in theirs][-1] == ("Sam Byrne", "")
    assert theirs[-1]["family_name"] == aoife.family_name and theirs[-1]["caregiver_relation"] == "father"
    before = counts()
    assert {r.outcome for r in run(physician, clinic, rows).rows} == {"unchanged"}
    assert counts() == before
    Caregiver.objects.filter(name="Sam Byrne").delete()
    report = run(physician, clinic, rows)
    assert [r.done for r in report.rows if r.done] == [["caregiver added"]]
    assert aoife.caregivers.get(name="Sam Byrne").phone == "+353 1 555 0199"


@pytest.mark.rule("DOSE-4")
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_an_export_of_a_compounded_pump_imports_as_a_no_op(clinic, physician, kind):
    run(physician, clinic, [compounded_row("yes"), *sample_rows()[1:]])
    exported = registry_export(clinic, kind)
    assert read(exported, f"registry.{kind}").rows[0]["compounded"] == "yes"
    before = counts()
    report = registry_import(
        actor=physician, clinic=clinic, sheet=read(exported, f"registry.{kind}"), source=f"registry.{kind}"
    )
    assert [r.outcome for r in report.rows] == ["unchanged"] * 4
    assert counts() == before


def test_commands_import_and_export(clinic, physician, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_pumps", str(SAMPLE), clinic="HOME", user="physician", stdout=out, stderr=err)
    assert "row 4 of 4" in err.getvalue()  # the progress line
    assert out.getvalue().splitlines()[0] == "4 rows: 4 created. Imported."
    target = tmp_path / "registry.xlsx"
    call_command("export_pumps", str(target), clinic="HOME", stdout=io.StringIO())
    out = io.StringIO()
    call_command(
        "import_pumps", str(target), clinic="HOME", user="physician", stdout=out, stderr=io.StringIO()
    )
    assert out.getvalue().splitlines()[0] == "4 rows: 4 unchanged. Nothing to import."
    bad = tmp_path / "bad.csv"
    bad.write_text(SAMPLE.read_text().replace("2021-06-14", "2031-06-14"))
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command(
            "import_pumps",
            str(bad),
            clinic="HOME",
            user="physician",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    with pytest.raises(CommandError, match="neither a .csv nor an .xlsx"):
        call_command("export_pumps", str(tmp_path / "x.ods"), clinic="HOME")


def test_template_has_every_column_and_no_row():
    sheet = read((ROOT / "docs" / "import-template.csv").read_bytes(), "import-template.csv")
    assert sheet.rows == [] and list(sheet.positions) == list(KEYS)
