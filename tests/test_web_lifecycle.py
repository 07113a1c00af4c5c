"""The web app's pages for the edges of a patient's therapy: replacing a pump
(the therapy continues on the new pump), explanting one without a replacement (the therapy
stops: physicians only, with a written reason, a critical alert), the screening trial
(SCREEN-1, START-1) and the first fill of the therapy checked against it (START-2).

The pages call the same services as the API (refills.replacement, refills.screening,
refills.services); these tests check what a nurse sees and that a refusal writes nothing.
"Now" is frozen at Thursday 2026-11-26 12:00Z; the clinic is in UTC unless a test moves it.
The patient is a spinal adult (born 1980-05-17): TITRATE-1's limit is 30 % per 24 hours.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.test import Client

from alerts.models import Alert
from patients.models import Clinic, Pump
from refills.models import PumpExplant, ScreeningBolus, ScreeningTrial
from tests.helpers import fill
from tests.helpers import therapy_rows as therapy_counts

pytestmark = pytest.mark.usefixtures("frozen_now")

FILLED_AT = "2026-03-01T10:00:00Z"


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def counts() -> dict:
    """Every row a replacement, an explant or a screening bolus could write, history too."""
    return therapy_counts() | {
        "pumps": Pump.objects.count(),
        "explants": PumpExplant.objects.count(),
        "explant_history": PumpExplant.history.count(),
        "trials": ScreeningTrial.objects.count(),
        "boluses": ScreeningBolus.objects.count(),
        "bolus_history": ScreeningBolus.history.count(),
    }


def text(response) -> str:
    """The page as a nurse reads it: tags dropped, white space collapsed."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())).strip())


@pytest.fixture
def at_300(api, pump):
    """The patient's pump, filled on 2026-03-01 10:00Z with 20 mL at 500 mcg/mL, 300 mcg/day."""
    fill(api, pump, FILLED_AT, daily=300)
    return pump


def replace_post(**overrides) -> dict:
    return {
        "explanted_on": "2026-06-01",
        "model": "8637-40",
        "serial_number": "NEW-0001",
        "catheter_model": "8709SC",
        "catheter_length_cm": "50",
        "low_reservoir_alarm_ml": "",
        "reason": "end of battery life",
    } | overrides


def first_fill_post(at, daily, **overrides) -> dict:
    """The refill form's fields for a pump's first fill: 20 mL at 500 mcg/mL, nothing withdrawn."""
    return {
        "performed_at": at,
        "volume_withdrawn_ml": "0",
        "volume_added_ml": "20",
        "concentration_mcg_per_ml": "500",
        "mode": "simple_continuous",
        "daily_dose_mcg": str(daily),
        "action": "save",
    } | overrides


# --- replacing a pump: the therapy continues ---------------------------------------------------


@pytest.mark.rule("TITRATE-1", "IMPLANT-1")
def test_a_nurse_replaces_a_pump_and_the_new_pumps_first_fill_continues_the_history(nurse, at_300):
    c = browser(nurse)
    page = c.get(f"/pumps/{at_300.pk}/").content.decode()
    assert f'href="/pumps/{at_300.pk}/replace/"' in page
    assert "Explant without replacement" not in page  # a nurse does not stop the therapy
    form = c.get(f"/pumps/{at_300.pk}/replace/")
    assert form.status_code == 200
    # the current catheter is offered (the catheter often stays), the new model is chosen
    assert 'value="8709SC" selected' in form.content.decode()
    assert 'id="catheter_length_cm" name="catheter_length_cm" value="50"' in form.content.decode()
    assert "The therapy continues" in text(form)

    response = c.post(f"/pumps/{at_300.pk}/replace/", replace_post(), follow=True)
    new = Pump.objects.get(serial_number="NEW-0001")
    assert response.redirect_chain[-1][0] == f"/pumps/{new.pk}/"
    said = text(response)
    assert "The therapy continues" in said and "checked against the patient's doses" in said
    assert "implanted on 1 Jun 2026" in said  # the date in words, not 2026-06-01
    at_300.refresh_from_db()
    assert (at_300.status, at_300.explanted_on) == ("explanted", date(2026, 6, 1))
    assert (new.status, new.patient_id, new.model.code) == ("active", at_300.patient_id, "8637-40")
    assert PumpExplant.objects.get(pump=at_300).replaced_by == new
    assert not Alert.objects.filter(kind="discontinuation").exists()  # not a discontinuation
    assert f'href="/pumps/{at_300.pk}/"' in response.content.decode()  # "Replaces pump #…"
    old_page = c.get(f"/pumps/{at_300.pk}/").content.decode()
    assert f'href="/pumps/{new.pk}/"' in old_page and "Replace pump" not in old_page
    assert "the therapy continues on pump #NEW-0001" in text(c.get(f"/pumps/{at_300.pk}/"))

    # The history is the patient's: the new pump's first fill on the surgery day is checked
    # against 300 mcg/day on the old pump: at most 300 x 1.3 = 390 mcg/day.
    before = counts()
    refused = c.post(f"/pumps/{new.pk}/refill/", first_fill_post("2026-06-01T15:00", 400))
    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'data-code="titration_limit_exceeded"' in page
    assert "+30.0 %" in page and "300.0 mcg/day" in page and "390.0 mcg/day" in page
    assert counts() == before
    # not the start of the therapy: no screening-trial panel on the new pump's first fill
    assert 'data-testid="start-of-therapy"' not in c.get(f"/pumps/{new.pk}/refill/").content.decode()
    saved = c.post(f"/pumps/{new.pk}/refill/", first_fill_post("2026-06-01T15:00", 390))
    assert saved.status_code == 302
    assert new.prescriptions.get().daily_dose_mcg == Decimal("390.0")


