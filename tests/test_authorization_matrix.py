"""The authorization matrix: every route of the URL configuration ×
GET, POST, PATCH, PUT, DELETE × every kind of user — anonymous, each role of the clinic
that owns the objects (HOME), each role of another clinic (AWAY), and the platform role
that edits the shared catalogs — against one table of who may succeed (``EXPECTED``).

An outside tester found no cross-clinic read or write and no role escalation; this keeps
it so for every endpoint, including the ones added later: a route missing from the table
fails the test ("add it to the matrix").

One request per cell, inside a savepoint rolled back after it, over a seeded world (two
clinics, each with a patient, a filled pump, an appointment, an alert, a notification, a
calendar feed, a caregiver, the patient's physician, a card text of its own). The objects
in the URLs are HOME's. A cell fails when:

- an actor outside the entry succeeds (a 2xx, or a redirect that is neither to the login
  page nor back with an error message: the web app's forms answer a success that way);
- an actor outside the entry leaves a write behind (an INSERT, UPDATE or DELETE that was
  not rolled back inside the request), whatever the status;
- an actor in the entry does not succeed (the table, or the world, is wrong);
- a success of an actor from AWAY, anonymous or the platform role shows HOME's words (its
  name, patient, pump, caregiver, card text, alert, outbox, appointment or feed token): a
  list scoped wrongly answers 200 too.

The Django admin is checked separately: its pages are guarded by Django's own staff and
model permissions, and no actor of the matrix is staff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from types import SimpleNamespace
from urllib.parse import urlencode, urlparse

import pytest
from django.contrib import messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from tests.conftest import NOW, client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]

# --- who --------------------------------------------------------------------------------

ANON = "anonymous"
PLATFORM = "platform"
# A Django superuser without a membership: an operator of the installation, no clinic's
# member (patients.permissions.clinics_of); it holds every permission, the catalogs' too.
OPERATOR = "operator"
ROLES = ("nurse", "physician", "staff", "admin")
HOME_ROLES = tuple(f"home_{role}" for role in ROLES)
AWAY_ROLES = tuple(f"away_{role}" for role in ROLES)
ACTORS = (ANON, *HOME_ROLES, *AWAY_ROLES, PLATFORM, OPERATOR)
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")

EVERYONE = frozenset(ACTORS)
NOBODY = frozenset()
# Any clinic's staff, each seeing its own clinic's data (lists, calculators).
ANY_CLINIC_STAFF = frozenset(HOME_ROLES + AWAY_ROLES)
# The roles of the clinic that owns the object (patients.permissions).
HOME = frozenset(HOME_ROLES)  # reads; PATIENT_WRITERS; card printers
CLINICAL_WRITERS = frozenset({"home_nurse", "home_physician"})
PUMP_WRITERS = frozenset({"home_nurse", "home_physician", "home_admin"})
PRESCRIBERS = frozenset({"home_physician"})
ADMINS = frozenset({"home_admin"})
CATALOG_READERS = ANY_CLINIC_STAFF | {PLATFORM, OPERATOR}
CATALOG_EDITORS = frozenset({PLATFORM, OPERATOR})  # the entries used by both clinics' pumps

# --- what: (route name, method) -> who may succeed -----------------------------------------
# A method a route has no entry for is nobody's. Every route needs at least one entry.

EXPECTED: dict[tuple[str, str], frozenset] = {
    # the API (/api/v1/)
    ("api-root", "GET"): ANY_CLINIC_STAFF,
    ("clinic-list", "GET"): ANY_CLINIC_STAFF,
    ("clinic-detail", "GET"): HOME,
    ("clinic-detail", "PATCH"): ADMINS,
    ("clinic-closures", "GET"): HOME,
    ("clinic-closures", "POST"): ADMINS,
    ("clinic-closure", "DELETE"): ADMINS,
    ("patient-list", "GET"): ANY_CLINIC_STAFF,
    ("patient-list", "POST"): HOME,
    ("patient-detail", "GET"): HOME,
    ("patient-detail", "PATCH"): HOME,
    ("caregiver-list", "GET"): ANY_CLINIC_STAFF,
    ("caregiver-list", "POST"): HOME,
    ("caregiver-detail", "GET"): HOME,
    ("caregiver-detail", "PATCH"): HOME,
    ("pump-list", "GET"): ANY_CLINIC_STAFF,
    ("pump-list", "POST"): PUMP_WRITERS,
    ("pump-detail", "GET"): HOME,
    ("pump-detail", "PATCH"): PUMP_WRITERS,
    ("pump-refills", "GET"): HOME,
    ("pump-refills", "POST"): CLINICAL_WRITERS,
    ("pump-refill-preview", "POST"): CLINICAL_WRITERS,  # every check of a refill, role included
    ("pump-prescriptions", "GET"): HOME,
    ("pump-prescriptions", "POST"): CLINICAL_WRITERS,
    ("pump-projection", "GET"): HOME,
    ("pump-history", "GET"): HOME,
    ("pump-replace", "POST"): PUMP_WRITERS,
    ("pump-explant", "POST"): PRESCRIBERS,
    ("patient-timeline", "GET"): HOME,
    ("patient-fhir", "GET"): HOME,
    ("patient-transfers", "POST"): ADMINS,
    ("transfer-list", "GET"): ANY_CLINIC_STAFF,
    ("transfer-accept", "POST"): ADMINS,  # the world's transfer comes from AWAY to HOME
    ("transfer-decline", "POST"): frozenset({"home_admin", "away_admin"}),  # declined, or withdrawn
    ("web:timeline", "GET"): HOME,
    ("pump-implant-monitoring", "GET"): HOME,
    ("pump-implant-monitoring", "PUT"): CLINICAL_WRITERS,
    ("pump-interrogations", "GET"): HOME,
    ("pump-interrogations", "POST"): CLINICAL_WRITERS,
    ("pump-mris", "GET"): HOME,
    ("pump-mris", "POST"): CLINICAL_WRITERS,
    ("mri-detail", "GET"): HOME,
    ("mri-cancel", "POST"): CLINICAL_WRITERS,
    ("refill-void", "POST"): CLINICAL_WRITERS,
    ("refill-correction", "POST"): CLINICAL_WRITERS,
    ("prescription-void", "POST"): PRESCRIBERS,
    ("prescription-correction", "POST"): PRESCRIBERS,
    ("mri-emptying", "POST"): PRESCRIBERS,  # TITRATE-2: emptying the pump stops the therapy
    ("pump-assessments", "GET"): HOME,
    ("pump-assessments", "POST"): CLINICAL_WRITERS,
    ("delivery-drift", "GET"): HOME,  # ?clinic=HOME
    ("patient-screening-trial", "GET"): HOME,
    ("patient-screening-trial", "POST"): CLINICAL_WRITERS,
    ("patient-oral-medications", "GET"): HOME,
    ("patient-oral-medications", "POST"): CLINICAL_WRITERS,
    ("patient-risk-flags", "GET"): HOME,
    ("oral-medication-stop", "POST"): CLINICAL_WRITERS,
    ("oral-medication-weaning-plan", "POST"): PRESCRIBERS,
    ("weaning-plan-edit", "PUT"): PRESCRIBERS,
    ("weaning-step-done", "POST"): CLINICAL_WRITERS,
    ("oral-drug-list", "GET"): CATALOG_READERS,
    ("oral-drug-detail", "GET"): CATALOG_READERS,
    ("starting-dose", "POST"): ANY_CLINIC_STAFF,  # a calculator: reads and writes nothing
    ("worklist", "GET"): HOME,  # ?clinic=HOME
    ("worklist-titration", "GET"): HOME,  # ?clinic=HOME
    ("worklist-mri", "GET"): HOME,  # ?clinic=HOME
    ("pump-model-list", "GET"): CATALOG_READERS,
    ("pump-model-detail", "GET"): CATALOG_READERS,
    ("pump-model-detail", "PATCH"): CATALOG_EDITORS,
    ("catheter-model-list", "GET"): CATALOG_READERS,
    ("catheter-model-detail", "GET"): CATALOG_READERS,
    ("catheter-model-detail", "PATCH"): CATALOG_EDITORS,
    ("drug-list", "GET"): CATALOG_READERS,
    ("drug-detail", "GET"): CATALOG_READERS,
    ("drug-detail", "PATCH"): CATALOG_EDITORS,
    ("alert-list", "GET"): ANY_CLINIC_STAFF,
    ("alert-detail", "GET"): HOME,
    ("alert-acknowledge", "POST"): HOME,
    ("notification-list", "GET"): ANY_CLINIC_STAFF,
    ("notification-detail", "GET"): HOME,
    ("notification-resend", "POST"): HOME,
    ("appointment-list", "GET"): ANY_CLINIC_STAFF,
    ("appointment-list", "POST"): HOME,
    ("appointment-detail", "GET"): HOME,
    ("appointment-book", "POST"): HOME,
    ("appointment-cancel", "POST"): HOME,
    ("appointment-no-show", "POST"): HOME,
    ("calendar-feed-admin-list", "GET"): ANY_CLINIC_STAFF,
    ("calendar-feed-admin-list", "POST"): HOME,
    ("calendar-feed-admin-detail", "GET"): HOME,
    ("calendar-feed-admin-detail", "PATCH"): ADMINS,  # to the full format; minimal: HOME
    ("calendar-feed-admin-revoke", "POST"): HOME,
    ("emergency-card-pdf", "GET"): HOME,  # printing records the card: any staff role
    ("emergency-card", "GET"): HOME,
    ("clinic-emergency-cards-pdf", "GET"): HOME,
    ("clinic-card-settings", "GET"): HOME,
    ("clinic-card-settings", "PATCH"): ADMINS,
    ("patient-card-physician", "GET"): HOME,
    ("patient-card-physician", "PUT"): HOME,
    ("card-text-list", "GET"): ANY_CLINIC_STAFF,  # the shipped defaults and their own
    ("card-text-list", "POST"): ADMINS,
    ("card-text-detail", "GET"): HOME,
    ("card-text-detail", "PATCH"): ADMINS,
    ("card-text-detail", "DELETE"): ADMINS,
    # the API's documents and the browsable API's login: public pages
    # the orchestrator's probes: anyone may ask, only "up" or "down" is said (pumpcare.health)
    ("health-live", "GET"): EVERYONE,
    ("health-ready", "GET"): EVERYONE,
    ("schema", "GET"): EVERYONE,
    ("api-docs", "GET"): EVERYONE,
    ("api-redoc", "GET"): EVERYONE,
    ("rest_framework:login", "GET"): EVERYONE,
    ("rest_framework:login", "POST"): EVERYONE,  # an empty form answers with its errors
    ("rest_framework:logout", "POST"): EVERYONE,
    # secret links: the token is the key, no login
    ("calendar-feed", "GET"): EVERYONE,
    ("confirm-attendance", "GET"): EVERYONE,
    ("confirm-attendance", "POST"): EVERYONE,
    # the web app
    ("web:home", "GET"): ANY_CLINIC_STAFF,  # to the worklist of their own clinic
    ("web:login", "GET"): EVERYONE,
    ("web:login", "POST"): EVERYONE,  # an empty form answers with its errors
    ("web:logout", "POST"): EVERYONE,
    ("web:switch-clinic", "GET"): HOME,  # ?clinic=HOME
    ("web:worklist", "GET"): HOME,
    ("web:alerts", "GET"): HOME,
    ("web:drift", "GET"): HOME,
    ("web:pump", "GET"): HOME,
    ("web:stale-cards", "GET"): HOME,
    ("web:pump-card", "GET"): HOME,
    ("web:refill", "GET"): HOME,
    ("web:refill", "POST"): CLINICAL_WRITERS,
    ("web:void-entry", "GET"): HOME,
    ("web:transfers", "GET"): HOME,
    ("web:transfers", "POST"): ADMINS,
    ("web:void-entry", "POST"): CLINICAL_WRITERS,
    # The live check writes nothing and answers its panel, with the refusal in words.
    ("web:refill-preview", "POST"): HOME,
    ("web:pump-replace", "GET"): HOME,
    ("web:pump-replace", "POST"): PUMP_WRITERS,
    ("web:pump-explant", "GET"): PRESCRIBERS,
    ("web:pump-explant", "POST"): PRESCRIBERS,
    ("web:implant-monitoring", "GET"): HOME,
    ("web:implant-monitoring", "POST"): CLINICAL_WRITERS,
    ("web:pump-device", "GET"): HOME,
    ("web:pump-device", "POST"): CLINICAL_WRITERS,
    ("web:screening", "GET"): HOME,
    ("web:screening", "POST"): CLINICAL_WRITERS,
    ("web:medications", "GET"): HOME,
    ("web:medications", "POST"): CLINICAL_WRITERS,
    ("web:risk-flags", "POST"): HOME,
    ("web:medication-stop", "POST"): CLINICAL_WRITERS,
    ("web:weaning-plan", "POST"): PRESCRIBERS,
    ("web:weaning-plan-edit", "POST"): PRESCRIBERS,
    ("web:weaning-step-done", "POST"): CLINICAL_WRITERS,
    ("web:appointment-new", "GET"): HOME,
    ("web:appointment-new", "POST"): HOME,
    ("web:appointment-book", "GET"): HOME,
    ("web:appointment-book", "POST"): HOME,
    ("web:appointment-cancel", "GET"): HOME,
    ("web:appointment-cancel", "POST"): HOME,
    ("web:alert-ack", "POST"): HOME,
    ("web:clinic-settings", "GET"): HOME,  # read by the staff, changed by the admin
    ("web:clinic-settings", "POST"): ADMINS,
    ("web:clinic-closure-add", "POST"): ADMINS,
    ("web:clinic-closure-remove", "POST"): ADMINS,
    # the registry spreadsheet: the admin downloads it, a physician imports (the therapy record)
    ("web:registry", "GET"): ADMINS | PRESCRIBERS,
    ("web:registry", "POST"): PRESCRIBERS,
    ("web:registry-download", "GET"): ADMINS | PRESCRIBERS,
    ("web:registry-template", "GET"): ADMINS | PRESCRIBERS,
}

# Where a token in the URL, not a login, grants the read: the holder sees HOME's data.
SECRET_LINKS = {"calendar-feed", "confirm-attendance"}

# Writes that write nothing when they succeed (calculators, previews, logging in or out);
# any other success of a POST, PATCH, PUT or DELETE must have written something.
WRITES_NOTHING = {
    ("starting-dose", "POST"),
    ("pump-refill-preview", "POST"),
    ("web:refill-preview", "POST"),
    ("rest_framework:login", "POST"),
    ("rest_framework:logout", "POST"),
    ("web:login", "POST"),
    ("web:logout", "POST"),
}

# --- the URLs: parameters of each route, from the world ---------------------------------------
# By default a path parameter is named after what it names (``pump_id``: HOME's pump);
# ``PARAMS`` gives the others, and query strings.

BY_NAME = {
    "pump_id": lambda w: w.pump.pk,
    "patient_id": lambda w: w.patient.pk,
    "appointment_id": lambda w: w.appointment.pk,
    "alert_id": lambda w: w.alert.pk,
    "code": lambda w: "HOME",
    "medication_id": lambda w: w.tizanidine.pk,
    "step_id": lambda w: w.step.pk,
    "plan_id": lambda w: w.weaning.pk,
}
PARAMS = {
    "patient-detail": lambda w: ({"pk": w.patient.pk}, {}),
    "patient-timeline": lambda w: ({"pk": w.patient.pk}, {}),
    "patient-fhir": lambda w: ({"patient_id": w.patient.pk}, {}),
    "transfer-accept": lambda w: ({"transfer_id": w.transfer.pk}, {}),
    "transfer-decline": lambda w: ({"transfer_id": w.transfer.pk}, {}),
    "caregiver-detail": lambda w: ({"pk": w.caregiver.pk}, {}),
    "pump-detail": lambda w: ({"pk": w.pump.pk}, {}),
    "alert-detail": lambda w: ({"pk": w.alert.pk}, {}),
    "alert-acknowledge": lambda w: ({"pk": w.alert.pk}, {}),
    "notification-detail": lambda w: ({"pk": w.notification.pk}, {}),
    "notification-resend": lambda w: ({"pk": w.notification.pk}, {}),
    "appointment-detail": lambda w: ({"pk": w.appointment.pk}, {}),
    "appointment-book": lambda w: ({"pk": w.appointment.pk}, {}),
    "appointment-cancel": lambda w: ({"pk": w.appointment.pk}, {}),
    "appointment-no-show": lambda w: ({"pk": w.appointment.pk}, {}),
    "calendar-feed-admin-detail": lambda w: ({"pk": w.feed.pk}, {}),
    "calendar-feed-admin-revoke": lambda w: ({"pk": w.feed.pk}, {}),
    "card-text-detail": lambda w: ({"pk": w.card_text.pk}, {}),
    "mri-detail": lambda w: ({"mri_id": w.mri.pk}, {}),
    "mri-cancel": lambda w: ({"mri_id": w.mri.pk}, {}),
    # a Prometra II is emptied for its MRI (a SynchroMed II is not)
    "mri-emptying": lambda w: ({"mri_id": w.prometra_mri.pk}, {}),
    "refill-void": lambda w: ({"entry_id": w.implant_fill.pk}, {}),
    "refill-correction": lambda w: ({"entry_id": w.implant_fill.pk}, {}),
    "prescription-void": lambda w: ({"entry_id": w.prescription.pk}, {}),
    "prescription-correction": lambda w: ({"entry_id": w.prescription.pk}, {}),
    "pump-model-detail": lambda w: ({"code": "8637-20"}, {}),
    "catheter-model-detail": lambda w: ({"code": "8709SC"}, {}),
    "drug-detail": lambda w: ({"code": "baclofen"}, {}),
    "oral-drug-detail": lambda w: ({"code": "tizanidine"}, {}),
    "calendar-feed": lambda w: ({"token": w.feed.token}, {}),
    "confirm-attendance": lambda w: ({"token": w.confirm_token}, {}),
    # the patient without a pump: a screening trial is before the therapy
    "patient-screening-trial": lambda w: ({"patient_id": w.patient2.pk}, {}),
    "pump-implant-monitoring": lambda w: ({"pump_id": w.implanted_pump.pk}, {}),
    "web:implant-monitoring": lambda w: ({"pump_id": w.implanted_pump.pk}, {}),
    "web:screening": lambda w: ({"patient_id": w.patient2.pk}, {}),
    "worklist": lambda w: ({}, {"clinic": "HOME"}),
    "delivery-drift": lambda w: ({}, {"clinic": "HOME"}),
    "worklist-titration": lambda w: ({}, {"clinic": "HOME"}),
    "worklist-mri": lambda w: ({}, {"clinic": "HOME"}),
    "clinic-closure": lambda w: ({"code": "HOME", "day": "2026-12-24"}, {}),
    "web:clinic-closure-remove": lambda w: ({"code": "HOME", "day": "2026-12-24"}, {}),
    "web:switch-clinic": lambda w: ({}, {"clinic": "HOME"}),
    "web:registry-download": lambda w: ({"code": "HOME", "kind": "csv"}, {}),
    "web:registry-template": lambda w: ({"code": "HOME", "kind": "xlsx"}, {}),
}

# --- the bodies of writes that someone may do (the others get the same, or nothing) -------

REFILL = {
    # the world's fill: 20 mL at 500 mcg/mL, 250 mcg/day (0.5 mL/day) ten days before NOW:
    # 20 - 10 × 0.5 = 15 mL left an hour before NOW
    "performed_at": "2026-11-26T11:00:00Z",
    "volume_withdrawn_ml": "15",
    "volume_added_ml": "20",
    "concentration_mcg_per_ml": "500",
    "prescription": {"mode": "simple_continuous", "daily_dose_mcg": "250"},
}
WEB_REFILL = {
    "performed_at": "2026-11-26T11:00",
    "volume_withdrawn_ml": "15",
    "volume_added_ml": "20",
    "concentration_mcg_per_ml": "500",
    "mode": "simple_continuous",
    "daily_dose_mcg": "250",
}
REPLACE = {
    "explanted_on": "2026-11-26",
    "reason": "end of battery life",
    "model": "8637-40",
    "serial_number": "NEW-0001",
    "catheter_model": "8709SC",
    "catheter_length_cm": "50",
}
EXPLANT = {"explanted_on": "2026-11-26", "reason": "pocket infection", "override_reason": "infected pocket"}
BOLUS = {"dose_mcg": "50", "given_at": "2026-11-26T09:00:00Z", "observed_by": "Dr Vale", "responded": False}
WEB_BOLUS = BOLUS | {"given_at": "2026-11-26T09:00", "responded": "false"}
ORAL = {
    "drug": "dantrolene",
    "dose_mg": "25",
    "times_per_day": 1,
    "started_on": "2026-11-20",
    "prescriber": "Dr Osei",
}
CATALOG = {"source": "checked against labeling", "reason": "matrix"}

REGISTRY_ROW = (
    "mrn,family_name,given_name,birth_date,origin,phone,email,consent,caregiver_name,caregiver_relation,"
    "caregiver_phone,caregiver_email,caregiver_consent,pump_model,pump_serial,implanted_on,catheter_model,"
    "catheter_length_cm,eri_on,last_refill_at,volume_ml,concentration_mcg_per_ml,prescription,next_appointment\n"
    "MATRIX-1,Imported,Ines,1970-01-01,spinal,,,no,,,,,,,,,,,,,,,,\n"
)

BODIES = {
    ("web:registry", "POST"): lambda w: {
        "file": SimpleUploadedFile("pumps.csv", REGISTRY_ROW.encode(), content_type="text/csv")
    },
    ("clinic-detail", "PATCH"): lambda w: {"safety_margin_days": 10, "reason": "policy"},
    ("clinic-closures", "POST"): lambda w: {"date": "2026-12-28", "reason": "training"},
    ("web:clinic-settings", "POST"): lambda w: {
        "refill_slots_per_day": "3",
        "working_days": ["1", "2", "3", "4", "5"],
        "reason": "more nurses",
    },
    ("web:clinic-closure-add", "POST"): lambda w: {"date": "2026-12-28", "reason": "training"},
    ("patient-list", "POST"): lambda w: {
        "clinic": "HOME",
        "mrn": "NEW-1",
        "given_name": "Ann",
        "family_name": "Newcomer",
        "birth_date": "1970-01-01",
        "spasticity_origin": "spinal",
    },
    ("patient-detail", "PATCH"): lambda w: {"phone": "+1 555 0101", "reason": "moved"},
    ("caregiver-list", "POST"): lambda w: {
        "patient": w.patient.pk,
        "name": "Bo Carer",
        "relation": "spouse",
        "email": "bo@example.org",
    },
    ("caregiver-detail", "PATCH"): lambda w: {"phone": "+1 555 0102"},
    ("pump-list", "POST"): lambda w: {
        "patient": w.patient2.pk,
        "model": "8637-20",
        "serial_number": "NEW-0002",
        "implanted_on": "2026-11-20",
        "catheter_model": "8709SC",
        "catheter_length_cm": "50",
    },
    ("pump-detail", "PATCH"): lambda w: {"eri_on": "2030-01-01", "reason": "interrogated"},
    ("pump-refills", "POST"): lambda w: REFILL,
    ("pump-refill-preview", "POST"): lambda w: REFILL,
    ("pump-prescriptions", "POST"): lambda w: {
        "effective_at": "2026-11-26T11:00:00Z",
        "prescription": {"mode": "simple_continuous", "daily_dose_mcg": "260"},
        "reason": "more spasticity",
    },
    ("pump-replace", "POST"): lambda w: REPLACE,
    ("pump-explant", "POST"): lambda w: EXPLANT,
    ("patient-screening-trial", "POST"): lambda w: BOLUS,
    ("pump-implant-monitoring", "PUT"): lambda w: {
        "started_at": "2026-11-20T08:30:00Z",
        "ended_at": "2026-11-20T17:00:00Z",
        "observed_by": "Nurse Kim",
    },
    ("pump-interrogations", "POST"): lambda w: {
        "interrogated_at": "2026-11-26T11:00:00Z",
        "alarms": ["low_reservoir"],
    },
    ("pump-mris", "POST"): lambda w: {"scan_at": "2026-11-30T10:00:00Z"},
    ("mri-cancel", "POST"): lambda w: {"reason": "scan postponed"},
    ("refill-void", "POST"): lambda w: {"reason": "entered on the wrong pump"},
    ("patient-transfers", "POST"): lambda w: {"to_clinic": "AWAY", "reason": "moves house"},
    ("transfer-accept", "POST"): lambda w: {},
    ("transfer-decline", "POST"): lambda w: {"note": "not now"},
    ("refill-correction", "POST"): lambda w: {
        "performed_at": "2026-11-20T08:00:00Z",
        "volume_withdrawn_ml": "0",
        "volume_added_ml": "18",
        "concentration_mcg_per_ml": "500",
        "prescription": {"mode": "simple_continuous", "daily_dose_mcg": "250"},
        "implant_fill": True,
        "correction_reason": "18 mL, not 20",
    },
    ("prescription-void", "POST"): lambda w: {"reason": "entered on the wrong pump"},
    ("prescription-correction", "POST"): lambda w: {
        "effective_at": "2026-11-20T09:00:00Z",
        "prescription": {"mode": "simple_continuous", "daily_dose_mcg": "260"},
        "reason": "titration",
        "correction_reason": "260, not 255",
    },
    ("mri-emptying", "POST"): lambda w: {"emptied_at": "2026-11-26T11:00:00Z", "override_reason": "MRI"},
    ("pump-assessments", "POST"): lambda w: {
        "visit_kind": "titration",
        "assessed_at": "2026-11-26T09:00:00Z",
        "sedation": True,
    },
    ("patient-oral-medications", "POST"): lambda w: ORAL,
    ("oral-medication-stop", "POST"): lambda w: {"stopped_on": "2026-11-26"},
    ("oral-medication-weaning-plan", "POST"): lambda w: {"steps": [{"day": "2026-12-01", "dose_mg": "1"}]},
    ("weaning-plan-edit", "PUT"): lambda w: {
        "steps": [{"id": w.step.pk, "day": "2026-11-27", "dose_mg": "4"}],
        "reason": "slower",
    },
    ("starting-dose", "POST"): lambda w: {"trials": [{"dose_mcg": "50", "responded": True}]},
    ("pump-model-detail", "PATCH"): lambda w: CATALOG,
    ("catheter-model-detail", "PATCH"): lambda w: CATALOG,
    ("drug-detail", "PATCH"): lambda w: CATALOG,
    ("alert-acknowledge", "POST"): lambda w: {"note": "handled by the matrix"},
    ("appointment-list", "POST"): lambda w: {"pump": w.pump.pk, "kind": "titration", "day": "2026-12-03"},
    ("appointment-cancel", "POST"): lambda w: {"reason": "the patient asked"},
    ("calendar-feed-admin-list", "POST"): lambda w: {"clinic": "HOME"},
    ("calendar-feed-admin-detail", "PATCH"): lambda w: {"detail": "full"},
    ("clinic-card-settings", "PATCH"): lambda w: {"default_physician": "Dr. New", "reason": "x"},
    ("patient-card-physician", "PUT"): lambda w: {"name": "Dr. Kim Lee", "phone": "+1 555 0199"},
    ("card-text-list", "POST"): lambda w: {
        "clinic": "HOME",
        "pump_model": "8637-40",
        "drug": "baclofen",
        "withdrawal_warning": "Do not stop abruptly: withdrawal can kill.",
        "mri_note": "Check the pump after an MRI.",
    },
    ("card-text-detail", "PATCH"): lambda w: {"mri_note": "Check the pump after any MRI."},
    ("web:refill", "POST"): lambda w: WEB_REFILL | {"action": "save"},
    ("web:refill-preview", "POST"): lambda w: WEB_REFILL,
    ("web:pump-replace", "POST"): lambda w: REPLACE | {"low_reservoir_alarm_ml": ""},
    ("web:pump-explant", "POST"): lambda w: EXPLANT,
    ("web:void-entry", "POST"): lambda w: {"reason": "entered on the wrong pump"},
    ("web:transfers", "POST"): lambda w: {"action": "accept", "transfer": str(w.transfer.pk)},
    ("web:screening", "POST"): lambda w: WEB_BOLUS,
    ("web:implant-monitoring", "POST"): lambda w: {
        "started_at": "2026-11-20T08:30",
        "ended_at": "2026-11-20T17:00",
        "observed_by": "Nurse Kim",
        "findings": "",
    },
    ("web:pump-device", "POST"): lambda w: {
        "action": "interrogation",
        "interrogated_at": "2026-11-26T11:00",
        "alarms": "low_reservoir",
    },
    ("web:medications", "POST"): lambda w: ORAL,
    ("web:risk-flags", "POST"): lambda w: {"stroke_recovery": "on", "reason": "history taken"},
    ("web:medication-stop", "POST"): lambda w: {"stopped_on": "2026-11-26"},
    ("web:weaning-plan", "POST"): lambda w: {"day_1": "2026-12-01", "dose_1": "1"},
    ("web:weaning-plan-edit", "POST"): lambda w: {
        "id_1": w.step.pk,
        "day_1": "2026-11-27",
        "dose_1": "4",
        "reason": "slower",
    },
    ("web:appointment-new", "POST"): lambda w: {
        "kind": "titration",
        "day": "2026-12-03",
        "time": "",
        "nurse": "",
    },
    ("web:appointment-book", "POST"): lambda w: {"day": "2026-11-26", "time": "", "nurse": ""},
    ("web:appointment-cancel", "POST"): lambda w: {"reason": "the patient asked"},
    ("web:alert-ack", "POST"): lambda w: {"note": "handled by the matrix"},
}

# Each clinic's words, in every kind of record a list shows; HOME's no one else may read
# (``_leaks``; the calendar feed's token too).
WORDS = {
    "HOME": {
        "clinic": "Zyxhome Clinic",
        "family": "Zyxhomefamily",
        "mrn": "HOME-MRN-7731",
        "serial": "HOMESN-4411",
        "carer": "Qwhomecarer",
        "mri_note": "Homeclinic own MRI note",
        "alert": "Homealert words",
        "email": "homedesk@example.org",
        "notes": "Homeappointment notes",
    },
    "AWAY": {
        "clinic": "Away Clinic",
        "family": "Awayfamily",
        "mrn": "AWAY-1",
        "serial": "AWAYSN-1",
        "carer": "Awaycarer",
        "mri_note": "Away note",
        "alert": "Away alert",
        "email": "awaydesk@example.org",
        "notes": "",
    },
}

# --- the routes ---------------------------------------------------------------------------


@dataclass
class Route:
    name: str
    path: str
    kwargs: list[str] = field(default_factory=list)


def url_patterns() -> list[Route]:
    """Every URL pattern but the Django admin's (Django's staff and model permissions guard
    it) and a router's ``.json`` suffix variants (the same view as their route); a pattern
    without a name is listed with ``name`` empty."""
    found: list[Route] = []

    def walk(patterns, namespace, prefix):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                space = ":".join(filter(None, [namespace, entry.namespace])) if entry.namespace else namespace
                if space != "admin":
                    walk(entry.url_patterns, space, prefix + str(entry.pattern))
                continue
            kwargs = list(entry.pattern.regex.groupindex)
            if "format" in kwargs:
                continue
            name = (f"{namespace}:{entry.name}" if namespace else entry.name) if entry.name else ""
            found.append(Route(name, prefix + str(entry.pattern), kwargs))

    walk(get_resolver().url_patterns, "", "")
    return found


def routes() -> list[Route]:
    """The routes the matrix covers: every named pattern, once."""
    found: dict[str, Route] = {}
    for route in url_patterns():
        if route.name:
            found.setdefault(route.name, route)
    return sorted(found.values(), key=lambda route: route.name)


def url_of(route: Route, world) -> str:
    if route.name in PARAMS:
        kwargs, query = PARAMS[route.name](world)
    else:
        missing = [k for k in route.kwargs if k not in BY_NAME]
        assert not missing, f"{route.name}: add its path parameters {missing} to PARAMS"
        kwargs, query = {k: BY_NAME[k](world) for k in route.kwargs}, {}
    url = reverse(route.name, kwargs=kwargs)
    return f"{url}?{urlencode(query)}" if query else url


# --- the world ----------------------------------------------------------------------------


def seed_clinic(code: str):
    """A clinic with its four roles, a patient with a caregiver and the physician printed on
    the card, a pump filled ten days ago, a booked refill today, an open alert, a failed
    notification, a calendar feed, a card text of its own, a closure on 24 December, and a
    second patient without a pump; its records say the clinic's ``WORDS``."""
    from alerts.models import Alert, Notification
    from cards.models import CardSettings, CardText, PatientPhysician
    from devices.models import Mri
    from medications.models import OralDrug, OralMedication, WeaningPlan, WeaningStep
    from patients.models import Caregiver, ClinicClosure, Drug, PumpModel
    from refills.models import Prescription, Refill
    from scheduling.models import Appointment, CalendarFeed
    from tests.factories import ClinicFactory, MembershipFactory, PatientFactory, PumpFactory
    from tests.helpers import fill, simple

    words = WORDS[code]
    clinic = ClinicFactory(code=code, name=words["clinic"], timezone="UTC")
    users = {
        role: MembershipFactory(clinic=clinic, role=role, user__username=f"{code.lower()}_{role}").user
        for role in ROLES
    }
    patient = PatientFactory(
        clinic=clinic,
        mrn=words["mrn"],
        family_name=words["family"],
        birth_date=date(1980, 5, 17),
        email="p@example.org",
    )
    patient2 = PatientFactory(clinic=clinic, birth_date=date(1975, 1, 1))
    pump = PumpFactory(patient=patient, serial_number=words["serial"], implanted_on=date(2026, 1, 2))
    fill(client_for(users["nurse"]), pump, "2026-11-16T12:00:00Z")
    # a third patient's pump implanted on 20 November, its implant fill in the operation
    implanted_pump = PumpFactory(patient=PatientFactory(clinic=clinic), implanted_on=date(2026, 11, 20))
    fill(client_for(users["nurse"]), implanted_pump, "2026-11-20T08:00:00Z", implant_fill=True)
    caregiver = Caregiver.objects.create(
        patient=patient,
        name=words["carer"],
        relation="daughter",
        email="c@example.org",
        communication_consent=True,
    )
    PatientPhysician.objects.create(patient=patient, name="Dr. Ana Rivera", phone="+1 555 0199")
    CardSettings.objects.create(clinic=clinic, default_physician="Dr. Ana Rivera")
    card_text = CardText.objects.create(
        clinic=clinic,
        pump_model=PumpModel.objects.get(code="8637-20"),
        drug=Drug.objects.get(code="baclofen"),
        withdrawal_warning="Do not stop abruptly.",
        mri_note=words["mri_note"],
    )
    appointment = Appointment.objects.create(
        pump=pump,
        kind="refill",
        status="booked",
        day=date(2026, 11, 26),
        time=time(15, 0),
        nurse=users["nurse"],
        notes=words["notes"],
    )
    alert = Alert.objects.create(
        clinic=clinic,
        pump=pump,
        kind=Alert._meta.get_field("kind").choices[0][0],
        severity="critical",
        message=words["alert"],
    )
    notification = Notification.objects.create(
        clinic=clinic,
        kind="refill_unbooked",
        recipient=f"staff:{code}",
        recipient_role="staff",
        subject=f"pump:{pump.pk}",
        pump=pump,
        due_at=NOW,
        email=words["email"],
        status="failed",
    )
    feed = CalendarFeed.objects.create(clinic=clinic, created_by=users["admin"])
    # MRIs (MRI-1) planned for after NOW: a SynchroMed II's, and a filled Prometra II's
    mri = Mri.objects.create(
        pump=pump, scan_at=NOW + timedelta(days=2), follow_up="interrogate_after", planned_by=users["nurse"]
    )
    prometra = PumpFactory(
        patient=PatientFactory(clinic=clinic, birth_date=date(1970, 2, 2)),
        model=PumpModel.objects.get(code="13827"),
        implanted_on=date(2026, 1, 2),
    )
    fill(client_for(users["nurse"]), prometra, "2026-11-16T12:00:00Z")
    # a prescription between refills, the latest entry of the Prometra's record (corrections)
    changed = client_for(users["physician"]).post(
        f"/api/v1/pumps/{prometra.pk}/prescriptions/",
        {"effective_at": "2026-11-20T09:00:00Z", "prescription": simple(255), "reason": "titration"},
        format="json",
    )
    assert changed.status_code == 201, changed.json()
    prometra_mri = Mri.objects.create(
        pump=prometra, scan_at=NOW + timedelta(days=1), follow_up="empty_before", planned_by=users["nurse"]
    )
    # oral baclofen being weaned (a step due today), tizanidine waiting for its turn
    baclofen = OralMedication.objects.create(
        patient=patient,
        drug=OralDrug.objects.get(code="baclofen_oral"),
        dose_mg=10,
        times_per_day=3,
        started_on=date(2026, 11, 1),
        prescriber="Dr Osei",
        recorded_by=users["nurse"],
    )
    tizanidine = OralMedication.objects.create(
        patient=patient,
        drug=OralDrug.objects.get(code="tizanidine"),
        dose_mg=2,
        times_per_day=3,
        started_on=date(2026, 11, 1),
        prescriber="Dr Osei",
        recorded_by=users["nurse"],
    )
    weaning = WeaningPlan.objects.create(medication=baclofen, created_by=users["physician"], created_at=NOW)
    step = WeaningStep.objects.create(plan=weaning, number=1, day=date(2026, 11, 26), dose_mg=5)
    ClinicClosure.objects.create(clinic=clinic, date=date(2026, 12, 24), reason="holiday")
    return SimpleNamespace(
        clinic=clinic,
        users=users,
        patient=patient,
        patient2=patient2,
        pump=pump,
        implanted_pump=implanted_pump,
        caregiver=caregiver,
        card_text=card_text,
        appointment=appointment,
        alert=alert,
        notification=notification,
        feed=feed,
        mri=mri,
        prometra_mri=prometra_mri,
        implant_fill=Refill.objects.get(pump=implanted_pump),
        prescription=Prescription.objects.get(pk=changed.json()["id"]),
        tizanidine=tizanidine,
        step=step,
        weaning=weaning,
    )


