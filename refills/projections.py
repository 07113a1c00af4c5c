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
import json
import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction

import therapy
from patients.models import Clinic, Drug, Pump, PumpModel, PumpStatus
from pumpcare import clinical, clock
from pumpcare.data_version import EVERY_CLINIC, data_changed

from . import selectors
from .models import PumpProjection, Refill, StaleProjection
from .signals import projections_marked_stale, pump_projection_changed

log = logging.getLogger(__name__)

BATCH_SIZE = 500
STORED = [
    f.name
    for f in PumpProjection._meta.concrete_fields
    if f.name not in ("pump", "fingerprint", "computed_at")
]


class Counts:
    """What a job did, as counts that add up across batches and clinics."""

    def __add__(self, other):
        return type(self)(
            *(a + b for a, b in zip(asdict(self).values(), asdict(other).values(), strict=True))
        )

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class RefreshResult(Counts):
    checked: int = 0
    recomputed: int = 0
    skipped_locked: int = 0


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
]
_CLINIC_INPUTS = ["c.timezone", "c.safety_margin_days"]
_REFILL_INPUTS = [
    "r.id",
    "r.performed_at",
    "r.volume_added_ml",
    "r.concentration_mcg_per_ml",
    "r.bridge_path_volume_ml",
    "r.bridge_from_concentration_mcg_per_ml",
    "r.priming_volume_ml",
    "d.max_reservoir_days",
]
_PRESCRIPTION_INPUTS = [
    "x.id",
    "x.effective_at",
    "x.clock_utc_offset_minutes",
    "x.schedule",
    "x.empties_reservoir",
]


def _read_fields(alias: str) -> frozenset[str]:
    inputs = _PUMP_INPUTS + _CLINIC_INPUTS + _REFILL_INPUTS + _PRESCRIPTION_INPUTS
    return frozenset(c.split(".", 1)[1] for c in inputs if c.startswith(f"{alias}.")) - {"id"}


# The fields of a clinic or catalog row that projections read: an edit of any other field
# (a clinic's phone, a drug's source) leaves every projection as it is.
READ_FIELDS = {Clinic: _read_fields("c"), PumpModel: _read_fields("m"), Drug: _read_fields("d")}


def _text(columns: list[str], separator: str) -> str:
    return f" || '{separator}' || ".join(f"COALESCE(CAST({c} AS TEXT), '~')" for c in columns)


