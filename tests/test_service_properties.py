"""Property tests over the whole service (hypothesis stateful testing): random sequences of
API calls by a nurse — fills, refills, prescription changes with hostile doses, bookings,
explant attempts, pump replacements — on a travelling clock across a daylight-saving
change, with the nightly jobs run as the clock passes midnight.

After every step, whatever the sequence:
- no request gets a server error;
- LRA-5: every active, filled pump has an open refill appointment once the scheduling job
  has run, and its proposal can be booked by a nurse (overdue or not);
- LRA-3: a stored projection's worst-case alarm and empty times are never later than the
  nominal ones;
- TITRATE-1 / TITRATE-2, checked here independently of the calculation core: no
  prescription a nurse saved (no prescriber override) stops the therapy (0 at 0.1 mcg) or
  raises the patient's daily dose past +30 % of the lowest dose in effect in the 24 hours
  before it — across the patient's pumps, a replacement pump included — nor raises it at
  all in the first 24 hours after the patient's first fill.
- an admin's edit of the clinic's safety margin (LRA-4) marks the projections stale (the
  inline limit is 0 here) and no worker runs: a nurse's refill and booking still go through,
  and once the jobs have run no projection is stale and every stored one is what the
  calculation gives now.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from patients.models import Pump, PumpModel, PumpStatus
from pumpcare import caching
from refills.models import PumpProjection
from refills.projections import projections_refresh_all
from refills.selectors import pump_projection
from scheduling import worklist
from scheduling.models import OPEN_STATUSES, Appointment, AppointmentKind
from scheduling.proposals import refill_proposals_run_all
from scheduling.state_alerts import state_alerts_run_all
from tests.conftest import client_for
from tests.factories import ClinicFactory, MembershipFactory, PatientFactory, PumpFactory

START = datetime(2026, 10, 20, 14, 0, tzinfo=UTC)  # New York: 10:00 EDT, 12 days before the change
# DOSE-4's supplied concentrations; the 50 mcg/mL screening one is for the trial, not a fill.
CONCENTRATIONS = [500, 1000, 2000]
# Hostile and ordinary daily doses: tiny ones that round to 0.0 mcg, small steps, big jumps.
DOSES = st.sampled_from(
    ["0.0000001", "0.04", "0.05", "0.1", "1", "100", "150", "195", "200", "250", "260", "300", "390", "900"]
)
SPINAL_LIMIT = Decimal("0.30")  # DOMAIN TITRATE-1: spinal origin adults, +30 % per 24 h


def _tenth(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


class ServiceMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        cache.clear()
        caching.local_clear()
        worklist._RESERVOIRS.clear()
        self.now = START
        self.clinic = ClinicFactory(
            code="PROP", timezone="America/New_York", refill_slots_per_day=1, working_days=[1, 2, 3, 4, 5]
        )
        nurse = MembershipFactory(clinic=self.clinic, role="nurse").user
        self.api = client_for(nurse)
        self.admin = client_for(MembershipFactory(clinic=self.clinic, role="admin").user)
        self.patient = PatientFactory(
            clinic=self.clinic, birth_date=date(1970, 1, 1), spasticity_origin="spinal"
        )
        other = PatientFactory(clinic=self.clinic, birth_date=date(1985, 6, 1), spasticity_origin="spinal")
        self.pumps = [
            PumpFactory(patient=self.patient, implanted_on=date(2026, 9, 1)),
            PumpFactory(
                patient=other, implanted_on=date(2026, 9, 1), model=PumpModel.objects.get(code="16827")
            ),
        ]

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- the clock and the nightly jobs ---------------------------------------------------

    def _jobs(self):
        projections_refresh_all()
        refill_proposals_run_all()
        state_alerts_run_all()

    @rule(hours=st.integers(1, 24 * 40))
    def time_passes(self, hours):
        self.now += timedelta(hours=hours)
        self._jobs()
        self._every_filled_pump_has_a_refill_appointment()
        self._no_projection_is_stale_after_the_jobs()

    # --- what an admin does ---------------------------------------------------------------

    @rule(days=st.sampled_from([0, 3, 7, 10]))
    def admin_changes_the_safety_margin(self, days):
        response = self.admin.patch(
            f"/api/v1/clinics/{self.clinic.code}/",
            {"safety_margin_days": days, "reason": "clinic policy"},
            format="json",
        )
        assert response.status_code == 200, response.json()

    # --- what a nurse does ----------------------------------------------------------------

    def _active(self):
        return [p for p in Pump.objects.filter(patient__clinic=self.clinic, status=PumpStatus.ACTIVE)]

    def _post(self, url, body):
        response = self.api.post(url, body, format="json")
        assert response.status_code < 500, (url, body, response.content)
        return response

    @rule(
        which=st.integers(0, 3),
        withdrawn=st.sampled_from(["0", "2.5", "10", "19.99", "40", "500"]),
        added=st.sampled_from(["-1", "0", "5", "18", "20", "40", "41"]),
        concentration=st.sampled_from(CONCENTRATIONS),
        dose=DOSES,
        minutes_ago=st.integers(0, 600),
    )
    def refill(self, which, withdrawn, added, concentration, dose, minutes_ago):
        pumps = self._active()
        pump = pumps[which % len(pumps)]
        first = not pump.refills.exists()
        self._post(
            f"/api/v1/pumps/{pump.pk}/refills/",
            {
                "performed_at": (self.now - timedelta(minutes=minutes_ago)).isoformat(),
                "volume_withdrawn_ml": "0" if first else withdrawn,
                "volume_added_ml": added,
                "concentration_mcg_per_ml": concentration,
                "prescription": {"mode": "simple_continuous", "daily_dose_mcg": dose},
            },
        )

    @rule(which=st.integers(0, 3), dose=DOSES, flex=st.booleans(), minutes_ago=st.integers(0, 600))
    def prescribe(self, which, dose, flex, minutes_ago):
        pumps = self._active()
        pump = pumps[which % len(pumps)]
        plan = {"mode": "simple_continuous", "daily_dose_mcg": dose}
        if flex:  # the same daily dose as a flex rate per hour
            per_hour = (Decimal(dose) / 24).quantize(Decimal("0.0000001"))
            plan = {"mode": "flex", "steps": [{"start": "00:00", "dose_mcg_per_hour": str(per_hour)}]}
        self._post(
            f"/api/v1/pumps/{pump.pk}/prescriptions/",
            {
                "effective_at": (self.now - timedelta(minutes=minutes_ago)).isoformat(),
                "prescription": plan,
                "reason": "titration",
            },
        )

    @rule(which=st.integers(0, 3))
    def book_the_proposal(self, which):
        pumps = self._active()
        pump = pumps[which % len(pumps)]
        proposal = Appointment.objects.filter(
            pump=pump, kind=AppointmentKind.REFILL, status="proposed"
        ).first()
        if proposal is None:
            return
        response = self._post(f"/api/v1/appointments/{proposal.pk}/book/", {})
        # LRA-5: a proposal can always be booked, however overdue the refill
        assert response.status_code == 200, response.json()

    @rule(which=st.integers(0, 3))
    def explant_by_patch(self, which):
        pumps = self._active()
        pump = pumps[which % len(pumps)]
        response = self.api.patch(
            f"/api/v1/pumps/{pump.pk}/",
            {"status": "explanted", "explanted_on": self.now.date().isoformat()},
            format="json",
        )
        assert response.status_code < 500, response.content
        pump.refresh_from_db()
        # TITRATE-2: a nurse cannot stop a pump by editing its record
        assert pump.status == PumpStatus.ACTIVE

    @precondition(lambda self: len(self.pumps) < 4)
    @rule(minutes_ago=st.integers(0, 600))
    def replace_the_pump(self, minutes_ago):
        old = Pump.objects.filter(patient=self.patient, status=PumpStatus.ACTIVE).first()
        response = self._post(
            f"/api/v1/pumps/{old.pk}/replace/",
            {
                "explanted_on": self.now.astimezone(self.clinic.tz).date().isoformat(),
                "reason": "end of service",
                "model": "8637-40",
                "serial_number": f"REPL-{len(self.pumps)}",
                "catheter_model": "8709SC",
                "catheter_length_cm": 50,
            },
        )
        assert response.status_code == 201, response.json()
        if response.status_code == 201:
            self.pumps.append(Pump.objects.get(patient=self.patient, status=PumpStatus.ACTIVE))

    # --- invariants -----------------------------------------------------------------------

    def _every_filled_pump_has_a_refill_appointment(self):
        for pump in self._active():
            if not pump.refills.exists():
                continue
            assert Appointment.objects.filter(
                pump=pump, kind=AppointmentKind.REFILL, status__in=OPEN_STATUSES
            ).exists(), f"LRA-5: pump {pump} has no refill proposal or booking on {self.now}"

    def _no_projection_is_stale_after_the_jobs(self):
        for p in PumpProjection.objects.filter(
            pump__patient__clinic=self.clinic, pump__status=PumpStatus.ACTIVE
        ):
            assert p.stale_since is None, f"pump {p.pump_id}'s projection is still stale after the jobs"
            pump = Pump.objects.select_related("model", "patient__clinic").get(pk=p.pump_id)
            computed = pump_projection(pump)
            assert (p.refill_by, p.low_reservoir_alarm_at_worst_case) == (
                computed["refill_by"],
                computed["low_reservoir_alarm_at_worst_case"],
            ), f"pump {p.pump_id}'s stored projection is not what the calculation gives"

    @invariant()
    def worst_case_is_never_later_than_nominal(self):
        for p in PumpProjection.objects.filter(pump__patient__clinic=self.clinic):
            if p.low_reservoir_alarm_at is not None:
                assert p.low_reservoir_alarm_at_worst_case is not None
                assert p.low_reservoir_alarm_at_worst_case <= p.low_reservoir_alarm_at
            if p.empty_at is not None:
                assert p.empty_at_worst_case is not None
                assert p.empty_at_worst_case <= p.empty_at

    @invariant()
    def a_nurse_never_stops_the_therapy_nor_raises_it_past_the_limit(self):
        from refills.models import Prescription

        for patient_id in {p.patient_id for p in self._pumps_of_clinic()}:
            rows = list(
                Prescription.objects.filter(pump__patient_id=patient_id)
                .order_by("effective_at", "pk")
                .values_list("effective_at", "daily_dose_mcg", "override_reason")
            )
            if not rows:
                continue
            started = rows[0][0]
            for i, (at, dose, override) in enumerate(rows):
                if override:
                    continue
                assert _tenth(dose) > 0, f"TITRATE-2: a nurse stopped the therapy at {at}"
                if i == 0:
                    continue
                in_effect = rows[i - 1][1]
                if dose <= in_effect:
                    continue  # a decrease or the same dose is never refused
                assert at - started >= timedelta(hours=24), "TITRATE-1: increase in the first 24 h"
                window = [d for a, d, _ in rows[:i] if a > at - timedelta(hours=24)]
                before = [d for a, d, _ in rows[:i] if a <= at - timedelta(hours=24)]
                if before:
                    window.append(before[-1])
                assert dose <= min(window) * (1 + SPINAL_LIMIT), (
                    f"TITRATE-1: {dose} mcg/day at {at} exceeds +30 % of {min(window)}"
                )

    def _pumps_of_clinic(self):
        return Pump.objects.filter(patient__clinic=self.clinic)


@pytest.mark.rule("LRA-5", "LRA-3", "TITRATE-1", "TITRATE-2")
@pytest.mark.django_db
def test_no_sequence_of_nurse_calls_breaks_the_safety_rules(monkeypatch):
    state = {}

    class Machine(ServiceMachine):
        def __init__(self):
            super().__init__()
            state["machine"] = self

    monkeypatch.setattr("pumpcare.clock.now", lambda: state["machine"].now)
    monkeypatch.setattr(django_settings, "PUMPCARE_PROJECTIONS_INLINE_LIMIT", 0)
    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=int(os.environ.get("PUMPCARE_STATEFUL_EXAMPLES", "25")),
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
