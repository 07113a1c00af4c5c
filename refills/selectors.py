"""Reads: a pump's therapy record as the calculation core's input, its projection, its
history. The numbers come from ``therapy``; this module only gathers the rows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import OuterRef, Subquery

import therapy
from patients.models import Patient, Pump, PumpStatus, fraction
from patients.selectors import replacement
from pumpcare import clinical, clock

from .models import ImplantMonitoring, Prescription, PumpExplant, Refill, ScreeningBolus

_PARSED: dict[str, therapy.Prescription] = {}


def therapy_prescription(row: Prescription) -> therapy.Prescription:
    """The stored schedule as the core's prescription, parsed once per distinct schedule
    (a parsed prescription is immutable: the pumps of a batch share one)."""
    key = repr(row.schedule)  # equal texts, equal schedules (JSON values only)
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = therapy.parse_prescription(row.schedule)
        if len(_PARSED) >= 4096:
            _PARSED.clear()
        _PARSED[key] = parsed
    return parsed


def therapy_period(row: Prescription) -> therapy.TherapyPeriod:
    return therapy.TherapyPeriod(
        starts_at=row.effective_at,
        prescription=therapy_prescription(row),
        clock_offset_seconds=row.clock_utc_offset_minutes * 60,
    )


def last_refill(pump: Pump) -> Refill | None:
    return pump.refills.select_related("drug").order_by("-performed_at").first()


def patient_dose_history(patient: Patient) -> list[tuple[datetime, Fraction]]:
    """TITRATE-1's history: the patient's daily doses across all of their pumps, as
    (effective_at, exact daily dose). The dose is read from the stored schedule, not the
    column rounded to 0.1 mcg, so limits are computed from exact doses. A pump explanted
    without a replacement adds a dose of 0 from when its therapy stopped (TITRATE-2)."""
    rows = Prescription.objects.filter(pump__patient=patient).values_list("effective_at", "schedule")
    history = [(at, therapy.parse_prescription(schedule).daily_dose_mcg_total) for at, schedule in rows]
    stops = PumpExplant.objects.filter(
        pump__patient=patient, replaced_by__isnull=True, stopped_at__isnull=False
    ).values_list("stopped_at", flat=True)
    history += [(at, Fraction(0)) for at in stops]
    return sorted(history)


def patient_last_fill(patient: Patient, *, before: datetime) -> Refill | None:
    """The patient's last fill before ``before``, whichever pump it was (IMPLANT-1)."""
    return (
        Refill.objects.filter(pump__patient=patient, performed_at__lt=before)
        .order_by("-performed_at")
        .first()
    )


def replaced_pump(pump: Pump) -> Pump | None:
    """The pump this one replaced (IMPLANT-1: its therapy continues here), if any."""
    explant = PumpExplant.objects.filter(replaced_by=pump).select_related("pump").first()
    return explant.pump if explant else None


def screening_boluses(patient: Patient) -> list[ScreeningBolus]:
    return list(ScreeningBolus.objects.filter(trial__patient=patient).order_by("given_at", "pk"))


def screening_outcome_of(boluses: list[ScreeningBolus]) -> therapy.ScreeningOutcome:
    """START-1 from recorded boluses (SCREEN-1): the duration of effect and the adverse
    reactions that count are those of the first bolus with a response."""
    responded = next((b for b in boluses if b.responded), None)
    return therapy.screening_outcome(
        trials=[(fraction(b.dose_mcg), b.responded) for b in boluses],
        steps=clinical.screening_steps(),
        effect_hours=fraction(responded.effect_duration_hours) if responded else None,
        adverse_reactions=bool(responded and responded.adverse_reactions.strip()),
        prolonged_effect_hours=clinical.screening_prolonged_effect_hours(),
    )


def screening_outcome(patient: Patient) -> therapy.ScreeningOutcome | None:
    """START-2's input: START-1 from the patient's recorded screening trial, or None when no
    bolus of a trial is recorded."""
    boluses = screening_boluses(patient)
    return screening_outcome_of(boluses) if boluses else None


