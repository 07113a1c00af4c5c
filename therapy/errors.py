"""The one error type of the calculation core."""

from __future__ import annotations


class CalculationError(ValueError):
    """A refusal: which field, what is wrong and what is allowed.

    ``code`` is a stable machine-readable reason that the API passes on
    (for example ``titration_limit_exceeded``); ``field`` names the input at fault in the
    API's own vocabulary (``prescription.steps[1].start``) or the catalog value that is
    missing (``pump_model.pathway_volume_min_ml``).
    """

    def __init__(self, field: str, message: str, code: str = "invalid", **details):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code
        self.details = details