def _inputs_sql(vendor: str, where: str) -> str:
    """One row per selected pump: its id, its clinic's zone, its inputs as text in three
    parts, and its stored fingerprint. Every part is read with an index lookup per pump."""
    # Voided entries (corrections) are not part of the therapy record.
    last_fill = (
        "SELECT MAX(r2.performed_at) FROM refills_refill r2 WHERE r2.pump_id = p.id AND r2.voided_at IS NULL"
    )
    in_effect = (
        "SELECT MAX(y.effective_at) FROM refills_prescription y "
        f"WHERE y.pump_id = p.id AND y.voided_at IS NULL AND y.effective_at <= ({last_fill})"
    )
    prescription = _text(_PRESCRIPTION_INPUTS, ",")
    if vendor == "postgresql":
        aggregate = (
            f"SELECT STRING_AGG({prescription}, ';' ORDER BY x.effective_at) FROM refills_prescription x "
            f"WHERE x.pump_id = p.id AND x.voided_at IS NULL AND x.effective_at >= ({in_effect})"
        )
    else:
        aggregate = (
            f"SELECT GROUP_CONCAT(t, ';') FROM (SELECT {prescription} AS t FROM refills_prescription x "
            f"WHERE x.pump_id = p.id AND x.voided_at IS NULL AND x.effective_at >= ({in_effect}) "
            "ORDER BY x.effective_at)"
        )
    # The clinic is read through the patient with per-pump index lookups (a lateral join or
    # scalar subqueries): a join lets the planner hash the whole patient table every batch.
    clinic = (
        "FROM patients_patient pa JOIN patients_clinic c ON c.id = pa.clinic_id WHERE pa.id = p.patient_id"
    )
    if vendor == "postgresql":  # the clinic read once a pump (LIMIT: never pulled up into a join)
        timezone, clinic_part = "cl.timezone", "cl.part"
        lateral = f"LEFT JOIN LATERAL (SELECT c.timezone, {_text(_CLINIC_INPUTS, '|')} AS part {clinic} LIMIT 1) cl ON TRUE "
    else:
        timezone = f"(SELECT c.timezone {clinic})"
        clinic_part = f"(SELECT {_text(_CLINIC_INPUTS, '|')} {clinic})"
        lateral = ""
    return (
        f"SELECT p.id, {timezone} AS timezone, "
        f"{_text(_PUMP_INPUTS, '|')} || '|' || {clinic_part} AS pump_part, "
        f"(SELECT {_text(_REFILL_INPUTS, '|')} FROM refills_refill r JOIN patients_drug d ON d.id = r.drug_id "
        f"WHERE r.pump_id = p.id AND r.voided_at IS NULL ORDER BY r.performed_at DESC LIMIT 1) AS refill_part, "
        f"({aggregate}) AS rx_part, "
        # A projection an edit marked stale has no stored fingerprint: any refresh recomputes it.
        "CASE WHEN sp.projection_id IS NULL THEN pp.fingerprint END AS stored "
        "FROM patients_pump p JOIN patients_pumpmodel m ON m.id = p.model_id "
        f"{lateral}LEFT JOIN refills_pumpprojection pp ON pp.pump_id = p.id "
        f"LEFT JOIN refills_staleprojection sp ON sp.projection_id = p.id WHERE {where}"
    )


def _where(ids: list[int] | None, id_range: tuple[int, int] | None) -> tuple[str, list]:
    if id_range is not None:
        return "p.id BETWEEN %s AND %s AND p.status = 'active'", list(id_range)
    if connection.vendor == "postgresql":  # one parameter to plan, however many pumps
        return "p.id = ANY(CAST(%s AS bigint[]))", [list(ids)]
    return f"p.id IN ({', '.join(['%s'] * len(ids))})", list(ids)


def fingerprints(
    *, ids: list[int] | None = None, id_range: tuple[int, int] | None = None, now: datetime, only_stale: bool
) -> dict[int, str]:
    """A hash of every input of each selected pump's projection, in one query — of every
    pump, or (``only_stale``) only of those whose hash differs from the stored one. It
    includes the clinic's UTC offset at ``now``, so a daylight-saving change passing
    (DOSE-3's warning) counts as a change, the clinical settings and the version of the
    calculations (``therapy.CALCULATION_VERSION``: corrected code recomputes every pump).

    On PostgreSQL the database hashes and compares, so a night when nothing changed sends
    nothing back; elsewhere the text comes back and is hashed here.
    """
    if ids is not None and not ids:
        return {}
    where, params = _where(ids, id_range)
    if connection.vendor == "postgresql":
        sql, params = _digests_sql(where, params, now)
        if only_stale:
            sql = f"SELECT id, digest FROM ({sql}) u WHERE u.digest IS DISTINCT FROM u.stored"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return {row[0]: row[1] for row in cursor.fetchall()}
    return {
        pump_id: digest
        for pump_id, digest, stored in _digests(where, params, now)
        if not only_stale or digest != stored
    }


def _stale(ids: list[int] | None, id_range: tuple[int, int] | None, now: datetime) -> tuple[int, list[int]]:
    """How many pumps are checked, and the ids of those whose inputs changed, in one query:
    the nightly job's whole work for a batch where nothing changed."""
    if ids is not None and not ids:
        return 0, []
    where, params = _where(ids, id_range)
    if connection.vendor == "postgresql":
        sql, params = _digests_sql(where, params, now)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*), ARRAY_AGG(id ORDER BY id) FILTER (WHERE digest IS DISTINCT FROM stored) "
                f"FROM ({sql}) u",
                params,
            )
            count, stale = cursor.fetchone()
    else:
        rows = _digests(where, params, now)
        count, stale = len(rows), sorted(pump_id for pump_id, digest, stored in rows if digest != stored)
    return (len(ids) if ids is not None else count), stale or []