@dataclass(frozen=True)
class TherapyRecord:
    """What a projection reads for one pump: its last refill and every prescription in
    effect since then (oldest first; the first one was in effect at the refill)."""

    refill: Refill | None
    prescriptions: tuple[Prescription, ...]


def _last_refills(ids: list[int]):
    latest = Refill.objects.filter(pump_id=OuterRef("pump_id")).order_by("-performed_at")
    return Refill.objects.filter(pump_id__in=ids, id=Subquery(latest.values("id")[:1]))


def _prescriptions_since_last_refill(ids: list[int]):
    """The prescription in effect at each pump's last refill, and every later one."""
    fill_at = Refill.objects.filter(pump_id=OuterRef(OuterRef("pump_id"))).order_by("-performed_at")
    in_effect_at = Prescription.objects.filter(
        pump_id=OuterRef("pump_id"), effective_at__lte=Subquery(fill_at.values("performed_at")[:1])
    ).order_by("-effective_at")
    return Prescription.objects.filter(
        pump_id__in=ids, effective_at__gte=Subquery(in_effect_at.values("effective_at")[:1])
    ).order_by("pump_id", "effective_at")


def therapy_records(pump_ids) -> dict[int, TherapyRecord]:
    """The therapy records of any number of pumps in two queries."""
    ids = list(pump_ids)
    refills = {r.pump_id: r for r in _last_refills(ids).select_related("drug")}
    prescriptions: dict[int, list[Prescription]] = {}
    for row in _prescriptions_since_last_refill(ids):
        prescriptions.setdefault(row.pump_id, []).append(row)
    return {pid: TherapyRecord(refills.get(pid), tuple(prescriptions.get(pid, ()))) for pid in ids}


_PUMP_FIELDS = ("status", "explanted_on", "implanted_on", "eri_on", "low_reservoir_alarm_ml")
_MODEL_FIELDS = ("accuracy_tolerance_pct", "service_life_months")
_CLINIC_FIELDS = ("timezone", "safety_margin_days")
_REFILL_FIELDS = (
    "performed_at",
    "volume_added_ml",
    "concentration_mcg_per_ml",
    "bridge_path_volume_ml",
    "bridge_from_concentration_mcg_per_ml",
    "priming_volume_ml",
)
_PRESCRIPTION_FIELDS = ("effective_at", "schedule", "clock_utc_offset_minutes", "empties_reservoir")


def projection_inputs(pump_ids) -> list[tuple[int, SimpleNamespace, TherapyRecord]]:
    """What ``compute_projection`` reads for many pumps, in three queries and as plain rows
    (no model instances): (clinic id, pump, therapy record) per pump, by pump id. A pump
    here has the attributes of ``Pump`` that ``compute_projection`` reads, with its
    ``model`` and ``patient.clinic``; a refill and a prescription those of ``Refill``
    (with its ``drug``) and ``Prescription``. A clinic, a pump model and a drug are one
    object a batch, shared by their pumps and refills."""
    ids = sorted(pump_ids)
    clinics, models, drugs = {}, {}, {}
    pumps = []
    rows = (
        Pump.objects.filter(pk__in=ids)
        .order_by("pk")
        .values_list(
            "pk",
            *_PUMP_FIELDS,
            "model_id",
            *(f"model__{f}" for f in _MODEL_FIELDS),
            "patient__clinic_id",
            *(f"patient__clinic__{f}" for f in _CLINIC_FIELDS),
        )
    )
    n_pump, n_model = len(_PUMP_FIELDS), len(_MODEL_FIELDS)
    for row in rows:
        pk, pump_values = row[0], row[1 : 1 + n_pump]
        model_id, model_values = row[1 + n_pump], row[2 + n_pump : 2 + n_pump + n_model]
        clinic_id, clinic_values = row[2 + n_pump + n_model], row[3 + n_pump + n_model :]
        if model_id not in models:
            models[model_id] = SimpleNamespace(
                pk=model_id, **dict(zip(_MODEL_FIELDS, model_values, strict=True))
            )
        if clinic_id not in clinics:
            clinic = SimpleNamespace(pk=clinic_id, **dict(zip(_CLINIC_FIELDS, clinic_values, strict=True)))
            clinic.tz = ZoneInfo(clinic.timezone)
            clinics[clinic_id] = SimpleNamespace(clinic=clinic)  # the pump's patient, as read
        pump = SimpleNamespace(pk=pk, model=models[model_id], patient=clinics[clinic_id])
        pump.__dict__.update(zip(_PUMP_FIELDS, pump_values, strict=True))
        pumps.append((clinic_id, pump))
    refills = {}
    refill_rows, prescription_rows = _record_rows(ids)
    for pump_id, drug_id, max_days, *values in refill_rows:
        if drug_id not in drugs:
            drugs[drug_id] = SimpleNamespace(pk=drug_id, max_reservoir_days=max_days)
        refills[pump_id] = SimpleNamespace(
            drug=drugs[drug_id], **dict(zip(_REFILL_FIELDS, values, strict=True))
        )
    prescriptions: dict[int, list] = {}
    for pump_id, *values in prescription_rows:
        prescriptions.setdefault(pump_id, []).append(
            SimpleNamespace(**dict(zip(_PRESCRIPTION_FIELDS, values, strict=True)))
        )
    return [
        (clinic_id, pump, TherapyRecord(refills.get(pump.pk), tuple(prescriptions.get(pump.pk, ()))))
        for clinic_id, pump in pumps
    ]


