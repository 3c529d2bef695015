"""Ensembles: N models of one config trained from seeds S, S+1, …, S+N−1, kept as one run.

The seed program's author notes that results "depend highly on initial conditions"; an ensemble
shows how much. Member i is exactly the model ``train`` gives for seed S+i (so member 0 is the
single run with seed S). On the fast engine the members train at once in a parallel compiled loop
(``fast.loop.train_many``, or ``fast.special.train_many`` for the seed's case); on the torch
engine one after another.

A forecast of an ensemble (``forecast.forecast_ensemble``) is the median over the members at each
step, with the 10 % and 90 % percentiles (linear interpolation, ``numpy.percentile``) as the band. The loss history of an
ensemble run is the median over the members of each step's loss.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .config import RunConfig
from .errors import ConfigError
from .train import TrainResult, _interrupt_flag, resolve_seed

BAND = (10.0, 90.0)  # percentiles of the forecast band
MEMBER_STEPS_PER_CALL = 200_000  # member-steps per compiled call: progress/Ctrl-C between calls


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
    on_step: Callable[[int, int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EnsembleResult:
    """Train ``config.train.ensemble`` members; see the module docstring."""
    config = resolve_seed(config)
    seeds = member_seeds(config)
    if config.train.engine == "fast":
        return _train_fast(config, seeds, on_step, should_stop)
    return _train_torch(config, seeds, on_step, should_stop)


def _summary(diverged: list[int], count: int) -> str:
    if not diverged:
        return ""
    return (
        f"{len(diverged)} of {count} members diverged (members {', '.join(map(str, diverged[:10]))}"
        f"{', …' if len(diverged) > 10 else ''}); they keep their last finite weights"
    )


def _train_torch(config, seeds, on_step, should_stop) -> EnsembleResult:
    from .train import train

    single = dataclasses.replace(config, train=dataclasses.replace(config.train, ensemble=1))
    results = []
    started = time.perf_counter()
    for seed in seeds:
        result = train(dataclasses.replace(single, seed=seed), on_step=on_step, should_stop=should_stop)
        results.append(result)
        if result.status == "interrupted":
            break
    seconds = time.perf_counter() - started
    status = "interrupted" if results[-1].status == "interrupted" or len(results) < len(seeds) else "completed"
    diverged = [i for i, r in enumerate(results) if r.status == "diverged"]
    message = results[-1].message if status == "interrupted" else _summary(diverged, len(seeds))
    if status == "interrupted":
        message = f"member {len(results) - 1}: {message}; {len(results) - 1} of {len(seeds)} members finished"
    longest = max(len(r.history) for r in results)
    losses = np.full((len(results), longest), np.nan)
    for i, r in enumerate(results):
        losses[i, : len(r.history)] = r.history
    history = _median_loss(losses)
    first = results[0]
    return EnsembleResult(
        config, first.model, history, status, seconds, first.context, message, dict(first.extra),
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


def _train_fast(config, seeds, on_step, should_stop) -> EnsembleResult:
    from .data import RandomWindows
    from .fast import engine, loop, mt, special

    engine.check_supported(config)
    seed_case = special.applies(config)
    p = engine.problem(config)
    lay = p["layout"]
    count, total = len(seeds), config.train.steps
    rngs = [random.Random(seed) for seed in seeds]
    models = [engine.initial_model(config, seed) for seed in seeds]
    thetas = np.stack([lay.pack(m.tensors()) for m in models])  # (members, P)
    states = np.stack([mt.state_of(rng) for rng in rngs])  # (members, 625)
    ms, vs = np.zeros_like(thetas), np.zeros_like(thetas)
    done = np.zeros((count, 2), dtype=np.int64)  # steps done, weights restored
    chunk = max(1, min(total, MEMBER_STEPS_PER_CALL // count))
    history: list[float] = []
    status, message, step0 = "completed", "", 0
    started = time.perf_counter()
    with _interrupt_flag() as interrupted:
        while step0 < total:
            if interrupted.is_set() or (should_stop is not None and should_stop()):
                status, message = "interrupted", f"stopped after {step0} of {total} steps"
                break
            steps = min(chunk, total - step0)
            losses = np.full((count, steps), np.nan)
            lrs = engine.learning_rates(config, step0, steps)
            if seed_case:  # the seed's case, compiled on its own (same numbers)
                special.train_many(
                    special.units(lay.spec[3]), int(lay.spec[1]), int(lay.spec[4]), thetas, p["series"],
                    p["last"], p["low"], states, step0, lrs, losses, done,
                )
            else:
                loop.train_many(
                    thetas, lay.spec, lay.offsets, p["series"], p["last"], p["low"], p["full"], p["batch"],
                    states, step0, lrs, p["opt"], p["hyper"], ms, vs, losses, done,
                )
            running = done[:, 0] == step0 + steps
            if np.isfinite(losses).all():  # every member ran every step: the medians at once
                medians = np.median(losses, axis=0).tolist()  # (steps,)
            else:
                medians = []
                for i in range(steps):  # the median over the members still running at that step
                    column = losses[:, i]
                    finite = column[np.isfinite(column)]
                    if finite.size == 0:
                        break
                    medians.append(float(np.median(finite)))
            for i, median in enumerate(medians):
                history.append(median)
                if on_step is not None:
                    on_step(step0 + i + 1, total, median)
            step0 += steps
            if not running.any():
                break
    seconds = time.perf_counter() - started
    diverged = [i for i in range(count) if done[i, 0] < step0]
    if status == "completed":
        message = _summary(diverged, count)
    for model, theta in zip(models, thetas):
        engine.load_into(model, lay, theta)
        model.eval()
    mt.load_state(rngs[0], states[0])
    context = RandomWindows(p["last"], config.data.min_length, config.train.rollout, rngs[0]).draw()  # member 0's, as its own run
    extra = {}
    from .train import is_seed_loop

    if not is_seed_loop(config):
        extra = {"data": p["prepared"].info(), "warnings": [], "validation": [], "best_step": None}
    return EnsembleResult(
        config, models[0], history, status, seconds, context, message, extra,
        members=models, seeds=seeds, diverged=diverged,
    )


# -- evaluation ----------------------------------------------------------------------------------


def _spread(values: np.ndarray) -> dict[str, float]:
    low, median, high = np.percentile(values, [BAND[0], 50.0, BAND[1]])
    return {
        "min": float(values.min()), "p10": float(low), "median": float(median),
        "p90": float(high), "max": float(values.max()),
    }


def evaluate_ensemble(config: RunConfig, members: Sequence, steps: int = 10) -> dict:
    """Seed-task scores of the ensemble's median forecast, and their spread over the members.

    Like ``evaluate_seed_task`` (every window of one period of the waveform, ``steps``-step
    rollouts) but for all members at once, with the compiled forward pass (float64). Returns
    ``one_step_mse`` / ``rollout_rmse`` of the median forecast at the top level (as a single
    run's metrics), ``naive``, and ``members``: min / p10 / median / p90 / max of each score.
    """
    from .config import WAVEFORMS
    from .data import all_seed_windows, prepare, series_values, true_value
    from .evaluate import _scores, seed_task_data
    from .fast import layout, loop

    if config.data.series not in WAVEFORMS:
        return {"members": {"count": len(members)}}
    one = seed_task_data(config.data)
    scaler = prepare(config.data, config.train.rollout).scaler
    series = series_values(one)
    windows = list(all_seed_windows(one))
    longest = max(w.length for w in windows)
    contexts = np.zeros((len(windows), longest))  # (windows, longest), zero-padded
    for i, w in enumerate(windows):
        contexts[i, : w.length] = scaler.transform(series[w.start : w.end])
    lengths = np.array([w.length for w in windows], dtype=np.int64)
    lay = layout(config.model)
    thetas = np.stack([lay.pack(m.tensors()) for m in members])  # (members, P)
    out = np.zeros((len(members), len(windows), steps))
    loop.forecast_many(thetas, lay.spec, lay.offsets, contexts, lengths, steps, out)
    out = scaler.inverse(out)  # (members, windows, steps)
    truth = np.array([[true_value(one, w.end + k) for k in range(steps)] for w in windows])
    naive = np.repeat(np.array([series[w.end - 1] for w in windows])[:, None], steps, axis=1)
    errors = out - truth  # (members, windows, steps)
    member_mse = np.mean(errors[:, :, 0] ** 2, axis=1)
    member_rmse = np.mean(np.sqrt(np.mean(errors**2, axis=2)), axis=1)
    median = _scores(np.median(out, axis=0), truth)
    return {
        "windows": len(windows),
        "steps": steps,
        "model": median,
        "naive": _scores(naive, truth),
        **median,
        "members": {
            "count": len(members),
            "one_step_mse": _spread(member_mse),
            "rollout_rmse": _spread(member_rmse),
        },
    }
