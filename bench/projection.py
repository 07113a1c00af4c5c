"""How fast is the pure calculation core? Projections per second for each prescription
mode, with and without a prescription change and a bridge bolus in the period.

    .venv/bin/python bench/projection.py [--seconds 3]

Prints one line per case; no assertions (figures go in the closing note).
"""

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import therapy  # noqa: E402

FILLED = datetime(2026, 1, 5, 12, tzinfo=UTC)
TZ = ZoneInfo("America/New_York")
PLANS = {
    "simple_continuous": {"mode": "simple_continuous", "daily_dose_mcg": 250},
    "flex (3 steps)": {
        "mode": "flex",
        "steps": [
            {"start": "00:00", "dose_mcg_per_hour": 8},
            {"start": "07:00", "dose_mcg_per_hour": 12},
            {"start": "22:00", "dose_mcg_per_hour": 8},
        ],
    },
    "periodic_bolus (4 boluses)": {
        "mode": "periodic_bolus",
        "basal_daily_dose_mcg": 150,
        "boluses": [{"time": f"{h:02d}:00", "dose_mcg": 25, "duration_minutes": 30} for h in (6, 12, 18, 23)],
    },
}


def reservoir(plan: dict, *, change: bool, bridge: bool) -> therapy.Reservoir:
    prescription = therapy.parse_prescription(plan)
    periods = [therapy.TherapyPeriod(FILLED, prescription, -18000)]
    if change:
        periods.append(therapy.TherapyPeriod(FILLED + timedelta(days=10, hours=3), prescription, -18000))
    drain = None
    if bridge:
        b = therapy.bridge_for_volume(
            path_volume_ml=Fraction("0.416"),
            old_concentration_mcg_per_ml=Fraction(500),
            new_concentration_mcg_per_ml=Fraction(1000),
            prescription=prescription,
        )
        drain = therapy.BridgeDrain(b.path_volume_ml, b.duration_seconds)
    return therapy.Reservoir(FILLED, Fraction(20), Fraction(500), tuple(periods), drain)


def run(seconds: float) -> None:
    print(f"therapy.project() on {sys.version.split()[0]}, {seconds:.0f} s per case")
    for name, plan in PLANS.items():
        for change, bridge in ((False, False), (True, True)):
            res = reservoir(plan, change=change, bridge=bridge)
            kwargs = dict(
                as_of=FILLED + timedelta(days=20),
                lra_ml=Fraction(2),
                tolerance_pct=Fraction("14.5"),
                tz=TZ,
                safety_margin_days=7,
                max_reservoir_days=180,
            )
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                therapy.project(res, **kwargs)
                count += 1
            elapsed = time.perf_counter() - start
            extra = " + prescription change + bridge" if change else ""
            print(
                f"  {name + extra:<62} {count / elapsed:>9,.0f} projections/s  ({elapsed / count * 1e6:,.0f} µs each)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    run(parser.parse_args().seconds)
