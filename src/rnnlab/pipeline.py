"""Train, evaluate and store: what the command line and the web page both do with a config.

``checked(config)`` settles the seed and refuses a bad config before anything is printed or
trained; ``train_and_store`` trains, evaluates (the seed task, the test part, an ensemble's
spread) and stores the run with its metrics. A run whose evaluation fails is stored all the
same, without metrics, and the reason is returned: a finished training is never thrown away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .config import RunConfig
from .errors import RnnlabError
from .evaluate import evaluate_result
from .store import RunStore
from .training import StepCallback, TrainResult, check_config, resolve_seed, train


@dataclass
class StoredRun:
    """A trained run as stored: the training result, its id in the store and its metrics."""

    result: TrainResult
    run_id: str
    metrics: dict
    evaluation_error: str | None = None  # why the run has no metrics, when evaluating it failed


def checked(config: RunConfig) -> RunConfig:
    """The config with its seed settled, refused here (``ConfigError``, ``InputError``) when a
    trainer cannot do it or the series cannot hold it."""
    config = resolve_seed(config)
    check_config(config)
    return config


def train_and_store(
    config: RunConfig,
    store: RunStore,
    *,
    on_step: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    name: str | None = None,
) -> StoredRun:
    """Train ``config``, evaluate the result and store both; see the module docstring."""
    result = train(config, on_step=on_step, should_stop=should_stop)
    error = None
    try:
        metrics = evaluate_result(result)
    except RnnlabError as exc:
        metrics, error = {}, f"the run could not be evaluated: {exc}"
    run_id = store.save(result, metrics, name=name)
    return StoredRun(result, run_id, metrics, error)
