"""Brute force is stopped at every door. 30 wrong passwords at the web
login, the browsable API's login and the admin lock that login (django-axes): the right
password is then refused too, with a short page in words (429), until the cool-off has
passed. Wrong API tokens are answered 429 after the bound (DRF's throttle, per client
address), while a valid token keeps working and never touches the counter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.utils import timezone

from pumpcare.security import FailedTokenThrottle
from tests.conftest import client_for
from tests.factories import UserFactory

PASSWORD = "Pass-word-123!"
LOGINS = {
    "web app": "/login/",
    "browsable API": "/api-auth/login/",
    "admin": "/admin/login/",
}

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_user():
    # is_staff so that the admin's own login would let the right password in.
    return UserFactory(username="ana.rivera", is_staff=True)


def _login(client: Client, url: str, password: str):
    return client.post(url, {"username": "ana.rivera", "password": password})


# --- login lockout --------------------------------------------------------------------


@pytest.mark.parametrize("url", LOGINS.values(), ids=LOGINS.keys())
def test_thirty_wrong_passwords_lock_the_login_and_the_right_one_is_then_refused(staff_user, url, settings):
    client = Client()
    statuses = [_login(client, url, f"guess-{n}").status_code for n in range(30)]
    # The default limit is 10 (settings: LOGIN_FAILURE_LIMIT): 10 wrong answers re-show the
    # form (200); from the 10th on the login is locked (429).
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 10
    assert statuses[: limit - 1] == [200] * (limit - 1)
    assert set(statuses[limit:]) == {429}

    response = _login(client, url, PASSWORD)
    assert response.status_code == 429
    assert SESSION_KEY not in client.session, "the right password must not log in during the lockout"
    text = response.content.decode()
    assert "Too many wrong passwords" in text and "locked for 15 minutes" in text
    assert "Traceback" not in text and "axes" not in text.lower()


def test_a_locked_out_login_answers_json_to_a_client_that_asks_for_json(staff_user):
    client = Client(headers={"Accept": "application/json"})
    for n in range(10):
        _login(client, "/api-auth/login/", f"guess-{n}")
    response = _login(client, "/api-auth/login/", PASSWORD)
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    assert response.json()["detail"].startswith("Too many wrong passwords")


def test_the_lockout_is_per_username_and_address(staff_user):
    """A colleague behind the same clinic address, and the same nurse from another
    address, are not locked out by one person's wrong passwords."""
    colleague = UserFactory(username="ben.okafor")
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(30):
        _login(attacker, "/login/", f"guess-{n}")
    same_address = Client(REMOTE_ADDR="203.0.113.9")
    response = same_address.post("/login/", {"username": colleague.username, "password": PASSWORD})
    assert response.status_code == 302
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    assert _login(elsewhere, "/login/", PASSWORD).status_code == 302


def test_a_forged_forwarded_for_does_not_escape_the_lockout_without_a_trusted_proxy(staff_user):
    client = Client()
    for n in range(30):
        client.post(
            "/login/",
            {"username": "ana.rivera", "password": f"guess-{n}"},
            headers={"X-Forwarded-For": f"10.9.{n}.1"},
        )
    response = client.post(
        "/login/", {"username": "ana.rivera", "password": PASSWORD}, headers={"X-Forwarded-For": "10.99.0.1"}
    )
    assert response.status_code == 429


def test_the_lockout_ends_after_the_cool_off(staff_user, monkeypatch, settings):
    # The cool-off is 15 minutes (LOGIN_COOLOFF_MINUTES); each attempt during the lockout
    # starts it again. The 30 wrong passwords are at t0: at t0 + 14 min it is still locked.
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    client = Client()
    t0 = timezone.now()
    monkeypatch.setattr("axes.handlers.proxy.now", lambda: t0)
    for n in range(30):
        _login(client, "/login/", f"guess-{n}")
    monkeypatch.setattr("axes.handlers.proxy.now", lambda: t0 + timedelta(minutes=14))
    assert _login(client, "/login/", PASSWORD).status_code == 429
    # That refused attempt at t0 + 14 min started the cool-off again: at t0 + 28 min
    # (14 min later) it is still locked, and that try starts it again too.
    monkeypatch.setattr("axes.handlers.proxy.now", lambda: t0 + timedelta(minutes=28))
    assert _login(client, "/login/", PASSWORD).status_code == 429
    # 16 minutes after the last try, the right password logs in.
    monkeypatch.setattr("axes.handlers.proxy.now", lambda: t0 + timedelta(minutes=28 + 16))
    response = _login(client, "/login/", PASSWORD)
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(staff_user.pk)


