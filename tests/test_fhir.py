"""A patient's record as an HL7 FHIR R4 Bundle (GET /api/v1/patients/{id}/fhir/): every
resource validated with fhir.resources (R4B, FHIR 4.3, which keeps R4's shape for these
resources), every reference resolved inside the Bundle, the values read back from the rows
they come from, and the clinic's scope."""

from __future__ import annotations

from datetime import date, time

import pytest
from fhir.resources.R4B.bundle import Bundle

from patients.models import Caregiver, PumpModel
from scheduling.models import Appointment
from tests.conftest import client_for
from tests.factories import PumpFactory
from tests.helpers import fill

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_now")]

FLEX = {
    "mode": "flex",
    "steps": [
        {"start": "00:00", "dose_mcg_per_hour": "10"},
        {"start": "08:00", "dose_mcg_per_hour": "10.625"},
    ],
}
PERIODIC = {
    "mode": "periodic_bolus",
    "basal_daily_dose_mcg": "130",
    "boluses": [{"time": "12:00", "dose_mcg": "120", "duration_minutes": 60}],
    "patient_activated_bolus": {"dose_mcg": "10", "max_per_day": 2, "lockout_minutes": 180},
}


def prescribe(api, pump, at, prescription):
    response = api.post(
        f"/api/v1/pumps/{pump.pk}/prescriptions/",
        {"effective_at": at, "prescription": prescription, "reason": "titration visit"},
        format="json",
    )
    assert response.status_code == 201, response.json()


@pytest.fixture
def record(api, patient, pump):
    """The patient's pump filled on 16 Nov (250 mcg/day), then flex from 20 Nov, then a
    periodic bolus with a patient-activated bolus from 24 Nov; a caregiver; a booked refill
    and a cancelled one; and an explanted earlier pump."""
    Caregiver.objects.create(patient=patient, name="Sam Hart", relation="brother", phone="+1 555 0142")
    fill(api, pump, "2026-11-16T12:00:00Z")
    prescribe(api, pump, "2026-11-20T09:00:00Z", FLEX)
    prescribe(api, pump, "2026-11-24T09:00:00Z", PERIODIC)
    Appointment.objects.create(
        pump=pump, kind="refill", status="booked", day=date(2026, 12, 1), time=time(10, 30)
    )
    Appointment.objects.create(pump=pump, kind="refill", status="cancelled", day=date(2026, 12, 2))
    PumpFactory(
        patient=patient,
        model=PumpModel.objects.get(code="13827"),
        serial_number="OLD-1",
        status="explanted",
        explanted_on=date(2026, 1, 2),
    )
    return patient