@pytest.mark.rule("IMPLANT-1")
def test_the_replacement_pumps_refill_form_continues_the_patients_concentration_and_dose(nurse, at_300):
    # The old pump: 500 mcg/mL, 300 mcg/day. The new pump's first fill form starts from them
    # (the nurse changes what changes); its volume added is the new reservoir's to choose.
    c = browser(nurse)
    c.post(f"/pumps/{at_300.pk}/replace/", replace_post())
    new = Pump.objects.get(serial_number="NEW-0001")
    page = c.get(f"/pumps/{new.pk}/refill/").content.decode()
    assert re.search(r'name="concentration_mcg_per_ml"[^>]*value="500"', page)
    assert re.search(r'name="daily_dose_mcg"[^>]*value="300', page)
    assert re.search(r'name="volume_withdrawn_ml"[^>]*value="0"', page)
    # a measurement left empty is missing, not "must be a number"
    before = counts()
    refused = c.post(
        f"/pumps/{new.pk}/refill/",
        first_fill_post("2026-06-01T15:00", 300) | {"concentration_mcg_per_ml": ""},
    )
    assert refused.status_code == 400
    assert "Concentration : is required" in text(refused)
    assert counts() == before


@pytest.mark.rule("TITRATE-2")
@pytest.mark.parametrize(
    "overrides, field, words",
    [
        ({"explanted_on": "2026-11-27"}, "explanted_on", "in the future"),
        # before the last fill (Sun 1 Mar 2026 10:00 UTC), said in the clinic's words
        ({"explanted_on": "2026-02-01"}, "explanted_on", "1 Mar 2026 10:00 UTC"),
        ({"reason": ""}, "reason", "is required"),
        ({"catheter_length_cm": "fifty"}, "catheter_length_cm", "must be a number"),
        ({"model": ""}, "model", "is required"),
        # the model's full_clean: a second 8637-20 pump with the old pump's serial number
        ({"model": "8637-20", "serial_number": "<old>"}, "serial_number", "already exists"),
    ],
)
def test_a_refused_replacement_says_why_under_its_field_and_writes_nothing(
    nurse, at_300, overrides, field, words
):
    before = counts()
    overrides = {k: at_300.serial_number if v == "<old>" else v for k, v in overrides.items()}
    response = browser(nurse).post(f"/pumps/{at_300.pk}/replace/", replace_post(**overrides))
    assert response.status_code == 400
    page = response.content.decode()
    under = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', page)
    assert under and words in under.group(1), page
    assert field not in under.group(1)  # the nurse's words, not the field's name
    assert counts() == before
    assert Pump.objects.get(pk=at_300.pk).status == "active"


