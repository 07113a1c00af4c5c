"""No input gives a 5xx.

An outside tester found eight causes of a 500 (gunicorn, DEBUG off, PostgreSQL): a
non-integer filter, OPTIONS on two views, a NUL byte in a code, token or body string, JSON
nested 1,000 deep, a dose of 1e308, a date in year 1 or 9999, and the browsable API on two
views. Each is refused here with the API's 400 (or a 404 for a path that names nothing)
and writes nothing; then every API route found in the URL configuration, with every
method, is sent hostile values as the clinic's nurse and anonymously, and none may answer
a 5xx.

The clients do not re-raise a view's exception (``raise_request_exception=False``): a
crash is seen as the 500 a client would get.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from fractions import Fraction
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

import therapy
from alerts.models import Alert, Notification
from patients.models import Caregiver, Patient, Pump
from patients.services import save_audited
from refills.models import Prescription, Refill
from scheduling.models import Appointment, CalendarFeed
from tests.helpers import fill, oral_course, simple

pytestmark = pytest.mark.usefixtures("frozen_now")


def client(user=None) -> APIClient:
    api = APIClient(raise_request_exception=False)
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


@pytest.fixture
def nurse_api(nurse):
    return client(nurse)


def rows() -> dict:
    """Everything a refused request could have written, history included."""
    models = [Patient, Pump, Caregiver, Refill, Prescription, Appointment, CalendarFeed, Alert, Notification]
    counts = {model.__name__: model.objects.count() for model in models}
    counts.update({f"{m.__name__} history": m.history.count() for m in (Patient, Pump, Refill, Prescription)})
    return counts


def assert_refused(response, field: str) -> dict:
    """The API's error body: a 400 with code, field, detail and errors naming ``field``."""
    assert response.status_code == 400, (response.status_code, response.content[:500])
    body = response.json()
    assert body["code"] and body["detail"], body
    assert body["field"] == field, body
    assert body["errors"][field], body
    return body


# --- 1. a non-integer filter ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "param"),
    [
        ("/api/v1/notifications/", "pump"),
        ("/api/v1/notifications/", "alert"),
        ("/api/v1/appointments/", "pump"),
        ("/api/v1/alerts/", "pump"),
        ("/api/v1/pumps/", "patient"),
    ],
)
def test_a_filter_that_is_not_an_id_is_refused(nurse_api, path, param):
    body = assert_refused(nurse_api.get(f"{path}?{param}=abc"), param)
    assert body["errors"][param] == ["must be a whole number (an id)"]


def test_a_date_filter_that_is_not_a_date_names_it(nurse_api, clinic):
    body = assert_refused(nurse_api.get("/api/v1/appointments/?from=abc"), "from")
    assert body["errors"]["from"] == ["must be a date written 2026-06-01"]
    body = assert_refused(nurse_api.get("/api/v1/worklist/?until=0001-01-01"), "until")
    assert "years 1900 to 2200" in body["detail"]


# --- 2. OPTIONS -------------------------------------------------------------------------


def test_options_describe_the_starting_dose_calculator_and_the_card_physician(nurse_api, patient):
    response = nurse_api.options("/api/v1/calculations/starting-dose/")
    assert response.status_code == 200, response.content
    assert "trials" in response.json()["actions"]["POST"]
    response = nurse_api.options(f"/api/v1/patients/{patient.pk}/card-physician/")
    assert response.status_code == 200, response.content


# --- 3. NUL bytes in codes, tokens and body strings ---------------------------------------


def test_a_nul_byte_in_a_calendar_token_names_no_feed():
    response = client().get("/calendar/%00.ics")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path", ["/api/v1/clinics/%00/", "/api/v1/catalog/drugs/%00/", "/api/v1/clinics/%00/card-settings/"]
)
def test_a_nul_byte_in_a_code_in_the_path_names_nothing(nurse_api, clinic, path):
    assert nurse_api.get(path).status_code == 404


@pytest.mark.parametrize(
    "path", ["/api/v1/patients/", "/api/v1/pumps/", "/api/v1/worklist/", "/api/v1/card-texts/"]
)
def test_a_nul_byte_in_a_code_filter_is_refused(nurse_api, clinic, path):
    body = assert_refused(nurse_api.get(f"{path}?clinic=%00"), "clinic")
    assert body["errors"]["clinic"] == ["contains a null character: type plain text"]


