"""Visit assessments (MONITOR-1): which signs a visit recorded, and what they call for."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import CalculationError

# MONITOR-1: signs of too much drug (a physician reviews the dose) …
SIDE_EFFECT_SIGNS = {
    "muscle_weakness": "muscle weakness",
    "urinary_changes": "urinary changes",
    "cognitive_effects": "cognitive effects",
    "sedation": "sedation",
}
# … and signs of withdrawal (the infusion is resumed at once).
WITHDRAWAL_SIGNS = {
    "itching": "itching",
    "hypotension": "hypotension",
    "paresthesia": "paresthesia",
    "fever": "fever",
    "altered_mental_status": "altered mental status",
    "rebound_spasticity": "rebound spasticity",
    "seizures": "seizures",
}
SIGNS = {**SIDE_EFFECT_SIGNS, **WITHDRAWAL_SIGNS}

CRITICAL, PHYSICIAN_REVIEW = "critical", "physician_review"

WITHDRAWAL_ADVICE = (
    "Intrathecal baclofen withdrawal evolves over 1–3 days and needs the infusion resumed at once; "
    "high-dose oral baclofen may not prevent it."
)


@dataclass(frozen=True)
class AssessmentFindings:
    """MONITOR-1: the withdrawal and side-effect signs of a visit (codes in the order of
    ``SIGNS``) and what they call for: ``critical`` (any withdrawal sign), else
    ``physician_review`` (any side-effect sign), else None."""

    withdrawal: tuple[str, ...]
    side_effects: tuple[str, ...]

    @property
    def action(self) -> str | None:
        if self.withdrawal:
            return CRITICAL
        if self.side_effects:
            return PHYSICIAN_REVIEW
        return None

    def words(self, which: str) -> str:
        """The signs of ``which`` ("withdrawal" or "side_effects") in plain words."""
        return ", ".join(SIGNS[code] for code in getattr(self, which))


def classify_assessment(signs: Iterable[str]) -> AssessmentFindings:
    """MONITOR-1: sort the signs a visit recorded into withdrawal signs (a critical alert:
    resume the infusion at once) and side-effect signs (a physician reviews the dose).
    An unknown sign is refused, naming the signs allowed."""
    present = set(signs)
    unknown = sorted(present - SIGNS.keys())
    if unknown:
        raise CalculationError(
            "assessment",
            f"unknown sign {unknown[0]!r}: the signs are {', '.join(SIGNS)}",
            code="unknown_sign",
        )
    return AssessmentFindings(
        withdrawal=tuple(code for code in WITHDRAWAL_SIGNS if code in present),
        side_effects=tuple(code for code in SIDE_EFFECT_SIGNS if code in present),
    )
