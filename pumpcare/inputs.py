"""What the API accepts from outside, one place per kind of defence.

- Text: ``text_problem`` refuses NUL and other control characters (PostgreSQL cannot store
  NUL; the others break headers, files and screens) and the bidirectional overrides and
  isolates (U+202A–U+202E, U+2066–U+2069) that make a name read backwards. Request bodies
  apply it to every string (``pumpcare.parsers``), query parameters through ``Query``, and
  path parameters through the ``code`` and ``token`` URL converters.
- Query parameters: ``Query`` reads a filter as an integer, a code, a text or a date, and
  refuses anything else with a 400 naming the parameter instead of a database error.
- Dates: ``DateField`` and ``DateTimeField`` refuse a year outside
  ``therapy.units.EARLIEST_YEAR``..``LATEST_YEAR`` (year 1 or 9999 would overflow the
  projection's date arithmetic); ``ModelSerializer`` uses them for model dates.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from django.db import models
from rest_framework import serializers

import therapy

# C0 controls except tab, line feed and carriage return (multi-line notes keep those), DEL,
# C1 controls, and the bidirectional embeddings, overrides and isolates.
_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# The same set for one-line values (codes, tokens, filters): no line breaks or tabs either.
_REFUSED_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

LARGEST_ID = 2**63 - 1  # bigint: a larger id names nothing


def text_problem(value: str, *, one_line: bool = False) -> str | None:
    """Why ``value`` is refused as text, in a person's words, or None when it is fine."""
    match = (_REFUSED_ONE_LINE if one_line else _REFUSED).search(value)
    if match is None:
        return None
    char = match.group()
    if char == "\x00":
        what = "a null character"
    elif char in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        what = f"a right-to-left or left-to-right override (U+{ord(char):04X})"
    else:
        what = f"a control character (U+{ord(char):04X})"
    return f"contains {what}: type plain text"


# --- query parameters -------------------------------------------------------------------


class Query:
    """The filters of a request's query string, each read as what it must be; a value that
    is not refuses the request (400) naming the parameter and what is allowed. An absent or
    empty parameter is None."""

    def __init__(self, params):
        self.params = params

    def filtered(self, queryset, filters: dict):
        """``queryset`` filtered by each parameter given: ``filters`` maps a parameter to
        (lookup, reader), the reader being one of this class's methods."""
        for param, (lookup, read) in filters.items():
            if (value := read(param)) is not None:
                queryset = queryset.filter(**{lookup: value})
        return queryset

    def text(self, name: str) -> str | None:
        value = self.params.get(name)
        if not value:
            return None
        problem = text_problem(value, one_line=True)
        if problem:
            raise serializers.ValidationError({name: [problem]})
        if len(value) > 200:
            raise serializers.ValidationError({name: ["is too long: at most 200 characters"]})
        return value

    def code(self, name: str) -> str | None:
        """A clinic, catalog or other code (or a username)."""
        return self.text(name)

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not value.isascii() or not value.isdigit() or int(value) > LARGEST_ID:
            raise serializers.ValidationError({name: ["must be a whole number (an id)"]})
        return int(value)

    def day(self, name: str) -> date | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise serializers.ValidationError({name: ["must be a date written 2026-06-01"]}) from None
        try:
            therapy.units.check_year(day, name)
        except therapy.CalculationError as error:
            raise serializers.ValidationError({name: [error.message]}) from None
        return day

    def choice(self, name: str, allowed) -> str | None:
        value = self.text(name)
        if value is not None and value not in allowed:
            raise serializers.ValidationError({name: [f"must be one of {', '.join(allowed)}"]})
        return value


# --- path parameters (registered in pumpcare/urls.py) -------------------------------------


class CodeConverter:
    """A code in a path (a clinic, a catalog entry): any characters but '/', control
    characters and bidirectional overrides. A path with one names nothing: 404."""

    # Escapes, not the characters themselves, so the OpenAPI document shows a readable pattern.
    regex = r"[^/\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


CODE_REGEX = CodeConverter.regex
# For a router whose lookup also ends at a '.' (the ``.json`` format suffix), e.g. clinics.
CODE_REGEX_NO_DOT = CODE_REGEX.replace("[^/", "[^/.", 1)


class TokenConverter(CodeConverter):
    """A secret token in a path (calendar feeds: ``secrets.token_urlsafe``)."""

    regex = "[A-Za-z0-9_-]+"


# --- dates ------------------------------------------------------------------------------


def _check_year(value: date | datetime, field: str) -> None:
    try:
        therapy.units.check_year(value, field)
    except therapy.CalculationError as error:
        raise serializers.ValidationError(error.message, code=error.code) from error


class DateField(serializers.DateField):
    """A date from the years ``therapy.units.EARLIEST_YEAR`` to ``LATEST_YEAR``."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        _check_year(day, self.field_name)
        return day


class DateTimeField(serializers.DateTimeField):
    """An instant from the years ``therapy.units.EARLIEST_YEAR`` to ``LATEST_YEAR``, checked
    before it is moved to a time zone (year 1 east of UTC is before the first instant)."""

    def enforce_timezone(self, value):
        _check_year(value, self.field_name)
        return super().enforce_timezone(value)


class ModelSerializer(serializers.ModelSerializer):
    # The project's model serializer: model dates and instants within the years above. (A
    # comment, not a docstring: the API schema would give it to every serializer without one.)

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateField: DateField,
        models.DateTimeField: DateTimeField,
    }


def validated(serializer_class, request, pump=None, clinic=None) -> dict:
    """The input of a request, validated; a local time without offset is read in the zone of
    the pump's (or the given) clinic."""
    context = {"request": request}
    if pump is not None or clinic is not None:
        context["clinic_tz"] = (clinic or pump.patient.clinic).tz
    serializer = serializer_class(data=request.data, context=context)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
