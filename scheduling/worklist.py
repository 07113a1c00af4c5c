"""The nurses' worklist (ALERT-1): every active pump of a clinic that is
due, ordered by urgency and then by refill-by date.

The order and the filters are computed by the database from the stored projections and
the appointments, so a page costs the same queries however large the clinic; the volume
"now" — the one number that moves with the clock — is computed for the rows of the page.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from datetime import date, datetime, timedelta

from django.db.models import Case, Count, Exists, IntegerField, Min, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import TruncDate

import therapy
from alerts import outbox
from cards.selectors import stale_pump_ids
from devices import selectors as device_selectors
from devices.models import Mri
from medications import selectors as medication_selectors
from patients.models import Caregiver, Clinic, Pump, PumpStatus
from pumpcare import clinical
from pumpcare.caching import cached
from refills import selectors
from refills.models import StaleProjection

from .models import OPEN_STATUSES, Appointment, AppointmentKind, AppointmentStatus
from .proposals import booked_late

# ALERT-1, highest first. The ranks are the worklist's order; the codes are the API's.
URGENCY = [
    ("past_empty", "Past the projected empty time (worst case): withdrawal risk, act now"),
    ("past_alarm", "Past the low-reservoir alarm time (worst case) without a refill"),
    ("overdue", "Overdue: the refill-by date has passed without a refill"),
    ("no_show", "Missed the last refill appointment"),
    ("due_unbooked", "Refill-by date in the coming days and no refill booked"),
    ("replacement_overdue", "Replacement book-by date passed without a booked replacement"),
    ("no_projection", "No projection: see the warnings"),
    ("scheduled", "Due; refill booked"),
    ("upcoming", "Not yet due"),
]
RANK = {code: rank for rank, (code, _) in enumerate(URGENCY)}
LABEL = dict(URGENCY)
DST_CODES = {"daylight_saving_change", "clock_off_wall_clock"}


def refill_booked() -> Exists:
    """The worklist's ``refill_booked``: the pump has a booked refill."""
    return Exists(
        Appointment.objects.filter(
            pump=OuterRef("pk"), kind=AppointmentKind.REFILL, status=AppointmentStatus.BOOKED
        )
    )


def worklist(
    clinic: Clinic,
    *,
    now: datetime,
    until: date | None = None,
    nurse: str | None = None,
    appointment_status: str | None = None,
) -> QuerySet[Pump]:
    """The clinic's active pumps annotated with ``urgency`` (ALERT-1 rank) and ordered by it,
    then by refill-by. ``until`` keeps the pumps due by that date (and every urgent one);
    ``nurse`` and ``appointment_status`` filter on the open refill appointment
    (``none``: no open refill appointment)."""
    today = now.astimezone(clinic.tz).date()
    due_soon = today + timedelta(days=clinical.alert_due_within_days())
    refill_open = Appointment.objects.filter(
        pump=OuterRef("pk"), kind=AppointmentKind.REFILL, status__in=OPEN_STATUSES
    )
    # A no-show after the last fill (on a later local day) is still missed. Not correlated
    # with the outer row, so the database reads the set once instead of once per pump.
    missed = Appointment.objects.filter(
        kind=AppointmentKind.REFILL,
        status=AppointmentStatus.NO_SHOW,
        day__gt=TruncDate("pump__projection__filled_at", tzinfo=clinic.tz),
    ).values("pump_id")
    # ERI-2: a surgery whose day passed without the replacement is no longer a booking
    booked_replacement = Appointment.objects.filter(
        pump=OuterRef("pk"), kind=AppointmentKind.REPLACEMENT, status=AppointmentStatus.BOOKED, day__gte=today
    )
    queryset = (
        Pump.objects.filter(patient__clinic=clinic, status=PumpStatus.ACTIVE)
        .select_related("patient", "model", "projection__stale")
        .annotate(
            refill_booked=refill_booked(),
            replacement_booked=Exists(booked_replacement),
        )
        .annotate(
            urgency=Case(
                When(projection__empty_at_worst_case__lte=now, then=Value(RANK["past_empty"])),
                When(projection__low_reservoir_alarm_at_worst_case__lte=now, then=Value(RANK["past_alarm"])),
                # ALERT-1: refill-by passed without a refill — booked or not, overdue.
                When(projection__refill_by__lt=today, then=Value(RANK["overdue"])),
                When(Q(pk__in=missed), then=Value(RANK["no_show"])),
                When(
                    Q(projection__refill_by__lte=due_soon, refill_booked=False),
                    then=Value(RANK["due_unbooked"]),
                ),
                When(
                    Q(projection__replacement_book_by__lt=today, replacement_booked=False),
                    then=Value(RANK["replacement_overdue"]),
                ),
                When(
                    Q(projection__isnull=True) | Q(projection__refill_by__isnull=True),
                    then=Value(RANK["no_projection"]),
                ),
                When(projection__refill_by__lte=due_soon, then=Value(RANK["scheduled"])),
                default=Value(RANK["upcoming"]),
                output_field=IntegerField(),
            )
        )
    )
    if until is not None:
        queryset = queryset.filter(Q(projection__refill_by__lte=until) | Q(urgency__lt=RANK["scheduled"]))
    if appointment_status == "none":
        queryset = queryset.exclude(Exists(refill_open))
    elif appointment_status:
        queryset = queryset.filter(
            Exists(
                Appointment.objects.filter(
                    pump=OuterRef("pk"), kind=AppointmentKind.REFILL, status=appointment_status
                )
            )
        )
    if nurse:
        queryset = queryset.filter(Exists(refill_open.filter(nurse__username=nurse)))
    return queryset.order_by("urgency", "projection__refill_by", "pk")