# PostgreSQL: the same rows as ``_last_refills`` and ``_prescriptions_since_last_refill``,
# found with per-pump index lookups from one array of ids (a batch's 500 ids as one
# parameter, not 500 for the planner to read).
_LAST_REFILLS_SQL = (
    "SELECT r.pump_id, r.drug_id, d.max_reservoir_days, r.performed_at, r.volume_added_ml, "
    "r.concentration_mcg_per_ml, r.bridge_path_volume_ml, r.bridge_from_concentration_mcg_per_ml, "
    "r.priming_volume_ml FROM UNNEST(CAST(%s AS bigint[])) AS u(id) CROSS JOIN LATERAL (SELECT * FROM refills_refill r "
    "WHERE r.pump_id = u.id AND r.voided_at IS NULL ORDER BY r.performed_at DESC LIMIT 1) r "
    "JOIN patients_drug d ON d.id = r.drug_id"
)
_PRESCRIPTIONS_SQL = (
    "SELECT x.pump_id, x.effective_at, CAST(x.schedule AS text), x.clock_utc_offset_minutes, x.empties_reservoir "
    "FROM UNNEST(CAST(%s AS bigint[])) AS u(id) "
    "CROSS JOIN LATERAL (SELECT MAX(y.effective_at) AS since FROM refills_prescription y "
    "WHERE y.pump_id = u.id AND y.voided_at IS NULL AND y.effective_at <= (SELECT MAX(r.performed_at) "
    "FROM refills_refill r WHERE r.pump_id = u.id AND r.voided_at IS NULL)) s "
    "JOIN refills_prescription x ON x.pump_id = u.id AND x.voided_at IS NULL AND x.effective_at >= s.since "
    "ORDER BY x.pump_id, x.effective_at"
)


