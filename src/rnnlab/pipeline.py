"""Train, evaluate and store: what the command line and the web page both do with a config.

``checked(config)`` settles the seed and refuses a bad config before anything is printed or
trained; ``train_and_store`` trains, evaluates (the seed task, the test part, an ensemble's
spread) and stores the run with its metrics. A run whose evaluation fails is stored all the
same, without metrics, and the reason is returned: a finished training is never thrown away.

Evaluate, then refit (``data.refit``, a csv or dataset series with held-out parts): the model
trained on the training part is backtested on the test part; then the same config is trained on
every value (no held-out parts: its transforms and scaling fitted on all of them) and that model
is stored, with the backtest's metrics and the held-out fractions it was measured with.

The automatic choice (``train.select``, ``selection.py``): the model trained on the training part
is the candidate of least validation error, and its config is the run's; the candidates' scores
are stored with the metrics ("selection").

Nothing finished is lost: Ctrl-C or SIGTERM after the last step ends the evaluation (marked as
skipped in run.json) and the run is stored ``completed``; the store writes it as a transaction
(``store.py``); a catalog that stays locked leaves the run on disk, listed by the next command.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from . import hooks
from .config import WAVEFORMS, RunConfig
from .data.prepared import pinned
from .errors import ConfigError, RnnlabError, RunKeptError
from .evaluate import evaluate_result
from .selection import is_selecting, select
from .shutdown import EvaluationInterrupted, Guard
from .store import RunStore
from .training import StepCallback, TrainResult, check_config, resolve_seed, settle_engine, train


@dataclass
class StoredRun:
    """A trained run as stored: the training result, its id in the store and its metrics."""

    result: TrainResult
    run_id: str
    metrics: dict
    evaluation_error: str | None = None  # why the run has no metrics, when evaluating it failed
    signal: int | None = None  # Ctrl-C or SIGTERM that came after the last step (the run is kept)
    signal_name: str | None = None
    catalog_error: str | None = None  # the run is stored but the catalog could not list it yet
    evaluation_skipped: bool = False  # the signal came during the evaluation (run.json "evaluation" says so)


def checked(config: RunConfig) -> RunConfig:
    """The config with its seed and engine settled (``train.engine`` "auto" made concrete), refused
    here (``ConfigError``, ``InputError``) when a trainer cannot do it or the series cannot hold it."""
    if not isinstance(config, RunConfig):
        raise ConfigError(f"config must be a RunConfig, got {type(config).__name__}")
    config = settle_engine(resolve_seed(config))
    with pinned(config.data):
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
    """Train ``config``, evaluate the result and store both; see the module docstring.

    A recorded series is read once and stored with the run. Ctrl-C or SIGTERM after the last
    step skips what is left of the evaluation and the refit, and the run is stored all the same
    (``StoredRun.signal`` says which came)."""
    if not isinstance(config, RunConfig):
        raise ConfigError(f"config must be a RunConfig, got {type(config).__name__}")
    if not isinstance(store, RunStore):
        raise ConfigError(f"store must be a RunStore, got {type(store).__name__}")
    with Guard(should_stop) as guard, pinned(config.data) as series:
        fit = _fit(config, guard, series, on_step)
        catalog_error = None
        try:
            run_id = store.save(fit.result, fit.metrics, name=name, backtest=fit.backtest, series=series, notes=fit.notes)
        except RunKeptError as exc:
            run_id, catalog_error = exc.run_id, str(exc)
    return StoredRun(fit.result, run_id, fit.metrics, fit.evaluation_error, guard.received, guard.name(), catalog_error,
                     "evaluation" in fit.notes)


def _fit(config: RunConfig, guard: Guard, series, on_step: StepCallback | None = None) -> "Trained":
    """Train (or choose), evaluate and refit under ``guard``: the work of ``train_and_store``
    and ``train_and_evaluate`` before anything is stored."""
    result, selection = first_fit(config, on_step=on_step, should_stop=guard.should_stop)
    config = result.config
    metrics, error, notes, backtest = with_selection({}, selection), None, {}, None
    if guard.received is None:
        guard.phase = "evaluate"
        try:
            hooks.point("evaluate")
            metrics = with_selection(evaluate_result(result), selection)
        except EvaluationInterrupted:
            pass
        except RnnlabError as exc:
            error = f"the run could not be evaluated: {exc}"
        except Exception as exc:  # a finished training is never thrown away for its evaluation
            error = f"the run could not be evaluated: {type(exc).__name__}: {exc}"
        guard.phase = "store"
    if guard.received is not None:
        notes["evaluation"] = f"skipped: {guard.name()} came after the last step"
    if refits(config) and result.status == "completed" and guard.received is None:
        held_out = {"val_fraction": config.data.val_fraction, "test_fraction": config.data.test_fraction,
                    "steps": result.steps_done}
        guard.phase = "train"
        final = train(refit_config(config), on_step=on_step, should_stop=guard.should_stop)
        guard.phase = "store"
        if final.status != "interrupted" and guard.received is None:  # else the backtested model stays
            result, backtest = final, held_out
    return Trained(result, metrics, error, notes, backtest, series, guard.received)


def first_fit(config: RunConfig, *, on_step: StepCallback | None = None,
              should_stop: Callable[[], bool] | None = None) -> tuple[TrainResult, dict | None]:
    """The model the backtest scores: the config trained, or with ``train.select`` the candidate
    of least validation error (``selection.py``) and the record of the choice."""
    if not is_selecting(config):
        return train(config, on_step=on_step, should_stop=should_stop), None
    chosen = select(config, on_step=on_step, should_stop=should_stop)
    return chosen.result, chosen.to_dict()


def with_selection(metrics: dict, selection: dict | None) -> dict:
    """The metrics with the record of the automatic choice, where there was one."""
    return metrics if selection is None else {**metrics, "selection": selection}


def refits(config: RunConfig) -> bool:
    """Whether training ends with a refit on every value (``data.refit``, a recorded series)."""
    return config.data.refit and config.data.series not in WAVEFORMS


def refit_config(config: RunConfig) -> RunConfig:
    """The config of the final fit: every value trains it (no validation or test part)."""
    data = dataclasses.replace(config.data, val_fraction=0.0, test_fraction=0.0)
    return dataclasses.replace(config, data=data, train=dataclasses.replace(config.train, patience=0))


@dataclass
class Trained:
    """A config trained and evaluated (refitted where it refits) but not stored: what
    ``train_and_evaluate`` returns, for another process to store with ``RunStore.save``."""

    result: TrainResult
    metrics: dict
    evaluation_error: str | None
    notes: dict  # more run.json keys
    backtest: dict | None  # the held-out fractions of a refitted model's metrics
    series: object  # the recorded Series trained on (None for a waveform)
    signal: int | None = None  # Ctrl-C or SIGTERM that came during the work (nothing is complete then)


def train_and_evaluate(config: RunConfig, *, should_stop: Callable[[], bool] | None = None) -> Trained:
    """``train_and_store`` without the store: train, evaluate, refit on every value; nothing is
    written. A signal after the last step skips the evaluation and refit, as there."""
    if not isinstance(config, RunConfig):
        raise ConfigError(f"config must be a RunConfig, got {type(config).__name__}")
    with Guard(should_stop) as guard, pinned(config.data) as series:
        return _fit(config, guard, series)