def recomputing(clinic: Clinic) -> tuple[int, datetime | None]:
    """How many of the clinic's active pumps have a projection an edit marked stale (the
    workers are recomputing it), and since when: one query on a small index."""
    found = StaleProjection.objects.filter(
        projection__pump__patient__clinic=clinic, projection__pump__status=PumpStatus.ACTIVE
    ).aggregate(n=Count("pk"), since=Min("since"))
    return found["n"], found["since"]


def ranked(queryset: QuerySet[Pump]) -> QuerySet:
    """The order of a ``worklist`` queryset alone, as ``(pk, urgency)`` rows: what a paginator
    counts and slices, without carrying every column of every pump through the sort."""
    return queryset.values_list("pk", "urgency", named=True)


def ranked_pumps(ranks) -> list[Pump]:
    """The pumps of a page of ``ranked`` rows, in that order, each with its ``urgency``."""
    ranks = list(ranks)
    pumps = Pump.objects.select_related("patient", "model", "projection__stale").in_bulk(
        [r.pk for r in ranks]
    )
    page = []
    for rank in ranks:
        if (pump := pumps.get(rank.pk)) is not None:
            pump.urgency = rank.urgency
            page.append(pump)
    return page


def urgency_label(code: str, refill_by: date | None, today: date) -> str:
    """ALERT-1 in words: an overdue refill says by how many days (never "soon")."""
    days = therapy.refill_overdue_days(refill_by, today) if code == "overdue" else None
    if days is None:
        return LABEL[code]
    return (
        f"Overdue by {days} day{'s' if days != 1 else ''}: "
        f"the refill-by date {therapy.day_text(refill_by)} has passed"
    )


def worklist_rows(pumps: list[Pump], clinic: Clinic, *, now: datetime) -> list[dict]:
    """The page's rows: the stored projection, the open refill appointment, the flags, and
    the reservoir volume now (LRA-1) — a constant number of queries for the page."""
    ids = [p.pk for p in pumps]
    states = _reservoirs(pumps)
    stale_cards = stale_pump_ids(pumps)  # REFILL-4
    unmonitored = selectors.implant_monitoring_flags(ids)  # IMPLANT-1
    caregivers: dict[int, list[Caregiver]] = {}
    for caregiver in Caregiver.objects.filter(patient_id__in=[p.patient_id for p in pumps]):
        caregivers.setdefault(caregiver.patient_id, []).append(caregiver)
    appointments = {
        a.pump_id: a
        for a in Appointment.objects.filter(
            pump_id__in=ids, kind=AppointmentKind.REFILL, status__in=OPEN_STATUSES
        ).select_related("nurse", "pump__patient__clinic", "pump__projection")
    }
    # LRA-5: a booking on a day the clinic stopped working stays until a nurse moves it
    weekdays = set(clinic.working_days)
    closures = set(
        clinic.closures.filter(date__gte=now.astimezone(clinic.tz).date()).values_list("date", flat=True)
    )
    today = now.astimezone(clinic.tz).date()
    rows = []
    for pump in pumps:
        projection = getattr(pump, "projection", None)
        state, discrepancy = states.get(pump.pk, (None, None))
        volume = (
            None
            if state is None
            else therapy.units.rounded(therapy.volume_at(state, now), therapy.units.VOLUME_ML)
        )
        warnings = projection.warnings if projection else []
        codes = {w["code"] for w in warnings}
        patient = pump.patient
        alarm = projection.low_reservoir_alarm_at_worst_case if projection else None
        appointment = appointments.get(pump.pk)
        code = URGENCY[pump.urgency][0]
        refill_by = projection.refill_by if projection else None
        label = urgency_label(code, refill_by, today)
        rows.append(
            {
                "patient": patient,
                "pump": pump,
                "reservoir_volume_ml": volume,
                "low_reservoir_alarm_at": projection.low_reservoir_alarm_at if projection else None,
                "low_reservoir_alarm_at_worst_case": alarm,
                "alarm_on": alarm.astimezone(clinic.tz).date() if alarm else None,
                "empty_at_worst_case": projection.empty_at_worst_case if projection else None,
                "refill_by": projection.refill_by if projection else None,
                "refill_by_reason": (projection.refill_by_reason or None) if projection else None,
                "replacement_book_by": projection.replacement_book_by if projection else None,
                "urgency": {"rank": pump.urgency, "code": code, "label": label},
                "appointment": appointment,
                "flags": {
                    "discrepancy_at_last_refill": discrepancy,
                    "no_reachable_contact": not any(
                        person.communication_consent and (person.email or person.phone)
                        for person in [patient, *caregivers.get(patient.pk, [])]
                    ),
                    "cannot_be_reminded": not outbox.reachable(patient, caregivers.get(patient.pk, [])),
                    "attendance_confirmed": bool(
                        appointment
                        and appointment.status == AppointmentStatus.BOOKED
                        and appointment.confirmed_at
                    ),
                    # An edit that many projections read marked it stale: the workers
                    # recompute it; meanwhile the row shows the dates from before the edit.
                    "dates_recomputing": bool(projection and projection.stale_since),
                    "daylight_saving_warning": bool(codes & DST_CODES),
                    "tolerance_not_configured": "tolerance_not_configured" in codes,
                    "card_stale": pump.pk in stale_cards,
                    "implant_monitoring_incomplete": pump.pk in unmonitored,
                    "booked_on_closed_day": bool(
                        appointment
                        and appointment.status == AppointmentStatus.BOOKED
                        and (appointment.day.isoweekday() not in weekdays or appointment.day in closures)
                    ),
                    # LRA-5: the refill_booked_late alert's case, from the row itself (no query)
                    "booked_after_refill_by": bool(
                        appointment
                        and booked_late(
                            appointment, refill_by, today=today, weekdays=weekdays, closures=closures
                        )
                    ),
                },
                "warnings": warnings,
            }
        )
    return rows


