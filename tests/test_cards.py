"""Emergency cards (CARD-1, REFILL-4). "Now" is 2026-11-26T12:00Z.

The card pump is a SynchroMed II 20 mL implanted 2026-01-02 and first filled on
2026-11-05T10:00Z with 20 mL at 500 mcg/mL, 250 mcg/day: 0.5 mL/day nominal, worst case
0.5 × 1.145 = 0.5725 mL/day, so the 2.0 mL alarm comes (20 − 2) / 0.5725 = 31.441 days
later: 2026-12-06T20:35Z (alarm date 6 Dec 2026 in a UTC clinic), refill-by 7 days before:
29 Nov 2026.
"""

import io
import shutil
import subprocess
from datetime import date

import pytest
from pypdf import PdfReader

from cards import selectors
from cards.models import CardSettings, CardText, IssuedCard, PatientPhysician
from patients.models import Pump
from tests.conftest import client_for
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import assert_refused, simple

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]

CARD_PT = (85.6 * 72 / 25.4, 54 * 72 / 25.4)  # 242.65 × 153.07 pt (ID-1)
A4_PT = (595.28, 841.89)
LETTER_PT = (612.0, 792.0)
FILL = "2026-11-05T10:00:00Z"


def fill(api, pump, at=FILL, *, daily=250, withdrawn=0):
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": at,
            "volume_withdrawn_ml": withdrawn,
            "volume_added_ml": 20,
            "concentration_mcg_per_ml": 500,
            "prescription": simple(daily),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return pump


@pytest.fixture
def card_clinic(clinic):
    CardSettings.objects.create(clinic=clinic, default_physician="Dr. Ana Rivera")
    return clinic


@pytest.fixture
def card_pump(card_clinic, api):
    patient = PatientFactory(
        clinic=card_clinic, given_name="Ada", family_name="Moreno", birth_date=date(1980, 5, 17)
    )
    return fill(api, PumpFactory(patient=patient, implanted_on=date(2026, 1, 2), serial_number="SN-4242"))


def pdf_url(pump, query=""):
    return f"/api/v1/pumps/{pump.pk}/emergency-card.pdf{query}"


def pages(response):
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    return PdfReader(io.BytesIO(response.content)).pages


def text_of(page_list) -> str:
    """The text of the pages, whitespace collapsed (line breaks fall anywhere)."""
    return " ".join(" ".join(page.extract_text() for page in page_list).split())


def size(page):
    return float(page.mediabox.width), float(page.mediabox.height)


def assert_size(page, expected):
    width, height = size(page)
    assert abs(width - expected[0]) <= 0.5 and abs(height - expected[1]) <= 0.5, (width, height)


def non_white_fraction(pdf: bytes, tmp_path, page=1) -> float:
    """Render one page with pdftoppm (poppler-utils) and count the pixels that are not white."""
    from PIL import Image

    source = tmp_path / "card.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "100",
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            source,
            tmp_path / "p",
        ],
        check=True,
    )
    image = Image.open(tmp_path / "p.png").convert("L")
    histogram = image.histogram()
    return 1 - sum(histogram[250:]) / (image.width * image.height)


needs_pdftoppm = pytest.mark.skipif(
    shutil.which("pdftoppm") is None,
    reason="pdftoppm is not installed: run scripts/install-system-packages.sh (CI does)",
)

WITHDRAWAL_WORDS = "itching, hypotension, paresthesia, high fever, altered mental status, rebound spasticity"
SYNCHROMED_MRI = "The pump motor stalls in the MRI scanner: interrogate the pump after the scan."


def assert_every_card1_field(text):
    for shown in (
        "Ada Moreno",
        "17 May 1980",  # date of birth
        "Medtronic SynchroMed II 20 mL (model 8637-20)",
        "SN-4242",
        "2 Jan 2026",  # implant date
        "Baclofen intrathecal",
        "500 mcg/mL",
        "250 mcg/day",
        "Simple continuous",
        "6 Dec 2026",  # worst-case low-reservoir alarm date
        "29 Nov 2026",  # refill-by
        "Home Clinic",
        "+1 555 0100",  # 24/7 emergency phone
        "Dr. Ana Rivera",
        "DO NOT STOP ABRUPTLY",
        WITHDRAWAL_WORDS,
        SYNCHROMED_MRI,
    ):
        assert shown in text, (shown, text)


# --- the wallet card and the caregiver sheet ---------------------------------------------


