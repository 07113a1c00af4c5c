"""The HTTP answer that carries a printed card, shared by the API and the web app.

The file name is built from stored text (a pump's serial number, a clinic's code), which
may hold anything: quotes, control characters, non-ASCII letters, a thousand characters.
``Content-Disposition`` is written by Django's ``content_disposition_header`` (RFC 6266,
with RFC 5987's ``filename*`` for what a quoted string cannot carry), after control
characters and path separators are replaced and the name is shortened, so the header is
always one a browser accepts and the download a name a file system accepts.

A view issues a card and builds this answer in one transaction
(``cards.services.card_issue`` / ``cards_issue_batch`` then ``pdf_response``): if the answer
cannot be built, the issued-card rows roll back and the card stays stale (REFILL-4).
"""

from __future__ import annotations

import unicodedata

from django.http import HttpResponse
from django.utils.http import content_disposition_header

from .models import CardFormat

MAX_STEM = 80  # characters of the file name before ".pdf"


def safe_filename(stem: str, extension: str = "pdf") -> str:
    """``stem.extension`` with every control character, slash and backslash replaced by
    "_", surrounding spaces and dots dropped, and at most MAX_STEM characters before the
    extension."""
    cleaned = "".join(
        "_" if unicodedata.category(ch).startswith("C") or ch in "/\\" else ch for ch in stem
    ).strip(" .")
    return f"{cleaned[:MAX_STEM] or 'card'}.{extension}"


def card_filename(card_format: str, serial_number: str) -> str:
    name = "caregiver-sheet" if card_format == CardFormat.SHEET else "emergency-card"
    return safe_filename(f"{name}-{serial_number}")


def batch_filename(clinic_code: str) -> str:
    return safe_filename(f"emergency-cards-{clinic_code}")


def pdf_response(pdf: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, filename)
    response["Cache-Control"] = "no-store"  # health data
    return response
