"""The model lifecycle as plain functions, outside Dagster: train and log a candidate
(``fitting``), then score, decide, register and move aliases (``registration``).

The candidate assets call ``train_and_log``; ``champion_model`` alone calls ``promote_best``, so
every registered version carries the same tags and every decision follows the same rule.
"""

from bh_pricing.lifecycle.fitting import CandidateRun, describe_trigger, run_name, train_and_log
from bh_pricing.lifecycle.registration import ChampionResult, promote_best, score_model

__all__ = [
    "CandidateRun",
    "ChampionResult",
    "describe_trigger",
    "promote_best",
    "run_name",
    "score_model",
    "train_and_log",
]
