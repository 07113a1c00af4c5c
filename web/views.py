"""The nurses' web app: server-rendered pages over the same services and selectors as the
API. Views parse, call one service, and render; every number shown comes from the
calculation core through them. Data is scoped like the API: another clinic's pump, clinic,
appointment or alert answers 404."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_date, parse_time
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.exceptions import PermissionDenied

import therapy
from alerts.models import Alert, AlertKind, Notification
from alerts.services import alert_acknowledge
from cards import responses as card_responses
from cards import selectors as card_selectors
from cards import services as card_services
from cards.models import CardFormat
from cards.render import CardRenderError
from patients.models import CatheterModel, Clinic, Patient, Pump, PumpModel, PumpStatus, Role
from patients.permissions import (
    CLINICAL_WRITERS,
    PATIENT_WRITERS,
    PRESCRIBERS,
    PUMP_WRITERS,
    clinics_of,
    role_at,
)
from pumpcare import clinical, clock
from pumpcare.inputs import text_problem
from refills import replacement, screening, selectors, services
from refills.api import PumpExplantInputSerializer, PumpReplaceInputSerializer
from refills.models import PumpExplant
from scheduling import appointments, proposals, worklist
from scheduling.models import OPEN_STATUSES, Appointment, AppointmentKind, AppointmentStatus

from . import forms, wording
from .charts import reservoir_chart

log = logging.getLogger(__name__)
PAGE_SIZE = 50
NOT_RENDERED = (
    "could not be made into a PDF (the printing engine failed). Nothing was recorded and the "
    "card is still stale: try again, and tell your administrator if it keeps failing."
)
OVERDUE = ("past_empty", "past_alarm", "overdue", "no_show")
DUE = ("due_unbooked", "scheduled")
URGENCY_GROUPS = {
    "overdue": [worklist.RANK[c] for c in OVERDUE],
    "due": [worklist.RANK[c] for c in DUE],
    **{code: [rank] for code, rank in worklist.RANK.items()},
}
# Words as well as colour (ALERT-1): the label a nurse reads, the style a sighted nurse scans.
URGENCY_STYLE = {
    "past_empty": ("critical", "Past empty"),
    "past_alarm": ("critical", "Past alarm"),
    "overdue": ("critical", "Overdue"),
    "no_show": ("critical", "Missed refill"),
    "due_unbooked": ("warning", "Due, not booked"),
    "replacement_overdue": ("warning", "Book replacement"),
    "no_projection": ("warning", "No projection"),
    "scheduled": ("ok", "Due, booked"),
    "upcoming": ("calm", "Not yet due"),
}


# --- helpers ---------------------------------------------------------------------------


def _my_clinics(request) -> list[Clinic]:
    clinics = list(clinics_of(request.user).order_by("code"))
    if not clinics:
        raise DjangoPermissionDenied("This app is for clinic staff: your login has no clinic.")
    return clinics


def _page(request, template, clinic, context, status=200):
    """Render a page of ``clinic`` with the navigation (clinic switcher, role)."""
    context.update(
        clinic=clinic,
        my_clinics=context.get("my_clinics") or _my_clinics(request),
        my_role=role_at(request.user, clinic),
    )
    return render(request, template, context, status=status)


def _pump_or_404(request, pump_id) -> Pump:
    pumps = Pump.objects.filter(patient__clinic__in=clinics_of(request.user)).select_related(
        "model", "catheter_model", "patient__clinic", "projection"
    )
    return get_object_or_404(pumps, pk=pump_id)


def _refusal(error, clinic: Clinic | None = None) -> dict:
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


def _refused(errors: dict[str, list[str]], error, fields, clinic: Clinic | None = None) -> None:
    """Put a service's refusal under its field when the form has it, else under "general"."""
    refusal = _refusal(error, clinic)
    errors.setdefault(refusal["field"] if refusal["field"] in fields else "general", []).append(
        refusal["message"]
    )


def _submit(form, clinic: Clinic, serializer_class, service, *, optional=(), context=None, **arguments):
    """A service form's input validated by the API's serializer, then the service called with
    it: ``(result, data)``, or None with the refusal filed under its field on the form."""
    data = form.validated(serializer_class, optional=optional, context=context)
    if data is None:
        return None
    try:
        return service(**arguments, **data), data
    except REFUSALS as error:
        _refused(form.errors, error, ["role", *form.fields], clinic)
        return None


def _back(request, default: str) -> str:
    """Where to return after a form: ``next`` when it is one of our paths."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else default


# --- entry, clinic switcher ------------------------------------------------------------


@login_required
@require_GET
def home(request):
    """The worklist of the user's first clinic (the one chosen last in this session)."""
    clinics = _my_clinics(request)
    chosen = request.session.get("clinic")
    clinic = next((c for c in clinics if c.code == chosen), clinics[0])
    return redirect("web:worklist", code=clinic.code)