@pytest.fixture
def world(platform_admin):
    from exchange.models import Transfer
    from scheduling.confirm import confirmation_token

    home = seed_clinic("HOME")
    away = seed_clinic("AWAY")
    from tests.factories import UserFactory

    operator = UserFactory(username="operator", is_superuser=True, is_staff=True)
    actors = {ANON: None, PLATFORM: platform_admin, OPERATOR: operator}
    actors.update({f"home_{role}": user for role, user in home.users.items()})
    actors.update({f"away_{role}": user for role, user in away.users.items()})
    home.actors = actors
    home.away = away
    home.confirm_token = confirmation_token(home.appointment, "patient")
    home.secrets = (*WORDS["HOME"].values(), home.feed.token)
    # a transfer waiting for HOME's answer: AWAY's second patient moving to HOME
    home.transfer = Transfer.objects.create(
        patient=away.patient2,
        from_clinic=away.clinic,
        to_clinic=home.clinic,
        reason="moves house",
        requested_by=away.users["admin"],
        requested_at=NOW,
    )
    return home


# --- one cell -----------------------------------------------------------------------------

IGNORED_TABLES = ("django_session", "axes_")
WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([\w.]+)"?', re.IGNORECASE)
SAVEPOINT = re.compile(r'^\s*(SAVEPOINT|ROLLBACK TO SAVEPOINT|RELEASE SAVEPOINT)\s+"?(\w+)"?', re.IGNORECASE)


