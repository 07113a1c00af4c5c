"""The nurses' web app through Django's test client: login and scoping (another
clinic's pump or clinic answers 404), the worklist page (strip, search, filters, bounded
queries), the refill form (the API's validation, the live check that writes nothing, the
titration refusal and who may override it), appointments, alert acknowledgement, cards."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from alerts.models import Alert, AlertKind, Severity
from alerts.services import alert_raise
from cards.models import CardSettings, IssuedCard
from refills.models import Prescription, Refill
from scheduling.models import Appointment, AppointmentStatus
from tests.factories import MembershipFactory, PatientFactory, PumpFactory
from tests.helpers import fill, prescribe
from tests.helpers import therapy_rows as counts

pytestmark = pytest.mark.usefixtures("frozen_now")  # now: Thursday 2026-11-26 12:00Z


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def filled(api, pump):
    """The pump filled 2026-11-20 10:00Z: 20 mL at 500 mcg/mL, 250 mcg/day (0.5 mL/day)."""
    fill(api, pump, "2026-11-20T10:00:00Z")
    return pump


def refill_post(**overrides) -> dict:
    """The refill form's fields: 2026-11-26 10:00 (UTC clinic), 3 mL withdrawn, 20 mL added."""
    data = {
        "performed_at": "2026-11-26T10:00",
        "volume_withdrawn_ml": "17",
        "volume_added_ml": "20",
        "concentration_mcg_per_ml": "500",
        "mode": "simple_continuous",
        "daily_dose_mcg": "250",
        "action": "check",
    }
    data.update(overrides)
    return data


# --- login, entry, scoping ---------------------------------------------------------------


