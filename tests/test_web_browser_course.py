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