def _settings_part() -> str:
    return repr(sorted(clinical.replacement_parameters().items())) + therapy.CALCULATION_VERSION


def _digests_sql(where: str, params: list, now: datetime) -> tuple[str, list]:
    """PostgreSQL: (id, digest, stored digest) of each selected pump, hashed by the
    database, with the zone's offset at ``now`` from its own time zone database."""
    digest = (
        "MD5(t.pump_part || '\n' || COALESCE(t.refill_part, '') || '\n' || COALESCE(t.rx_part, '') "
        "|| '\n' || CAST((CAST(%s AS timestamptz) AT TIME ZONE t.timezone) - "
        "(CAST(%s AS timestamptz) AT TIME ZONE 'UTC') AS TEXT) || '\n' || %s)"
    )
    sql = f"SELECT t.id, {digest} AS digest, t.stored FROM ({_inputs_sql('postgresql', where)}) t"
    return sql, [now, now, _settings_part(), *params]


def _digests(where: str, params: list, now: datetime) -> list[tuple[int, str, str | None]]:
    """Elsewhere: (id, digest, stored digest) of each selected pump, hashed here."""
    settings_part = _settings_part()
    with connection.cursor() as cursor:
        cursor.execute(_inputs_sql(connection.vendor, where), params)
        rows = cursor.fetchall()
    offsets: dict[str, str] = {}
    digests = []
    for pump_id, zone, pump_part, refill_part, rx_part, stored in rows:
        if zone not in offsets:
            offsets[zone] = str(now.astimezone(ZoneInfo(zone)).utcoffset())
        text = "\n".join((pump_part, refill_part or "", rx_part or "", offsets[zone], settings_part))
        digests.append((pump_id, hashlib.md5(text.encode(), usedforsecurity=False).hexdigest(), stored))
    return digests


def projections_refresh(
    pump_ids=None, *, id_range: tuple[int, int] | None = None, force: bool = False
) -> RefreshResult:
    """Recompute and store the projections of the pumps ``pump_ids`` (or the active pumps
    with ids in ``id_range``) whose inputs changed — all of them with ``force`` — in one
    transaction and a constant number of queries. When nothing changed that is one query.

    Pumps whose row another transaction holds (a refill being recorded, an overlapping
    run) are skipped: that transaction stores their projection itself.
    """
    ids = None if pump_ids is None else list(pump_ids)
    now = clock.now()
    if force:
        candidates = ids if ids is not None else list(active_pump_ids().filter(pk__range=id_range))
        checked = len(candidates)
    else:
        # Outside the transaction: a night when nothing changed opens none.
        checked, candidates = _stale(ids, id_range, now)
    if not candidates:
        return RefreshResult(checked=checked)
    with transaction.atomic():
        locked = list(
            Pump.objects.select_for_update(skip_locked=True)
            .filter(pk__in=candidates)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        digests = fingerprints(ids=locked, now=now, only_stale=False)  # again, under the lock
        changed, clinics = [], set()
        for clinic_id, pump, record in selectors.projection_inputs(locked):
            changed.append((pump.pk, digests[pump.pk], now, _columns(pump, record, now)))
            clinics.add(clinic_id)
        if changed:
            _store(changed)
            # Fresh now — but not from an edit marked after this run read its inputs.
            StaleProjection.objects.filter(
                projection_id__in=[row[0] for row in changed], since__lte=now
            ).delete()
            data_changed(clinics)
    return RefreshResult(
        checked=checked,
        recomputed=len(changed),
        skipped_locked=len(candidates) - len(locked),
    )


_FIELDS = [PumpProjection._meta.get_field(name) for name in ["pump", "fingerprint", "computed_at", *STORED]]
_DEFAULTS = {field.name: field.get_default() for field in _FIELDS}


def _store(rows: list[tuple[int, str, datetime, dict]]) -> None:
    """Insert or update the projections ``rows`` (pump id, fingerprint, computed at,
    columns) in one statement: on PostgreSQL one INSERT reading the batch as one JSON
    document, elsewhere one statement executed for every row."""
    quote = connection.ops.quote_name
    names = [field.column for field in _FIELDS]
    table = quote(PumpProjection._meta.db_table)
    updates = ", ".join(f"{quote(name)} = EXCLUDED.{quote(name)}" for name in names[1:])
    conflict = f"ON CONFLICT ({quote(names[0])}) DO UPDATE SET {updates}"
    columns = ", ".join(quote(name) for name in names)
    values = [
        (pump_id, digest, at, *(stored.get(name, _DEFAULTS[name]) for name in STORED))
        for pump_id, digest, at, stored in rows
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Dates, instants and decimals as their exact text, read by each column's type.
            document = json.dumps([dict(zip(names, row, strict=True)) for row in values], default=_json_text)
            record = ", ".join(f"{quote(f.column)} {f.db_type(connection)}" for f in _FIELDS)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} "
                f"FROM JSONB_TO_RECORDSET(CAST(%s AS jsonb)) AS v({record}) {conflict}",
                [document],
            )
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(names))}) {conflict}",
                [
                    [
                        field.get_db_prep_save(value, connection)
                        for field, value in zip(_FIELDS, row, strict=True)
                    ]
                    for row in values
                ],
            )