@login_required
@require_GET
def switch_clinic(request):
    code = request.GET.get("clinic", "")
    if text_problem(code, one_line=True):  # a NUL cannot be looked up: no such clinic
        raise Http404("not one of your clinics")
    clinic = get_object_or_404(clinics_of(request.user), code=code)
    return redirect("web:worklist", code=clinic.code)


# --- worklist --------------------------------------------------------------------------


def _strip(clinic: Clinic, pumps, now) -> dict:
    """The counts at the top of the worklist, in two queries plus the card read."""
    today = now.astimezone(clinic.tz).date()
    open_replacement = Alert.objects.filter(
        pump=OuterRef("pk"),
        kind__in=[AlertKind.REPLACEMENT_PLANNING, AlertKind.REPLACEMENT_OVERDUE],
        resolved_at__isnull=True,
    )
    counts = (
        pumps.order_by()
        .annotate(replacement_open=Exists(open_replacement))
        .aggregate(
            overdue=Count("pk", filter=Q(urgency__in=URGENCY_GROUPS["overdue"])),
            due=Count("pk", filter=Q(urgency__in=URGENCY_GROUPS["due"])),
            replacements=Count(
                "pk",
                filter=Q(projection__replacement_book_by__lt=today, replacement_booked=False)
                | Q(replacement_open=True),
            ),
        )
    )
    counts["alerts"] = Alert.objects.filter(
        clinic=clinic, acknowledged_at__isnull=True, resolved_at__isnull=True
    ).count()
    return counts


@login_required
@require_GET
def worklist_page(request, code):
    clinics = _my_clinics(request)
    clinic = next((c for c in clinics if c.code == code), None)
    if clinic is None:
        raise Http404("not one of your clinics")
    request.session["clinic"] = clinic.code
    now = clock.now()
    params = request.GET
    status = params.get("status") or None
    if status not in (None, "proposed", "booked", "none"):
        status = None
    nurse = params.get("nurse") or None
    # A NUL cannot be looked up (PostgreSQL): nobody has such a username, so nothing is listed.
    unknown_nurse = bool(nurse) and text_problem(nurse, one_line=True) is not None
    pumps = worklist.worklist(
        clinic, now=now, nurse=None if unknown_nurse else nurse, appointment_status=status
    )
    if unknown_nurse:
        pumps = pumps.none()
    strip = _strip(clinic, worklist.worklist(clinic, now=now), now)
    stale_ids = card_selectors.stale_card_pump_ids(clinic)
    strip["stale_cards"] = len(stale_ids)
    urgency = params.get("urgency", "")
    if urgency in URGENCY_GROUPS:
        pumps = pumps.filter(urgency__in=URGENCY_GROUPS[urgency])
    show = params.get("show", "")
    if show == "stale_cards":
        pumps = pumps.filter(pk__in=stale_ids)
    elif show == "replacements":
        today = now.astimezone(clinic.tz).date()
        pumps = pumps.filter(
            Q(projection__replacement_book_by__lt=today, replacement_booked=False)
            | Q(
                Exists(
                    Alert.objects.filter(
                        pump=OuterRef("pk"),
                        kind__in=[AlertKind.REPLACEMENT_PLANNING, AlertKind.REPLACEMENT_OVERDUE],
                        resolved_at__isnull=True,
                    )
                )
            )
        )
    query = params.get("q", "").strip()
    if query:
        pumps = pumps.filter(
            Q(patient__mrn__icontains=query)
            | Q(patient__family_name__icontains=query)
            | Q(patient__given_name__icontains=query)
        )
    page = Paginator(worklist.ranked(pumps), PAGE_SIZE).get_page(params.get("page"))
    rows = worklist.worklist_rows(worklist.ranked_pumps(page.object_list), clinic, now=now)
    for row in rows:
        row["style"], row["short"] = URGENCY_STYLE[row["urgency"]["code"]]
    nurses = (
        get_user_model()
        .objects.filter(memberships__clinic=clinic, memberships__role__in=[Role.NURSE, Role.PHYSICIAN])
        .order_by("username")
    )
    filters = params.copy()
    filters.pop("page", None)
    return _page(
        request,
        "web/worklist.html",
        clinic,
        {
            "my_clinics": clinics,
            "nav": "worklist",
            "rows": rows,
            "page": page,
            "strip": strip,
            "urgencies": [(code, URGENCY_STYLE[code][1]) for code, _ in worklist.URGENCY],
            "nurses": nurses,
            "f": {
                "q": query,
                "urgency": urgency,
                "status": status or "",
                "nurse": params.get("nurse", ""),
                "show": show,
            },
            "filter_query": filters.urlencode(),
            "now": now,
            "today": now.astimezone(clinic.tz).date(),
            "can_refill": role_at(request.user, clinic) in CLINICAL_WRITERS,
        },
    )


