"""What the browser and the logs are told. Every rendered response is
``Cache-Control: no-store`` (static files keep their caching); a Content-Security-Policy
allows scripts and styles only from our own static files (inline styles, never scripts,
on the third-party pages: admin, browsable API, API docs); the API docs load Swagger UI
and ReDoc from our own static files; logged URLs carry no search term or link secret."""

from __future__ import annotations

import io
import logging
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from pumpcare.security import DRF_LOGOUT_ONCLICK_HASH
from scheduling.calendar import feed_create

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(nurse):
    client = Client()
    client.force_login(nurse)
    return client


def _csp(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


# --- Cache-Control: no-store ----------------------------------------------------------


def test_every_response_with_patient_data_is_no_store(web, api, nurse, clinic, patient, pump):
    feed = feed_create(actor=nurse, clinic=clinic)
    responses = {
        "web worklist": web.get("/clinics/HOME/worklist/?q=Moreno"),
        "web pump page": web.get(f"/pumps/{pump.pk}/"),
        "API patient": api.get(f"/api/v1/patients/{patient.pk}/"),
        "API refusal": api.post("/api/v1/patients/", {}, format="json"),
        "calendar feed": Client().get(f"/calendar/{feed.token}.ics"),
        "login page": Client().get("/login/"),
        "not found": web.get("/pumps/999999/"),
    }
    for name, response in responses.items():
        assert response["Cache-Control"] == "no-store", name
    assert responses["web pump page"].status_code == 200
    assert responses["calendar feed"].status_code == 200


def test_static_files_keep_their_caching():
    response = Client().get("/static/web/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


# --- Content-Security-Policy -----------------------------------------------------------


def test_the_web_app_is_served_with_a_strict_content_security_policy(web):
    policy = _csp(web.get("/clinics/HOME/worklist/"))
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]


@pytest.mark.parametrize("url", ["/admin/login/", "/api-auth/login/", "/api/docs/", "/api/redoc/"])
def test_third_party_pages_may_use_inline_styles_but_never_inline_scripts(url):
    response = Client().get(url)
    assert response.status_code == 200
    policy = _csp(response)
    # Scripts: our own files, and by its hash the one inline handler DRF's browsable API
    # has (its "Log out" link); never 'unsafe-inline'.
    assert policy["script-src"] == ["'self'", "'unsafe-hashes'", DRF_LOGOUT_ONCLICK_HASH]
    assert "'unsafe-inline'" in policy["style-src"]


def test_the_one_inline_script_allowed_is_drf_s_logout_link(nurse):
    import base64
    import hashlib

    client = Client()
    client.force_login(nurse)
    html = client.get("/api/v1/clinics/", HTTP_ACCEPT="text/html").content.decode()
    handlers = re.findall(r"""\son[a-z]+=(?:'([^']*)'|"([^"]*)")""", html)
    assert [a or b for a, b in handlers] == ['document.getElementById("logoutForm").submit()']
    digest = base64.b64encode(hashlib.sha256(b'document.getElementById("logoutForm").submit()').digest())
    assert DRF_LOGOUT_ONCLICK_HASH == f"'sha256-{digest.decode()}'"


def _inline_code(text: str) -> list[str]:
    """Inline scripts (a <script> without src that is not a JSON data block), <style>
    blocks, style attributes and on* event handler attributes."""
    found = []
    for tag in re.findall(r"<script\b[^>]*>", text):
        if "src=" not in tag and "application/json" not in tag:
            found.append(tag)
    found += re.findall(r"<style\b", text)
    found += re.findall(r"\sstyle=\"", text)
    found += re.findall(r"\son[a-z]+=[\"']", text)
    return found


def test_our_templates_have_no_inline_scripts_or_styles():
    """The strict policy would block them: what we render uses static files only. (The
    emails and the PDFs' templates are not web pages: no CSP applies to them.)"""
    templates = [
        *sorted((ROOT / "web" / "templates").rglob("*.html")),
        ROOT / "scheduling" / "templates" / "scheduling" / "confirm.html",
        *sorted((ROOT / "templates").rglob("*.html")),
    ]
    assert len(templates) > 10
    offenders = {str(t.relative_to(ROOT)): _inline_code(t.read_text()) for t in templates}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_rendered_web_pages_have_no_inline_scripts_or_styles(web, pump):
    pages = {
        url: web.get(url)
        for url in ("/clinics/HOME/worklist/", f"/pumps/{pump.pk}/", f"/pumps/{pump.pk}/refill/")
    }
    pages["/login/"] = Client().get("/login/")
    for url, response in pages.items():
        assert response.status_code == 200, url
        assert _inline_code(response.content.decode()) == [], url


# --- API docs from our own static files --------------------------------------------------


def _external_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["'](https?:|//)[^"']*""", html)


def test_swagger_ui_loads_only_our_own_static_files():
    client = Client()
    page = client.get("/api/docs/")
    html = page.content.decode()
    assert _external_urls(html) == []
    assert "cdn.jsdelivr" not in html
    assets = re.findall(r"""(?:src|href)="([^"]+)""", html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        if asset.startswith("/static/"):
            assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a static file of ours"
            assert client.get(asset).status_code == 200, asset
    # The start-up script is a separate file (the split view), not an inline script.
    script = next(a for a in assets if "script" in a and not a.startswith("/static/"))
    response = client.get(script.replace("&amp;", "&"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in response.content.decode()


def test_redoc_loads_only_our_own_static_files():
    client = Client()
    html = client.get("/api/redoc/").content.decode()
    assert _external_urls(html) == []
    assert "fonts.googleapis" not in html
    bundle = re.search(r'src="(/static/[^"]*redoc[^"]*\.js)"', html)
    assert bundle and client.get(bundle[1]).status_code == 200


# --- logged URLs -----------------------------------------------------------------------


def test_the_development_server_log_does_not_show_search_terms_or_feed_tokens(caplog):
    """Django's runserver logs each request on django.server as '"%s" %s %s'."""
    logger = logging.getLogger("django.server")
    logger.addHandler(caplog.handler)
    try:
        logger.info('"%s" %s %s', "GET /clinics/HOME/worklist/?q=Moreno&urgency=due HTTP/1.1", "200", "512")
        logger.info('"%s" %s %s', "GET /calendar/s3cr3t-feed-token.ics HTTP/1.1", "200", "64")
        logger.info('"%s" %s %s', "GET /api/v1/patients/?mrn=D-1001 HTTP/1.1", "200", "64")
    finally:
        logger.removeHandler(caplog.handler)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        '"GET /clinics/HOME/worklist/?q=[redacted]&urgency=due HTTP/1.1" 200 512',
        '"GET /calendar/[redacted].ics HTTP/1.1" 200 64',
        '"GET /api/v1/patients/?mrn=[redacted] HTTP/1.1" 200 64',
    ]


def test_not_found_warnings_do_not_show_feed_tokens(caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        Client().get("/calendar/guessed-token.ics")
    messages = [r.getMessage() for r in caplog.records if r.name == "django.request"]
    assert messages == ["Not Found: /calendar/[redacted].ics"]


def test_gunicorn_access_log_does_not_show_search_terms_in_the_request_line_or_referer():
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    import pumpcare.gunicorn_conf  # noqa: F401 - installs the filter

    stream = io.StringIO()
    cfg = Config()
    cfg.set("accesslog", "-")
    log = Logger(cfg)
    log.access_log.handlers[0].stream = stream
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/clinics/HOME/worklist/?q=Moreno",
        "PATH_INFO": "/clinics/HOME/worklist/",
        "QUERY_STRING": "q=Moreno",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_REFERER": "https://pumps.example.org/clinics/HOME/worklist/?q=Ada+Moreno",
    }
    response = SimpleNamespace(status="200 OK", status_code=200, sent=512, response_length=512, headers=[])
    request = SimpleNamespace(headers=[])
    log.access(response, request, environ, timedelta(milliseconds=12))
    line = stream.getvalue()
    assert "GET /clinics/HOME/worklist/?q=[redacted] HTTP/1.1" in line
    assert "/clinics/HOME/worklist/?q=[redacted]" in line.split('"')[3]  # the Referer
    assert "Moreno" not in line