class Writes:
    """The tables a request wrote to and kept: writes undone by a rollback to a savepoint
    (a refused service's ``atomic``, the refill preview) do not count."""

    def __init__(self):
        self.frames: list[tuple[str | None, list[str]]] = [(None, [])]

    def __call__(self, execute, sql, params, many, context):
        if match := SAVEPOINT.match(sql):
            verb, name = match.group(1).upper(), match.group(2)
            if verb == "SAVEPOINT":
                self.frames.append((name, []))
            elif any(frame[0] == name for frame in self.frames):
                kept: list[str] = []
                while True:
                    frame_name, tables = self.frames.pop()
                    kept = tables + kept
                    if frame_name == name:
                        break
                if verb == "RELEASE SAVEPOINT":
                    self.frames[-1][1].extend(kept)
        elif match := WRITE.match(sql):
            table = match.group(1)
            if not table.startswith(IGNORED_TABLES):
                self.frames[-1][1].append(table)
        return execute(sql, params, many, context)

    @property
    def tables(self) -> set[str]:
        return {table for _, tables in self.frames for table in tables}


def succeeded(response) -> bool:
    """A 2xx; or a redirect that neither asks to log in (the login page with ``?next=``; a
    logout goes to the login page without it) nor comes back with an error message and no
    success (the web app answers a saved form with a redirect, and a refused print or
    acknowledgement too; a recorded explant says its critical alert as an error)."""
    if 200 <= response.status_code < 300:
        return True
    if response.status_code not in (301, 302, 303, 307, 308):
        return False
    location = urlparse(response["Location"])
    if location.path in (reverse("web:login"), reverse("admin:login")) and "next=" in location.query:
        return False
    storage = getattr(response.wsgi_request, "_messages", None)
    levels = {message.level for message in getattr(storage, "_queued_messages", [])}
    return messages.SUCCESS in levels or not any(level >= messages.ERROR for level in levels)


