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
  as in a clinic that has been running), implanted 0–3 years before that (no ERI falls inside a year: replacements are part 2);
- patient: 15 % have no email consent; 30 % have a caregiver with consent; birth years
  1940–2008; origin spinal 60 %, cerebral 40 %;
- behaviour per booked appointment (drawn when it is booked, see ``run``): cancel
  ``CANCEL_RATE``, no-show ``--no-show``, come later the same week ``LATE_RATE``, else on
  the day;
- a nurse books a proposal 0–3 working days after it appears (uniform) and moves
  ``MOVE_RATE`` of bookings to another free working day.

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


@dataclass
class SimPump:
    """One patient and pump as the simulator knows them (the truth)."""

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
    # filled in while running
    pump_pk: int | None = None
    filled_at: datetime | None = None
    volume_after_fill: float = 0.0
    refills: list = field(default_factory=list)

    @property
    def true_ml_per_day(self) -> float:
        return self.dose_mcg / self.concentration * (1 + self.flow_error)

    def true_volume(self, at: datetime) -> float:
        days = (at - self.filled_at).total_seconds() / 86400
        return max(0.0, self.volume_after_fill - days * self.true_ml_per_day)

    def true_alarm_at(self) -> datetime:
        days = (self.volume_after_fill - self.alarm_ml) / self.true_ml_per_day
        return self.filled_at + timedelta(days=max(0.0, days))

    def true_empty_at(self) -> datetime:
        return self.filled_at + timedelta(days=self.volume_after_fill / self.true_ml_per_day)

    def worst_case_days_to_refill_by(self) -> float:
        worst = self.dose_mcg / self.concentration * (1 + self.tolerance_pct / 100)
        alarm_days = (self.reservoir_ml - self.alarm_ml) / worst
        return max(1.0, min(alarm_days - SAFETY_MARGIN_DAYS, MAX_RESERVOIR_DAYS))


@dataclass
class World:
    seed: int
    pumps: list[SimPump]
    slots_per_day: int
    demand_per_working_day: float


def build(*, pumps: int, seed: int, capacity: float, rng: random.Random) -> World:
    """Draw the world (see the module docstring for every distribution)."""
    drawn = []
    for index in range(pumps):
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
        drawn.append(pump)
    demand = sum(1 / p.worst_case_days_to_refill_by() for p in drawn) * 7 / 5
    slots = max(1, round(capacity * SLACK * demand))
    return World(seed=seed, pumps=drawn, slots_per_day=slots, demand_per_working_day=demand)


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
