"""Delivery drift (DRIFT-1) over a pump's refills: the observation stored with each refill,
the physician-review alert raised on the stored trend and resolved when a refill breaks it,
and the reads behind the clinic-wide list and the pump page's chart. The numbers come from
``therapy.drift``; this module gathers the rows and words the alert."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import therapy
from alerts.models import Alert, AlertKind, Severity
from alerts.services import alert_raise, alert_resolve
from patients.models import Clinic, Pump, PumpStatus, fraction
from pumpcare import clinical

from .models import DeliveryDrift, Refill

DIRECTION_WORDS = {
    DeliveryDrift.UNDER: (
        "under-delivery: less drug left the reservoir than programmed, which suggests a catheter or "
        "pump problem (a stall, an occlusion, a catheter leak) — withdrawal risk"
    ),
    DeliveryDrift.OVER: (
        "over-delivery: more drug left the reservoir than programmed — the over-infusion hazard "
        "(beyond the model's flow accuracy)"
    ),
}


def observe(refill: Refill, *, reservoir: therapy.Reservoir, discrepancy: str | None) -> list[dict]:
    """DRIFT-1 at a refill: store the programmed volume, the observed ratio and the flagged
    direction on ``refill`` (not saved here); returns what the nurse must see about it."""
    pump = refill.pump
    obs = therapy.delivery_observation(
        reservoir=reservoir,
        refilled_at=refill.performed_at,
        residual_ml=fraction(refill.volume_withdrawn_ml),
        tolerance_pct=fraction(pump.model.accuracy_tolerance_pct),
        discrepancy_direction=discrepancy,
    )
    refill.programmed_volume_ml = therapy.units.rounded(obs.programmed_ml, therapy.units.VOLUME_ML)
    refill.delivery_ratio = obs.ratio_shown
    refill.delivery_drift = obs.direction
    notices = []
    if obs.why_no_ratio:
        notices.append({"code": "no_delivery_ratio", "message": f"No delivery ratio: {obs.why_no_ratio}."})
    notices += [{"code": "tolerance_not_configured", "message": note} for note in obs.notes]
    if obs.direction:
        ratio = f"observed ratio {obs.ratio_shown}" if obs.ratio is not None else "no ratio"
        notices.append(
            {
                "code": "delivery_drift",
                "message": f"Delivery since the previous refill: {ratio} "
                f"({format(refill.programmed_volume_ml, 'f')} mL programmed): "
                f"{DIRECTION_WORDS[obs.direction]}.",
            }
        )
    return notices


def observed_refills(pump: Pump) -> list[Refill]:
    """The pump's refills that observed a delivery (every one but its first fill), oldest
    first."""
    return list(pump.refills.filter(expected_residual_ml__isnull=False).order_by("performed_at"))


def drift_alert_update(pump: Pump, *, actor=None) -> Alert | None:
    """DRIFT-1's physician-review alert on the stored trend: raised when the latest
    ``drift_consecutive_refills`` refills are flagged in one direction, kept while the run
    goes on (acknowledging it stops its notice, not its record), resolved when a refill
    breaks the run. Returns the open alert, if any."""
    refills = observed_refills(pump)
    direction, run = therapy.drift_trend(
        [r.delivery_drift for r in refills], consecutive=clinical.drift_consecutive_refills()
    )
    open_alerts = list(
        Alert.objects.select_for_update().filter(
            pump=pump, kind=AlertKind.DELIVERY_DRIFT, resolved_at__isnull=True
        )
    )
    # The run began anew at this refill when it is exactly as long as the setting: an alert
    # still open belongs to an earlier run (of the other direction, with a setting of 1).
    continued = direction is not None and run > clinical.drift_consecutive_refills()
    keep = open_alerts[-1] if continued and open_alerts else None
    for alert in open_alerts:
        if alert is not keep:
            why = "a refill broke the run" if direction is None else "a new run of refills began"
            alert_resolve(alert=alert, why=why)
    if direction is None or keep is not None:
        return keep
    return alert_raise(
        clinic=pump.clinic,
        pump=pump,
        kind=AlertKind.DELIVERY_DRIFT,
        severity=Severity.WARNING,
        message=drift_alert_text(pump, direction, refills[-run:]),
        actor=actor,
    )


def drift_alerts_resolve(pump: Pump, *, why: str) -> None:
    """The pump left service: its delivery can no longer drift (the patient's new pump starts
    its own record)."""
    for alert in Alert.objects.select_for_update().filter(
        pump=pump, kind=AlertKind.DELIVERY_DRIFT, resolved_at__isnull=True
    ):
        alert_resolve(alert=alert, why=why)


def drift_alert_text(pump: Pump, direction: str, run: list[Refill]) -> str:
    tz = pump.clinic.tz
    seen = "; ".join(
        f"{therapy.units.instant_text(r.performed_at, tz)}: "
        + (f"ratio {r.delivery_ratio}" if r.delivery_ratio is not None else "no ratio")
        + (f", residual {r.discrepancy_ml:+} mL off the expected" if r.discrepancy_ml is not None else "")
        for r in run
    )
    return (
        f"Pump {pump} ({pump.patient}): {len(run)} consecutive refills observed "
        f"{DIRECTION_WORDS[direction]}. {seen}. A physician should review the pump and catheter. "
        "The projection keeps using the model's flow accuracy."
    )


# --- reads ---------------------------------------------------------------------------------


@dataclass
class PumpDrift:
    """One pump of the clinic-wide list: its latest run of flagged refills."""

    pump: Pump
    direction: str
    run: int
    alert: bool  # the run reached the setting: a physician-review alert is open
    band: tuple[Decimal, Decimal] | None
    refills: list[Refill] = field(default_factory=list)  # the run, oldest first


def clinic_drifts(clinic: Clinic) -> list[PumpDrift]:
    """DRIFT-1's list: the clinic's active pumps whose latest refill flagged a drift, the
    longest runs first (those that raised the alert at the top)."""
    consecutive = clinical.drift_consecutive_refills()
    pumps = {
        p.pk: p
        for p in Pump.objects.filter(patient__clinic=clinic, status=PumpStatus.ACTIVE).select_related(
            "model", "patient__clinic"
        )
    }
    by_pump: dict[int, list[Refill]] = {}
    for refill in Refill.objects.filter(pump_id__in=pumps, expected_residual_ml__isnull=False).order_by(
        "pump_id", "performed_at"
    ):
        by_pump.setdefault(refill.pump_id, []).append(refill)
    rows = []
    for pump_id, refills in by_pump.items():
        directions = [r.delivery_drift for r in refills]
        _, run = therapy.drift_trend(directions, consecutive=consecutive)
        if run == 0:
            continue
        pump = pumps[pump_id]
        rows.append(
            PumpDrift(
                pump=pump,
                direction=directions[-1],
                run=run,
                alert=run >= consecutive,
                band=band_of(pump),
                refills=refills[-run:],
            )
        )
    rows.sort(key=lambda r: (-r.run, str(r.pump.patient)))
    return rows


def band_of(pump: Pump) -> tuple[Decimal, Decimal] | None:
    """PUMP-1 / DRIFT-1: the ratios within the model's flow accuracy (None: not configured)."""
    band = therapy.tolerance_band(fraction(pump.model.accuracy_tolerance_pct))
    return None if band is None else tuple(therapy.units.rounded(b, therapy.drift.RATIO) for b in band)