def _leaks(response, world) -> list[str]:
    if response.get("Content-Type", "").startswith("application/pdf"):
        return []
    body = response.content.decode(errors="replace")
    return [secret for secret in world.secrets if secret in body]


def _clear_caches():
    from django.core.cache import cache

    from pumpcare import caching
    from scheduling import worklist

    cache.clear()
    caching.local_clear()
    worklist._RESERVOIRS.clear()


def run_cell(world, api_clients, route: Route, method: str, actor: str, url: str):
    user = world.actors[actor]
    is_api = url.startswith("/api/v1/")
    body_of = BODIES.get((route.name, method))
    body = body_of(world) if body_of else None
    with transaction.atomic():
        if is_api:
            client = api_clients[actor]
        else:
            client = Client()
            if user is not None:
                client.force_login(user)
        writes = Writes()
        with connection.execute_wrapper(writes):
            call = getattr(client, method.lower())
            if method == "GET":
                response = call(url)
            elif is_api:
                response = call(url, body or {}, format="json")
            elif method == "POST":
                response = call(url, body or {})
            else:
                response = call(url, urlencode(body or {}), content_type="application/x-www-form-urlencoded")
        transaction.set_rollback(True)
    _clear_caches()
    return response, writes.tables


# --- the tests ----------------------------------------------------------------------------


