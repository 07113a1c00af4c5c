"""The catalogs shipped by the data migration (PUMP-1..3, DOSE-4, LRA-4(b), ERI-1,
REFILL-1): DOMAIN.md's values, each with its source; unconfirmed values empty."""

from decimal import Decimal

import pytest

from patients.models import CatheterModel, Drug, PumpModel

pytestmark = pytest.mark.django_db


@pytest.mark.rule("PUMP-1", "LRA-3", "ERI-1", "REFILL-1")
@pytest.mark.parametrize(
    "code, manufacturer, reservoir, lra, tolerance, life_months, threshold",
    [
        # SynchroMed II: Medtronic alarm residual 2.0 mL, tolerance 14.5 %, 5 years planning life
        ("8637-20", "Medtronic", "20.00", "2.00", "14.50", 60, "1.00"),
        ("8637-40", "Medtronic", "40.00", "2.00", "14.50", 60, "2.00"),
        # Prometra II: controller alarm 3.0 mL, labeled 85-115 % -> 15 %; service life not given
        ("13827", "Flowonix", "20.00", "3.00", "15.00", None, "1.00"),
        ("16827", "Flowonix", "40.00", "3.00", "15.00", None, "2.00"),
    ],
)
def test_pump_models_ship_domain_values(
    code, manufacturer, reservoir, lra, tolerance, life_months, threshold
):
    model = PumpModel.objects.get(code=code)
    assert model.manufacturer == manufacturer
    assert model.reservoir_ml == Decimal(reservoir)
    assert model.low_reservoir_alarm_ml == Decimal(lra)
    assert model.accuracy_tolerance_pct == Decimal(tolerance)
    assert model.service_life_months == life_months
    assert model.discrepancy_threshold_ml == Decimal(threshold)
    for field in ("reservoir_ml", "low_reservoir_alarm_ml", "accuracy_tolerance_pct", "service_life_months"):
        assert field in model.source, f"{code}: no source for {field}"


@pytest.mark.rule("PUMP-3")
def test_unconfirmed_values_stay_empty():
    # SynchroMed II and Prometra II pathway volumes are not confirmed from labeling.
    for model in PumpModel.objects.all():
        assert model.pathway_volume_min_ml is None and model.pathway_volume_max_ml is None
        assert "not confirmed from labeling" in model.source
    for code in ("8709SC", "8731SC", "8780", "8781"):
        assert CatheterModel.objects.get(code=code).volume_ml_per_cm is None


@pytest.mark.rule("PUMP-2")
def test_prometra_catheter_volume_per_cm():
    catheter = CatheterModel.objects.get(code="11823")
    assert catheter.volume_ml_per_cm == Decimal("0.0026")
    assert "110 cm - trimmed length" in catheter.source
    # PUMP-2: catheter volume = implanted length x volume per cm: 60 cm x 0.0026 = 0.156 mL
    assert Decimal(60) * catheter.volume_ml_per_cm == Decimal("0.156")


@pytest.mark.rule("DOSE-4", "LRA-4")
def test_baclofen_concentrations_and_reservoir_limit():
    baclofen = Drug.objects.get(code="baclofen")
    assert baclofen.supplied_concentrations_mcg_per_ml == ["50", "500", "1000", "2000"]
    assert baclofen.starting_concentration_mcg_per_ml == Decimal("500")
    assert baclofen.max_reservoir_days == 180
    assert "stability" in baclofen.source