def bundle_of(api, patient):
    response = api.get(f"/api/v1/patients/{patient.pk}/fhir/")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def of_type(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_the_bundle_is_valid_fhir_and_every_reference_resolves(api, record):
    body = bundle_of(api, record)
    Bundle.model_validate(body)  # raises on any resource that is not valid FHIR
    urls = {entry["fullUrl"] for entry in body["entry"]}
    assert len(urls) == len(body["entry"])

    def references(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "reference":
                    yield item
                else:
                    yield from references(item)
        elif isinstance(value, list):
            for item in value:
                yield from references(item)

    found = list(references(body))
    assert found and set(found) <= urls
    counts = {}
    for entry in body["entry"]:
        counts[entry["resource"]["resourceType"]] = counts.get(entry["resource"]["resourceType"], 0) + 1
    # 2 pumps x (pump, catheter); implants 2, explant 1, refill 1; 3 prescriptions;
    # 2 appointments; 2 observations of the active pump
    assert counts == {
        "Organization": 1,
        "Patient": 1,
        "Device": 4,
        "Procedure": 4,
        "MedicationRequest": 3,
        "Appointment": 2,
        "Observation": 2,
    }


def test_the_same_record_exported_twice_has_the_same_ids(api, record):
    first, second = bundle_of(api, record), bundle_of(api, record)
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]


def test_patient_and_caregiver(api, record):
    patient = of_type(bundle_of(api, record), "Patient")[0]
    assert patient["identifier"][0]["value"] == record.mrn
    assert patient["identifier"][0]["type"]["coding"][0]["code"] == "MR"
    assert patient["name"] == [{"family": record.family_name, "given": [record.given_name]}]
    assert patient["birthDate"] == "1980-05-17"
    assert patient["contact"] == [
        {
            "relationship": [{"text": "brother"}],
            "name": {"text": "Sam Hart"},
            "telecom": [{"system": "phone", "value": "+1 555 0142"}],
        }
    ]


def test_pumps_and_catheters_as_devices(api, record, pump):
    devices = of_type(bundle_of(api, record), "Device")
    active = next(d for d in devices if d.get("serialNumber") == pump.serial_number)
    assert (active["status"], active["modelNumber"], active["manufacturer"]) == (
        "active",
        "8637-20",
        "Medtronic",
    )
    assert active["property"][0]["valueQuantity"] == [
        {"value": 20, "unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"}
    ]
    old = next(d for d in devices if d.get("serialNumber") == "OLD-1")
    assert old["status"] == "inactive"
    catheter = next(d for d in devices if d.get("parent", {}).get("reference") == f"urn:uuid:{active['id']}")
    assert catheter["modelNumber"] == "8709SC"
    assert catheter["property"][0]["valueQuantity"][0]["value"] == 50


def test_prescriptions_as_intrathecal_medication_requests_dose_1(api, record):
    requests = of_type(bundle_of(api, record), "MedicationRequest")
    assert [r["status"] for r in requests] == ["completed", "completed", "active"]
    simple, flex, periodic = requests
    medication = simple["medicationCodeableConcept"]
    assert medication["coding"][0] == {
        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
        "code": "1292",
        "display": "baclofen",
    }
    assert medication["text"].endswith("500 mcg/mL")
    dose = simple["dosageInstruction"][0]
    assert dose["route"]["coding"][0]["code"] == "72607000"
    assert dose["doseAndRate"][0]["rateRatio"]["numerator"]["value"] == 250
    assert dose["doseAndRate"][0]["rateRatio"]["denominator"]["code"] == "d"
    assert dose["timing"]["repeat"]["boundsPeriod"] == {
        "start": "2026-11-16T12:00:00Z",
        "end": "2026-11-20T09:00:00Z",
    }
    # flex: one dosage per step, its pump-clock start and its hourly rate
    assert [
        (d["timing"]["repeat"]["timeOfDay"], d["doseAndRate"][0]["rateRatio"]["numerator"]["value"])
        for d in flex["dosageInstruction"]
    ] == [
        (["00:00:00"], 10),
        (["08:00:00"], 10.625),
    ]
    # periodic bolus: the basal rate, the bolus, and the patient-activated bolus with its
    # maximum a day (2 x 10 mcg)
    basal, bolus, activated = periodic["dosageInstruction"]
    assert basal["doseAndRate"][0]["rateRatio"]["numerator"]["value"] == 130
    assert bolus["doseAndRate"][0]["doseQuantity"]["value"] == 120
    assert (bolus["timing"]["repeat"]["duration"], bolus["timing"]["repeat"]["durationUnit"]) == (60, "min")
    assert activated["asNeededBoolean"] is True
    assert activated["maxDosePerPeriod"]["numerator"]["value"] == 20
    assert "end" not in periodic["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]


def test_refills_procedures_appointments_and_the_projection(api, record):
    body = bundle_of(api, record)
    refill = next(p for p in of_type(body, "Procedure") if p["code"]["text"].startswith("Refill"))
    assert refill["performedDateTime"] == "2026-11-16T12:00:00Z"
    assert refill["note"][0]["text"].startswith("withdrawn 0.00 mL, added 20.00 mL")
    booked, cancelled = of_type(body, "Appointment")
    assert (booked["status"], booked["start"]) == ("booked", "2026-12-01T10:30:00+00:00")
    assert cancelled["status"] == "cancelled" and "start" not in cancelled
    assert cancelled["requestedPeriod"][0]["start"] == "2026-12-02T00:00:00+00:00"
    volume, alarm = of_type(body, "Observation")
    projection = api.get(f"/api/v1/pumps/{record.pumps.get(status='active').pk}/projection/").json()
    assert volume["valueQuantity"]["value"] == float(projection["reservoir_volume_ml"])
    assert alarm["valueDateTime"] == projection["low_reservoir_alarm_at_worst_case"].replace("+00:00", "Z")


def test_another_clinics_patient_is_not_found_and_anonymous_is_refused(api, record, outsider, client):
    assert client_for(outsider).get(f"/api/v1/patients/{record.pk}/fhir/").status_code == 404
    assert client.get(f"/api/v1/patients/{record.pk}/fhir/").status_code in (401, 403)
    assert api.get("/api/v1/patients/999999/fhir/").status_code == 404


def test_the_fhir_media_type_when_asked_for(api, record):
    response = api.get(f"/api/v1/patients/{record.pk}/fhir/", HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/fhir+json")
    Bundle.model_validate_json(response.content)
    assert api.get(f"/api/v1/patients/{record.pk}/fhir/?format=fhir")["Content-Type"].startswith(
        "application/fhir+json"
    )