def new_patient(**changes) -> dict:
    body = {
        "clinic": "HOME",
        "mrn": "MRN-HOSTILE",
        "given_name": "Ana",
        "family_name": "Ruiz",
        "birth_date": "1980-05-17",
        "spasticity_origin": "spinal",
    }
    return {**body, **changes}


def new_pump(patient, **changes) -> dict:
    body = {
        "patient": patient.pk,
        "model": "8637-20",
        "serial_number": "SN-HOSTILE",
        "implanted_on": "2026-01-02",
        "catheter_model": "8709SC",
        "catheter_length_cm": 50,
    }
    return {**body, **changes}


def first_fill(**changes) -> dict:
    body = {
        "performed_at": "2026-03-01T10:00:00Z",
        "volume_withdrawn_ml": 0,
        "volume_added_ml": 20,
        "concentration_mcg_per_ml": 500,
        "prescription": simple(250),
    }
    return {**body, **changes}


def test_a_nul_byte_in_a_body_code_is_refused_and_nothing_is_written(nurse_api, pump, patient):
    before = rows()
    cases = [
        ("/api/v1/patients/", new_patient(clinic="\x00"), "clinic"),
        ("/api/v1/pumps/", new_pump(patient, model="\x00"), "model"),
        (f"/api/v1/pumps/{pump.pk}/refills/", first_fill(drug="\x00"), "drug"),
        ("/api/v1/calendar-feeds/", {"clinic": "HOME", "nurse": "\x00"}, "nurse"),
    ]
    for path, body, field in cases:
        refused = assert_refused(nurse_api.post(path, body, format="json"), field)
        assert refused["errors"][field] == ["contains a null character: type plain text"]
    assert rows() == before


# --- 4. JSON nested 1,000 deep -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/patients/", "/api/v1/calculations/starting-dose/"])
def test_json_nested_a_thousand_deep_is_refused(nurse_api, path):
    before = rows()
    deep = '{"mrn": ' + "[" * 1000 + "]" * 1000 + "}"
    response = nurse_api.generic("POST", path, deep, content_type="application/json")
    body = assert_refused(response, "non_field_errors")
    assert "nested too deeply: at most 20 levels" in body["detail"]
    assert rows() == before


# --- 5. numbers too large for any dose ----------------------------------------------------

TOO_LARGE = [1e308, "1e30", "9" * 5000]


@pytest.mark.parametrize("value", TOO_LARGE, ids=["1e308", "1e30 as text", "5000 digits"])
def test_a_daily_dose_of_1e30_is_refused_saying_what_is_allowed(nurse_api, pump, value):
    before = rows()
    simple_body = first_fill(prescription={"mode": "simple_continuous", "daily_dose_mcg": value})
    flex_body = first_fill(
        prescription={"mode": "flex", "steps": [{"start": "00:00", "dose_mcg_per_hour": value}]}
    )
    for body, field in [
        (simple_body, "prescription.daily_dose_mcg"),
        (flex_body, "prescription.steps[0].dose_mcg_per_hour"),
    ]:
        refused = assert_refused(
            nurse_api.post(f"/api/v1/pumps/{pump.pk}/refills/", body, format="json"), field
        )
        message = refused["errors"][field][0]
        assert "at most 12 digits before the decimal point and 7 after it" in message
        assert len(message) < 200  # 5,000 digits are not echoed back
    assert rows() == before


def test_a_dose_of_1e30_in_a_prescription_change_is_refused(nurse_api, pump):
    fill(nurse_api, pump, "2026-03-01T10:00:00Z")
    before = rows()
    body = {"effective_at": "2026-04-01T10:00:00Z", "prescription": simple("1e30"), "reason": "titration"}
    response = nurse_api.post(f"/api/v1/pumps/{pump.pk}/prescriptions/", body, format="json")
    assert_refused(response, "prescription.daily_dose_mcg")
    assert rows() == before


def test_exact_takes_up_to_twelve_digits_before_the_point_and_seven_after():
    assert therapy.units.exact("999999999999.9999999", "dose") == Fraction(9999999999999999999, 10**7)
    assert therapy.units.exact("250.50", "dose") == Fraction(501, 2)  # trailing zeros are no digits
    assert therapy.units.exact("0E-10", "dose") == 0
    for value in ["1e12", "0.00000001", 1e308, "9" * 5000]:
        with pytest.raises(therapy.CalculationError, match="at most 12 digits"):
            therapy.units.exact(value, "dose")


