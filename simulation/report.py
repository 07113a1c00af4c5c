"""What the simulation reports: a short text summary for the console, and with a report
directory an ``index.html`` (charts as inline SVG: no JavaScript, no CDN) and a
``summary.json`` with the figures."""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from pathlib import Path

from .run import Results

TARGETS = {  # the promise: each of these must be 0
    "pumps_past_alarm": "pumps whose true reservoir reached the alarm volume before a refill",
    "pumps_empty": "pumps that ran empty",
    "duplicate_reminders": "reminders sent twice (same recipient, slot, kind and day)",
    "lost_reminders": "reminders due and never sent (nor cancelled with a reason)",
    "over_limit_increases_accepted": "dose increases over the TITRATE-1 limit accepted",
    "titration_visits_open_after_their_day": "titration visits still open after their day",
    "open_appointments_on_pumps_no_longer_implanted": "open appointments on pumps no longer implanted",
    "replacement_surgeries_open_after_their_day": "replacement surgeries still open after their day",
    "missed_visits_not_booked_again": "missed titration visits and surgeries not booked again",
    "pumps_past_eos": "implanted pumps past their end of service (EOS)",
}


def summary(results: Results) -> dict:
    return {"figures": results.figures, "performance": results.performance, "weekly": results.weekly}


def text(results: Results) -> str:
    f, p = results.figures, results.performance
    lines = [
        f"simulate_clinic: {f['pumps']} pumps × {f['days']} days, seed {f['seed']}, capacity {f['capacity']}, "
        f"no-show {f['no_show']} (visits and surgeries {f['visit_no_show']}), "
        f"holidays {'on' if f['holidays'] else 'off'}",
        f"  slots per working day        {f['slots_per_day']} (expected refills {f['expected_refills_per_working_day']})",
        f"  refills recorded             {f['refills']}",
    ]
    for key, label in TARGETS.items():
        mark = "ok" if f[key] == 0 else "FAIL"
        lines.append(f"  {label:<62} {f[key]:>5}  {mark}")
    booked, early = f["replacements_booked"], f["replacements_booked_90_days_before_eri"]
    mark = "ok" if early == booked else "FAIL"
    lines.append(
        f"  {'replacements booked ≥ 90 days before ERI (all)':<62} {f'{early} of {booked}':>5}  {mark}"
    )
    read, before = (
        f["replacements_booked_after_an_eri_read"],
        f["replacements_after_an_eri_read_booked_before_eos"],
    )
    mark = "ok" if before == read else "FAIL"
    lines.append(
        f"  {'replacements booked before EOS after an ERI read (all)':<62} {f'{before} of {read}':>5}  {mark}"
    )
    lines += [
        f"  pumps past refill-by unbooked {f['pumps_past_refill_by_unbooked']} "
        f"({f['pump_days_past_refill_by_unbooked']} pump-days)",
    ]
    for reason, n in f["past_refill_by_reasons"].items():
        lines.append(f"      {n:>5} pump-days: {reason}")
    for row in f["past_refill_by_unbooked_pumps"][:10]:
        lines.append(f"      {row}")
    lines += [
        f"  margin days (refill → true alarm) min {f['margin_days_min']}, median {f['margin_days_median']}",
        f"  alerts by kind               {f['alerts_by_kind'] or 'none'}",
        f"  capacity shortfall alerts    {f['shortfall_alerts']}"
        + (
            f" (days before refill-by: min {f['shortfall_lead_days_min']}, median {f['shortfall_lead_days_median']})"
            if f["shortfall_alerts"]
            else ""
        ),
    ]
    if f["shortfall_alerts"]:
        lines.append(
            "      by lead: "
            + ", ".join(f"{n} {label}" for label, n in f["shortfall_alerts_by_lead"].items())
        )
    if f["pumps_that_would_have_been_missed"]:
        lines.append(
            f"  pumps missed had nobody acted on the shortfall: {len(f['pumps_that_would_have_been_missed'])} "
            f"(simulated pumps {', '.join(map(str, f['pumps_that_would_have_been_missed'][:30]))}"
            f"{' …' if len(f['pumps_that_would_have_been_missed']) > 30 else ''})"
        )
    lines += [
        f"  bookings moved off a day the clinic closed {f['bookings_moved_off_closed_days']}; "
        f"emergency refills answering an escalation {f['emergency_refills_on_escalation']}"
        + (f" ({', '.join(f['emergency_refill_pumps'][:10])})" if f["emergency_refill_pumps"] else ""),
        f"  titration visits             {f['titration_visits']}: {f['dose_increases']} increases, "
        f"{f['dose_decreases']} decreases, {f['over_limit_increases_refused']} over-limit requests refused, "
        f"{f['titrations_postponed_during_a_bridge']} postponed during a bridge; booked refills moved "
        f"before a refill-by date that moved before them (the product's alert) {f['refills_moved_on_the_booked_late_alert']}, refilled at the visit "
        f"(no other working day left) {f['refills_at_a_titration_visit_no_other_day_left']}",
        f"  concentration changes        {f['concentration_changes']} ({f['bridges']} with a bridge bolus)",
        f"  replacements at ERI          {f['replacements_booked']} booked on the estimate, "
        f"{f['replacements_booked_after_an_eri_read']} after an ERI read, {f['replacements_done']} done; "
        f"new implants {f['implants']}; explants {f['explants']}",
        f"  ERI read at an interrogation {f['eri_read_at_interrogation']} "
        f"({', '.join(f['replacement_bookings_after_an_eri_read'][:5]) or 'no surgery booked'})",
        f"  missed visits                {f['titration_visits_missed']} titration visits, "
        f"{f['replacement_surgeries_missed']} surgeries ({f['missed_recorded_the_same_day']} recorded the same day, "
        f"{f['missed_found_the_next_working_day']} found the next working day where the product shows them); "
        f"booked again: {f['titration_visits_booked_again']} visits, {f['replacement_surgeries_booked_again']} surgeries",
        f"  alerts left open on pumps no longer implanted {f['alerts_open_on_pumps_no_longer_implanted'] or 'none'}",
        f"  reminders sent to patients   {f['reminders_sent']} (per patient: mean {f['reminders_per_patient_mean']}, "
        f"max {f['reminders_per_patient_max']})",
        f"  wall time                    {p.get('wall_seconds')} s ({p.get('setup_seconds')} s setup, "
        f"{p.get('seconds_per_day')} s per simulated day, {p.get('database')})",
    ]
    for key in ("duplicate_reminder_keys", "lost_reminder_keys", "over_limit_increases_accepted_list"):
        for row in f[key][:5]:
            lines.append(f"    {key.removesuffix('_keys').removesuffix('_list')}: {row}")
    for row in f["event_failures"][:10]:
        lines.append(f"    event failure: {row}")
    return "\n".join(lines)