def test_a_shorter_cool_off_from_the_settings_is_used(staff_user, monkeypatch, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    t0 = timezone.now()
    monkeypatch.setattr("axes.handlers.proxy.now", lambda: t0)
    for n in range(3):
        _login(client, "/login/", f"guess-{n}")
    response = _login(client, "/login/", PASSWORD)
    assert response.status_code == 429
    assert "locked for 1 minute," in response.content.decode()
    monkeypatch.setattr("axes.handlers.proxy.now", lambda: t0 + timedelta(seconds=61))
    assert _login(client, "/login/", PASSWORD).status_code == 302


def test_a_successful_login_clears_earlier_failures(staff_user):
    client = Client()
    for n in range(9):
        _login(client, "/login/", f"guess-{n}")
    assert _login(client, "/login/", PASSWORD).status_code == 302
    client.post("/logout/")
    for n in range(9):
        _login(client, "/login/", f"again-{n}")
    assert _login(client, "/login/", PASSWORD).status_code == 302


# --- API token throttling -------------------------------------------------------------

BAD = {"HTTP_AUTHORIZATION": "Token " + "0" * 40}


def test_wrong_tokens_are_answered_429_after_the_bound_and_a_valid_token_still_works(nurse, settings):
    # API_FAILED_TOKEN_RATE is 20/min: 20 wrong tokens are answered 401, the 21st 429.
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["failed_token"] == "20/min"
    client = client_for(None)
    statuses = [client.get("/api/v1/clinics/", **BAD).status_code for _ in range(20)]
    assert statuses == [401] * 20
    response = client.get("/api/v1/clinics/", **BAD)
    assert response.status_code == 429
    assert response.json()["code"] == "too_many_failed_tokens"
    assert "Too many requests with a wrong or missing token" in response.json()["detail"]
    assert 1 <= int(response["Retry-After"]) <= 60
    # A malformed header is a failed attempt too.
    assert client.get("/api/v1/clinics/", HTTP_AUTHORIZATION="Token").status_code == 429

    # The nurse's valid token, from the same address, still works.
    assert client_for(nurse).get("/api/v1/clinics/").status_code == 200


def test_a_valid_token_does_not_touch_the_throttle_cache(nurse, monkeypatch):
    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"a valid token's request used the cache ({name})")

    monkeypatch.setattr(FailedTokenThrottle, "cache", Untouchable())
    assert client_for(nurse).get("/api/v1/clinics/").status_code == 200


def test_the_throttle_counts_per_address_and_forgets_after_its_window(nurse, monkeypatch):
    clock = {"t": 1_000_000.0}
    monkeypatch.setattr(FailedTokenThrottle, "timer", lambda self: clock["t"])
    client = client_for(None)
    for _ in range(20):
        client.get("/api/v1/clinics/", **BAD)
    # A forged X-Forwarded-For is not believed without a trusted proxy (TRUSTED_PROXIES=0).
    assert client.get("/api/v1/clinics/", HTTP_X_FORWARDED_FOR="10.1.2.3", **BAD).status_code == 429
    # Another address has its own count.
    assert client.get("/api/v1/clinics/", REMOTE_ADDR="198.51.100.7", **BAD).status_code == 401
    # One minute after the first failures they are forgotten.
    clock["t"] += 61
    assert client.get("/api/v1/clinics/", **BAD).status_code == 401


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(nurse, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = client_for(None)
    for _ in range(20):
        client.get("/api/v1/clinics/", HTTP_X_FORWARDED_FOR="203.0.113.9", **BAD)
    assert client.get("/api/v1/clinics/", HTTP_X_FORWARDED_FOR="203.0.113.9", **BAD).status_code == 429
    assert client.get("/api/v1/clinics/", HTTP_X_FORWARDED_FOR="198.51.100.7", **BAD).status_code == 401


def test_a_failing_cache_leaves_a_wrong_token_at_401_not_500(nurse, monkeypatch):
    class Broken:
        def get(self, *args, **kwargs):
            raise ConnectionError("redis is down")

        set = get

    monkeypatch.setattr(FailedTokenThrottle, "cache", Broken())
    assert client_for(None).get("/api/v1/clinics/", **BAD).status_code == 401
