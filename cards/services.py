"""Writes for emergency cards: issuing (printing) cards, and what cards say (texts, the
clinic's card settings, the patient's physician). One transaction each: a refused or failed
print records nothing, and a recorded card is exactly the one returned. A view that sends
the PDF calls ``card_issue`` / ``cards_issue_batch`` and builds its answer
(``cards.responses.pdf_response``) inside one ``transaction.atomic()`` of its own, so a card
whose answer cannot be built is not recorded either (REFILL-4: it stays stale)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction

import therapy
from patients.models import Clinic, Drug, Patient, Pump, PumpModel
from patients.permissions import require_role
from patients.services import apply_changes, save_audited
from pumpcare import clock

from . import render, selectors
from .models import CardFormat, CardSettings, CardText, IssuedCard, PatientPhysician
from .permissions import CARD_EDITORS, CARD_PRINTERS, PHYSICIAN_EDITORS


@dataclass
class Printed:
    pdf: bytes
    cards: list[IssuedCard]
    was_stale: bool = False
    skipped: dict[int, dict[str, str]] | None = None


def _refuse_missing(read: selectors.CardRead) -> None:
    """CARD-1: never print an incomplete card; name every missing field."""
    if not read.missing:
        return
    field, message = next(iter(read.missing.items()))
    others = [f"{f}: {m}" for f, m in list(read.missing.items())[1:]]
    raise therapy.CalculationError(
        field,
        "; ".join([message, *others]),
        code="card_data_missing",
        pump=read.pump.pk,
        missing=read.missing,
    )


def _record(read: selectors.CardRead, *, actor, card_format: str, now, batch=None) -> IssuedCard:
    card = IssuedCard(
        pump=read.pump,
        format=card_format,
        issued_at=now,
        issued_by=actor,
        data=read.data,
        digest=read.digest,
        batch=batch,
    )
    save_audited(card, actor=actor, reason=f"{card.get_format_display()} printed")
    return card


@transaction.atomic
def card_issue(*, actor, pump: Pump, card_format: str = CardFormat.WALLET) -> Printed:
    """Print the pump's wallet card (two ID-1 pages) or caregiver sheet, and record it.
    Issuing a wallet card clears the pump's stale flag (REFILL-4); a caregiver sheet is
    recorded too but leaves the flag: the card the patient carries is still the old one."""
    clinic = pump.patient.clinic
    require_role(actor, clinic, CARD_PRINTERS, "Printing an emergency card")
    read = selectors.card_read(pump)
    _refuse_missing(read)
    now = clock.now()
    settings = selectors.card_settings(clinic)
    face = render.face(read.data, issued_at=now, tz=clinic.tz, date_format=settings.date_format)
    if card_format == CardFormat.SHEET:
        pdf = render.sheet_pdf(face, settings.paper_size)
    else:
        pdf = render.wallet_pdf([face])
    card = _record(read, actor=actor, card_format=card_format, now=now)
    return Printed(pdf=pdf, cards=[card], was_stale=read.stale)


@transaction.atomic
def cards_issue_batch(*, actor, clinic: Clinic, stale_only: bool = True) -> Printed:
    """Every stale wallet card of the clinic (or every active pump's with ``stale_only``
    False) imposed on print sheets, each recorded. Pumps whose card cannot be printed yet
    (data missing, for example never filled) are left out and reported in ``skipped``;
    when nothing is left to print the request is refused."""
    require_role(actor, clinic, CARD_PRINTERS, "Printing emergency cards")
    reads = selectors.stale_cards(clinic) if stale_only else selectors.clinic_cards(clinic)
    printable = [r for r in reads if not r.missing]
    skipped = {r.pump.pk: r.missing for r in reads if r.missing}
    if not printable:
        which = "stale card" if stale_only else "active pump"
        detail = f"; {len(skipped)} cannot be printed yet (data missing)" if skipped else ""
        raise therapy.CalculationError(
            "stale" if stale_only else "clinic",
            f"no {which} of clinic {clinic.code} to print{detail}",
            code="nothing_to_print",
            skipped=skipped,
        )
    now = clock.now()
    settings = selectors.card_settings(clinic)
    faces = [
        render.face(r.data, issued_at=now, tz=clinic.tz, date_format=settings.date_format) for r in printable
    ]
    pdf = render.batch_pdf(faces, settings.paper_size)
    batch = uuid.uuid4()
    cards = [_record(r, actor=actor, card_format=CardFormat.WALLET, now=now, batch=batch) for r in printable]
    return Printed(pdf=pdf, cards=cards, skipped=skipped)


# --- what cards say ---------------------------------------------------------------------


@transaction.atomic
def card_settings_update(*, actor, clinic: Clinic, changes: dict, reason: str) -> CardSettings:
    require_role(actor, clinic, CARD_EDITORS, "Changing the clinic's card settings")
    settings = CardSettings.objects.select_for_update().filter(clinic=clinic).first() or CardSettings(
        clinic=clinic
    )
    apply_changes(settings, changes, actor=actor, reason=reason)
    return settings


@transaction.atomic
def card_text_create(
    *,
    actor,
    clinic: Clinic,
    pump_model: PumpModel,
    drug: Drug,
    withdrawal_warning: str,
    mri_note: str,
    source: str = "",
    reason: str = "",
) -> CardText:
    """The clinic's own text for one pump model and drug, replacing the default on its cards."""
    require_role(actor, clinic, CARD_EDITORS, "Changing the emergency card texts")
    if CardText.objects.filter(clinic=clinic, pump_model=pump_model, drug=drug).exists():
        raise therapy.CalculationError(
            "pump_model",
            f"clinic {clinic.code} already has a text for {pump_model.code} and {drug.code}: change it instead",
            code="card_text_exists",
        )
    text = CardText(
        clinic=clinic,
        pump_model=pump_model,
        drug=drug,
        withdrawal_warning=withdrawal_warning,
        mri_note=mri_note,
        source=source,
    )
    _check_text(text)
    save_audited(text, actor=actor, reason=reason or "card text added")
    return text