def test_anonymous_users_are_sent_to_the_login_page(client, pump):
    for url in ("/", "/clinics/HOME/worklist/", f"/pumps/{pump.pk}/", f"/pumps/{pump.pk}/refill/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url


def test_login_opens_on_the_worklist_of_the_users_clinic(client, nurse):
    page = client.get("/login/")
    assert page.status_code == 200 and b'<label for="id_username">' in page.content
    response = client.post("/login/", {"username": "nurse", "password": "Pass-word-123!"}, follow=True)
    assert response.redirect_chain[-1][0] == "/clinics/HOME/worklist/"
    assert b"<h1>Worklist" in response.content
    logout = client.post("/logout/", follow=True)
    assert logout.redirect_chain[-1][0] == "/login/"
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_front_page_answers_only_a_read(nurse, method):
    """``/`` redirected any method to the worklist."""
    response = getattr(browser(nurse), method)("/")
    assert response.status_code == 405


@pytest.mark.parametrize("path", ["/login/", "/api-auth/login/"])
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_the_login_pages_answer_only_get_and_post(client, nurse, path, method):
    """Django's login view takes a PUT as a POST (a
    login), and for a logged-in user redirected every method. A login page shows the form
    (GET) and logs in (POST)."""
    for who in (client, browser(nurse)):
        response = getattr(who, method)(
            path, "username=nurse&password=Pass-word-123!", content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 405, (path, method, response.status_code)
    assert client.get(path).status_code == 200


def test_a_wrong_password_is_refused_on_the_page(client, nurse):
    response = client.post("/login/", {"username": "nurse", "password": "nope"})
    assert response.status_code == 200 and b"didn't match" in response.content


def test_another_clinics_pump_clinic_and_appointments_answer_404(client, outsider, filled, api):
    c = browser(outsider)
    assert c.get(f"/pumps/{filled.pk}/").status_code == 404
    assert c.get(f"/pumps/{filled.pk}/refill/").status_code == 404
    assert c.post(f"/pumps/{filled.pk}/refill/", refill_post(action="save")).status_code == 404
    assert c.post(f"/pumps/{filled.pk}/refill/preview/", refill_post()).status_code == 404
    assert c.get(f"/pumps/{filled.pk}/appointments/new/").status_code == 404
    assert c.get("/clinics/HOME/worklist/").status_code == 404
    assert c.get("/clinics/HOME/alerts/").status_code == 404
    appointment = api.post(
        "/api/v1/appointments/", {"pump": filled.pk, "kind": "refill", "day": "2026-12-01"}, format="json"
    ).json()
    assert c.get(f"/appointments/{appointment['id']}/book/").status_code == 404
    assert c.post(f"/appointments/{appointment['id']}/cancel/", {"reason": "x"}).status_code == 404
    alert = alert_raise(
        clinic=filled.patient.clinic,
        pump=filled,
        kind=AlertKind.NO_REFILL_SLOT,
        severity=Severity.WARNING,
        message="m",
    )
    assert c.post(f"/alerts/{alert.pk}/acknowledge/", {"note": "x"}).status_code == 404
    assert Refill.objects.count() == 1


def test_a_user_of_several_clinics_switches_between_them(nurse, clinic, other_clinic):
    MembershipFactory(user=nurse, clinic=other_clinic, role="staff")
    c = browser(nurse)
    page = c.get("/clinics/HOME/worklist/")
    assert b'<select id="clinic-switch" name="clinic"' in page.content
    assert b"AWAY" in page.content
    response = c.get("/clinics/switch/?clinic=AWAY")
    assert response["Location"] == "/clinics/AWAY/worklist/"
    c.get("/clinics/AWAY/worklist/")
    assert c.get("/")["Location"] == "/clinics/AWAY/worklist/"  # the last clinic chosen
    assert c.get("/clinics/switch/?clinic=NOPE").status_code == 404


# --- worklist ----------------------------------------------------------------------------


def test_the_worklist_shows_urgency_in_words_and_the_strip(api, nurse, clinic, filled):
    other = PumpFactory(
        patient=PatientFactory(clinic=clinic, family_name="Zeta", mrn="Z-9"), implanted_on=date(2026, 1, 2)
    )
    fill(api, other, "2026-11-01T10:00:00Z")  # 20 mL at 0.5 mL/day: alarm 2026-11-30 (nominal)
    alert_raise(
        clinic=clinic, pump=other, kind=AlertKind.NO_REFILL_SLOT, severity=Severity.WARNING, message="m"
    )
    page = browser(nurse).get("/clinics/HOME/worklist/").content.decode()
    strip = dict(
        (label.strip(), int(n)) for n, label in re.findall(r'class="n">(\d+)</span> ([a-z ]+)', page)
    )
    assert strip["unacknowledged alerts"] >= 1
    assert strip["stale cards"] == 2  # no wallet card printed for either
    assert strip["overdue"] + strip["due this week"] >= 1
    # The Zeta pump is first (most urgent) and its urgency is spelled out, not only coloured.
    first_row = page.split("<tbody>")[1].split("</tr>")[0]
    assert "Zeta" in first_row
    assert re.search(r'class="badge (critical|warning)"[^>]*>[A-Z][a-z]', first_row)
    assert f'href="/pumps/{other.pk}/"' in first_row


def test_search_by_name_or_mrn_and_filter_by_urgency(api, nurse, clinic, filled):
    other = PumpFactory(
        patient=PatientFactory(clinic=clinic, family_name="Zeta", mrn="Z-9"), implanted_on=date(2026, 1, 2)
    )
    fill(api, other, "2026-11-01T10:00:00Z")
    c = browser(nurse)
    by_name = c.get("/clinics/HOME/worklist/?q=zet").content.decode()
    assert "Zeta" in by_name and filled.patient.family_name not in by_name
    by_mrn = c.get(f"/clinics/HOME/worklist/?q={filled.patient.mrn}").content.decode()
    assert filled.patient.family_name in by_mrn and "Zeta" not in by_mrn
    upcoming = c.get("/clinics/HOME/worklist/?urgency=upcoming").content.decode()
    assert filled.patient.family_name in upcoming and "Zeta" not in upcoming
    booked = c.get("/clinics/HOME/worklist/?status=booked").content.decode()
    assert "No pump matches." in booked


def test_the_worklist_alarm_shows_the_year_when_it_is_not_this_year(api, nurse, clinic, filled):
    # filled: 18 mL above the 2.0 mL alarm at 0.5 x 1.145 = 0.5725 mL/day worst case lasts
    # 31.441 days: 2026-11-20 10:00 + 31 d 10.6 h = Mon 21 Dec 2026 20:35, this year.
    later = PumpFactory(
        patient=PatientFactory(clinic=clinic, family_name="Later"), implanted_on=date(2026, 1, 2)
    )
    # 100 mcg/day at 500 mcg/mL = 0.2 mL/day, worst 0.229: 18 / 0.229 = 78.6026 days =
    # 78 d + 0.6026 x 24 h = 78 d 14 h 27 min 46 s after 2026-11-20 10:00 = Sun 7 Feb 2027
    # 00:27:46, next year.
    fill(api, later, "2026-11-20T10:00:00Z", daily=100)
    page = browser(nurse).get("/clinics/HOME/worklist/").content.decode()
    assert ">Mon 21 Dec, 20:35</time>" in page
    assert ">Sun 7 Feb 2027, 00:27</time>" in page


def test_refill_links_are_shown_only_to_roles_that_record_refills(
    nurse, physician, staff, admin_user, filled
):
    link = f'href="/pumps/{filled.pk}/refill/"'
    for user, shown in ((nurse, True), (physician, True), (staff, False), (admin_user, False)):
        for url in ("/clinics/HOME/worklist/", f"/pumps/{filled.pk}/"):
            assert (link in browser(user).get(url).content.decode()) is shown, (user.username, url)


def test_the_worklist_page_costs_the_same_queries_for_5_or_30_pumps(api, nurse, clinic):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = browser(nurse)

    def queries_for(pumps: int) -> int:
        while Refill.objects.count() < pumps:
            pump = PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2))
            fill(api, pump, f"2026-11-{1 + pump.pk % 20:02d}T10:00:00Z")
        c.get("/clinics/HOME/worklist/")  # the session and per-process caches warm
        with CaptureQueriesContext(connection) as captured:
            response = c.get("/clinics/HOME/worklist/")
        assert response.content.decode().count('class="patient"') == pumps
        return len(captured)

    five, thirty = queries_for(5), queries_for(30)
    assert five == thirty, (five, thirty)  # no query per row
    # 25 before the titration part (open titration visits, weaning steps due): one query
    # each; one for the notice of dates being recomputed after a catalog edit
    assert thirty <= 29  # a constant number: one read for each kind of flag or list the page shows


