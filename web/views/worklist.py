"""A clinic's worklist (its pumps ranked by urgency, with the counts strip and the filters)
and its list of open alerts."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from alerts.models import Alert, AlertKind
from cards import selectors as card_selectors
from patients.models import Clinic, Role
from patients.permissions import CLINICAL_WRITERS, clinics_of, role_at
from pumpcare import clock
from pumpcare.inputs import text_problem
from scheduling import worklist

from .common import my_clinics, render_page

PAGE_SIZE = 50
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
    clinics = my_clinics(request)
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
    return render_page(
        request,
        "web/worklist.html",
        clinic,
        {
            "my_clinics": clinics,
            "nav": "worklist",
            "rows": rows,
            "page": page,
            # MRI-1: the open follow-ups of the clinic's MRIs, the soonest scan first
            "mri_follow_ups": worklist.mri_follow_ups(clinic, now),
            "strip": strip,
            "recomputing": worklist.recomputing(clinic),
            "agenda": worklist.titration_agenda(clinic, now.astimezone(clinic.tz).date()),
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
        .select_related("pump__patient__clinic", "pump__projection__stale")
        .order_by("severity", "-raised_at")
    )
    return render_page(request, "web/alerts.html", clinic, {"alerts": alerts, "nav": "alerts"})
