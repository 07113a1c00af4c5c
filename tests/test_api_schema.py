"""The OpenAPI schema (/api/schema/) and its browsable docs (/api/docs/)."""

from __future__ import annotations

import pytest
import yaml

pytestmark = pytest.mark.django_db

CONTRACT_PATHS = {
    "/api/v1/patients/": {"get", "post"},
    "/api/v1/patients/{id}/": {"get", "patch"},
    "/api/v1/pumps/": {"get", "post"},
    "/api/v1/pumps/{id}/": {"get", "patch"},
    "/api/v1/pumps/{pump_id}/refills/": {"get", "post"},
    "/api/v1/pumps/{pump_id}/prescriptions/": {"get", "post"},
    "/api/v1/pumps/{pump_id}/projection/": {"get"},
    "/api/v1/pumps/{pump_id}/history/": {"get"},
    "/api/v1/catalog/pump-models/{code}/": {"get", "patch"},
    "/api/v1/catalog/catheter-models/{code}/": {"get", "patch"},
    "/api/v1/alerts/": {"get"},
}


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_parses_and_lists_the_contract(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "pumpcare API"
    for path, methods in CONTRACT_PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), (path, set(schema["paths"][path]))


def test_the_schema_describes_the_refill_and_prescription_bodies(schema):
    refill = schema["paths"]["/api/v1/pumps/{pump_id}/refills/"]["post"]
    assert "201" in refill["responses"]
    request = refill["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    properties = schema["components"]["schemas"][request]["properties"]
    for field in (
        "performed_at",
        "volume_withdrawn_ml",
        "volume_added_ml",
        "concentration_mcg_per_ml",
        "compounded_confirmed",
        "prescription",
        "override_reason",
    ):
        assert field in properties, field
    assert "PrescriptionSchedule" in schema["components"]["schemas"]
    prescription = schema["paths"]["/api/v1/pumps/{pump_id}/prescriptions/"]["post"]
    assert "201" in prescription["responses"]


def test_the_schema_as_json(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "/api/v1/pumps/{pump_id}/projection/" in response.json()["paths"]


def test_the_docs_page(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
