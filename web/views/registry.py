"""The clinic's registry as a spreadsheet: download it (CSV or XLSX) and import one
(``exchange``), for the clinic's admin and physicians. The import runs as the person who
uploads, through the same services as every other page: it records fills and
prescriptions (and may carry a prescriber's override), so on this page a physician
imports; an admin downloads the registry and the template. (A nurse may import with the
``import_pumps`` command, without overrides: the services decide.) Nothing is written unless every row passes,
unless "keep the rows that pass" is ticked."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods
from rest_framework.exceptions import PermissionDenied

from exchange.exports import registry_export
from exchange.imports import registry_import
from exchange.spreadsheet import COLUMNS, FileRefused, letter, read, write
from patients.models import Role
from patients.permissions import role_at
from pumpcare import clock

from .common import my_clinics, render_page

PAGE_ROLES = (Role.ADMIN, Role.PHYSICIAN)
IMPORT_ROLES = (Role.PHYSICIAN,)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _clinic_for(request, code):
    clinic = next((c for c in my_clinics(request) if c.code == code), None)
    if clinic is None:
        raise Http404("not one of your clinics")
    role = role_at(request.user, clinic)
    if role not in PAGE_ROLES:
        raise DjangoPermissionDenied(
            "The registry import and export are for the clinic's admin and physicians."
        )
    return clinic, role


@login_required
@require_http_methods(["GET", "POST"])
def registry_page(request, code):
    clinic, role = _clinic_for(request, code)
    context = {
        "nav": "registry",
        "can_import": role in IMPORT_ROLES,
        "columns": [(letter(i), c) for i, c in enumerate(COLUMNS)],
        "report": None,
        "file_error": "",
    }
    status = 200
    if request.method == "POST" and not context["can_import"]:
        raise DjangoPermissionDenied(
            "Importing records the therapy: a physician of the clinic imports the file."
        )
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            context["file_error"] = "Choose the spreadsheet to import (.csv or .xlsx)."
        elif upload.size > MAX_UPLOAD_BYTES:
            context["file_error"] = f"{upload.name} is larger than 20 MB: split it into several files."
        else:
            try:
                sheet = read(upload.read(), upload.name)
                context["report"] = registry_import(
                    actor=request.user,
                    clinic=clinic,
                    sheet=sheet,
                    source=upload.name,
                    dry_run=bool(request.POST.get("check_only")),
                    partial=bool(request.POST.get("partial")),
                    override_reason=request.POST.get("override_reason", ""),
                )
                context["file_name"] = upload.name
            except FileRefused as error:
                context["file_error"] = str(error)
            except PermissionDenied as error:
                context["file_error"] = str(error.detail)
        if context["file_error"] or (context["report"] and context["report"].refused):
            status = 422
    return render_page(request, "web/registry.html", clinic, context, status=status)


@login_required
@require_GET
def registry_download(request, code, kind):
    clinic, _ = _clinic_for(request, code)
    if kind not in CONTENT_TYPES:
        raise Http404("a registry is downloaded as .csv or .xlsx")
    day = clock.now().astimezone(clinic.tz).date()
    response = HttpResponse(registry_export(clinic, kind), content_type=CONTENT_TYPES[kind])
    response["Content-Disposition"] = f'attachment; filename="pumps-{clinic.code}-{day:%Y-%m-%d}.{kind}"'
    return response


@login_required
@require_GET
def registry_template(request, code, kind):
    """The import's columns with no row: where a clinic starts its spreadsheet."""
    _clinic_for(request, code)
    if kind not in CONTENT_TYPES:
        raise Http404("the template is downloaded as .csv or .xlsx")
    response = HttpResponse(write([], kind), content_type=CONTENT_TYPES[kind])
    response["Content-Disposition"] = f'attachment; filename="pumpcare-import-template.{kind}"'
    return response
