"""A patient's record as an HL7 FHIR R4 Bundle (type ``collection``), read from the same
rows the API serves: the clinic (Organization), the patient (Patient, caregivers as
contacts), each pump and its catheter (Device), each implant and explant (Procedure), each
prescription (MedicationRequest, intrathecal, one Dosage per programmed piece), each refill
(Procedure, the pump as its focal device), each appointment (Appointment) and, for each
active pump, its projected reservoir volume and low-reservoir alarm time (Observation).

Resource ids are UUIDs derived from this installation's identifier and the row, so the same
record exported twice has the same ids, and two installations never share one. The mapping,
with its code systems, is documented in docs/fhir.md.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from decimal import Decimal

import therapy
from alerts.identity import instance_id
from patients.models import Clinic, Patient, Pump, PumpStatus
from pumpcare import clock
from refills import selectors as refill_selectors
from refills.models import Prescription, Refill
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus

UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PUMPCARE = "urn:pumpcare"

INTRATHECAL_ROUTE = {"system": SNOMED, "code": "72607000", "display": "Intrathecal route"}
# The drug catalog's codes with a standard coding; a drug not listed is sent by name only.
RXNORM_INGREDIENTS = {"baclofen": ("1292", "baclofen")}

APPOINTMENT_STATUS = {
    AppointmentStatus.PROPOSED: "proposed",
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.COMPLETED: "fulfilled",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.NO_SHOW: "noshow",
}


def patient_bundle(patient: Patient) -> dict:
    """The patient's whole record as a FHIR R4 ``collection`` Bundle (JSON-ready)."""
    clinic = patient.clinic
    pumps = list(
        Pump.objects.filter(patient=patient)
        .select_related("model", "catheter_model", "patient__clinic")
        .order_by("pk")
    )
    entries = [_organization(clinic), _patient(patient)]
    for pump in pumps:
        entries += [_pump_device(pump), _catheter_device(pump), _implant(pump)]
        if pump.status == PumpStatus.EXPLANTED:
            entries.append(_explant(pump))
    rows = list(
        Prescription.objects.filter(pump__in=pumps)
        .select_related("drug", "prescriber", "pump")
        .order_by("pump_id", "effective_at")
    )
    for index, row in enumerate(rows):
        following = (
            rows[index + 1] if index + 1 < len(rows) and rows[index + 1].pump_id == row.pump_id else None
        )
        entries.append(_medication_request(row, following))
    for refill in (
        Refill.objects.filter(pump__in=pumps)
        .select_related("drug", "performed_by", "pump")
        .order_by("performed_at")
    ):
        entries.append(_refill(refill))
    for appointment in (
        Appointment.objects.filter(pump__in=pumps).select_related("pump").order_by("day", "time", "pk")
    ):
        entries.append(_appointment(appointment, clinic))
    for pump in pumps:
        if pump.status == PumpStatus.ACTIVE:
            entries += _projection_observations(pump)
    return {
        "resourceType": "Bundle",
        "id": _id("Bundle", patient.pk, clock.now().isoformat()),
        "type": "collection",
        "timestamp": _instant(clock.now()),
        "entry": [{"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource} for resource in entries],
    }


# --- identities and values ---------------------------------------------------------------


def _id(kind: str, *key) -> str:
    return str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"{PUMPCARE}:{instance_id()}/{kind}/" + "/".join(map(str, key)))
    )


def _ref(kind: str, *key) -> dict:
    return {"reference": f"urn:uuid:{_id(kind, *key)}"}


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _number(value) -> float | int:
    """A FHIR decimal: a JSON number (a whole number stays one)."""
    value = Decimal(str(value)).normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def _quantity(value, unit: str, code: str) -> dict:
    return {"value": _number(value), "unit": unit, "system": UCUM, "code": code}


def _mcg(value) -> dict:
    return _quantity(value, "mcg", "ug")


def _per(value, unit: str, code: str, per_unit: str, per_code: str) -> dict:
    return {"numerator": _quantity(value, unit, code), "denominator": _quantity(1, per_unit, per_code)}


def _telecom(phone: str, email: str) -> list[dict]:
    points = []
    if phone:
        points.append({"system": "phone", "value": phone})
    if email:
        points.append({"system": "email", "value": email})
    return points


def _who(user) -> dict | None:
    if user is None:
        return None
    return {"display": user.get_full_name() or user.get_username()}


# --- resources ---------------------------------------------------------------------------