@login_required
@require_GET
def clinic_alerts(request, code):
    clinic = get_object_or_404(clinics_of(request.user), code=code)
    alerts = (
        Alert.objects.filter(clinic=clinic, acknowledged_at__isnull=True, resolved_at__isnull=True)
        .select_related("pump__patient__clinic", "pump__projection")
        .order_by("severity", "-raised_at")
    )
    return _page(request, "web/alerts.html", clinic, {"alerts": alerts, "nav": "alerts"})


# --- pump page -------------------------------------------------------------------------


@login_required
@require_GET
def pump_page(request, pump_id):
    pump = _pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    now = clock.now()
    record = selectors.therapy_records([pump.pk])[pump.pk]
    projection = selectors.compute_projection(pump, record, as_of=now)
    state = selectors.reservoir_from(record)
    prescriptions = list(
        pump.prescriptions.select_related("prescriber", "drug", "created_by").order_by("-effective_at")
    )
    appointments = list(pump.appointments.select_related("nurse").order_by("-day", "-pk"))
    card = card_selectors.card_read(pump)
    today = now.astimezone(clinic.tz).date()
    last = card_selectors.last_issued(pump)
    card_changed = card_selectors.changed_fields(last.data if last else None, card.data)
    return _page(
        request,
        "web/pump.html",
        clinic,
        {
            "pump": pump,
            "patient": pump.patient,
            "caregivers": pump.patient.caregivers.all(),
            "projection": projection,
            "chart": reservoir_chart(pump, state, projection, now),
            "current": prescriptions[0] if prescriptions else None,
            "prescriptions": prescriptions,
            "refills": pump.refills.select_related("performed_by", "drug").order_by("-performed_at"),
            "history": selectors.pump_history(pump)[:100],
            "appointments": appointments,
            "open_kinds": {a.kind for a in appointments if a.status in OPEN_STATUSES},
            "open_statuses": OPEN_STATUSES,
            "notifications": Notification.objects.filter(Q(pump=pump) | Q(appointment__pump=pump))
            .select_related("appointment")
            .order_by("-due_at")[:50],
            # Current alerts first; resolved ones (no longer the pump's state) folded apart.
            "alerts": pump.alerts.filter(resolved_at__isnull=True)
            .select_related("acknowledged_by", "pump__patient__clinic", "pump__projection")
            .order_by("-raised_at")[:50],
            "resolved_alerts": pump.alerts.filter(resolved_at__isnull=False)
            .select_related("acknowledged_by", "pump__patient__clinic", "pump__projection")
            .order_by("-resolved_at")[:50],
            # ALERT-1: an overdue refill is worded so, with its days (empty when in time)
            "overdue_label": therapy.refill_overdue_days(projection["refill_by"], today)
            and worklist.urgency_label("overdue", projection["refill_by"], today),
            "card": card,
            "card_missing": [
                (wording.field_label(name), wording.humane(why, clinic.tz))
                for name, why in card.missing.items()
            ],
            "card_changed": [wording.field_label(name).lower() for name in card_changed],
            "now": now,
            "can_refill": role_at(request.user, clinic) in CLINICAL_WRITERS,
            "can_book": role_at(request.user, clinic) in PATIENT_WRITERS,
            "appointment_kinds": AppointmentKind.choices,
            # the end of the pump's therapy (TITRATE-2, IMPLANT-1): who may do which
            "can_replace": pump.status == PumpStatus.ACTIVE and role_at(request.user, clinic) in PUMP_WRITERS,
            "can_explant": pump.status == PumpStatus.ACTIVE and role_at(request.user, clinic) in PRESCRIBERS,
            "explant": PumpExplant.objects.filter(pump=pump).select_related("replaced_by").first(),
            "replaces": PumpExplant.objects.filter(replaced_by=pump).select_related("pump").first(),
        },
    )


# --- refill form -----------------------------------------------------------------------


def _refill_context(request, pump, form, *, preview=None, refusal=None, extra_rows=0, page=True):
    clinic = pump.patient.clinic
    role = role_at(request.user, clinic)
    return {
        "pump": pump,
        "patient": pump.patient,
        "form": form.padded(extra_rows),
        "modes": forms.MODES,
        "preview": preview,
        "refusal": refusal,
        "last_refill": selectors.last_refill(pump),
        "supplied": selectors.last_refill(pump).drug.supplied_concentrations_mcg_per_ml
        if selectors.last_refill(pump)
        else ["500", "1000", "2000"],
        "is_prescriber": role in PRESCRIBERS,
        "can_refill": role in CLINICAL_WRITERS,
        "override_needed": bool(refusal and refusal["code"] in OVERRIDE_CODES),
        "override_codes": OVERRIDE_CODES,
        "start_of_therapy": _start_of_therapy(pump) if page else None,  # not in the live check's panel
    }


