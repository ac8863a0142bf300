"""The promotion rule: promotion on evidence (paired test and margin), never on a worse model."""

import numpy as np
import pytest

from bh_pricing.core.promotion import PromotionRule, decide_promotion, paired_bootstrap_p_value

RNG = np.random.default_rng(7)
N = 400
PRICE = RNG.lognormal(np.log(600_000), 0.5, N)


def noisy(log_sd: float, seed: int, bias: float = 0.0) -> np.ndarray:
    """Predictions whose log error has spread ``log_sd`` and mean ``bias``."""
    return PRICE * np.exp(np.random.default_rng(seed).normal(bias, log_sd, N))


CHAMPION = noisy(0.25, seed=1)


def test_first_model_becomes_champion_under_either_policy():
    for policy in ("auto", "manual"):
        decision = decide_promotion(PRICE, noisy(0.3, 2), None, rule=PromotionRule(policy=policy))
        assert decision.alias == "champion", policy
        assert decision.reason == "no current champion"
        assert decision.champion_score is None
        assert decision.p_value is None


@pytest.mark.parametrize("log_sd", [0.10, 0.15])
def test_clearly_better_candidate_is_promoted(log_sd):
    decision = decide_promotion(PRICE, noisy(log_sd, 3), CHAMPION)
    assert decision.alias == "champion", decision.reason
    assert decision.p_value is not None
    assert decision.p_value <= 0.05
    assert decision.candidate_score < decision.champion_score


@pytest.mark.parametrize("log_sd", [0.30, 0.40])
def test_worse_candidate_stays_challenger(log_sd):
    decision = decide_promotion(PRICE, noisy(log_sd, 4), CHAMPION)
    assert decision.alias == "challenger", decision.reason
    assert not decision.promote


def test_a_tie_is_not_promoted():
    decision = decide_promotion(PRICE, CHAMPION.copy(), CHAMPION)
    assert decision.alias == "challenger"
    assert decision.p_value == 1.0, "identical errors: no evidence at all"


def test_better_on_the_metric_without_significance_is_not_promoted():
    # given a candidate whose log errors are the champion's scaled by 0.9 or 1.1, 0.9 a bit
    # more often: a smaller error on average, by far less than its noise
    log_error = np.log(CHAMPION / PRICE)
    scale = np.where(np.arange(N) % 25 < 13, 0.9, 1.1)
    candidate = PRICE * np.exp(log_error * scale)
    decision = decide_promotion(
        PRICE, candidate, CHAMPION, rule=PromotionRule(metric="mae", margin=0.0)
    )
    assert decision.candidate_score <= decision.champion_score, decision.reason
    assert "beats the 0.0% margin" in decision.reason
    assert decision.p_value > 0.05, decision.reason
    assert decision.alias == "challenger"
    assert "not significant" in decision.reason


@pytest.mark.parametrize("rows", [5, 29])
def test_a_tiny_holdout_never_promotes(rows):
    better = noisy(0.05, 6)
    decision = decide_promotion(PRICE[:rows], better[:rows], CHAMPION[:rows])
    assert decision.alias == "challenger"
    assert "under the 30 needed" in decision.reason


def test_worse_on_mae_and_mape_but_better_rmse_is_never_promoted():
    # given a candidate that nails the most expensive listing (RMSE) and is worse everywhere else
    price = np.array([100_000.0] * 60 + [5_000_000.0])
    champion = np.append(price[:-1] * 1.05, 4_800_000.0)
    candidate = np.append(price[:-1] * 1.10, 5_000_000.0)
    decision = decide_promotion(price, candidate, champion, rule=PromotionRule(metric="rmse"))
    assert decision.candidate_metrics["rmse"] < decision.champion_metrics["rmse"]
    assert decision.alias == "challenger"
    assert "loses on MAE" in decision.reason


def test_manual_policy_keeps_a_winner_as_challenger():
    rule = PromotionRule(policy="manual")
    decision = decide_promotion(PRICE, noisy(0.1, 3), CHAMPION, rule=rule)
    assert decision.alias == "challenger"
    assert "manual policy" in decision.reason


def test_weights_decide_which_listings_count():
    # given a candidate better on the recent half and worse on the old half
    recent = np.arange(N) < N // 2
    candidate = np.where(recent, PRICE * 1.01, PRICE * 1.4)
    champion = np.where(recent, PRICE * 1.3, PRICE * 1.02)
    weights = np.where(recent, 1.0, 0.01)
    rule = PromotionRule(metric="mape")
    assert decide_promotion(PRICE, candidate, champion, weights, rule).promote
    assert not decide_promotion(PRICE, candidate, champion, None, rule).promote


def test_paired_bootstrap_p_value_is_small_for_consistent_gains_and_one_for_losses():
    gains = -np.abs(np.random.default_rng(8).normal(0.05, 0.01, 50))
    assert paired_bootstrap_p_value(gains, np.ones(50), 999, 0) == pytest.approx(1 / 1000)
    assert paired_bootstrap_p_value(-gains, np.ones(50), 999, 0) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"margin": 1.0}, "margin"), ({"alpha": 0.0}, "alpha"), ({"policy": "sometimes"}, "policy")],
)
def test_invalid_rules_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PromotionRule(**kwargs)


def test_invalid_predictions_are_rejected():
    with pytest.raises(ValueError, match="finite positive"):
        decide_promotion(PRICE, np.full(N, np.nan), CHAMPION)
    with pytest.raises(ValueError, match="predictions"):
        decide_promotion(PRICE, CHAMPION[:-1], CHAMPION)