def _organization(clinic: Clinic) -> dict:
    resource = {
        "resourceType": "Organization",
        "id": _id("Organization", clinic.pk),
        "identifier": [{"system": f"{PUMPCARE}:clinic", "value": clinic.code}],
        "name": clinic.name,
        "telecom": [{"system": "phone", "value": clinic.emergency_phone, "use": "work"}],
    }
    if clinic.address:
        resource["address"] = [{"text": clinic.address}]
    return resource


def _patient(patient: Patient) -> dict:
    resource = {
        "resourceType": "Patient",
        "id": _id("Patient", patient.pk),
        "identifier": [
            {
                "use": "usual",
                "type": {"coding": [{"system": V2_IDENTIFIER_TYPE, "code": "MR"}], "text": "MRN"},
                "system": f"{PUMPCARE}:clinic:{patient.clinic.code}:mrn",
                "value": patient.mrn,
            }
        ],
        "name": [{"family": patient.family_name, "given": [patient.given_name]}],
        "birthDate": patient.birth_date.isoformat(),
        "managingOrganization": _ref("Organization", patient.clinic_id),
    }
    if telecom := _telecom(patient.phone, patient.email):
        resource["telecom"] = telecom
    contacts = []
    for caregiver in patient.caregivers.order_by("pk"):
        contact = {"relationship": [{"text": caregiver.relation}], "name": {"text": caregiver.name}}
        if telecom := _telecom(caregiver.phone, caregiver.email):
            contact["telecom"] = telecom
        contacts.append(contact)
    if contacts:
        resource["contact"] = contacts
    return resource


def _pump_device(pump: Pump) -> dict:
    model = pump.model
    properties = []
    if model.reservoir_ml is not None:
        properties.append(
            {
                "type": {"text": "reservoir volume"},
                "valueQuantity": [_quantity(model.reservoir_ml, "mL", "mL")],
            }
        )
    return {
        "resourceType": "Device",
        "id": _id("Device", "pump", pump.pk),
        "identifier": [{"system": f"{PUMPCARE}:device-serial:{model.code}", "value": pump.serial_number}],
        "status": "active" if pump.status == PumpStatus.ACTIVE else "inactive",
        "manufacturer": model.manufacturer,
        "serialNumber": pump.serial_number,
        "deviceName": [{"name": model.name, "type": "model-name"}],
        "modelNumber": model.code,
        "type": {"text": "Implanted intrathecal drug infusion pump"},
        "property": properties,
        "patient": _ref("Patient", pump.patient_id),
        "owner": _ref("Organization", pump.patient.clinic_id),
    }


def _catheter_device(pump: Pump) -> dict:
    catheter = pump.catheter_model
    resource = {
        "resourceType": "Device",
        "id": _id("Device", "catheter", pump.pk),
        "status": "active" if pump.status == PumpStatus.ACTIVE else "inactive",
        "manufacturer": catheter.manufacturer,
        "deviceName": [{"name": catheter.name, "type": "model-name"}],
        "modelNumber": catheter.code,
        "type": {"text": "Intrathecal catheter"},
        "patient": _ref("Patient", pump.patient_id),
        "parent": _ref("Device", "pump", pump.pk),
    }
    if pump.catheter_length_cm is not None:
        resource["property"] = [
            {
                "type": {"text": "implanted length"},
                "valueQuantity": [_quantity(pump.catheter_length_cm, "cm", "cm")],
            }
        ]
    return resource


def _implant(pump: Pump) -> dict:
    return {
        "resourceType": "Procedure",
        "id": _id("Procedure", "implant", pump.pk),
        "status": "completed",
        "code": {"text": "Implantation of an intrathecal drug pump and catheter"},
        "subject": _ref("Patient", pump.patient_id),
        "performedDateTime": pump.implanted_on.isoformat(),
        "focalDevice": [
            {"action": {"text": "implanted"}, "manipulated": _ref("Device", "pump", pump.pk)},
            {"action": {"text": "implanted"}, "manipulated": _ref("Device", "catheter", pump.pk)},
        ],
    }


def _explant(pump: Pump) -> dict:
    resource = {
        "resourceType": "Procedure",
        "id": _id("Procedure", "explant", pump.pk),
        "status": "completed",
        "code": {"text": "Explant of an intrathecal drug pump"},
        "subject": _ref("Patient", pump.patient_id),
        "focalDevice": [{"action": {"text": "explanted"}, "manipulated": _ref("Device", "pump", pump.pk)}],
    }
    if pump.explanted_on is not None:
        resource["performedDateTime"] = pump.explanted_on.isoformat()
    return resource