# The refusals a prescriber may override with a written reason (TITRATE-1, TITRATE-2, START-2).
OVERRIDE_CODES = (
    "titration_limit_exceeded",
    "discontinuation_requires_override",
    "above_starting_dose",
    "screening_not_positive",
)


def _start_of_therapy(pump) -> dict | None:
    """START-2 on the refill form: when this fill starts the patient's therapy (no dose of
    theirs recorded on any pump), the screening trial's outcome it is checked against, in
    words (None when the patient's therapy has already started)."""
    patient = pump.patient
    if selectors.patient_dose_history(patient):
        return None
    state, refusal = _screening_read(patient, patient.clinic)
    outcome = state.outcome
    return {
        "outcome": outcome,
        "words": wording.screening_outcome(outcome) if outcome else "",
        "refusal": refusal,
        "patient": patient,
    }


def _run(request, pump, form, service):
    """Validate with the API's serializer, then run ``service`` (the preview or the real
    write). Returns (change, refusal)."""
    data = forms.validated(form, pump.patient.clinic.tz, request)
    if data is None:
        return None, {"field": "", "message": "Some fields need correcting (see below).", "code": "invalid"}
    try:
        return service(actor=request.user, pump=pump, **data), None
    except REFUSALS as error:
        refusal = _refusal(error, pump.patient.clinic)
        name = refusal["field"].split(".")[0].split("[")[0] or "general"
        where = refusal["field"][len(name) :].lstrip(".")
        # Under its field on the form; a refusal of a part of it says which part.
        inner = wording.field_label(where) if where else ""
        form.add_error(name, f"{inner}: {refusal['message']}" if inner else refusal["message"])
        return None, refusal


@login_required
@require_http_methods(["GET", "POST"])
def refill_form(request, pump_id):
    pump = _pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    if request.method == "GET":
        last = selectors.last_refill(pump)
        current = pump.prescriptions.order_by("-effective_at").first()
        carried = None
        if last is None and (replaced := selectors.replaced_pump(pump)) is not None:
            # IMPLANT-1: a replacement continues the patient's concentration and prescription
            carried = selectors.last_refill(replaced)
            current = replaced.prescriptions.order_by("-effective_at").first()
        form = forms.form_initial(
            performed_at=clock.now().astimezone(clinic.tz),
            last_refill=last,
            current=current,
            carried_from=carried,
        )
        return _page(request, "web/refill_form.html", clinic, _refill_context(request, pump, form))
    form = forms.form_from_post(request.POST)
    action = request.POST.get("action", "check")
    if action == "add_row":
        return _page(
            request, "web/refill_form.html", clinic, _refill_context(request, pump, form, extra_rows=1)
        )
    if action == "save":
        change, refusal = _run(request, pump, form, services.refill_record)
        if change is not None:
            messages.success(request, _saved_message(change))
            for warning in change.warnings:  # START-2, DOSE-4, IMPLANT-1: saved, but said
                messages.warning(request, wording.humane(warning["message"], clinic.tz))
            return redirect(reverse("web:pump", args=[pump.pk]) + "#appointments")
        return _page(
            request,
            "web/refill_form.html",
            clinic,
            _refill_context(request, pump, form, refusal=refusal),
            status=403 if refusal["code"] == "role_required" else 400,
        )
    change, refusal = _run(request, pump, form, services.refill_preview)
    return _page(
        request,
        "web/refill_form.html",
        clinic,
        _refill_context(request, pump, form, preview=change, refusal=refusal),
    )


@login_required
@require_POST
def refill_preview(request, pump_id):
    """The live check (fetched by the form's script on every change): the preview partial."""
    pump = _pump_or_404(request, pump_id)
    form = forms.form_from_post(request.POST)
    change, refusal = _run(request, pump, form, services.refill_preview)
    context = _refill_context(request, pump, form, preview=change, refusal=refusal, page=False)
    context["clinic"] = pump.patient.clinic
    context["live"] = True
    response = render(request, "web/_refill_preview.html", context)
    # The script shows only an answer that says it is this panel (never an error page).
    response["X-Live-Check"] = "refill-preview"
    return response


def _saved_message(change) -> str:
    projection = change.projection
    parts = ["Refill recorded."]
    if change.refill.bridge_bolus:
        b = change.refill.bridge_bolus
        parts.append(
            f"Bridge bolus: {b['path_volume_ml']} mL over {b['duration_hours']} h "
            f"(programmed {b['programmed_dose_mcg']} mcg, delivered {b['delivered_dose_mcg']} mcg)."
        )
    if projection["refill_by"]:
        parts.append(f"Refill by {projection['refill_by']:%a %d %b %Y}: book the next refill below.")
    parts.append("The emergency card is now stale: print a new one.")
    return " ".join(parts)


