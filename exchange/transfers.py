"""Transfers: a patient with their pumps moves to another clinic. An admin of the clinic the
patient leaves asks; an admin of the clinic they join accepts, or declines with a reason (a
person who is admin of both — the platform's operator — does it in one step); the asking
clinic may withdraw an open request.

When it is done, everything of the patient is the new clinic's and the old clinic keeps no
access: the patient (with caregivers, pumps and their whole record, which hang on the
patient) moves; the alerts and notifications about the patient's pumps move too, those still
open resolved or cancelled (the new clinic's jobs raise their own on its settings); open
appointments are cancelled with their reminders, for the new clinic to book in its zone and
with its slots; every projection is recomputed in the new clinic's zone and safety margin at
once, and its state alerts raised there.
"""

from __future__ import annotations

from django.db import transaction

import therapy
from alerts.models import Alert, Notification
from alerts.outbox import CANCELLED, PENDING
from alerts.services import alert_resolve
from patients.models import Clinic, Patient, Pump
from patients.permissions import ADMINS, require_role, role_at
from patients.services import save_audited
from pumpcare import clock
from pumpcare.data_version import data_changed
from refills.projections import projections_changed
from scheduling.models import OPEN_STATUSES, Appointment, AppointmentStatus
from scheduling.reminders import appointment_reminders_plan

from .models import Transfer, TransferStatus


def _check_mrn(patient: Patient, clinic: Clinic) -> None:
    if Patient.objects.filter(clinic=clinic, mrn=patient.mrn).exclude(pk=patient.pk).exists():
        raise therapy.CalculationError(
            "to_clinic",
            f"{clinic.name} already has a patient with MRN {patient.mrn}: change the MRN first",
            code="mrn_taken",
        )


@transaction.atomic
def transfer_request(*, actor, patient: Patient, to_clinic: Clinic, reason: str) -> Transfer:
    """Ask to move ``patient`` to ``to_clinic``; done at once when ``actor`` is an admin of
    both clinics."""
    patient = Patient.objects.select_for_update().select_related("clinic").get(pk=patient.pk)
    require_role(actor, patient.clinic, ADMINS, "Transferring a patient")
    reason = (reason or "").strip()
    if not reason:
        raise therapy.CalculationError("reason", "is required: say why the patient moves")
    if to_clinic.pk == patient.clinic_id:
        raise therapy.CalculationError("to_clinic", "is the patient's clinic already", code="same_clinic")
    if Transfer.objects.filter(patient=patient, status=TransferStatus.REQUESTED).exists():
        raise therapy.CalculationError(
            "patient", "a transfer of this patient is already waiting for an answer", code="transfer_open"
        )
    _check_mrn(patient, to_clinic)
    transfer = Transfer(
        patient=patient,
        from_clinic=patient.clinic,
        to_clinic=to_clinic,
        reason=reason,
        requested_by=actor,
        requested_at=clock.now(),
    )
    save_audited(transfer, actor=actor, reason=f"transfer to {to_clinic.code} asked: {reason}")
    if role_at(actor, to_clinic) in ADMINS:
        return transfer_accept(
            actor=actor, transfer=transfer, note="asked and accepted by an admin of both clinics"
        )
    data_changed({to_clinic.pk})
    return transfer


def _open(transfer: Transfer) -> Transfer:
    transfer = (
        Transfer.objects.select_for_update()
        .select_related("patient", "from_clinic", "to_clinic")
        .get(pk=transfer.pk)
    )
    if transfer.status != TransferStatus.REQUESTED:
        raise therapy.CalculationError(
            "transfer", f"this transfer is {transfer.get_status_display().lower()} already", code="not_open"
        )
    return transfer


@transaction.atomic
def transfer_accept(*, actor, transfer: Transfer, note: str = "") -> Transfer:
    """The clinic the patient joins accepts: the patient and their record move (see the
    module's docstring)."""
    transfer = _open(transfer)
    require_role(actor, transfer.to_clinic, ADMINS, "Accepting a transfer")
    patient = Patient.objects.select_for_update().get(pk=transfer.patient_id)
    if patient.clinic_id != transfer.from_clinic_id:
        raise therapy.CalculationError(
            "transfer", "the patient is no longer at the clinic that asked", code="moved"
        )
    old, new = transfer.from_clinic, transfer.to_clinic
    _check_mrn(patient, new)
    pumps = list(Pump.objects.filter(patient=patient))
    why = f"the patient moved to {new.name}"
    for appointment in Appointment.objects.select_for_update().filter(
        pump__in=pumps, status__in=OPEN_STATUSES
    ):
        appointment.status = AppointmentStatus.CANCELLED
        save_audited(appointment, actor=actor, reason=f"cancelled: {why}, which books its own")
        appointment_reminders_plan(appointment)
    for alert in Alert.objects.filter(pump__in=pumps, resolved_at__isnull=True):
        alert_resolve(alert=alert, why=why)
    Notification.objects.filter(pump__in=pumps, status=PENDING).update(status=CANCELLED, status_reason=why)
    # The old clinic keeps nothing about the patient: their alerts and messages move too.
    Alert.objects.filter(pump__in=pumps).update(clinic=new)
    Notification.objects.filter(pump__in=pumps).update(clinic=new)
    patient.clinic = new
    save_audited(patient, actor=actor, reason=f"transferred from {old.code} to {new.code}: {transfer.reason}")
    transfer.status, transfer.decided_by, transfer.decided_at = TransferStatus.DONE, actor, clock.now()
    transfer.decision_note = (note or "").strip()
    save_audited(transfer, actor=actor, reason="transfer accepted")
    projections_changed(pumps, sender=Transfer)
    data_changed({old.pk, new.pk})
    return transfer


@transaction.atomic
def transfer_decline(*, actor, transfer: Transfer, note: str) -> Transfer:
    """The clinic the patient would join declines (a reason), or the asking clinic
    withdraws its request."""
    transfer = _open(transfer)
    note = (note or "").strip()
    if not note:
        raise therapy.CalculationError("note", "is required: say why")
    if role_at(actor, transfer.to_clinic) in ADMINS:
        transfer.status = TransferStatus.DECLINED
    else:
        require_role(actor, transfer.from_clinic, ADMINS, "Withdrawing a transfer")
        transfer.status = TransferStatus.WITHDRAWN
    transfer.decided_by, transfer.decided_at, transfer.decision_note = actor, clock.now(), note
    save_audited(transfer, actor=actor, reason=f"transfer {transfer.status}: {note}")
    data_changed({transfer.from_clinic_id, transfer.to_clinic_id})
    return transfer
