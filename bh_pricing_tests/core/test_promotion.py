"""The promotion rule: a worse model never becomes champion."""

import pytest

from bh_pricing.core.promotion import decide_promotion


def test_first_model_becomes_champion():
    decision = decide_promotion(100.0, None)
    assert decision.alias == "champion"
    assert decision.promote
    assert decision.reason == "no current champion"


def test_better_by_the_margin_becomes_champion():
    decision = decide_promotion(98.0, 100.0, margin=0.01)
    assert decision.alias == "champion", decision.reason


def test_better_but_within_the_margin_becomes_challenger():
    decision = decide_promotion(99.5, 100.0, margin=0.01)
    assert decision.alias == "challenger", decision.reason
    assert "does not beat" in decision.reason


def test_worse_becomes_challenger():
    decision = decide_promotion(120.0, 100.0, margin=0.0)
    assert decision.alias == "challenger"
    assert not decision.promote


def test_manual_policy_never_promotes_by_itself():
    decision = decide_promotion(50.0, 100.0, policy="manual")
    assert decision.alias == "challenger"
    assert "manual policy" in decision.reason


def test_manual_policy_first_model_waits_for_a_person_too():
    assert decide_promotion(50.0, None, policy="manual").alias == "challenger"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"margin": 1.5}, "margin must be in"),
        ({"margin": -0.1}, "margin must be in"),
        ({"policy": "sometimes"}, "policy must be"),
    ],
)
def test_bad_settings_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        decide_promotion(1.0, 2.0, **kwargs)


def test_nan_score_is_rejected():
    with pytest.raises(ValueError, match="NaN"):
        decide_promotion(float("nan"), 2.0)
