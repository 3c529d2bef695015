"""Which trainer runs a config: the seed's own loop, the torch engine or the compiled engine.

Decided from the config alone (nothing here imports torch or numba), before anything trains:

- ``is_seed_loop``: exactly the seed's algorithm, kept bit-exact to the blog program on torch;
- ``fast_unsupported``: why the compiled engine (``--engine fast``) cannot train a config;
- ``settle_engine``: ``train.engine = "auto"`` (the default) made concrete: the compiled engine
  wherever it supports the config, except a single run of the seed's own loop, which stays on
  torch (float32, the blog's numbers bit for bit); torch otherwise, with the reason.
"""

from __future__ import annotations

import dataclasses

from ..config import WAVEFORMS, RunConfig
from ..errors import ConfigError

MAX_LAYERS = 2  # the compiled engine's limits
MAX_HIDDEN = 256


def is_seed_loop(config: RunConfig) -> bool:
    """Whether the config asks for exactly the seed's algorithm: one variable-length window of a
    waveform per plain step, one-step loss, no split, no scaling. That loop is kept bit-exact."""
    t, d = config.train, config.data
    return (
        d.series in WAVEFORMS
        and t.batch_size == 1
        and t.rollout == 1
        and t.clip_grad == 0
        and t.schedule == "constant"
        and t.patience == 0
        and d.horizon == 1
        and not d.context_length
        and not d.val_fraction
        and not d.test_fraction
        and d.scaling in ("auto", "none")
    )


def check_supported(config: RunConfig) -> None:
    """Refuse what the trainers do not do yet."""
    t = config.train
    if t.patience:
        val = config.data.val_fraction
        if val == 0 or (val is None and config.data.series in WAVEFORMS):
            raise ConfigError(
                f"train.patience = {t.patience} needs a validation part: set data.val_fraction > 0"
            )
    if t.engine == "fast":
        message = fast_unsupported(config)
        if message:
            raise ConfigError(f"{message}; use --engine torch")


def fast_unsupported(config: RunConfig) -> str | None:
    """Why the compiled engine cannot train ``config``, or None when it can."""
    m, t = config.model, config.train
    problems = [
        (m.num_layers <= MAX_LAYERS, f"model.num_layers = {m.num_layers}: the fast engine has 1 or 2 layers"),
        (m.hidden_size <= MAX_HIDDEN,
         f"model.hidden_size = {m.hidden_size}: the fast engine is for small models (<= {MAX_HIDDEN} units, no BLAS)"),
        (m.dropout == 0, f"model.dropout = {m.dropout}: the fast engine has no dropout"),
        (t.loss == "mse", f"train.loss = {t.loss!r}: the fast engine implements mse only"),
    ]
    for ok, message in problems:
        if not ok:
            return message
    return None


def choose_engine(config: RunConfig) -> tuple[str, str]:
    """The engine ``train.engine`` names, "auto" settled, and why: ("fast" | "torch", reason)."""
    engine = config.train.engine
    if engine != "auto":
        return engine, f"train.engine = {engine!r}"
    if config.train.ensemble == 1 and is_seed_loop(config):
        return "torch", "auto: the seed's own loop stays on torch, float32, bit-exact to the blog"
    reason = fast_unsupported(config)
    if reason:
        return "torch", f"auto: {reason}"
    return "fast", "auto: the compiled engine supports this config"


def settle_engine(config: RunConfig) -> RunConfig:
    """The config with ``train.engine`` "auto" replaced by the engine ``choose_engine`` picks."""
    engine, _ = choose_engine(config)
    if engine == config.train.engine:
        return config
    return dataclasses.replace(config, train=dataclasses.replace(config.train, engine=engine))
