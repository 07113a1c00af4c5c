"""The clinic simulation: a seeded clinic played day by day on the real services
and jobs misses no refill, sends no reminder twice and loses none; the same seed gives the
same figures; the report is a page with charts; a clinic short of slots is told early.

Each run is ``manage.py simulate_clinic`` in a subprocess on the in-memory SQLite database
the command creates (Django's test database machinery): the runs start together, so the
module takes about as long as its longest run, and no run touches the test database."""

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pumpcare.management.commands import loaddemo
from simulation import world

ROOT = Path(__file__).resolve().parent.parent

RUNS = {
    "main": ["--pumps", "50", "--days", "90", "--seed", "1"],
    "again_a": ["--pumps", "10", "--days", "20", "--seed", "7"],
    "again_b": ["--pumps", "10", "--days", "20", "--seed", "7"],
    "short": ["--pumps", "40", "--days", "45", "--seed", "1", "--capacity", "0.8"],
    # half the titration visits and surgeries missed: the nurse records and books them again
    "missed_visits": ["--pumps", "40", "--days", "60", "--seed", "1", "--visit-no-show", "0.5"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "pumpcare.test_settings",
        "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('unused')}/never-opened.sqlite3",
    }
    started = {}
    for name, args in RUNS.items():
        report = tmp_path_factory.mktemp(name)
        started[name] = (
            report,
            subprocess.Popen(
                [sys.executable, "manage.py", "simulate_clinic", *args, "--report", str(report)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        )
    done = {}
    for name, (report, process) in started.items():
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output
        done[name] = (report, output, json.loads((report / "summary.json").read_text()))
    return done


def test_a_seeded_clinic_misses_no_refill_and_no_reminder(runs):
    _, output, summary = runs["main"]
    figures = summary["figures"]
    assert figures["refills"] > 50, output
    assert figures["pumps_past_alarm"] == 0, output
    assert figures["pumps_empty"] == 0, output
    assert figures["duplicate_reminders"] == 0, output
    assert figures["lost_reminders"] == 0, output
    assert figures["reminders_checked_against_the_truth"] > 50, output
    assert figures["reminders_sent"] > 0, output
    assert figures["margin_days_min"] > 0, output


@pytest.mark.rule("TITRATE-1", "BRIDGE-1", "ERI-2", "IMPLANT-1", "TITRATE-2")
def test_the_seeded_year_titrates_changes_concentrations_replaces_implants_and_explants(runs):
    """The year's events happen through the services, within the rules: dose changes at
    titration visits (an over-limit increase is never accepted) and each visit completed;
    concentration changes with their bridge; replacements booked at least 90 days before
    ERI and done; new implants; explants leaving nothing open on the explanted pump."""
    _, output, summary = runs["main"]
    f = summary["figures"]
    assert f["titration_visits"] > 0 and f["dose_increases"] > 0, output
    assert f["over_limit_increases_accepted"] == 0, output
    assert f["titration_visits_open_after_their_day"] == 0, output
    assert f["concentration_changes"] > 0 and f["bridges"] == f["concentration_changes"], output
    assert f["replacements_done"] > 0, output
    assert f["replacements_booked_90_days_before_eri"] == f["replacements_booked"] > 0, output
    assert f["implants"] > 0 and f["explants"] > 0, output
    assert f["open_appointments_on_pumps_no_longer_implanted"] == 0, output
    assert f["alerts_open_on_pumps_no_longer_implanted"] == {}, output
    assert f["event_failures"] == [], output
    assert "replacements booked ≥ 90 days before ERI (all)" in output


@pytest.mark.rule("ERI-1", "ERI-2", "DEVICE-1")
def test_an_eri_read_at_an_interrogation_gets_its_replacement_booked_before_eos(runs):
    """A battery that reaches ERI before the estimate: the nurse enters the ERI alarm from an
    interrogation, the product takes that date and asks for the surgery, booked before EOS
    and done; no implanted pump passes its EOS."""
    _, output, summary = runs["main"]
    f = summary["figures"]
    assert f["eri_read_at_interrogation"] > 0, output
    assert f["replacements_booked_after_an_eri_read"] == f["eri_read_at_interrogation"], output
    assert f["replacements_after_an_eri_read_booked_before_eos"] == f["replacements_booked_after_an_eri_read"]
    assert f["replacements_done"] == f["replacements_booked"] + f["replacements_booked_after_an_eri_read"], (
        output
    )
    assert f["pumps_past_eos"] == 0, output


@pytest.mark.rule("ERI-2", "TITRATE-1")
def test_missed_titration_visits_and_surgeries_are_recorded_and_booked_again(runs):
    """Patients who miss a titration visit or a surgery: the nurse records each (that day, or
    the next working day where the product shows it: the titration agenda, the replacement
    alert coming back) and books it again; none is left open on a past day, none forgotten,
    and no refill is missed meanwhile."""
    for name in ("main", "missed_visits"):
        _, output, summary = runs[name]
        f = summary["figures"]
        assert f["missed_visits_not_booked_again"] == 0, output
        assert f["titration_visits_open_after_their_day"] == 0, output
        assert f["replacement_surgeries_open_after_their_day"] == 0, output
        assert f["pumps_past_alarm"] == 0 and f["pumps_empty"] == 0, output
        assert f["event_failures"] == [], output
    assert runs["main"][2]["figures"]["titration_visits_missed"] > 0
    _, output, summary = runs["missed_visits"]
    f = summary["figures"]
    assert f["titration_visits_missed"] > 0 and f["replacement_surgeries_missed"] > 0, output
    assert f["missed_recorded_the_same_day"] > 0 and f["missed_found_the_next_working_day"] > 0, output
    assert f["titration_visits_booked_again"] == f["titration_visits_missed"], output
    assert f["replacement_surgeries_booked_again"] == f["replacement_surgeries_missed"], output
    assert f["replacements_done"] > 0, output


def test_the_same_seed_gives_the_same_figures(runs):
    assert runs["again_a"][2]["figures"] == runs["again_b"][2]["figures"]
    assert runs["again_a"][2]["weekly"] == runs["again_b"][2]["weekly"]


def test_the_report_is_a_page_with_inline_charts(runs):
    report, output, _ = runs["main"]
    page = (report / "index.html").read_text()
    assert page.count("<svg") == 3
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "pumps that ran empty" in output


def test_a_clinic_short_of_slots_is_told_early(runs):
    _, output, summary = runs["short"]
    figures = summary["figures"]
    assert figures["alerts_by_kind"].get("over_capacity", 0) > 0, output
    assert figures["pumps_that_would_have_been_missed"], output
    assert figures["pumps_past_alarm"] == 0 and figures["pumps_empty"] == 0, output


def test_the_simulated_clinic_fills_in_the_catalog_as_the_demo_clinic_does():
    """PUMP-3: the pathway and catheter volumes the simulation's clinic fills in (the shipped
    catalog leaves them empty) are the demo clinic's, marked demo only."""
    assert world.DEMO_PATHWAY_ML == loaddemo.DEMO_PATHWAY_ML
    assert world.DEMO_CATHETER_ML_PER_CM == loaddemo.DEMO_CATHETER_ML_PER_CM
    assert world.DEMO_ONLY == loaddemo.DEMO_ONLY


@pytest.mark.rule("BRIDGE-1", "LRA-1")
def test_the_simulators_truth_drains_a_bridge_then_the_dose_and_follows_a_dose_change():
    """A pump 10 % fast, 20 mL at 1000 mcg/mL, 500 mcg/day (0.55 mL/day true), alarm 2 mL,
    after a bridge of 0.5 mL over 24 h (0.55 mL true); from day 3 1000 mcg/day (1.1 mL/day)."""
    sim = world._draw(0, random.Random(1))
    sim.flow_error, sim.dose_mcg, sim.concentration, sim.alarm_ml = 0.1, 500, 1000, 2.0
    start = datetime(2026, 1, 1, tzinfo=UTC)
    sim.fill(start, 20.0, bridge_ml=0.5, bridge_hours=24)
    assert sim.bridge_until == start + timedelta(days=1)
    assert sim.true_volume(start + timedelta(days=1)) == pytest.approx(20 - 0.55)
    assert sim.true_volume(start + timedelta(days=3)) == pytest.approx(20 - 0.55 - 2 * 0.55)
    # alarm: 1 day of bridge, then (18 - 0.55) / 0.55 = 31.727 days
    assert (sim.true_alarm_at() - start).total_seconds() / 86400 == pytest.approx(32.727, abs=1e-3)
    sim.change_dose(start + timedelta(days=3), 1000)
    assert sim.true_volume(start + timedelta(days=4)) == pytest.approx(20 - 1.65 - 1.1)
    # from day 3: 18.35 mL left, alarm after (18.35 - 2) / 1.1 = 14.864 days, empty 16.682
    assert (sim.true_alarm_at() - start).total_seconds() / 86400 == pytest.approx(17.864, abs=1e-3)
    assert (sim.true_empty_at() - start).total_seconds() / 86400 == pytest.approx(19.682, abs=1e-3)