# --- appointments ----------------------------------------------------------------------


def _nurses(clinic):
    return (
        get_user_model()
        .objects.filter(memberships__clinic=clinic, memberships__role__in=[Role.NURSE, Role.PHYSICIAN])
        .order_by("username")
    )


def _suggested_day(pump: Pump):
    """LRA-5: the day the core proposes (the latest working day on or before refill-by, or
    for an overdue refill the earliest working day from today)."""
    projection = getattr(pump, "projection", None)
    clinic = pump.patient.clinic
    if projection is None or projection.refill_by is None:
        return None
    try:
        return therapy.refill_day(
            projection.refill_by,
            today=proposals.local_today(clinic),
            working_weekdays=set(clinic.working_days),
            closures=set(clinic.closures.values_list("date", flat=True)),
        )
    except therapy.CalculationError:
        return None


def _appointment_fields(request, clinic, errors):
    """Day, time and nurse from the form; errors named by field."""
    post = request.POST
    day = None
    if post.get("day"):
        try:  # a well-formed but impossible date (30 Feb) is a ValueError, not None
            day = parse_date(post["day"])
        except ValueError:
            day = None
        if day is None:
            errors["day"] = ["is not a date: pick one in the calendar"]
        else:
            try:
                therapy.units.check_year(day, "day")
            except therapy.CalculationError as error:
                errors["day"] = [error.message]
                day = None
    at = None
    if post.get("time"):
        try:
            at = parse_time(post["time"])
        except ValueError:  # 25:99
            at = None
        if at is None:
            errors["time"] = ["is not a time of day: pick one, or leave it empty"]
    nurse = None
    if post.get("nurse"):
        if text_problem(post["nurse"], one_line=True) is None:
            nurse = _nurses(clinic).filter(username=post["nurse"]).first()
        if nurse is None:
            errors["nurse"] = ["is not a nurse of this clinic"]
    return day, at, nurse


@login_required
@require_http_methods(["GET", "POST"])
def appointment_new(request, pump_id):
    pump = _pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    kind = request.POST.get("kind") or request.GET.get("kind") or AppointmentKind.REFILL
    if kind not in AppointmentKind.values:
        raise Http404("unknown appointment kind")
    errors: dict[str, list[str]] = {}
    values = {"day": "", "time": "", "nurse": request.user.username, "notes": ""}
    suggested = _suggested_day(pump) if kind == AppointmentKind.REFILL else None
    if suggested:
        values["day"] = suggested.day.isoformat()
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        day, at, nurse = _appointment_fields(request, clinic, errors)
        if not day and "day" not in errors:
            errors["day"] = ["is required"]
        if not errors:
            try:
                appointment, warnings = appointments.appointment_create(
                    actor=request.user,
                    pump=pump,
                    kind=kind,
                    day=day,
                    at=at,
                    nurse=nurse,
                    notes=values["notes"],
                )
            except REFUSALS as error:
                _refused(errors, error, values, clinic)
            else:
                _booked_message(request, appointment, warnings, "booked")
                return redirect(_back(request, reverse("web:pump", args=[pump.pk]) + "#appointments"))
    return _appointment_form(request, pump, kind, values, errors, suggested, appointment=None)


def _appointment_form(request, pump, kind, values, errors, suggested, *, appointment):
    """The form that books a new appointment or books/moves ``appointment``."""
    clinic = pump.patient.clinic
    return _page(
        request,
        "web/appointment_form.html",
        clinic,
        {
            "pump": pump,
            "patient": pump.patient,
            "kind": kind,
            "kind_label": AppointmentKind(kind).label,
            "values": values,
            "errors": errors,
            "nurses": _nurses(clinic),
            "suggested": suggested,
            "appointment": appointment,
            "next": _back(request, ""),
        },
        status=400 if errors else 200,
    )


def _appointment_or_404(request, appointment_id) -> Appointment:
    return get_object_or_404(
        Appointment.objects.filter(pump__patient__clinic__in=clinics_of(request.user)).select_related(
            "pump__patient__clinic", "pump__model", "pump__projection", "nurse"
        ),
        pk=appointment_id,
    )


def _booked_message(request, appointment, warnings, verb):
    when = f"{appointment.day:%a %d %b %Y}" + (f" at {appointment.time:%H:%M}" if appointment.time else "")
    who = f" with {appointment.nurse.username}" if appointment.nurse else ""
    messages.success(request, f"{appointment.get_kind_display()} {verb} for {when}{who}.")
    for warning in warnings:
        messages.warning(request, wording.humane(warning["message"], appointment.pump.patient.clinic.tz))