def test_every_route_is_in_the_matrix():
    patterns = url_patterns()
    unnamed = [route.path for route in patterns if not route.name]
    assert not unnamed, f"name these routes, and add them to the matrix (EXPECTED): {unnamed}"
    paths: dict[str, set[str]] = {}
    for route in patterns:
        paths.setdefault(route.name, set()).add(route.path)
    shared = {name: sorted(p) for name, p in paths.items() if len(p) > 1}
    assert not shared, f"one name per route, so the matrix reaches each of them: {shared}"
    names = {route.name for route in routes()}
    listed = {name for name, _ in EXPECTED}
    assert not names - listed, f"add these routes to the matrix (EXPECTED): {sorted(names - listed)}"
    assert not listed - names, f"the matrix names routes that no longer exist: {sorted(listed - names)}"
    assert {method for _, method in EXPECTED} <= set(METHODS)
    assert all(who <= EVERYONE for who in EXPECTED.values())


def test_the_authorization_matrix(world, capsys):
    api_clients = {actor: client_for(user) for actor, user in world.actors.items()}
    problems: list[str] = []
    cells = 0
    for route in routes():
        url = url_of(route, world)
        for method in METHODS:
            allowed = EXPECTED.get((route.name, method), NOBODY)
            for actor in ACTORS:
                response, written = run_cell(world, api_clients, route, method, actor, url)
                cells += 1
                ok = succeeded(response)
                where = f"{method} {url} ({route.name}) as {actor}: {response.status_code}"
                if actor in allowed and not ok:
                    problems.append(f"expected success failed: {where} {response.content[:300]!r}")
                elif ok and method != "GET" and not written and (route.name, method) not in WRITES_NOTHING:
                    problems.append(f"success that wrote nothing: {where}")
                elif actor not in allowed and ok:
                    problems.append(f"UNEXPECTED SUCCESS: {where}")
                if actor not in allowed and written:
                    problems.append(f"REFUSED BUT WROTE {sorted(written)}: {where}")
                if ok and not actor.startswith("home_") and route.name not in SECRET_LINKS:
                    if leaked := _leaks(response, world):
                        problems.append(f"LEAK of HOME's {leaked}: {where}")
    with capsys.disabled():
        print(
            f"\nauthorization matrix: {cells} cells checked ({len(routes())} routes × {len(METHODS)} methods × {len(ACTORS)} actors)"
        )
    assert not problems, f"{len(problems)} of {cells} cells wrong:\n" + "\n".join(problems)