def _record_rows(ids: list[int]) -> tuple[list[tuple], list[tuple]]:
    """The last refills (pump, drug, its maximum days, ``_REFILL_FIELDS``) and the
    prescriptions since them (pump, ``_PRESCRIPTION_FIELDS``) of the pumps ``ids``."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_LAST_REFILLS_SQL, [ids])
            refills = cursor.fetchall()
            cursor.execute(_PRESCRIPTIONS_SQL, [ids])
            prescriptions = [
                (pump_id, at, json.loads(schedule), *rest)
                for pump_id, at, schedule, *rest in cursor.fetchall()
            ]
        return refills, prescriptions
    refills = _last_refills(ids).values_list(
        "pump_id", "drug_id", "drug__max_reservoir_days", *_REFILL_FIELDS
    )
    prescriptions = _prescriptions_since_last_refill(ids).values_list("pump_id", *_PRESCRIPTION_FIELDS)
    return list(refills), list(prescriptions)


def reservoir_from(record: TherapyRecord) -> therapy.Reservoir | None:
    """LRA-1's input: the last refill and every prescription in effect since then, with the
    bridge bolus drain if that refill changed the concentration (BRIDGE-1)."""
    refill = record.refill
    if refill is None:
        return None
    periods = tuple(therapy_period(row) for row in record.prescriptions)
    bridge = None
    if refill.bridge_path_volume_ml is not None:
        drain = therapy.bridge_for_volume(
            path_volume_ml=fraction(refill.bridge_path_volume_ml),
            old_concentration_mcg_per_ml=fraction(refill.bridge_from_concentration_mcg_per_ml),
            new_concentration_mcg_per_ml=fraction(refill.concentration_mcg_per_ml),
            prescription=periods[0].prescription,  # in effect at the refill
        )
        bridge = therapy.BridgeDrain(drain.path_volume_ml, drain.duration_seconds)
    return therapy.Reservoir(
        filled_at=refill.performed_at,
        volume_ml=fraction(refill.volume_added_ml),
        concentration_mcg_per_ml=fraction(refill.concentration_mcg_per_ml),
        periods=periods,
        bridge=bridge,
        priming_ml=fraction(refill.priming_volume_ml)
        if refill.priming_volume_ml is not None
        else Fraction(0),
        emptied_at=next(
            (
                row.effective_at
                for row in record.prescriptions
                if row.empties_reservoir and row.effective_at > refill.performed_at
            ),
            None,
        ),
    )


def reservoir_state(pump: Pump) -> therapy.Reservoir | None:
    return reservoir_from(therapy_records([pump.pk])[pump.pk])


def pump_projection(pump: Pump, *, as_of: datetime | None = None) -> dict:
    """The projection of the API for one pump, as of now (or ``as_of``)."""
    return compute_projection(pump, therapy_records([pump.pk])[pump.pk], as_of=as_of or clock.now())


def compute_projection(pump: Pump, record: TherapyRecord, *, as_of: datetime) -> dict:
    """LRA-1..4, DOSE-2, DOSE-3, ERI-1..2 for a pump (with ``model`` and ``patient.clinic``
    loaded) from its therapy record: instants in UTC, dates as the clinic's local dates.
    Unknown values are None, with a warning saying why."""
    clinic = pump.patient.clinic
    plan, warnings = replacement(pump)
    result = {
        "as_of": as_of,
        "reservoir_volume_ml": None,
        "daily_volume_ml": None,
        "low_reservoir_alarm_at": None,
        "low_reservoir_alarm_at_worst_case": None,
        "empty_at": None,
        "empty_at_worst_case": None,
        "refill_by": None,
        "refill_by_reason": None,
        "eri_on": plan.eri_on if plan else None,
        "eri_estimated": plan.eri_estimated if plan else None,
        "eos_on": plan.eos_on if plan else None,
        "replacement_planning_opens_on": plan.planning_opens_on if plan else None,
        "replacement_book_by": plan.book_by if plan else None,
        "warnings": [],
    }
    state = reservoir_from(record)
    if pump.status == PumpStatus.EXPLANTED:
        when = f" on {pump.explanted_on:%a %d %b %Y}" if pump.explanted_on else ""
        warnings.append(therapy.Notice("explanted", f"The pump was explanted{when}."))
    elif state is None:
        warnings.append(
            therapy.Notice(
                "never_filled", "The pump has no recorded fill: record the first fill to project it."
            )
        )
    else:
        projection = therapy.project(
            state,
            as_of=as_of,
            lra_ml=fraction(pump.low_reservoir_alarm_ml),
            tolerance_pct=fraction(pump.model.accuracy_tolerance_pct),
            tz=clinic.tz,
            safety_margin_days=clinic.safety_margin_days,
            max_reservoir_days=record.refill.drug.max_reservoir_days,
        )
        for key in result:
            if key not in ("as_of", "warnings"):
                result[key] = getattr(projection, key, result[key])
        warnings = list(projection.warnings) + warnings
    result["warnings"] = [{"code": w.code, "message": w.message} for w in warnings]
    return result


# --- history ---------------------------------------------------------------------------

_SKIPPED = {"history_id", "history_date", "history_change_reason", "history_type", "history_user", "id"}


def pump_history(pump: Pump) -> list[dict]:
    """Every change to the pump, its prescriptions and its refills, newest first:
    what changed (field: from → to), who, when and why."""
    sources = (
        ("pump", Pump.history.filter(id=pump.id)),
        ("prescription", Prescription.history.filter(pump_id=pump.id)),
        ("refill", Refill.history.filter(pump_id=pump.id)),
    )
    entries = []
    for kind, records in sources:
        previous: dict[int, object] = {}
        for record in records.select_related("history_user").order_by("history_date", "history_id"):
            before = previous.get(record.id)
            entries.append(
                {
                    "at": record.history_date,
                    "object": kind,
                    "object_id": record.id,
                    "action": {"+": "created", "~": "changed", "-": "deleted"}[record.history_type],
                    "user": record.history_user.username if record.history_user else None,
                    "reason": record.history_change_reason or "",
                    "changes": _changes(record, before),
                }
            )
            previous[record.id] = record
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries


def _changes(record, before) -> dict:
    changes = {}
    for field in record.instance_type._meta.concrete_fields:
        name = field.attname
        if name in _SKIPPED:
            continue
        new = getattr(record, name)
        old = getattr(before, name) if before is not None else None
        if before is None and new in (None, "", False, [], {}):
            continue
        if before is None or old != new:
            changes[field.name] = {"from": _plain(old) if before is not None else None, "to": _plain(new)}
    return changes


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# --- IMPLANT-1: the implant fill and the monitoring after it -----------------------------


def implant_fill(pump: Pump) -> Refill | None:
    return Refill.objects.filter(pump=pump, implant_fill=True).first()


def monitoring_verdict(fill: Refill, record: ImplantMonitoring | None, clinic) -> therapy.Monitoring | None:
    """IMPLANT-1's verdict on a recorded monitoring (None: nothing recorded)."""
    if record is None:
        return None
    return therapy.implant_monitoring(
        fill_at=fill.performed_at,
        started_at=record.started_at,
        ended_at=record.ended_at,
        min_hours=clinical.implant_monitoring_min_hours(),
        tz=clinic.tz,
    )