@login_required
@require_http_methods(["GET", "POST"])
def appointment_book(request, appointment_id):
    """Book a proposal, or move a booked appointment."""
    appointment = _appointment_or_404(request, appointment_id)
    pump = appointment.pump
    clinic = pump.patient.clinic
    errors: dict[str, list[str]] = {}
    values = {
        "day": appointment.day.isoformat(),
        "time": appointment.time.strftime("%H:%M") if appointment.time else "",
        "nurse": appointment.nurse.username if appointment.nurse else request.user.username,
        "notes": appointment.notes,
    }
    if request.method == "POST":
        values.update({k: request.POST.get(k, "") for k in ("day", "time", "nurse")})
        day, at, nurse = _appointment_fields(request, clinic, errors)
        if not errors:
            try:
                was = appointment.status
                appointment, warnings = appointments.appointment_book(
                    actor=request.user, appointment=appointment, day=day, at=at, nurse=nurse
                )
            except REFUSALS as error:
                _refused(errors, error, values, clinic)
            else:
                _booked_message(
                    request, appointment, warnings, "moved" if was == AppointmentStatus.BOOKED else "booked"
                )
                return redirect(_back(request, reverse("web:pump", args=[pump.pk]) + "#appointments"))
    suggested = _suggested_day(pump) if appointment.kind == AppointmentKind.REFILL else None
    return _appointment_form(
        request, pump, appointment.kind, values, errors, suggested, appointment=appointment
    )


@login_required
@require_http_methods(["GET", "POST"])
def appointment_cancel(request, appointment_id):
    appointment = _appointment_or_404(request, appointment_id)
    pump = appointment.pump
    errors: dict[str, list[str]] = {}
    reason = ""
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            appointments.appointment_cancel(actor=request.user, appointment=appointment, reason=reason)
        except REFUSALS as error:
            _refused(errors, error, ("reason",), pump.patient.clinic)
        else:
            messages.success(
                request, f"{appointment.get_kind_display()} of {appointment.day:%a %d %b %Y} cancelled."
            )
            return redirect(_back(request, reverse("web:pump", args=[pump.pk]) + "#appointments"))
    return _page(
        request,
        "web/appointment_cancel.html",
        pump.patient.clinic,
        {
            "appointment": appointment,
            "pump": pump,
            "patient": pump.patient,
            "reason": reason,
            "errors": errors,
            "next": _back(request, ""),
        },
        status=400 if errors else 200,
    )


# --- emergency cards -------------------------------------------------------------------


@login_required
@require_GET
def pump_card(request, pump_id):
    """The pump's wallet card (or, with ``?format=sheet``, caregiver sheet) as the API prints
    it; a refusal comes back to the pump page in words instead of the API's JSON."""
    pump = _pump_or_404(request, pump_id)
    card_format = request.GET.get("format") or CardFormat.WALLET
    if card_format not in CardFormat.values:
        raise Http404("unknown card format")
    try:
        with transaction.atomic():  # a card whose answer cannot be built is not issued
            printed = card_services.card_issue(actor=request.user, pump=pump, card_format=card_format)
            return card_responses.pdf_response(
                printed.pdf, card_responses.card_filename(card_format, pump.serial_number)
            )
    except REFUSALS as error:
        messages.error(
            request, f"The card was not printed: {_refusal(error, pump.patient.clinic)['message']}"
        )
    except CardRenderError:
        log.exception("card of pump %s not rendered", pump.pk)
        messages.error(request, f"The card {NOT_RENDERED}")
    return redirect(reverse("web:pump", args=[pump.pk]) + "#card")


@login_required
@require_GET
def stale_cards(request, code):
    """Every stale wallet card of the clinic on print sheets. With none to print, the nurse
    is told so on the worklist's stale-card list, not shown the API's JSON refusal."""
    clinic = get_object_or_404(clinics_of(request.user), code=code)
    try:
        with transaction.atomic():
            printed = card_services.cards_issue_batch(actor=request.user, clinic=clinic, stale_only=True)
            return card_responses.pdf_response(printed.pdf, card_responses.batch_filename(clinic.code))
    except therapy.CalculationError as error:
        if error.code != "nothing_to_print":
            messages.error(request, f"The cards were not printed: {wording.humane(error.message, clinic.tz)}")
        elif skipped := error.details.get("skipped"):
            messages.warning(
                request,
                f"No stale card can be printed now: {len(skipped)} "
                f"{'card lacks' if len(skipped) == 1 else 'cards lack'} data the card must show. "
                "Open the pumps below to see what is missing.",
            )
        else:
            messages.info(request, "Every emergency card is up to date: there is no stale card to print.")
    except REFUSALS as error:
        messages.error(request, f"The cards were not printed: {_refusal(error, clinic)['message']}")
    except CardRenderError:
        log.exception("stale cards of clinic %s not rendered", clinic.code)
        messages.error(request, f"The batch of cards {NOT_RENDERED.replace('card is', 'cards are')}")
    return redirect(reverse("web:worklist", args=[clinic.code]) + "?show=stale_cards")


