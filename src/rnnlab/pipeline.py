"""Train, evaluate and store: what the command line and the web page both do with a config.

``checked(config)`` settles the seed and refuses a bad config before anything is printed or
trained; ``train_and_store`` trains, evaluates (the seed task, the test part, an ensemble's
spread) and stores the run with its metrics. A run whose evaluation fails is stored all the
same, without metrics, and the reason is returned: a finished training is never thrown away.

Evaluate, then refit (``data.refit``, a csv or dataset series with held-out parts): the model
trained on the training part is backtested on the test part; then the same config is trained on
every value (no held-out parts: its transforms and scaling fitted on all of them) and that model
is stored, with the backtest's metrics and the held-out fractions it was measured with.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from .config import WAVEFORMS, RunConfig
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
    backtest = None
    if refits(config) and result.status == "completed":
        held_out = {"val_fraction": config.data.val_fraction, "test_fraction": config.data.test_fraction,
                    "steps": result.steps_done}
        final = train(refit_config(config), on_step=on_step, should_stop=should_stop)
        if final.status != "interrupted":  # an interrupted refit keeps the backtested model
            result, backtest = final, held_out
    run_id = store.save(result, metrics, name=name, backtest=backtest)
    return StoredRun(result, run_id, metrics, error)


def refits(config: RunConfig) -> bool:
    """Whether training ends with a refit on every value (``data.refit``, a recorded series)."""
    return config.data.refit and config.data.series not in WAVEFORMS


def refit_config(config: RunConfig) -> RunConfig:
    """The config of the final fit: every value trains it (no validation or test part)."""
    data = dataclasses.replace(config.data, val_fraction=0.0, test_fraction=0.0)
    return dataclasses.replace(config, data=data, train=dataclasses.replace(config.train, patience=0))
