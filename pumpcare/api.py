"""API-wide pieces: one error shape for every refusal.

Every 4xx body is ``{"code": ..., "detail": <sentence>, "errors": {<field>: [<messages>]}}``
(a refused input also names its first ``field``)
plus, for clinical refusals, the numbers behind them (for example the titration limit).
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from therapy import CalculationError

from .parsers import BodyRefused


def exception_handler(exc, context):
    if isinstance(exc, CalculationError):
        body = {"code": exc.code, "field": exc.field, "detail": f"{exc.field}: {exc.message}"}
        body["errors"] = {exc.field: [exc.message]}
        body.update({k: str(v) if isinstance(v, Decimal) else v for k, v in exc.details.items()})
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(errors)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"code": "invalid", "field": _first_field(errors), "detail": _first(errors)}
        response.data["errors"] = errors
    elif isinstance(exc, BodyRefused):  # a body string or nesting the parsers refuse
        field = next(iter(exc.errors))
        response.data = {"code": "invalid", "field": field, "detail": str(exc.detail), "errors": exc.errors}
    elif isinstance(exc, exceptions.ParseError):  # a body that is not JSON (or form data)
        response.data = {
            "code": "parse_error",
            "field": "non_field_errors",
            "detail": str(exc.detail),
            "errors": {"non_field_errors": [str(exc.detail)]},
        }
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else "error",
            "detail": str(exc.detail),
        }
    elif isinstance(exc, Http404):
        response.data = {"code": "not_found", "detail": "Not found."}
    return response


def _first_field(errors) -> str:
    """The field the first message is about: ``prescription`` for ``prescription.mode``."""
    if isinstance(errors, dict) and errors:
        return str(next(iter(errors)))
    return "non_field_errors"


def _first(errors, path="") -> str:
    """The first message, prefixed with its field path: 'prescription: ...'."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = key if key == "non_field_errors" else (f"{path}.{key}" if path else str(key))
            return _first(value, name)
    if isinstance(errors, list) and errors:
        first = errors[0]
        if isinstance(first, dict | list):
            return _first(first, f"{path}[0]")
        return f"{path}: {first}" if path and path != "non_field_errors" else str(first)
    return f"{path}: {errors}" if path else str(errors)