def _medication(drug, concentration) -> dict:
    concept = {
        "coding": [{"system": f"{PUMPCARE}:drug", "code": drug.code, "display": drug.name}],
        "text": f"{drug.name} {format(Decimal(concentration).normalize(), 'f')} mcg/mL",
    }
    if drug.code in RXNORM_INGREDIENTS:
        code, display = RXNORM_INGREDIENTS[drug.code]
        concept["coding"].insert(0, {"system": RXNORM, "code": code, "display": display})
    return concept


def _medication_request(row: Prescription, following: Prescription | None) -> dict:
    bounds = {"start": _instant(row.effective_at)}
    if following is not None:
        bounds["end"] = _instant(following.effective_at)
    plan = therapy.parse_prescription(row.schedule)
    resource = {
        "resourceType": "MedicationRequest",
        "id": _id("MedicationRequest", row.pk),
        "identifier": [{"system": f"{PUMPCARE}:prescription", "value": str(row.pk)}],
        "status": "completed" if following is not None or row.pump.status != PumpStatus.ACTIVE else "active",
        "intent": "order",
        "medicationCodeableConcept": _medication(row.drug, row.concentration_mcg_per_ml),
        "subject": _ref("Patient", row.pump.patient_id),
        "dosageInstruction": _dosage(plan, bounds),
        "note": [{"text": row.reason}],
    }
    if row.prescriber is not None:
        resource["requester"] = _who(row.prescriber)
    return resource


def _dosage(plan: therapy.Prescription, bounds: dict) -> list[dict]:
    """DOSE-1's programmed modes as FHIR Dosages: one per continuous rate, flex step, bolus
    and patient-activated bolus, each intrathecal, bounded by the prescription's period."""

    def dosage(sequence: int, text: str, *, time_of_day: str | None = None, **fields) -> dict:
        repeat = {"boundsPeriod": bounds}
        if time_of_day is not None:
            repeat["timeOfDay"] = [f"{time_of_day}:00"]
        return {
            "sequence": sequence,
            "text": text,
            "timing": {"repeat": repeat},
            "route": {"coding": [INTRATHECAL_ROUTE]},
            **fields,
        }

    def hhmm(minute: int) -> str:
        return f"{minute // 60:02d}:{minute % 60:02d}"

    def num(value) -> str:
        return format(_dec(value).normalize(), "f")

    out = []
    if plan.mode == "simple_continuous":
        out.append(
            dosage(
                1,
                f"{num(plan.daily_dose_mcg)} mcg a day, continuous",
                doseAndRate=[{"rateRatio": _per(_dec(plan.daily_dose_mcg), "mcg", "ug", "d", "d")}],
            )
        )
    elif plan.mode == "flex":
        for index, step in enumerate(plan.steps, start=1):
            out.append(
                dosage(
                    index,
                    f"from {hhmm(step.start_minute)} (pump clock) {num(step.dose_mcg_per_hour)} mcg an hour",
                    time_of_day=hhmm(step.start_minute),
                    doseAndRate=[{"rateRatio": _per(_dec(step.dose_mcg_per_hour), "mcg", "ug", "h", "h")}],
                )
            )
    else:
        out.append(
            dosage(
                1,
                f"basal {num(plan.basal_daily_dose_mcg)} mcg a day, continuous",
                doseAndRate=[{"rateRatio": _per(_dec(plan.basal_daily_dose_mcg), "mcg", "ug", "d", "d")}],
            )
        )
        for bolus in plan.boluses:
            entry = dosage(
                1,
                f"bolus of {num(bolus.dose_mcg)} mcg at {hhmm(bolus.time_minute)} (pump clock) over {bolus.duration_minutes} minutes",
                time_of_day=hhmm(bolus.time_minute),
                doseAndRate=[{"doseQuantity": _mcg(_dec(bolus.dose_mcg))}],
            )
            entry["timing"]["repeat"].update({"duration": bolus.duration_minutes, "durationUnit": "min"})
            out.append(entry)
    if plan.patient_activated is not None:
        pa = plan.patient_activated
        out.append(
            dosage(
                len(out) + 1,
                f"patient-activated bolus of {num(pa.dose_mcg)} mcg, at most {pa.max_per_day} a day, "
                f"{pa.lockout_minutes} minutes apart",
                asNeededBoolean=True,
                doseAndRate=[{"doseQuantity": _mcg(_dec(pa.dose_mcg))}],
                maxDosePerPeriod=_per(_dec(pa.dose_mcg * pa.max_per_day), "mcg", "ug", "d", "d"),
            )
        )
    return out


def _dec(value) -> Decimal:
    return therapy.units.rounded(value, Decimal("0.001"))


