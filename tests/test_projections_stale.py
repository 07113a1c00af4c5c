"""An edit that many projections read (a drug's maximum days in the reservoir, a pump
model's accuracy, a clinic's zone or safety margin) returns at once: the projections are
marked stale in its transaction by one UPDATE and recomputed by the workers after the
commit. Until then no reader schedules, alerts or prints from a stale projection, and a
nurse's refill is never blocked by the recompute."""

from datetime import date, timedelta

import pytest
from django.db import connection, transaction
from django.db.utils import OperationalError
from django.test.utils import CaptureQueriesContext

from alerts.messages import current_text
from alerts.models import Alert
from cards.selectors import card_read
from patients.models import Clinic, Pump, PumpModel
from pumpcare.celery import app
from refills import tasks
from refills.models import PumpProjection
from refills.projections import projections_refresh_stale, stored_projection
from refills.services import lock_active_pump
from scheduling.models import Appointment
from scheduling.proposals import refill_proposals_run
from scheduling.state_alerts import state_alerts_run
from tests.conftest import NOW, client_for
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import fill, held_by_another_transaction

pytestmark = pytest.mark.usefixtures("frozen_now")

# Filled Fri 2026-11-20 10:00 UTC with 20 mL at 500 mcg/mL, 250 mcg/day: refill by
# Mon 2026-12-14 (the alarm's date less the margin). With a drug kept at most 14 days in
# the reservoir (LRA-4): refill by Fri 2026-12-04, for drug stability.
FILL = "2026-11-20T10:00:00Z"
BY_ALARM = date(2026, 12, 14)
BY_STABILITY = date(2026, 12, 4)


@pytest.fixture
def pumps(api, clinic, settings):
    """Three filled pumps of the clinic, with the inline limit at 2: an edit that all three
    read is left to the workers."""
    settings.PUMPCARE_PROJECTIONS_INLINE_LIMIT = 2
    made = [
        PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2)) for _ in range(3)
    ]
    for pump in made:
        fill(api, pump, FILL)
    assert {PumpProjection.objects.get(pump=p).refill_by for p in made} == {BY_ALARM}
    return made


@pytest.fixture
def eager(monkeypatch):
    """The workers' tasks run in this process as they are queued."""
    monkeypatch.setitem(app.conf, "task_always_eager", True)


@pytest.fixture
def no_workers(monkeypatch):
    """A committed edit's recompute is queued nowhere (the workers are slow to start)."""
    monkeypatch.setattr(tasks.refresh_stale_projections, "delay", lambda **kwargs: None)


def drug_edit(platform_admin, **changes):
    response = client_for(platform_admin).patch(
        "/api/v1/catalog/drugs/baclofen/", changes or {"max_reservoir_days": 14}, format="json"
    )
    assert response.status_code == 200, response.json()


def projections(pumps):
    return [PumpProjection.objects.get(pump=p) for p in pumps]


def held(pump_id):
    """Another transaction holds the pump's row (the workers' batch recomputing it)."""
    return held_by_another_transaction(lambda: Pump.objects.select_for_update().get(pk=pump_id))


@pytest.mark.rule("LRA-4")
def test_the_edit_marks_the_projections_stale_in_one_insert_and_leaves_them_to_the_workers(
    pumps, platform_admin, django_capture_on_commit_callbacks
):
    before = {p.pk: (p.fingerprint, p.computed_at) for p in projections(pumps)}
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks() as callbacks:
        drug_edit(platform_admin)
    marks = [q["sql"] for q in queries if 'INTO "refills_staleprojection"' in q["sql"]]
    assert len(marks) == 1
    assert not [q["sql"] for q in queries if "refills_pumpprojection" in q["sql"] and "UPDATE" in q["sql"]]
    for projection in projections(pumps):
        # The dates from before the edit, untouched, marked: nothing recomputed in the request.
        assert (projection.refill_by, projection.stale_since) == (BY_ALARM, NOW)
        assert (projection.fingerprint, projection.computed_at) == before[projection.pk]
    # The workers are asked once the edit commits (beside the data version's count).
    assert [c for c in callbacks if "projections_mark_stale" in getattr(c, "__qualname__", "")]