def implant_monitoring_flags(pump_ids) -> dict[int, str]:
    """IMPLANT-1: the active pumps among ``pump_ids`` whose implant fill has no completed
    monitoring record of the minimum length, each with what a nurse must know (one query, two
    when any of them has an implant fill)."""
    fills = list(
        Refill.objects.filter(pump_id__in=list(pump_ids), implant_fill=True, pump__status=PumpStatus.ACTIVE)
        .select_related("pump__patient__clinic")
        .order_by()
    )
    if not fills:
        return {}
    records = {m.refill_id: m for m in ImplantMonitoring.objects.filter(refill__in=fills)}
    flags = {}
    for fill in fills:
        flag = monitoring_flag(fill, records.get(fill.pk), fill.pump.patient.clinic)
        if flag:
            flags[fill.pump_id] = flag
    return flags


def monitoring_flag(fill: Refill, record: ImplantMonitoring | None, clinic) -> str:
    """IMPLANT-1: what a nurse must know while the monitoring after ``fill`` is not complete
    ("" once it is)."""
    if record is None:
        return (
            "No monitoring is recorded after the implant fill of "
            f"{therapy.units.instant_text(fill.performed_at, clinic.tz)}."
        )
    try:
        verdict = monitoring_verdict(fill, record, clinic)
    except therapy.CalculationError as refusal:
        return f"The monitoring after the implant cannot be checked: {refusal.message}."
    return "" if verdict.complete else verdict.message
