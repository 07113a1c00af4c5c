"""The pump page's chart: the projected reservoir volume from the last fill to just past the
empty time, nominal and worst case (LRA-1, LRA-3), with the alarm and empty levels, the
refill-by date and now. Every point is ``therapy.volume_at`` — the calculation core —
sampled here; the only arithmetic in this module turns mL and instants into SVG coordinates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

import therapy
from patients.models import Pump, fraction

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 96, 16, 16, 40
SAMPLES = 160
CHAR_PX = 6.6  # a generous average glyph width of the 11 px sans-serif labels (app.css)
LABEL_GAP_PX = 12  # the least space between two tick labels
LINE_PX = 14  # height of a label line
TICK_STEPS_DAYS = (1, 2, 7, 14, 28, 56, 91, 182, 364, 728, 1820, 3640, 7280)


@dataclass
class Marker:
    x: float
    label: str
    when: datetime
    label_x: float = 0.0
    label_y: float = 0.0
    anchor: str = "start"


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
    nominal_points = [(x(t), y(therapy.volume_at(state, t))) for t in instants]
    worst_points = [(x(t), y(therapy.volume_at(state, t, tolerance_pct=tolerance))) for t in instants]
    nominal = " ".join(f"{px},{py}" for px, py in nominal_points)
    worst = " ".join(f"{px},{py}" for px, py in worst_points)
    markers = [Marker(x(now), "now", now)] if start <= now <= end else []
    refill_by = projection["refill_by"]
    if refill_by is not None:
        refill_by_at = datetime.combine(refill_by, time(0), tzinfo=tz)
        if start <= refill_by_at <= end:
            markers.append(Marker(x(refill_by_at), f"refill by {refill_by:%b %-d}", refill_by_at))
    _place_labels(markers, [nominal_points, worst_points], top=TOP, bottom=HEIGHT - BOTTOM)
    lra = pump.low_reservoir_alarm_ml
    ticks = _ticks(start, end, tz, x, plot_w)
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
        "ticks": ticks,
        "start": start,
        "end": end,
        "volume_now_ml": projection["reservoir_volume_ml"],
    }


def _label_px(text: str) -> float:
    return len(text) * CHAR_PX


def _ticks(start: datetime, end: datetime, tz, x, plot_w: float) -> list[dict]:
    """Day ticks from the fill, as many as fit: the smallest step whose labels, each as wide
    as its text, keep LABEL_GAP_PX apart. A label carries the year on the first tick and
    on the first tick of each new year, so a horizon of years reads unambiguously."""
    span_days = (end - start).total_seconds() / 86400
    ticks: list[dict] = []
    for step in TICK_STEPS_DAYS:
        days = [start + timedelta(days=d) for d in range(0, int(span_days) + 1, step)]
        ticks, year = [], None
        for day in days:
            local = day.astimezone(tz)
            label = f"{local:%b} {local.day}" + (f" {local.year}" if local.year != year else "")
            year = local.year
            ticks.append({"x": x(day), "label": label})
        spacing = plot_w * step / span_days
        widest = max((_label_px(t["label"]) for t in ticks), default=0)
        if spacing >= widest + LABEL_GAP_PX:
            break
    # The last label must not run past the plot's right edge (text-anchor middle).
    right = LEFT + plot_w + RIGHT
    return [t for t in ticks if t["x"] + _label_px(t["label"]) / 2 <= right]


def _place_labels(markers: list[Marker], curves: list[list[tuple[float, float]]], *, top, bottom) -> None:
    """Put each marker's label beside its line where neither curve nor another label is:
    the first free line from the top of the plot, else from the bottom. Near the right edge
    the label goes left of the line."""
    taken: list[tuple[float, float, float, float]] = []
    rows = [top + 12 + LINE_PX * i for i in range(int((bottom - top - 12) // LINE_PX) + 1)]
    for marker in markers:
        width = _label_px(marker.label)
        if marker.x + 4 + width > WIDTH - 2:
            marker.anchor, left, right = "end", marker.x - 4 - width, marker.x - 4
        else:
            marker.anchor, left, right = "start", marker.x + 4, marker.x + 4 + width
        marker.label_x = round(left if marker.anchor == "start" else right, 1)
        marker.label_y = rows[0]
        for row in rows:
            box = (left, right, row - 11, row + 3)
            if not _hits_curve(box, curves) and not any(_overlap(box, other) for other in taken):
                marker.label_y = row
                break
        taken.append((left, right, marker.label_y - 11, marker.label_y + 3))


def _hits_curve(box, curves) -> bool:
    """Whether a polyline passes through ``box`` (left, right, top, bottom), checked on
    its segments' extents (a segment is a few pixels long: 160 samples over the plot)."""
    left, right, top, bottom = box
    for points in curves:
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            if max(x1, x2) < left - 2 or min(x1, x2) > right + 2:
                continue
            if max(y1, y2) >= top - 2 and min(y1, y2) <= bottom + 2:
                return True
    return False


