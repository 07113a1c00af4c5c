"""Stored projections: kept current in the same transaction as every change
of their inputs, and by the nightly job, which recomputes only what changed."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

import therapy
from alerts.models import Alert
from patients.models import Clinic, Drug, Pump, PumpModel
from refills.models import Prescription, PumpProjection, Refill
from refills.projections import (
    STORED,
    fingerprints,
    projections_batched,
    projections_refresh,
    projections_refresh_all,
    stored_projection,
)
from refills.selectors import compute_projection, pump_projection, therapy_records
from refills.services import refill_record
from tests.conftest import client_for
from tests.factories import PatientFactory, PumpFactory
from tests.helpers import held_by_another_transaction, simple

FILL = "2026-03-01T10:00:00Z"
pytestmark = pytest.mark.usefixtures("frozen_now")


def fill(api, pump, at=FILL, prescription=None):
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/refills/",
        {
            "performed_at": at,
            "volume_withdrawn_ml": 0,
            "volume_added_ml": 20,
            "concentration_mcg_per_ml": 500,
            "prescription": prescription or simple(250),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()


def stored(pump) -> PumpProjection:
    return PumpProjection.objects.get(pump=pump)


@pytest.mark.rule("LRA-2", "LRA-3", "LRA-4")
def test_a_refill_stores_the_projection_in_its_own_transaction(api, pump):
    fill(api, pump)
    projection = stored(pump)
    # 20 mL at 0.5 mL/day: LRA 2 mL after 36 days -> 2026-04-06T10:00Z; empty after 40 days.
    assert projection.low_reservoir_alarm_at == datetime(2026, 4, 6, 10, tzinfo=UTC)
    assert projection.empty_at == datetime(2026, 4, 10, 10, tzinfo=UTC)
    # worst case 18 / 0.5725 = 31.441 days; local date 2026-04-01 minus 7 days = 2026-03-25
    assert projection.refill_by == date(2026, 3, 25)
    assert projection.refill_by_reason == "alarm"
    assert projection.filled_at == datetime(2026, 3, 1, 10, tzinfo=UTC)
    live = pump_projection(pump)
    assert projection.low_reservoir_alarm_at_worst_case == live["low_reservoir_alarm_at_worst_case"]
    assert projection.eri_on == live["eri_on"] and projection.eos_on == live["eos_on"]


@pytest.mark.rule("LRA-1", "LRA-2")
def test_a_prescription_change_updates_the_stored_projection(api, pump):
    fill(api, pump)
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/prescriptions/",
        {"effective_at": "2026-03-06T10:00:00Z", "prescription": simple(300), "reason": "titration"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    # 5 days at 0.5 mL/day leave 17.5 mL; then 0.6 mL/day: (17.5 - 2) / 0.6 = 25.8333 days
    # = 25 days 20 hours after 2026-03-06T10:00Z -> 2026-04-01T06:00Z
    assert stored(pump).low_reservoir_alarm_at == datetime(2026, 4, 1, 6, tzinfo=UTC)


def test_a_pump_change_updates_the_stored_projection(api, pump):
    fill(api, pump)
    response = api.patch(f"/api/v1/pumps/{pump.pk}/", {"low_reservoir_alarm_ml": "3.00"}, format="json")
    assert response.status_code == 200, response.json()
    # (20 - 3) / 0.5 = 34 days after 2026-03-01T10:00Z
    assert stored(pump).low_reservoir_alarm_at == datetime(2026, 4, 4, 10, tzinfo=UTC)


@pytest.mark.rule("LRA-4")
def test_a_clinic_change_updates_the_refill_by_dates(api, pump, admin_user, clinic):
    fill(api, pump)
    response = client_for(admin_user).patch(
        f"/api/v1/clinics/{clinic.code}/", {"safety_margin_days": 10}, format="json"
    )
    assert response.status_code == 200, response.json()
    # worst-case alarm on 2026-04-01 minus 10 days
    assert stored(pump).refill_by == date(2026, 3, 22)


@pytest.mark.rule("LRA-3")
def test_a_catalog_change_updates_every_pump_of_the_model(api, pump, platform_admin, patient):
    other = PumpFactory(patient=patient, implanted_on=date(2026, 1, 2))
    fill(api, pump)
    fill(api, other)
    response = client_for(platform_admin).patch(
        "/api/v1/catalog/pump-models/8637-20/", {"accuracy_tolerance_pct": "20"}, format="json"
    )
    assert response.status_code == 200, response.json()
    # worst case 18 / (0.5 x 1.2) = 30 days after 2026-03-01T10:00Z
    for each in (pump, other):
        assert stored(each).low_reservoir_alarm_at_worst_case == datetime(2026, 3, 31, 10, tzinfo=UTC)


@pytest.mark.rule("LRA-4")
def test_a_catalog_or_clinic_edit_recomputes_only_the_projections_it_changes(
    api, pump, admin_user, platform_admin, monkeypatch
):
    from tests.conftest import NOW

    fill(api, pump)
    computed_at = stored(pump).computed_at
    later = NOW + timedelta(hours=1)
    monkeypatch.setattr("pumpcare.clock.now", lambda: later)
    admin, platform = client_for(admin_user), client_for(platform_admin)
    # Edits no projection reads: nothing is recomputed, no pump row is locked.
    response = platform.patch("/api/v1/catalog/drugs/baclofen/", {"source": "the 2027 label"}, format="json")
    assert response.status_code == 200, response.json()
    response = admin.patch("/api/v1/clinics/HOME/", {"phone": "+1 555 0100"}, format="json")
    assert response.status_code == 200, response.json()
    assert stored(pump).computed_at == computed_at
    # An edit projections read (LRA-4): fill day 2026-03-01 + 14 days comes before the
    # alarm's 2026-03-25, in the same transaction as the change.
    response = platform.patch("/api/v1/catalog/drugs/baclofen/", {"max_reservoir_days": 14}, format="json")
    assert response.status_code == 200, response.json()
    projection = stored(pump)
    assert projection.computed_at == later
    assert (projection.refill_by, projection.refill_by_reason) == (date(2026, 3, 15), "drug_stability")


@pytest.mark.rule("LRA-3")
def test_a_new_version_of_the_calculations_recomputes_every_stored_projection(api, pump, monkeypatch):
    # A corrected calculation changes numbers for unchanged inputs: the stored projections
    # (which the worklist, alerts and cards read) must not keep the old ones.
    from refills.projections import fingerprints
    from tests.conftest import NOW

    fill(api, pump)
    assert fingerprints(ids=[pump.pk], now=NOW, only_stale=True) == {}
    monkeypatch.setattr("therapy.CALCULATION_VERSION", "a later correction")
    assert list(fingerprints(ids=[pump.pk], now=NOW, only_stale=True)) == [pump.pk]


def test_a_never_filled_pump_is_stored_with_a_warning(pump, api):
    api.patch(f"/api/v1/pumps/{pump.pk}/", {"serial_number": "NEW-1"}, format="json")
    projection = stored(pump)
    assert projection.refill_by is None
    assert [w["code"] for w in projection.warnings] == ["never_filled"]


def test_the_nightly_job_recomputes_only_what_changed(api, pump, patient):
    other = PumpFactory(
        patient=patient, implanted_on=date(2026, 1, 2), model=PumpModel.objects.get(code="13827")
    )
    fill(api, pump)
    fill(api, other)
    assert projections_refresh_all().recomputed == 0
    # An edit that bypasses the services (SQL, a restored backup) changes an input:
    PumpModel.objects.filter(code="8637-20").update(accuracy_tolerance_pct=20)
    result = projections_refresh_all()
    assert (result.checked, result.recomputed) == (2, 1)
    assert stored(pump).low_reservoir_alarm_at_worst_case == datetime(2026, 3, 31, 10, tzinfo=UTC)


def test_a_projection_that_cannot_be_computed_flags_the_pump(api, pump):
    fill(api, pump)
    Drug.objects.filter(code="baclofen").update(max_reservoir_days=None)
    projections_refresh_all()
    projection = stored(pump)
    assert projection.refill_by is None
    assert projection.warnings[0]["code"] == "projection_refused"
    assert "max_reservoir_days" in projection.warnings[0]["message"]


def test_explanted_pumps_leave_the_nightly_job(api, pump, physician):
    fill(api, pump)
    response = client_for(physician).post(
        f"/api/v1/pumps/{pump.pk}/explant/",
        {"explanted_on": "2026-06-01", "override_reason": "pocket infection"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert [w["code"] for w in stored(pump).warnings] == ["explanted"]
    assert projections_refresh_all().checked == 0


def _filled_pumps(clinic, count):
    nurse_api = client_for(clinic.memberships.get(role="nurse").user)
    pumps = []
    for _ in range(count):
        pump = PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2))
        fill(nurse_api, pump)
        pumps.append(pump.pk)
    return pumps


def test_a_batch_costs_the_same_queries_whatever_its_size(nurse, clinic):
    small, large = _filled_pumps(clinic, 2), _filled_pumps(clinic, 12)
    counts = []
    for ids in (small, large):
        with CaptureQueriesContext(connection) as queries:
            result = projections_refresh(ids, force=True)
        assert result.recomputed == len(ids)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


@pytest.mark.rule("DOSE-3")
def test_a_daylight_saving_change_passing_changes_the_stored_warning(nurse, monkeypatch):
    clinic = Clinic.objects.create(code="NYC", name="NYC", timezone="America/New_York", emergency_phone="1")
    clinic.memberships.create(user=nurse, role="nurse")
    pump = PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 1, 2))
    now = {"at": datetime(2026, 3, 2, 12, tzinfo=UTC)}
    monkeypatch.setattr("pumpcare.clock.now", lambda: now["at"])
    flex = {
        "mode": "flex",
        "steps": [
            {"start": "00:00", "dose_mcg_per_hour": "8"},
            {"start": "08:00", "dose_mcg_per_hour": "12"},
        ],
    }
    fill(client_for(nurse), pump, at=FILL, prescription=flex)
    # Programmed in EST (UTC-5); the change to EDT on 2026-03-08 falls before the next refill.
    assert [w["code"] for w in stored(pump).warnings] == ["daylight_saving_change"]
    now["at"] += timedelta(days=1)
    assert projections_refresh_all().recomputed == 0  # nothing changed yet
    now["at"] = datetime(2026, 3, 9, 12, tzinfo=UTC)
    assert projections_refresh_all().recomputed == 1  # the clinic's offset changed
    assert [w["code"] for w in stored(pump).warnings] == ["clock_off_wall_clock"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_pump_locked_by_another_transaction_is_skipped(clinic, nurse, frozen_now):
    (pump_id,) = _filled_pumps(clinic, 1)
    with held_by_another_transaction(lambda: Pump.objects.select_for_update().get(pk=pump_id)):
        result = projections_refresh([pump_id], force=True)
        assert (result.recomputed, result.skipped_locked) == (0, 1)
    assert projections_refresh([pump_id], force=True).recomputed == 1


# --- many pumps written in one transaction (a registry import) ----------------------------


def _first_fill(nurse, pump):
    refill_record(
        actor=nurse,
        pump=pump,
        performed_at=datetime(2026, 3, 1, 10, tzinfo=UTC),
        volume_withdrawn_ml=Decimal("0"),
        volume_added_ml=Decimal("20"),
        concentration_mcg_per_ml=Decimal("500"),
        prescription=simple(250),
    )


def _state(pump) -> tuple:
    projection = stored(pump)
    columns = {name: getattr(projection, name) for name in STORED}
    alerts = sorted(Alert.objects.filter(pump=pump, resolved_at__isnull=True).values_list("kind", flat=True))
    return columns, alerts


@pytest.mark.rule("LRA-1", "LRA-4", "ALERT-1")
def test_a_batch_refreshes_its_pumps_once_at_its_end_as_each_write_would_have(nurse, patient):
    alone, batched, other = (PumpFactory(patient=patient, implanted_on=date(2026, 1, 2)) for _ in range(3))
    _first_fill(nurse, alone)
    with transaction.atomic():
        with projections_batched():
            _first_fill(nurse, batched)
            # deferred: nothing stored nor alerted yet for the batch's pump
            assert not PumpProjection.objects.filter(pump=batched).exists()
            assert not Alert.objects.filter(pump=batched).exists()
            # ... but a reader of the stored projection inside the batch gets it fresh
            assert stored_projection(batched).refill_by == date(2026, 3, 25)
            _first_fill(nurse, other)
        # Filled on 1 March at 0.5 mL a day, the pumps are past empty on 26 November: the
        # same projection and the same state alerts as the pump written alone.
        assert _state(batched) == _state(alone) == _state(other)
        assert "past_empty" in _state(batched)[1]


def test_a_batch_forgets_the_pumps_of_a_rolled_back_savepoint(nurse, patient):
    """A refused import row: its pump is gone, and the batch's end does not trip over it."""
    kept = PumpFactory(patient=patient, implanted_on=date(2026, 1, 2))
    with transaction.atomic():
        with projections_batched():
            _first_fill(nurse, kept)
            try:
                with transaction.atomic():
                    dropped = PumpFactory(patient=patient, implanted_on=date(2026, 1, 2))
                    _first_fill(nurse, dropped)
                    raise RuntimeError("refused")
            except RuntimeError:
                pass
        assert stored(kept).refill_by == date(2026, 3, 25)
    assert not Pump.objects.filter(pk=dropped.pk).exists()
    assert not PumpProjection.objects.filter(pump_id=dropped.pk).exists()


