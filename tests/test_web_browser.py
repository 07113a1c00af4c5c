"""The nurses' web app in a real browser: Playwright drives Debian's headless
Chromium against a live server. A nurse logs in, finds a due patient on the worklist,
records a refill with a concentration change — seeing the expected residual, the new
alarm and refill-by dates and the bridge bolus (all four numbers) before saving — books
the next refill and downloads the wallet card. Screenshots of every step go to
test-artifacts/web/. axe-core audits every page a nurse uses for accessibility.

Skipped (with the reason) only when /usr/bin/chromium or the playwright package is
missing; ``.ci/run`` installs both (scripts/install-system-packages.sh, requirements.txt).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday
PASSWORD = "Pass-word-123!"

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
if not shutil.which(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing: run scripts/install-system-packages.sh", allow_module_level=True)

# Playwright's sync API runs an event loop in this thread; Django's ORM calls in the test
# body (setup, checks) are synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def clinic_data(monkeypatch):
    """A clinic with a nurse; a Prometra II (DOMAIN.md's bridge example: pathway 0.26 mL,
    catheter 60 cm x 0.0026 mL/cm) filled 2026-11-10 12:00Z with 20 mL at 500 mcg/mL,
    300 mcg/day = 0.6 mL/day — due — and another patient's pump, filled the day before."""
    monkeypatch.setattr("pumpcare.clock.now", lambda: NOW)
    from cards.models import CardSettings
    from patients.models import CatheterModel, PumpModel
    from patients.services import catalog_update
    from refills.services import refill_record
    from tests.factories import ClinicFactory, MembershipFactory, PatientFactory, PumpFactory

    clinic = ClinicFactory(code="HOME", name="Home Clinic", timezone="UTC")
    nurse = MembershipFactory(clinic=clinic, role="nurse", user__username="nurse").user
    admin = MembershipFactory(clinic=clinic, role="admin", user__username="boss").user
    CardSettings.objects.create(clinic=clinic, default_physician="Dr. Ana Rivera")
    catalog_update(
        actor=admin,
        entry=PumpModel.objects.get(code="13827"),
        changes={"pathway_volume_min_ml": "0.26", "pathway_volume_max_ml": "0.30"},
        reason="from the IFU",
    )
    due = PumpFactory(
        patient=PatientFactory(clinic=clinic, given_name="Ada", family_name="Moreno", mrn="D-1001"),
        model=PumpModel.objects.get(code="13827"),
        catheter_model=CatheterModel.objects.get(code="11823"),
        catheter_length_cm=60,
        implanted_on=date(2026, 1, 2),
    )
    calm = PumpFactory(
        patient=PatientFactory(clinic=clinic, given_name="Ben", family_name="Okafor", mrn="D-1002"),
        implanted_on=date(2026, 1, 2),
    )
    for pump, at in (
        (due, datetime(2026, 11, 10, 12, 0, tzinfo=UTC)),
        (calm, datetime(2026, 11, 25, 12, 0, tzinfo=UTC)),
    ):
        refill_record(
            actor=nurse,
            pump=pump,
            performed_at=at,
            volume_withdrawn_ml=0,
            volume_added_ml=20,
            concentration_mcg_per_ml=500,
            prescription={"mode": "simple_continuous", "daily_dose_mcg": 300},
        )
    return {"clinic": clinic, "nurse": nurse, "due": due, "calm": calm}


@pytest.fixture
def live_server():
    """A live server of this test's own (pytest-django's is kept for the whole session):
    stopped, and its request threads' database connections closed, before the test
    database is dropped."""
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("localhost")
    yield server
    server.stop()
    for thread in threading.enumerate():
        if "process_request_thread" in thread.name:
            thread.join(timeout=10)