@dataclass
class DriftSummary:
    """How the pump's observed ratios compare with its model's flow accuracy."""

    band: tuple[Decimal, Decimal] | None
    refills: list[Refill]  # observed refills, oldest first
    with_ratio: int
    inside: int
    under: int
    over: int
    run_direction: str | None
    run: int
    consecutive: int


def pump_drift(pump: Pump) -> DriftSummary:
    refills = observed_refills(pump)
    band = band_of(pump)
    ratios = [r.delivery_ratio for r in refills if r.delivery_ratio is not None]
    consecutive = clinical.drift_consecutive_refills()
    _, run = therapy.drift_trend([r.delivery_drift for r in refills], consecutive=consecutive)
    inside = under = over = 0
    if band is not None:
        inside = sum(band[0] <= r <= band[1] for r in ratios)
        under = sum(r < band[0] for r in ratios)
        over = sum(r > band[1] for r in ratios)
    return DriftSummary(
        band=band,
        refills=refills,
        with_ratio=len(ratios),
        inside=inside,
        under=under,
        over=over,
        run_direction=refills[-1].delivery_drift if run else None,
        run=run,
        consecutive=consecutive,
    )


def at_local(at: datetime, clinic: Clinic) -> str:
    return therapy.units.instant_text(at, clinic.tz)