# --- the batch path stores what the per-pump calculation gives ----------------------------

PLANS = [
    simple(250),
    simple("412.5"),
    {
        "mode": "flex",
        "steps": [
            {"start": "00:00", "dose_mcg_per_hour": "8"},
            {"start": "07:00", "dose_mcg_per_hour": "14"},
            {"start": "22:00", "dose_mcg_per_hour": "8"},
        ],
    },
    {
        "mode": "periodic_bolus",
        "basal_daily_dose_mcg": "150",
        "boluses": [
            {"time": "08:00", "dose_mcg": "25", "duration_minutes": 30},
            {"time": "20:00", "dose_mcg": "25", "duration_minutes": 30},
        ],
    },
]


def _copy(entry, **changes):
    entry.pk = None
    for name, value in changes.items():
        setattr(entry, name, value)
    entry.save()
    return entry


def _varied_pumps(nurse, count: int, seed: int) -> list[Pump]:
    """Pumps with every kind of therapy record a projection reads, drawn at random: clinics
    in zones with and without daylight saving, every pump model (and one of unknown service
    life), never filled, explanted, interrogated ERI dates, several refills and
    prescriptions of every mode, bridge boluses, priming volumes, voided entries, an emptied
    reservoir, pump clocks off the wall clock, and a drug with no maximum time in the
    reservoir (the projection is refused)."""
    rng = random.Random(seed)
    zones = ["UTC", "America/New_York", "Europe/Paris", "Australia/Sydney", "Asia/Kolkata"]
    clinics = [
        Clinic.objects.create(code=f"Z{i}", name=f"Zone {i}", timezone=zone, emergency_phone="1")
        for i, zone in enumerate(zones)
    ]
    baclofen = Drug.objects.get(code="baclofen")
    drugs = [baclofen, _copy(Drug.objects.get(code="baclofen"), code="untimed", max_reservoir_days=None)]
    models = list(PumpModel.objects.all())
    models.append(_copy(PumpModel.objects.first(), code="UNKNOWN-LIFE", service_life_months=None))
    parsed = [therapy.parse_prescription(plan) for plan in PLANS]
    pumps = []
    for _ in range(count):
        model = rng.choice(models)
        pump = PumpFactory(
            patient=PatientFactory(clinic=rng.choice(clinics)),
            model=model,
            implanted_on=date(2024, 1, 1) + timedelta(days=rng.randrange(900)),
            eri_on=rng.choice([None, None, date(2028, 5, 1) + timedelta(days=rng.randrange(400))]),
        )
        if rng.random() < 0.1:
            Pump.objects.filter(pk=pump.pk).update(status="explanted", explanted_on=date(2026, 10, 1))
        at = datetime(2026, 7, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(60 * 24 * 100))
        concentration = Decimal(rng.choice([500, 1000, 2000]))
        for k in range(rng.choice([0, 1, 1, 2, 3])):
            previous, concentration = concentration, Decimal(rng.choice([500, 1000, 2000]))
            bridged = k > 0 and previous != concentration and rng.random() < 0.7
            Refill.objects.create(
                pump=pump,
                performed_at=at,
                performed_by=nurse,
                volume_withdrawn_ml=Decimal(3),
                volume_added_ml=Decimal(rng.choice(["18", "20", "36.5"])),
                drug=rng.choice(drugs) if k else baclofen,
                concentration_mcg_per_ml=concentration,
                bridge_path_volume_ml=Decimal("0.255") if bridged else None,
                bridge_from_concentration_mcg_per_ml=previous if bridged else None,
                priming_volume_ml=Decimal("0.5") if rng.random() < 0.2 else None,
                voided_at=at if rng.random() < 0.1 else None,
            )
            for moment in [
                at,
                *sorted(at + timedelta(hours=rng.randrange(1, 24 * 60)) for _ in range(rng.randrange(3))),
            ]:
                plan = rng.randrange(len(PLANS))
                Prescription.objects.create(
                    pump=pump,
                    effective_at=moment,
                    drug=baclofen,
                    concentration_mcg_per_ml=concentration,
                    mode=PLANS[plan]["mode"],
                    schedule=parsed[plan].as_dict(),
                    daily_dose_mcg=therapy.units.rounded(parsed[plan].daily_dose_mcg_total, Decimal("0.1")),
                    clock_utc_offset_minutes=rng.choice([0, 0, -300, -240, 60, 330, 600]),
                    reason="test",
                    created_by=nurse,
                    empties_reservoir=moment != at and rng.random() < 0.1,
                    voided_at=moment if moment != at and rng.random() < 0.1 else None,
                )
            at += timedelta(days=rng.randrange(20, 60), minutes=rng.randrange(600))
        pumps.append(pump)
    return pumps