def test_staff_see_no_replace_button_and_cannot_replace(staff, at_300):
    c = browser(staff)
    assert f"/pumps/{at_300.pk}/replace/" not in c.get(f"/pumps/{at_300.pk}/").content.decode()
    before = counts()
    response = c.post(f"/pumps/{at_300.pk}/replace/", replace_post())
    assert response.status_code == 403
    assert "needs the nurse or physician or admin role" in text(response)
    assert counts() == before


def test_another_clinics_pump_and_patient_answer_404(outsider, at_300, patient):
    c = browser(outsider)
    before = counts()
    assert c.get(f"/pumps/{at_300.pk}/replace/").status_code == 404
    assert c.post(f"/pumps/{at_300.pk}/replace/", replace_post()).status_code == 404
    assert c.post(f"/pumps/{at_300.pk}/explant/", {"override_reason": "x"}).status_code == 404
    assert c.get(f"/patients/{patient.pk}/screening/").status_code == 404
    assert c.post(f"/patients/{patient.pk}/screening/", {"dose_mcg": "50"}).status_code == 404
    assert counts() == before


# --- explant without a replacement: the therapy stops ------------------------------------------


@pytest.mark.rule("TITRATE-2")
def test_a_nurse_has_no_explant_button_and_her_explant_is_refused(nurse, at_300):
    c = browser(nurse)
    assert f"/pumps/{at_300.pk}/explant/" not in c.get(f"/pumps/{at_300.pk}/").content.decode()
    page = c.get(f"/pumps/{at_300.pk}/explant/")
    assert page.status_code == 403
    assert "Only a physician may explant" in text(page)
    assert "<textarea" not in page.content.decode()  # no form to fill in
    before = counts()
    post = {"explanted_on": "2026-06-01", "reason": "infection", "override_reason": "I was told to"}
    refused = c.post(f"/pumps/{at_300.pk}/explant/", post)
    assert refused.status_code == 403
    assert "needs the physician role" in text(refused)
    assert counts() == before
    assert Pump.objects.get(pk=at_300.pk).status == "active"


@pytest.mark.rule("TITRATE-2")
def test_a_physician_explants_with_a_written_reason_and_the_critical_alert_is_shown(physician, at_300):
    c = browser(physician)
    assert f'href="/pumps/{at_300.pk}/explant/"' in c.get(f"/pumps/{at_300.pk}/").content.decode()
    form = text(c.get(f"/pumps/{at_300.pk}/explant/"))
    assert "This stops the patient's intrathecal baclofen therapy" in form
    assert "withdrawal" in form and "1–3 days" in form
    # Without the written reason: refused under it, nothing written.
    before = counts()
    post = {"explanted_on": "2026-06-01", "reason": "pocket infection", "override_reason": " "}
    refused = c.post(f"/pumps/{at_300.pk}/explant/", post)
    assert refused.status_code == 400
    under = re.search(r'id="override_reason-error">([^<]*)<', refused.content.decode())
    assert under and "written reason" in under.group(1)
    assert counts() == before

    done = c.post(
        f"/pumps/{at_300.pk}/explant/",
        post | {"override_reason": "infected pocket, no new pump for now"},
        follow=True,
    )
    assert done.redirect_chain[-1][0] == f"/pumps/{at_300.pk}/#alerts"
    alert = Alert.objects.get(pump=at_300, kind="discontinuation")
    assert alert.severity == "critical"
    said = text(done)
    assert "Critical alert" in said and "Intrathecal therapy has stopped" in said
    assert "without a replacement: the therapy stopped" in said
    assert "infected pocket, no new pump for now" in said
    record = PumpExplant.objects.get(pump=at_300)
    assert (record.replaced_by, record.recorded_by) == (None, physician)
    page = done.content.decode()
    assert "Explant without replacement" not in page and "Replace pump" not in page  # no longer active
    # its last prescription is not in effect, and nothing more is booked for it
    assert "Not in effect: the pump was explanted on Mon 1 Jun 2026; the therapy stopped." in said
    assert "Book the next refill" not in page and 'data-testid="no-chart"' in page
    assert "it has no emergency card" in said and "/api/" not in said and "Print wallet card" not in said


# --- the screening trial (SCREEN-1, START-1) ----------------------------------------------------


def bolus_post(dose, at, responded, **extra) -> dict:
    return {
        "dose_mcg": str(dose),
        "given_at": at,
        "observed_by": "Dr Vale",
        "responded": "true" if responded else "false",
        "effect_duration_hours": "",
        "adverse_reactions": "",
    } | extra


