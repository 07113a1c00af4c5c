"""A clinic moves in through the web app: a physician uploads the clinic's spreadsheet on
the "Import and export" page, reads the report (a refused cell named, nothing written),
imports the corrected file, downloads the registry as Excel and imports it back unchanged;
the clinic's admin downloads but does not import. Screenshots in test-artifacts/web/
(40-43); axe-core audits the page with its report."""

# ruff: noqa: F811 (the browser fixtures are imported from test_web_browser, used as parameters)
from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_web_browser import ARTIFACTS, NOW, PASSWORD, live_server, page, playwright_api, shot  # noqa: F401

SAMPLE = Path(__file__).resolve().parent.parent / "docs" / "import-sample.csv"

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def registry_clinic(monkeypatch):
    monkeypatch.setattr("pumpcare.clock.now", lambda: NOW)
    from tests.factories import ClinicFactory, MembershipFactory

    clinic = ClinicFactory(code="HOME", name="Home Clinic", timezone="UTC")
    MembershipFactory(clinic=clinic, role="physician", user__username="doctor")
    MembershipFactory(clinic=clinic, role="admin", user__username="boss")
    return clinic


def log_in(page, url, username):
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_physician_imports_the_clinics_spreadsheet_and_exports_it_back(
    live_server, page, registry_clinic, tmp_path
):
    from axe_playwright_python.sync_playwright import Axe

    from patients.models import Patient, Pump

    expect = playwright_api.expect
    log_in(page, live_server.url + "/", "doctor")
    page.wait_for_url("**/clinics/HOME/worklist/")
    page.get_by_role("link", name="Import and export").click()
    expect(page.get_by_role("heading", name="Import and export")).to_be_visible()

    # Once sent, the form says it is working (the submission is held here to see it).
    busy = page.get_by_test_id("import-busy")
    expect(busy).to_be_hidden()
    page.get_by_label("Spreadsheet (.csv or .xlsx)").set_input_files(str(SAMPLE))
    page.evaluate(
        "document.querySelector('form[data-busy]').addEventListener('submit', e => e.preventDefault())"
    )
    page.get_by_role("button", name="Import").click()
    expect(busy).to_be_visible()
    page.locator("#import-busy").screenshot(path=str(ARTIFACTS / "40-import-busy.png"))
    page.reload()

    # A typo: the report names the cell and says why; nothing is written.
    bad = tmp_path / "okafor-clinic.csv"
    bad.write_text(SAMPLE.read_text().replace("2023-02-20", "20/02/2023"))
    page.get_by_label("Spreadsheet (.csv or .xlsx)").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    summary = page.get_by_test_id("import-summary")
    expect(summary).to_have_text(
        "4 rows: 3 would be created, 1 refused. Nothing was imported: correct the refused rows and import the file again."
    )
    expect(page.locator("tr[data-row='3']")).to_contain_text(
        "Cell P3 (Implant date): '20/02/2023' is not a date: write it as year-month-day, like 2024-03-31"
    )
    assert Patient.objects.count() == 0
    axe = Axe()
    result = axe.run(page)
    assert result.violations_count == 0, result.generate_report()
    shot(page, "40b-import-refused-cell")

    # The corrected file: every row created, the warnings shown.
    page.get_by_label("Spreadsheet (.csv or .xlsx)").set_input_files(str(SAMPLE))
    page.get_by_role("button", name="Import").click()
    expect(summary).to_have_text("4 rows: 4 created. Imported.")
    expect(page.locator("tr[data-row='3']")).to_contain_text("No screening trial is recorded")
    assert Pump.objects.count() == 3
    shot(page, "41-import-done")

    # The registry as Excel, imported back: nothing changes.
    with page.expect_download() as download:
        page.get_by_test_id("export-xlsx").click()
    assert download.value.suggested_filename == "pumps-HOME-2026-11-26.xlsx"
    exported = tmp_path / download.value.suggested_filename
    download.value.save_as(exported)
    page.get_by_label("Spreadsheet (.csv or .xlsx)").set_input_files(str(exported))
    page.get_by_role("button", name="Import").click()
    expect(summary).to_have_text("4 rows: 4 unchanged. Nothing to import.")
    shot(page, "42-import-of-export-unchanged")


def test_the_clinics_admin_downloads_the_registry_but_a_clinician_imports(live_server, page, registry_clinic):
    expect = playwright_api.expect
    log_in(page, live_server.url + "/clinics/HOME/registry/", "boss")
    page.wait_for_url("**/clinics/HOME/registry/")
    expect(page.get_by_test_id("import-needs-clinician")).to_be_visible()
    expect(page.get_by_label("Spreadsheet (.csv or .xlsx)")).to_have_count(0)
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    assert Path(download.value.path()).read_text().splitlines()[0].startswith("mrn,family_name,given_name")
    with page.expect_download() as template:
        page.get_by_test_id("template-xlsx").click()
    assert template.value.suggested_filename == "pumpcare-import-template.xlsx"
    shot(page, "43-registry-admin")
