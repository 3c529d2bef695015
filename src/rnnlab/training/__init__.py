"""Training: one dispatcher over the trainers beside it.

- ``seed.py``: the seed's per-sample loop, bit-exact to the blog program (``is_seed_loop``);
- ``windowed.py``: the general torch loop (any series, minibatches, rollout, schedules, early stop);
- ``compiled.py``: the compiled engine (``rnnlab.fast``) for 1…N models at once;
- ``ensemble.py``: N members from seeds S…S+N−1, stored as one run;
- ``engines.py``: which of them trains a config (``train.engine = "auto"`` settled);
- ``validation.py``: the compiled engine's validation and early stopping, every member at once;
- ``common.py``: what they share (``TrainResult``, stop requests, guards, optimizers).
"""

from __future__ import annotations

from typing import Callable

from ..config import RunConfig
from .common import StepCallback, TrainResult, resolve_seed
from .engines import check_supported, choose_engine, is_seed_loop, settle_engine
from .ensemble import EnsembleResult

__all__ = [
    "EnsembleResult", "TrainResult", "check_config", "choose_engine", "is_seed_loop", "resolve_seed",
    "settle_engine", "train",
]


def check_config(config: RunConfig) -> None:
    """Refuse, before training, what the trainers cannot do or the series cannot hold."""
    check_supported(settle_engine(config))
    if not is_seed_loop(config):
        from ..data import prepare

        prepare(config.data, config.train.rollout)


def train(
    config: RunConfig,
    *,
    on_step: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a model as the config says: an ensemble, the compiled engine, the windowed loop or
    the seed's loop. Returns a ``TrainResult`` (an ``EnsembleResult`` for an ensemble)."""
    config = settle_engine(resolve_seed(config))
    check_supported(config)
    # each trainer imported when it runs: the compiled engine's path never imports torch
    if config.train.ensemble > 1:  # N models from seeds seed … seed+N-1, stored as one run
        from .ensemble import train_ensemble

        return train_ensemble(config, on_step=on_step, should_stop=should_stop)
    if config.train.engine == "fast":  # the compiled engine: same windows, same result format
        from .compiled import train_compiled

        return train_compiled(config, on_step=on_step, should_stop=should_stop)
    if not is_seed_loop(config):
        from .windowed import train_windows

        return train_windows(config, on_step=on_step, should_stop=should_stop)
    from .seed import train_seed

    return train_seed(config, on_step=on_step, should_stop=should_stop)