@pytest.mark.rule("SCREEN-1", "START-1")
def test_a_screening_trial_is_recorded_and_its_outcome_shown_in_words(nurse, pump, patient):
    c = browser(nurse)
    url = f"/patients/{patient.pk}/screening/"
    assert f'href="{url}"' in c.get(f"/pumps/{pump.pk}/").content.decode()  # from the patient panel
    page = c.get(url)
    assert "No screening bolus recorded yet: the trial starts at 50 mcg" in text(page)
    # only the configured screening steps are offered
    assert re.findall(r'<option value="([^"]*)"', page.content.decode()) == ["50", "75", "100"]

    response = c.post(url, bolus_post(50, "2026-02-01T09:00", False), follow=True)
    assert "No response yet: next step 75 mcg" in text(response)
    assert '<option value="75" selected>' in response.content.decode()  # the next step offered
    # positive at 75 mcg, effect 6 h (not more than 8 h), no adverse reactions: 2 x 75 = 150
    response = c.post(url, bolus_post(75, "2026-02-02T09:00", True, effect_duration_hours="6"), follow=True)
    said = text(response)
    assert "Positive at 75 mcg: start at 150 mcg/day" in said
    assert "2 × the effective screening dose" in said
    table = said.split("Boluses given")[1]
    assert "Sun 1 Feb 2026 09:00 UTC 50 mcg No" in table
    assert "Mon 2 Feb 2026 09:00 UTC 75 mcg Yes 6 h none Dr Vale nurse" in table
    assert "The trial has ended" in said and 'name="dose_mcg"' not in response.content.decode()
    assert ScreeningBolus.objects.count() == 2
    assert ScreeningBolus.objects.get(dose_mcg=75).history.get().history_user == nurse


@pytest.mark.rule("SCREEN-1", "START-1")
def test_no_response_at_100_mcg_is_not_a_candidate(nurse, patient):
    c = browser(nurse)
    url = f"/patients/{patient.pk}/screening/"
    for dose, day in ((50, 1), (75, 2), (100, 3)):
        assert c.post(url, bolus_post(dose, f"2026-02-0{day}T09:00", False)).status_code == 302
    said = text(c.get(url))
    assert "Not a candidate for intrathecal baclofen" in said
    assert "no response at 100 mcg" in said.lower()


@pytest.mark.rule("SCREEN-1")
def test_the_time_of_a_bolus_is_the_clinics_local_time(nurse, patient, clinic):
    Clinic.objects.filter(pk=clinic.pk).update(timezone="America/New_York")
    c = browser(nurse)
    url = f"/patients/{patient.pk}/screening/"
    assert c.post(url, bolus_post(50, "2026-02-01T09:00", False)).status_code == 302
    # 09:00 EST (UTC−5) is 14:00Z, and the page shows it back as 09:00 EST
    assert ScreeningBolus.objects.get().given_at == datetime(2026, 2, 1, 14, 0, tzinfo=UTC)
    assert "Sun 1 Feb 2026 09:00 EST" in text(c.get(url))


@pytest.mark.rule("SCREEN-1", "REFILL-2")
def test_a_bolus_time_that_happens_twice_asks_which(nurse, patient, clinic):
    """New York, Sun 1 Nov 2026: 1:30 AM happens at EDT (UTC−4, 05:30Z) and again at EST
    (UTC−5, 06:30Z). The page asks which, as the refill form does; she picks EST."""
    Clinic.objects.filter(pk=clinic.pk).update(timezone="America/New_York")
    c = browser(nurse)
    url = f"/patients/{patient.pk}/screening/"
    before = counts()
    asked = c.post(url, bolus_post(50, "2026-11-01T01:30", False))
    assert asked.status_code == 400
    page = asked.content.decode()
    assert '<option value="-240">1:30 AM EDT (UTC−4)</option>' in page
    assert '<option value="-300">1:30 AM EST (UTC−5)</option>' in page
    assert counts() == before
    assert c.post(url, bolus_post(50, "2026-11-01T01:30", False) | {"utc_offset": "-300"}).status_code == 302
    assert ScreeningBolus.objects.get().given_at == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


