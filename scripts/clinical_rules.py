"""Write docs/clinical-rules.md: each DOMAIN.md rule → its source → where it is
implemented → the tests that name it (found by reading the tests'
``@pytest.mark.rule(...)`` markers, so the table cannot drift from the suite).

    python scripts/clinical_rules.py           # rewrite the file
    python scripts/clinical_rules.py --check   # exit 1 when the file is out of date
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "clinical-rules.md"
DOMAIN = ROOT.parent / "shared" / "DOMAIN.md"

SAULINO = "Saulino et al., Neuromodulation 2016;19(6):623–31"
# rule, what it says, source, implementation (or the issue that owns it)
RULES = [
    (
        "PUMP-1",
        "Pump models are catalog data, each value with its source",
        "Medtronic SynchroMed II and Prometra II IFU/PTC material; Neurosurgery 2004;55(2):390–3",
        "`patients.models.PumpModel`, data migration `patients/migrations/0002_catalogs.py`",
    ),
    (
        "PUMP-2",
        "Catheter volume = implanted length × volume per cm",
        "Prometra II IFU",
        "`CatheterModel`; `therapy.refill.bridge_bolus`",
    ),
    (
        "PUMP-3",
        "Unconfirmed catalog values stay empty",
        "Medtronic labeling (not confirmed)",
        "data migration; `loaddemo` marks demo values",
    ),
    ("DOSE-1", "Modes and total daily dose", SAULINO, "`therapy.dosing.Prescription`, `parse_prescription`"),
    (
        "DOSE-2",
        "Daily volume = dose / concentration; patient boluses at their maximum",
        "Prometra II PTC guide",
        "`therapy.dosing.daily_volume_ml`, `Prescription.daily_dose_mcg_total`",
    ),
    (
        "DOSE-3",
        "The pump clock keeps the programming UTC offset; daylight-saving warning",
        "SynchroMed II clinician material",
        "`Prescription.clock_utc_offset_minutes`; `therapy.projection.clock_warnings`",
    ),
    (
        "DOSE-4",
        "Supplied concentrations; others need confirmation; start at 500 mcg/mL",
        "Lioresal Intrathecal / Gablofen PI; " + SAULINO,
        "`therapy.refill.check_concentration`; `therapy.titration.check_first_fill_concentration`; "
        "`Drug` catalog",
    ),
    (
        "LRA-1",
        "Reservoir volume through every step, bolus and prescription change",
        SAULINO,
        "`therapy.projection._timeline`, `volume_at`",
    ),
    (
        "LRA-2",
        "Alarm time and empty time: first crossing",
        "Neurosurgery 2004;55(2):390–3",
        "`therapy.projection._crossing`, `time_at_volume`",
    ),
    (
        "LRA-3",
        "Worst case: every rate × (1 + tolerance), the bridge over its whole duration; unconfigured → nominal + warning",
        "Medtronic hazard alert; Prometra II IFU",
        "`therapy.projection.worst_case_factor`, `_timeline`, `project`; `therapy.CALCULATION_VERSION` "
        "in the stored projections' fingerprint",
    ),
    (
        "LRA-4",
        "Refill-by = min(worst-case alarm date − margin, fill date + 180 days)",
        SAULINO + "; 2023 in-vivo baclofen stability study",
        "`therapy.projection.refill_by`",
    ),
    (
        "LRA-5",
        "Appointment on a working day on or before refill-by; overdue on the earliest working day",
        SAULINO,
        "`therapy.battery.refill_day`, `check_refill_day`; `scheduling.proposals.refill_proposals_run`",
    ),
    (
        "REFILL-1",
        "Expected residual and discrepancy flag with direction",
        "Maino et al., Neuromodulation 2017;20(7):733–9",
        "`therapy.refill.residual_discrepancy`; `refills.services.refill_record`",
    ),
    (
        "REFILL-2",
        "No overfill or impossible withdrawal, no volume ≤ 0, no future or pre-implant refill; typed local times at DST",
        "SynchroMed II / Prometra II refill instructions",
        "`therapy.refill.check_refill_volumes`, `check_event_time`; `therapy.local_instant` (web forms, API)",
    ),
    (
        "REFILL-3",
        "A concentration change needs a bridge bolus",
        "SynchroMed EL programming guide, bridge bolus appendix",
        "`refills.services.refill_record`",
    ),
    (
        "REFILL-4",
        "Card and reminders are stale after a refill or prescription change",
        SAULINO,
        "cards: `cards.selectors.cards_read` (stale = digest of `card_data` ≠ last wallet card's), "
        "`stale_cards`; worklist `card_stale` flag; reminders: `scheduling.reminders.appointment_reminders_plan` "
        "(a refill completes the appointment and cancels its reminders)",
    ),
    (
        "BRIDGE-1",
        "Path volume, duration, programmed and delivered dose; projection drains V over T",
        "SynchroMed EL programming guide, bridge bolus appendix",
        "`therapy.refill.bridge_bolus`, `bridge_for_volume`; `BridgeDrain` (the worst case: LRA-3)",
    ),
    (
        "BRIDGE-2",
        "No bridge without a change; refuse when a volume is not configured",
        "SynchroMed EL programming guide",
        "`therapy.refill.bridge_bolus`",
    ),
    (
        "BRIDGE-3",
        "V rounded first; T and both doses from the rounded V; the bridge dose chosen in one place",
        "SynchroMed EL programming guide, bridge bolus appendix",
        "`therapy.refill.bridge_bolus`, `bridge_daily_dose_mcg`; `refills.selectors.reservoir_from`",
    ),
    (
        "START-1",
        "Starting dose = 2 × effective screening dose (or the dose itself)",
        SAULINO,
        "`therapy.titration.screening_outcome`; `refills.selectors.screening_outcome_of`; "
        "`POST /api/v1/calculations/starting-dose/`",
    ),
    (
        "TITRATE-1",
        "Increase limits per 24 h by origin and age, from the lowest dose in the window",
        SAULINO,
        "`therapy.titration.check_new_daily_dose`, `titration_ceiling` (shared with ORAL-1); the "
        "patient's history: `refills.selectors.patient_dose_history`",
    ),
    (
        "TITRATE-2",
        "Stopping, a zero dose (at 0.1 mcg) or an explant without replacement needs a prescriber override and raises an alert",
        "Lioresal Intrathecal PI (withdrawal); " + SAULINO,
        "`therapy.titration.is_zero_daily_dose`, `check_new_daily_dose`; `refills.services`; "
        "`refills.replacement.pump_explant`, `pump_replace`",
    ),
    (
        "START-2",
        "First prescription of the therapy checked against the screening trial's starting dose",
        SAULINO,
        "`therapy.titration.check_first_prescription` (from `check_new_daily_dose`), "
        "`check_first_fill_concentration`; `refills.services._titration`",
    ),
    (
        "WEAN-1",
        "Oral antispasmodics weaned one at a time, oral baclofen first",
        SAULINO,
        "`therapy.oral.check_weaning_plan`; `medications.services.weaning_plan_create`, "
        "`weaning_plan_edit`, `weaning_step_done`; `POST /api/v1/oral-medications/{id}/weaning-plan/`, "
        "`PUT /api/v1/weaning-plans/{id}/`, `POST /api/v1/weaning-steps/{id}/done/`; steps due in "
        "`GET /api/v1/worklist/titration/`",
    ),
    (
        "SCREEN-1",
        "Screening boluses recorded; positive at the first response, negative after none at 100 mcg",
        SAULINO,
        "`refills.models.ScreeningTrial`, `ScreeningBolus`; `refills.screening.screening_bolus_record`; "
        "`GET/POST /api/v1/patients/{id}/screening-trial/`",
    ),
    (
        "IMPLANT-1",
        "Intraoperative implant fill (500 mcg/mL at the start of therapy; a replacement continues the "
        "patient's concentration), a new catheter primed and drained first, at least 8 h of monitoring",
        SAULINO,
        "`therapy.titration.check_first_fill_concentration` (a warning); `therapy.implant.check_implant_fill`, "
        "`priming_volume_ml`, `implant_monitoring`; the priming drain in `therapy.projection._timeline`; "
        "`refills.services.refill_record` (`implant_fill`, `catheter_primed`), `refills.implant`, "
        "`refills.selectors.implant_monitoring_flags` (worklist and pump page)",
    ),
    (
        "ORAL-1",
        "Oral baclofen, tizanidine and dantrolene dosing and warnings",
        SAULINO,
        "`therapy.oral.oral_dose_notices`, `oral_titration_notice`; the oral drug catalog "
        "`medications/migrations/0002_oral_drug_catalog.py`; the older-adult age is the clinic's "
        "`older_adult_from_age_years` (empty: no age check, said so); "
        "`GET/POST /api/v1/patients/{id}/oral-medications/`",
    ),
    (
        "RISK-1",
        "Patient risk flags shown wherever dosing is decided",
        SAULINO,
        "`therapy.oral.risk_notices`; flags on `patients.models.Patient`; "
        "`medications.selectors.risk_flags`; `GET /api/v1/patients/{id}/risk-flags/`; the pump page, "
        "the refill form and the oral medications page",
    ),
    (
        "MONITOR-1",
        "Every visit records an assessment; withdrawal signs raise a critical alert",
        SAULINO,
        "`therapy.monitoring.classify_assessment`; `refills.models.VisitAssessment`, "
        "`refills.assessments` (critical alert escalated to on-call, physician-review alert)",
    ),
    (
        "MRI-1",
        "A planned MRI: interrogation after the scan (SynchroMed II), emptied pump (Prometra II)",
        "Medtronic SynchroMed II MRI material; Prometra II IFU",
        "`therapy.device.mri_follow_up`, `mri_state`, `check_emptying_time`; catalog "
        "`PumpModel.mri_follow_up` (data migration `patients/migrations/0008_mri_follow_up_catalog.py`); "
        "`devices.services.mri_plan`, `mri_emptying_record` (TITRATE-2 through "
        "`refills.services.prescription_create`), `mri_cancel`; `scheduling.mri.mri_follow_ups_run`; "
        "open MRIs in `scheduling.worklist.mri_follow_ups` (`GET /api/v1/worklist/mri/`, the web "
        "worklist); the device page records the emptying and the cancelling",
    ),
    (
        "DRIFT-1",
        "Observed delivery ratio per refill, trended per pump",
        'ASRA 2017, "Accuracy in Intrathecal Drug Delivery"',
        "`therapy.drift.delivery_observation`, `drift_trend`; `therapy.projection.programmed_volume_ml`; "
        "`refills.drift` (stored per refill, trend alert, clinic list); `web.charts.drift_chart`",
    ),
    (
        "DEVICE-1",
        "Alarms read at an interrogation are logged; critical ones alert, ERI sets the ERI date",
        "Medtronic SynchroMed II material",
        "`therapy.device.alarm_class`, `interrogation_findings`; `devices.services.interrogation_record` "
        "(critical alert; ERI date through `patients.services.pump_update`)",
    ),
    (
        "ERI-1",
        "ERI from interrogation or implant + service life; EOS = ERI + 90 days",
        "Medtronic SynchroMed II replacement material",
        "`therapy.battery.replacement_plan`",
    ),
    (
        "ERI-2",
        "Planning opens 6 months before ERI; book-by ERI − 90 days; dates after ERI/EOS",
        "Medtronic SynchroMed II replacement material; " + SAULINO,
        "`therapy.battery.replacement_plan`, `check_replacement_date`",
    ),
    (
        "ALERT-1",
        "Urgency order of alerts (overdue its own); current dates when shown or sent; escalation until acknowledged",
        SAULINO,
        "`scheduling.worklist.URGENCY`; `alerts.messages` (texts from the current projection); `scheduling.state_alerts.state_alerts_run`; "
        "`alerts.outbox.alert_notifications_plan`, `escalation_due_at`; `alerts.services.alert_acknowledge`",
    ),
    (
        "ALERT-2",
        "Reminders to consenting recipients with the least health information",
        "privacy by design",
        "`alerts.outbox.people_of`; `scheduling.reminders.appointment_reminders_plan`; templates "
        "`scheduling/templates/scheduling/email/`, `alerts/templates/alerts/email/`; `alerts.delivery`",
    ),
    (
        "CARD-1",
        "What the emergency card carries",
        SAULINO + "; Medtronic and Prometra MRI guidance",
        "`cards.selectors.card_data` (the one dict), `cards.render` (WeasyPrint), `cards.services.card_issue`; "
        "default texts `cards/migrations/0002_default_texts.py`",
    ),
]


def collect_markers(tests_dir: Path) -> dict[str, list[str]]:
    """rule ID → ['tests/test_x.py::test_name', ...] from @pytest.mark.rule(...) markers on
    test functions, test classes and module-level ``pytestmark``."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in sorted(tests_dir.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        relative = path.relative_to(ROOT).as_posix()
        module_rules = _rules_in(_pytestmark(tree))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name.lower().startswith("test"):
                rules = module_rules | _rules_in(node.decorator_list)
                if isinstance(node, ast.ClassDef):
                    rules |= _rules_in(_pytestmark(node))
                for rule in rules:
                    found[rule].add(f"{relative}::{node.name}")
    return {rule: sorted(names) for rule, names in found.items()}


