"""Compile the compiled engine once, ahead of use: ``rnnlab compile`` (``make run`` calls it).

numba compiles each kernel the first time it runs and keeps the machine code in its on-disk
cache (``__pycache__`` beside the sources, or ``$NUMBA_CACHE_DIR``); every later process loads it
from there instead of compiling. ``compile_engine`` runs each code path a command can take once,
on a tiny problem, so that a user's first command loads instead of compiling:

- the seed's case (``fast.special``: a one-layer rnn of 4 units, per-sample SGD) for one model and
  for a few, and the same case in SIMD lanes (``fast.lanes``, ensembles of ``lanes.WIDTH`` or more);
- the general loop (``fast.loop``: every cell, minibatches and the full batch, Adam, rollout
  training), with the forecast the evaluation uses (``forecast_many``);
- real series: fixed contexts read relative to their last value, validation and early stopping.

The seed's case is compiled for the hidden size of 4 (the seed's and the default); another
hidden size compiles on its first use, in a few seconds, and is cached from then on.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .config import RunConfig
from .presets import apply_overrides


def _cases() -> list[tuple[str, RunConfig]]:
    tiny = {"seed": 0, "train.steps": 2, "train.engine": "fast", "train.log_every": 1}
    seed = RunConfig()
    from .fast import lanes

    return [
        ("the seed's case", apply_overrides(seed, tiny)),
        ("small ensembles of the seed's case", apply_overrides(seed, {**tiny, "train.ensemble": 2})),
        ("ensembles in SIMD lanes", apply_overrides(seed, {**tiny, "train.ensemble": lanes.WIDTH})),
        ("the general loop: minibatches, Adam, rollout", apply_overrides(seed, {
            **tiny, "model.cell": "gru", "model.readout": "linear", "train.optimizer": "adam",
            "train.batch_size": 4, "train.rollout": 3})),
        ("the full batch", apply_overrides(seed, {**tiny, "model.readout": "linear", "train.batch_size": 0, "train.rollout": 2})),
        ("real series: fixed contexts, validation, early stopping", apply_overrides(seed, {
            **tiny, "data.periods": 4, "data.context_length": 12, "data.level": "last", "data.val_fraction": 0.2,
            "model.cell": "lstm", "model.readout": "linear", "train.optimizer": "adam", "train.batch_size": 8,
            "train.rollout": 4, "train.patience": 1, "train.val_every": 1, "train.ensemble": 2})),
    ]


def compile_engine(on_case: Callable[[str, float], None] | None = None) -> list[tuple[str, float]]:
    """Run every compiled code path once (see the module docstring); (what, seconds) of each."""
    from .arraymodel import ArrayModel
    from .training.compiled import run_compiled

    done = []
    for what, config in _cases():
        started = time.perf_counter()
        run = run_compiled(config, [config.seed + i for i in range(config.train.ensemble)])
        ArrayModel(config.model, run.weights[0].arrays()).forecast_batch(np.zeros((1, 5)), 3)
        seconds = time.perf_counter() - started
        done.append((what, seconds))
        if on_case is not None:
            on_case(what, seconds)
    return done
