"""The README, docs/ and the OpenAPI schema stay true to the code."""

import re
import subprocess
import sys
from pathlib import Path

import yaml
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer

ROOT = Path(__file__).resolve().parent.parent


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make \w+", readme.split("```sh", 1)[1].split("```", 1)[0], flags=re.M)
    assert commands == ["make run", "make test"]


def test_ci_runs_make_test_with_both_services():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "DATABASE_URL" in ci and "REDIS_URL" in ci


def test_clinical_rules_doc_is_current():
    result = subprocess.run(
        [sys.executable, "scripts/clinical_rules.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_every_domain_rule_is_in_the_clinical_rules_doc():
    sys.path.insert(0, str(ROOT / "scripts"))
    import clinical_rules

    if not clinical_rules.DOMAIN.exists():
        import pytest

        pytest.skip(f"{clinical_rules.DOMAIN} is not beside the project: nothing to compare with")
    assert clinical_rules.domain_rules(), "no rule ID read from DOMAIN.md"
    assert clinical_rules.missing_rules() == []
    # and in DOMAIN.md's order
    listed = [rule for rule, *_ in clinical_rules.RULES]
    assert listed == [r for r in clinical_rules.domain_rules() if r in listed]


def test_openapi_schema_in_docs_matches_the_code():
    generated = OpenApiYamlRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    committed = (ROOT / "docs" / "openapi.yaml").read_bytes()
    assert yaml.safe_load(generated) == yaml.safe_load(committed), (
        "run `make schema` to update docs/openapi.yaml"
    )


def test_openapi_schema_documents_the_contract():
    schema = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    for path in (
        "/api/v1/patients/",
        "/api/v1/pumps/",
        "/api/v1/pumps/{pump_id}/refills/",
        "/api/v1/pumps/{pump_id}/prescriptions/",
        "/api/v1/pumps/{pump_id}/projection/",
        "/api/v1/pumps/{pump_id}/history/",
        "/api/v1/catalog/pump-models/{code}/",
        "/api/v1/catalog/catheter-models/{code}/",
    ):
        assert path in schema["paths"], path
    projection = schema["components"]["schemas"]["Projection"]["properties"]
    assert {"low_reservoir_alarm_at_worst_case", "refill_by", "refill_by_reason", "eos_on"} <= set(projection)