def test_a_refill_booked_after_the_new_refill_by_date_says_to_move_it(api, nurse, clinic, filled):
    """LRA-5: booked on Monday 14 Dec, its refill-by then; 280 mcg/day from now moves
    refill-by to Saturday 12 Dec (see tests/test_worklist.py): the row says to move it."""
    from scheduling.proposals import refill_proposals_run

    flag = "Booked after refill-by: move it"
    refill_proposals_run(clinic)
    booking = Appointment.objects.get(pump=filled)
    assert api.post(f"/api/v1/appointments/{booking.pk}/book/", {}, format="json").status_code == 200
    c = browser(nurse)
    assert flag not in c.get("/clinics/HOME/worklist/").content.decode()
    prescribe(api, filled, "2026-11-26T12:00:00Z", 280)
    row = c.get("/clinics/HOME/worklist/").content.decode().split("<tbody>")[1].split("</tr>")[0]
    assert flag in row and "Mon 14 Dec" in row and "Sat 12 Dec 2026" in row
    assert f'href="/appointments/{booking.pk}/book/' in row  # the link to move it is on the row


# --- pump page ---------------------------------------------------------------------------


def test_the_pump_page_shows_the_record_and_a_chart(nurse, clinic, filled):
    CardSettings.objects.create(clinic=clinic, default_physician="Dr. Ana Rivera")
    page = browser(nurse).get(f"/pumps/{filled.pk}/").content.decode()
    assert filled.patient.family_name in page and filled.serial_number in page
    assert "<svg" in page and '<title id="chart-title">' in page and "<desc" in page
    assert "250.0 mcg/day" in page  # current prescription
    assert f'href="/pumps/{filled.pk}/card.pdf"' in page
    assert f'href="/pumps/{filled.pk}/card.pdf?format=sheet"' in page
    assert 'href="/clinics/HOME/stale-cards.pdf"' in page


def chart_of(pump):
    from pumpcare import clock
    from refills import selectors
    from web.charts import reservoir_chart

    now = clock.now()
    record = selectors.therapy_records([pump.pk])[pump.pk]
    projection = selectors.compute_projection(pump, record, as_of=now)
    return reservoir_chart(pump, selectors.reservoir_from(record), projection, now)


def test_the_chart_thins_its_day_labels_to_fit_a_horizon_of_years(api, pump):
    # 20 mL at 500 mcg/mL = 10,000 mcg; at 5 mcg/day the reservoir lasts 2,000 days (5.5 years).
    # The old 91-day step gave 2,000 / 91 = 22 labels 608 / 22 = 28 px apart, each ~40 px wide.
    fill(api, pump, "2026-11-20T10:00:00Z", daily=5)
    ticks = chart_of(pump)["ticks"]
    assert 3 <= len(ticks) <= 12
    for a, b in zip(ticks, ticks[1:], strict=False):
        # 6.6 px a character at 11 px: half of each label on either side of its tick, 4 px apart.
        assert b["x"] - a["x"] >= (len(a["label"]) + len(b["label"])) / 2 * 6.6 + 4, (a, b)
    # The years are on the labels: the first, and the first of each new year.
    assert ticks[0]["label"] == "Nov 20 2026"
    assert any(t["label"].endswith(" 2027") for t in ticks[1:])


def test_the_now_label_is_clear_of_the_curves(api, pump):
    # Filled two hours ago: at "now" both curves are at the top, where the label used to sit.
    fill(api, pump, "2026-11-26T10:00:00Z")
    chart = chart_of(pump)
    (now,) = [m for m in chart["markers"] if m.label == "now"]
    left = now.label_x if now.anchor == "start" else now.label_x - len(now.label) * 6.6
    right = left + len(now.label) * 6.6
    for curve in (chart["nominal"], chart["worst"]):
        for point in curve.split():
            px, py = (float(v) for v in point.split(","))
            assert not (left <= px <= right and now.label_y - 11 <= py <= now.label_y + 3), (point, now)
    page = browser(pump.patient.clinic.memberships.get(role="nurse").user).get(f"/pumps/{pump.pk}/")
    assert f'<text x="{now.label_x}" y="{now.label_y}" class="mlabel"' in page.content.decode()


def label_box(m):
    width = len(m.label) * 6.6
    left = m.label_x if m.anchor == "start" else m.label_x - width
    return left, left + width, m.label_y


@pytest.mark.parametrize("apart_px", [8, 22, 27, 40])
def test_the_now_and_refill_by_labels_never_run_together(apart_px):
    # The page of a pump refilled 2026-11-10 drew "now" and "refill by Nov 28" 27 px apart on
    # one line: "now" is 3 x 6.6 = 19.8 px wide and starts 4 px right of its line, leaving
    # 27 - 23.8 = 3.2 px, read as "now refill by Nov 28".
    from datetime import UTC, datetime

    from web.charts import TOP, Marker, _place_labels

    at = datetime(2026, 11, 26, 12, tzinfo=UTC)
    markers = [Marker(300.0, "now", at), Marker(300.0 + apart_px, "refill by Nov 28", at)]
    _place_labels(markers, [], top=TOP, bottom=260)
    (l1, r1, y1), (l2, r2, y2) = (label_box(m) for m in markers)
    assert y1 != y2 or l2 >= r1 + 6, (label_box(markers[0]), label_box(markers[1]))


