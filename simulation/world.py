"""The simulated world: a clinic, its nurses, its patients and their pumps, drawn from one
``random.Random(seed)`` so that the same seed gives the same world.

Every number here is a simulation parameter, not a clinical default of pumpcare: the product
reads its numbers from the catalog (``patients`` migrations) and the clinic's settings.

Distributions (each drawn in a fixed order, pump by pump):

- pump model: uniform over the catalog models that have a reservoir, an alarm volume and a
  tolerance (SynchroMed II 20/40 mL, Prometra II 20/40 mL);
- catheter: the Prometra catheter for a Prometra pump, else one of the Medtronic ones;
  implanted length uniform 40–70 cm;
- daily dose (simple continuous, DOSE-1): log-uniform 100–800 mcg/day, rounded to 5 mcg;
- concentration (DOSE-4, supplied values only): 500 mcg/mL below 250 mcg/day, 1000 below
  550, else 2000; one pump in five one step more concentrated (fewer refills) where one is
  supplied;
- TRUE flow error: uniform within ± the model's tolerance (PUMP-1); pumpcare never sees
  it, only the residual the nurse measures at a refill;
- measurement noise of the residual: uniform ± ``MEASURE_NOISE_ML``;
- first fill: a full reservoir, at a uniform instant between the start and
  ``0.8 × (worst-case days to refill-by)`` before it (pumps start spread over their cycle,
  as in a clinic that has been running), implanted 0–3 years before that (its ERI, 5
  years after the implant, and its replacement planning, 6 months before ERI, fall after a
  year's run) unless its replacement is drawn (below);
- patient: 15 % have no email consent; 30 % have a caregiver with consent; birth years
  1940–2008; origin spinal 60 %, cerebral 40 %;
- behaviour per booked appointment (drawn when it is booked, see ``run``): cancel
  ``CANCEL_RATE``, no-show ``--no-show``, come later the same week ``LATE_RATE``, else on
  the day;
- a nurse books a proposal 0–3 working days after it appears (uniform) and moves
  ``MOVE_RATE`` of bookings to another free working day.

The year's events, from a second generator seeded from the seed (``random.Random(f"{seed}:events")``),
drawn after the population, pump by pump, then the explants, then the new patients:

- titration (TITRATE-1): ``TITRATION_RATE`` of the pumps; the physician wants a visit from a
  day uniform over the run (its last 30 days excepted) and books it 5–15 working days
  later (uniform); the patient comes; at the visit the physician records the assessment
  (MONITOR-1) and a new daily dose: ``TITRATION_DOWN_RATE`` of the visits lower it by
  10–20 % (side effects), the others raise it by a uniform step between a third of the
  patient's limit and the limit (spinal adults 10–30 %, cerebral or under 18 5–15 %: the
  limit is read from the product's settings), rounded down to 5 mcg; ``TITRATION_OVER_LIMIT_RATE``
  of the raises are first asked at 1.5 × the limit, which the product must refuse. After
  a visit, ``TITRATION_AGAIN`` of the patients want another one 14–42 days later. A booked
  refill that now falls after the new refill-by date raises the product's alert, and the
  nurse moves it at once to the latest free working day before that date;
- concentration change (DOSE-4, BRIDGE-1): at a refill, ``CONCENTRATION_UP_RATE`` of the
  pumps not already at 2000 mcg/mL go one supplied step up; the truth drains the product's
  bridge volume over its duration at the pump's true error, then the dose. The clinic's
  catalog gets the demo clinic's pathway and catheter volumes (``loaddemo``'s, "demo only"),
  without which the product refuses a bridge (BRIDGE-2);
- replacement at ERI (ERI-1/2): ``REPLACEMENT_RATE`` of the SynchroMed II pumps (the only
  models with a service life in the catalog, 5 years) are implanted so that their planning
  (6 months before the estimated ERI) opens on a day uniform over the run (its last 75
  days excepted); the nurse books the surgery 0–10 working days after the product's
  planning alert, on a working day 14–60 days later; on that day the physician records the
  replacement (same model and catheter), the implant fill at the patient's concentration
  and dose, and the 8-hour monitoring; the new pump's true flow error is drawn again;
- new implants (IMPLANT-1, START-1): ``ceil(pumps × 0.12 × days / 365)`` new patients, each
  drawn like a pump of the clinic, arriving on a day uniform over the run (its last 35 days
  excepted) with their screening trial (a response at 50, 75 or 100 mcg, uniform; the effect
  lasting 4–12 h), implanted 14–28 days later (next working day) with a primed catheter, a
  full reservoir at 500 mcg/mL and the product's starting dose, monitored 8 hours; their first
  titration visit is wanted 10–30 days after the implant;
- explants (TITRATE-2): ``ceil(pumps × 0.02 × days / 365)`` pumps without a replacement drawn,
  uniformly, on a day uniform over the run (next working day): the physician explants with
  a written reason;
- an ERI read at an interrogation (ERI-1, DEVICE-1): ``ceil(pumps × EARLY_ERI_PER_PUMP_YEAR ×
  days / 365)`` SynchroMed II pumps with neither a replacement nor an explant drawn, uniformly,
  reach ERI before the product's estimate (a stress case of the simulation, not a clinical
  figure), on a day uniform over the run (its last 75 days excepted); the patient phones
  about the pump's alarm and the nurse interrogates the pump ``ERI_READ_AFTER_WORKING_DAYS``
  working days later (uniform, drawn as it happens from the missed-visit generator below),
  entering the ERI alarm with the day the pump reports it since. The product then takes that
  ERI date (no longer an estimate): book-by has passed, its overdue alert asks for the surgery,
  which the nurse books at once (14–60 days later, as above), before EOS. Drawn last, after the
  new patients, so the other events of a seed are unchanged.

Missed visits and surgeries, from a third generator (``random.Random(f"{seed}:missed-visits")``),
drawn as the day comes, visit by visit in the order of the appointments:

- each booked titration visit and each booked replacement surgery is missed with probability
  ``--visit-no-show`` (``VISIT_NO_SHOW``, a few percent, like ``--no-show`` for refills); the
  patient then comes to none of it (no assessment, no dose change, no replacement);
- the nurse records the miss (``appointment_no_show``) the same day with probability
  ``NURSE_RECORDS_VISIT_NO_SHOW`` and books again at once; otherwise she finds it the next
  working day where the product shows it — a titration visit still open on a past day in the
  worklist's titration agenda, a surgery whose day passed by the replacement alert coming
  back — records it missed and books again then;
- the new titration visit is ``TITRATION_BOOK_AHEAD_WORKING_DAYS`` working days later; the new
  surgery ``REPLACEMENT_REBOOK_AFTER_DAYS`` days later (next working day), on the last working
  day before the product's EOS date if that falls later.

Refill slots per working day (``slots_per_day``)::

    demand  = Σ over pumps of 1 / (worst-case days from a fill to its refill-by)  [refills a day]
    per working day = demand × 7 / 5
    slots   = max(1, round(capacity × SLACK × per working day)),  SLACK = 1.25

so ``--capacity 1.0`` leaves 25 % slack and ``--capacity 0.8`` exactly the average demand
(any bunching then overflows).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

MEASURE_NOISE_ML = 0.5
CANCEL_RATE = 0.03
LATE_RATE = 0.05
MOVE_RATE = 0.03
NO_CONSENT_RATE = 0.15
CAREGIVER_RATE = 0.30
SLACK = 1.25
SAFETY_MARGIN_DAYS = 7  # the clinic's default (LRA-4); used only to size the slots
MAX_RESERVOIR_DAYS = 180  # baclofen's (catalog), used only to size the slots
TIMEZONE = "Europe/Paris"

# (code, reservoir mL, alarm mL, tolerance %, catheter codes) — mirrors the shipped catalog;
# ``run`` reads the real values from the database and checks they agree.
MODELS = [
    ("8637-20", 20.0, 2.0, 14.5, ("8709SC", "8731SC", "8780", "8781")),
    ("8637-40", 40.0, 2.0, 14.5, ("8709SC", "8731SC", "8780", "8781")),
    ("13827", 20.0, 3.0, 15.0, ("11823",)),
    ("16827", 40.0, 3.0, 15.0, ("11823",)),
]
CONCENTRATIONS = (500, 1000, 2000)
SERVICE_LIFE_MONTHS = {"8637-20": 60, "8637-40": 60}  # the catalog's (Prometra II: not set)
STARTING_CONCENTRATION = 500  # DOSE-4, the drug catalog's starting concentration
# PUMP-3: the values the shipped catalog leaves empty, as the demo clinic fills them in
# (``loaddemo``; copied, since the simulation does not depend on a command): pathway volume
# (min, max) mL per pump model, catheter mL per cm. Not labeling values.
DEMO_ONLY = "demo only — verify against labeling"
DEMO_PATHWAY_ML = [
    ("13827", "0.260", "0.300"),
    ("16827", "0.260", "0.300"),
    ("8637-20", "0.200", "0.260"),
    ("8637-40", "0.200", "0.260"),
]
DEMO_CATHETER_ML_PER_CM = [("8709SC", "0.0022"), ("8731SC", "0.0022"), ("8780", "0.0022"), ("8781", "0.0022")]

# the year's events (module docstring, "The year's events")
TITRATION_RATE = 0.25
TITRATION_BOOK_AHEAD_WORKING_DAYS = (5, 15)
TITRATION_AGAIN = 0.4
TITRATION_AGAIN_DAYS = (14, 42)
TITRATION_DOWN_RATE = 0.2
TITRATION_DOWN_PCT = (10, 20)
TITRATION_OVER_LIMIT_RATE = 0.1
CONCENTRATION_UP_RATE = 0.08
REPLACEMENT_RATE = 0.15
REPLACEMENT_BOOKING_DELAY_WORKING_DAYS = (0, 10)
REPLACEMENT_SURGERY_AFTER_DAYS = (14, 60)
NEW_IMPLANTS_PER_PUMP_YEAR = 0.12
IMPLANT_AFTER_ARRIVAL_DAYS = (14, 28)
NEW_IMPLANT_FIRST_TITRATION_DAYS = (10, 30)
EXPLANTS_PER_PUMP_YEAR = 0.02
EARLY_ERI_PER_PUMP_YEAR = 0.02
ERI_READ_AFTER_WORKING_DAYS = (1, 5)
# missed visits and surgeries (module docstring, "Missed visits and surgeries")
VISIT_NO_SHOW = 0.04
NURSE_RECORDS_VISIT_NO_SHOW = 0.5
REPLACEMENT_REBOOK_AFTER_DAYS = (7, 21)


@dataclass
class SimPump:
    """One patient and pump as the simulator knows them (the truth). A replacement keeps
    the patient's record and takes the new pump's number and true flow error."""

    index: int
    model: str
    reservoir_ml: float
    alarm_ml: float
    tolerance_pct: float
    catheter: str
    catheter_cm: int
    dose_mcg: int
    concentration: int
    flow_error: float  # true delivery = programmed × (1 + flow_error)
    first_fill_days_ago: float
    implanted_days_before_fill: int
    birth: date
    origin: str
    consent: bool
    caregiver: bool
    # the year's events (see ``build``)
    titration_on: date | None = None  # the physician wants a titration visit from this day
    planning_opens_in_days: int | None = None  # replacement planning opens this day of the run
    explant_on: date | None = None
    implanted_on: date | None = None  # drawn for a replacement, else from the first fill
    eri_on: date | None = None  # the true ERI day of a battery that reaches it early (drawn)
    eri_read: bool = False  # its ERI alarm read at an interrogation
    # filled in while running
    pump_pk: int | None = None
    active: bool = True
    filled_at: datetime | None = None
    volume_after_fill: float = 0.0
    pieces: list = field(default_factory=list)  # (from instant, true mL/day), from the fill on
    bridge_until: datetime | None = None  # the end of the last fill's bridge bolus, if any
    refills: list = field(default_factory=list)

    @property
    def true_ml_per_day(self) -> float:
        return self.dose_mcg / self.concentration * (1 + self.flow_error)

    def fill(
        self, at: datetime, volume_ml: float, *, bridge_ml: float = 0.0, bridge_hours: float = 0.0
    ) -> None:
        """A fill: the reservoir holds ``volume_ml``; a bridge bolus (BRIDGE-1) pushes its
        volume out over its duration first, at the pump's true error, then the dose runs."""
        self.filled_at, self.volume_after_fill = at, volume_ml
        self.pieces, self.bridge_until = [], None
        if bridge_ml and bridge_hours:
            self.pieces.append((at, bridge_ml * (1 + self.flow_error) / (bridge_hours / 24)))
            at = self.bridge_until = at + timedelta(hours=bridge_hours)
        self.pieces.append((at, self.true_ml_per_day))

    def change_dose(self, at: datetime, dose_mcg: int) -> None:
        self.dose_mcg = dose_mcg
        self.pieces.append((at, self.true_ml_per_day))

    def true_volume(self, at: datetime) -> float:
        volume = self.volume_after_fill
        for n, (start, rate) in enumerate(self.pieces):
            if at <= start:
                break
            end = self.pieces[n + 1][0] if n + 1 < len(self.pieces) else at
            volume -= rate * (min(at, end) - start).total_seconds() / 86400
        return max(0.0, volume)

    def _reaches(self, level: float) -> datetime:
        volume = self.volume_after_fill
        if volume <= level:
            return self.filled_at
        for n, (start, rate) in enumerate(self.pieces):
            end = self.pieces[n + 1][0] if n + 1 < len(self.pieces) else None
            at = start + timedelta(days=(volume - level) / rate)
            if end is None or at <= end:
                return at
            volume -= rate * (end - start).total_seconds() / 86400
        raise AssertionError("the last piece runs for ever")

    def true_alarm_at(self) -> datetime:
        return self._reaches(self.alarm_ml)

    def true_empty_at(self) -> datetime:
        return self._reaches(0.0)

    def worst_case_days_to_refill_by(self) -> float:
        worst = self.dose_mcg / self.concentration * (1 + self.tolerance_pct / 100)
        alarm_days = (self.reservoir_ml - self.alarm_ml) / worst
        return max(1.0, min(alarm_days - SAFETY_MARGIN_DAYS, MAX_RESERVOIR_DAYS))


