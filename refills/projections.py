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

from django.db import transaction

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


def fingerprint(pump: Pump, record: selectors.TherapyRecord, now: datetime) -> str:
    """A hash of everything the stored projection depends on, including the clinic's UTC
    offset now: when a daylight-saving change passes, DOSE-3's warning changes too."""
    clinic, model, refill = pump.patient.clinic, pump.model, record.refill
    parts = [
        pump.status,
        pump.explanted_on,
        pump.implanted_on,
        pump.eri_on,
        pump.low_reservoir_alarm_ml,
        model.pk,
        model.accuracy_tolerance_pct,
        model.service_life_months,
        clinic.timezone,
        clinic.safety_margin_days,
        now.astimezone(clinic.tz).utcoffset(),
        sorted(clinical.replacement_parameters().items()),
    ]
    if refill is not None:
        parts += [
            refill.pk,
            refill.performed_at,
            refill.volume_added_ml,
            refill.concentration_mcg_per_ml,
            refill.bridge_path_volume_ml,
            refill.bridge_from_concentration_mcg_per_ml,
            refill.drug.max_reservoir_days,
        ]
    for row in record.prescriptions:
        parts += [row.pk, row.effective_at, row.clock_utc_offset_minutes, sorted(row.schedule.items())]
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def projections_refresh(pump_ids, *, force: bool = False) -> RefreshResult:
    """Recompute and store the projections of ``pump_ids`` whose inputs changed (all of
    them with ``force``), in one transaction and a constant number of queries.

    Pumps whose row another transaction holds (a refill being recorded, an overlapping
    run) are skipped: that transaction stores their projection itself.
    """
    ids = list(pump_ids)
    now = clock.now()
    with transaction.atomic():
        pumps = list(
            Pump.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=ids)
            .select_related("model", "patient__clinic")
            .order_by("pk")
        )
        records = selectors.therapy_records(p.pk for p in pumps)
        stored = dict(
            PumpProjection.objects.filter(pump_id__in=[p.pk for p in pumps]).values_list(
                "pump_id", "fingerprint"
            )
        )
        changed = []
        for pump in pumps:
            record = records[pump.pk]
            digest = fingerprint(pump, record, now)
            if not force and stored.get(pump.pk) == digest:
                continue
            changed.append(
                PumpProjection(pump=pump, fingerprint=digest, computed_at=now, **_columns(pump, record, now))
            )
        if changed:
            PumpProjection.objects.bulk_create(
                changed,
                update_conflicts=True,
                unique_fields=["pump"],
                update_fields=["fingerprint", "computed_at", *STORED],
            )
    return RefreshResult(checked=len(pumps), recomputed=len(changed), skipped_locked=len(ids) - len(pumps))


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