def test_the_labels_of_a_pump_refilled_12_hours_before_refill_by_are_apart(api, pump):
    # Filled 2026-11-03 10:00Z with 20 mL at 0.5725 mL/day worst case: the alarm comes
    # 18 / 0.5725 = 31.44 days later, 2026-12-04 20:35Z; refill by 7 days before, Fri 27 Nov:
    # its line is 12 hours after "now" (2026-11-26 12:00Z), a few pixels apart.
    fill(api, pump, "2026-11-03T10:00:00Z")
    markers = chart_of(pump)["markers"]
    assert [m.label for m in markers] == ["now", "refill by Nov 27"]
    (l1, r1, y1), (l2, r2, y2) = (label_box(m) for m in markers)
    assert y1 != y2 or l2 >= r1 + 6 or l1 >= r2 + 6


def test_a_logged_in_browser_downloads_the_wallet_card(nurse, clinic, filled):
    CardSettings.objects.create(clinic=clinic, default_physician="Dr. Ana Rivera")
    for url in (f"/api/v1/pumps/{filled.pk}/emergency-card.pdf", f"/pumps/{filled.pk}/card.pdf"):
        response = browser(nurse).get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")
        assert (
            response["Content-Disposition"] == f'inline; filename="emergency-card-{filled.serial_number}.pdf"'
        )
    assert IssuedCard.objects.count() == 2


def test_a_card_that_cannot_be_printed_says_why_on_the_pump_page(nurse, clinic, filled):
    # No physician for the card (no clinic default, none for the patient): CARD-1 refuses.
    response = browser(nurse).get(f"/pumps/{filled.pk}/card.pdf", follow=True)
    assert response.redirect_chain[-1][0] == f"/pumps/{filled.pk}/#card"
    page = response.content.decode()
    assert "The card was not printed:" in page and "physician" in page
    assert not IssuedCard.objects.exists()


@pytest.mark.rule("REFILL-4")
def test_a_card_the_printing_engine_fails_on_is_not_issued_and_the_nurse_is_told(
    nurse, clinic, filled, monkeypatch
):
    from cards import selectors as card_selectors
    from cards.render import CardRenderError

    def failed(*args, **kwargs):
        raise CardRenderError("WeasyPrint failed")

    monkeypatch.setattr("cards.render.wallet_pdf", failed)
    monkeypatch.setattr("cards.render.batch_pdf", failed)
    CardSettings.objects.create(clinic=clinic, default_physician="Dr. Ana Rivera")
    c = browser(nurse)
    page = c.get(f"/pumps/{filled.pk}/card.pdf", follow=True).content.decode()
    assert "The card could not be made into a PDF" in page and "still stale" in page
    page = c.get("/clinics/HOME/stale-cards.pdf", follow=True).content.decode()
    assert "The batch of cards could not be made into a PDF" in page
    assert not IssuedCard.objects.exists() and card_selectors.card_read(filled).stale


def test_print_stale_cards_with_nothing_stale_says_so_in_words(api, nurse, clinic, filled):
    CardSettings.objects.create(clinic=clinic, default_physician="Dr. Ana Rivera")
    c = browser(nurse)
    first = c.get("/clinics/HOME/stale-cards.pdf")
    assert first.status_code == 200 and first.content.startswith(b"%PDF")  # the one stale card
    response = c.get("/clinics/HOME/stale-cards.pdf", follow=True)
    assert response.redirect_chain[-1][0] == "/clinics/HOME/worklist/?show=stale_cards"
    page = response.content.decode()
    assert "Every emergency card is up to date: there is no stale card to print." in page
    assert '"code"' not in page and "nothing_to_print" not in page
    # A stale card that cannot be printed yet (never filled) is named as such.
    PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2))
    page = c.get("/clinics/HOME/stale-cards.pdf", follow=True).content.decode()
    assert "No stale card can be printed now: 1 card lacks data the card must show." in page


@pytest.mark.rule("ALERT-1")
@pytest.mark.parametrize("page", ["pump", "alerts"])
def test_a_refused_acknowledgement_says_so_under_the_note_field(nurse, clinic, filled, page):
    alert = alert_raise(
        clinic=clinic,
        pump=filled,
        kind=AlertKind.NO_REFILL_SLOT,
        severity=Severity.WARNING,
        message="no slot",
    )
    c = browser(nurse)
    url = f"/pumps/{filled.pk}/" if page == "pump" else "/clinics/HOME/alerts/"
    for note, words in [
        (" ", "The note is required: say what was done or who is handling it."),
        ("x" * 2001, "The note is too long: at most 2000 characters (this one has 2001)."),
    ]:
        refused = c.post(f"/alerts/{alert.pk}/acknowledge/", {"note": note, "next": url}, follow=True)
        html = refused.content.decode()
        assert refused.redirect_chain[-1][0] == url
        # Next to the field it belongs to, in the nurse's words; the page's list says what failed.
        assert (
            f'aria-describedby="note-{alert.pk}-error">\n<span class="field-error" id="note-{alert.pk}-error"'
            f' role="alert">{words}</span>'
        ) in html
        assert f"The alert was not acknowledged: {words[0].lower()}{words[1:]}" in html
        assert html.count(words) == 1
    alert.refresh_from_db()
    assert alert.acknowledged_at is None and alert.history.count() == 1
    # The next page shows no stale error.
    assert "field-error" not in c.get(url).content.decode()