# --- alerts ----------------------------------------------------------------------------


@login_required
@require_POST
def alert_ack(request, alert_id):
    alert = get_object_or_404(
        Alert.objects.filter(clinic__in=clinics_of(request.user)).select_related("pump"), pk=alert_id
    )
    default = reverse("web:pump", args=[alert.pump_id]) + "#alerts" if alert.pump_id else "/"
    try:
        alert_acknowledge(actor=request.user, alert=alert, note=request.POST.get("note", ""))
    except REFUSALS as error:
        refusal = _refusal(error, alert.clinic)
        if refusal["field"] == "note":  # said under the note field too (web/_alert.html)
            words = f"the {refusal['label'].lower()} {refusal['message']}"
            messages.error(
                request, words[0].upper() + words[1:] + ".", extra_tags=wording.ack_note_tag(alert.pk)
            )
            messages.error(request, f"The alert was not acknowledged: {words}.")
        else:
            messages.error(request, f"The alert was not acknowledged: {refusal['message']}")
    else:
        messages.success(request, f"Alert acknowledged: {alert.get_kind_display()}.")
    return redirect(_back(request, default))


# --- the end of a pump's therapy: replacement, explant (TITRATE-2, IMPLANT-1) -------------


def _status_of(form) -> int:
    """403 when the service refused the user's role, 400 for any other refusal, else 200."""
    if "role" in form.errors:
        return 403
    return 400 if form.errors else 200


def _not_active(request, pump):
    """A pump already replaced or explanted has no therapy to end: back to its page."""
    messages.error(
        request,
        f"Pump #{pump.serial_number} is no longer active: it was {pump.get_status_display().lower()}"
        + (f" on {therapy.day_text(pump.explanted_on)}." if pump.explanted_on else "."),
    )
    return redirect("web:pump", pump.pk)


def _today(clinic):
    return clock.now().astimezone(clinic.tz).date()


@login_required
@require_http_methods(["GET", "POST"])
def pump_replace(request, pump_id):
    """Replace a pump (explant and implant the same day): the therapy continues on the new
    pump, whose first fill is checked against the patient's doses (TITRATE-1, IMPLANT-1)."""
    pump = _pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    if pump.status != PumpStatus.ACTIVE:
        return _not_active(request, pump)
    if request.method == "GET":
        form = forms.ServiceForm(
            forms.REPLACE_FIELDS,
            {
                "explanted_on": _today(clinic).isoformat(),
                "model": "",
                "serial_number": "",
                "catheter_model": pump.catheter_model.code,
                "catheter_length_cm": forms._plain(pump.catheter_length_cm),
                "low_reservoir_alarm_ml": "",
                "reason": "",
            },
        )
    else:
        form = forms.ServiceForm.from_post(forms.REPLACE_FIELDS, request.POST)
        done = _submit(
            form,
            clinic,
            PumpReplaceInputSerializer,
            replacement.pump_replace,
            optional=("low_reservoir_alarm_ml",),
            context={"request": request},
            actor=request.user,
            old_pump=pump,
        )
        if done is not None:
            new_pump, _ = done
            messages.success(
                request,
                f"Pump #{pump.serial_number} explanted and pump #{new_pump.serial_number} implanted "
                f"on {therapy.day_text(new_pump.implanted_on)}. The therapy continues: record the new "
                "pump's first fill (the implant fill). Its dose is checked against the patient's "
                "doses on the old pump, and its concentration against theirs.",
            )
            return redirect("web:pump", new_pump.pk)
    return _page(
        request,
        "web/pump_replace.html",
        clinic,
        {
            "pump": pump,
            "patient": pump.patient,
            "form": form,
            "pump_models": PumpModel.objects.order_by("manufacturer", "name"),
            "catheter_models": CatheterModel.objects.order_by("manufacturer", "name"),
            "can_replace": role_at(request.user, clinic) in PUMP_WRITERS,
        },
        status=_status_of(form),
    )


