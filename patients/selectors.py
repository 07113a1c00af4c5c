"""Reads of the patients app: what the calculation core answers from a pump's own record, and
the catalog's default drug."""

from __future__ import annotations

from django.conf import settings

import therapy
from pumpcare import clinical
from pumpcare.memo import TransactionMemo

from .models import Drug, Pump


def replacement_plan(pump: Pump) -> therapy.ReplacementPlan:
    """ERI-1 / ERI-2 for the pump; refuses (``eri_unknown``) when neither an interrogated ERI
    date nor the model's service life is known."""
    return therapy.replacement_plan(
        implanted_on=pump.implanted_on,
        eri_on=pump.eri_on,
        service_life_months=pump.model.service_life_months,
        **clinical.replacement_parameters(),
    )


def replacement(pump: Pump) -> tuple[therapy.ReplacementPlan | None, list[therapy.Notice]]:
    """ERI-1 / ERI-2 for the pump, or a notice saying what is missing."""
    try:
        plan = replacement_plan(pump)
    except therapy.CalculationError as error:
        return None, [therapy.Notice(error.code, error.message)]
    return plan, []


# The default drug read inside ``catalog_remembered``, by catalog code.
_catalog = TransactionMemo("catalog_remembered")


def catalog_remembered():
    """Many first fills in one transaction (a registry import): the catalog's default drug
    is read from the database once in the block. The block must run inside the writers'
    transaction and ends inside it, so the row read never outlives it; a drug saved or
    deleted in the block forgets it. Nesting joins the outer block."""
    return _catalog.block()


def catalog_changed(sender, **kwargs) -> None:
    """A drug saved or deleted: the default drug remembered in the block is read again."""
    _catalog.forget()


def default_drug() -> Drug:
    """The drug of a first fill that names none and continues no therapy: the catalog's
    ``PUMPCARE_DEFAULT_DRUG`` (``Drug.DoesNotExist`` when the catalog lacks it)."""
    remembered = _catalog.answers()
    code = settings.PUMPCARE_DEFAULT_DRUG
    if remembered is not None and code in remembered:
        return remembered[code]
    drug = Drug.objects.get(code=code)
    if remembered is not None:
        remembered[code] = drug
    return drug
