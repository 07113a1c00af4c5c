"""What every page of the web app shares: the user's clinics, a page rendered with its
navigation, a pump looked up within the user's clinics (404 otherwise), a service's refusal in
the form's words (``REFUSALS``, ``refusal_of``, ``refused``, ``submit``, ``status_of``) and the
way back after a form."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, render
from rest_framework.exceptions import PermissionDenied

import therapy
from patients.models import Clinic, Pump
from patients.permissions import clinics_of, role_at

from .. import wording


def my_clinics(request) -> list[Clinic]:
    clinics = list(clinics_of(request.user).order_by("code"))
    if not clinics:
        raise DjangoPermissionDenied("This app is for clinic staff: your login has no clinic.")
    return clinics


def render_page(request, template, clinic, context, status=200):
    """Render a page of ``clinic`` with the navigation (clinic switcher, role)."""
    context.update(
        clinic=clinic,
        my_clinics=context.get("my_clinics") or my_clinics(request),
        my_role=role_at(request.user, clinic),
    )
    return render(request, template, context, status=status)


def pump_or_404(request, pump_id) -> Pump:
    pumps = Pump.objects.filter(patient__clinic__in=clinics_of(request.user)).select_related(
        "model", "catheter_model", "patient__clinic", "projection"
    )
    return get_object_or_404(pumps, pk=pump_id)


def refusal_of(error, clinic: Clinic | None = None) -> dict:
    """A service's refusal as the page shows it: field (the API's name, for the form), its
    label and the message in the form's words (instants in the clinic's zone), code and
    the numbers."""
    if isinstance(error, therapy.CalculationError):
        refusal = {**error.details, "field": error.field, "message": error.message, "code": error.code}
    elif isinstance(error, PermissionDenied):
        refusal = {"field": "role", "message": str(error.detail), "code": "role_required"}
    elif isinstance(error, ValidationError):
        # a model's full_clean names its field: the first one is the refusal's field
        field = next(iter(error.message_dict), "") if hasattr(error, "error_dict") else ""
        refusal = {"field": field, "message": "; ".join(error.messages), "code": "invalid"}
    else:
        raise error
    refusal["label"] = wording.field_label(refusal["field"])
    refusal["message"] = wording.humane(refusal["message"], clinic.tz if clinic else None)
    return refusal


REFUSALS = (therapy.CalculationError, PermissionDenied, ValidationError)


def refused(errors: dict[str, list[str]], error, fields, clinic: Clinic | None = None) -> None:
    """Put a service's refusal under its field when the form has it, else under "general"."""
    refusal = refusal_of(error, clinic)
    errors.setdefault(refusal["field"] if refusal["field"] in fields else "general", []).append(
        refusal["message"]
    )


def submit(form, clinic: Clinic, serializer_class, service, *, optional=(), context=None, **arguments):
    """A service form's input validated by the API's serializer, then the service called with
    it: ``(result, data)``, or None with the refusal filed under its field on the form."""
    data = form.validated(serializer_class, optional=optional, context=context)
    if data is None:
        return None
    try:
        return service(**arguments, **data), data
    except REFUSALS as error:
        refused(form.errors, error, ["role", *form.fields], clinic)
        return None


def back(request, default: str) -> str:
    """Where to return after a form: ``next`` when it is one of our paths."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else default


def status_of(form) -> int:
    """403 when the service refused the user's role, 400 for any other refusal, else 200."""
    if "role" in form.errors:
        return 403
    return 400 if form.errors else 200
