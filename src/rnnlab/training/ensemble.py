"""Ensembles: N models of one config trained from seeds S, S+1, …, S+N−1, kept as one run.

The seed program's author notes that results "depend highly on initial conditions"; an ensemble
shows how much. Member i is exactly the model a single run with seed S+i gives (so member 0 is
the single run with seed S). On the fast engine the members train at once in a parallel compiled
loop (``compiled.run_compiled``); on the torch engine one after another.

A forecast of an ensemble (``forecasting.forecast_ensemble``) is the median over the members at
each step, with the 10 % and 90 % percentiles as the band. The loss history of an ensemble run is
the median over the members of each step's loss.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..config import RunConfig
from ..errors import ConfigError
from .common import StepCallback, TrainResult, is_seed_loop, resolve_seed


@dataclass
class EnsembleResult(TrainResult):
    """A ``TrainResult`` whose ``model`` is member 0, with every member alongside."""

    members: list = field(default_factory=list)  # SequenceModel per member, members[0] is model
    seeds: list[int] = field(default_factory=list)  # seed of each member
    diverged: list[int] = field(default_factory=list)  # members whose loss became NaN/inf


def member_seeds(config: RunConfig) -> list[int]:
    """Seeds of the members: config.seed, config.seed + 1, …"""
    count = config.train.ensemble
    if count < 1:
        raise ConfigError(f"train.ensemble must be >= 1, got {count}")
    if config.seed + count > 2**63:
        raise ConfigError(f"seed + train.ensemble must be <= 2**63, got {config.seed} + {count}")
    return [config.seed + i for i in range(count)]


def train_ensemble(
    config: RunConfig,
    *,
    on_step: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EnsembleResult:
    """Train ``config.train.ensemble`` members; see the module docstring."""
    config = resolve_seed(config)
    seeds = member_seeds(config)
    if config.train.engine == "fast":
        return _train_compiled(config, seeds, on_step, should_stop)
    return _train_torch(config, seeds, on_step, should_stop)


def diverged_summary(diverged: list[int], count: int) -> str:
    """How many members diverged, and which (the first ten)."""
    if not diverged:
        return ""
    return (
        f"{len(diverged)} of {count} members diverged (members {', '.join(map(str, diverged[:10]))}"
        f"{', …' if len(diverged) > 10 else ''}); they keep their last finite weights"
    )


def _train_torch(config, seeds, on_step, should_stop) -> EnsembleResult:
    single = dataclasses.replace(config, train=dataclasses.replace(config.train, ensemble=1))
    from .seed import train_seed
    from .windowed import train_windows

    trainer = train_seed if is_seed_loop(single) else train_windows
    results = []
    started = time.perf_counter()
    for seed in seeds:
        result = trainer(dataclasses.replace(single, seed=seed), on_step=on_step, should_stop=should_stop)
        results.append(result)
        if result.status == "interrupted":
            break
    seconds = time.perf_counter() - started
    status = "interrupted" if results[-1].status == "interrupted" or len(results) < len(seeds) else "completed"
    diverged = [i for i, r in enumerate(results) if r.status == "diverged"]
    message = results[-1].message if status == "interrupted" else diverged_summary(diverged, len(seeds))
    if status == "interrupted":
        message = f"member {len(results) - 1}: {message}; {len(results) - 1} of {len(seeds)} members finished"
    longest = max(len(r.history) for r in results)
    losses = np.full((len(results), longest), np.nan)
    for i, r in enumerate(results):
        losses[i, : len(r.history)] = r.history
    first = results[0]
    return EnsembleResult(
        config, first.model, _median_loss(losses), status, seconds, first.context, message,
        data=first.data, warnings=first.warnings, validation=first.validation, best_step=first.best_step,
        members=[r.model for r in results], seeds=seeds[: len(results)], diverged=diverged,
    )


def _median_loss(losses: np.ndarray) -> list[float]:
    """Median over members (rows) of each step's loss, ignoring members that stopped."""
    counts = np.sum(np.isfinite(losses), axis=0)
    keep = counts > 0
    out = np.full(losses.shape[1], np.nan)
    if keep.any():
        out[keep] = np.nanmedian(losses[:, keep], axis=0)
    return [float(v) for v in out[np.isfinite(out)]]


def _train_compiled(config, seeds, on_step, should_stop) -> EnsembleResult:
    from .compiled import result_fields, run_compiled

    run = run_compiled(config, seeds, on_step=on_step, should_stop=should_stop)
    fields = result_fields(config, run.prepared)
    fields["warnings"] = []  # the members' readout warning is not repeated
    message = run.message or diverged_summary(run.diverged, len(seeds))
    result = CompiledEnsembleResult(
        config, None, run.history, run.status, run.seconds, run.context, message, **fields,
        validation=run.validation, best_step=run.best_step, weights=run.weights[0], members=None,
        seeds=list(seeds), diverged=run.diverged,
    )
    result.member_weights = run.weights
    return result


class CompiledEnsembleResult(EnsembleResult):
    """An ``EnsembleResult`` of the compiled engine: ``member_weights`` (an ``ArrayModel`` per
    member) are the trained members, evaluated and stored without torch; ``members`` and
    ``model`` (torch's ``SequenceModel`` of each, the same float32 weights) are built when first read."""

    member_weights: list = []

    @property
    def members(self) -> list:
        if self._members is None:
            self._members = [w.to_torch() for w in self.member_weights]
        return self._members

    @members.setter
    def members(self, value) -> None:
        self._members = value

    @property
    def model(self):
        return self.members[0]

    @model.setter
    def model(self, value) -> None:
        pass  # always member 0