@pytest.mark.rule("SCREEN-1")
@pytest.mark.parametrize(
    "post, field, words",
    [
        (bolus_post(60, "2026-02-01T09:00", False), "dose_mcg", "50, 75, 100 mcg"),
        (bolus_post(50, "2026-11-26T12:01", False), "given_at", "in the future"),
        (bolus_post(50, "2026-02-01T09:00", False, observed_by=""), "observed_by", "is required"),
        (bolus_post(50, "2026-02-01T09:00", False) | {"responded": ""}, "responded", "choose yes or no"),
        (
            bolus_post(50, "2026-02-01T09:00", True, effect_duration_hours="-1"),
            "effect_duration_hours",
            "too small",
        ),
    ],
)
def test_a_refused_bolus_says_why_under_its_field_and_writes_nothing(nurse, patient, post, field, words):
    before = counts()
    response = browser(nurse).post(f"/patients/{patient.pk}/screening/", post)
    assert response.status_code == 400
    under = re.search(rf'id="{field}-error">([^<]*)<', response.content.decode())
    assert under and words in under.group(1), response.content.decode()
    assert field not in under.group(1)
    assert counts() == before


def test_staff_cannot_record_a_bolus(staff, patient):
    before = counts()
    response = browser(staff).post(
        f"/patients/{patient.pk}/screening/", bolus_post(50, "2026-02-01T09:00", False)
    )
    assert response.status_code == 403
    assert "needs the nurse or physician role" in text(response)
    assert counts() == before


# --- START-2: the first fill of the therapy on the refill form ---------------------------------


@pytest.fixture
def positive_at_75(nurse, patient):
    """No response at 50 mcg, a response at 75 mcg lasting 6 h: start at 2 x 75 = 150 mcg/day."""
    c = browser(nurse)
    for post in (
        bolus_post(50, "2026-02-01T09:00", False),
        bolus_post(75, "2026-02-02T09:00", True, effect_duration_hours="6"),
    ):
        assert c.post(f"/patients/{patient.pk}/screening/", post).status_code == 302
    return patient


@pytest.mark.rule("START-2")
def test_the_first_fill_above_the_trials_starting_dose_is_refused_on_the_refill_form(
    nurse, physician, pump, positive_at_75
):
    c = browser(nurse)
    form = text(c.get(f"/pumps/{pump.pk}/refill/"))
    assert "First fill of the patient's therapy" in form
    assert "Screening trial: Positive at 75 mcg: start at 150 mcg/day" in form
    before = counts()
    refused = c.post(f"/pumps/{pump.pk}/refill/", first_fill_post("2026-03-01T10:00", 200))
    assert refused.status_code == 400
    page = refused.content.decode()
    assert 'data-code="above_starting_dose"' in page and "data-override" in page
    assert "Above the starting dose from the screening trial" in page
    assert "150.0 mcg/day" in page and "first daily dose of 200.0 mcg" in page
    assert "ask a physician to override" in page
    assert counts() == before
    # The physician sees the override field asked for, and overrides with a written reason.
    doctor = browser(physician)
    page = doctor.post(
        f"/pumps/{pump.pk}/refill/", first_fill_post("2026-03-01T10:00", 200, action="check")
    ).content.decode()
    assert re.search(r'class="field override needed" id="override-box"', page)
    saved = doctor.post(
        f"/pumps/{pump.pk}/refill/",
        first_fill_post("2026-03-01T10:00", 200, override_reason="severe spasticity, Frankel A"),
    )
    assert saved.status_code == 302
    assert pump.prescriptions.get().override_reason == "severe spasticity, Frankel A"


@pytest.mark.rule("START-2")
def test_a_first_fill_without_a_trial_says_so_before_and_after_saving(nurse, pump):
    c = browser(nurse)
    form = text(c.get(f"/pumps/{pump.pk}/refill/"))
    assert "No screening trial is recorded for this patient" in form
    checked = text(
        c.post(f"/pumps/{pump.pk}/refill/", first_fill_post("2026-03-01T10:00", 250, action="check"))
    )
    assert "the starting dose could not be checked against it" in checked
    saved = c.post(f"/pumps/{pump.pk}/refill/", first_fill_post("2026-03-01T10:00", 250), follow=True)
    said = text(saved)
    assert "Refill recorded." in said
    assert "No screening trial is recorded for this patient" in said  # the warning, after saving too