def _json_text(value) -> str:
    if isinstance(value, date | Decimal):  # a datetime is a date
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    raise TypeError(f"{type(value).__name__} is not stored as JSON")


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
    return projections_refresh(id_range=(first_id, last_id), force=force)


def projections_refresh_all(queryset=None, *, force: bool = False) -> RefreshResult:
    """Every active pump (of ``queryset``), batch after batch, in this process."""
    total = RefreshResult()
    for first, last in id_ranges(queryset):
        if queryset is None:
            total += projections_refresh(id_range=(first, last), force=force)
        else:
            total += projections_refresh(
                active_pump_ids(queryset).filter(pk__range=(first, last)), force=force
            )
    return total


# --- what a service does after changing a pump's therapy record --------------------------

_batches = threading.local()


def projections_changed(pumps: Iterable[Pump], *, sender) -> None:
    """A service changed the therapy record of ``pumps``: their stored projections are
    recomputed and ``pump_projection_changed`` is sent (state alerts, late bookings), in the
    service's transaction — at once, or, inside ``projections_batched``, once for every pump
    the block touched when it ends."""
    pumps = list(pumps)
    batch = _batch()
    if batch is not None:
        batch.stale.update(p.pk for p in pumps)
        batch.changed.update(p.pk for p in pumps)
        return
    projections_refresh([p.pk for p in pumps], force=True)
    pump_projection_changed.send(sender=sender, pumps=pumps)


@dataclass
class _Batch:
    stale: set[int]  # pumps whose stored projection is not recomputed yet
    changed: set[int]  # pumps whose receivers are not told yet


@contextmanager
def projections_batched() -> Iterator[None]:
    """Many pumps written in one transaction (a registry import): the projection refresh
    and ``pump_projection_changed`` that each service would do per pump are done when the
    block ends, once per pump, in batches of ``BATCH_SIZE`` — a few queries a batch instead
    of some thirty a pump. The block must run inside the writers' transaction; its end is
    still inside it. A reader of a stored projection inside the block gets it fresh
    (``stored_projection``). Pumps whose rows a rolled back savepoint took away are simply
    not found at the end. Nesting joins the outer block."""
    if _batch() is not None:
        yield
        return
    batch = _batches.current = _Batch(set(), set())
    try:
        yield
    finally:
        _batches.current = None
    stale = sorted(batch.stale)
    for start in range(0, len(stale), BATCH_SIZE):
        projections_refresh(stale[start : start + BATCH_SIZE], force=True)
    changed = sorted(batch.changed)
    for start in range(0, len(changed), BATCH_SIZE):
        chunk = changed[start : start + BATCH_SIZE]
        pumps = list(Pump.objects.filter(pk__in=chunk).select_related("patient__clinic").order_by("pk"))
        if pumps:
            pump_projection_changed.send(sender=Pump, pumps=pumps)