@login_required
@require_http_methods(["GET", "POST"])
def pump_explant(request, pump_id):
    """Explant a pump without a replacement: the therapy stops (TITRATE-2). The service
    needs a prescriber and a written override reason, and raises the critical alert."""
    pump = _pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    if pump.status != PumpStatus.ACTIVE:
        return _not_active(request, pump)
    if request.method == "GET":
        form = forms.ServiceForm(
            forms.EXPLANT_FIELDS,
            {"explanted_on": _today(clinic).isoformat(), "reason": "", "override_reason": ""},
        )
    else:
        form = forms.ServiceForm.from_post(forms.EXPLANT_FIELDS, request.POST)
        done = _submit(
            form,
            clinic,
            PumpExplantInputSerializer,
            replacement.pump_explant,
            context={"request": request},
            actor=request.user,
            pump=pump,
        )
        if done is not None:
            record, _ = done
            alert = (
                Alert.objects.filter(pump=pump, kind=AlertKind.DISCONTINUATION)
                .order_by("-raised_at", "-pk")
                .first()
            )
            messages.success(
                request,
                f"Explant of pump #{pump.serial_number} on {therapy.day_text(record.explanted_on)} recorded.",
            )
            if alert is not None:
                messages.error(request, f"Critical alert: {alert.text}")
            return redirect(reverse("web:pump", args=[pump.pk]) + "#alerts")
    is_prescriber = role_at(request.user, clinic) in PRESCRIBERS
    return _page(
        request,
        "web/pump_explant.html",
        clinic,
        {
            "pump": pump,
            "patient": pump.patient,
            "form": form,
            "is_prescriber": is_prescriber,
            "withdrawal_signs": therapy.titration.WITHDRAWAL_SIGNS,
        },
        status=_status_of(form) if form.errors or is_prescriber else 403,
    )


# --- the screening trial (SCREEN-1, START-1) -----------------------------------------------


def _screening_steps() -> list[str]:
    """The configured screening doses (START-1), as the form offers them."""
    return [wording.mcg(step) for step in clinical.screening_steps()]


def _screening_read(patient, clinic) -> tuple[object, dict | None]:
    """The patient's trial, or its refusal (steps or prolonged-effect hours not configured)."""
    try:
        return screening.screening_trial_read(patient), None
    except REFUSALS as error:
        return screening.ScreeningTrialState(selectors.screening_boluses(patient), None), _refusal(
            error, clinic
        )


@login_required
@require_http_methods(["GET", "POST"])
def screening_page(request, patient_id):
    """A patient's screening trial: the boluses given, START-1's outcome in words and the
    form that records the next bolus (SCREEN-1)."""
    patient = get_object_or_404(
        Patient.objects.filter(clinic__in=clinics_of(request.user)).select_related("clinic"), pk=patient_id
    )
    clinic = patient.clinic
    state, refusal = _screening_read(patient, clinic)
    outcome = state.outcome
    steps = _screening_steps()
    next_dose = (
        wording.mcg(outcome.next_dose_mcg) if outcome and outcome.next_dose_mcg else (steps[:1] or [""])[0]
    )
    form = forms.ServiceForm(
        forms.BOLUS_FIELDS,
        {
            "dose_mcg": next_dose,
            "given_at": clock.now().astimezone(clinic.tz).strftime("%Y-%m-%dT%H:%M"),
            "observed_by": "",
            "responded": "",
            "effect_duration_hours": "",
            "adverse_reactions": "",
        },
    )
    if request.method == "POST":
        form = forms.ServiceForm.from_post(forms.BOLUS_FIELDS, request.POST)
        offset, form.offset_choices = forms.offset_choice(
            form.values["given_at"], request.POST.get("utc_offset", ""), clinic.tz
        )
        form.values["utc_offset"] = str(offset) if offset is not None else ""
        done = _submit(
            form,
            clinic,
            forms.ScreeningBolusInput,
            screening.screening_bolus_record,
            optional=("effect_duration_hours",),
            context={"request": request, "clinic_tz": clinic.tz, "utc_offset_minutes": offset},
            actor=request.user,
            patient=patient,
        )
        if done is not None:
            state, data = done
            messages.success(
                request,
                f"Screening bolus of {wording.mcg(data['dose_mcg'])} mcg given "
                f"{therapy.units.instant_text(data['given_at'], clinic.tz)} recorded. "
                + (f"{wording.screening_outcome(state.outcome)}." if state.outcome else ""),
            )
            return redirect("web:screening", patient.pk)
    pumps = list(patient.pumps.order_by("-implanted_on", "-pk"))
    return _page(
        request,
        "web/screening.html",
        clinic,
        {
            "patient": patient,
            "pump": next((p for p in pumps if p.status == PumpStatus.ACTIVE), pumps[0] if pumps else None),
            "boluses": state.boluses,
            "outcome": outcome,
            "outcome_words": wording.screening_outcome(outcome) if outcome else "",
            "refusal": refusal,
            "steps": steps,
            "form": form,
            "ended": bool(outcome and outcome.status != "next_step"),
            "can_record": role_at(request.user, clinic) in CLINICAL_WRITERS,
        },
        status=_status_of(form),
    )
