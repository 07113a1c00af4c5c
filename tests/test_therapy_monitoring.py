"""MONITOR-1 in the calculation core: which signs a visit recorded, and what they call for
(the first tests are beside DRIFT-1's in tests/test_therapy_drift.py). The words are the ones
a nurse reads on the visit and in the alert."""

from __future__ import annotations

import pytest

from therapy import CalculationError, classify_assessment
from therapy.monitoring import CRITICAL, PHYSICIAN_REVIEW, SIDE_EFFECT_SIGNS, SIGNS, WITHDRAWAL_SIGNS


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_signs_are_listed_in_the_order_of_the_rule_not_of_the_visit():
    # recorded in any order, each at most once: returned as MONITOR-1 lists them
    findings = classify_assessment(["seizures", "sedation", "fever", "muscle_weakness", "fever"])
    assert findings.withdrawal == ("fever", "seizures")
    assert findings.side_effects == ("muscle_weakness", "sedation")
    assert findings.action == CRITICAL


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_side_effects_alone_ask_for_a_review_in_plain_words():
    findings = classify_assessment(["cognitive_effects", "urinary_changes"])
    assert findings.withdrawal == ()
    assert findings.action == PHYSICIAN_REVIEW
    assert findings.words("side_effects") == "urinary changes, cognitive effects"
    assert findings.words("withdrawal") == ""


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_an_unknown_sign_is_refused_with_the_signs_allowed():
    # two unknown signs: the first in alphabetical order is named
    with pytest.raises(CalculationError) as err:
        classify_assessment(["sedation", "headache", "dizziness"])
    assert err.value.field == "assessment"
    assert err.value.code == "unknown_sign"
    assert err.value.message == (
        "unknown sign 'dizziness': the signs are muscle_weakness, urinary_changes, cognitive_effects, "
        "sedation, itching, hypotension, paresthesia, fever, altered_mental_status, rebound_spasticity, "
        "seizures"
    )


@pytest.mark.rule("MONITOR-1")
def test_monitor_1_every_sign_is_either_withdrawal_or_side_effect():
    assert set(SIGNS) == set(WITHDRAWAL_SIGNS) | set(SIDE_EFFECT_SIGNS)
    assert not set(WITHDRAWAL_SIGNS) & set(SIDE_EFFECT_SIGNS)
