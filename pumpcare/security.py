"""The locked doors: who is asking, login lockout answers, token throttling,
the Content-Security-Policy's exceptions and ``Cache-Control: no-store``.

The protocols themselves come from kept libraries (django-axes counts failed logins,
django-csp writes the policy header, DRF's throttle keeps the sliding window); this module
holds only the project's choices about them. README: Security.
"""

from __future__ import annotations

import logging
import math

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

log = logging.getLogger(__name__)


def client_ip(request) -> str:
    """The address of the client: ``REMOTE_ADDR``, or, behind ``TRUSTED_PROXIES`` reverse
    proxies, the address the nearest one put in ``X-Forwarded-For``. DRF's rule
    (``NUM_PROXIES``), so a login lockout and a token throttle count the same client.
    Without a trusted proxy a client's own ``X-Forwarded-For`` is ignored: otherwise every
    request could claim a new address and never be locked out."""
    return BaseThrottle().get_ident(request)


# --- login lockout (django-axes) --------------------------------------------------------


def lockout_minutes() -> int:
    return max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_response(request, original_response=None, credentials=None):
    """What a locked-out login answers (``AXES_LOCKOUT_CALLABLE``): a short page in the
    nurse's words, or JSON for a client that asked for JSON. 429, as axes answers."""
    minutes = lockout_minutes()
    message = (
        f"Too many wrong passwords: signing in from this computer is locked for {minutes} "
        f"minute{'s' if minutes != 1 else ''}, and each try before then starts the wait again. "
        "Wait, then try again with the right password, or ask your clinic's administrator to "
        "unlock the account."
    )
    wants_json = request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")
    if wants_json or request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return JsonResponse({"code": "locked_out", "detail": message}, status=429)
    return render(request, "web/locked_out.html", {"message": message, "minutes": minutes}, status=429)


# --- API token throttling ---------------------------------------------------------------


class FailedTokenThrottle(SimpleRateThrottle):
    """Failed ``Authorization: Token`` attempts per client address, in DRF's sliding window
    (``DEFAULT_THROTTLE_RATES["failed_token"]``, kept in the default cache). Only failures
    are counted: a valid token never touches the cache."""

    scope = "failed_token"

    def get_rate(self):
        # Read at each use (DRF binds THROTTLE_RATES when the class is defined), so a
        # settings override in a test or a reload takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}


class TooManyFailedTokens(exceptions.Throttled):
    default_code = "too_many_failed_tokens"

    def __init__(self, wait):
        seconds = max(1, math.ceil(wait or 1))
        super().__init__(
            wait=seconds,
            detail=(
                f"Too many requests with a wrong or missing token from this address: try again in "
                f"{seconds} second{'s' if seconds != 1 else ''} with a valid token."
            ),
        )


def count_failed_token(request) -> None:
    """Count one failed token attempt from this client; past the bound, refuse with 429
    (``TooManyFailedTokens``) instead of 401. A cache that fails does not turn a refusal
    into a server error: the attempt is refused with 401, uncounted."""
    throttle = FailedTokenThrottle()
    try:
        allowed = throttle.allow_request(request, None)
    except Exception:  # noqa: BLE001 - a failing cache must not answer 500
        log.warning("failed-token throttle: cache failed; attempt not counted", exc_info=True)
        return
    if not allowed:
        raise TooManyFailedTokens(throttle.wait())


# --- Content-Security-Policy ------------------------------------------------------------

# Pages from kept libraries whose templates carry inline style attributes and <style>
# blocks (Django's admin change list, DRF's browsable API and its login page, ReDoc's
# styled-components): they may use inline *styles*, never inline scripts — with one
# exception named by its hash: the browsable API's "Log out" link, whose onclick is
# DRF's ``document.getElementById("logoutForm").submit()`` (rest_framework's
# optional_logout tag); 'unsafe-hashes' lets that one handler, and no other, run.
# ReDoc renders in a web worker started from a blob: URL. The nurses' web app and the
# patients' confirmation page keep the strict policy.
THIRD_PARTY_PAGE_PREFIXES = ("/admin/", "/api/", "/api-auth/")
DRF_LOGOUT_ONCLICK_HASH = "'sha256-tHTC1YgZ5UbAs8E2Ib4NjuSS8R05d1nfPHtbmXq05WA='"
THIRD_PARTY_PAGE_UPDATE = {
    "style-src": ["'unsafe-inline'"],
    "script-src": ["'unsafe-hashes'", DRF_LOGOUT_ONCLICK_HASH],
    "worker-src": ["blob:"],
}


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware with the one exception above."""

    def get_policy_parts(self, request, response, report_only=False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and request.path_info.startswith(THIRD_PARTY_PAGE_PREFIXES):
            parts.update = {**THIRD_PARTY_PAGE_UPDATE, **(parts.update or {})}
        return parts


# --- Cache-Control ----------------------------------------------------------------------


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response the application renders: pages, API
    JSON, PDFs and the calendar feed carry patient data, and a shared computer's browser
    cache or a proxy must not keep them. Static files are answered by WhiteNoise before
    this middleware (it sits after WhiteNoise) and keep their long caching."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response["Cache-Control"] = "no-store"
        return response