@pytest.mark.rule("CARD-1")
def test_the_wallet_card_is_two_id1_pages_carrying_every_field(card_pump, api, nurse):
    response = api.get(pdf_url(card_pump))
    front, back = pages(response)
    assert_size(front, CARD_PT) and assert_size(back, CARD_PT)
    assert_every_card1_field(text_of([front, back]))
    assert "Low-reservoir alarm" in front.extract_text() and "MRI" in back.extract_text()
    # Recorded: who printed it, when, and exactly what it showed.
    card = IssuedCard.objects.get()
    assert (card.pump, card.format, card.issued_by, card.issued_at.isoformat()) == (
        card_pump,
        "wallet",
        nurse,
        "2026-11-26T12:00:00+00:00",
    )
    assert card.data == selectors.card_data(card_pump)
    assert card.data["low_reservoir_alarm_on"] == "2026-12-06" and card.data["refill_by"] == "2026-11-29"
    assert card.digest == selectors.digest(card.data) and card.history.count() == 1
    assert response["X-Card-Was-Stale"] == "true" and response["X-Issued-Card"] == str(card.pk)


@needs_pdftoppm
def test_the_wallet_card_is_not_blank(card_pump, api, tmp_path):
    pdf = api.get(pdf_url(card_pump)).content
    for page in (1, 2):
        assert 0.03 < non_white_fraction(pdf, tmp_path, page) < 0.6


@pytest.mark.rule("CARD-1")
@needs_pdftoppm
def test_the_caregiver_sheet_is_one_page_on_the_clinics_paper(card_pump, api, admin_user, tmp_path):
    (page,) = pages(api.get(pdf_url(card_pump, "?format=sheet")))
    assert_size(page, A4_PT)
    assert_every_card1_field(text_of([page]))
    response = client_for(admin_user).patch(
        "/api/v1/clinics/HOME/card-settings/", {"paper_size": "letter"}, format="json"
    )
    assert response.status_code == 200, response.json()
    response = api.get(pdf_url(card_pump, "?format=sheet"))
    (page,) = pages(response)
    assert_size(page, LETTER_PT)
    assert_every_card1_field(text_of([page]))
    assert 0.01 < non_white_fraction(response.content, tmp_path) < 0.5
    assert IssuedCard.objects.filter(format="sheet").count() == 2


@pytest.mark.rule("CARD-1")
def test_dates_are_the_clinics_local_dates_in_its_format(card_clinic, api, admin_user):
    # UTC+14: the worst-case alarm 2026-12-06T20:35Z is 7 Dec 10:35 local; refill-by 30 Nov;
    # the card printed at 2026-11-26T12:00Z is issued on 27 Nov local.
    card_clinic.timezone = "Pacific/Kiritimati"
    card_clinic.save()
    patient = PatientFactory(clinic=card_clinic, birth_date=date(1980, 5, 17))
    pump = fill(api, PumpFactory(patient=patient, implanted_on=date(2026, 1, 2)))
    client_for(admin_user).patch(
        "/api/v1/clinics/HOME/card-settings/", {"date_format": "dd/mm/yyyy"}, format="json"
    )
    text = text_of(pages(api.get(pdf_url(pump))))
    for shown in ("17/05/1980", "02/01/2026", "07/12/2026", "30/11/2026", "Issued 27/11/2026"):
        assert shown in text, shown


def test_an_unknown_format_is_refused(card_pump, api):
    assert_refused(api.get(pdf_url(card_pump, "?format=poster")), "format")
    assert not IssuedCard.objects.exists()


# --- refusals: never an incomplete card ----------------------------------------------------


@pytest.mark.rule("CARD-1")
def test_no_emergency_phone_is_refused_and_nothing_recorded(card_pump, api, card_clinic):
    card_clinic.emergency_phone = ""
    card_clinic.save()
    body = assert_refused(api.get(pdf_url(card_pump)), "emergency_phone", "card_data_missing")
    assert "24/7 emergency phone" in body["detail"]
    assert not IssuedCard.objects.exists() and not IssuedCard.history.exists()


@pytest.mark.rule("CARD-1")
def test_a_pump_never_filled_is_refused(card_clinic, pump, api):
    body = assert_refused(api.get(pdf_url(pump)), "drug", "card_data_missing")
    assert "never filled" in body["missing"]["low_reservoir_alarm_on"]
    assert {"refill_by", "daily_dose_mcg", "mode"} <= set(body["missing"])
    assert not IssuedCard.objects.exists()


