"""Access logs without patient data or secrets.

A logged URL is kept for weeks and read by people who may not see the patients: the web
worklist's search (``?q=Moreno``), the API's ``?mrn=`` filter, the calendar feed's secret
token (``/calendar/<token>.ics``) and the confirmation link's signed token
(``/confirm/<token>/``) are replaced by ``[redacted]`` in every access-log line — the
request line and the Referer, which repeats the search page's URL on the next click.

Used by Django's development server log (``django.server``, settings.LOGGING) and by
gunicorn's access log (pumpcare.gunicorn_conf). No Django import: gunicorn's master loads
this before Django is set up.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
# Query parameters whose values name or identify a patient.
SEARCH_PARAMETERS = ("q", "search", "mrn")
_PARAMETER = re.compile(r"(?P<key>[?&](?:" + "|".join(SEARCH_PARAMETERS) + r")=)[^&#\s\"]*", re.IGNORECASE)
# Bearer secrets in paths.
_PATH_SECRET = re.compile(r"(?P<key>/(?:calendar|confirm)/)[^/\s\"?#]+?(?P<end>\.ics|/|(?=[\s\"?#]|$))")


def redact(text: str) -> str:
    """``text`` (a URL, a request line or a whole log line) with search terms and path
    secrets replaced by ``[redacted]``."""
    text = _PARAMETER.sub(lambda m: m["key"] + REDACTED, text)
    return _PATH_SECRET.sub(lambda m: m["key"] + REDACTED + m["end"], text)


def _redact_value(value):
    return redact(value) if isinstance(value, str) else value


class RedactSearchTerms(logging.Filter):
    """A logging filter that redacts the record's message and its string arguments (a
    tuple for Django's server log, a dict of atoms for gunicorn's access log)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, dict):
            # gunicorn's atoms: "q" is the query string without its "?".
            record.args = {
                key: redact("?" + value)[1:]
                if key == "q" and isinstance(value, str)
                else _redact_value(value)
                for key, value in record.args.items()
            }
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_value(value) for value in record.args)
        return True