@dataclass
class Arrival:
    """A new patient referred for an implant during the run (IMPLANT-1): screened on
    ``arrives_on``, implanted on ``implant_on`` (or the next working day)."""

    sim: SimPump
    arrives_on: date
    implant_on: date
    responds_at_step: int  # 0, 1, 2: the screening step (50, 75, 100 mcg) with a response
    effect_hours: float
    patient: object = None  # once enrolled


@dataclass
class World:
    seed: int
    pumps: list[SimPump]
    slots_per_day: int
    demand_per_working_day: float
    arrivals: list[Arrival] = field(default_factory=list)


def _draw(index: int, rng: random.Random) -> SimPump:
    """One patient and pump, drawn in a fixed order (see the module docstring)."""
    code, reservoir, alarm, tolerance, catheters = MODELS[rng.randrange(len(MODELS))]
    catheter = catheters[rng.randrange(len(catheters))]
    catheter_cm = rng.randint(40, 70)
    dose = int(round(math.exp(rng.uniform(math.log(100), math.log(800))) / 5) * 5)
    concentration = 500 if dose < 250 else 1000 if dose < 550 else 2000
    if rng.random() < 0.2 and concentration < 2000:
        concentration *= 2
    flow_error = rng.uniform(-tolerance, tolerance) / 100
    pump = SimPump(
        index=index,
        model=code,
        reservoir_ml=reservoir,
        alarm_ml=alarm,
        tolerance_pct=tolerance,
        catheter=catheter,
        catheter_cm=catheter_cm,
        dose_mcg=dose,
        concentration=concentration,
        flow_error=flow_error,
        first_fill_days_ago=0.0,
        implanted_days_before_fill=rng.randint(0, 3 * 365),
        birth=date(rng.randint(1940, 2008), rng.randint(1, 12), rng.randint(1, 28)),
        origin="spinal" if rng.random() < 0.6 else "cerebral",
        consent=rng.random() >= NO_CONSENT_RATE,
        caregiver=rng.random() < CAREGIVER_RATE,
    )
    pump.first_fill_days_ago = rng.uniform(0.0, 0.8 * pump.worst_case_days_to_refill_by())
    return pump