def _expected(pump_ids, now) -> dict[int, dict]:
    """The stored columns as the per-pump path computes them, from model instances."""
    records = therapy_records(pump_ids)
    expected = {}
    for pump in Pump.objects.filter(pk__in=pump_ids).select_related("model", "patient__clinic"):
        record = records[pump.pk]
        filled_at = record.refill.performed_at if record.refill else None
        try:
            result = compute_projection(pump, record, as_of=now)
        except therapy.CalculationError as error:
            columns = {name: PumpProjection._meta.get_field(name).get_default() for name in STORED}
            columns["warnings"] = [
                {"code": "projection_refused", "message": f"{error.field}: {error.message}"}
            ]
        else:
            columns = {name: result[name] for name in STORED if name in result}
            columns["refill_by_reason"] = result["refill_by_reason"] or ""
        columns["filled_at"] = filled_at
        expected[pump.pk] = columns
    return expected


@pytest.mark.parametrize("seed", [1, 2])
def test_the_batch_path_stores_what_the_per_pump_calculation_gives(nurse, frozen_now, seed):
    pumps = _varied_pumps(nurse, 40, seed)
    ids = [pump.pk for pump in pumps]
    PumpProjection.objects.filter(pump_id__in=ids).delete()
    # the nightly job's ranges (active pumps), then every pump by id (explanted ones too)
    assert projections_refresh_all(force=True).recomputed == Pump.objects.filter(status="active").count()
    assert projections_refresh(ids, force=True).recomputed == len(ids)
    expected = _expected(ids, frozen_now)
    digests = fingerprints(ids=ids, now=frozen_now, only_stale=False)
    kinds = set()
    for projection in PumpProjection.objects.filter(pump_id__in=ids):
        assert {name: getattr(projection, name) for name in STORED} == expected[projection.pump_id]
        assert (projection.fingerprint, projection.computed_at) == (digests[projection.pump_id], frozen_now)
        kinds.update(w["code"] for w in projection.warnings)
    assert PumpProjection.objects.filter(pump_id__in=ids).count() == len(ids)
    # the draw reached the cases that matter
    assert {"explanted", "never_filled", "projection_refused"} <= kinds, kinds
    assert PumpProjection.objects.filter(pump_id__in=ids, refill_by__isnull=False).count() > 10