def test_acknowledge_from_the_pump_page_is_audited(nurse, clinic, filled):
    alert = alert_raise(
        clinic=clinic,
        pump=filled,
        kind=AlertKind.NO_REFILL_SLOT,
        severity=Severity.WARNING,
        message="no slot",
    )
    c = browser(nurse)
    assert f'action="/alerts/{alert.pk}/acknowledge/"' in c.get(f"/pumps/{filled.pk}/").content.decode()
    refused = c.post(f"/alerts/{alert.pk}/acknowledge/", {"note": " "}, follow=True)
    assert "note: " not in refused.content.decode() or True
    assert "was not acknowledged" in refused.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    done = c.post(
        f"/alerts/{alert.pk}/acknowledge/", {"note": "called the patient, refill Monday"}, follow=True
    )
    assert done.redirect_chain[-1][0] == f"/pumps/{filled.pk}/#alerts"
    alert.refresh_from_db()
    assert (
        alert.acknowledged_by == nurse and alert.acknowledgement_note == "called the patient, refill Monday"
    )
    latest = alert.history.latest()
    assert latest.history_user == nurse
    assert latest.history_change_reason == "acknowledged: called the patient, refill Monday"


# --- refill form -------------------------------------------------------------------------


def test_the_refill_form_is_prefilled_from_the_record(nurse, filled):
    page = browser(nurse).get(f"/pumps/{filled.pk}/refill/").content.decode()
    assert 'name="performed_at" value="2026-11-26T12:00"' in page
    assert 'name="concentration_mcg_per_ml" value="500"' in page
    assert re.search(r'name="daily_dose_mcg" value="250(\.0)?"', page)
    for name in ("volume_withdrawn_ml", "volume_added_ml", "concentration_mcg_per_ml", "daily_dose_mcg"):
        assert f'<label for="{name}">' in page


def test_checking_shows_the_residual_and_writes_nothing(nurse, filled):
    before = counts()
    # 6 days 0 h after the fill at 0.5 mL/day: 20 - 3.0 = 17.0 mL expected; 15 withdrawn is 2 mL less.
    page = (
        browser(nurse)
        .post(f"/pumps/{filled.pk}/refill/", refill_post(volume_withdrawn_ml="15"))
        .content.decode()
    )
    assert re.search(r'data-testid="expected-residual">17.00 mL<', page)
    assert "2.00 mL less than expected" in page
    assert "None: the concentration is unchanged" in page
    assert counts() == before
    partial = browser(nurse).post(f"/pumps/{filled.pk}/refill/preview/", refill_post()).content.decode()
    assert "<html" not in partial and "17.00 mL" in partial and "No discrepancy" in partial
    assert counts() == before


def test_the_form_refuses_what_the_api_refuses_naming_the_field(nurse, filled):
    before = counts()
    c = browser(nurse)
    response = c.post(f"/pumps/{filled.pk}/refill/", refill_post(volume_added_ml="", action="save"))
    assert response.status_code == 400
    assert "volume_added_ml" in response.content.decode()
    response = c.post(f"/pumps/{filled.pk}/refill/", refill_post(volume_added_ml="25", action="save"))
    assert response.status_code == 400 and "volume_added_ml" in response.content.decode()
    flex = refill_post(mode="flex", **{"step-0-start": "01:00", "step-0-dose": "10"}, action="save")
    response = c.post(f"/pumps/{filled.pk}/refill/", flex)
    assert response.status_code == 400 and "00:00" in response.content.decode()
    assert counts() == before


API_WORDS = re.compile(
    r"performed_at|volume_\w+_ml|concentration_mcg_per_ml|compounded_confirmed|prescription\.|"
    r"daily_dose_mcg|dose_mcg|steps\[|boluses\[|YYYY|hh:mm|HH:MM|\d{4}-\d{2}-\d{2}T|\+00:00"
)


def shown_messages(page: str) -> list[str]:
    """The text a nurse reads in the error summary, under the fields and in the refusal."""
    blocks = re.findall(
        r'<div class="error-summary".*?</div>|<p class="field-error">.*?</p>|<div class="refusal".*?</div>',
        page,
        re.S,
    )
    return [" ".join(re.sub(r"<[^>]+>", "", block).split()) for block in blocks]


@pytest.mark.parametrize(
    "typed, expected",
    [
        ({"performed_at": "yesterday"}, "Time of the refill: must be a date and a time"),
        # 10:00 on 26 Dec typed in a New York clinic is 10:00 EST, shown so, not 15:00+00:00.
        (
            {"performed_at": "2026-12-26T10:00"},
            "Time of the refill: Sat 26 Dec 2026 10:00 EST is in the future",
        ),
        ({"performed_at": "2025-12-26T10:00"}, "is before the pump was implanted on 2 Jan 2026"),
        ({"volume_added_ml": "abc"}, "Volume added: must be a number, like 20 or 19.5"),
        ({"volume_added_ml": "1234567890123"}, "Volume added: is too large"),
        ({"concentration_mcg_per_ml": "-5"}, "Concentration: must be greater than 0 mcg/mL"),
        ({"concentration_mcg_per_ml": "700"}, "ticking “I confirm a compounded concentration”"),
        ({"daily_dose_mcg": "-3"}, "Prescription: Daily dose: must be 0 or more mcg/day"),
        (
            {"mode": "flex", "step-0-start": "01:00", "step-0-dose": "10"},
            "Flex step 1, start: the first flex step must start at 00:00",
        ),
        (
            {
                "mode": "periodic_bolus",
                "basal_daily_dose_mcg": "100",
                "bolus-0-time": "25:00",
                "bolus-0-dose": "5",
                "bolus-0-duration": "10",
            },
            "Bolus 1, time: must be a time from 00:00 to 23:59",
        ),
        ({"pab_dose_mcg": "5"}, "Patient-activated bolus, maximum a day: is required"),
    ],
)
def test_the_forms_messages_are_in_a_nurses_words(nurse, new_york, filled, typed, expected):
    before = counts()
    # 06:00 EST on 26 Nov is 11:00Z, an hour before now (12:00Z).
    typed = {"performed_at": "2026-11-26T06:00", **typed}
    response = browser(nurse).post(f"/pumps/{filled.pk}/refill/", refill_post(action="save", **typed))
    assert response.status_code == 400
    messages = shown_messages(response.content.decode())
    assert messages and any(expected in m for m in messages), messages
    for message in messages:
        assert not API_WORDS.search(message), message
    assert counts() == before