@pytest.mark.rule("LRA-4")
def test_once_committed_the_workers_recompute_every_stale_projection(
    pumps, platform_admin, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        drug_edit(platform_admin)
    for projection in projections(pumps):
        assert (projection.refill_by, projection.refill_by_reason) == (BY_STABILITY, "drug_stability")
        assert projection.stale_since is None


def test_an_edit_below_the_limit_recomputes_in_its_own_transaction(pumps, platform_admin, settings):
    settings.PUMPCARE_PROJECTIONS_INLINE_LIMIT = 3
    drug_edit(platform_admin)
    assert {(p.refill_by, p.stale_since) for p in projections(pumps)} == {(BY_STABILITY, None)}


@pytest.mark.rule("LRA-4")
def test_an_edit_no_projection_reads_marks_nothing(pumps, platform_admin, admin_user, settings):
    settings.PUMPCARE_PROJECTIONS_INLINE_LIMIT = 0
    drug_edit(platform_admin, source="the 2027 label")
    response = client_for(admin_user).patch("/api/v1/clinics/HOME/", {"phone": "+1 555 0100"}, format="json")
    assert response.status_code == 200, response.json()
    assert {p.stale_since for p in projections(pumps)} == {None}
    # ... while the clinic's safety margin is read by every projection of the clinic.
    response = client_for(admin_user).patch(
        "/api/v1/clinics/HOME/", {"safety_margin_days": 10}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert {p.stale_since for p in projections(pumps)} == {NOW}


def test_an_explanted_pump_is_not_marked(pumps, platform_admin, settings):
    settings.PUMPCARE_PROJECTIONS_INLINE_LIMIT = 1
    pumps[0].status, pumps[0].explanted_on = "explanted", date(2026, 11, 25)
    pumps[0].save()
    drug_edit(platform_admin)
    assert [p.stale_since for p in projections(pumps)] == [None, NOW, NOW]


def test_with_the_broker_away_the_edit_stands_and_the_minute_sweep_queues_the_recompute_later(
    pumps, platform_admin, eager, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_away(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.refresh_stale_projections, "delay", broker_away)
    with django_capture_on_commit_callbacks(execute=True):
        drug_edit(platform_admin)
    assert {p.stale_since for p in projections(pumps)} == {NOW}
    # A minute later the recompute may still be under way: the sweep queues nothing.
    monkeypatch.setattr("pumpcare.clock.now", lambda: NOW + timedelta(minutes=1))
    assert tasks.refresh_stale_projections() == 0
    # Still stale ten minutes after the edit: queued again.
    monkeypatch.setattr("pumpcare.clock.now", lambda: NOW + timedelta(minutes=11))
    assert tasks.refresh_stale_projections() == 1
    assert {(p.refill_by, p.stale_since) for p in projections(pumps)} == {(BY_STABILITY, None)}


def test_the_nightly_job_recomputes_a_stale_projection_too(pumps, platform_admin):
    drug_edit(platform_admin)
    tasks.refresh_projection_batch(pumps[0].pk, pumps[-1].pk)
    assert {(p.refill_by, p.stale_since) for p in projections(pumps)} == {(BY_STABILITY, None)}


@pytest.mark.rule("REFILL-1")
def test_a_nurses_refill_during_the_recompute_is_not_blocked_and_stores_a_fresh_projection(
    api, pumps, platform_admin
):
    drug_edit(platform_admin)
    fill(api, pumps[0], "2026-11-25T10:00:00Z", volume_withdrawn_ml="17.5")  # accepted at once
    first, *others = projections(pumps)
    # Its own projection recomputed in its transaction: 25 Nov + 14 days (LRA-4).
    assert (first.refill_by, first.refill_by_reason, first.stale_since) == (
        date(2026, 12, 9),
        "drug_stability",
        None,
    )
    assert {p.stale_since for p in others} == {NOW}


# --- readers ---------------------------------------------------------------------------


def test_the_worklist_shows_the_dates_are_being_recomputed(api, pumps, platform_admin, nurse, client):
    drug_edit(platform_admin)
    rows = api.get("/api/v1/worklist/?clinic=HOME").json()["results"]
    assert {(row["refill_by"], row["flags"]["dates_recomputing"]) for row in rows} == {("2026-12-14", True)}
    client.force_login(nurse)
    page = client.get("/clinics/HOME/worklist/").content.decode()
    assert 'data-testid="dates-recomputing"' in page
    assert "The dates of 3 pumps are being recomputed" in page
    assert page.count('data-testid="row-recomputing"') == 3


@pytest.mark.rule("LRA-5")
def test_proposals_come_from_recomputed_projections(pumps, platform_admin, clinic):
    drug_edit(platform_admin)
    refill_proposals_run(clinic)
    assert set(Appointment.objects.filter(status="proposed").values_list("day", flat=True)) == {BY_STABILITY}
    assert {p.stale_since for p in projections(pumps)} == {None}


def test_a_single_pumps_reader_gets_a_fresh_projection(pumps, platform_admin):
    drug_edit(platform_admin)
    pump = Pump.objects.select_related("projection__stale").get(pk=pumps[0].pk)  # loaded stale
    projection = stored_projection(pump)
    assert (projection.refill_by, projection.stale_since) == (BY_STABILITY, None)
    assert pump.projection.refill_by == BY_STABILITY  # the pump reads the fresh one from now on
    assert PumpProjection.objects.get(pump=pumps[0]).stale_since is None  # and it is stored


@pytest.mark.rule("LRA-5")
def test_the_booking_form_shows_and_suggests_the_recomputed_refill_by(pumps, platform_admin, nurse, client):
    drug_edit(platform_admin)
    client.force_login(nurse)
    page = client.get(f"/pumps/{pumps[0].pk}/appointments/new/").content.decode()
    assert "Refill by <strong>Friday 4 December 2026</strong>" in page
    assert 'value="2026-12-04"' in page  # the latest working day on or before it


def test_a_card_is_printed_from_the_recomputed_dates(pumps, platform_admin):
    drug_edit(platform_admin)
    read = card_read(Pump.objects.select_related("patient", "model", "projection").get(pk=pumps[0].pk))
    assert read.data["refill_by"] == BY_STABILITY.isoformat()
    assert "refill_by" not in read.missing


@pytest.mark.rule("ALERT-1")
def test_an_alerts_words_come_from_the_recomputed_dates(pumps, platform_admin, clinic):
    alert = Alert.objects.create(
        clinic=clinic, pump=pumps[0], kind="refill_unbooked", severity="warning", message="as raised"
    )
    drug_edit(platform_admin)
    words = current_text(
        Alert.objects.select_related("pump__projection", "pump__patient__clinic").get(pk=alert.pk)
    )
    assert "refilled by 4 Dec 2026 (the drug's maximum time in the reservoir)" in words


# --- a pump held by another transaction while it is read ------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_held_pumps_are_left_out_by_jobs_and_computed_for_a_single_read(
    pumps, platform_admin, clinic, no_workers
):
    drug_edit(platform_admin)
    target = pumps[0]
    Alert.objects.create(
        clinic=clinic, pump=target, kind="refill_overdue", severity="warning", message="kept while recomputed"
    )
    with held(target.pk):
        assert projections_refresh_stale(Pump.objects.all()) == {target.pk}
        state_alerts_run(clinic)
        refill_proposals_run(clinic)
        # A single pump's read: computed here, not stored.
        projection = stored_projection(target)
        assert (projection.refill_by, projection.stale_since) == (BY_STABILITY, None)
        assert PumpProjection.objects.get(pump=target).stale_since == NOW
        read = card_read(target)
        assert "being recomputed" in read.missing["refill_by"]
    # The job's alert is kept as it was (neither resolved nor replaced) and no proposal is
    # made from the stale date; the other pumps were recomputed and proposed.
    assert Alert.objects.get(pump=target).resolved_at is None
    assert not Appointment.objects.filter(pump=target).exists()
    assert set(Appointment.objects.values_list("day", flat=True)) == {BY_STABILITY}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_batch_that_found_a_pump_held_runs_again_to_check_it(
    pumps, platform_admin, no_workers, monkeypatch
):
    drug_edit(platform_admin)
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    runs = []
    real = tasks.projections.projections_refresh_range

    def counted(first, last, force=False):
        result = real(first, last, force=force)
        runs.append(result.skipped_locked)
        return result

    monkeypatch.setattr(tasks.projections, "projections_refresh_range", counted)
    monkeypatch.setattr(tasks, "LOCKED_RETRIES", 2)
    with held(pumps[0].pk):
        tasks.refresh_projection_batch.apply(args=(pumps[0].pk, pumps[-1].pk))
    assert runs == [1, 1, 1]  # the run, then two more while the pump was still held
    tasks.refresh_projection_batch.apply(args=(pumps[0].pk, pumps[-1].pk))
    assert runs[-1] == 0
    assert {p.stale_since for p in projections(pumps)} == {None}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_refill_locks_its_pump_and_patient_only(pumps, no_workers):
    """A refill being recorded holds its pump's and patient's rows, not its clinic's or its
    pump model's: another pump of the clinic, an edit of the clinic or of the model (the
    edit that marks projections stale) goes on at once."""
    target, other = pumps[0], pumps[1]
    with held_by_another_transaction(lambda: lock_active_pump(target)), transaction.atomic():
        Clinic.objects.select_for_update(nowait=True).get(pk=target.patient.clinic_id)
        PumpModel.objects.select_for_update(nowait=True).get(pk=target.model_id)
        lock_active_pump(other)
