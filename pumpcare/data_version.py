"""The data version of a clinic: what worklist pages and stale-card counts are cached by.

Every audited write (a history row: appointments, refills, prescriptions, pumps, patients,
caregivers, cards, closures, alerts, the clinic itself) and every stored projection is a
change of the clinic (or clinics) that owns it; a write no single clinic owns (a catalog
entry, a default card text) is a change of every clinic. A write at one clinic leaves the
other clinics' cached pages alone.

A change is counted twice, and the version holds both counts:

- in the writing transaction, one ``DataChange`` row per clinic and transaction: the
  version reads the newest row of the clinic, so a write shows at once (in a test case's
  transaction too). Inserting takes no lock another writer waits for.
- after the commit, the clinic's ``DataVersion`` counter goes up by one, in a statement of
  its own. Row ids are handed out when a row is written, not when its transaction commits:
  a writer that started first and commits last leaves the newest id as it was, and a page
  cached between the two commits would outlive the second one. The counter closes that gap.
  It is updated outside the writing transaction, so it never holds a lock while waiting for
  another: counting adds no deadlock. Should a process die between its commit and the
  count, the page is at most a minute old (the cache key holds the minute).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, Max, QuerySet
from django.db.models.expressions import RawSQL

from patients.models import Clinic, Patient, Pump

from .models import DataChange, DataVersion

EVERY_CLINIC = None  # the scope of a change no single clinic owns

# The clinic's newest change and counter, and those every clinic reads, in the clinic's query.
_NEWEST = "(SELECT CAST(MAX({column}) AS TEXT) FROM {table} x WHERE x.clinic_id {where})"
VERSION_SQL = " || ':' || ".join(
    "COALESCE(" + _NEWEST.format(column=column, table=table, where=where) + ", '0')"
    for table, column in ((DataChange._meta.db_table, "id"), (DataVersion._meta.db_table, "commits"))
    for where in ("= patients_clinic.id", "IS NULL")
)


def with_data_version(clinics: QuerySet[Clinic]) -> QuerySet[Clinic]:
    """Clinics annotated with ``data_version``, read in the same query as the clinic."""
    return clinics.annotate(data_version=RawSQL(VERSION_SQL, []))  # noqa: S611 - constant SQL


def data_changed(clinic_ids: Iterable[int] | None) -> None:
    """Count a change to what the pages of ``clinic_ids`` show (``EVERY_CLINIC``: all of
    them): once per clinic and transaction, however many rows the transaction writes."""
    scope = {EVERY_CLINIC} if clinic_ids is EVERY_CLINIC else {pk for pk in clinic_ids if pk is not None}
    counted = _counted()
    new = scope - counted
    if not new:
        return
    counted.update(new)
    DataChange.objects.bulk_create([DataChange(clinic_id=pk) for pk in new])
    if not isinstance(counted, _Counted):
        _count_committed(new)  # autocommit: the change is committed already


def _count_committed(scope: set) -> None:
    """After the commit: each clinic's counter (and the one of every clinic) up by one."""
    if EVERY_CLINIC in scope:
        rows = DataVersion.objects.filter(clinic__isnull=True)
        if not rows.update(commits=F("commits") + 1):
            DataVersion.objects.get_or_create(clinic=None)  # a database flushed without its data
            rows.update(commits=F("commits") + 1)
    ids = sorted(pk for pk in scope if pk is not EVERY_CLINIC)
    if not ids:
        return
    with transaction.atomic():
        rows = DataVersion.objects.filter(clinic_id__in=ids)
        # Rows locked in clinic order: two counts of several clinics cannot deadlock.
        have = list(rows.select_for_update().order_by("clinic_id").values_list("clinic_id", flat=True))
        if len(have) < len(ids):  # a clinic's first change
            DataVersion.objects.bulk_create([DataVersion(clinic_id=pk) for pk in ids], ignore_conflicts=True)
        rows.update(commits=F("commits") + 1)


def data_changes_prune() -> int:
    """Delete the change rows no version reads (all but each clinic's newest). The nightly
    job calls it; the newest rows stay, so no version goes back."""
    newest = (
        DataChange.objects.values("clinic_id").annotate(newest=Max("id")).values_list("newest", flat=True)
    )
    return DataChange.objects.exclude(pk__in=list(newest)).delete()[0]


class _Counted(set):
    """The clinics counted in a transaction so far, and the count made after its commit:
    an on-commit callback found again in the connection's list of them while the
    transaction lasts (a rolled back savepoint drops it with its rows)."""

    def __init__(self, key):
        super().__init__()
        self.key = key

    def __call__(self) -> None:
        _count_committed(set(self))


def _counted() -> set:
    """What the current transaction counted already. Under a test case, whose own
    transaction never commits, "the transaction" is the outermost block the code under
    test opened (Django marks the test case's own, as it does for durable blocks)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return set()  # autocommit: every write is its own transaction
    blocks = connection.atomic_blocks
    own = next((i for i, block in enumerate(blocks) if not getattr(block, "_from_testcase", False)), None)
    if own is None:
        return set()  # written straight in a test case's transaction: every write counts
    key = connection.savepoint_ids[own - 1] if own else None
    for _savepoints, callback, _robust in connection.run_on_commit:
        if isinstance(callback, _Counted) and callback.key == key:
            return callback
    counted = _Counted(key)
    transaction.on_commit(counted, robust=True)
    return counted


def history_written(*, instance, history_instance, **kwargs) -> None:
    """simple_history's ``post_create_historical_record``: every audited write is a change of
    the clinic (or clinics) that owns the object."""
    data_changed(owners(instance, history_instance))


def owners(instance, history_instance=None) -> set[int] | None:
    """The clinics whose pages show ``instance``; ``EVERY_CLINIC`` when no clinic owns it."""
    if isinstance(instance, Clinic):
        return {instance.pk}
    if isinstance(instance, Patient):  # a patient moved between clinics changes both
        return {instance.clinic_id, *_previous(history_instance, "clinic_id")}
    if isinstance(instance, Pump):  # a pump moved to another patient changes both clinics
        patients = {instance.patient_id, *_previous(history_instance, "patient_id")}
        if patients == {instance.patient_id} and Pump.patient.is_cached(instance):
            return {instance.patient.clinic_id}
        return set(Patient.objects.filter(pk__in=patients).values_list("clinic_id", flat=True))
    if hasattr(instance, "clinic_id"):  # closures, card settings and texts, alerts, feeds
        return EVERY_CLINIC if instance.clinic_id is None else {instance.clinic_id}  # a default text
    if hasattr(instance, "pump_id"):  # refills, prescriptions, appointments, issued cards
        pump = instance.pump if type(instance).pump.is_cached(instance) else None
        if pump is not None and Pump.patient.is_cached(pump):
            return {pump.patient.clinic_id}
        return set(Pump.objects.filter(pk=instance.pump_id).values_list("patient__clinic_id", flat=True))
    if hasattr(instance, "refill_id"):  # what a refill carries (the monitoring after an implant)
        return owners(instance.refill)
    if hasattr(instance, "patient_id"):  # caregivers, physicians
        descriptor = getattr(type(instance), "patient", None)
        if descriptor is not None and descriptor.is_cached(instance):
            return {instance.patient.clinic_id}
        return set(Patient.objects.filter(pk=instance.patient_id).values_list("clinic_id", flat=True))
    return EVERY_CLINIC  # the catalogs: shown by every clinic's pages


def _previous(history_instance, field: str) -> list:
    if history_instance is None or history_instance.history_type != "~":
        return []
    previous = history_instance.prev_record
    return [getattr(previous, field)] if previous is not None else []