def test_rounding_a_large_number_does_not_raise():
    # 10^40 / 3 = 3333…3.33…: 40 digits before the point, more than the default 28 digits.
    assert str(therapy.units.rounded(Fraction(10**40, 3), therapy.units.DOSE_MCG)) == "3" * 40 + ".3"


# --- 6. dates in year 1 and 9999 ---------------------------------------------------------


@pytest.mark.parametrize("at", ["0001-01-01T00:30:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59"])
def test_an_event_time_in_year_1_or_9999_is_refused(nurse_api, clinic, pump, patient, at):
    # East of UTC, 00:30 on 1 Jan of year 1 is before the first instant datetime holds.
    clinic.timezone = "Europe/Berlin"
    clinic.save()
    fill(nurse_api, pump, "2026-03-01T10:00:00Z")
    before = rows()
    cases = [
        (f"/api/v1/pumps/{pump.pk}/refills/", first_fill(performed_at=at), "performed_at"),
        (f"/api/v1/pumps/{pump.pk}/refills/preview/", first_fill(performed_at=at), "performed_at"),
        (
            f"/api/v1/pumps/{pump.pk}/prescriptions/",
            {"effective_at": at, "prescription": simple(250), "reason": "x"},
            "effective_at",
        ),
        (
            f"/api/v1/patients/{patient.pk}/screening-trial/",
            {"dose_mcg": 50, "given_at": at, "observed_by": "Dr. Rivera", "responded": True},
            "given_at",
        ),
    ]
    for path, body, field in cases:
        refused = assert_refused(nurse_api.post(path, body, format="json"), field)
        assert "must be a date in the years 1900 to 2200" in refused["errors"][field][0]
    assert rows() == before


def test_an_eri_date_in_9999_is_refused(nurse_api, pump):
    before = rows()
    response = nurse_api.patch(f"/api/v1/pumps/{pump.pk}/", {"eri_on": "9999-12-31"}, format="json")
    body = assert_refused(response, "eri_on")
    assert body["errors"]["eri_on"] == ["must be a date in the years 1900 to 2200 (got the year 9999)"]
    assert rows() == before
    assert nurse_api.get(f"/api/v1/pumps/{pump.pk}/projection/").status_code == 200


def test_a_replacement_plan_past_the_calendar_is_a_refusal_not_an_overflow():
    # ERI 31 Dec 9999 + 90 days of EOS is past what a date can hold.
    with pytest.raises(therapy.CalculationError) as refusal:
        therapy.replacement_plan(
            implanted_on=date(2026, 1, 2),
            eri_on=date(9999, 12, 31),
            service_life_months=None,
            eos_after_eri_days=90,
            planning_opens_months_before_eri=6,
            book_by_days_before_eri=30,
        )
    assert refusal.value.code == "eri_out_of_range"


def test_a_local_time_in_year_1_is_refused_by_the_core():
    with pytest.raises(therapy.CalculationError, match="years 1900 to 2200"):
        therapy.local_instant(datetime(1, 1, 1, 0, 30), ZoneInfo("Europe/Berlin"), field="performed_at")


@pytest.mark.parametrize(
    ("path", "field", "value"),
    [
        ("/api/v1/patients/", "birth_date", "0001-01-01"),
        ("/api/v1/patients/", "family_name", "Ruiz\u202e"),
        ("/api/v1/patients/", "given_name", "Ana\x1b[2J"),
    ],
    ids=["birth date in year 1", "right-to-left override", "terminal escape"],
)
def test_a_patient_born_in_year_1_or_named_with_an_override_is_refused(nurse_api, clinic, path, field, value):
    before = rows()
    assert_refused(nurse_api.post(path, new_patient(**{field: value}), format="json"), field)
    assert rows() == before