def build(
    *,
    pumps: int,
    seed: int,
    capacity: float,
    rng: random.Random,
    start: date = date(2026, 3, 2),
    days: int = 365,
) -> World:
    """Draw the world (see the module docstring for every distribution). The clinic's
    population comes from ``rng``; the year's events (titrations, replacements, explants,
    new implants, early ERIs) from their own generator seeded from ``seed``, drawn after it."""
    drawn = [_draw(index, rng) for index in range(pumps)]
    demand = sum(1 / p.worst_case_days_to_refill_by() for p in drawn) * 7 / 5
    slots = max(1, round(capacity * SLACK * demand))
    world = World(seed=seed, pumps=drawn, slots_per_day=slots, demand_per_working_day=demand)
    events = random.Random(f"{seed}:events")
    for pump in drawn:
        if events.random() < TITRATION_RATE:
            pump.titration_on = start + timedelta(days=events.randint(0, max(0, days - 30)))
        if pump.model in SERVICE_LIFE_MONTHS and events.random() < REPLACEMENT_RATE:
            pump.planning_opens_in_days = events.randint(0, max(0, days - 75))
            opens = start + timedelta(days=pump.planning_opens_in_days)
            pump.implanted_on = _months_before(opens, SERVICE_LIFE_MONTHS[pump.model] - 6)
    candidates = [p for p in drawn if p.planning_opens_in_days is None]
    for pump in events.sample(
        candidates, min(len(candidates), math.ceil(pumps * EXPLANTS_PER_PUMP_YEAR * days / 365))
    ):
        pump.explant_on = start + timedelta(days=events.randint(0, days - 1))
    for k in range(math.ceil(pumps * NEW_IMPLANTS_PER_PUMP_YEAR * days / 365)):
        sim = _draw(pumps + k, events)
        sim.concentration = STARTING_CONCENTRATION
        arrives = start + timedelta(days=events.randint(0, max(0, days - 35)))
        world.arrivals.append(
            Arrival(
                sim=sim,
                arrives_on=arrives,
                implant_on=arrives + timedelta(days=events.randint(*IMPLANT_AFTER_ARRIVAL_DAYS)),
                responds_at_step=events.randrange(3),
                effect_hours=events.uniform(4, 12),
            )
        )
    early = [
        p
        for p in drawn
        if p.model in SERVICE_LIFE_MONTHS and p.planning_opens_in_days is None and p.explant_on is None
    ]
    for pump in events.sample(
        early, min(len(early), math.ceil(pumps * EARLY_ERI_PER_PUMP_YEAR * days / 365))
    ):
        pump.eri_on = start + timedelta(days=events.randint(0, max(0, days - 75)))
    return world


def _months_before(day: date, months: int) -> date:
    month = day.year * 12 + day.month - 1 - months
    return date(month // 12, month % 12 + 1, min(day.day, 28))


def public_holidays(start: date, end: date) -> list[tuple[date, str]]:
    """A few fixed-date public holidays (French ones) between ``start`` and ``end`` that fall
    on a working day: the clinic is closed."""
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    days = []
    for year in range(start.year, end.year + 1):
        for month, day in fixed:
            d = date(year, month, day)
            if start <= d <= end and d.isoweekday() <= 5:
                days.append((d, "public holiday"))
    return days
