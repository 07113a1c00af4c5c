"""Writes of the therapy record: refills (REFILL-1..3, BRIDGE-1..2, DOSE-4, IMPLANT-1) and
prescriptions (DOSE-1..3, TITRATE-1..2, START-2). The numbers come from ``therapy``; this
module checks roles, orders events in time, stores the result and audits it, all in one
transaction (a refusal writes nothing). The dose history a new prescription is checked
against is the patient's, across all of their pumps (``selectors.patient_dose_history``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from django.db import transaction

import therapy
from alerts.models import AlertKind, Severity
from alerts.services import alert_raise
from patients.models import Drug, Patient, Pump, PumpStatus, fraction
from patients.permissions import CLINICAL_WRITERS, PRESCRIBERS, require_role
from patients.selectors import default_drug
from patients.services import save_audited
from pumpcare import clinical, clock

from . import assessments, drift, selectors
from .models import Prescription, PumpExplant, Refill, VisitKind
from .projections import projections_changed
from .signals import refill_recorded


@dataclass
class TherapyChange:
    """What a refill or prescription wrote, and what the nurse must see about it."""

    refill: Refill | None
    prescription: Prescription
    pump: Pump
    warnings: list[dict] = field(default_factory=list)

    @cached_property
    def projection(self) -> dict:
        """The pump's projection as of when it is first asked for (a caller that does not
        show it, such as an import, does not pay for it)."""
        return selectors.pump_projection(self.pump)


@transaction.atomic
def refill_record(
    *,
    actor,
    pump: Pump,
    performed_at: datetime,
    volume_withdrawn_ml: Decimal,
    volume_added_ml: Decimal,
    concentration_mcg_per_ml: Decimal,
    prescription: dict,
    compounded_confirmed: bool = False,
    drug: Drug | None = None,
    lot_number: str = "",
    notes: str = "",
    reason: str = "",
    override_reason: str = "",
    implant_fill: bool = False,
    catheter_primed: bool = False,
    assessment: dict | None = None,
) -> TherapyChange:
    """Record a refill and the prescription programmed with it.

    REFILL-2 volume and time checks; DOSE-4 concentration list; REFILL-1 expected residual
    and discrepancy (not at the first fill); DRIFT-1 observed delivery ratio and its trend
    alert; BRIDGE-1/2 bridge bolus when the concentration changes; TITRATE-1/2 for the new
    prescription; MONITOR-1 the visit's assessment when given (its signs and notes), in the
    same transaction. A drug change at a refill is refused.
    IMPLANT-1: a pump's first fill may be its intraoperative implant fill (on the implant
    day), at which a new catheter primed with its volume (PUMP-2) drains the reservoir first.
    """
    pump = lock_active_pump(pump)
    require_role(actor, pump.clinic, CLINICAL_WRITERS, "Recording a refill")
    previous = selectors.last_refill(pump)
    first_fill = previous is None
    new_concentration = fraction(concentration_mcg_per_ml)
    plan = therapy.parse_prescription(prescription)
    _check_time(pump, performed_at, "performed_at")
    # IMPLANT-1: a pump's first fill continues the patient's therapy from their last fill
    patient_fill = selectors.patient_last_fill(pump.patient, before=performed_at) if first_fill else None
    drug = _refill_drug(pump, previous, drug, patient_fill)
    # REFILL-2 first: a concentration of 0 or less is refused as such, not as "compounded".
    therapy.check_refill_volumes(
        volume_withdrawn_ml=fraction(volume_withdrawn_ml),
        volume_added_ml=fraction(volume_added_ml),
        concentration_mcg_per_ml=new_concentration,
        reservoir_ml=fraction(pump.model.reservoir_ml),
        first_fill=first_fill,
    )
    priming = _implant_fill(pump, first_fill, performed_at, volume_added_ml, implant_fill, catheter_primed)
    therapy.check_concentration(
        concentration_mcg_per_ml=new_concentration,
        supplied=drug.supplied,
        compounded_confirmed=compounded_confirmed,
    )
    refill = Refill(
        pump=pump,
        performed_at=performed_at,
        performed_by=actor,
        volume_withdrawn_ml=volume_withdrawn_ml,
        volume_added_ml=volume_added_ml,
        drug=drug,
        concentration_mcg_per_ml=concentration_mcg_per_ml,
        compounded_confirmed=compounded_confirmed,
        lot_number=lot_number,
        notes=notes,
        implant_fill=implant_fill,
        priming_volume_ml=priming,
    )
    warnings = []
    if first_fill:
        # DOSE-4 at the start of therapy; IMPLANT-1 for a pump that continues it.
        notices = therapy.check_first_fill_concentration(
            concentration_mcg_per_ml=new_concentration,
            starting_concentration_mcg_per_ml=fraction(drug.starting_concentration_mcg_per_ml),
            patient_concentration_mcg_per_ml=(
                fraction(patient_fill.concentration_mcg_per_ml) if patient_fill else None
            ),
        )
        warnings += [{"code": n.code, "message": n.message} for n in notices]
    else:
        state = selectors.reservoir_state(pump)
        expected = therapy.volume_at(state, performed_at)
        check = therapy.residual_discrepancy(
            expected_residual_ml=expected,
            volume_withdrawn_ml=fraction(volume_withdrawn_ml),
            threshold_ml=fraction(pump.model.discrepancy_threshold_ml),
        )
        refill.expected_residual_ml = check.expected_residual_ml
        refill.discrepancy_ml = check.discrepancy_ml
        refill.discrepancy = check.direction
        warnings += drift.observe(refill, reservoir=state, discrepancy=check.direction)
        bridge = therapy.bridge_bolus(
            old_concentration_mcg_per_ml=fraction(previous.concentration_mcg_per_ml),
            new_concentration_mcg_per_ml=new_concentration,
            prescription=plan,
            pathway_volume_min_ml=fraction(pump.model.pathway_volume_min_ml),
            pathway_volume_max_ml=fraction(pump.model.pathway_volume_max_ml),
            catheter_volume_ml_per_cm=fraction(pump.catheter_model.volume_ml_per_cm),
            catheter_length_cm=fraction(pump.catheter_length_cm),
        )
        if bridge is not None:
            shown = bridge.shown()
            refill.bridge_from_concentration_mcg_per_ml = previous.concentration_mcg_per_ml
            refill.bridge_path_volume_ml = shown["path_volume_ml"]
            refill.bridge_duration_hours = shown["duration_hours"]
            refill.bridge_programmed_dose_mcg = shown["programmed_dose_mcg"]
            refill.bridge_delivered_dose_mcg = shown["delivered_dose_mcg"]
    verdict, notices = _titration(actor, pump, plan, performed_at, override_reason)
    warnings += notices
    save_audited(refill, actor=actor, reason=reason or ("first fill" if first_fill else "refill"))
    row = _save_prescription(
        actor=actor,
        pump=pump,
        plan=plan,
        effective_at=performed_at,
        drug=drug,
        concentration_mcg_per_ml=concentration_mcg_per_ml,
        reason=reason or ("prescription at first fill" if first_fill else "prescription at refill"),
        override_reason=override_reason,
        refill=refill,
        verdict=verdict,
    )
    if not first_fill:
        drift.drift_alert_update(pump, actor=actor)  # DRIFT-1: the trend, on the stored refills
    if assessment is not None:
        assessments.assessment_save(
            actor=actor,
            pump=pump,
            visit_kind=VisitKind.REFILL,
            assessed_at=performed_at,
            signs=assessment,
            notes=assessment.get("notes", ""),
            refill=refill,
        )
    projections_changed([pump], sender=Refill)
    # the refill completes the booked appointment (and ends past-alarm escalations, above)
    refill_recorded.send(sender=Refill, refill=refill, actor=actor, first_fill=first_fill)
    return TherapyChange(refill, row, pump, warnings)


def _implant_fill(
    pump: Pump,
    first_fill: bool,
    performed_at: datetime,
    volume_added_ml,
    implant_fill: bool,
    catheter_primed: bool,
) -> Decimal | None:
    """IMPLANT-1: only a pump's first fill can be its implant fill, made on the implant day;
    a catheter is primed only at the implant fill. Returns the priming volume, if any."""
    if implant_fill and not first_fill:
        raise therapy.CalculationError(
            "implant_fill",
            "only a pump's first fill can be its implant fill: this pump has been filled before",
        )
    if catheter_primed and not implant_fill:
        raise therapy.CalculationError(
            "catheter_primed",
            "a new catheter is primed at the implant fill: mark this fill as the implant fill",
        )
    if not implant_fill:
        return None
    therapy.check_implant_fill(performed_at=performed_at, implanted_on=pump.implanted_on, tz=pump.clinic.tz)
    if not catheter_primed:
        return None
    volume = therapy.priming_volume_ml(
        volume_ml_per_cm=fraction(pump.catheter_model.volume_ml_per_cm),
        length_cm=fraction(pump.catheter_length_cm),
        volume_added_ml=fraction(volume_added_ml),
    )
    return therapy.units.rounded(volume, therapy.units.PATH_VOLUME_ML)


class _PreviewRollback(Exception):
    """Raised inside ``refill_preview`` to roll back what ``refill_record`` wrote."""


def refill_preview(**arguments) -> TherapyChange:
    """What ``refill_record`` would do with these arguments, with nothing written.

    The refill form shows the expected residual and its discrepancy (REFILL-1), the new
    alarm and refill-by dates (LRA-1..4) and the bridge bolus (BRIDGE-1) before the nurse
    saves. Rather than compute them a second way, this runs the real write path — every
    check, role and titration limit included — in a transaction (a savepoint inside an
    outer one) and rolls it back. A refusal propagates exactly as from ``refill_record``.
    The write path has no effect outside the database that a rollback would leave behind:
    its only deferred work would be ``transaction.on_commit`` callbacks, which a rollback
    discards. The returned rows are unsaved (``pk`` None).
    """
    outcome: list[TherapyChange] = []
    try:
        with transaction.atomic():
            change = refill_record(**arguments)
            change.projection  # noqa: B018 - computed from what the rollback takes away
            outcome.append(change)
            raise _PreviewRollback
    except _PreviewRollback:
        pass
    change = outcome[0]
    change.refill.pk = change.refill.id = None
    change.prescription.pk = change.prescription.id = None
    return change


@transaction.atomic
def prescription_create(
    *,
    actor,
    pump: Pump,
    effective_at: datetime,
    prescription: dict,
    reason: str,
    override_reason: str = "",
    empties_reservoir: bool = False,
) -> TherapyChange:
    """A new prescription between refills (DOSE-1..3, TITRATE-1/2). It applies to the drug
    and concentration in the reservoir since the last refill. ``empties_reservoir``: the
    reservoir is emptied when it begins (MRI-1), which only a prescription of nothing can
    say — an empty pump delivers nothing."""
    pump = lock_active_pump(pump)
    require_role(actor, pump.clinic, CLINICAL_WRITERS, "Changing a prescription")
    if not (reason or "").strip():
        raise therapy.CalculationError("reason", "is required: say why the prescription changes")
    refill = selectors.last_refill(pump)
    if refill is None:
        raise therapy.CalculationError(
            "effective_at",
            "the pump has no recorded fill: record the first fill, with its prescription, as a refill",
            code="never_filled",
        )
    plan = therapy.parse_prescription(prescription)
    if empties_reservoir and not therapy.is_zero_daily_dose(plan.daily_dose_mcg_total):
        raise therapy.CalculationError(
            "prescription",
            "an emptied pump delivers nothing: the prescription from the emptying must be 0 mcg a day",
        )
    _check_time(pump, effective_at, "effective_at")
    verdict, warnings = _titration(actor, pump, plan, effective_at, override_reason)
    row = _save_prescription(
        actor=actor,
        pump=pump,
        plan=plan,
        effective_at=effective_at,
        drug=refill.drug,
        concentration_mcg_per_ml=refill.concentration_mcg_per_ml,
        reason=reason,
        override_reason=override_reason,
        refill=None,
        verdict=verdict,
        empties_reservoir=empties_reservoir,
    )
    projections_changed([pump], sender=Prescription)  # a new alarm date may end or start an alert
    return TherapyChange(None, row, pump, warnings)


def lock_active_pump(pump: Pump) -> Pump:
    """Serialise writes to one pump's therapy record, and to its patient's dose history
    (PostgreSQL row locks, always the pump first, then its patient): two pumps of one
    patient share the history that TITRATE-1 reads. Only those rows: the clinic and the
    catalog rows read with the pump are not locked, so refills at one clinic (or of one
    pump model) never wait for each other, nor for a catalog or clinic edit."""
    pump = (
        Pump.objects.select_for_update(of=("self",))
        .select_related("model", "catheter_model", "patient__clinic")
        .get(pk=pump.pk)
    )
    if pump.status != PumpStatus.ACTIVE:
        when = f" on {pump.explanted_on:%a %d %b %Y}" if pump.explanted_on else ""
        raise therapy.CalculationError(
            "pump", f"The pump was explanted{when}: nothing can be recorded on it.", code="explanted"
        )
    Patient.objects.select_for_update().filter(pk=pump.patient_id).values_list("pk").get()
    return pump


def _check_time(pump: Pump, at: datetime, field_name: str) -> None:
    """REFILL-2: not in the future, not before the implant, after every recorded event of
    the pump and of the pump it replaces, whose doses its own are checked against
    (TITRATE-1), so the dose history stays in time order."""
    pumps = [pump.pk, *PumpExplant.objects.filter(replaced_by=pump).values_list("pump_id", flat=True)]
    latest = [
        Refill.objects.filter(pump__in=pumps)
        .order_by("-performed_at")
        .values_list("performed_at", flat=True)
        .first(),
        Prescription.objects.filter(pump__in=pumps)
        .order_by("-effective_at")
        .values_list("effective_at", flat=True)
        .first(),
    ]
    latest = [t for t in latest if t is not None]
    therapy.check_event_time(
        at=at,
        now=clock.now(),
        implanted_on=pump.implanted_on,
        tz=pump.clinic.tz,
        field=field_name,
        not_before=max(latest) if latest else None,
    )


def _refill_drug(
    pump: Pump, previous: Refill | None, requested: Drug | None, patient_fill: Refill | None
) -> Drug:
    """The pump's drug; a drug change at a refill is refused. A pump's first fill takes the
    drug asked for, else the drug of the patient's last fill (``patient_fill``: IMPLANT-1,
    the therapy continues), else the default drug."""
    if previous is not None:
        if requested is not None and requested != previous.drug:
            raise therapy.CalculationError(
                "drug",
                f"the pump holds {previous.drug.name}: changing the drug at a refill is refused "
                "(a drug change needs the pump emptied and the pathway cleared under a physician's plan)",
                code="drug_change_refused",
            )
        return previous.drug
    if requested is not None:
        return requested
    if patient_fill is not None:
        return patient_fill.drug
    return default_drug()


def _titration(
    actor, pump: Pump, plan: therapy.Prescription, effective_at: datetime, override_reason: str
) -> tuple[therapy.TitrationCheck | None, list[dict]]:
    """TITRATE-1 / TITRATE-2 / START-2 against the patient's dose history (every pump of
    theirs): refuse over the limit, a discontinuation, or a first dose above the screening
    trial's starting dose unless a physician overrides with a written reason. Returns the
    verdict that needed the override (None if none did) and the warnings to show."""
    patient = pump.patient
    verdict = therapy.check_new_daily_dose(
        new_daily_dose_mcg=plan.daily_dose_mcg_total,
        effective_at=effective_at,
        history=selectors.patient_dose_history(patient),
        spasticity_origin=patient.spasticity_origin,
        birth_date=patient.birth_date,
        tz=pump.clinic.tz,
        limits=clinical.titration_limits(),
        screening=selectors.screening_outcome(patient),
    )
    warnings = [{"code": w.code, "message": w.message} for w in verdict.warnings]
    if verdict.code is None:
        return None, warnings
    if not (override_reason or "").strip():
        raise therapy.CalculationError(
            "prescription", verdict.message, code=verdict.code, **verdict.details()
        )
    require_role(
        actor, pump.clinic, PRESCRIBERS, "Overriding a titration limit, a starting dose or a discontinuation"
    )
    return verdict, warnings


def _save_prescription(
    *,
    actor,
    pump,
    plan,
    effective_at,
    drug,
    concentration_mcg_per_ml,
    reason,
    override_reason,
    refill,
    verdict,
    empties_reservoir=False,
) -> Prescription:
    offset = effective_at.astimezone(pump.clinic.tz).utcoffset()
    row = Prescription(
        pump=pump,
        effective_at=effective_at,
        drug=drug,
        concentration_mcg_per_ml=concentration_mcg_per_ml,
        mode=plan.mode,
        schedule=plan.as_dict(),
        daily_dose_mcg=therapy.units.rounded(plan.daily_dose_mcg_total, therapy.units.DOSE_MCG),
        clock_utc_offset_minutes=int(offset.total_seconds()) // 60,  # DOSE-3
        prescriber=actor,
        reason=reason,
        override_reason=override_reason if verdict is not None else "",
        refill=refill,
        empties_reservoir=empties_reservoir,
        created_by=actor,
    )
    history_reason = reason if verdict is None else f"{reason} — override ({verdict.code}): {override_reason}"
    # ``refill`` is None, or the refill ``refill_record`` has just saved: no prescription
    # holds it yet, so its one-to-one key is not looked up
    save_audited(row, actor=actor, reason=history_reason, checked=("refill",))
    if verdict is not None and verdict.code == "discontinuation_requires_override":
        alert_raise(
            clinic=pump.clinic,
            pump=pump,
            kind=AlertKind.DISCONTINUATION,
            severity=Severity.CRITICAL,
            message=(
                f"Intrathecal therapy of pump {pump} ({pump.patient}) stopped or reduced to zero from "
                f"{local_time(effective_at, pump.clinic)} by {actor}: {override_reason}. Watch for "
                f"withdrawal ({therapy.titration.WITHDRAWAL_SIGNS}), typically within 1–3 days."
            ),
            actor=actor,
        )
    return row


def local_time(at: datetime, clinic) -> str:
    """An instant as a nurse reads it: the clinic's local date and time, with its zone."""
    return therapy.units.instant_text(at, clinic.tz)
