"""Evaluation: the seed task, and the held-out test part against baselines.

``metrics`` (errors), ``baselines`` (naive, seasonal naive, AR), ``seedtask`` (the seed's own
task, for one model and an ensemble), ``backtest`` (the rolling-origin test of a run).
"""

from __future__ import annotations

from .backtest import backtest_origins, evaluate_result, evaluate_run, evaluate_test
from .baselines import AutoRegression, choose_ar, fit_ar, naive_forecasts, seasonal_naive_forecasts
from .metrics import mase_scale, metrics, rollout_scores
from .seedtask import evaluate_ensemble, evaluate_seed_task, seed_task_data

__all__ = [
    "AutoRegression", "backtest_origins", "choose_ar", "evaluate_ensemble", "evaluate_result", "evaluate_run",
    "evaluate_seed_task", "evaluate_test", "fit_ar", "mase_scale", "metrics", "naive_forecasts",
    "rollout_scores", "seasonal_naive_forecasts", "seed_task_data",
]
