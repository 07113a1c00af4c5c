"""The OpenAPI document is the contract: what it says is what the API answers.

Two pieces, each in one place rather than on every view:

- ``AutoSchema``: a read-only field over a nullable model column (``raised_by``, ``nurse``,
  ``resent_by``, ...) is documented ``nullable``; DRF only marks the fields a ModelSerializer
  builds itself, not the ones a serializer declares.
- ``add_error_responses`` (a drf-spectacular postprocessing hook): every operation documents
  the refusals ``pumpcare.api.exception_handler`` answers, with one shared ``Error`` body.
"""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_spectacular import openapi

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Every refusal (pumpcare.api.exception_handler). ``field`` names the first input at "
        "fault; ``errors`` gives every message by field (nested like the input); a clinical "
        "refusal adds the numbers behind it (for example ``limit_pct``, "
        "``max_allowed_daily_dose_mcg``) as further keys."
    ),
    "properties": {
        "code": {
            "type": "string",
            "description": "machine-readable reason: invalid, titration_limit_exceeded, role_required, "
            "not_found, permission_denied, not_authenticated, ...",
        },
        "field": {"type": "string", "description": "the first field at fault (a refused input only)"},
        "detail": {"type": "string", "description": "the first problem, in a sentence"},
        "errors": {
            "type": "object",
            "description": "field: [messages] (a nested input nests its messages the same way)",
            "additionalProperties": {},
        },
    },
    "required": ["code", "detail"],
    "additionalProperties": {},
}

# status: (description, for which operations)
ERROR_RESPONSES = {
    "400": ("Refused: the input or a clinical rule; nothing written", "all"),
    "401": ("Not logged in, or an unknown token", "all"),
    "403": ("A role this needs is missing (role_required)", "all"),
    "404": ("Not found among the user's clinics", "all"),
    "409": ("Conflicts with the object's current state", "unsafe"),
    "415": ("The body is not JSON", "body"),
    "429": ("Too many failed attempts", "all"),
}

SAFE_METHODS = {"get", "head", "options"}


class AutoSchema(openapi.AutoSchema):
    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if direction == "response" and field.read_only and getattr(_column(field), "null", False):
            meta["nullable"] = True
        return meta

    def _insert_field_validators(self, field, schema):
        super()._insert_field_validators(field, schema)
        # A shown email or URL that may be empty (a notification's email): "" is documented
        # as drf-spectacular documents an input that may be blank (it was "not an email").
        if (
            field.read_only
            and not getattr(field, "allow_blank", False)
            and isinstance(column := _column(field), models.CharField | models.TextField)
            and column.blank
            and schema.get("format") in ("email", "uri")
        ):
            outer_keys = {"readOnly", "writeOnly", "nullable", "deprecated", "description", "title"}
            inner = {key: schema.pop(key) for key in list(schema) if key not in outer_keys}
            schema["oneOf"] = [inner, {"type": "string", "maxLength": 0}]


def _column(field):
    """The model column a serializer field shows (a plain ``source``), or None."""
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    source = getattr(field, "source_attrs", None) or [field.field_name]
    if model is None or len(source) != 1:
        return None
    try:
        column = model._meta.get_field(source[0])
    except FieldDoesNotExist:
        return None
    # A reverse relation (a clinic's closures, a patient's pumps) is a list, never null.
    return column if column.concrete else None


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: the shared Error component, and on every operation the error
    statuses it may answer (an error response a view documents itself is kept)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, (description, scope) in ERROR_RESPONSES.items():
                if scope == "unsafe" and method in SAFE_METHODS:
                    continue
                if scope == "body" and "requestBody" not in operation:
                    continue
                response = responses.setdefault(status, {"description": description})
                # A view's own error response keeps its body; one that names none (a PDF
                # endpoint's 404) gets the Error body the exception handler answers with.
                response.setdefault("content", body)
    return result
