"""The data version of a clinic: what worklist pages and stale-card counts are cached by.

A clinic's version is a counter of the changes to what those pages show, bumped in the
same transaction as each change: every audited write (a history row: appointments,
refills, prescriptions, pumps, patients, caregivers, cards, closures, alerts, the clinic
itself) and every stored projection. It is per clinic, so a write at one clinic leaves
the other clinics' cached pages alone; a write that no single clinic owns (a catalog
entry, a default card text) bumps the counter every clinic reads instead.

Bumping updates the counter's row, which stays locked until the transaction ends: two
writers at one clinic take turns at that point, so the counter changes in the order the
transactions commit, and a page cached before a commit is never served after it. (A
version read from the newest history id would not: ids are handed out when a row is
written, and a writer that started first can commit last.) Rows of several clinics are
locked in clinic order, so two such writers cannot deadlock on them.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, QuerySet
from django.db.models.expressions import RawSQL

from patients.models import Clinic, Patient, Pump

from .models import DataVersion

EVERY_CLINIC = None  # the scope of a change no single clinic owns

# The clinic's own counter and the one every clinic reads, in the clinic's query.
VERSION_SQL = (
    "COALESCE((SELECT CAST(MAX(v.commits) AS TEXT) FROM refills_dataversion v "
    "WHERE v.clinic_id = patients_clinic.id), '0') || ':' || "
    "COALESCE((SELECT CAST(MAX(v.commits) AS TEXT) FROM refills_dataversion v WHERE v.clinic_id IS NULL), '0')"
)


def with_data_version(clinics: QuerySet[Clinic]) -> QuerySet[Clinic]:
    """Clinics annotated with ``data_version``, read in the same query as the clinic."""
    return clinics.annotate(data_version=RawSQL(VERSION_SQL, []))  # noqa: S611 - constant SQL


def data_changed(clinic_ids: Iterable[int] | None) -> None:
    """Count a change to what the pages of ``clinic_ids`` show (``EVERY_CLINIC``: all of
    them), in the caller's transaction: once per clinic and transaction, however many
    rows it writes."""
    already = _counted()
    if clinic_ids is EVERY_CLINIC:
        if EVERY_CLINIC not in already:
            rows = DataVersion.objects.filter(clinic__isnull=True)
            if not rows.update(commits=F("commits") + 1):
                DataVersion.objects.get_or_create(clinic=None)  # a database flushed without its data
                rows.update(commits=F("commits") + 1)
            already.add(EVERY_CLINIC)
        return
    ids = sorted({pk for pk in clinic_ids if pk is not None} - already)
    if not ids:
        return
    already.update(ids)
    rows = DataVersion.objects.filter(clinic_id__in=ids)
    if len(ids) > 1:  # lock the rows in clinic order: no deadlock between two such writers
        list(rows.select_for_update().order_by("clinic_id").values_list("pk", flat=True))
    if rows.update(commits=F("commits") + 1) < len(ids):
        # A clinic's first change: make its row (another writer may be making it too, in
        # which case this waits for it), then count the change on it. Counting twice on
        # the others is harmless: the version only has to change.
        DataVersion.objects.bulk_create([DataVersion(clinic_id=pk) for pk in ids], ignore_conflicts=True)
        rows.update(commits=F("commits") + 1)


class _Counted(set):
    """The clinics already counted in a transaction: an on-commit callback that does
    nothing, kept in the connection's list of them until the transaction ends (a rolled
    back savepoint drops it with the count it made)."""

    def __init__(self, key):
        super().__init__()
        self.key = key

    def __call__(self) -> None:
        pass


def _counted() -> set:
    """The set of what the current transaction counted already. Under a test case, whose
    own transaction never commits, "the transaction" is the outermost block the code under
    test opened (Django marks the test case's own, as it does for durable blocks)."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return set()  # autocommit: every write is its own transaction
    blocks = connection.atomic_blocks
    own = next((i for i, block in enumerate(blocks) if not getattr(block, "_from_testcase", False)), None)
    if own is None:
        return set()  # written straight in a test case's transaction: count every write
    key = connection.savepoint_ids[own - 1] if own else None
    for _savepoints, callback, _robust in connection.run_on_commit:
        if isinstance(callback, _Counted) and callback.key == key:
            return callback
    counted = _Counted(key)
    transaction.on_commit(counted)
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
        return set(Patient.objects.filter(pk__in=patients).values_list("clinic_id", flat=True))
    if hasattr(instance, "clinic_id"):  # closures, card settings and texts, alerts, feeds
        return EVERY_CLINIC if instance.clinic_id is None else {instance.clinic_id}  # a default text
    if hasattr(instance, "pump_id"):  # refills, prescriptions, appointments, issued cards
        pump = instance.pump if type(instance).pump.is_cached(instance) else None
        if pump is not None and Pump.patient.is_cached(pump):
            return {pump.patient.clinic_id}
        return set(Pump.objects.filter(pk=instance.pump_id).values_list("patient__clinic_id", flat=True))
    if hasattr(instance, "patient_id"):  # caregivers, physicians
        return set(Patient.objects.filter(pk=instance.patient_id).values_list("clinic_id", flat=True))
    return EVERY_CLINIC  # the catalogs: shown by every clinic's pages


def _previous(history_instance, field: str) -> list:
    if history_instance is None or history_instance.history_type != "~":
        return []
    previous = history_instance.prev_record
    return [getattr(previous, field)] if previous is not None else []
