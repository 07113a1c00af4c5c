"""A pump's page: its projection and chart, prescriptions, refills, appointments,
alerts and emergency card."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.views.decorators.http import require_GET

import therapy
from alerts.models import Notification
from cards import selectors as card_selectors
from devices import selectors as device_selectors
from medications import selectors as medication_selectors
from patients.models import PumpStatus
from patients.permissions import CLINICAL_WRITERS, PATIENT_WRITERS, PRESCRIBERS, PUMP_WRITERS, role_at
from pumpcare import clock
from refills import drift, selectors
from refills.models import PumpExplant
from scheduling import worklist
from scheduling.models import OPEN_STATUSES, AppointmentKind

from .. import wording
from ..charts import drift_chart, reservoir_chart
from .common import pump_or_404, render_page


@login_required
@require_GET
def pump_page(request, pump_id):
    pump = pump_or_404(request, pump_id)
    clinic = pump.patient.clinic
    now = clock.now()
    record = selectors.therapy_records([pump.pk])[pump.pk]
    projection = selectors.compute_projection(pump, record, as_of=now)
    state = selectors.reservoir_from(record)
    prescriptions = list(
        pump.prescriptions.select_related("prescriber", "drug", "created_by").order_by("-effective_at")
    )
    appointments = list(pump.appointments.select_related("nurse").order_by("-day", "-pk"))
    card = card_selectors.card_read(pump)
    today = now.astimezone(clinic.tz).date()
    drift_summary = drift.pump_drift(pump)  # DRIFT-1
    last = card_selectors.last_issued(pump)
    card_changed = card_selectors.changed_fields(last.data if last else None, card.data)
    return render_page(
        request,
        "web/pump.html",
        clinic,
        {
            "pump": pump,
            "patient": pump.patient,
            "caregivers": pump.patient.caregivers.all(),
            "risk_flags": medication_selectors.risk_flags(pump.patient),
            "projection": projection,
            "chart": reservoir_chart(pump, state, projection, now),
            "drift": drift_summary,
            "drift_chart": drift_chart(drift_summary.refills, drift_summary.band, clinic.tz),
            "assessments": pump.assessments.select_related("assessed_by").order_by("-assessed_at", "-pk")[
                :20
            ],
            "current": prescriptions[0] if prescriptions else None,
            "prescriptions": prescriptions,
            "refills": pump.refills.select_related("performed_by", "drug").order_by("-performed_at"),
            "history": selectors.pump_history(pump)[:100],
            "appointments": appointments,
            "open_kinds": {a.kind for a in appointments if a.status in OPEN_STATUSES},
            "open_statuses": OPEN_STATUSES,
            "notifications": Notification.objects.filter(pump=pump).order_by("-due_at")[:50],
            # Current alerts first; resolved ones (no longer the pump's state) folded apart.
            "alerts": pump.alerts.filter(resolved_at__isnull=True)
            .select_related("acknowledged_by", "pump__patient__clinic", "pump__projection__stale")
            .order_by("-raised_at")[:50],
            "resolved_alerts": pump.alerts.filter(resolved_at__isnull=False)
            .select_related("acknowledged_by", "pump__patient__clinic", "pump__projection__stale")
            .order_by("-resolved_at")[:50],
            # ALERT-1: an overdue refill is worded so, with its days (empty when in time)
            "overdue_label": therapy.refill_overdue_days(projection["refill_by"], today)
            and worklist.urgency_label("overdue", projection["refill_by"], today),
            "card": card,
            "card_missing": [
                (wording.field_label(name), wording.humane(why, clinic.tz))
                for name, why in card.missing.items()
            ],
            "card_changed": [wording.field_label(name).lower() for name in card_changed],
            "now": now,
            "can_refill": role_at(request.user, clinic) in CLINICAL_WRITERS,
            "can_book": role_at(request.user, clinic) in PATIENT_WRITERS,
            "appointment_kinds": AppointmentKind.choices,
            # the end of the pump's therapy (TITRATE-2, IMPLANT-1): who may do which
            "can_replace": pump.status == PumpStatus.ACTIVE and role_at(request.user, clinic) in PUMP_WRITERS,
            "can_explant": pump.status == PumpStatus.ACTIVE and role_at(request.user, clinic) in PRESCRIBERS,
            # MRI-1 follow-ups still open, and the last interrogation (DEVICE-1)
            "mri_follow_ups": [
                (mri, device_selectors.mri_state(mri, now))
                for mri in device_selectors.open_mris(pump_ids=[pump.pk])
            ],
            "last_interrogation": device_selectors.pump_interrogations(pump).first(),
            "explant": PumpExplant.objects.filter(pump=pump).select_related("replaced_by").first(),
            "replaces": PumpExplant.objects.filter(replaced_by=pump).select_related("pump").first(),
            # IMPLANT-1: the implant fill and whether its monitoring is complete
            "implant_fill": selectors.implant_fill(pump),
            "implant_flag": selectors.implant_monitoring_flags([pump.pk]).get(pump.pk),
        },
    )