def test_notes_keep_their_line_breaks(nurse_api, pump):
    # The text policy refuses control characters, not the tab and new line of a note.
    response = nurse_api.post(
        f"/api/v1/pumps/{pump.pk}/refills/", first_fill(notes="line one\n\tline two"), format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["notes"] == "line one\n\tline two"


# --- 7. the browsable API ------------------------------------------------------------------


def test_the_browsable_api_of_the_worklist_and_the_history_is_no_server_error(nurse_api, clinic, pump):
    response = nurse_api.get("/api/v1/worklist/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    # The history is JSON only: a browser asking for HTML is told so.
    response = nurse_api.get(f"/api/v1/pumps/{pump.pk}/history/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406
    assert nurse_api.get(f"/api/v1/pumps/{pump.pk}/history/").status_code == 200


# --- every route, every method, hostile values ---------------------------------------------

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def _template(pattern) -> str:
    text = str(pattern)
    if _GROUP.search(text) or text.startswith("^") or text.endswith("$"):
        text = _GROUP.sub(r"{\1}", text.lstrip("^").rstrip("$"))
    return _CONVERTER.sub(r"{\1}", text)


def api_routes() -> list[str]:
    """Every route of the API and the calendar feed, from the URL configuration itself,
    as templates like ``api/v1/pumps/{pump_id}/refills/``."""
    routes = set()

    def walk(patterns, prefix):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + _template(entry.pattern))
            elif isinstance(entry, URLPattern):
                routes.add(prefix + _template(entry.pattern))

    walk(get_resolver().url_patterns, "")
    wanted = ("api/v1/", "calendar/")
    # DRF's format-suffix twins ({format}) answer the same views.
    return sorted(r for r in routes if r.startswith(wanted) and "{format}" not in r and "\\" not in r)


HOSTILE_TEXT = [
    "\x00",
    "MRN\x00-1",
    "\x1b[31m",
    "Ruiz\u202e",
    "\u2066x\u2069",
    "line\r\nbreak",
    "0001-01-01",
    "0001-01-01T00:30:00",
    "9999-12-31",
    "9999-12-31T23:59:59-05:00",
    "1e308",
    "1e30",
    "9" * 5000,
    "-1",
    "abc",
    "",
    "x" * 10_000,
    "NaN",
    "25:99",
]
HOSTILE_NUMBERS = [1e308, -1e308, 10**30, 2**63, -(2**63) - 1, 1e-30, 0.1, 0, -1, True]
# A few sane values, so a request gets past the first field into the deeper checks.
SANE = [
    "HOME",
    "8637-20",
    "baclofen",
    "2026-03-01T10:00:00Z",
    "2026-06-01",
    "00:00",
    1,
    250,
    "simple_continuous",
    "eri",
]
DEEP = "\ue000DEEP\ue000"  # replaced by JSON nested 1,000 deep when the body is written

FIELD_NAMES = [
    "clinic", "patient", "pump", "model", "catheter_model", "drug", "pump_model", "nurse", "mrn",
    "given_name", "family_name", "birth_date", "spasticity_origin", "email", "phone", "name",
    "relation", "serial_number", "implanted_on", "catheter_length_cm", "low_reservoir_alarm_ml",
    "eri_on", "explanted_on", "status", "reason", "override_reason", "performed_at", "effective_at",
    "given_at", "volume_withdrawn_ml", "volume_added_ml", "concentration_mcg_per_ml",
    "compounded_confirmed", "prescription", "lot_number", "notes", "kind", "day", "time", "trials",
    "dose_mcg", "responded", "effect_hours", "effect_duration_hours", "observed_by",
    "adverse_reactions", "note", "timezone", "safety_margin_days", "working_days",
    "reminder_days_before", "withdrawal_warning", "mri_note", "source", "paper_size", "date_format",
    "default_physician", "reservoir_ml", "service_life_months", "max_reservoir_days",
    "supplied_concentrations_mcg_per_ml", "volume_ml_per_cm", "accuracy_tolerance_pct",
    "interrogated_at", "alarms", "eri_since", "scan_at", "emptied_at", "mri_follow_up",
    "dose_mg", "times_per_day", "started_on", "stopped_on", "prescriber", "steps",
    "older_adult_from_age_years", "stroke_recovery",
]  # fmt: skip
QUERY_NAMES = [
    "clinic", "pump", "patient", "alert", "appointment", "status", "kind", "mrn", "nurse", "from",
    "to", "until", "open", "page", "format", "stale",
]  # fmt: skip

scalar = st.sampled_from(HOSTILE_TEXT + HOSTILE_NUMBERS + SANE + [DEEP, None])
prescription = st.fixed_dictionaries(
    {"mode": st.sampled_from(["simple_continuous", "flex", "periodic_bolus", "\x00"])},
    optional={
        "daily_dose_mcg": scalar,
        "basal_daily_dose_mcg": scalar,
        "steps": st.lists(st.fixed_dictionaries({"start": scalar, "dose_mcg_per_hour": scalar}), max_size=2),
        "boluses": st.lists(
            st.fixed_dictionaries({"time": scalar, "dose_mcg": scalar, "duration_minutes": scalar}),
            max_size=2,
        ),
        "patient_activated_bolus": st.fixed_dictionaries(
            {"dose_mcg": scalar, "max_per_day": scalar, "lockout_minutes": scalar}
        ),
    },
)
value = st.one_of(
    scalar,
    prescription,
    st.lists(scalar, max_size=3),
    st.lists(st.fixed_dictionaries({"dose_mcg": scalar, "responded": scalar}), max_size=2),
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELD_NAMES), value, max_size=8),
    st.sampled_from([DEEP, [1, 2], "x", {"\x00": 1}, {"mrn\u202e": "x"}]),
)
queries = st.dictionaries(st.sampled_from(QUERY_NAMES), st.sampled_from(HOSTILE_TEXT[:16] + SANE), max_size=3)
PATH_VALUES = [
    "1",
    "2",
    "abc",
    "%00",
    "%0A",
    "%E2%80%AE",
    "99999999999999999999999",
    "-1",
    "1e308",
    "x" * 300,
]