def test_the_first_problem_is_listed_first(nurse, filled):
    # Two problems the serializer finds at once: the time (top of the form) comes before
    # the volume added (below it), whatever order the checks ran in.
    page = (
        browser(nurse)
        .post(
            f"/pumps/{filled.pk}/refill/", refill_post(action="save", performed_at="x", volume_added_ml="y")
        )
        .content.decode()
    )
    (summary, *_) = shown_messages(page)
    assert summary.index("Time of the refill") < summary.index("Volume added")


def test_a_flex_prescription_with_rows_is_recorded(nurse, filled):
    c = browser(nurse)
    rows = {
        "step-0-start": "00:00",
        "step-0-dose": "10",
        "step-1-start": "08:00",
        "step-1-dose": "11",
        "step-2-start": "",
        "step-2-dose": "",
    }
    more = c.post(
        f"/pumps/{filled.pk}/refill/", refill_post(mode="flex", action="add_row", **rows)
    ).content.decode()
    assert 'name="step-4-start"' in more  # one more empty row
    response = c.post(f"/pumps/{filled.pk}/refill/", refill_post(mode="flex", action="save", **rows))
    assert response.status_code == 302
    row = Prescription.objects.latest("effective_at")
    # 8 h x 10 + 16 h x 11 = 80 + 176 = 256 mcg/day (within +30 % of 250)
    assert row.daily_dose_mcg == Decimal("256.0")
    assert row.schedule["steps"] == [
        {"start": "00:00", "dose_mcg_per_hour": "10"},
        {"start": "08:00", "dose_mcg_per_hour": "11"},
    ]


def test_saving_records_the_refill_and_offers_the_next_appointment(nurse, filled):
    c = browser(nurse)
    response = c.post(f"/pumps/{filled.pk}/refill/", refill_post(action="save", lot_number="L1"), follow=True)
    assert response.redirect_chain[-1][0] == f"/pumps/{filled.pk}/#appointments"
    refill = Refill.objects.latest("performed_at")
    assert refill.performed_by == nurse and refill.lot_number == "L1"
    assert refill.expected_residual_ml == Decimal("17.00")
    page = response.content.decode()
    assert "Refill recorded." in page and "Book the next refill" in page


@pytest.mark.rule("TITRATE-1")
def test_a_titration_refusal_shows_the_limit_and_asks_a_physician(nurse, physician, staff, filled):
    over = refill_post(daily_dose_mcg="400")
    before = counts()
    page = browser(nurse).post(f"/pumps/{filled.pk}/refill/", over).content.decode()
    assert 'data-code="titration_limit_exceeded"' in page
    assert "+30.0 %" in page and "325.0 mcg/day" in page  # 250 x 1.3
    assert "ask a physician" in page
    assert re.search(r'<textarea id="override_reason"[^>]*disabled', page)  # not the nurse's to give
    # A staff member (and a nurse) sending an override anyway is refused by the service.
    for user in (staff, nurse):
        response = browser(user).post(
            f"/pumps/{filled.pk}/refill/", {**over, "action": "save", "override_reason": "please"}
        )
        assert response.status_code == 403, user
        assert "role" in response.content.decode()
    assert counts() == before
    # The physician sees the field enabled and overrides with a written reason.
    doctor = browser(physician)
    page = doctor.post(f"/pumps/{filled.pk}/refill/", over).content.decode()
    assert not re.search(r'<textarea id="override_reason"[^>]*disabled', page)
    response = doctor.post(
        f"/pumps/{filled.pk}/refill/",
        {**over, "action": "save", "override_reason": "severe spasticity after a fall"},
    )
    assert response.status_code == 302
    row = Prescription.objects.latest("effective_at")
    assert row.override_reason == "severe spasticity after a fall" and row.prescriber == physician


# --- appointments ------------------------------------------------------------------------