def _pytestmark(tree) -> list[ast.expr]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            return node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
    return []


def _rules_in(expressions) -> set[str]:
    rules = set()
    for expression in expressions:
        if (
            isinstance(expression, ast.Call)
            and isinstance(expression.func, ast.Attribute)
            and expression.func.attr == "rule"
        ):
            rules |= {arg.value for arg in expression.args if isinstance(arg, ast.Constant)}
    return rules


def render() -> str:
    markers = collect_markers(ROOT / "tests")
    lines = [
        "# Clinical rules: rule → source → implementation → tests",
        "",
        "Generated by `python scripts/clinical_rules.py` from the rule IDs of",
        "`../shared/DOMAIN.md` and the `@pytest.mark.rule(...)` markers of the tests; a test",
        "(`tests/test_docs.py`) fails when this file is out of date. Numbers DOMAIN.md gives are",
        "defaults in the catalogs (`patients/migrations/0002_catalogs.py`), the clinic settings or",
        "`settings.PUMPCARE_CLINICAL`; the calculation core (`therapy/`) carries none of its own.",
        "",
        "| rule | what | source | implementation | tests |",
        "| --- | --- | --- | --- | --- |",
    ]
    for rule, what, source, where in RULES:
        tests = markers.get(rule, [])
        shown = "<br>".join(f"`{t}`" for t in tests[:8])
        if len(tests) > 8:
            shown += f"<br>… and {len(tests) - 8} more"
        lines.append(f"| {rule} | {what} | {source} | {where} | {shown or '—'} |")
    lines += ["", f"{sum(len(v) for v in markers.values())} rule-marked test references in all.", ""]
    return "\n".join(lines)


def domain_rules(path: Path = DOMAIN) -> list[str]:
    """The rule IDs DOMAIN.md defines, in its order (each opens a list item: ``- LRA-3 ...``)."""
    import re

    return re.findall(r"^- ([A-Z]+-[0-9]+) ", path.read_text(), flags=re.M)


def missing_rules(path: Path = DOMAIN) -> list[str]:
    """DOMAIN.md rules the table does not list (a rule added to the specification must be
    listed, implemented or not)."""
    listed = {rule for rule, *_ in RULES}
    return [rule for rule in domain_rules(path) if rule not in listed]


def main() -> int:
    if DOMAIN.exists() and (missing := missing_rules()):
        print(f"DOMAIN.md rules missing from scripts/clinical_rules.py: {', '.join(missing)}")
        return 1
    text = render()
    if "--check" in sys.argv:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print("docs/clinical-rules.md is out of date: run python scripts/clinical_rules.py")
            return 1
        return 0
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