def _json(body) -> str:
    return json.dumps(body).replace(json.dumps(DEEP), "[" * 1000 + "]" * 1000)


@pytest.fixture
def world(clinic, nurse, physician, pump, patient):
    """Real rows for the paths to name: a filled pump, an appointment, a feed, an alert."""
    api = client(physician)
    fill(api, pump, "2026-03-01T10:00:00Z")
    api.post("/api/v1/appointments/", {"pump": pump.pk, "kind": "refill", "day": "2026-12-01"}, format="json")
    api.post("/api/v1/calendar-feeds/", {"clinic": "HOME"}, format="json")
    api.post("/api/v1/caregivers/", {"patient": patient.pk, "name": "Sam", "relation": "son"}, format="json")
    mri = api.post(f"/api/v1/pumps/{pump.pk}/mris/", {"scan_at": "2026-12-01T10:00:00Z"}, format="json")
    medication = oral_course(api, patient)
    plan = api.post(
        f"/api/v1/oral-medications/{medication}/weaning-plan/",
        {"steps": [{"day": "2026-11-20", "dose_mg": "5"}]},
        format="json",
    ).json()
    ids = {
        "pump_id": pump.pk,
        "patient_id": patient.pk,
        "code": clinic.code,
        "mri_id": mri.json()["id"],
        "medication_id": medication,
        "step_id": plan["weaning_plan"]["steps"][0]["id"],
    }
    return {"nurse": client(nurse), "anonymous": client(), "ids": ids}


def test_every_route_from_the_url_configuration_is_found():
    routes = api_routes()
    for expected in [
        "api/v1/pumps/{pump_id}/refills/",
        "api/v1/calculations/starting-dose/",
        "api/v1/patients/{patient_id}/card-physician/",
        "api/v1/clinics/{code}/",
        "api/v1/notifications/{pk}/resend/",
        "calendar/{token}.ics",
    ]:
        assert expected in routes, routes
    assert len(routes) > 30


METHODS = ["GET", "POST", "PATCH", "PUT", "OPTIONS"]


