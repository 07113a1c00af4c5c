"""A clinic's transfers (``exchange.transfers``): its admin asks to move a patient to another
clinic, and answers the transfers asked of it — accepts or declines them — or withdraws its
own. Any of the clinic's staff reads the list; the services check the admin role."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from exchange import transfers
from exchange.models import Transfer, TransferStatus
from patients.models import Clinic, Patient, Role
from patients.permissions import role_at

from .clinic import _clinic_or_404, _refused
from .common import REFUSALS, render_page


def _page(clinic) -> str:
    return reverse("web:transfers", args=[clinic.code])


@login_required
@require_http_methods(["GET", "POST"])
def transfers_page(request, code):
    clinic = _clinic_or_404(request, code)
    if request.method == "POST":
        _act(request, clinic)
        return redirect(_page(clinic))
    rows = (
        Transfer.objects.filter(Q(from_clinic=clinic) | Q(to_clinic=clinic))
        .select_related("patient", "from_clinic", "to_clinic", "requested_by", "decided_by")
        .order_by("-requested_at", "-pk")[:100]
    )
    return render_page(
        request,
        "web/transfers.html",
        clinic,
        {
            "nav": "transfers",
            "is_admin": role_at(request.user, clinic) == Role.ADMIN,
            "transfers": rows,
            "requested": TransferStatus.REQUESTED,
            "other_clinics": Clinic.objects.exclude(pk=clinic.pk).order_by("name"),
            "values": {},
        },
    )


def _act(request, clinic) -> None:
    action = request.POST.get("action", "")
    note = request.POST.get("note", "").strip()
    try:
        if action == "ask":
            _ask(request, clinic)
            return
        transfer = Transfer.objects.filter(Q(from_clinic=clinic) | Q(to_clinic=clinic)).get(
            pk=int(request.POST.get("transfer") or 0)
        )
        if action == "accept":
            transfers.transfer_accept(actor=request.user, transfer=transfer, note=note)
            messages.success(
                request,
                f"{transfer.patient.family_name}, {transfer.patient.given_name} is now a patient of "
                f"{transfer.to_clinic.name}: book their next refill.",
            )
        elif action == "decline":
            done = transfers.transfer_decline(actor=request.user, transfer=transfer, note=note)
            messages.success(request, f"Transfer {done.get_status_display().lower()}.")
        else:
            messages.error(request, "Nothing was done: choose accept, decline or withdraw.")
    except (Transfer.DoesNotExist, ValueError):
        messages.error(request, "Nothing was done: that transfer is not one of this clinic's.")
    except REFUSALS as error:
        _refused(request, clinic, "Nothing was done", error)


def _ask(request, clinic) -> None:
    mrn = request.POST.get("mrn", "").strip()
    patient = Patient.objects.filter(clinic=clinic, mrn=mrn).first()
    if patient is None:
        messages.error(request, f"The transfer was not asked: no patient of {clinic.name} has MRN “{mrn}”.")
        return
    to_clinic = Clinic.objects.exclude(pk=clinic.pk).filter(code=request.POST.get("to_clinic", "")).first()
    if to_clinic is None:
        messages.error(request, "The transfer was not asked: choose the clinic the patient joins.")
        return
    transfer = transfers.transfer_request(
        actor=request.user, patient=patient, to_clinic=to_clinic, reason=request.POST.get("reason", "")
    )
    if transfer.status == TransferStatus.DONE:
        messages.success(request, f"{patient.family_name}, {patient.given_name} moved to {to_clinic.name}.")
    else:
        messages.success(
            request,
            f"Transfer of {patient.family_name}, {patient.given_name} to {to_clinic.name} asked: an admin "
            "of that clinic accepts or declines it.",
        )