@pytest.fixture
def page(live_server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1366, "height": 900})
        tab.set_default_timeout(15_000)
        # The Content-Security-Policy blocks nothing the pages need. Chromium
        # reports each violation on the console ("Refused to ... Content Security Policy").
        violations = []
        tab.on(
            "console",
            lambda message: (
                violations.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        yield tab
        browser.close()
        assert violations == [], "the Content-Security-Policy blocked part of a page"
        # The test body's ORM calls ran beside Playwright's event loop, in a context of their
        # own, with a database connection of their own: close it, or it outlives the test
        # database.
        connections.close_all()


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_nurse_refills_with_a_concentration_change_books_and_prints_the_card(
    live_server, page, clinic_data
):
    from pypdf import PdfReader

    from refills.models import Refill
    from scheduling.models import Appointment

    expect = playwright_api.expect
    due = clinic_data["due"]

    # Log in: the front page asks for it, then opens on the clinic's worklist.
    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="Log in to pumpcare")).to_be_visible()
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill(PASSWORD)
    shot(page, "01-login")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/clinics/HOME/worklist/")
    shot(page, "02-worklist")

    # The due patient is first, its urgency in words; the strip counts it.
    expect(page.locator(".strip")).to_contain_text("1 due this week")
    first = page.locator("table.worklist tbody tr").first
    expect(first).to_contain_text("Moreno, Ada")
    expect(first).to_contain_text("Due, not booked")
    page.get_by_label("Name or MRN").fill("D-1001")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.worklist tbody tr")).to_have_count(1)
    shot(page, "03-worklist-search")
    page.get_by_role("link", name="Moreno, Ada").click()

    # The pump page: the chart, the card, the record.
    expect(page.get_by_role("heading", name="Reservoir and dates")).to_be_visible()
    expect(page.locator("figure.chart svg")).to_be_visible()
    shot(page, "04-pump")
    page.get_by_role("link", name="Record a refill").click()

    # The refill: 16 d 0 h after the fill at 0.6 mL/day, 20 - 9.6 = 10.40 mL are expected.
    expect(page.get_by_label("Time of the refill")).to_have_value("2026-11-26T12:00")
    page.get_by_label("Volume withdrawn (mL)").fill("10.4")
    page.get_by_label("Concentration (mcg/mL)").fill("1000")
    page.get_by_label("Daily dose (mcg/day)", exact=True).fill("300")
    bridge = page.get_by_test_id("bridge")
    expect(bridge).to_be_visible()
    # BRIDGE-1 worked example: V = 0.26 + 60 x 0.0026 = 0.416 mL; T = 0.416 x 500 / 300 days
    # = 16.64 h; programmed 0.416 x 1000 = 416 mcg; delivered 0.416 x 500 = 208 mcg.
    expect(page.get_by_test_id("bridge-volume")).to_have_text("0.416 mL")
    expect(page.get_by_test_id("bridge-duration")).to_have_text("16.64 h")
    expect(page.get_by_test_id("bridge-programmed")).to_have_text("416.0 mcg")
    expect(page.get_by_test_id("bridge-delivered")).to_have_text("208.0 mcg")
    expect(page.get_by_test_id("expected-residual")).to_have_text("10.40 mL")
    expect(page.get_by_test_id("discrepancy")).to_contain_text("No discrepancy")
    # After the bridge (19.584 mL at 0.3 mL/day to the 3 mL alarm), as in
    # tests/test_api_refills.py: alarm = refill + 55 d 23:21:36 = 2027-01-21 11:21:36Z;
    # worst case (LRA-3: the bridge drains 1.15 x 0.416 mL in its 16.64 h, then 0.345 mL/day)
    # refill + 48 d 13:58:07 = 2027-01-14 01:58:07Z; refill-by 7 days earlier: Thu 7 Jan 2027.
    expect(page.get_by_test_id("alarm")).to_contain_text("Thu 21 Jan 2027 11:21")
    expect(page.get_by_test_id("alarm")).to_contain_text("Thu 14 Jan 2027 01:58")
    expect(page.get_by_test_id("refill-by")).to_have_text("Thu 7 Jan 2027")
    assert Refill.objects.filter(pump=due).count() == 1  # nothing saved yet
    shot(page, "05-refill-form-checked")

    page.get_by_role("button", name="Save the refill").click()
    page.wait_for_url(f"**/pumps/{due.pk}/#appointments")
    expect(page.locator(".messages")).to_contain_text("Refill recorded.")
    expect(page.locator(".messages")).to_contain_text("416.0 mcg")
    saved = Refill.objects.filter(pump=due).latest("performed_at")
    assert (saved.concentration_mcg_per_ml, saved.bridge_duration_hours) == (
        Decimal("1000"),
        Decimal("16.64"),
    )
    shot(page, "06-refill-saved")

    # Book the next refill: the latest working day on or before refill-by is proposed.
    page.get_by_role("link", name="Book the next refill").click()
    expect(page.get_by_label("Day (UTC)")).to_have_value("2027-01-07")
    page.get_by_label("Time").fill("10:30")
    page.get_by_label("Nurse").select_option("nurse")
    shot(page, "07-booking")
    page.get_by_role("button", name="Book").click()
    expect(page.locator(".messages")).to_contain_text(
        "Refill booked for Thu 07 Jan 2027 at 10:30 with nurse."
    )
    booked = Appointment.objects.get(pump=due, status="booked")
    assert booked.day == date(2027, 1, 7)
    shot(page, "08-booked")

    # The wallet card: the browser's session downloads the PDF.
    href = page.get_by_test_id("wallet-card").get_attribute("href")
    response = page.request.get(live_server.url + href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    pdf = response.body()
    assert pdf.startswith(b"%PDF")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Moreno" in text and "Ada" in text
    (ARTIFACTS / "09-wallet-card.pdf").write_bytes(pdf)
    page.reload()
    expect(page.locator("#card")).to_contain_text("current")
    shot(page, "09-card-printed")


@pytest.mark.rule("REFILL-2")
def test_a_refill_time_that_happens_twice_is_answered_in_the_live_check(live_server, page, clinic_data):
    """New York, Sun 1 Nov 2026: 1:30 AM happens at EDT (UTC−4, 05:30Z) and again at EST
    (UTC−5, 06:30Z). The nurse types it, the live check asks which, she picks EST, saves."""
    from patients.models import Clinic
    from refills.models import Refill
    from tests.factories import PatientFactory, PumpFactory

    expect = playwright_api.expect
    Clinic.objects.filter(pk=clinic_data["clinic"].pk).update(timezone="America/New_York")
    new = PumpFactory(
        patient=PatientFactory(clinic=clinic_data["clinic"], family_name="Vance", mrn="D-1003"),
        implanted_on=date(2026, 10, 30),
    )
    page.goto(live_server.url + f"/pumps/{new.pk}/refill/")
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/pumps/{new.pk}/refill/")
    page.get_by_label("Volume withdrawn (mL)").fill("0")
    page.get_by_label("Volume added (mL)").fill("20")
    page.get_by_label("Concentration (mcg/mL)").fill("500")
    page.get_by_label("Daily dose (mcg/day)", exact=True).fill("250")
    page.get_by_label("Time of the refill").fill("2026-11-01T01:30")
    expect(page.get_by_test_id("live-errors")).to_contain_text("1:30 AM EDT (UTC−4) or 1:30 AM EST (UTC−5)")
    page.locator("#utc_offset_live").select_option("-300")
    expect(page.get_by_test_id("preview")).to_be_visible()
    shot(page, "10-refill-time-twice")
    page.get_by_role("button", name="Save the refill").click()
    page.wait_for_url(f"**/pumps/{new.pk}/#appointments")
    assert Refill.objects.get(pump=new).performed_at == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_an_emptied_prometra_shows_an_empty_reservoir_due_for_its_refill_today(
    live_server, page, clinic_data
):
    """MRI-1: the due Prometra II (0.6 mL/day since 10 Nov 12:00) is emptied for an MRI at
    08:00 on the scan day: the pump page shows 0 mL and why, the refill due that day, no
    alarm date projected; the worklist says so too."""
    from devices.services import mri_emptying_record, mri_plan
    from tests.factories import MembershipFactory

    expect = playwright_api.expect
    due = clinic_data["due"]
    physician = MembershipFactory(clinic=clinic_data["clinic"], role="physician").user
    mri = mri_plan(actor=physician, pump=due, scan_at=datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    mri_emptying_record(
        actor=physician,
        mri=mri,
        emptied_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        override_reason="MRI of the spine",
    )
    page.goto(live_server.url + f"/pumps/{due.pk}/")
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/pumps/{due.pk}/")
    dates = page.locator("#now-h + dl")
    expect(dates).to_contain_text("0.00 mL")
    expect(dates).to_contain_text("Thu 26 Nov 2026")
    expect(dates).to_contain_text("the reservoir was emptied that day")
    expect(page.locator("body")).to_contain_text(
        "The reservoir was emptied on Thu 26 Nov 2026 08:00 UTC: it holds no drug until it is refilled"
    )
    shot(page, "34-emptied-prometra")
    page.goto(live_server.url + "/clinics/HOME/worklist/")
    row = page.locator("table.worklist tbody tr", has_text="Moreno, Ada")
    expect(row).to_contain_text("emptied")
    shot(page, "35-emptied-prometra-worklist")


def test_a_refill_booked_after_its_new_refill_by_date_is_flagged_on_the_worklist(
    live_server, page, clinic_data
):
    """LRA-5: Okafor's pump (filled 25 Nov 12:00, 20 mL at 500 mcg/mL, 300 mcg/day: worst
    case 0.687 mL/day, alarm at 2 mL on 21 Dec, refill-by Monday 14 Dec) has its refill
    booked on 14 Dec. 340 mcg/day from now (worst case 0.7786 mL/day from the 19.313 mL
    left) brings the alarm to 18 Dec and refill-by to Friday 11 Dec: the row says to move it."""
    from refills.services import prescription_create
    from scheduling.appointments import appointment_book
    from scheduling.models import Appointment
    from scheduling.proposals import refill_proposals_run

    expect = playwright_api.expect
    calm, nurse = clinic_data["calm"], clinic_data["nurse"]
    refill_proposals_run(clinic_data["clinic"])
    booking = Appointment.objects.get(pump=calm, kind="refill")
    assert booking.day == date(2026, 12, 14)
    appointment_book(actor=nurse, appointment=booking)
    prescription_create(
        actor=nurse,
        pump=calm,
        effective_at=NOW,
        prescription={"mode": "simple_continuous", "daily_dose_mcg": 340},
        reason="titration visit",
    )
    _log_in(page, live_server, "nurse", "/clinics/HOME/worklist/")
    row = page.locator("table.worklist tbody tr", has_text="Okafor, Ben")
    expect(row.get_by_test_id("booked-after-refill-by")).to_have_text("Booked after refill-by: move it")
    expect(row).to_contain_text("Fri 11 Dec 2026")
    shot(page, "47-refill-booked-after-refill-by")


def test_the_worklist_says_when_dates_are_being_recomputed_after_a_catalog_edit(
    live_server, page, clinic_data, settings
):
    """A drug edit that more projections read than a request recomputes marks them stale:
    the worklist says their dates are being recomputed, shows each row's old date tagged,
    and, once the workers recomputed them, the new dates (LRA-4: filled 25 Nov, kept at
    most 14 days: refill by Wed 9 Dec, not Mon 14 Dec)."""
    from patients.models import Drug
    from patients.services import catalog_update
    from refills import projections
    from refills.signals import projections_marked_stale
    from refills.tasks import on_projections_marked_stale

    expect = playwright_api.expect
    settings.PUMPCARE_PROJECTIONS_INLINE_LIMIT = 1
    projections_marked_stale.disconnect(dispatch_uid="projections-stale")  # no worker runs here
    try:
        catalog_update(
            actor=None,
            entry=Drug.objects.get(code="baclofen"),
            changes={"max_reservoir_days": 14},
            reason="new stability data",
        )
    finally:
        projections_marked_stale.connect(on_projections_marked_stale, dispatch_uid="projections-stale")
    _log_in(page, live_server, "nurse", "/clinics/HOME/worklist/")
    expect(page.get_by_test_id("dates-recomputing")).to_contain_text(
        "The dates of 2 pumps are being recomputed"
    )
    row = page.locator("table.worklist tbody tr", has_text="Okafor, Ben")
    expect(row.get_by_test_id("row-recomputing")).to_have_text("being recomputed")
    expect(row).to_contain_text("Mon 14 Dec 2026")
    shot(page, "48-worklist-dates-being-recomputed")
    for first, last in projections.stale_ranges():  # the workers' batches
        projections.projections_refresh_range(first, last)
    page.reload()
    expect(page.get_by_test_id("dates-recomputing")).to_have_count(0)
    expect(row.get_by_test_id("row-recomputing")).to_have_count(0)
    expect(row).to_contain_text("Wed 9 Dec 2026")
    shot(page, "49-worklist-dates-recomputed")


def test_a_nurse_downloads_a_patients_record_as_fhir_from_the_timeline(live_server, page, clinic_data):
    """The timeline's link downloads the patient's record as a FHIR R4 Bundle, valid FHIR."""
    import json

    from fhir.resources.R4B.bundle import Bundle

    due = clinic_data["due"]
    page.goto(live_server.url + f"/patients/{due.patient_id}/timeline/")
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/patients/{due.patient_id}/timeline/")
    shot(page, "36-timeline-fhir-link")
    with page.expect_download() as download:
        page.get_by_test_id("fhir-export").click()
    assert download.value.suggested_filename == "pumpcare-d-1001-fhir.json"
    body = json.loads(Path(download.value.path()).read_text())
    bundle = Bundle.model_validate(body)
    kinds = [entry.resource.__resource_type__ for entry in bundle.entry]
    assert kinds[:2] == ["Organization", "Patient"] and "MedicationRequest" in kinds


def test_an_admin_asks_to_move_a_patient_to_another_clinic(live_server, page, clinic_data):
    """The clinic's admin moves a patient: the transfer waits for the other clinic's answer."""
    from tests.factories import ClinicFactory

    expect = playwright_api.expect
    ClinicFactory(code="AWAY", name="Auckland Neuro", timezone="Pacific/Auckland")
    page.goto(live_server.url + "/clinics/HOME/transfers/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/clinics/HOME/transfers/")
    page.get_by_label("Patient's MRN").fill("D-1001")
    page.get_by_label("The clinic they join").select_option("AWAY")
    page.get_by_label("Why does the patient move?").fill("moved to Auckland")
    page.get_by_role("button", name="Ask for the transfer").click()
    expect(page.locator("body")).to_contain_text("Transfer of Moreno, Ada to Auckland Neuro asked")
    expect(page.get_by_test_id("transfers")).to_contain_text("Home Clinic → Auckland Neuro")
    shot(page, "37-transfer-asked")


def test_every_page_a_nurse_uses_passes_an_axe_accessibility_audit(live_server, page, clinic_data):
    """axe-core (WCAG 2.0/2.1 A and AA rules and best practices) finds no violation on the
    login page, the worklist (filtered too), the pump page, the refill form with its
    checks shown, the booking form, the alerts page, the replacement and explant forms and
    the screening trial."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    due = clinic_data["due"]

    def audit(name):
        result = axe.run(page)
        assert result.violations_count == 0, f"{name}: {result.generate_report()}"

    page.goto(live_server.url + "/")
    audit("login")
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/clinics/HOME/worklist/")
    audit("worklist")
    page.goto(live_server.url + "/clinics/HOME/worklist/?urgency=due&q=Moreno")
    audit("filtered worklist")
    page.goto(f"{live_server.url}/pumps/{due.pk}/")
    audit("pump page")
    page.goto(f"{live_server.url}/pumps/{due.pk}/refill/")
    page.get_by_label("Volume withdrawn (mL)").fill("10.4")
    page.get_by_label("Concentration (mcg/mL)").fill("1000")
    page.get_by_label("Daily dose (mcg/day)", exact=True).fill("300")
    playwright_api.expect(page.get_by_test_id("bridge")).to_be_visible()
    audit("refill form with its checks")
    page.goto(f"{live_server.url}/pumps/{due.pk}/appointments/new/")
    audit("booking form")
    page.goto(live_server.url + "/clinics/HOME/alerts/")
    audit("alerts")
    page.goto(live_server.url + "/clinics/HOME/drift/")
    audit("delivery drift list")
    page.goto(f"{live_server.url}/pumps/{due.pk}/replace/")
    page.get_by_role("button", name="Replace the pump").click()  # empty: every field refused
    playwright_api.expect(page.locator("#model-error")).to_be_visible()
    audit("replacement form with its errors")
    shot(page, "19-replace-errors")
    page.goto(f"{live_server.url}/pumps/{due.pk}/explant/")
    audit("explant page (a nurse's: physicians only)")
    shot(page, "20-explant-nurse")
    page.goto(f"{live_server.url}/patients/{due.patient_id}/screening/")
    page.get_by_role("button", name="Record the bolus").click()  # empty: refused
    audit("screening trial with its errors")
    shot(page, "21-screening-errors")
    # The audit is real: an image without a text alternative is reported.
    page.evaluate("document.querySelector('main, body').append(Object.assign(new Image(), {src: '/x.png'}))")
    assert axe.run(page).violations_count >= 1


@pytest.mark.rule("MONITOR-1", "DRIFT-1")
def test_a_nurse_records_an_assessment_with_a_refill_and_sees_the_delivery_drift(
    live_server, page, clinic_data
):
    """A nurse refills Ada Moreno's pump and ticks itching and sedation: the refill is saved
    with its assessment, a critical withdrawal alert and a physician-review alert are raised.
    Then she opens Cy Duarte's pump, whose refills observed under-delivery twice in a row:
    the chart of its ratios against the model's band, and the clinic's drift list."""
    from alerts.models import Alert
    from refills.models import VisitAssessment
    from refills.services import refill_record
    from tests.factories import PatientFactory, PumpFactory

    expect = playwright_api.expect
    due, nurse = clinic_data["due"], clinic_data["nurse"]
    # 20 mL at 500 mcg/mL, 250 mcg/day = 0.5 mL/day: 20 days program 10 mL (expected 10 left).
    # Withdrawn 12 → 8 / 10 = 0.800; 10 → 1.000; 12.5 → 0.750; 12 → 0.800 (SynchroMed II band
    # 0.855–1.145): the last two in a row are under-delivery.
    drifting = PumpFactory(
        patient=PatientFactory(
            clinic=clinic_data["clinic"], given_name="Cy", family_name="Duarte", mrn="D-1003"
        ),
        implanted_on=date(2026, 1, 2),
    )
    for days, withdrawn in ((0, 0), (20, 12), (40, 10), (60, "12.5"), (80, 12)):
        refill_record(
            actor=nurse,
            pump=drifting,
            performed_at=datetime(2026, 8, 1, 12, 0, tzinfo=UTC) + timedelta(days=days),
            volume_withdrawn_ml=withdrawn,
            volume_added_ml=20,
            concentration_mcg_per_ml=500,
            prescription={"mode": "simple_continuous", "daily_dose_mcg": 250},
        )
    assert Alert.objects.filter(pump=drifting, kind="delivery_drift", resolved_at__isnull=True).count() == 1

    _log_in(page, live_server, "nurse", f"/pumps/{due.pk}/refill/")
    # 16 days at 0.6 mL/day since the fill: 9.6 mL programmed, 10.40 mL expected; withdrawn
    # 10.4: delivered 9.6, ratio 1.000.
    page.get_by_label("Volume withdrawn (mL)").fill("10.4")
    page.get_by_label("Daily dose (mcg/day)", exact=True).fill("300")
    expect(page.get_by_test_id("delivery-ratio")).to_contain_text("Observed ratio 1.000")
    page.get_by_label("Itching").check()
    page.get_by_label("Sedation").check()
    page.get_by_label("Notes on the assessment").fill("Itchy since Sunday, drowsy after lunch")
    page.get_by_test_id("assessment").scroll_into_view_if_needed()
    shot(page, "30-refill-assessment")
    page.get_by_role("button", name="Save the refill").click()
    page.wait_for_url(f"**/pumps/{due.pk}/#appointments")
    expect(page.locator(".messages")).to_contain_text("Refill recorded.")
    assessment = VisitAssessment.objects.get(pump=due)
    assert (assessment.itching, assessment.sedation, assessment.fever) == (True, True, False)
    assert assessment.refill.pump == due and assessment.visit_kind == "refill"
    alert = Alert.objects.get(pump=due, kind="withdrawal_signs")
    assert alert.severity == "critical" and "resumed at once" in alert.message
    assert Alert.objects.filter(pump=due, kind="side_effects").exists()
    expect(page.locator("#alerts-h + *, section[aria-labelledby=alerts-h]").first).to_contain_text(
        "Withdrawal signs at a visit"
    )
    expect(page.locator("section[aria-labelledby=assess-h]")).to_contain_text("itching")
    shot(page, "31-pump-after-assessment")

    # The drifting pump: its ratios against the band, and what the page says of them.
    page.goto(f"{live_server.url}/pumps/{drifting.pk}/#drift")
    chart = page.get_by_test_id("drift-chart")
    expect(chart.locator("circle.point")).to_have_count(4)
    expect(chart.locator("circle.point.under_delivery")).to_have_count(3)
    expect(page.get_by_test_id("drift-summary")).to_contain_text(
        "Of 4 refills with an observed ratio, 1 was within the model's flow accuracy (0.855–1.145"
    )
    expect(page.get_by_test_id("drift-summary")).to_contain_text(
        "The latest 2 refills in a row were flagged under-delivery"
    )
    expect(page.get_by_test_id("drift-summary")).to_contain_text("does not learn from these ratios")
    page.locator("#drift").scroll_into_view_if_needed()
    page.locator("#drift").screenshot(path=str(ARTIFACTS / "32-pump-drift-chart.png"))

    # The clinic's list, from the navigation.
    page.get_by_role("link", name="Delivery drift").click()
    page.wait_for_url("**/clinics/HOME/drift/")
    rows = page.get_by_test_id("drift-list").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Duarte, Cy")
    expect(rows.first).to_contain_text("Under-delivery")
    expect(rows.first).to_contain_text("physician review")
    expect(rows.first).to_contain_text("0.750")
    shot(page, "33-drift-list")


def _log_in(page, live_server, username, path):
    page.goto(live_server.url + path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{path}")


@pytest.mark.rule("SCREEN-1", "START-1", "START-2")
def test_a_nurse_records_a_screening_trial_and_the_first_fill_is_checked_against_it(
    live_server, page, clinic_data
):
    """A new patient: no response at 50 mcg, a response at 75 mcg lasting 6 h, so START-1
    gives 2 x 75 = 150 mcg/day; the first fill at 200 mcg/day is refused in the live check."""
    from refills.models import Refill, ScreeningBolus
    from tests.factories import PatientFactory, PumpFactory

    expect = playwright_api.expect
    new = PumpFactory(
        patient=PatientFactory(
            clinic=clinic_data["clinic"], given_name="Cleo", family_name="Ibarra", mrn="D-1004"
        ),
        implanted_on=date(2026, 11, 20),
    )
    _log_in(page, live_server, "nurse", f"/pumps/{new.pk}/")
    page.get_by_role("link", name="Screening boluses and starting dose").click()
    expect(page.get_by_test_id("outcome")).to_contain_text(
        "No screening bolus recorded yet: the trial starts at 50 mcg"
    )
    shot(page, "11-screening-empty")
    page.get_by_label("Given at").fill("2026-11-20T09:00")
    page.get_by_label("Observed by").fill("Dr Vale")
    page.get_by_label("No response").check()
    page.get_by_role("button", name="Record the bolus").click()
    expect(page.get_by_test_id("outcome")).to_contain_text("No response yet: next step 75 mcg")
    expect(page.get_by_label("Dose (mcg, at 50 mcg/mL)")).to_have_value("75")
    page.get_by_label("Given at").fill("2026-11-21T09:00")
    page.get_by_label("Observed by").fill("Dr Vale")
    page.get_by_label("Yes, a response").check()
    page.get_by_label("Duration of the effect (hours)").fill("6")
    page.get_by_role("button", name="Record the bolus").click()
    expect(page.get_by_test_id("outcome")).to_contain_text("Positive at 75 mcg: start at 150 mcg/day")
    expect(page.get_by_test_id("trial-ended")).to_be_visible()
    assert ScreeningBolus.objects.filter(trial__patient=new.patient).count() == 2
    shot(page, "12-screening-positive")

    page.get_by_role("link", name="Back to the pump").click()
    page.get_by_role("link", name="Record a refill").click()
    expect(page.get_by_test_id("start-of-therapy")).to_contain_text(
        "Positive at 75 mcg: start at 150 mcg/day"
    )
    page.get_by_label("Daily dose (mcg/day)", exact=True).fill("200")
    page.get_by_label("Volume added (mL)").fill("20")
    page.get_by_label("Concentration (mcg/mL)").fill("500")
    refusal = page.get_by_test_id("refusal")
    expect(refusal).to_contain_text("Above the starting dose from the screening trial")
    expect(refusal).to_contain_text("150.0 mcg/day")
    shot(page, "13-first-fill-above-starting-dose")
    assert not Refill.objects.filter(pump=new).exists()


@pytest.mark.rule("IMPLANT-1", "PUMP-2")
def test_a_nurse_records_an_implant_fill_with_a_primed_catheter_its_monitoring_and_sees_the_timeline(
    live_server, page, clinic_data
):
    """A Prometra II implanted today with a new 60 cm catheter: the implant fill primes it
    with 60 x 0.0026 = 0.156 mL, which the projection drains first; the pump is flagged until
    the monitoring after the implant is recorded."""
    from patients.models import CatheterModel, PumpModel
    from refills.models import ImplantMonitoring, Refill
    from tests.factories import PatientFactory, PumpFactory

    expect = playwright_api.expect
    new = PumpFactory(
        patient=PatientFactory(
            clinic=clinic_data["clinic"], given_name="Dora", family_name="Lind", mrn="D-1005"
        ),
        model=PumpModel.objects.get(code="13827"),
        catheter_model=CatheterModel.objects.get(code="11823"),
        catheter_length_cm=60,
        implanted_on=date(2026, 11, 26),
    )
    _log_in(page, live_server, "nurse", f"/pumps/{new.pk}/refill/")
    page.get_by_label("Volume added (mL)").fill("20")
    page.get_by_label("Concentration (mcg/mL)").fill("500")
    page.get_by_label("Daily dose (mcg/day)", exact=True).fill("300")
    page.get_by_label("This is the implant fill").check()
    page.get_by_label("A new catheter was primed").check()
    # (20 - 0.156 - 3.0) / 0.6 = 28.0733 days after 12:00: Thu 24 Dec 2026 13:45 UTC
    expect(page.get_by_test_id("priming")).to_contain_text("primed with 0.156 mL")
    expect(page.get_by_test_id("alarm")).to_contain_text("Thu 24 Dec 2026 13:45")
    shot(page, "15-implant-fill")
    page.get_by_role("button", name="Save the refill").click()
    page.wait_for_url(f"**/pumps/{new.pk}/**")
    fill = Refill.objects.get(pump=new)
    assert fill.implant_fill and fill.priming_volume_ml == Decimal("0.156")
    flag = page.get_by_test_id("implant-flag")
    expect(flag).to_contain_text(
        "No monitoring is recorded after the implant fill of Thu 26 Nov 2026 12:00 UTC"
    )
    shot(page, "16-pump-after-implant")

    page.get_by_role("link", name="Monitoring after the implant").click()
    expect(page.get_by_label("Started")).to_have_value("2026-11-26T12:00")
    page.get_by_label("Observed by").fill("Nurse Kim")
    page.get_by_label("Findings").fill("alert, no hypotension")
    page.get_by_role("button", name="Save the monitoring").click()
    page.wait_for_url(f"**/pumps/{new.pk}/")
    expect(page.get_by_test_id("implant-flag")).to_contain_text(
        "Monitoring under way since Thu 26 Nov 2026 12:00 UTC"
    )
    assert ImplantMonitoring.objects.get(refill=fill).observed_by == "Nurse Kim"
    shot(page, "17-monitoring-under-way")

    page.get_by_role("link", name="Monitoring after the implant").click()
    page.get_by_label("Ended").fill("2026-11-26T11:00")  # before the start: said in words
    page.get_by_role("button", name="Save the monitoring").click()
    expect(page.locator(".field-error").first).to_contain_text("must be after the start of the monitoring")
    shot(page, "18-monitoring-refused")

    # the course of therapy so far, newest first
    page.goto(live_server.url + f"/pumps/{new.pk}/")
    page.get_by_test_id("timeline-link").click()
    rows = page.get_by_test_id("timeline").locator("tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("Assessment (refill): no sign observed")  # MONITOR-1, at the fill
    expect(rows.nth(1)).to_contain_text("Monitoring after the implant (under way)")
    expect(rows.nth(2)).to_contain_text("Implant fill: 20 mL at 500 mcg/mL, 300 mcg/day")
    expect(rows.nth(2)).to_contain_text("new catheter primed with 0.156 mL")
    expect(rows.nth(3)).to_contain_text("Pump implanted: Flowonix Prometra II 20 mL")
    shot(page, "19-timeline")


@pytest.mark.rule("TITRATE-1", "TITRATE-2", "IMPLANT-1")
def test_a_nurse_replaces_a_pump_and_a_physician_explants_another(live_server, page, clinic_data):
    from alerts.models import Alert
    from patients.models import Pump
    from tests.factories import MembershipFactory

    expect = playwright_api.expect
    due, calm = clinic_data["due"], clinic_data["calm"]
    _log_in(page, live_server, "nurse", f"/pumps/{due.pk}/")
    expect(page.get_by_role("link", name="Explant without replacement")).to_have_count(0)
    page.get_by_role("link", name="Replace pump").click()
    expect(page.get_by_label("Catheter length (cm)")).to_have_value("60")
    shot(page, "14-replace-form")
    page.get_by_label("Model", exact=True).select_option("8637-40")
    page.get_by_label("Serial number").fill("NEW-7")
    page.get_by_label("Why is the pump replaced? (kept in the history)").fill("end of battery life")
    page.get_by_label("Date of the surgery").fill("2026-11-27")  # tomorrow: refused
    page.get_by_role("button", name="Replace the pump").click()
    expect(page.locator("#explanted_on-error")).to_contain_text("in the future")
    shot(page, "15-replace-refused")
    page.get_by_label("Date of the surgery").fill("2026-11-26")
    page.get_by_role("button", name="Replace the pump").click()
    new = Pump.objects.get(serial_number="NEW-7")
    page.wait_for_url(f"**/pumps/{new.pk}/")
    expect(page.locator(".messages")).to_contain_text("The therapy continues")
    expect(page.get_by_test_id("replaces")).to_contain_text(f"pump #{due.serial_number}")
    shot(page, "16-replaced")

    MembershipFactory(clinic=clinic_data["clinic"], role="physician", user__username="doctor")
    page.context.clear_cookies()
    _log_in(page, live_server, "doctor", f"/pumps/{calm.pk}/")
    page.get_by_role("link", name="Explant without replacement").click()
    expect(page.get_by_test_id("stops-therapy")).to_contain_text("1–3 days")
    page.get_by_label("Why is the pump explanted?").fill("pocket infection")
    page.get_by_role("button", name="Explant and stop the therapy").click()
    expect(page.locator("#override_reason-error")).to_contain_text("written reason")
    shot(page, "17-explant-refused")
    page.get_by_label("Physician's override reason").fill("infected pocket; no new pump for now")
    page.get_by_role("button", name="Explant and stop the therapy").click()
    page.wait_for_url(f"**/pumps/{calm.pk}/#alerts")
    expect(page.locator(".messages")).to_contain_text("Critical alert")
    assert Alert.objects.get(pump=calm, kind="discontinuation").severity == "critical"
    shot(page, "18-explanted")


def test_a_failed_live_check_says_so_in_words_and_never_shows_the_servers_page(
    live_server, page, clinic_data
):
    """The live check pasted the server's 500 page ("database is locked") into the
    form. Whatever goes wrong — a server error, an overloaded server, no answer, another page
    (a proxy's, the login page after the session ended) — the panel says in words that the
    numbers could not be checked, and the next good answer replaces it."""
    expect = playwright_api.expect
    due = clinic_data["due"]
    page.goto(live_server.url + f"/pumps/{due.pk}/refill/")
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/pumps/{due.pk}/refill/")
    server_page = (
        "<html><body><h1>Server Error (500)</h1><pre>OperationalError: database is locked</pre></body></html>"
    )
    answers = [
        ("500", lambda route: route.fulfill(status=500, content_type="text/html", body=server_page)),
        (
            "503",
            lambda route: route.fulfill(status=503, content_type="text/plain", body="Service Unavailable"),
        ),
        ("no-answer", lambda route: route.abort("connectionreset")),
        (
            "other-page",
            lambda route: route.fulfill(status=200, content_type="text/html", body="<h1>Log in</h1>"),
        ),
    ]
    for volume, (name, answer) in enumerate(answers, start=10):
        page.route("**/refill/preview/", answer)
        page.get_by_label("Volume added (mL)").fill(str(volume))
        failed = page.get_by_test_id("live-check-failed")
        expect(failed).to_contain_text("The numbers could not be checked just now")
        expect(failed).to_contain_text("What you typed is kept")
        panel = page.locator("#preview")
        for leaked in ("Server Error", "database is locked", "Service Unavailable", "Log in"):
            expect(panel).not_to_contain_text(leaked)
        expect(page.get_by_label("Volume added (mL)")).to_have_value(str(volume))
        shot(page, f"11-live-check-failed-{name}")
        page.unroute("**/refill/preview/")
    # The server answers again: its panel replaces the message.
    page.get_by_label("Volume added (mL)").fill("20")
    expect(page.get_by_test_id("live-check-failed")).to_have_count(0)
    expect(page.locator("#preview")).not_to_be_empty()


def test_the_api_docs_work_offline_from_our_own_static_files(live_server, page):
    """Swagger UI and ReDoc come from the project's static files
    (drf-spectacular-sidecar), under the Content-Security-Policy, and nothing is fetched
    from another host."""
    from urllib.parse import urlsplit

    own = urlsplit(live_server.url).netloc
    elsewhere = []
    page.on(
        "request",
        lambda request: (
            elsewhere.append(request.url) if urlsplit(request.url).netloc not in (own, "") else None
        ),
    )
    page.goto(live_server.url + "/api/docs/")
    playwright_api.expect(page.get_by_role("heading", name=re.compile("pumpcare API"))).to_be_visible()
    playwright_api.expect(page.get_by_text("/api/v1/clinics/", exact=True).first).to_be_visible()
    shot(page, "30-api-docs-swagger")
    page.goto(live_server.url + "/api/redoc/")
    # ReDoc lays out the whole 5,000-line document before it shows a heading: seconds on a
    # loaded 2-core CI machine, more than the 5 s default.
    playwright_api.expect(page.get_by_role("heading", name=re.compile("pumpcare API"))).to_be_visible(
        timeout=30_000
    )
    shot(page, "31-api-docs-redoc")
    assert [url for url in elsewhere if not url.startswith("data:")] == []


def test_the_admin_and_the_browsable_api_work_under_the_content_security_policy(
    live_server, page, clinic_data
):
    """Their templates come from Django and DRF: inline styles are allowed there, inline
    scripts are not, and none of their pages needs one (the page fixture fails on any CSP
    report in the console)."""
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", password=PASSWORD)
    page.goto(live_server.url + "/admin/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    playwright_api.expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.goto(live_server.url + "/admin/patients/patient/")
    playwright_api.expect(page.get_by_role("link", name="D-1001")).to_be_visible()
    page.get_by_role("link", name="D-1001").click()
    playwright_api.expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()
    shot(page, "32-admin-under-csp")
    page.context.clear_cookies()  # log out (Django's logout is a POST)
    page.goto(live_server.url + "/api-auth/login/?next=/api/v1/")
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(live_server.url + "/api/v1/clinics/")
    playwright_api.expect(page.get_by_text("Home Clinic").first).to_be_visible()
    shot(page, "33-browsable-api-under-csp")
    # DRF's "Log out" link is the one inline handler the policy allows (by its hash).
    page.locator("a.dropdown-toggle", has_text="nurse").click()
    page.get_by_role("link", name="Log out").click()
    playwright_api.expect(page.get_by_role("link", name="Log in")).to_be_visible()


@pytest.mark.rule("DEVICE-1", "MRI-1")
def test_a_nurse_plans_an_mri_then_records_the_interrogation_with_a_motor_stall(
    live_server, page, clinic_data
):
    """A SynchroMed II scanned this morning: the interrogation is due today; the nurse
    records it with a motor stall read, which completes the MRI's follow-up and raises a
    critical alert on the pump page. The device page passes the accessibility audit."""
    from axe_playwright_python.sync_playwright import Axe

    from alerts.models import Alert

    expect = playwright_api.expect
    calm = clinic_data["calm"]
    _log_in(page, live_server, "nurse", f"/pumps/{calm.pk}/")
    page.get_by_test_id("device-link").click()
    page.wait_for_url(f"**/pumps/{calm.pk}/device/")
    expect(page.get_by_test_id("mri-guidance")).to_contain_text("interrogate the pump after the scan")
    page.get_by_label("Scan at").fill("2026-11-26T09:00")
    page.get_by_role("button", name="Record the MRI").click()
    expect(page.locator(".messages")).to_contain_text("Interrogate the pump today")
    expect(page.get_by_test_id("mris")).to_contain_text("To do")
    shot(page, "22-mri-interrogation-due")
    result = Axe().run(page)
    assert result.violations_count == 0, result.generate_report()
    page.get_by_label("Interrogated at").fill("2026-11-26T11:30")
    page.get_by_label("Motor stall").check()
    page.get_by_role("button", name="Record the interrogation").click()
    expect(page.locator(".messages")).to_contain_text("a critical alert went to the on-call address")
    expect(page.get_by_test_id("mris")).to_contain_text("Done")
    expect(page.get_by_test_id("interrogations")).to_contain_text("motor stall")
    shot(page, "23-interrogation-motor-stall")
    page.goto(f"{live_server.url}/pumps/{calm.pk}/")
    expect(page.get_by_test_id("mri-follow-ups")).to_contain_text("No MRI follow-up open")
    expect(page.locator("#alerts")).to_contain_text("motor stall")
    shot(page, "24-pump-page-device-alarm")
    assert Alert.objects.get(pump=calm, kind="device_alarm").severity == "critical"


@pytest.mark.rule("ORAL-1", "WEAN-1", "RISK-1")
def test_oral_medications_weaning_and_risk_flags_in_the_browser(live_server, page, clinic_data):
    """A physician records oral baclofen at 10 mg × 3 (ORAL-1: above the 5 mg start) and
    diazepam for a patient recovering from a stroke (RISK-1 flags the benzodiazepine on the
    pump page); a plan weaning diazepam before oral baclofen is refused without a reason
    (WEAN-1); the baclofen plan is saved; its first step, due today, is on the worklist and a
    nurse ticks it off."""
    from axe_playwright_python.sync_playwright import Axe

    from medications.models import OralMedication, WeaningStep
    from tests.factories import MembershipFactory

    expect = playwright_api.expect
    MembershipFactory(clinic=clinic_data["clinic"], role="physician", user__username="doc")
    due = clinic_data["due"]
    patient = due.patient
    patient.stroke_recovery = True
    patient.save()
    path = f"/patients/{patient.pk}/medications/"
    _log_in(page, live_server, "doc", path)

    def record(drug, dose, times):
        page.get_by_label("Drug", exact=True).select_option(label=drug)
        page.get_by_label("Dose (mg per intake)").fill(dose)
        page.get_by_label("Times a day").fill(times)
        page.get_by_label("From", exact=True).fill("2026-11-01")
        page.get_by_label("Prescribed by").fill("Dr Osei")
        page.get_by_role("button", name="Record the medication").click()

    record("Oral baclofen", "10", "3")
    expect(page.locator(".messages")).to_contain_text(
        "Oral baclofen usually starts at 5 mg up to 3 times a day"
    )
    record("Diazepam", "2", "2")
    expect(page.get_by_test_id("risk-flags")).to_contain_text("taking a benzodiazepine (Diazepam)")
    diazepam = OralMedication.objects.get(drug__code="diazepam")
    baclofen = OralMedication.objects.get(drug__code="baclofen_oral")

    page.get_by_test_id(f"plan-form-{diazepam.pk}").locator("summary").click()
    form = page.get_by_test_id(f"plan-form-{diazepam.pk}")
    form.get_by_label("Step 1 from").fill("2026-11-26")
    form.get_by_label("Step 1 dose (mg)").fill("1")
    form.get_by_role("button", name="Save the weaning plan").click()
    expect(page.get_by_test_id("refusal")).to_contain_text("Oral baclofen is weaned first")
    shot(page, "30-weaning-order-refused")

    page.get_by_test_id(f"plan-form-{baclofen.pk}").locator("summary").click()
    form = page.get_by_test_id(f"plan-form-{baclofen.pk}")
    form.get_by_label("Step 1 from").fill("2026-11-26")
    form.get_by_label("Step 1 dose (mg)").fill("5")
    form.get_by_label("Step 2 from").fill("2026-12-03")
    form.get_by_label("Step 2 dose (mg)").fill("0")
    form.get_by_role("button", name="Save the weaning plan").click()
    expect(page.locator(".messages")).to_contain_text("Weaning plan of Oral baclofen recorded: 2 steps")

    page.goto(f"{live_server.url}/pumps/{due.pk}/")
    expect(page.get_by_test_id("risk-flags")).to_contain_text(
        "Recovering from a stroke and taking a benzodiazepine"
    )
    page.goto(f"{live_server.url}/pumps/{due.pk}/refill/")
    expect(page.get_by_test_id("risk-flags")).to_contain_text("Diazepam")

    page.context.clear_cookies()
    _log_in(page, live_server, "nurse", "/clinics/HOME/worklist/")
    step = WeaningStep.objects.get(number=1)
    expect(page.get_by_test_id(f"weaning-due-{step.pk}")).to_contain_text("Oral baclofen step 1, 5 mg")
    page.get_by_test_id(f"weaning-due-{step.pk}").get_by_role("link").click()
    page.get_by_role("button", name="Tick off step 1").click()
    expect(page.get_by_test_id(f"step-{step.pk}")).to_contain_text("done by nurse")
    step.refresh_from_db()
    assert step.done_by.username == "nurse"
    result = Axe().run(page)
    assert result.violations_count == 0, result.generate_report()
    shot(page, "31-oral-medications")
