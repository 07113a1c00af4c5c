"""The day loop: the simulated clinic acts through pumpcare's services and the periodic
jobs run as the beat schedule runs them, each at its own instant of a travelling clock
(``pumpcare.clock.replaying``).

A simulated day, in the clinic's local time:

- 01:00 the nightly jobs: ``projections_refresh_all``, ``refill_proposals_run_all``,
  ``replacement_planning_run_all``;
- 01:30, 09:00 (the reminders' local time) and 19:00 the planning job (``alerts.tasks.plan_notifications``:
  the state passes, the escalations of open alerts, the reminder pass) and the delivery
  tick (``alerts.delivery.due_claim_all`` + ``notification_send``, in-process);
- 07:30 the surgeries: the replacements booked for today (the old pump explanted, the
  new one implanted and given its implant fill at 07:45) unless the patient does not come
  (``--visit-no-show``: recorded and booked again at once, or the next working day), then
  the new patients' implants;
- 08:00 the nurses' desk: announced closures, booked refills the product says fall after
  a refill-by date that moved before them, bookings on a day the clinic has closed
  since (the product alerted them: the nurse moves them), cancellations the patients
  phoned in, moves, booking the proposals whose (seeded) delay has passed;
- 08:30 the year's events at the desk: titration visits and surgeries on a day closed
  since are moved, new patients are enrolled with their screening trial, missed titration
  visits the product's titration agenda still lists are recorded missed and booked again,
  the physician books the titration visits wanted, the nurse interrogates the pumps whose
  patients phoned about the ERI alarm (``devices.services.interrogation_record``) and books
  the replacements the product's planning alerts ask for (a surgery whose day passed
  without the patient: recorded missed, booked again);
- 11:00, every day, open or closed: the on-call nurse answers the product's escalations
  (an open refill-overdue, past-alarm or past-empty alert, ALERT-1) with an emergency
  refill when the worst-case alarm pumpcare shows is under 48 h away; counted apart;
- 10:00–16:00 the patients who come: the nurse measures the residual and records the
  refill (``refills.services.refill_record``);
- 16:30 the titration visits: the assessment, then the new dose (and, at once, the move
  of a booked refill the product now says is too late); a patient who does not come is
  recorded missed and booked again at once, or found in the agenda the next working day;
- 17:00 the explants due;
- 18:00 the nurse records some of the day's no-shows (the nightly job records the rest);
- 18:30 the monitoring after the day's implant fills is recorded;
- 23:00 the simulator reads who is past refill-by without a booking (and why).

The simulator alone knows each pump's true flow; pumpcare sees only the residuals the
nurse measures. Everything is ordered by primary key or by the seeded draw, so the same
seed gives the same figures.
"""

from __future__ import annotations

import math
import random
import time as wallclock
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core import mail
from django.db import connection
from django.db.models import Count
from django.test.utils import override_settings

import therapy
from alerts import delivery
from alerts.models import Alert, AlertKind, Notification, NotificationKind, NotificationStatus
from alerts.tasks import plan_notifications
from devices.services import interrogation_record
from patients.models import CatheterModel, Clinic, ClinicClosure, Pump, PumpModel
from patients.services import (
    caregiver_create,
    catalog_update,
    clinic_create,
    patient_create,
    pump_create,
    save_audited,
    staff_create,
)
from pumpcare import clinical, clock
from refills.assessments import assessment_record
from refills.implant import implant_monitoring_record
from refills.models import PumpProjection
from refills.projections import projections_refresh_all
from refills.replacement import pump_explant, pump_replace
from refills.screening import screening_bolus_record, screening_trial_read
from refills.services import prescription_create, refill_record
from scheduling.appointments import (
    appointment_book,
    appointment_cancel,
    appointment_create,
    appointment_no_show,
)
from scheduling.models import OPEN_STATUSES, Appointment, AppointmentKind, AppointmentStatus
from scheduling.proposals import refill_proposals_run_all
from scheduling.replacements import replacement_planning_run_all
from scheduling.worklist import titration_agenda

from . import world as w

NIGHTLY = time(1, 0)
PLANNING = (time(1, 30), time(9, 0), time(19, 0))
DESK = time(8, 0)
NO_SHOW_DESK = time(18, 0)
EVENING = time(23, 0)
SURGERY = time(7, 30)  # replacements and implants; the implant fill follows at IMPLANT_FILL
IMPLANT_FILL = time(7, 45)  # intraoperative, before the desk opens
EVENTS_DESK = time(8, 30)  # titration and replacement bookings, new patients' screening
TITRATION_VISIT = time(16, 30)  # after the refills (10:00-16:00): a dose change follows them
REFILL_AT_VISIT = time(16, 45)  # the refill done at a titration visit when no other day is left
EXPLANT = time(17, 0)
MONITORING_RECORDED = time(18, 30)
NURSES = 3
ON_CALL_HOURS = 48  # an overdue pump whose worst-case alarm is this close: emergency refill
NURSE_RECORDS_NO_SHOW = 0.5  # the rest are recorded by the nightly job (LRA-5)


@dataclass
class Options:
    pumps: int = 2000
    days: int = 365
    seed: int = 1
    capacity: float = 1.0
    no_show: float = 0.03
    visit_no_show: float = w.VISIT_NO_SHOW
    holidays: bool = False
    start: date = date(2026, 3, 2)  # a Monday; the DST change of 29 March falls inside


@dataclass
class Plan:
    """What the patient of one booked appointment will do (drawn when it is booked)."""

    outcome: str  # come, late, cancel, no_show
    act_on: date | None = None  # cancel: the day the patient phones; late: the day they come
    move_on: date | None = None
    changed_on: date | None = None  # the last day the booking was made or moved


@dataclass
class Results:
    """What happened; ``figures`` is deterministic, ``performance`` is not."""

    options: Options
    slots_per_day: int
    demand_per_working_day: float
    margins: list[float] = field(default_factory=list)
    past_alarm: dict = field(default_factory=dict)  # pump index -> first instant
    empty: dict = field(default_factory=dict)
    unbooked: dict = field(default_factory=dict)  # pump index -> [(date, reason)]
    refills_per_day: Counter = field(default_factory=Counter)
    working_days: list[date] = field(default_factory=list)
    shortfall_lead_days: list[tuple[str, int, int]] = field(default_factory=list)  # kind, pump, days
    refill_failures: list[str] = field(default_factory=list)
    moved_off_closed_days: int = 0
    reminders_checked: int = 0  # reminders the truth says were due (attended bookings)
    emergency_refills: list[tuple[int, str]] = field(default_factory=list)  # pump index, local date
    titration_visits: int = 0
    dose_increases: int = 0
    dose_decreases: int = 0
    over_limit_refused: int = 0
    over_limit_accepted: list[str] = field(default_factory=list)
    titrations_postponed_in_bridge: int = 0
    refills_moved_after_dose_change: int = 0
    refills_at_a_titration_visit: int = 0
    concentration_changes: int = 0
    bridges: int = 0
    replacements_booked: list[tuple[int, str, str, int]] = field(
        default_factory=list
    )  # pump, booked, ERI, days
    replacements_done: int = 0
    titration_visits_missed: int = 0
    surgeries_missed: int = 0
    missed_recorded_same_day: int = 0
    missed_found_next_day: int = 0  # from the titration agenda or the replacement alert
    titration_visits_rebooked: int = 0
    surgeries_rebooked: int = 0
    eri_read_at_interrogation: int = 0
    replacements_booked_after_eri_read: list[tuple[int, str, str]] = field(
        default_factory=list
    )  # pump, day, EOS
    implants: int = 0
    implant_warnings: Counter = field(default_factory=Counter)
    explants: int = 0
    event_failures: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    weekly: dict = field(default_factory=dict)
    performance: dict = field(default_factory=dict)


def local(clinic_tz, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=clinic_tz).astimezone(UTC)