def hostile_requests(api, ids: dict, route: str, method: str, failures: list) -> None:
    """Send ``route`` a few hostile requests with ``method``; record every 5xx."""

    @settings(
        max_examples=6,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    # Every route also gets the tester's values explicitly: NUL in the path, a NUL code and a
    # non-integer id in the query, and 1,000-deep JSON.
    @example(path_values=["%00"] * 3, query={"clinic": "\x00", "pump": "abc"}, body=DEEP, html=False)
    @example(path_values=["REAL"] * 3, query={}, body={}, html=True)
    @given(
        path_values=st.lists(st.sampled_from(PATH_VALUES + ["REAL"]), min_size=3, max_size=3),
        query=queries,
        body=bodies,
        html=st.booleans(),
    )
    def check(path_values, query, body, html):
        path = route
        for name, chosen in zip(re.findall(r"\{(\w+)\}", route), path_values, strict=False):
            path = path.replace("{" + name + "}", str(ids.get(name, 1)) if chosen == "REAL" else chosen)
        url = f"/{path}" + (f"?{urlencode(query)}" if query else "")
        extra = {"HTTP_ACCEPT": "text/html"} if html else {}
        if method in ("GET", "OPTIONS"):
            response = api.generic(method, url, **extra)
        else:
            response = api.generic(method, url, _json(body), content_type="application/json", **extra)
        if response.status_code >= 500:
            failures.append((method, url[:120], repr(body)[:200], response.status_code))

    check()


@pytest.mark.parametrize("who", ["nurse", "anonymous"])
def test_no_route_answers_hostile_input_with_a_server_error(world, who):
    failures = []
    for route in api_routes():
        for method in METHODS:
            hostile_requests(world[who], world["ids"], route, method, failures)
    assert failures == [], failures


# --- the web app's codes and filters ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/clinics/switch/?clinic=%00", 404),
        ("/clinics/HOME/worklist/?nurse=%00", 200),
    ],
)
def test_a_nul_byte_in_the_web_apps_codes_and_filters(nurse, clinic, path, status):
    from django.test import Client

    browser = Client(raise_request_exception=False)
    browser.force_login(nurse)
    assert browser.get(path).status_code == status


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"day": "2026-02-30"}, "day"),  # well formed, impossible: parse_date raised ValueError
        ({"day": "2026-12-01", "time": "25:99"}, "time"),
        ({"day": "2026-12-01", "nurse": "\x00"}, "nurse"),
        ({"day": "9999-12-31"}, "day"),  # was booked
        ({"day": "2026-12-01", "notes": "\x00"}, "notes"),  # reached PostgreSQL
    ],
    ids=["30 Feb", "25:99", "NUL nurse", "year 9999", "NUL notes"],
)
def test_the_web_booking_form_refuses_what_it_cannot_book(nurse, pump, form, field):
    from django.test import Client

    browser = Client(raise_request_exception=False)
    browser.force_login(nurse)
    before = rows()
    response = browser.post(f"/pumps/{pump.pk}/appointments/new/", form)
    assert response.status_code == 400
    assert field in response.context["errors"], response.context["errors"]
    assert rows() == before


def _patient(**fields) -> Patient:
    """An unsaved patient (``fields`` add or replace columns)."""
    return Patient(
        **{
            "mrn": "MRN-1",
            "given_name": "Ana",
            "family_name": "Ruiz",
            "birth_date": date(1980, 5, 17),
            "spasticity_origin": "spinal",
            **fields,
        }
    )


def test_every_audited_write_refuses_a_nul_or_an_override_whichever_way_it_came(nurse, clinic):
    patient = _patient(clinic=clinic, family_name="Ruiz\u202e")
    with pytest.raises(ValidationError) as refusal:
        save_audited(patient, actor=nurse, reason="created")
    assert "family_name" in refusal.value.message_dict
    patient.family_name = "Ruiz"
    with pytest.raises(ValidationError) as refusal:
        save_audited(patient, actor=nurse, reason="created\x00")
    assert "reason" in refusal.value.message_dict
    assert not Patient.objects.exists()


def test_an_audited_write_checks_a_key_given_by_id_and_every_constraint(nurse, clinic):
    """A foreign key holding a row read from the database is not looked up again (a query
    per key per save); one given by id alone still is, and uniqueness always is."""

    def new(**fields):
        return _patient(mrn="MRN-9", **fields)

    with pytest.raises(ValidationError) as refusal:
        save_audited(new(clinic_id=987654), actor=nurse, reason="created")
    assert "clinic" in refusal.value.message_dict
    with CaptureQueriesContext(connection) as queries:
        save_audited(new(clinic=clinic), actor=nurse, reason="created")
    assert not [q for q in queries if 'FROM "patients_clinic"' in q["sql"]]
    with pytest.raises(ValidationError):
        save_audited(new(clinic=clinic), actor=nurse, reason="created again")
    assert Patient.objects.filter(mrn="MRN-9").count() == 1