def test_the_django_admin_is_the_operators_only(world):
    """The admin is Django's: staff status and model permissions. No clinic role and not
    the platform role (not staff) reaches it, anonymous is asked to log in; the operator
    (a superuser) opens it."""
    urls = ("/admin/", "/admin/patients/patient/", f"/admin/patients/patient/{world.patient.pk}/change/")
    for actor, user in world.actors.items():
        client = Client()
        if user is not None:
            client.force_login(user)
        for url in urls:
            response = client.get(url)
            if actor == OPERATOR:
                assert response.status_code == 200, (actor, url, response.status_code)
                continue
            assert response.status_code == 302, (actor, url, response.status_code)
            location = urlparse(response["Location"])
            assert location.path == reverse("admin:login") and "next=" in location.query, (actor, url)


def test_a_write_undone_by_a_rollback_is_not_counted(clinic):
    """``Writes`` keeps what a request leaves behind: a refused service's ``atomic`` (or the
    refill preview) writes and rolls back to its savepoint, which is no write."""
    from patients.models import Clinic

    writes = Writes()
    with transaction.atomic(), connection.execute_wrapper(writes):
        try:
            with transaction.atomic():
                Clinic.objects.filter(pk=clinic.pk).update(name="undone")
                raise RuntimeError
        except RuntimeError:
            pass
        assert writes.tables == set()
        with transaction.atomic():
            Clinic.objects.filter(pk=clinic.pk).update(name="kept")
        assert writes.tables == {"patients_clinic"}
        transaction.set_rollback(True)