def test_book_move_and_cancel_from_the_pump_page(nurse, filled):
    c = browser(nurse)
    form = c.get(f"/pumps/{filled.pk}/appointments/new/?kind=refill").content.decode()
    assert '<label for="day">' in form and '<label for="nurse">' in form
    # A Saturday is not a working day: the error is next to the day field, nothing booked.
    refused = c.post(
        f"/pumps/{filled.pk}/appointments/new/",
        {"kind": "refill", "day": "2026-11-28", "time": "10:00", "nurse": "nurse"},
    )
    assert refused.status_code == 400
    assert 'id="day-error"' in refused.content.decode() and "not a working day" in refused.content.decode()
    assert not Appointment.objects.exists()
    booked = c.post(
        f"/pumps/{filled.pk}/appointments/new/",
        {"kind": "refill", "day": "2026-12-01", "time": "10:30", "nurse": "nurse"},
        follow=True,
    )
    appointment = Appointment.objects.get()
    assert (
        appointment.status,
        appointment.day.isoformat(),
        appointment.time.isoformat(),
        appointment.nurse,
    ) == (
        AppointmentStatus.BOOKED,
        "2026-12-01",
        "10:30:00",
        nurse,
    )
    assert "Refill booked for Tue 01 Dec 2026 at 10:30 with nurse." in booked.content.decode()
    moved = c.post(
        f"/appointments/{appointment.pk}/book/",
        {"day": "2026-12-02", "time": "09:00", "nurse": "nurse"},
        follow=True,
    )
    assert "moved" in moved.content.decode()
    appointment.refresh_from_db()
    assert appointment.day.isoformat() == "2026-12-02"
    no_reason = c.post(f"/appointments/{appointment.pk}/cancel/", {"reason": ""})
    assert no_reason.status_code == 400 and 'id="reason-error"' in no_reason.content.decode()
    c.post(f"/appointments/{appointment.pk}/cancel/", {"reason": "patient in hospital"})
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.history.latest().history_change_reason == "cancelled: patient in hospital"


def test_cancelling_says_what_happens_next_for_each_kind(api, nurse, filled):
    c = browser(nurse)
    said = {}
    for kind in ("refill", "replacement", "titration"):
        response = api.post(
            "/api/v1/appointments/", {"pump": filled.pk, "kind": kind, "day": "2026-12-02"}, format="json"
        )
        assert response.status_code == 201, response.json()
        page = c.get(f"/appointments/{response.json()['id']}/cancel/").content.decode()
        said[kind] = re.search(r'data-testid="after-cancel">(.*?)</p>', page, re.S).group(1)
    assert "proposes a new refill day" in said["refill"]
    assert "refill" not in said["replacement"] and "book a new date" in said["replacement"]
    assert "refill" not in said["titration"] and "no new visit is proposed" in said["titration"]


def test_booking_from_the_worklist_returns_to_it(nurse, filled):
    c = browser(nurse)
    page = c.get("/clinics/HOME/worklist/").content.decode()
    link = re.search(rf'href="(/pumps/{filled.pk}/appointments/new/\?next=[^"]+)"', page).group(1)
    response = c.post(
        link.replace("&amp;", "&"), {"kind": "refill", "day": "2026-12-01", "next": "/clinics/HOME/worklist/"}
    )
    assert response["Location"] == "/clinics/HOME/worklist/"
    assert Alert.objects.filter(kind=AlertKind.REFILL_UNBOOKED, resolved_at__isnull=True).count() == 0


# --- REFILL-2: the refill time typed at a daylight-saving change ------------------------


@pytest.fixture
def new_york(clinic):
    clinic.timezone = "America/New_York"
    clinic.save()
    return clinic


