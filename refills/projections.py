"""Keeping every pump's stored projection current (LRA-1..5, ERI-1..2).

``projections_refresh`` is the one writer of ``PumpProjection``. Services call it in the
same transaction as the change they make; the nightly job calls it for every active pump,
in batches, to catch inputs that changed behind the services' back (a catalog row edited in
SQL, a new tz database, a daylight-saving change that turns a warning into another). A batch
costs the same few queries whatever its size, and recomputes only the pumps whose
fingerprint — a hash of every input of the projection — changed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import connection, transaction

import therapy
from patients.models import Pump, PumpStatus
from pumpcare import clinical, clock

from . import selectors
from .models import PumpProjection

log = logging.getLogger(__name__)

BATCH_SIZE = 500
STORED = [
    f.name
    for f in PumpProjection._meta.concrete_fields
    if f.name not in ("pump", "fingerprint", "computed_at")
]


@dataclass
class RefreshResult:
    checked: int = 0
    recomputed: int = 0
    skipped_locked: int = 0

    def __add__(self, other: RefreshResult) -> RefreshResult:
        return RefreshResult(
            *(a + b for a, b in zip(asdict(self).values(), asdict(other).values(), strict=True))
        )

    def as_dict(self) -> dict:
        return asdict(self)


# Every input of a projection, read as text by the database in one query per batch. The
# nightly job compares its hash with the stored one and loads nothing else for a pump whose
# inputs did not change — which is nearly every pump, nearly every night.
_PUMP_INPUTS = [
    "p.status",
    "p.explanted_on",
    "p.implanted_on",
    "p.eri_on",
    "p.low_reservoir_alarm_ml",
    "m.id",
    "m.accuracy_tolerance_pct",
    "m.service_life_months",
    "c.timezone",
    "c.safety_margin_days",
]
_REFILL_INPUTS = [
    "r.id",
    "r.performed_at",
    "r.volume_added_ml",
    "r.concentration_mcg_per_ml",
    "r.bridge_path_volume_ml",
    "r.bridge_from_concentration_mcg_per_ml",
    "d.max_reservoir_days",
]
_PRESCRIPTION_INPUTS = ["x.id", "x.effective_at", "x.clock_utc_offset_minutes", "x.schedule"]


def _text(columns: list[str], separator: str) -> str:
    return f" || '{separator}' || ".join(f"COALESCE(CAST({c} AS TEXT), '~')" for c in columns)


def _inputs_sql(vendor: str, count: int) -> str:
    last_fill = "SELECT MAX(r2.performed_at) FROM refills_refill r2 WHERE r2.pump_id = p.id"
    in_effect = (
        "SELECT MAX(y.effective_at) FROM refills_prescription y "
        f"WHERE y.pump_id = p.id AND y.effective_at <= ({last_fill})"
    )
    prescription = _text(_PRESCRIPTION_INPUTS, ",")
    if vendor == "postgresql":
        aggregate = (
            f"SELECT STRING_AGG({prescription}, ';' ORDER BY x.effective_at) FROM refills_prescription x "
            f"WHERE x.pump_id = p.id AND x.effective_at >= ({in_effect})"
        )
    else:
        aggregate = (
            f"SELECT GROUP_CONCAT(t, ';') FROM (SELECT {prescription} AS t FROM refills_prescription x "
            f"WHERE x.pump_id = p.id AND x.effective_at >= ({in_effect}) ORDER BY x.effective_at)"
        )
    placeholders = ", ".join(["%s"] * count)
    return (
        f"SELECT p.id, c.timezone, {_text(_PUMP_INPUTS, '|')}, "
        f"(SELECT {_text(_REFILL_INPUTS, '|')} FROM refills_refill r JOIN patients_drug d ON d.id = r.drug_id "
        f"WHERE r.pump_id = p.id ORDER BY r.performed_at DESC LIMIT 1), ({aggregate}) "
        "FROM patients_pump p JOIN patients_pumpmodel m ON m.id = p.model_id "
        "JOIN patients_patient pa ON pa.id = p.patient_id JOIN patients_clinic c ON c.id = pa.clinic_id "
        f"WHERE p.id IN ({placeholders})"
    )


def fingerprints(pump_ids: list[int], now: datetime) -> dict[int, str]:
    """A hash of every input of each pump's projection, in one query; it includes the
    clinic's UTC offset now, so a daylight-saving change passing (DOSE-3's warning) and a
    change of the clinical settings count as changes."""
    if not pump_ids:
        return {}
    settings_part = repr(sorted(clinical.replacement_parameters().items()))
    offsets: dict[str, str] = {}
    digests = {}
    with connection.cursor() as cursor:
        cursor.execute(_inputs_sql(connection.vendor, len(pump_ids)), list(pump_ids))
        for pump_id, zone, pump_part, refill_part, prescriptions_part in cursor.fetchall():
            if zone not in offsets:
                offsets[zone] = str(now.astimezone(ZoneInfo(zone)).utcoffset())
            text = "\n".join(
                (pump_part, refill_part or "", prescriptions_part or "", offsets[zone], settings_part)
            )
            digests[pump_id] = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    return digests


def projections_refresh(pump_ids, *, force: bool = False) -> RefreshResult:
    """Recompute and store the projections of ``pump_ids`` whose inputs changed (all of
    them with ``force``), in one transaction and a constant number of queries.

    Pumps whose row another transaction holds (a refill being recorded, an overlapping
    run) are skipped: that transaction stores their projection itself.
    """
    ids = list(pump_ids)
    now = clock.now()
    with transaction.atomic():
        locked = list(
            Pump.objects.select_for_update(skip_locked=True)
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        digests = fingerprints(locked, now)
        stored = dict(PumpProjection.objects.filter(pump_id__in=locked).values_list("pump_id", "fingerprint"))
        stale = [pk for pk in locked if force or stored.get(pk) != digests[pk]]
        changed = []
        if stale:
            pumps = Pump.objects.filter(pk__in=stale).select_related("model", "patient__clinic")
            records = selectors.therapy_records(stale)
            changed = [
                PumpProjection(
                    pump=pump,
                    fingerprint=digests[pump.pk],
                    computed_at=now,
                    **_columns(pump, records[pump.pk], now),
                )
                for pump in pumps
            ]
            PumpProjection.objects.bulk_create(
                changed,
                update_conflicts=True,
                unique_fields=["pump"],
                update_fields=["fingerprint", "computed_at", *STORED],
            )
    return RefreshResult(checked=len(locked), recomputed=len(changed), skipped_locked=len(ids) - len(locked))


def _columns(pump: Pump, record: selectors.TherapyRecord, now: datetime) -> dict:
    """The stored columns; a projection that cannot be computed is stored empty with the
    reason as a warning, so the pump is flagged, never dropped."""
    try:
        result = selectors.compute_projection(pump, record, as_of=now)
    except therapy.CalculationError as error:
        log.warning("projection of pump %s refused: %s", pump.pk, error)
        return {
            "filled_at": record.refill.performed_at if record.refill else None,
            "warnings": [{"code": "projection_refused", "message": f"{error.field}: {error.message}"}],
        }
    columns = {name: result[name] for name in STORED if name in result}
    columns["filled_at"] = record.refill.performed_at if record.refill else None
    columns["refill_by_reason"] = result["refill_by_reason"] or ""
    return columns


def active_pump_ids(queryset=None):
    queryset = queryset if queryset is not None else Pump.objects.all()
    return queryset.filter(status=PumpStatus.ACTIVE).order_by("pk").values_list("pk", flat=True)


def id_ranges(queryset=None, size: int | None = None) -> list[tuple[int, int]]:
    """Active pumps as inclusive (first id, last id) ranges of at most ``size`` pumps."""
    size = size or BATCH_SIZE
    ids = list(active_pump_ids(queryset))
    return [(chunk[0], chunk[-1]) for chunk in (ids[i : i + size] for i in range(0, len(ids), size))]


def projections_refresh_range(first_id: int, last_id: int, *, force: bool = False) -> RefreshResult:
    """One batch of the nightly job: the active pumps with ids in [first_id, last_id]."""
    return projections_refresh(active_pump_ids().filter(pk__gte=first_id, pk__lte=last_id), force=force)


def projections_refresh_all(queryset=None, *, force: bool = False) -> RefreshResult:
    """Every active pump (of ``queryset``), batch after batch, in this process."""
    total = RefreshResult()
    for first, last in id_ranges(queryset):
        ids = active_pump_ids(queryset).filter(pk__gte=first, pk__lte=last)
        total += projections_refresh(ids, force=force)
    return total
