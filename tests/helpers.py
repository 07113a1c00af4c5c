"""Small helpers shared by the API test modules."""

from alerts.models import Alert
from patients.models import Pump
from refills.models import Prescription, Refill


def simple(daily_dose_mcg) -> dict:
    """A simple-continuous prescription (DOSE-1)."""
    return {"mode": "simple_continuous", "daily_dose_mcg": str(daily_dose_mcg)}


def therapy_rows() -> dict:
    """Row counts of everything a refill or prescription could write, history included:
    a refusal must leave every one unchanged."""
    return {
        "refills": Refill.objects.count(),
        "prescriptions": Prescription.objects.count(),
        "refill_history": Refill.history.count(),
        "prescription_history": Prescription.history.count(),
        "alerts": Alert.objects.count(),
        "alert_history": Alert.history.count(),
        "pump_history": Pump.history.count(),
    }


def assert_refused(response, field, code=None) -> dict:
    """A 400 that names ``field`` (and, if given, carries ``code``)."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body["errors"], body
    assert body["errors"][field] and body["detail"], body
    if code is not None:
        assert body["code"] == code, body
    return body
