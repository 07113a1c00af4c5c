"""Request body parsers (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES): DRF's, plus two checks
on every body before any view sees it:

- nesting: JSON nested deeper than ``MAX_DEPTH`` is refused (1,000 levels exhausted
  Python's recursion limit: a 500);
- text: every string, keys included, follows ``pumpcare.inputs.text_problem`` (no NUL,
  control characters or bidirectional overrides), refused naming its field path.

A refusal is the API's usual 400: ``{"code": "invalid", "field", "detail", "errors"}``.
"""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .inputs import text_problem

# Deeper than any body of the API (a prescription's flex steps are 3 levels deep).
MAX_DEPTH = 20


class BodyRefused(ParseError):
    """A body the checks refuse, naming the field. A ParseError, because that is what DRF
    expects of a parser (the browsable API reads the body again after the view and treats
    a ParseError as an unreadable body); ``pumpcare.api`` answers it like a refused field."""

    default_code = "invalid"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field != "non_field_errors" else message)
        self.errors = {field: [message]}


def check_body(data) -> None:
    """Refuse a parsed body nested deeper than ``MAX_DEPTH`` or with a refused character."""
    stack = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BodyRefused(path or "non_field_errors", f"is nested too deeply: at most {MAX_DEPTH} levels")
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise BodyRefused(path or "non_field_errors", problem)
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{key}" if path else str(key)
                problem = text_problem(str(key), one_line=True)
                if problem:
                    raise BodyRefused("non_field_errors", f"a field name {problem}")
                stack.append((item, name, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise BodyRefused(
                "non_field_errors", f"is nested too deeply: at most {MAX_DEPTH} levels"
            ) from None
        check_body(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        check_body(_fields(data))
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        check_body(_fields(parsed.data))
        return parsed


def _fields(query_dict) -> dict:
    """A form's fields as ``{name: value}`` (a list only for a repeated name)."""
    return {key: values[0] if len(values) == 1 else values for key, values in query_dict.lists()}
