"""The course of therapy in a real browser, beside ``test_web_browser`` (whose fixtures it
shares: the clinic, its nurse, the Prometra II "Ada Moreno" filled on 2026-11-10 and the
SynchroMed II "Ben Okafor" filled the day before "now", Thursday 2026-11-26 12:00Z, the
clinic in UTC): an MRI's follow-up recorded or cancelled on the device page (MRI-1,
TITRATE-2), the clinic's older-adult age (RISK-1) and a weaning plan edited by a physician
(WEAN-1). Screenshots go to test-artifacts/web/; axe-core audits each page."""

# The shared fixtures are imported by name, and pytest passes them as arguments of the same name.
# ruff: noqa: F401, F811
from __future__ import annotations

import pytest

from tests.test_web_browser import (
    ARTIFACTS,
    _log_in,
    clinic_data,
    live_server,
    page,
    playwright_api,
    shot,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _axe_clean(page):
    from axe_playwright_python.sync_playwright import Axe

    result = Axe().run(page)
    assert result.violations_count == 0, result.generate_report()


@pytest.mark.rule("MRI-1", "TITRATE-2")
def test_a_physician_empties_a_prometra_before_its_mri_and_cancels_another_mri(
    live_server, page, clinic_data
):
    """The Prometra II's MRI is at 15:00 today: the emptying is refused without the
    physician's reason (said in words, nothing written), then recorded with it: the therapy
    stops, the discontinuation alert is raised and the refill after the scan is to be
    booked today. A second MRI planned for next week is cancelled with a reason."""
    from alerts.models import Alert
    from devices.models import Mri
    from refills.models import Prescription
    from tests.factories import MembershipFactory

    expect = playwright_api.expect
    MembershipFactory(clinic=clinic_data["clinic"], role="physician", user__username="doc")
    due = clinic_data["due"]
    _log_in(page, live_server, "doc", f"/pumps/{due.pk}/device/")
    expect(page.get_by_test_id("mri-guidance")).to_contain_text("empty the pump before the scan")
    page.get_by_label("Scan at").fill("2026-11-26T15:00")
    page.get_by_role("button", name="Record the MRI").click()
    expect(page.locator(".messages")).to_contain_text("MRI of Thu 26 Nov 2026 15:00")
    mri = Mri.objects.get(pump=due)

    form = page.get_by_test_id(f"emptying-form-{mri.pk}")
    form.get_by_label("Pump emptied at").fill("2026-11-26T11:30")
    form.get_by_role("button", name="Record the emptying").click()
    expect(page.locator(".error-summary")).to_contain_text("The emptying was not recorded")
    expect(page.locator(".error-summary")).to_contain_text("write the physician's reason for stopping it")
    shot(page, "40-mri-emptying-refused")
    assert not Prescription.objects.filter(pump=due, daily_dose_mcg=0).exists()

    form = page.get_by_test_id(f"emptying-form-{mri.pk}")
    form.get_by_label("Physician's reason for stopping the therapy").fill("MRI of the lumbar spine")
    form.get_by_role("button", name="Record the emptying").click()
    expect(page.locator(".messages")).to_contain_text("Pump emptied at Thu 26 Nov 2026 11:30")
    expect(page.get_by_test_id("mris")).to_contain_text("Overdue")
    shot(page, "41-mri-emptied")
    _axe_clean(page)
    assert Alert.objects.get(pump=due, kind="discontinuation").severity == "critical"

    page.get_by_label("Scan at").fill("2026-12-03T10:00")
    page.get_by_role("button", name="Record the MRI").click()
    later = Mri.objects.get(pump=due, cancelled_at__isnull=True, emptied_at__isnull=True)
    cancel = page.get_by_test_id(f"cancel-form-{later.pk}")
    cancel.get_by_label("The MRI will not happen because").fill("the patient declined the scan")
    cancel.get_by_role("button", name="Cancel this MRI").click()
    expect(page.locator(".messages")).to_contain_text("MRI of Thu 3 Dec 2026 10:00 UTC cancelled")
    expect(page.get_by_test_id("mris")).to_contain_text("the patient declined the scan")
    shot(page, "42-mri-cancelled")
    later.refresh_from_db()
    assert later.cancel_reason == "the patient declined the scan"


@pytest.mark.rule("RISK-1", "ORAL-1")
def test_the_clinic_admin_sets_the_older_adult_age_and_a_nurse_reads_it(live_server, page, clinic_data):
    """The settings page says the age is not set; the admin sets 65 with a reason; a nurse
    sees "from 65 years" without a form."""
    from patients.models import Clinic

    expect = playwright_api.expect
    _log_in(page, live_server, "boss", "/clinics/HOME/settings/")
    expect(page.get_by_test_id("older-adult-age")).to_contain_text("not set")
    form = page.get_by_test_id("older-adult-form")
    form.get_by_label("Older adult from").fill("0")
    form.get_by_role("button", name="Save the older-adult age").click()
    expect(page.locator(".messages")).to_contain_text("The older-adult age was not saved")
    form = page.get_by_test_id("older-adult-form")
    form.get_by_label("Older adult from").fill("65")
    form.get_by_label("Why (kept in the history)").fill("our physicians' choice")
    form.get_by_role("button", name="Save the older-adult age").click()
    expect(page.locator(".messages")).to_contain_text("Patients from 65 years count as older adults")
    expect(page.get_by_test_id("older-adult-age")).to_contain_text("from 65 years")
    _axe_clean(page)
    shot(page, "43-clinic-older-adult-age")
    assert Clinic.objects.get(code="HOME").older_adult_from_age_years == 65
    page.context.clear_cookies()
    _log_in(page, live_server, "nurse", "/clinics/HOME/settings/")
    expect(page.get_by_test_id("older-adult-age")).to_contain_text("from 65 years")
    assert page.get_by_test_id("older-adult-form").count() == 0


@pytest.mark.rule("WEAN-1")
def test_a_physician_changes_a_weaning_plan_whose_first_step_is_done(live_server, page, clinic_data):
    """Oral baclofen 10 mg × 3 weaned 7.5 mg from 20 Nov (ticked off), 5 mg from 27 Nov,
    0 from 4 Dec. The physician tries to raise step 2 to 8 mg (refused: doses go down),
    then makes it 6 mg and adds a 3 mg step on 1 Dec before the end; step 1 stays done."""
    from datetime import date

    from medications.models import OralDrug, OralMedication, WeaningStep
    from medications.services import weaning_plan_create, weaning_step_done
    from tests.factories import MembershipFactory

    expect = playwright_api.expect
    doc = MembershipFactory(clinic=clinic_data["clinic"], role="physician", user__username="doc").user
    patient = clinic_data["due"].patient
    baclofen = OralMedication.objects.create(
        patient=patient,
        drug=OralDrug.objects.get(code="baclofen_oral"),
        dose_mg=10,
        times_per_day=3,
        started_on=date(2026, 11, 1),
        prescriber="Dr Osei",
        recorded_by=doc,
    )
    plan, _ = weaning_plan_create(
        actor=doc,
        medication=baclofen,
        steps=[
            {"day": date(2026, 11, 20), "dose_mg": "7.5"},
            {"day": date(2026, 11, 27), "dose_mg": "5"},
            {"day": date(2026, 12, 4), "dose_mg": "0"},
        ],
    )
    first, second, last = plan.steps.order_by("number")
    weaning_step_done(actor=clinic_data["nurse"], step=first)

    _log_in(page, live_server, "doc", f"/patients/{patient.pk}/medications/")
    editor = page.get_by_test_id(f"plan-edit-{baclofen.pk}")
    editor.locator("summary").click()
    editor.get_by_label("Step 2 dose (mg)", exact=True).fill("8")
    editor.get_by_label("Why the plan changes").fill("spasms came back")
    editor.get_by_role("button", name="Save the changed steps").click()
    expect(page.get_by_test_id("refusal")).to_contain_text("Step 2's dose, 8 mg, must be lower than step 1")
    shot(page, "44-weaning-change-refused")

    editor = page.get_by_test_id(f"plan-edit-{baclofen.pk}")
    editor.locator("summary").click()
    editor.get_by_label("Step 2 dose (mg)", exact=True).fill("6")
    editor.get_by_label("New step 1 from", exact=True).fill("2026-12-01")
    editor.get_by_label("New step 1 dose (mg)", exact=True).fill("3")
    editor.get_by_label("Why the plan changes").fill("spasms came back")
    editor.screenshot(path=str(ARTIFACTS / "45-weaning-change-form.png"))
    editor.get_by_role("button", name="Save the changed steps").click()
    expect(page.locator(".messages")).to_contain_text(
        "Weaning plan of Oral baclofen changed: 4 steps, 3 still to do, the last on Fri 4 Dec 2026."
    )
    expect(page.get_by_test_id(f"step-{first.pk}")).to_contain_text("done by nurse")
    _axe_clean(page)
    shot(page, "46-weaning-plan-changed")
    assert [
        (s.number, s.day.isoformat(), float(s.dose_mg)) for s in WeaningStep.objects.order_by("number")
    ] == [
        (1, "2026-11-20", 7.5),
        (2, "2026-11-27", 6.0),
        (3, "2026-12-01", 3.0),
        (4, "2026-12-04", 0.0),
    ]
    assert (
        WeaningStep.objects.get(number=4).pk == last.pk and second.pk == WeaningStep.objects.get(number=2).pk
    )