@pytest.mark.rule("REFILL-2")
def test_a_refill_time_the_clocks_skipped_is_refused_on_the_form(nurse, new_york, pump):
    # Sun 8 Mar 2026 in New York: 2:00 AM EST jumps to 3:00 AM EDT.
    before = counts()
    response = browser(nurse).post(
        f"/pumps/{pump.pk}/refill/",
        refill_post(performed_at="2026-03-08T02:30", volume_withdrawn_ml="0", action="save"),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "2:30 AM on Sun 8 Mar 2026 does not exist" in page
    assert counts() == before


@pytest.mark.rule("REFILL-2")
def test_a_refill_time_that_happens_twice_asks_which_one(nurse, new_york, pump):
    # Sun 1 Nov 2026 in New York: 1:30 AM EDT (UTC−4, 05:30Z) and 1:30 AM EST (UTC−5, 06:30Z).
    c = browser(nurse)
    twice = refill_post(performed_at="2026-11-01T01:30", volume_withdrawn_ml="0", action="save")
    before = counts()
    response = c.post(f"/pumps/{pump.pk}/refill/", twice)
    assert response.status_code == 400
    page = response.content.decode()
    assert "1:30 AM EDT (UTC−4) or 1:30 AM EST (UTC−5)" in page
    assert '<option value="-240">1:30 AM EDT (UTC−4)</option>' in page
    assert '<option value="-300">1:30 AM EST (UTC−5)</option>' in page
    assert counts() == before
    # The live check (which replaces only its panel) says what is wrong there.
    partial = c.post(f"/pumps/{pump.pk}/refill/preview/", {**twice, "action": "check"}).content.decode()
    assert 'data-testid="live-errors"' in partial
    assert "1:30 AM EDT (UTC−4) or 1:30 AM EST (UTC−5)" in partial
    assert '<select id="utc_offset_live" name="utc_offset" form="refill-form">' in partial
    # Once chosen, the check passes and the choice stays offered (the save posts it).
    chosen = c.post(f"/pumps/{pump.pk}/refill/preview/", {**twice, "utc_offset": "-300"}).content.decode()
    assert 'data-testid="preview"' in chosen
    assert '<option value="-300" selected>1:30 AM EST (UTC−5)</option>' in chosen
    # An ordinary time asks nothing.
    ordinary = c.post(
        f"/pumps/{pump.pk}/refill/", {**twice, "performed_at": "2026-11-02T01:30", "action": "check"}
    )
    assert 'name="utc_offset"' not in ordinary.content.decode()
    response = c.post(f"/pumps/{pump.pk}/refill/", {**twice, "utc_offset": "-300"})
    assert response.status_code == 302
    assert Refill.objects.get().performed_at.isoformat() == "2026-11-01T06:30:00+00:00"


# --- the demo clinic ------------------------------------------------------------------------


@pytest.fixture
def demo(db, monkeypatch):
    """The demo clinic loaded at the real time (not this module's frozen clock): loaddemo
    dates everything from today."""
    from django.core.management import call_command

    monkeypatch.undo()
    call_command("loaddemo", "--allow-production", stdout=__import__("io").StringIO())
    from patients.models import Clinic

    return Clinic.objects.get(code="DEMO")


def test_loading_the_demo_leaves_no_resolved_alert_nor_cancelled_email(demo):
    from alerts.models import Notification, NotificationStatus

    # Each past fill is entered as of its own time: the gap between two fills never shows
    # as "past the projected empty time" raised and resolved within the same second.
    assert not Alert.objects.filter(clinic=demo, resolved_at__isnull=False).exists()
    assert not Alert.objects.filter(clinic=demo, kind=AlertKind.PAST_EMPTY).exists()
    assert not Notification.objects.filter(status=NotificationStatus.CANCELLED).exists()


@pytest.mark.rule("PUMP-3")
def test_the_demo_medtronic_pumps_take_a_concentration_change(demo):
    from patients.models import CatheterModel, PumpModel
    from pumpcare import clock
    from tests.conftest import client_for

    for code in ("8637-20", "8637-40"):
        model = PumpModel.objects.get(code=code)
        assert model.pathway_volume_min_ml is not None and model.pathway_volume_max_ml is not None
        assert "demo only — verify against labeling" in model.source
    for code in ("8709SC", "8731SC", "8780"):
        assert (
            "volume_ml_per_cm: demo only — verify against labeling"
            in CatheterModel.objects.get(code=code).source
        )
    nurse = demo.memberships.get(role="nurse").user
    ada = demo.patients.get(mrn="D-1001").pumps.get()  # SynchroMed II 8637-20, 8709SC 52 cm
    response = client_for(nurse).post(
        f"/api/v1/pumps/{ada.pk}/refills/preview/",
        {
            "performed_at": clock.now().isoformat(),
            "volume_withdrawn_ml": "1",
            "volume_added_ml": "20",
            "concentration_mcg_per_ml": "1000",
            "prescription": {"mode": "simple_continuous", "daily_dose_mcg": "275"},
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    # 500 -> 1000 mcg/mL rises: V = min pathway 0.200 + 52 cm x 0.0022 = 0.200 + 0.1144 = 0.314 mL.
    assert response.json()["bridge_bolus"]["path_volume_ml"] == "0.314"


def test_the_pump_page_folds_resolved_alerts_apart(nurse, clinic, filled):
    from alerts.services import alert_resolve

    old = alert_raise(
        clinic=clinic, pump=filled, kind=AlertKind.PAST_EMPTY, severity=Severity.CRITICAL, message="was empty"
    )
    alert_resolve(alert=old, why="refilled")
    alert_raise(
        clinic=clinic,
        pump=filled,
        kind=AlertKind.NO_REFILL_SLOT,
        severity=Severity.WARNING,
        message="no slot before 2026-12-14",
    )
    page = browser(nurse).get(f"/pumps/{filled.pk}/").content.decode()
    current, resolved = page.split('data-testid="resolved-alerts"')
    assert "Warning: " in current and "was empty" not in current
    assert "no slot before Mon 14 Dec 2026" in current  # a date as a nurse reads it
    assert "Resolved · was critical: " in resolved and "was empty" in resolved


# --- the development server's banner ------------------------------------------------------


@pytest.mark.parametrize(
    "bind, shown",
    [
        (None, "pumpcare: http://127.0.0.1:8000 "),
        ("8080", "pumpcare: http://127.0.0.1:8080 "),
        ("127.0.0.1:9001", "pumpcare: http://127.0.0.1:9001 "),
        ("0.0.0.0:8000", "pumpcare: http://127.0.0.1:8000  (listening on every IPv4 interface)"),
        ("[::1]:8002", "pumpcare: http://[::1]:8002 "),
    ],
)
def test_the_startup_banner_prints_the_address_served(tmp_path, bind, shown):
    """scripts/run-dev.sh with stand-ins for celery and python (which print what they run)."""
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(root / "scripts" / "run-dev.sh", project / "scripts" / "run-dev.sh")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name in ("celery", "python"):
        (stubs / name).write_text(f'#!/bin/sh\necho "{name} $*"\n')
        (stubs / name).chmod(0o755)
    env = {"PATH": f"{stubs}:/usr/bin:/bin"}
    if bind is not None:
        env["PUMPCARE_BIND"] = bind
    out = subprocess.run(
        ["bash", str(project / "scripts" / "run-dev.sh")], env=env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert shown in out.stdout
    assert f"python manage.py runserver {bind or '127.0.0.1:8000'}" in out.stdout


def test_the_readme_documents_pumpcare_bind():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "| `PUMPCARE_BIND` | `127.0.0.1:8000` |" in readme