def _overlap(a, b, gap: float = 8) -> bool:
    """Whether two label boxes come closer than ``gap`` px side by side (so two labels are
    never read as one)."""
    return a[0] < b[1] + gap and b[0] < a[1] + gap and a[2] < b[3] and b[2] < a[3]


# --- DRIFT-1: observed delivery ratios per refill against the model's band ----------------

DRIFT_WIDTH, DRIFT_HEIGHT = 720, 240
DRIFT_LEFT, DRIFT_RIGHT, DRIFT_TOP, DRIFT_BOTTOM = 64, 24, 16, 40


def drift_chart(refills: list, band: tuple[Decimal, Decimal] | None, tz) -> dict | None:
    """Coordinates for ``web/_drift_chart.html``: each refill's observed delivery ratio
    (DRIFT-1, stored with the refill), oldest first, one step apart, with the model's flow
    accuracy band (1 ± tolerance, PUMP-1) and the line of 1. None when no refill has a ratio.
    The ratios are the stored ones; this module only places them."""
    points = [r for r in refills if r.delivery_ratio is not None]
    if not points:
        return None
    ratios = [float(r.delivery_ratio) for r in points]
    edges = [float(b) for b in band] if band else []
    low = math.floor((min([*ratios, *edges, 1.0]) - 0.05) * 10) / 10
    high = math.ceil((max([*ratios, *edges, 1.0]) + 0.05) * 10) / 10
    plot_w = DRIFT_WIDTH - DRIFT_LEFT - DRIFT_RIGHT
    plot_h = DRIFT_HEIGHT - DRIFT_TOP - DRIFT_BOTTOM
    step = plot_w / max(1, len(points) - 1) if len(points) > 1 else 0

    def x(i: int) -> float:
        return round(DRIFT_LEFT + (i * step if len(points) > 1 else plot_w / 2), 1)

    def y(ratio: float) -> float:
        return round(DRIFT_TOP + (high - ratio) / (high - low) * plot_h, 1)

    every = max(1, math.ceil(len(points) * 48 / plot_w))  # a date label needs about 48 px
    placed = [
        {
            "x": x(i),
            "y": y(ratio),
            "label_y": round(y(ratio) - 10, 1),
            "ratio": r.delivery_ratio,
            "drift": r.delivery_drift or "",
            "anchor": "start" if i == 0 else "end" if i == len(points) - 1 else "middle",
            "when": r.performed_at,
            "label": f"{r.performed_at.astimezone(tz):%b} {r.performed_at.astimezone(tz).day}"
            if i % every == 0 or i == len(points) - 1
            else "",
        }
        for i, (r, ratio) in enumerate(zip(points, ratios, strict=True))
    ]
    levels = [{"y": y(1.0), "label": "1.00", "kind": "unity"}]
    band_box = None
    if band:
        band_box = {
            "x": DRIFT_LEFT,
            "y": y(edges[1]),
            "width": plot_w,
            "height": round(y(edges[0]) - y(edges[1]), 1),
        }
        levels += [
            {"y": y(edges[0]), "label": f"{edges[0]:.3f}", "kind": "band-edge"},
            {"y": y(edges[1]), "label": f"{edges[1]:.3f}", "kind": "band-edge"},
        ]
    return {
        "width": DRIFT_WIDTH,
        "height": DRIFT_HEIGHT,
        "plot": {
            "left": DRIFT_LEFT,
            "right": DRIFT_WIDTH - DRIFT_RIGHT,
            "top": DRIFT_TOP,
            "bottom": DRIFT_HEIGHT - DRIFT_BOTTOM,
        },
        "band": band_box,
        "levels": levels,
        "points": placed,
        "line": " ".join(f"{p['x']},{p['y']}" for p in placed),
    }