def _refill(refill: Refill) -> dict:
    volumes = (
        f"withdrawn {format(refill.volume_withdrawn_ml, 'f')} mL, added {format(refill.volume_added_ml, 'f')} mL "
        f"of {refill.drug.name} {format(refill.concentration_mcg_per_ml, 'f')} mcg/mL"
    )
    resource = {
        "resourceType": "Procedure",
        "id": _id("Procedure", "refill", refill.pk),
        "identifier": [{"system": f"{PUMPCARE}:refill", "value": str(refill.pk)}],
        "status": "completed",
        "code": {
            "text": "Implant fill of an intrathecal drug pump"
            if refill.implant_fill
            else "Refill of an intrathecal drug pump"
        },
        "subject": _ref("Patient", refill.pump.patient_id),
        "performedDateTime": _instant(refill.performed_at),
        "focalDevice": [
            {"action": {"text": "refilled"}, "manipulated": _ref("Device", "pump", refill.pump_id)}
        ],
        "usedCode": [_medication(refill.drug, refill.concentration_mcg_per_ml)],
        "note": [{"text": volumes}],
    }
    if (who := _who(refill.performed_by)) is not None:
        resource["performer"] = [{"actor": who}]
    return resource


def _appointment(appointment: Appointment, clinic: Clinic) -> dict:
    kind = AppointmentKind(appointment.kind)
    resource = {
        "resourceType": "Appointment",
        "id": _id("Appointment", appointment.pk),
        "identifier": [{"system": f"{PUMPCARE}:appointment", "value": str(appointment.pk)}],
        "status": APPOINTMENT_STATUS[AppointmentStatus(appointment.status)],
        "serviceType": [{"text": kind.label}],
        "description": f"{kind.label} of pump {appointment.pump.serial_number}",
        "participant": [{"actor": _ref("Patient", appointment.pump.patient_id), "status": "accepted"}],
    }
    day = datetime.combine(appointment.day, time(0), tzinfo=clinic.tz)
    whole_day = {"start": day.isoformat(), "end": day.replace(hour=23, minute=59).isoformat()}
    if appointment.time is not None:
        start = datetime.combine(appointment.day, appointment.time, tzinfo=clinic.tz).isoformat()
        resource.update(start=start, end=start)  # pumpcare books a time, not a length
    elif appointment.status in (AppointmentStatus.PROPOSED, AppointmentStatus.CANCELLED):
        resource["requestedPeriod"] = [whole_day]
    else:  # known by its day only: the day, in the clinic's zone
        resource.update(whole_day)
    if appointment.notes:
        resource["comment"] = appointment.notes
    return resource


def _projection_observations(pump: Pump) -> list[dict]:
    """The projection as of now: the reservoir volume (LRA-1) and the low-reservoir alarm
    time, worst case with the nominal one as a component (LRA-2, LRA-3)."""
    projection = refill_selectors.pump_projection(pump)
    if projection["reservoir_volume_ml"] is None:
        return []
    as_of = _instant(projection["as_of"])
    common = {
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "device"}]}],
        "subject": _ref("Patient", pump.patient_id),
        "device": _ref("Device", "pump", pump.pk),
        "effectiveDateTime": as_of,
        "method": {"text": "projected by pumpcare from the last refill and the prescriptions since"},
    }
    volume = {
        "resourceType": "Observation",
        "id": _id("Observation", "reservoir-volume", pump.pk, as_of),
        **common,
        "code": {
            "coding": [
                {
                    "system": f"{PUMPCARE}:observation",
                    "code": "reservoir-volume",
                    "display": "Projected reservoir volume",
                }
            ]
        },
        "valueQuantity": _quantity(projection["reservoir_volume_ml"], "mL", "mL"),
    }
    alarm = {
        "resourceType": "Observation",
        "id": _id("Observation", "low-reservoir-alarm", pump.pk, as_of),
        **common,
        "code": {
            "coding": [
                {
                    "system": f"{PUMPCARE}:observation",
                    "code": "low-reservoir-alarm",
                    "display": "Projected low-reservoir alarm (worst case)",
                }
            ]
        },
    }
    worst, nominal = projection["low_reservoir_alarm_at_worst_case"], projection["low_reservoir_alarm_at"]
    if worst is not None:
        alarm["valueDateTime"] = _instant(worst)
    else:
        alarm["dataAbsentReason"] = {"text": "not projected: the pump delivers nothing"}
    if nominal is not None:
        alarm["component"] = [
            {
                "code": {
                    "coding": [
                        {
                            "system": f"{PUMPCARE}:observation",
                            "code": "low-reservoir-alarm-nominal",
                            "display": "Nominal",
                        }
                    ]
                },
                "valueDateTime": _instant(nominal),
            }
        ]
    return [volume, alarm]