def by_clinic(pumps: Iterable[Pump]) -> list[tuple]:
    """``pump_projection_changed``'s pumps as (clinic, pump ids), for a receiver that works
    clinic by clinic."""
    clinics, ids = {}, {}
    for pump in pumps:
        clinic = pump.patient.clinic
        clinics[clinic.pk] = clinic
        ids.setdefault(clinic.pk, []).append(pump.pk)
    return [(clinics[pk], ids[pk]) for pk in sorted(ids)]


def _batch() -> _Batch | None:
    return getattr(_batches, "current", None)


def stored_projection(pump: Pump) -> PumpProjection | None:
    """The pump's stored projection (None before the first one is stored), never a stale
    one: a projection an edit marked stale, or one a ``projections_batched`` block changed,
    is recomputed first. ``pump.projection`` then reads the same one."""
    batch = _batch()
    if batch is not None and pump.pk in batch.stale:
        projections_refresh([pump.pk], force=True)
        batch.stale.discard(pump.pk)
    stored = PumpProjection.objects.select_related("stale")
    projection = stored.filter(pump=pump).first()
    if projection is not None and projection.stale_since is not None:
        projections_refresh([pump.pk], force=True)
        projection = stored.get(pump=pump)
        if projection.stale_since is not None:
            # Another transaction holds the pump (the workers' batch, a refill): computed
            # here from what is committed, not stored.
            record = selectors.therapy_records([pump.pk])[pump.pk]
            for name, value in _columns(pump, record, clock.now()).items():
                setattr(projection, name, value)
            PumpProjection.stale.related.set_cached_value(projection, None)  # fresh, in memory
    Pump.projection.related.set_cached_value(pump, projection)  # what pump.projection reads from now on
    return projection


def loaded_projection(pump: Pump) -> PumpProjection | None:
    """The projection loaded with the pump (``select_related``, as lists load it), or
    ``stored_projection``'s when it is stale: what an alert's words are read from."""
    projection = getattr(pump, "projection", None)
    if projection is not None and projection.stale_since is not None:
        projection = stored_projection(pump)
    return projection


def inputs_changed(
    sender,
    *,
    pumps=None,
    drug=None,
    include_explanted: bool = False,
    edited: tuple[type, Iterable[str]] | None = None,
    **kwargs,
) -> None:
    """``patients.signals.projection_inputs_changed``: the projections of the pumps whose
    inputs changed (those of ``pumps`` — a queryset, or a list of pumps just saved, whose ids
    a batch takes without a query — or the pumps last filled with ``drug``) are
    recomputed in the writer's transaction — or, when more than
    ``PUMPCARE_PROJECTIONS_INLINE_LIMIT`` active pumps are affected, marked stale there
    (``projections_mark_stale``) and recomputed by the workers after the commit, so the edit
    returns at once. ``edited`` (the model and the fields an edit changed): nothing is done
    when no projection reads those fields."""
    if edited is not None:
        model, fields = edited
        if not READ_FIELDS.get(model, frozenset()) & set(fields):
            return
    if drug is not None:
        pumps = Pump.objects.filter(pk__in=Refill.objects.filter(drug=drug).values("pump_id"))
    batch = _batch()
    if isinstance(pumps, list | tuple):  # pumps just saved: their ids are known
        ids = {p.pk for p in pumps}
        pumps = Pump.objects.filter(pk__in=ids)
    elif batch is not None:
        ids = set(pumps.values_list("pk", flat=True))
    if batch is not None:
        batch.stale.update(ids)
        batch.changed.update(ids)
        return
    if include_explanted:
        projections_refresh(pumps.values_list("pk", flat=True))
    elif _more_than(active_pump_ids(pumps), settings.PUMPCARE_PROJECTIONS_INLINE_LIMIT):
        projections_mark_stale(pumps)
    else:
        projections_refresh_all(pumps)