# (pump id, fingerprint) -> (reservoir, discrepancy at the last refill). The fingerprint is a
# hash of every input of the pump's projection, so an entry can never be stale: a change
# makes a new key. Each process keeps the most recent ones.
_RESERVOIRS: OrderedDict[tuple[int, str], tuple] = OrderedDict()
_RESERVOIRS_MAX = 20_000


def _reservoirs(pumps: list[Pump]) -> dict[int, tuple]:
    """LRA-1's input for each pump of the page, loaded (two queries) only for pumps whose
    inputs changed since this process last saw them."""
    found, missing = {}, []
    for pump in pumps:
        projection = getattr(pump, "projection", None)
        key = (pump.pk, projection.fingerprint if projection else "")
        if projection is not None and key in _RESERVOIRS:
            _RESERVOIRS.move_to_end(key)
            found[pump.pk] = _RESERVOIRS[key]
        else:
            missing.append((pump, key))
    if missing:
        records = selectors.therapy_records(pump.pk for pump, _ in missing)
        for pump, key in missing:
            record = records[pump.pk]
            value = (selectors.reservoir_from(record), record.refill.discrepancy if record.refill else None)
            found[pump.pk] = value
            if key[1]:
                _RESERVOIRS[key] = value
        while len(_RESERVOIRS) > _RESERVOIRS_MAX:
            _RESERVOIRS.popitem(last=False)
    return found


def cached_page(clinic: Clinic, query: str, now: datetime, render) -> bytes:
    """The page as JSON bytes from the cache, or ``render()`` stored there for two minutes
    (rendered once however many workers ask for it at the same moment). ``clinic`` comes
    from ``pumpcare.data_version.with_data_version``: a page is cached per clinic, query,
    data version and minute, so a write shows at once and what moves with the clock
    (volume now, urgency) is at most a minute old."""
    digest = hashlib.md5((query + clinic.data_version).encode(), usedforsecurity=False).hexdigest()
    return cached(f"worklist:{clinic.pk}:{now:%Y%m%d%H%M}:{digest}", render, 120)


def titration_agenda(clinic: Clinic, today: date) -> dict:
    """The worklist's titration part: open titration visits (proposed or booked, oldest day
    first, past ones included: a visit not done is still to do) and the weaning steps due
    today or earlier that no nurse has ticked off (WEAN-1)."""
    visits = list(
        Appointment.objects.filter(
            pump__patient__clinic=clinic, kind=AppointmentKind.TITRATION, status__in=OPEN_STATUSES
        )
        .select_related("pump__patient", "nurse")
        .order_by("day", "time", "pk")
    )
    return {
        "titration_visits": visits,
        "weaning_steps_due": medication_selectors.weaning_steps_due(clinic, today),
    }


def mri_follow_ups(clinic: Clinic, now: datetime) -> list[tuple[Mri, therapy.MriState]]:
    """The worklist's MRI part (MRI-1): every open MRI of the clinic's pumps (neither done
    nor cancelled: planned, its interrogation or emptying due, its refill after the scan
    not booked), the soonest scan first, each with where its follow-up stands now. The web
    worklist and ``GET /api/v1/worklist/mri/`` show the same list."""
    mris = device_selectors.open_mris(clinic).select_related("pump__patient").order_by("scan_at", "pk")
    return [(mri, device_selectors.mri_state(mri, now)) for mri in mris]
