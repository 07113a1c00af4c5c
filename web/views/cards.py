"""The emergency cards as PDFs: a pump's card and a clinic's stale cards on print sheets."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET

import therapy
from cards import responses as card_responses
from cards import services as card_services
from cards.models import CardFormat
from cards.render import CardRenderError
from patients.permissions import clinics_of

from .. import wording
from .common import REFUSALS, pump_or_404, refusal_of

log = logging.getLogger(__name__)
NOT_RENDERED = (
    "could not be made into a PDF (the printing engine failed). Nothing was recorded and the "
    "card is still stale: try again, and tell your administrator if it keeps failing."
)


@login_required
@require_GET
def pump_card(request, pump_id):
    """The pump's wallet card (or, with ``?format=sheet``, caregiver sheet) as the API prints
    it; a refusal comes back to the pump page in words instead of the API's JSON."""
    pump = pump_or_404(request, pump_id)
    card_format = request.GET.get("format") or CardFormat.WALLET
    if card_format not in CardFormat.values:
        raise Http404("unknown card format")
    try:
        with transaction.atomic():  # a card whose answer cannot be built is not issued
            printed = card_services.card_issue(actor=request.user, pump=pump, card_format=card_format)
            return card_responses.pdf_response(
                printed.pdf, card_responses.card_filename(card_format, pump.serial_number)
            )
    except REFUSALS as error:
        messages.error(
            request, f"The card was not printed: {refusal_of(error, pump.patient.clinic)['message']}"
        )
    except CardRenderError:
        log.exception("card of pump %s not rendered", pump.pk)
        messages.error(request, f"The card {NOT_RENDERED}")
    return redirect(reverse("web:pump", args=[pump.pk]) + "#card")


@login_required
@require_GET
def stale_cards(request, code):
    """Every stale wallet card of the clinic on print sheets. With none to print, the nurse
    is told so on the worklist's stale-card list, not shown the API's JSON refusal."""
    clinic = get_object_or_404(clinics_of(request.user), code=code)
    try:
        with transaction.atomic():
            printed = card_services.cards_issue_batch(actor=request.user, clinic=clinic, stale_only=True)
            return card_responses.pdf_response(printed.pdf, card_responses.batch_filename(clinic.code))
    except therapy.CalculationError as error:
        if error.code != "nothing_to_print":
            messages.error(request, f"The cards were not printed: {wording.humane(error.message, clinic.tz)}")
        elif skipped := error.details.get("skipped"):
            messages.warning(
                request,
                f"No stale card can be printed now: {len(skipped)} "
                f"{'card lacks' if len(skipped) == 1 else 'cards lack'} data the card must show. "
                "Open the pumps below to see what is missing.",
            )
        else:
            messages.info(request, "Every emergency card is up to date: there is no stale card to print.")
    except REFUSALS as error:
        messages.error(request, f"The cards were not printed: {refusal_of(error, clinic)['message']}")
    except CardRenderError:
        log.exception("stale cards of clinic %s not rendered", clinic.code)
        messages.error(request, f"The batch of cards {NOT_RENDERED.replace('card is', 'cards are')}")
    return redirect(reverse("web:worklist", args=[clinic.code]) + "?show=stale_cards")