def _more_than(ids, limit: int) -> bool:
    """Whether the ``ids`` queryset has more than ``limit`` rows, reading at most limit + 1."""
    return len(ids[: limit + 1]) > limit


# --- projections marked stale by an edit, recomputed by the workers ------------------------

# A projection still stale this long after it was marked is queued again by the minute's
# sweep (``stale_ranges(older_than=...)``): its recompute was never queued or was lost.
REQUEUE_AFTER_SECONDS = 600


def projections_mark_stale(pumps) -> int:
    """Mark the stored projections of the active pumps of ``pumps`` stale, in one INSERT in
    the caller's transaction (``StaleProjection``), and have the workers recompute them once
    it commits (``projections_marked_stale``). A marked projection counts as changed for
    any refresh (a nurse's refill, the workers, the nightly job), which recomputes it and
    deletes the mark; until then readers show that its dates are being recomputed and
    schedule, alert and print nothing from it. Returns how many were marked (already
    marked ones keep their time)."""
    now = clock.now()
    projections = PumpProjection.objects.filter(pump__in=active_pump_ids(pumps)).values_list("pump_id")
    select, params = projections.query.sql_with_params()
    table, quote = StaleProjection._meta.db_table, connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(table)} (projection_id, since) SELECT u.pump_id, %s FROM ({select}) u WHERE TRUE "
            "ON CONFLICT (projection_id) DO NOTHING",
            [connection.ops.adapt_datetimefield_value(now), *params],
        )
        marked = cursor.rowcount
    if marked:
        # Every clinic's pages (an edit of this size is rare; finding the clinics it touches
        # would cost another pass over the pumps).
        data_changed(EVERY_CLINIC)
        transaction.on_commit(lambda: projections_marked_stale.send(sender=PumpProjection), robust=True)
    log.info("%d projections marked stale, to be recomputed by the workers", marked)
    return marked


def projections_refresh_stale(pumps) -> set[int]:
    """A job (or a single pump's read) about to read the projections of ``pumps``: the
    stale ones among them are recomputed first, in batches — each in a transaction of its
    own when called outside one, so a job does not hold the pumps of a whole clinic while
    it goes on (a nurse's refill waits at most for one batch). Returns the ids of those still
    stale — held by another transaction (the workers' batch recomputing them): the reader
    leaves them out. Nothing stale (nearly always): one indexed query."""
    stale = sorted(stale_ids(pumps))
    for start in range(0, len(stale), BATCH_SIZE):
        projections_refresh(stale[start : start + BATCH_SIZE], force=True)
    if not stale:
        return set()
    return stale_ids(Pump.objects.filter(pk__in=stale))


def stale_ids(pumps) -> set[int]:
    """The ids of ``pumps`` whose projection is marked stale now: one indexed query."""
    marks = StaleProjection.objects.filter(projection_id__in=pumps.values("pk"))
    return set(marks.values_list("projection_id", flat=True))


def stale_ranges(*, older_than: datetime | None = None, size: int | None = None) -> list[tuple[int, int]]:
    """The pumps with a stale projection (marked before ``older_than``) as inclusive (first
    id, last id) ranges of at most ``size`` of them: the nightly job's batches
    (``projections_refresh_range``) recompute them."""
    size = size or BATCH_SIZE
    stale = StaleProjection.objects.all()
    if older_than is not None:
        stale = stale.filter(since__lt=older_than)
    ids = list(stale.order_by("projection_id").values_list("projection_id", flat=True))
    return [(chunk[0], chunk[-1]) for chunk in (ids[i : i + size] for i in range(0, len(ids), size))]