@transaction.atomic
def card_text_update(*, actor, text: CardText, changes: dict, reason: str) -> CardText:
    if text.clinic is None:
        raise therapy.CalculationError(
            "clinic",
            "this is the shipped default text, shared by every clinic: add your clinic's own text "
            "(POST /api/v1/card-texts/) instead",
            code="default_card_text",
        )
    require_role(actor, text.clinic, CARD_EDITORS, "Changing the emergency card texts")
    for field, value in changes.items():
        setattr(text, field, value)
    _check_text(text)
    save_audited(text, actor=actor, reason=reason or "card text changed")
    return text


@transaction.atomic
def card_text_delete(*, actor, text: CardText, reason: str) -> None:
    """Back to the default text for that pump model and drug."""
    if text.clinic is None:
        raise therapy.CalculationError(
            "clinic", "the shipped default text cannot be deleted", code="default_card_text"
        )
    require_role(actor, text.clinic, CARD_EDITORS, "Changing the emergency card texts")
    text._history_user = actor
    text._change_reason = reason or "clinic text removed: back to the default"
    text.delete()


def _check_text(text: CardText) -> None:
    for field in ("withdrawal_warning", "mri_note"):
        if not (getattr(text, field) or "").strip():
            raise therapy.CalculationError(field, "is required: a card never goes out without it")


@transaction.atomic
def patient_physician_set(
    *, actor, patient: Patient, name: str, phone: str = "", reason: str = ""
) -> PatientPhysician:
    require_role(actor, patient.clinic, PHYSICIAN_EDITORS, "Changing the patient's physician")
    if not name.strip():
        raise therapy.CalculationError("name", "is required: the physician's name as printed on the card")
    physician = PatientPhysician.objects.select_for_update().filter(
        patient=patient
    ).first() or PatientPhysician(patient=patient)
    physician.name, physician.phone = name.strip(), phone.strip()
    save_audited(physician, actor=actor, reason=reason or "physician set")
    return physician