@contextmanager
def fresh_database():
    """A new, empty, migrated database through Django's test machinery (SQLite: in memory;
    PostgreSQL: ``test_<name>``), destroyed at the end; the configured one is never touched."""
    old_name = settings.DATABASES["default"]["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def simulate(options: Options) -> Results:
    """Build the world and play it, in a fresh database."""
    with fresh_database():
        return Simulation(options).run()


class Simulation:
    def __init__(self, options: Options):
        self.o = options
        self.rng = random.Random(options.seed)
        self.world = w.build(
            pumps=options.pumps,
            seed=options.seed,
            capacity=options.capacity,
            rng=self.rng,
            start=options.start,
            days=options.days,
        )
        self.erng = random.Random(f"{options.seed}:visits")  # the year's events, as they happen
        self.mrng = random.Random(f"{options.seed}:missed-visits")  # world.py: "Missed visits"
        self.eri_read_on: dict[int, date] = {}  # simulated pump index -> day of its interrogation
        self.results = Results(
            options=options,
            slots_per_day=self.world.slots_per_day,
            demand_per_working_day=self.world.demand_per_working_day,
        )
        self.plans: dict[int, Plan] = {}  # appointment pk -> plan
        self.proposal_seen: dict[int, date] = {}  # proposal pk -> day the nurse may book it
        self.by_pk: dict[int, w.SimPump] = {}
        self.visits: dict[date, list[tuple[int, int]]] = defaultdict(list)  # day -> (appointment pk, pump pk)
        self.visited: dict[int, date] = {}  # appointment pk -> day its refill was recorded
        self.closures: set[date] = set()
        self.shortfall_seen = 0
        self.holiday_announce, self.holiday_start = None, None
        self.planning_seen: dict[int, date] = {}  # pump pk -> day the nurse books its replacement
        self.arrivals = sorted(self.world.arrivals, key=lambda a: (a.arrives_on, a.sim.index))
        self.implants: dict[date, list[w.Arrival]] = defaultdict(list)
        self.monitor: list[tuple[int, datetime]] = []  # implant fills to record the monitoring of
        if options.holidays:
            self.holiday_announce = options.start + timedelta(days=max(7, options.days // 4))
            self.holiday_start = self.holiday_announce + timedelta(days=42 - self.holiday_announce.weekday())

    # --- setup -----------------------------------------------------------------------------

    def setup(self) -> None:
        start = self.o.start
        before = local(w_tz(), start - timedelta(days=800 * 3), time(8, 0))
        with clock.replaying(before):
            self.clinic = clinic_create(
                code="SIM",
                name="Simulated clinic",
                timezone_name=w.TIMEZONE,
                emergency_phone="+33 1 00 00 00 00",
            )
            self.clinic.refill_slots_per_day = self.world.slots_per_day
            self.clinic.on_call_email = "oncall@sim.example"
            self.clinic.staff_email = "nurses@sim.example"
            self.clinic.phone = "+33 1 00 00 00 01"
            save_audited(self.clinic, actor=None, reason="simulation: clinic settings")
            self.nurses = [
                staff_create(username=f"nurse{i}", clinic=self.clinic, role="nurse")[0] for i in range(NURSES)
            ]
            self.physician = staff_create(username="physician0", clinic=self.clinic, role="physician")[0]
            self._catalog()
            end = start + timedelta(days=self.o.days + 30)
            for day, why in w.public_holidays(start, end):
                self._close(day, why)
        self.tz = self.clinic.tz
        models = {m.code: m for m in PumpModel.objects.order_by("pk")}
        for code, reservoir, alarm, tolerance, _ in w.MODELS:
            m = models[code]
            assert (
                float(m.reservoir_ml),
                float(m.low_reservoir_alarm_ml),
                float(m.accuracy_tolerance_pct),
            ) == (
                reservoir,
                alarm,
                tolerance,
            ), f"the catalog's {code} differs from the simulation's copy"
            assert m.service_life_months == w.SERVICE_LIFE_MONTHS.get(code), (
                f"the catalog's {code} service life differs from the simulation's copy"
            )
        catheters = {c.code: c for c in CatheterModel.objects.order_by("pk")}
        self.models, self.catheters = models, catheters
        for sim in self.world.pumps:
            fill_at = local(self.tz, start, time(8, 0)) - timedelta(days=sim.first_fill_days_ago)
            fill_at = fill_at.replace(microsecond=0)
            implanted = sim.implanted_on or (
                fill_at.astimezone(self.tz).date() - timedelta(days=sim.implanted_days_before_fill)
            )
            nurse = self.nurses[sim.index % NURSES]
            with clock.replaying(local(self.tz, implanted, time(7, 0))):
                patient = self._enrol(sim, nurse)
                pump = pump_create(
                    actor=nurse,
                    patient=patient,
                    model=models[sim.model],
                    serial_number=f"SIM{sim.index:06d}",
                    implanted_on=implanted,
                    catheter_model=catheters[sim.catheter],
                    catheter_length_cm=Decimal(sim.catheter_cm),
                )
            # the implant fill (IMPLANT-1) only for a pump implanted that day; else the last
            # refill before the start, entered as the pump's first fill in this database
            with clock.replaying(fill_at):
                refill_record(
                    actor=nurse,
                    pump=pump,
                    performed_at=fill_at,
                    volume_withdrawn_ml=Decimal(0),
                    volume_added_ml=Decimal(str(sim.reservoir_ml)),
                    concentration_mcg_per_ml=Decimal(sim.concentration),
                    prescription={"mode": "simple_continuous", "daily_dose_mcg": str(sim.dose_mcg)},
                    reason="simulation: fill before the start",
                )
            sim.pump_pk = pump.pk
            sim.fill(fill_at, sim.reservoir_ml)
            self.by_pk[pump.pk] = sim

    def _catalog(self) -> None:
        """The clinic's admin fills in the catalog values the shipped catalog leaves empty
        (PUMP-3) with the demo clinic's, so that bridges (BRIDGE-2) and the priming of a new
        catheter (IMPLANT-1) can be computed; simulation only."""
        for code, low, high in w.DEMO_PATHWAY_ML:
            catalog_update(
                actor=None,
                entry=PumpModel.objects.get(code=code),
                changes={"pathway_volume_min_ml": Decimal(low), "pathway_volume_max_ml": Decimal(high)},
                reason=f"simulation: {w.DEMO_ONLY}",
            )
        for code, per_cm in w.DEMO_CATHETER_ML_PER_CM:
            catalog_update(
                actor=None,
                entry=CatheterModel.objects.get(code=code),
                changes={"volume_ml_per_cm": Decimal(per_cm)},
                reason=f"simulation: {w.DEMO_ONLY}",
            )

    def _enrol(self, sim: w.SimPump, nurse):
        patient = patient_create(
            actor=nurse,
            clinic=self.clinic,
            mrn=f"SIM-{sim.index:05d}",
            given_name=f"Patient{sim.index}",
            family_name="Simulated",
            birth_date=sim.birth,
            spasticity_origin=sim.origin,
            email=f"patient{sim.index}@sim.example",
            communication_consent=sim.consent,
        )
        if sim.caregiver:
            caregiver_create(
                actor=nurse,
                patient=patient,
                name=f"Carer {sim.index}",
                relation="spouse",
                email=f"carer{sim.index}@sim.example",
                communication_consent=True,
            )
        return patient

    def _close(self, day: date, why: str) -> None:
        if day in self.closures:
            return
        save_audited(
            ClinicClosure(clinic=self.clinic, date=day, reason=why), actor=None, reason=f"closure: {why}"
        )
        self.closures.add(day)

    # --- the loop --------------------------------------------------------------------------

    def run(self) -> Results:
        started = wallclock.perf_counter()
        self.setup()
        setup_seconds = wallclock.perf_counter() - started
        for n in range(self.o.days):
            self.play_day(self.o.start + timedelta(days=n))
        end = local(self.tz, self.o.start + timedelta(days=self.o.days), time(0, 0))
        for sim in self.world.pumps:  # still unrefilled at the end
            if not sim.active:
                continue
            if sim.true_alarm_at() < end:
                self.results.past_alarm.setdefault(sim.index, sim.true_alarm_at())
            if sim.true_empty_at() < end:
                self.results.empty.setdefault(sim.index, sim.true_empty_at())
        self._count(end)
        total = wallclock.perf_counter() - started
        self.results.performance = {
            "wall_seconds": round(total, 1),
            "setup_seconds": round(setup_seconds, 1),
            "seconds_per_day": round((total - setup_seconds) / max(1, self.o.days), 3),
            "database": connection.vendor,
        }
        return self.results

    def play_day(self, day: date) -> None:
        """One simulated day, job by job and desk by desk (see the module docstring)."""
        self.today = day
        working = day.isoweekday() in self.clinic.working_days and day not in self.closures
        if working:
            self.results.working_days.append(day)
        with clock.replaying(local(self.tz, day, NIGHTLY)):
            projections_refresh_all()
            refill_proposals_run_all()
            replacement_planning_run_all()
        self._shortfall_alerts(day)
        self._planning(day, PLANNING[0])
        if day == self.holiday_announce:
            with clock.replaying(local(self.tz, day, DESK)):
                for k in range(14):
                    self._close(self.holiday_start + timedelta(days=k), "two-week closure (--holidays)")
        if not working and day in self.implants:  # a closure: the surgeon operates the next working day
            self.implants[self._working_days_after(day, 1)].extend(self.implants.pop(day))
        if working:
            self._surgeries(day)
            with clock.replaying(local(self.tz, day, DESK)):
                self._desk(day)
            with clock.replaying(local(self.tz, day, EVENTS_DESK)):
                self._events_desk(day)
        self._planning(day, PLANNING[1])
        self._on_call(day)
        if working:
            self._visits(day)
            self._titrations(day)
            self._explants(day)
        if working:
            with clock.replaying(local(self.tz, day, NO_SHOW_DESK)):
                self._record_no_shows(day)
            self._monitoring(day)
        self._planning(day, PLANNING[2])
        self._evening(day)
        mail.outbox = []

    def _planning(self, day: date, at: time) -> None:
        with clock.replaying(local(self.tz, day, at)):
            plan_notifications()
            sends = []
            delivery.due_claim_all(enqueue=lambda pk, claim: sends.append((pk, claim)))
            for pk, claim in sends:
                delivery.notification_send(pk, claim)

    def _working(self, day: date) -> bool:
        return day.isoweekday() in self.clinic.working_days and day not in self.closures

    def _working_days_after(self, day: date, count: int) -> date:
        while count > 0:
            day += timedelta(days=1)
            if self._working(day):
                count -= 1
        return day

    def _booked_on(self, day: date) -> int:
        return Appointment.objects.filter(
            pump__patient__clinic=self.clinic, kind="refill", status=AppointmentStatus.BOOKED, day=day
        ).count()

    def _booked_between(self, first: date, last: date) -> dict[date, int]:
        """``_booked_on`` of every day in [first, last], in one query."""
        return dict(
            Appointment.objects.filter(
                pump__patient__clinic=self.clinic,
                kind="refill",
                status=AppointmentStatus.BOOKED,
                day__gte=first,
                day__lte=last,
            )
            .values_list("day")
            .annotate(n=Count("pk"))
            .values_list("day", "n")
        )

    def _time_for(self, day: date) -> time:
        n = self._booked_on(day)
        minutes = 9 * 60 + (n * 15) % (8 * 60)
        return time(minutes // 60, minutes % 60)

    def _free_day(
        self, first: date, last: date, avoid: date | None = None, slots: int | None = None
    ) -> date | None:
        """The latest working day in [first, last] with a free slot (a nurse's choice: she
        counts the bookings, not the job's proposals)."""
        slots = slots or self.world.slots_per_day
        booked = self._booked_between(first, last)
        day = last
        while day >= first:
            if self._working(day) and day != avoid and booked.get(day, 0) < slots:
                return day
            day -= timedelta(days=1)
        return None

    def _nurse(self, appointment) -> object:
        return self.nurses[appointment.pump_id % NURSES]

    def _desk(self, day: date) -> None:
        """08:00: bookings after a refill-by date that moved before them and bookings on a day
        the clinic closed since (the product's alerts), cancellations phoned in, moves, then
        booking proposals."""
        self._move_late_bookings(day)
        for appointment in Appointment.objects.filter(
            pump__patient__clinic=self.clinic, kind="refill", status=AppointmentStatus.BOOKED
        ).order_by("pk"):
            plan = self.plans.get(appointment.pk)
            if plan is None:
                continue
            if appointment.day >= day and not self._working(appointment.day):
                # APPOINTMENT_DAY_CLOSED: the nurse moves it (latest free working day before
                # refill-by, else the earliest working day) and tells the patient
                refill_by = PumpProjection.objects.get(pump_id=appointment.pump_id).refill_by
                new = (self._free_day(day, refill_by) if refill_by and refill_by >= day else None) or (
                    self._working_days_after(day, 0 if self._working(day) else 1)
                )
                self.visits[appointment.day] = [
                    v for v in self.visits[appointment.day] if v[0] != appointment.pk
                ]
                appointment_book(
                    actor=self._nurse(appointment), appointment=appointment, day=new, at=self._time_for(new)
                )
                plan.changed_on = day
                if plan.outcome == "late" and plan.act_on is not None:
                    plan.act_on = plan.act_on + (new - appointment.day)
                self._schedule_visit(appointment.pk, appointment.pump_id, new, plan)
                self.results.moved_off_closed_days += 1
            elif plan.outcome == "cancel" and plan.act_on is not None and plan.act_on <= day:
                appointment_cancel(
                    actor=self._nurse(appointment), appointment=appointment, reason="the patient cannot come"
                )
                plan.act_on = None
            elif plan.move_on is not None and plan.move_on <= day and appointment.day > day:
                refill_by = PumpProjection.objects.get(pump_id=appointment.pump_id).refill_by
                last = max(refill_by, day + timedelta(days=1)) if refill_by else appointment.day
                new = self._free_day(day + timedelta(days=1), last, avoid=appointment.day)
                plan.move_on = None
                if new is not None:
                    self.visits[appointment.day] = [
                        v for v in self.visits[appointment.day] if v[0] != appointment.pk
                    ]
                    appointment_book(
                        actor=self._nurse(appointment),
                        appointment=appointment,
                        day=new,
                        at=self._time_for(new),
                    )
                    plan.changed_on = day
                    self._schedule_visit(appointment.pk, appointment.pump_id, new, plan)
        for proposal in Appointment.objects.filter(
            pump__patient__clinic=self.clinic, kind="refill", status=AppointmentStatus.PROPOSED
        ).order_by("pk"):
            if proposal.pk not in self.proposal_seen:
                self.proposal_seen[proposal.pk] = self._working_days_after(day, self.rng.randint(0, 3))
            if self.proposal_seen[proposal.pk] > day and proposal.day > day:
                continue
            self._book(proposal, day)

    def _book(self, proposal, day: date) -> None:
        target = proposal.day if proposal.day >= day else day
        if not self._working(target):
            target = self._working_days_after(day, 0 if self._working(day) else 1)
        refill_by = PumpProjection.objects.get(pump_id=proposal.pump_id).refill_by
        over = Alert.objects.filter(
            pump_id=proposal.pump_id, kind=AlertKind.OVER_CAPACITY, resolved_at__isnull=True
        ).exists()
        if (over or self._booked_on(target) >= self.world.slots_per_day) and refill_by and refill_by >= day:
            # a full day (or the product's over-capacity proposal, on the earliest working
            # day): the latest free working day before refill-by; none free: the clinic
            # adds a slot on the latest working day before refill-by (acting on the alert)
            target = (
                self._free_day(day, refill_by, avoid=target if not over else None)
                or self._free_day(day, refill_by, slots=10**6)
                or target
            )
        appointment, _ = appointment_book(
            actor=self._nurse(proposal), appointment=proposal, day=target, at=self._time_for(target)
        )
        r = self.rng.random()
        plan = Plan(outcome="come", changed_on=day)
        if r < w.CANCEL_RATE:
            plan.outcome = "cancel"
            plan.act_on = max(day, target - timedelta(days=self.rng.randint(1, 7)))
        elif r < w.CANCEL_RATE + self.o.no_show:
            plan.outcome = "no_show"
        elif r < w.CANCEL_RATE + self.o.no_show + w.LATE_RATE:
            later = [target + timedelta(days=k) for k in range(1, 7 - target.weekday())]
            later = [d for d in later if d.isocalendar()[1] == target.isocalendar()[1] and self._working(d)]
            if later:
                plan.outcome = "late"
                plan.act_on = later[self.rng.randrange(len(later))]
        if (
            plan.outcome in ("come", "late")
            and self.rng.random() < w.MOVE_RATE
            and target > day + timedelta(days=2)
        ):
            plan.move_on = day + timedelta(days=self.rng.randint(1, (target - day).days - 1))
        self.plans[appointment.pk] = plan
        self._schedule_visit(appointment.pk, appointment.pump_id, target, plan)

    def _schedule_visit(self, appointment_pk: int, pump_pk: int, day: date, plan: Plan) -> None:
        if plan.outcome == "come":
            self.visits[day].append((appointment_pk, pump_pk))
        elif plan.outcome == "late" and plan.act_on is not None:
            shift = plan.act_on - (plan.changed_on or day)
            come = plan.act_on if plan.act_on > day else day + max(timedelta(days=1), shift)
            while not self._working(come):
                come += timedelta(days=1)
            self.visits[come].append((appointment_pk, pump_pk))

    def _visits(self, day: date) -> None:
        visits = self.visits.pop(day, [])
        for n, (appointment_pk, pump_pk) in enumerate(visits):
            appointment = Appointment.objects.get(pk=appointment_pk)
            sim = self.by_pk[pump_pk]
            # booked, or (a late patient) marked no-show since; completed by another refill
            # (an emergency refill, a late patient of an earlier booking) or cancelled: not coming
            if appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.NO_SHOW):
                continue
            if appointment.pk in self.visited:
                continue
            plan = self.plans.get(appointment.pk)
            booked_on = plan.changed_on if plan and plan.changed_on else appointment.day
            if sim.filled_at.astimezone(self.tz).date() >= booked_on:
                continue  # refilled since it was booked
            at = local(self.tz, day, time(10, 0)) + timedelta(minutes=(n * 6) % 360)
            self._refill(sim, at, appointment)
            self.visited[appointment.pk] = day

    def _on_call(self, day: date) -> None:
        """11:00, every day: the on-call nurse answers the escalations the product sends
        (ALERT-1: refill overdue, past the worst-case alarm, past the projected empty time)
        and refills the pump that day, open or closed, when the pump's worst-case alarm
        (as pumpcare shows it) is less than ``ON_CALL_HOURS`` away and it is not booked for
        today."""
        now = local(self.tz, day, time(11, 0))
        for pump_id in (
            Alert.objects.filter(
                clinic=self.clinic,
                kind__in=[AlertKind.REFILL_OVERDUE, AlertKind.PAST_ALARM, AlertKind.PAST_EMPTY],
                resolved_at__isnull=True,
            )
            .order_by("pump_id")
            .values_list("pump_id", flat=True)
            .distinct()
        ):
            sim = self._current(pump_id)
            if sim is None:
                continue  # counted at the end: an alert left open on a pump no longer implanted
            alarm = PumpProjection.objects.get(pump_id=pump_id).low_reservoir_alarm_at_worst_case
            if alarm is None or alarm > now + timedelta(hours=ON_CALL_HOURS):
                continue
            if Appointment.objects.filter(pump_id=pump_id, status=AppointmentStatus.BOOKED, day=day).exists():
                continue
            pump_appointment = Appointment(pump=sim_pump(pump_id))
            self._refill(sim, local(self.tz, day, time(11, 0)), pump_appointment)
            self.results.emergency_refills.append((sim.index, day.isoformat()))

    def _refill(self, sim: w.SimPump, at: datetime, appointment) -> None:
        """The nurse withdraws and measures the residual (true + noise) and fills the reservoir."""
        true_residual = sim.true_volume(at)
        measured = true_residual + self.rng.uniform(-w.MEASURE_NOISE_ML, w.MEASURE_NOISE_ML)
        measured = min(max(0.0, measured), sim.reservoir_ml)
        alarm_at, empty_at = sim.true_alarm_at(), sim.true_empty_at()
        self.results.margins.append((alarm_at - at).total_seconds() / 86400)
        if at >= alarm_at:
            self.results.past_alarm.setdefault(sim.index, alarm_at)
        if at >= empty_at:
            self.results.empty.setdefault(sim.index, empty_at)
        concentration = sim.concentration
        higher = [c for c in w.CONCENTRATIONS if c > concentration]
        if higher and self.erng.random() < w.CONCENTRATION_UP_RATE:
            concentration = higher[0]  # DOSE-4: one supplied step up, with a bridge (BRIDGE-1)
        with clock.replaying(at):
            change = refill_record(
                actor=self._nurse(appointment),
                pump=appointment.pump,
                performed_at=at,
                volume_withdrawn_ml=Decimal(str(round(measured, 2))),
                volume_added_ml=Decimal(str(sim.reservoir_ml)),
                concentration_mcg_per_ml=Decimal(concentration),
                prescription={"mode": "simple_continuous", "daily_dose_mcg": str(sim.dose_mcg)},
                lot_number=f"LOT-{at:%y%m%d}",
                reason="simulation: refill"
                if concentration == sim.concentration
                else "simulation: refill, one concentration step up",
            )
        refill = change.refill
        if concentration != sim.concentration:
            self.results.concentration_changes += 1
            if refill.bridge_path_volume_ml is None:
                self.results.event_failures.append(
                    f"pump {sim.index}: {sim.concentration} → {concentration} mcg/mL without a bridge"
                )
            else:
                self.results.bridges += 1
        sim.concentration = concentration
        sim.fill(
            at,
            sim.reservoir_ml,
            bridge_ml=float(refill.bridge_path_volume_ml or 0),
            bridge_hours=float(refill.bridge_duration_hours or 0),
        )
        self.results.refills_per_day[at.astimezone(self.tz).date()] += 1

    def _record_no_shows(self, day: date) -> None:
        for appointment in Appointment.objects.filter(
            pump__patient__clinic=self.clinic, kind="refill", status=AppointmentStatus.BOOKED, day=day
        ).order_by("pk"):
            plan = self.plans.get(appointment.pk)
            if plan and plan.outcome in ("no_show", "late") and self.rng.random() < NURSE_RECORDS_NO_SHOW:
                appointment_no_show(
                    actor=self._nurse(appointment), appointment=appointment, notes="did not come"
                )

    def _shortfall_alerts(self, day: date) -> None:
        """How many days before its refill-by each capacity-shortfall alert came."""
        for alert in Alert.objects.filter(
            pk__gt=self.shortfall_seen, kind__in=[AlertKind.OVER_CAPACITY, AlertKind.NO_REFILL_SLOT]
        ).order_by("pk"):
            refill_by = PumpProjection.objects.get(pump_id=alert.pump_id).refill_by
            raised = alert.raised_at.astimezone(self.tz).date()
            lead = (refill_by - raised).days if refill_by else 0
            self.results.shortfall_lead_days.append((alert.kind, self.by_pk[alert.pump_id].index, lead))
            self.shortfall_seen = alert.pk

    def _evening(self, day: date) -> None:
        """23:00: every pump past its refill-by date without a booked refill, and why."""
        booked = set(
            Appointment.objects.filter(
                pump__patient__clinic=self.clinic, kind="refill", status=AppointmentStatus.BOOKED
            ).values_list("pump_id", flat=True)
        )
        for pump_id in (
            PumpProjection.objects.filter(refill_by__lt=day, pump__status="active")
            .order_by("pump_id")
            .values_list("pump_id", flat=True)
        ):
            if pump_id in booked:
                continue
            last = Appointment.objects.filter(pump_id=pump_id, kind="refill").order_by("-pk").first()
            if last is None:
                reason = "no appointment"
            elif last.status == AppointmentStatus.PROPOSED:
                earlier = (
                    Appointment.objects.filter(pump_id=pump_id, kind="refill", pk__lt=last.pk)
                    .order_by("-pk")
                    .values_list("status", flat=True)
                    .first()
                )
                reason = (
                    f"proposed, not booked yet (after a {earlier})"
                    if earlier in ("no_show", "cancelled")
                    else "proposed, not booked yet"
                )
            else:
                reason = f"last appointment {last.status}"
            self.results.unbooked.setdefault(self.by_pk[pump_id].index, []).append((day, reason))

    # --- the year's events (world.py: "The year's events") -------------------------------------

    def _truth_check(self, sim: w.SimPump, at: datetime) -> None:
        """A pump leaving service: was its true reservoir past the alarm, or empty, before?"""
        if at >= sim.true_alarm_at():
            self.results.past_alarm.setdefault(sim.index, sim.true_alarm_at())
        if at >= sim.true_empty_at():
            self.results.empty.setdefault(sim.index, sim.true_empty_at())

    def _current(self, pump_id: int) -> w.SimPump | None:
        """The simulated patient whose implanted pump this is (None: explanted or replaced)."""
        sim = self.by_pk.get(pump_id)
        return sim if sim is not None and sim.active and sim.pump_pk == pump_id else None

    def _events_desk(self, day: date) -> None:
        """08:30: visits and surgeries on a day the clinic closed since are moved to the next
        working day; new patients are screened; the physician books the titration visits
        wanted; the nurse books the replacement surgeries the product's planning asks for."""
        for appointment in Appointment.objects.filter(
            pump__patient__clinic=self.clinic,
            kind__in=[AppointmentKind.TITRATION, AppointmentKind.REPLACEMENT],
            status=AppointmentStatus.BOOKED,
            day__gte=day,
        ).order_by("pk"):
            if not self._working(appointment.day):
                new = self._working_days_after(appointment.day, 1)
                appointment_book(actor=self._nurse(appointment), appointment=appointment, day=new)
                self.results.moved_off_closed_days += 1
        while self.arrivals and self.arrivals[0].arrives_on <= day:
            self._screen(self.arrivals.pop(0), day)
        # the product's titration agenda lists a visit still open on a past day: missed
        for visit in titration_agenda(self.clinic, day)["titration_visits"]:
            if visit.status == AppointmentStatus.BOOKED and visit.day < day:
                self._missed(visit, day)
                self.results.missed_found_next_day += 1
        self._eri_reads(day)
        for sim in list(self.world.pumps):
            if sim.active and sim.titration_on is not None and sim.titration_on <= day:
                sim.titration_on = None
                if Appointment.objects.filter(
                    pump_id=sim.pump_pk, kind=AppointmentKind.TITRATION, status__in=OPEN_STATUSES
                ).exists():
                    continue  # one is booked already
                visit = self._working_days_after(day, self.erng.randint(*w.TITRATION_BOOK_AHEAD_WORKING_DAYS))
                appointment_create(
                    actor=self.physician,
                    pump=sim_pump(sim.pump_pk),
                    kind=AppointmentKind.TITRATION,
                    day=visit,
                    at=TITRATION_VISIT,
                )
        for kind, pump_id in (
            Alert.objects.filter(
                clinic=self.clinic,
                kind__in=[AlertKind.REPLACEMENT_PLANNING, AlertKind.REPLACEMENT_OVERDUE],
                resolved_at__isnull=True,
            )
            .order_by("pk")
            .values_list("kind", "pump_id")
        ):
            sim = self._current(pump_id)
            if sim is None:
                continue
            if pump_id not in self.planning_seen:
                delay = self.erng.randint(*w.REPLACEMENT_BOOKING_DELAY_WORKING_DAYS)
                self.planning_seen[pump_id] = (
                    self._working_days_after(day, delay) if kind == AlertKind.REPLACEMENT_PLANNING else day
                )
            if self.planning_seen[pump_id] > day:
                continue
            open_surgery = Appointment.objects.filter(
                pump_id=pump_id, kind=AppointmentKind.REPLACEMENT, status__in=OPEN_STATUSES
            ).first()
            if open_surgery is not None and open_surgery.day < day:
                # the alert came back: the surgery's day passed without the patient
                self._missed(open_surgery, day)
                self.results.missed_found_next_day += 1
                continue
            if open_surgery is not None:
                continue
            surgery = self._working_days_after(
                day + timedelta(days=self.erng.randint(*w.REPLACEMENT_SURGERY_AFTER_DAYS) - 1), 1
            )
            appointment_create(
                actor=self._nurse(Appointment(pump_id=pump_id)),
                pump=sim_pump(pump_id),
                kind=AppointmentKind.REPLACEMENT,
                day=surgery,
                at=SURGERY,
            )
            projection = PumpProjection.objects.get(pump_id=pump_id)
            eri = projection.eri_on
            if projection.eri_estimated is False:  # ERI-1: read at an interrogation
                self.results.replacements_booked_after_eri_read.append(
                    (
                        sim.index,
                        surgery.isoformat(),
                        projection.eos_on.isoformat() if projection.eos_on else "",
                    )
                )
                continue
            self.results.replacements_booked.append(
                (
                    sim.index,
                    day.isoformat(),
                    eri.isoformat() if eri else "unknown",
                    (eri - day).days if eri else -1,
                )
            )

    def _missed(self, appointment: Appointment, day: date) -> None:
        """The patient did not come to a titration visit or a surgery: the nurse records it
        missed (``appointment_no_show``) and books it again (world.py: "Missed visits")."""
        nurse = self._nurse(appointment)
        appointment_no_show(actor=nurse, appointment=appointment, notes="did not come")
        if self._current(appointment.pump_id) is None:
            return
        if appointment.kind == AppointmentKind.TITRATION:
            new = self._working_days_after(day, self.mrng.randint(*w.TITRATION_BOOK_AHEAD_WORKING_DAYS))
            at = TITRATION_VISIT
        else:
            new = self._working_days_after(
                day + timedelta(days=self.mrng.randint(*w.REPLACEMENT_REBOOK_AFTER_DAYS) - 1), 1
            )
            eos = PumpProjection.objects.get(pump_id=appointment.pump_id).eos_on
            if eos is not None and new >= eos:  # ERI-2: the last working day before EOS
                new = eos - timedelta(days=1)
                while new > day and not self._working(new):
                    new -= timedelta(days=1)
                if new <= day:
                    new = self._working_days_after(day, 1)  # refused by the product: reported
            at = SURGERY
        try:
            appointment_create(actor=nurse, pump=appointment.pump, kind=appointment.kind, day=new, at=at)
        except therapy.CalculationError as refusal:
            self.results.event_failures.append(
                f"pump {self.by_pk[appointment.pump_id].index}: {appointment.kind} missed on "
                f"{appointment.day} not booked again for {new}: {refusal.message}"
            )
            return
        if appointment.kind == AppointmentKind.TITRATION:
            self.results.titration_visits_rebooked += 1
        else:
            self.results.surgeries_rebooked += 1

    def _eri_reads(self, day: date) -> None:
        """ERI-1 / DEVICE-1: a battery that reached ERI early (world.py): the patient phoned
        about the pump's alarm; the nurse interrogates the pump some working days later and
        enters the ERI alarm, with the day the pump reports it since."""
        at = local(self.tz, day, EVENTS_DESK)
        for sim in self.world.pumps:
            if not sim.active or sim.eri_on is None or sim.eri_read or sim.eri_on > day:
                continue
            if sim.index not in self.eri_read_on:
                self.eri_read_on[sim.index] = self._working_days_after(
                    sim.eri_on, self.mrng.randint(*w.ERI_READ_AFTER_WORKING_DAYS)
                )
            if self.eri_read_on[sim.index] > day:
                continue
            interrogation_record(
                actor=self.nurses[sim.index % NURSES],
                pump=sim_pump(sim.pump_pk),
                interrogated_at=at,
                alarms=["eri"],
                eri_since=sim.eri_on,
                notes="the patient phoned about the pump's alarm",
            )
            sim.eri_read = True
            self.results.eri_read_at_interrogation += 1

    def _screen(self, arrival: w.Arrival, day: date) -> None:
        """A new patient (IMPLANT-1, START-1): enrolled, the screening trial's boluses (given on
        the days before) recorded, the implant planned."""
        sim = arrival.sim
        patient = self._enrol(sim, self.nurses[sim.index % NURSES])
        steps = clinical.screening_steps()
        for k in range(arrival.responds_at_step + 1):
            responded = k == arrival.responds_at_step
            screening_bolus_record(
                actor=self.physician,
                patient=patient,
                dose_mcg=Decimal(str(float(steps[k]))),
                given_at=local(self.tz, day - timedelta(days=arrival.responds_at_step + 1 - k), time(10, 0)),
                observed_by="the screening nurse",
                responded=responded,
                effect_duration_hours=Decimal(str(round(arrival.effect_hours, 1))) if responded else None,
            )
        arrival.patient = patient
        implant = max(arrival.implant_on, day + timedelta(days=w.IMPLANT_AFTER_ARRIVAL_DAYS[0]))
        self.implants[self._working_days_after(implant - timedelta(days=1), 1)].append(arrival)

    def _surgeries(self, day: date) -> None:
        """07:30: the replacements booked for today, then today's new implants."""
        for appointment in Appointment.objects.filter(
            pump__patient__clinic=self.clinic,
            kind=AppointmentKind.REPLACEMENT,
            status=AppointmentStatus.BOOKED,
            day=day,
        ).order_by("pk"):
            sim = self._current(appointment.pump_id)
            if sim is None:
                continue
            if self.mrng.random() < self.o.visit_no_show:
                self.results.surgeries_missed += 1
                if self.mrng.random() < w.NURSE_RECORDS_VISIT_NO_SHOW:
                    with clock.replaying(local(self.tz, day, SURGERY)):
                        self._missed(appointment, day)
                    self.results.missed_recorded_same_day += 1
                continue
            self._replace(sim, appointment.pump, day)
        for arrival in self.implants.pop(day, []):
            self._implant(arrival, day)

    def _replace(self, sim: w.SimPump, pump: Pump, day: date) -> None:
        """ERI-2: the replacement; the new pump's implant fill continues the patient's
        concentration and dose (IMPLANT-1, TITRATE-1); the catheter is kept."""
        at = local(self.tz, day, SURGERY)
        self._truth_check(sim, at)
        with clock.replaying(at):
            new = pump_replace(
                actor=self.physician,
                old_pump=pump,
                explanted_on=day,
                reason="end of battery life: elective replacement before ERI",
                model=self.models[sim.model],
                serial_number=f"SIM{sim.index:06d}-{day:%y%m%d}",
                catheter_model=self.catheters[sim.catheter],
                catheter_length_cm=Decimal(sim.catheter_cm),
            )
        sim.flow_error = self.erng.uniform(-sim.tolerance_pct, sim.tolerance_pct) / 100
        sim.eri_on, sim.eri_read = None, False  # the new pump's battery is new
        sim.pump_pk = new.pk
        self.by_pk[new.pk] = sim
        self._implant_fill(sim, new, day, primed=False)
        self.results.replacements_done += 1

    def _implant(self, arrival: w.Arrival, day: date) -> None:
        """IMPLANT-1: a new patient's pump, its primed catheter and its implant fill at the
        starting concentration and the starting dose the screening trial gives (START-1)."""
        sim = arrival.sim
        with clock.replaying(local(self.tz, day, SURGERY)):
            pump = pump_create(
                actor=self.physician,
                patient=arrival.patient,
                model=self.models[sim.model],
                serial_number=f"SIM{sim.index:06d}",
                implanted_on=day,
                catheter_model=self.catheters[sim.catheter],
                catheter_length_cm=Decimal(sim.catheter_cm),
            )
        outcome = screening_trial_read(arrival.patient).outcome
        sim.dose_mcg = int(outcome.starting_daily_dose_mcg)
        sim.pump_pk = pump.pk
        self.by_pk[pump.pk] = sim
        self.world.pumps.append(sim)
        self._implant_fill(sim, pump, day, primed=True)
        sim.titration_on = day + timedelta(days=self.erng.randint(*w.NEW_IMPLANT_FIRST_TITRATION_DAYS))
        self.results.implants += 1

    def _implant_fill(self, sim: w.SimPump, pump: Pump, day: date, *, primed: bool) -> None:
        at = local(self.tz, day, IMPLANT_FILL)
        with clock.replaying(at):
            change = refill_record(
                actor=self.physician,
                pump=pump,
                performed_at=at,
                volume_withdrawn_ml=Decimal(0),
                volume_added_ml=Decimal(str(sim.reservoir_ml)),
                concentration_mcg_per_ml=Decimal(sim.concentration),
                prescription={"mode": "simple_continuous", "daily_dose_mcg": str(sim.dose_mcg)},
                implant_fill=True,
                catheter_primed=primed,
                lot_number=f"LOT-{at:%y%m%d}",
                reason="simulation: implant fill",
            )
        self.results.implant_warnings.update(w["code"] for w in change.warnings)
        priming = float(change.refill.priming_volume_ml or 0)
        sim.fill(at, sim.reservoir_ml - priming * (1 + sim.flow_error))
        self.monitor.append((pump.pk, at))

    def _monitoring(self, day: date) -> None:
        """18:30: the monitoring after today's implant fills (IMPLANT-1), recorded."""
        hours = float(clinical.implant_monitoring_min_hours() or 0) + 0.5
        with clock.replaying(local(self.tz, day, MONITORING_RECORDED)):
            for pump_pk, fill_at in self.monitor:
                implant_monitoring_record(
                    actor=self.nurses[pump_pk % NURSES],
                    pump=sim_pump(pump_pk),
                    started_at=fill_at,
                    ended_at=fill_at + timedelta(hours=hours),
                    observed_by="the ward nurse",
                    findings="no adverse reaction",
                )
        self.monitor = []

    def _titrations(self, day: date) -> None:
        """16:30: today's titration visits: the assessment (MONITOR-1), then the new dose."""
        at = local(self.tz, day, TITRATION_VISIT)
        for appointment in Appointment.objects.filter(
            pump__patient__clinic=self.clinic,
            kind=AppointmentKind.TITRATION,
            status=AppointmentStatus.BOOKED,
            day=day,
        ).order_by("pk"):
            sim = self._current(appointment.pump_id)
            if sim is None:
                continue
            if self.mrng.random() < self.o.visit_no_show:
                self.results.titration_visits_missed += 1
                if self.mrng.random() < w.NURSE_RECORDS_VISIT_NO_SHOW:
                    with clock.replaying(at):
                        self._missed(appointment, day)
                    self.results.missed_recorded_same_day += 1
                continue
            with clock.replaying(at):
                assessment_record(
                    actor=self.physician,
                    pump=appointment.pump,
                    visit_kind="titration",
                    assessed_at=at,
                    signs={},
                    notes="titration visit",
                )
                self.results.titration_visits += 1
                self._dose_change(sim, appointment.pump, at)
            if self.erng.random() < w.TITRATION_AGAIN:
                sim.titration_on = day + timedelta(days=self.erng.randint(*w.TITRATION_AGAIN_DAYS))

    def _limit_pct(self, sim: w.SimPump, day: date) -> float:
        """TITRATE-1's limit for this patient, as the product's settings give it."""
        limits = clinical.titration_limits()
        age = day.year - sim.birth.year - ((day.month, day.day) < (sim.birth.month, sim.birth.day))
        if limits.pediatric_below_age_years is not None and age < limits.pediatric_below_age_years:
            return float(limits.pediatric_pct)
        return float(limits.spinal_pct if sim.origin == "spinal" else limits.cerebral_pct)

    def _prescribe(self, sim: w.SimPump, pump: Pump, at: datetime, dose: int, why: str) -> None:
        prescription_create(
            actor=self.physician,
            pump=pump,
            effective_at=at,
            prescription={"mode": "simple_continuous", "daily_dose_mcg": str(dose)},
            reason=f"titration visit: {why}",
        )

    def _dose_change(self, sim: w.SimPump, pump: Pump, at: datetime) -> None:
        """The physician's new daily dose (TITRATE-1), within the limit, after an over-limit
        request the product must refuse; the nurse then moves a booked refill that now falls
        after the new refill-by date."""
        bridge_end = sim.bridge_until
        if bridge_end is not None and bridge_end > at:
            self.results.titrations_postponed_in_bridge += 1  # the next visit changes the dose
            sim.titration_on = at.astimezone(self.tz).date() + timedelta(days=7)
            return
        day = at.astimezone(self.tz).date()
        limit = self._limit_pct(sim, day)
        old = sim.dose_mcg
        if self.erng.random() < w.TITRATION_DOWN_RATE:
            pct = self.erng.uniform(*w.TITRATION_DOWN_PCT)
            new = max(5, int(old * (1 - pct / 100) / 5) * 5)
        else:
            if self.erng.random() < w.TITRATION_OVER_LIMIT_RATE:
                asked = math.ceil(old * (1 + 1.5 * limit / 100) / 5) * 5
                try:
                    self._prescribe(sim, pump, at, asked, f"{old} → {asked} mcg/day")
                except therapy.CalculationError:
                    self.results.over_limit_refused += 1
                else:
                    self.results.over_limit_accepted.append(
                        f"pump {sim.index}: {old} → {asked} mcg/day on {day}"
                    )
                    sim.change_dose(at, asked)
                    self._after_dose_change(sim, pump, day)
                    return
            pct = self.erng.uniform(limit / 3, limit)
            new = int(old * (1 + pct / 100) / 5) * 5
        if new == old:
            return
        self._prescribe(sim, pump, at, new, f"{old} → {new} mcg/day")
        sim.change_dose(at, new)
        if new > old:
            self.results.dose_increases += 1
        else:
            self.results.dose_decreases += 1
        self._after_dose_change(sim, pump, day)

    def _after_dose_change(self, sim: w.SimPump, pump: Pump, day: date) -> None:
        """The product's alert that the booked refill now falls after the new refill-by
        date, raised with the prescription: the nurse moves it at once."""
        self._move_late_bookings(day, pump_id=pump.pk)

    def _move_late_bookings(self, day: date, pump_id: int | None = None) -> None:
        """A booked refill the product says falls after the refill-by date (its alert) is
        moved to the latest free working day before refill-by (none free: the latest one,
        the clinic adding a slot). At a titration visit (``pump_id``) a later day is looked
        for; when today is the only working day left, the patient is there: the refill is
        done at the end of the visit."""
        alerts = Alert.objects.filter(
            clinic=self.clinic, kind=AlertKind.REFILL_BOOKED_LATE, resolved_at__isnull=True
        )
        if pump_id is not None:
            alerts = alerts.filter(pump_id=pump_id)
        first = day + timedelta(days=1) if pump_id is not None else day
        for pump_pk in alerts.order_by("pk").values_list("pump_id", flat=True):
            booked = Appointment.objects.filter(
                pump_id=pump_pk, kind=AppointmentKind.REFILL, status=AppointmentStatus.BOOKED
            ).first()
            refill_by = PumpProjection.objects.get(pump_id=pump_pk).refill_by
            if booked is None or refill_by is None:
                continue
            new = self._free_day(first, refill_by) or self._free_day(first, refill_by, slots=10**6)
            if new is None and pump_id is None:
                continue  # no working day left: overdue, the product's overdue alert takes over
            self.visits[booked.day] = [v for v in self.visits[booked.day] if v[0] != booked.pk]
            if new is None:
                self._refill(self.by_pk[pump_pk], local(self.tz, day, REFILL_AT_VISIT), booked)
                self.results.refills_at_a_titration_visit += 1
                continue
            appointment_book(actor=self._nurse(booked), appointment=booked, day=new, at=self._time_for(new))
            plan = self.plans.get(booked.pk)
            if plan is not None:
                if plan.outcome == "late" and plan.act_on is not None:
                    plan.act_on = plan.act_on + (new - booked.day)
                plan.changed_on = day
                self._schedule_visit(booked.pk, pump_pk, new, plan)
            self.results.refills_moved_after_dose_change += 1

    def _explants(self, day: date) -> None:
        """17:00: the explants due (TITRATE-2: the physician's override with a reason)."""
        at = local(self.tz, day, EXPLANT)
        for sim in list(self.world.pumps):
            if not (sim.active and sim.explant_on is not None and sim.explant_on <= day):
                continue
            self._truth_check(sim, at)
            with clock.replaying(at):
                pump_explant(
                    actor=self.physician,
                    pump=sim_pump(sim.pump_pk),
                    explanted_on=day,
                    reason="pocket infection: the pump is removed",
                    override_reason="pocket infection; oral baclofen restarted, watched on the ward for withdrawal",
                )
            sim.active = False
            self.results.explants += 1

    # --- counting ----------------------------------------------------------------------------

    def _count(self, end: datetime) -> None:
        r = self.results
        alerts = Counter(Alert.objects.order_by("pk").values_list("kind", flat=True))
        sent = list(
            Notification.objects.filter(status=NotificationStatus.SENT)
            .order_by("pk")
            .values_list("recipient", "kind", "event_slot", "due_at", "subject")
        )
        keys = Counter(
            (recipient, kind, slot, due.astimezone(self.tz).date())
            for recipient, kind, slot, due, _ in sent
            if kind in (NotificationKind.REFILL_REMINDER, NotificationKind.REPLACEMENT_REMINDER)
        )
        duplicates = sorted(f"{k[0]} {k[1]} {k[2]} due {k[3]}" for k, n in keys.items() if n > 1)
        per_patient = Counter(
            recipient
            for recipient, kind, *_ in sent
            if kind == NotificationKind.REFILL_REMINDER and recipient.startswith("patient:")
        )
        lost = self._lost(end)
        # the pumps that would have been missed had nobody acted: those proposed on a full day
        shortfall = sorted({pump for kind, pump, _ in r.shortfall_lead_days})
        leads = [lead for _, _, lead in r.shortfall_lead_days]
        reasons = Counter(reason for rows in r.unbooked.values() for _, reason in rows)
        last_working = max(r.working_days) if r.working_days else end.astimezone(self.tz).date()
        r.figures = {
            "pumps": self.o.pumps,
            "days": self.o.days,
            "seed": self.o.seed,
            "capacity": self.o.capacity,
            "no_show": self.o.no_show,
            "visit_no_show": self.o.visit_no_show,
            "holidays": self.o.holidays,
            "slots_per_day": r.slots_per_day,
            "expected_refills_per_working_day": round(r.demand_per_working_day, 2),
            "refills": len(r.margins),
            "pumps_past_alarm": len(r.past_alarm),
            "pumps_empty": len(r.empty),
            "pumps_past_refill_by_unbooked": len(r.unbooked),
            "pump_days_past_refill_by_unbooked": sum(len(v) for v in r.unbooked.values()),
            "past_refill_by_reasons": dict(sorted(reasons.items())),
            "past_refill_by_unbooked_pumps": [
                f"pump {index}: {rows[0][0]}..{rows[-1][0]} ({len(rows)} days): {rows[-1][1]}"
                for index, rows in sorted(r.unbooked.items())
            ],
            "margin_days_min": round(min(r.margins), 2) if r.margins else None,
            "margin_days_median": round(sorted(r.margins)[len(r.margins) // 2], 2) if r.margins else None,
            "alerts_by_kind": dict(sorted(alerts.items())),
            "shortfall_alerts": len(leads),
            "shortfall_lead_days_min": min(leads) if leads else None,
            "shortfall_lead_days_median": sorted(leads)[len(leads) // 2] if leads else None,
            "shortfall_alerts_by_lead": {
                "overdue (refill-by today or passed)": sum(1 for lead in leads if lead <= 0),
                "1-6 days before refill-by": sum(1 for lead in leads if 0 < lead < 7),
                "7+ days before refill-by": sum(1 for lead in leads if lead >= 7),
            },
            "pumps_that_would_have_been_missed": shortfall,
            "reminders_sent": sum(per_patient.values()),
            "reminders_per_patient_max": max(per_patient.values()) if per_patient else 0,
            "reminders_per_patient_mean": round(sum(per_patient.values()) / max(1, len(per_patient)), 2),
            "duplicate_reminders": len(duplicates),
            "duplicate_reminder_keys": duplicates[:20],
            "lost_reminders": len(lost),
            "reminders_checked_against_the_truth": r.reminders_checked,
            "lost_reminder_keys": lost[:20],
            "notifications_by_kind": dict(sorted(Counter(kind for _, kind, *_ in sent).items())),
            "emails_not_sent_by_status": dict(
                sorted(
                    Counter(
                        Notification.objects.filter(due_at__lte=end)
                        .exclude(status__in=[NotificationStatus.SENT, NotificationStatus.CANCELLED])
                        .values_list("status", flat=True)
                    ).items()
                )
            ),
            "refill_failures": r.refill_failures,
            "bookings_moved_off_closed_days": r.moved_off_closed_days,
            "emergency_refills_on_escalation": len(r.emergency_refills),
            "emergency_refill_pumps": [f"{index} on {day}" for index, day in r.emergency_refills],
            # the year's events
            "titration_visits": r.titration_visits,
            "dose_increases": r.dose_increases,
            "dose_decreases": r.dose_decreases,
            "over_limit_increases_refused": r.over_limit_refused,
            "over_limit_increases_accepted": len(r.over_limit_accepted),
            "over_limit_increases_accepted_list": r.over_limit_accepted[:20],
            "titrations_postponed_during_a_bridge": r.titrations_postponed_in_bridge,
            "refills_moved_on_the_booked_late_alert": r.refills_moved_after_dose_change,
            "refills_at_a_titration_visit_no_other_day_left": r.refills_at_a_titration_visit,
            # before the run's last working day: one missed on it is recorded after the run
            "titration_visits_open_after_their_day": Appointment.objects.filter(
                pump__patient__clinic=self.clinic,
                kind=AppointmentKind.TITRATION,
                status__in=OPEN_STATUSES,
                day__lt=last_working,
            ).count(),
            "replacement_surgeries_open_after_their_day": Appointment.objects.filter(
                pump__patient__clinic=self.clinic,
                kind=AppointmentKind.REPLACEMENT,
                status__in=OPEN_STATUSES,
                day__lt=last_working,
                pump__status="active",
            ).count(),
            "titration_visits_missed": r.titration_visits_missed,
            "replacement_surgeries_missed": r.surgeries_missed,
            "missed_recorded_the_same_day": r.missed_recorded_same_day,
            "missed_found_the_next_working_day": r.missed_found_next_day,
            "titration_visits_booked_again": r.titration_visits_rebooked,
            "replacement_surgeries_booked_again": r.surgeries_rebooked,
            "missed_visits_not_booked_again": self._missed_not_booked_again(),
            "eri_read_at_interrogation": r.eri_read_at_interrogation,
            "replacements_booked_after_an_eri_read": len(r.replacements_booked_after_eri_read),
            "replacements_after_an_eri_read_booked_before_eos": sum(
                1 for _, surgery, eos in r.replacements_booked_after_eri_read if eos and surgery < eos
            ),
            "replacement_bookings_after_an_eri_read": [
                f"pump {index}: surgery {surgery}, EOS {eos}"
                for index, surgery, eos in r.replacements_booked_after_eri_read
            ],
            "pumps_past_eos": PumpProjection.objects.filter(
                pump__patient__clinic=self.clinic,
                pump__status="active",
                eos_on__lt=end.astimezone(self.tz).date(),
            ).count(),
            "concentration_changes": r.concentration_changes,
            "bridges": r.bridges,
            "replacements_booked": len(r.replacements_booked),
            "replacements_booked_90_days_before_eri": sum(
                1 for *_, days in r.replacements_booked if days >= 90
            ),
            "replacement_bookings": [
                f"pump {index}: booked {booked}, ERI {eri} ({days} days before)"
                for index, booked, eri, days in r.replacements_booked
            ],
            "replacements_done": r.replacements_done,
            "implants": r.implants,
            "implant_fill_warnings": dict(sorted(r.implant_warnings.items())),
            "explants": r.explants,
            "open_appointments_on_pumps_no_longer_implanted": Appointment.objects.filter(
                pump__patient__clinic=self.clinic, status__in=OPEN_STATUSES
            )
            .exclude(pump__status="active")
            .count(),
            "alerts_open_on_pumps_no_longer_implanted": dict(
                sorted(
                    Counter(
                        Alert.objects.filter(clinic=self.clinic, resolved_at__isnull=True)
                        .exclude(pump__status="active")
                        .exclude(kind=AlertKind.DISCONTINUATION)
                        .values_list("kind", flat=True)
                    ).items()
                )
            ),
            "event_failures": r.event_failures,
        }
        r.weekly = self._weekly()

    def _missed_not_booked_again(self) -> int:
        """Missed titration visits and surgeries of pumps still implanted with no later
        appointment of their kind."""
        count = 0
        for pump_id, kind, pk in (
            Appointment.objects.filter(
                pump__patient__clinic=self.clinic,
                kind__in=[AppointmentKind.TITRATION, AppointmentKind.REPLACEMENT],
                status=AppointmentStatus.NO_SHOW,
                pump__status="active",
            )
            .order_by("pk")
            .values_list("pump_id", "kind", "pk")
        ):
            count += not Appointment.objects.filter(pump_id=pump_id, kind=kind, pk__gt=pk).exists()
        return count

    def _lost(self, end: datetime) -> list[str]:
        """A reminder due and never sent, nor cancelled with a reason: (1) rows of the outbox
        due before the end and still pending/sending/failed, or cancelled without a reason;
        (2) from the truth: every refill appointment the patient came to on its day, for each
        consenting person and each reminder day on or after its last booking or move, must
        have a sent reminder naming its slot, due that day."""
        lost = [
            f"row {pk} {recipient} {kind} due {due:%Y-%m-%d %H:%M}Z {status} {why}"
            for pk, recipient, kind, due, status, why in Notification.objects.filter(
                kind__in=[NotificationKind.REFILL_REMINDER, NotificationKind.REPLACEMENT_REMINDER],
                due_at__lte=end,
            )
            .filter(status__in=["pending", "sending", "failed"])
            .order_by("pk")
            .values_list("pk", "recipient", "kind", "due_at", "status", "status_reason")
        ]
        lost += [
            f"row {pk} {recipient} cancelled without a reason"
            for pk, recipient in Notification.objects.filter(status="cancelled", status_reason="")
            .order_by("pk")
            .values_list("pk", "recipient")
        ]
        days_before = list(self.clinic.reminder_days_before)
        for appointment in (
            Appointment.objects.filter(pk__in=list(self.visited), status=AppointmentStatus.COMPLETED)
            .select_related("pump__patient")
            .order_by("pk")
        ):
            if self.visited[appointment.pk] != appointment.day:
                continue
            plan = self.plans.get(appointment.pk)
            sim = self.by_pk[appointment.pump_id]
            people = []
            if sim.consent:
                people.append(f"patient:{appointment.pump.patient_id}")
            if sim.caregiver:
                people += [
                    f"caregiver:{c}"
                    for c in appointment.pump.patient.caregivers.order_by("pk").values_list("pk", flat=True)
                ]
            slot = appointment.day.isoformat() + (f" {appointment.time:%H:%M}" if appointment.time else "")
            rows = {
                (recipient, due.astimezone(self.tz).date())
                for recipient, due in Notification.objects.filter(
                    subject=f"appointment:{appointment.pk}", status=NotificationStatus.SENT, event_slot=slot
                ).values_list("recipient", "due_at")
            }
            for n in days_before:
                due_on = appointment.day - timedelta(days=n)
                if plan is None or plan.changed_on is None or due_on < plan.changed_on:
                    continue
                for person in people:
                    self.results.reminders_checked += 1
                    if (person, due_on) not in rows:
                        lost.append(
                            f"appointment {appointment.pk} {person} {n} days before {slot}: never sent"
                        )
        return lost

    def _weekly(self) -> dict:
        """Per ISO week from the start: refills, slot utilisation, alerts raised."""
        weeks: dict[int, dict] = {}
        for n in range(self.o.days):
            day = self.o.start + timedelta(days=n)
            weeks.setdefault(
                n // 7,
                {
                    "week": n // 7 + 1,
                    "monday": (self.o.start + timedelta(days=7 * (n // 7))).isoformat(),
                    "refills": 0,
                    "slots": 0,
                    "alerts": Counter(),
                },
            )
        for day in self.results.working_days:
            weeks[(day - self.o.start).days // 7]["slots"] += self.world.slots_per_day
        for day, count in self.results.refills_per_day.items():
            index = (day - self.o.start).days // 7
            if index in weeks:
                weeks[index]["refills"] += count
        for kind, raised in Alert.objects.order_by("pk").values_list("kind", "raised_at"):
            index = (raised.astimezone(self.tz).date() - self.o.start).days // 7
            if index in weeks:
                weeks[index]["alerts"][kind] += 1
        out = []
        for index in sorted(weeks):
            week = weeks[index]
            week["utilisation"] = round(week["refills"] / week["slots"], 3) if week["slots"] else None
            week["alerts"] = dict(sorted(week["alerts"].items()))
            out.append(week)
        return {"weeks": out}


def sim_pump(pk: int) -> Pump:
    return Pump.objects.get(pk=pk)


def w_tz():
    return Clinic(timezone=w.TIMEZONE).tz
