"""The pump page's chart: the projected reservoir volume from the last fill to just past the
empty time, nominal and worst case (LRA-1, LRA-3), with the alarm and empty levels, the
refill-by date and now. Every point is ``therapy.volume_at`` — the calculation core —
sampled here; the only arithmetic in this module turns mL and instants into SVG coordinates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import therapy
from patients.models import Pump, fraction

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 96, 16, 16, 40
SAMPLES = 160


@dataclass
class Marker:
    x: float
    label: str
    when: datetime


@dataclass
class Level:
    y: float
    label: str


def reservoir_chart(
    pump: Pump, state: therapy.Reservoir | None, projection: dict, now: datetime
) -> dict | None:
    """Coordinates for ``web/_chart.html``; None for a pump never filled."""
    if state is None:
        return None
    tz = pump.patient.clinic.tz
    start = state.filled_at
    ends = [t for t in (projection["empty_at"], projection["empty_at_worst_case"]) if t is not None]
    end = max(ends) if ends else start + timedelta(days=180)
    end = max(end, now) + (max(end, now) - start) * 0.04
    capacity = float(max(fraction(pump.model.reservoir_ml), state.volume_ml))
    span = (end - start).total_seconds()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return round(LEFT + (at - start).total_seconds() / span * plot_w, 1)

    def y(volume_ml) -> float:
        return round(TOP + (1 - float(volume_ml) / capacity) * plot_h, 1)

    tolerance = fraction(pump.model.accuracy_tolerance_pct)
    instants = [start + (end - start) * i / SAMPLES for i in range(SAMPLES + 1)]
    nominal = " ".join(f"{x(t)},{y(therapy.volume_at(state, t))}" for t in instants)
    worst = " ".join(f"{x(t)},{y(therapy.volume_at(state, t, tolerance_pct=tolerance))}" for t in instants)
    markers = [Marker(x(now), "now", now)] if start <= now <= end else []
    refill_by = projection["refill_by"]
    if refill_by is not None:
        refill_by_at = datetime.combine(refill_by, time(0), tzinfo=tz)
        if start <= refill_by_at <= end:
            markers.append(Marker(x(refill_by_at), f"refill by {refill_by:%b %-d}", refill_by_at))
    lra = pump.low_reservoir_alarm_ml
    days = [start + timedelta(days=d) for d in range(0, int(span // 86400) + 1, _tick_days(span))]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "plot": {"left": LEFT, "top": TOP, "right": WIDTH - RIGHT, "bottom": HEIGHT - BOTTOM},
        "nominal": nominal,
        "worst": worst,
        "levels": [
            Level(y(capacity), f"{capacity:g} mL"),
            Level(y(lra), f"alarm {float(lra):g} mL"),
            Level(y(0), "empty 0 mL"),
        ],
        "markers": markers,
        "ticks": [{"x": x(d), "label": d.astimezone(tz).strftime("%b %-d")} for d in days],
        "start": start,
        "end": end,
        "volume_now_ml": projection["reservoir_volume_ml"],
    }


def _tick_days(span_seconds: float) -> int:
    days = span_seconds / 86400
    for step in (1, 2, 7, 14, 28, 56):
        if days / step <= 9:
            return step
    return 91