@pytest.mark.rule("CARD-1")
def test_no_physician_and_no_text_are_refused(clinic, api):
    pump = fill(api, PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2)))
    assert_refused(api.get(pdf_url(pump)), "physician", "card_data_missing")
    PatientPhysician.objects.create(patient=pump.patient, name="Dr. Kim Lee", phone="+1 555 0199")
    CardText.objects.filter(pump_model=pump.model).delete()
    body = assert_refused(api.get(pdf_url(pump)), "withdrawal_warning", "card_data_missing")
    assert "mri_note" in body["missing"]
    assert not IssuedCard.objects.exists()


def test_a_text_too_long_for_the_card_is_refused(card_pump, api, admin_user, card_clinic):
    response = client_for(admin_user).post(
        "/api/v1/card-texts/",
        {
            "clinic": "HOME",
            "pump_model": "8637-20",
            "drug": "baclofen",
            "withdrawal_warning": "Abrupt discontinuation causes withdrawal. " * 40,
            "mri_note": SYNCHROMED_MRI,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert_refused(api.get(pdf_url(card_pump)), "card", "card_overflow")
    body = assert_refused(
        api.get("/api/v1/clinics/HOME/emergency-cards.pdf?stale=1"), "card", "card_overflow"
    )
    assert "Ada Moreno" in body["detail"]  # the batch names the card that does not fit
    assert not IssuedCard.objects.exists()


# --- the patient's physician and the texts -------------------------------------------------


@pytest.mark.rule("CARD-1")
def test_the_patients_physician_replaces_the_clinic_default(card_pump, api):
    response = api.put(
        f"/api/v1/patients/{card_pump.patient_id}/card-physician/",
        {"name": "Dr. Kim Lee", "phone": "+1 555 0199"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    text = text_of(pages(api.get(pdf_url(card_pump))))
    assert "Dr. Kim Lee, +1 555 0199" in text and "Ana Rivera" not in text


@pytest.mark.rule("CARD-1")
def test_clinic_admins_edit_the_texts_per_pump_model_and_drug(card_pump, api, admin_user):
    admin = client_for(admin_user)
    texts = admin.get("/api/v1/card-texts/?clinic=HOME").json()
    default = next(t for t in texts if t["pump_model"] == "8637-20")
    assert default["is_default"] and default["mri_note"] == SYNCHROMED_MRI
    prometra = next(t for t in texts if t["pump_model"] == "13827")
    assert prometra["mri_note"] == "Empty the pump before MRI."
    # Shipped defaults are shared by every clinic: not editable through a clinic.
    assert_refused(
        admin.patch(f"/api/v1/card-texts/{default['id']}/", {"mri_note": "x"}, format="json"), "clinic"
    )
    own = {
        "clinic": "HOME",
        "pump_model": "8637-20",
        "drug": "baclofen",
        "withdrawal_warning": "Sevrage : démangeaisons, hypotension, fièvre élevée.",
        "mri_note": "IRM : le moteur s'arrête dans l'aimant ; interroger la pompe après l'examen.",
    }
    assert api.post("/api/v1/card-texts/", own, format="json").status_code == 403  # nurse
    created = admin.post("/api/v1/card-texts/", own, format="json")
    assert created.status_code == 201, created.json()
    assert [
        t["is_default"]
        for t in admin.get("/api/v1/card-texts/?clinic=HOME").json()
        if t["pump_model"] == "8637-20"
    ] == [False]
    text = text_of(pages(api.get(pdf_url(card_pump))))
    assert "le moteur s'arrête dans l'aimant" in text and "démangeaisons" in text
    assert admin.delete(f"/api/v1/card-texts/{created.json()['id']}/").status_code == 204
    assert SYNCHROMED_MRI in text_of(pages(api.get(pdf_url(card_pump))))
    assert CardText.history.filter(clinic_id=card_pump.patient.clinic_id).count() == 2  # added, removed


def test_only_admins_change_card_settings(card_clinic, api):
    response = api.patch("/api/v1/clinics/HOME/card-settings/", {"paper_size": "letter"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "role_required"


# --- staleness (REFILL-4) ---------------------------------------------------------------------


def status_of(api, pump):
    response = api.get(f"/api/v1/pumps/{pump.pk}/emergency-card/")
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.mark.rule("REFILL-4")
def test_a_card_is_stale_until_issued_and_after_every_change(card_pump, api, admin_user, physician):
    assert status_of(api, card_pump)["stale"] is True  # never issued
    api.get(pdf_url(card_pump))
    status = status_of(api, card_pump)
    assert status["stale"] is False and status["changed_fields"] == []
    assert status["last_issued"]["issued_by"] == "nurse"

    # A refill on 2026-11-20T10:00Z withdrawing the projected 20 - 0.5 x 15 = 12.5 mL moves the
    # alarm and refill-by dates.
    fill(api, card_pump, "2026-11-20T10:00:00Z", withdrawn="12.5")
    status = status_of(api, card_pump)
    assert status["stale"] is True
    assert set(status["changed_fields"]) == {"low_reservoir_alarm_on", "refill_by"}
    api.get(pdf_url(card_pump))
    assert status_of(api, card_pump)["stale"] is False

    response = client_for(physician).post(
        f"/api/v1/pumps/{card_pump.pk}/prescriptions/",
        {"effective_at": "2026-11-25T09:00:00Z", "prescription": simple(275), "reason": "night spasms"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    status = status_of(api, card_pump)
    assert status["stale"] is True and "daily_dose_mcg" in status["changed_fields"]
    assert status["card"]["daily_dose_mcg"] == "275"
    api.get(pdf_url(card_pump))
    assert status_of(api, card_pump)["stale"] is False

    response = client_for(admin_user).patch(
        "/api/v1/clinics/HOME/", {"emergency_phone": "+1 555 0111"}, format="json"
    )
    assert response.status_code == 200, response.json()
    status = status_of(api, card_pump)
    assert status["stale"] is True and status["changed_fields"] == ["emergency_phone"]
    # A caregiver sheet is recorded, but the wallet card the patient carries is still old.
    api.get(pdf_url(card_pump, "?format=sheet"))
    assert status_of(api, card_pump)["stale"] is True
    response = api.get(pdf_url(card_pump))
    assert response["X-Card-Was-Stale"] == "true" and "+1 555 0111" in text_of(pages(response))
    assert status_of(api, card_pump)["stale"] is False


@pytest.mark.rule("REFILL-4")
def test_the_worklist_flags_a_stale_card_and_printing_shows_at_once(card_pump, api):
    def flag():
        response = api.get("/api/v1/worklist/?clinic=HOME")
        assert response.status_code == 200, response.json()
        (row,) = response.json()["results"]
        return row["flags"]["card_stale"]

    assert flag() is True
    api.get(pdf_url(card_pump))
    assert flag() is False  # the issued card's history row changes the page's data version
    fill(api, card_pump, "2026-11-20T10:00:00Z", withdrawn="12.5")
    assert flag() is True


@pytest.mark.rule("REFILL-4")
def test_stale_cards_selector(card_clinic, card_pump, api, pump):
    other = fill(
        api,
        PumpFactory(
            patient=PatientFactory(clinic=card_clinic, family_name="Abel"), implanted_on=date(2026, 1, 2)
        ),
    )
    stale = selectors.stale_cards(card_clinic)
    assert [r.pump.pk for r in stale] == [other.pk, pump.pk, card_pump.pk]  # Abel, Hart…, Moreno
    assert {r.pump.pk for r in stale if r.missing} == {pump.pk}  # never filled: not printable yet
    assert sorted(selectors.stale_card_pump_ids(card_clinic)) == sorted([other.pk, pump.pk, card_pump.pk])
    api.get(pdf_url(card_pump))
    assert {r.pump.pk for r in selectors.stale_cards(card_clinic)} == {other.pk, pump.pk}
    # The cached ids follow at once: printing wrote an issued-card history row (a new data version).
    assert sorted(selectors.stale_card_pump_ids(card_clinic)) == sorted([other.pk, pump.pk])


def test_card_reads_cost_the_same_queries_for_any_number_of_pumps(
    card_clinic, api, django_assert_max_num_queries
):
    pumps = [
        fill(api, PumpFactory(patient=PatientFactory(clinic=card_clinic), implanted_on=date(2026, 1, 2)))
        for _ in range(6)
    ]
    with django_assert_max_num_queries(7):
        reads = selectors.cards_read(pumps)
    assert all(not r.missing for r in reads.values())
    # Pumps the caller loaded with their patient, model and projection (and whether it is
    # stale: the worklist's) are not read again, and give the same cards.
    loaded = list(
        Pump.objects.filter(pk__in=[p.pk for p in pumps]).select_related(
            "patient", "model", "projection__stale"
        )
    )
    with django_assert_max_num_queries(6):
        again = selectors.cards_read(loaded)
    assert {pk: (r.data, r.digest, r.stale) for pk, r in again.items()} == {
        pk: (r.data, r.digest, r.stale) for pk, r in reads.items()
    }


# --- the batch -----------------------------------------------------------------------------


@pytest.mark.rule("REFILL-4")
@needs_pdftoppm
def test_the_batch_prints_every_stale_card_on_sheets_with_crop_marks(
    card_clinic, card_pump, api, pump, tmp_path
):
    others = [
        fill(
            api,
            PumpFactory(
                patient=PatientFactory(clinic=card_clinic, given_name="Pat", family_name=f"Zed{i}"),
                implanted_on=date(2026, 1, 2),
            ),
        )
        for i in range(8)
    ]
    api.get(pdf_url(others[0]))  # up to date: not in the batch
    response = api.get("/api/v1/clinics/HOME/emergency-cards.pdf?stale=1")
    sheets = pages(response)
    # 8 stale printable cards (Moreno + Zed1..Zed7) fill one sheet of 2 x 4: fronts, then backs.
    assert len(sheets) == 2 and response["X-Cards-Printed"] == "8"
    assert response["X-Cards-Skipped"].startswith(f"{pump.pk}: ")  # never filled
    for sheet in sheets:
        assert_size(sheet, A4_PT)
    fronts, backs = text_of([sheets[0]]), text_of([sheets[1]])
    assert (
        "Ada Moreno" in fronts and all(f"Pat Zed{i}" in fronts for i in range(1, 8)) and "Zed0" not in fronts
    )
    assert SYNCHROMED_MRI in backs and "SN-4242" in backs
    assert 0.01 < non_white_fraction(response.content, tmp_path, 1) < 0.6
    cards = IssuedCard.objects.filter(batch__isnull=False)
    assert cards.count() == 8 and len({c.batch for c in cards}) == 1
    # Nothing stale and printable is left.
    assert_refused(api.get("/api/v1/clinics/HOME/emergency-cards.pdf?stale=1"), "stale", "nothing_to_print")


def test_the_batch_without_stale_prints_every_active_pump(card_clinic, card_pump, api):
    api.get(pdf_url(card_pump))
    response = api.get("/api/v1/clinics/HOME/emergency-cards.pdf")
    assert len(pages(response)) == 2 and response["X-Cards-Printed"] == "1"


def test_the_batch_back_sheet_mirrors_the_columns_for_long_edge_duplex(card_clinic, api):
    from cards import render

    (width, _), slots = render.batch_layout("A4")
    # Two columns of 85.6 mm centred on 210 mm: x = 19.4 and 105.0 mm.
    assert [round(x, 1) for x, _ in slots[:2]] == [19.4, 105.0]
    first, second = (
        fill(
            api,
            PumpFactory(
                patient=PatientFactory(clinic=card_clinic, given_name="Al", family_name=n),
                implanted_on=date(2026, 1, 2),
            ),
        )
        for n in ("Aa", "Bb")
    )
    response = api.get("/api/v1/clinics/HOME/emergency-cards.pdf?stale=1")
    fronts, backs = pages(response)

    def x_of(page, needle):
        found = []

        def visitor(text, cm, tm, font, size):
            if needle in text:
                found.append(tm[4] * cm[0] + cm[4])

        page.extract_text(visitor_text=visitor)
        return found[0] / (72 / 25.4)

    # Card 1 is front-left and back-right; card 2 front-right and back-left.
    assert x_of(fronts, "Al Aa") < width / 2 < x_of(fronts, "Al Bb")
    assert x_of(backs, first.serial_number) > width / 2 > x_of(backs, second.serial_number)


# --- all or nothing: a card is issued only with a PDF that can be sent ----------------------


def is_safe_header(value: str) -> bool:
    """Printable ASCII only (RFC 9110 field values; no CR, LF, NUL or other controls)."""
    return all(" " <= ch <= "~" for ch in value)


@pytest.mark.rule("REFILL-4")
@pytest.mark.parametrize(
    "serial",
    ["SN\n42", "SN\r42", "SN\x0742", 'SN"42"; x=1', "SN-Ünïcødé-42", "SN/../42\\x", "Ü\x07" * 32],
    ids=["newline", "carriage-return", "bell", "quotes", "non-ascii", "slashes", "very-long"],
)
def test_any_serial_number_gives_a_card_with_a_safe_file_name(card_pump, api, serial):
    card_pump.serial_number = serial
    card_pump.save()
    for query in ("", "?format=sheet"):
        response = api.get(pdf_url(card_pump, query))
        assert len(pages(response)) in (1, 2)
        disposition = response["Content-Disposition"]
        assert is_safe_header(disposition), disposition
        assert disposition.startswith("inline; filename")
        # "emergency-card-" + 64 serial characters, percent-encoded: "Ü" is %C3%9C (6), "\x07"
        # is replaced by "_" (1): 15 + 32 x 7 = 239 characters before ".pdf" at most.
        assert len(disposition) < 300
    # The RFC 5987 form keeps the readable part of a non-ASCII name.
    if serial == "SN-Ünïcødé-42":
        assert disposition == "inline; filename*=utf-8''caregiver-sheet-SN-%C3%9Cn%C3%AFc%C3%B8d%C3%A9-42.pdf"
    if serial == 'SN"42"; x=1':
        assert disposition == 'inline; filename="caregiver-sheet-SN\\"42\\"; x=1.pdf"'
    assert IssuedCard.objects.count() == 2
    assert status_of(api, card_pump)["stale"] is False


@pytest.mark.rule("REFILL-4")
def test_a_card_whose_answer_cannot_be_built_is_not_issued_and_stays_stale(card_pump, monkeypatch):
    from rest_framework.test import APIClient

    from tests.conftest import NOW  # noqa: F401  (the frozen clock is the module's)

    def broken(*args, **kwargs):
        raise ValueError("header cannot be built")

    monkeypatch.setattr("cards.responses.content_disposition_header", broken)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(card_pump.patient.clinic.memberships.get(role="nurse").user)
    assert client.get(pdf_url(card_pump)).status_code == 500
    assert client.get("/api/v1/clinics/HOME/emergency-cards.pdf?stale=1").status_code == 500
    assert not IssuedCard.objects.exists() and not IssuedCard.history.exists()
    assert selectors.card_read(card_pump).stale is True


@pytest.mark.rule("REFILL-4")
def test_a_card_that_fails_to_render_is_not_issued_and_stays_stale(card_pump, api, monkeypatch):
    from rest_framework.test import APIClient

    from cards.render import CardRenderError

    def failed(*args, **kwargs):
        raise CardRenderError("wallet card: WeasyPrint failed: out of memory")

    monkeypatch.setattr("cards.render.wallet_pdf", failed)
    monkeypatch.setattr("cards.render.batch_pdf", failed)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(card_pump.patient.clinic.memberships.get(role="nurse").user)
    assert client.get(pdf_url(card_pump)).status_code == 500
    assert client.get("/api/v1/clinics/HOME/emergency-cards.pdf?stale=1").status_code == 500
    assert not IssuedCard.objects.exists() and not IssuedCard.history.exists()
    assert status_of(api, card_pump)["stale"] is True


# --- scope ----------------------------------------------------------------------------------


def test_another_clinics_staff_gets_404(card_pump, outsider):
    other = client_for(outsider)
    assert other.get(pdf_url(card_pump)).status_code == 404
    assert other.get(pdf_url(card_pump, "?format=sheet")).status_code == 404
    assert other.get(f"/api/v1/pumps/{card_pump.pk}/emergency-card/").status_code == 404
    assert other.get("/api/v1/clinics/HOME/emergency-cards.pdf?stale=1").status_code == 404
    assert other.get("/api/v1/clinics/HOME/card-settings/").status_code == 404
    assert (
        other.put(f"/api/v1/patients/{card_pump.patient_id}/card-physician/", {"name": "X"}).status_code
        == 404
    )
    assert not IssuedCard.objects.exists()


def test_anonymous_is_refused(card_pump):
    assert client_for(None).get(pdf_url(card_pump)).status_code in (401, 403)


def test_the_schema_describes_the_pdf_endpoints():
    from pathlib import Path

    import yaml

    schema = yaml.safe_load((Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml").read_text())
    for path in ("/api/v1/pumps/{pump_id}/emergency-card.pdf", "/api/v1/clinics/{code}/emergency-cards.pdf"):
        responses = schema["paths"][path]["get"]["responses"]
        assert responses["200"]["content"]["application/pdf"]["schema"] == {
            "type": "string",
            "format": "binary",
        }
    assert "/api/v1/pumps/{pump_id}/emergency-card/" in schema["paths"]


def test_the_web_workers_warm_up_weasyprint_before_their_first_card():
    from types import SimpleNamespace

    from pumpcare import gunicorn_conf

    logged = []
    worker = SimpleNamespace(log=SimpleNamespace(info=lambda message, *args: logged.append(message % args)))
    gunicorn_conf.post_worker_init(worker)
    assert logged and logged[0].startswith("WeasyPrint warmed up in ")