# --- SVG ---------------------------------------------------------------------------------


def _bars(
    values: list[float], labels: list[str], *, title: str, unit: str = "", line: float | None = None
) -> str:
    width, height, pad = 720, 220, 40
    top = max([*values, line or 0, 1e-9])
    n = max(1, len(values))
    bar = (width - 2 * pad) / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="{pad}" y="16" font-size="13" font-family="sans-serif">{escape(title)}</text>',
        f'<line x1="{pad}" y1="{height}" x2="{width - pad}" y2="{height}" stroke="#444"/>',
    ]
    for i, value in enumerate(values):
        h = (height - 30) * value / top
        x = pad + i * bar
        parts.append(
            f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{max(1.0, bar - 1):.1f}" height="{h:.1f}" fill="#4a78b0">'
            f"<title>{escape(labels[i])}: {value:g}{unit}</title></rect>"
        )
        if n <= 60 and (i % max(1, n // 12) == 0):
            parts.append(
                f'<text x="{x:.1f}" y="{height + 14}" font-size="10" font-family="sans-serif">{escape(labels[i])}</text>'
            )
    if line is not None:
        y = height - (height - 30) * line / top
        parts.append(
            f'<line x1="{pad}" y1="{y:.1f}" x2="{width - pad}" y2="{y:.1f}" stroke="#c33" stroke-dasharray="4"/>'
        )
    parts.append(f'<text x="4" y="34" font-size="10" font-family="sans-serif">{top:g}{unit}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _histogram(margins: list[float]) -> tuple[list[float], list[str]]:
    if not margins:
        return [], []
    low, high = int(min(0, min(margins)) // 1), int(max(margins)) + 1
    counts = Counter(int(m // 1) for m in margins)
    labels = [str(d) for d in range(low, high + 1)]
    return [counts.get(d, 0) for d in range(low, high + 1)], labels


def html(results: Results) -> str:
    f = results.figures
    weeks = results.weekly["weeks"]
    values, labels = _histogram(results.margins)
    charts = [
        _bars(values, labels, title="Margin days between each refill and the pump's true alarm instant"),
        _bars(
            [100 * (wk["utilisation"] or 0) for wk in weeks],
            [f"w{wk['week']}" for wk in weeks],
            title="Refill slot utilisation by week (% of the slots of the working days)",
            unit=" %",
            line=100,
        ),
        _bars(
            [sum(wk["alerts"].values()) for wk in weeks],
            [f"w{wk['week']}" for wk in weeks],
            title="Alerts raised per week",
        ),
    ]
    rows = "\n".join(
        f"<tr><th>{escape(k)}</th><td>{escape(json.dumps(v) if not isinstance(v, str) else v)}</td></tr>"
        for k, v in f.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pumpcare clinic simulation</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}}td,th{{text-align:left;padding:2px 8px;
vertical-align:top}}th{{font-weight:normal;color:#555}}pre{{background:#f5f5f5;padding:1rem;white-space:pre-wrap}}</style>
</head><body>
<h1>Clinic simulation: {f["pumps"]} pumps × {f["days"]} days (seed {f["seed"]})</h1>
<pre>{escape(text(results))}</pre>
{"".join(f"<figure>{chart}</figure>" for chart in charts)}
<h2>Figures</h2><table>{rows}</table>
</body></html>
"""


def write(results: Results, directory: str) -> Path:
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    (path / "index.html").write_text(html(results), encoding="utf-8")
    (path / "summary.json").write_text(
        json.dumps(summary(results), indent=2, default=str) + "\n", encoding="utf-8"
    )
    return path / "index.html"
