"""The compiled engine as a trainer: one driver for 1…N models of one config.

``train_compiled(config)`` gives the same ``TrainResult`` as the torch engine: it seeds Python's
``random`` with ``config.seed``, draws the initial weights torch would draw after
``torch.manual_seed(config.seed)`` (``initial.py``, without importing torch), copies them into a
flat float64 vector, runs the compiled loop (``fast.loop``, or ``fast.special`` for the seed's
case: a 1-layer rnn trained by plain per-sample SGD) and keeps the result as float32 arrays (an
``ArrayModel``, the stored model; ``result.model`` builds torch's ``SequenceModel`` from it when
first read). Windows are drawn by a numba copy of CPython's Mersenne Twister started from
``random.Random(seed)``'s state, so they are the windows the torch engine draws, and the state
is handed back to Python afterwards for the forecast context. Losses and weights are float64
(the torch engine computes in float32).

``run_compiled(config, seeds)`` trains one model per seed at once (an ensemble: member i is the
model of seed ``seeds[i]``), in a parallel compiled loop over the models. In the seed's case an
ensemble of at least ``lanes.WIDTH`` members runs in SIMD lanes (``fast.lanes``): each member
still draws its own windows, so member i is the single run of seed ``seeds[i]`` to rounding (the
lanes' vectorised tanh is within 2 ulp of libm's); smaller ensembles and single runs take the
exact per-member path (``fast.special``), equal to the single runs bit for bit.

Supported: cells rnn (tanh, relu), lstm, gru; 1–2 layers; readouts unit and linear; optimizers
sgd (with momentum), adam, adamw; weight decay; gradient clipping; the seed's one window per step,
sampled minibatches (``train.batch_size`` windows per step) and the full batch
(``train.batch_size`` 0: every window at every step); rollout training (``train.rollout`` R > 1:
the loss over R predictions, each fed back as the next input, backpropagated through the
feedback); schedules constant, cosine and step; any series ``data.prepare`` gives, with the
seed's variable-length windows or fixed contexts (``data.context_length``, the default for csv and
dataset series), read relative to their last value or not (``data.level``); validation every
``train.val_every`` steps and early stopping (``train.patience``) with the best weights restored
(``validation.py``). Anything else raises ``ConfigError`` naming the setting.
"""

from __future__ import annotations

import functools
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from ..arraymodel import ArrayModel
from ..config import RunConfig
from ..data import Prepared, Window, prepare, readout_warning, training_windows
from ..errors import ConfigError
from ..fast import Layout, Problem, lanes, layout, loop, mt, special
from ..initial import initial_parameters
from .engines import fast_unsupported
from .validation import Validation
from .common import StepCallback, TrainResult, diverged_message, is_seed_loop, loop_control, resolve_seed

if TYPE_CHECKING:
    from ..model import SequenceModel

OPTIMIZER_CODE = {"sgd": 0, "adam": 1, "adamw": 2}
CHUNK_STEPS = 1000  # steps per compiled call for one model: progress and Ctrl-C between calls
MEMBER_STEPS_PER_CALL = 200_000  # member-steps per compiled call for many models


def check_supported(config: RunConfig) -> None:
    """Raise ConfigError for a configuration the compiled engine does not implement."""
    message = fast_unsupported(config)
    if message:
        raise ConfigError(f"{message}; use --engine torch")


def problem(config: RunConfig, prepared: Prepared | None = None) -> tuple[Layout, Problem, Prepared]:
    """The model's layout, everything the compiled loop needs besides the weights, and the prepared series."""
    t = config.train
    prepared = prepared or prepare(config.data, t.rollout)
    size = prepared.split.train_end
    # The torch engine trains on float32 tensors of the (scaled) series: use the same values.
    series = np.asarray(prepared.scaled[:size], dtype=np.float32).astype(np.float64)  # (size,)
    lay = layout(config.model)
    return lay, Problem.build(
        lay, series, min_length=config.data.min_length, rollout=prepared.targets, batch_size=t.batch_size,
        optimizer=OPTIMIZER_CODE[t.optimizer], momentum=t.momentum, weight_decay=t.weight_decay,
        clip=t.clip_grad, context=prepared.context_length, relative=prepared.relative,
    ), prepared


def learning_rates(config: RunConfig, first: int, count: int) -> np.ndarray:
    """Learning rate of steps first+1 … first+count, as the torch engine's schedulers set it."""
    t = config.train
    index = np.arange(first, first + count, dtype=np.float64)  # steps already taken
    if t.schedule == "cosine":  # CosineAnnealingLR(T_max=steps), eta_min 0
        return t.lr * (1.0 + np.cos(np.pi * index / t.steps)) / 2.0
    if t.schedule == "step":  # MultiStepLR at 1/2 and 3/4 of the steps, gamma 0.1
        drops = (index >= t.steps // 2).astype(int) + (index >= (3 * t.steps) // 4).astype(int)
        return t.lr * 0.1**drops
    return np.full(count, t.lr, dtype=np.float64)


def initial_model(config: RunConfig, seed: int) -> SequenceModel:
    """The torch model a run seeded with ``seed`` starts from (torch.manual_seed, then build);
    ``initial.initial_parameters`` draws the same weights without torch."""
    import torch

    from ..model import SequenceModel

    torch.manual_seed(seed)
    return SequenceModel(config.model)


def load_into(model: SequenceModel, lay: Layout, theta: np.ndarray) -> None:
    """Copy a flat float64 vector into a SequenceModel's parameters."""
    import torch

    model.load_tensors({name: torch.from_numpy(value) for name, value in lay.unpack(theta).items()})


class CompiledResult(TrainResult):
    """A ``TrainResult`` of the compiled engine: ``weights`` (an ``ArrayModel``) is the trained
    model, evaluated and stored without torch; ``model`` (torch's ``SequenceModel``, the same
    float32 weights) is built from it when first read."""

    @property
    def model(self):
        if self._model is None:
            self._model = self.weights.to_torch()
        return self._model

    @model.setter
    def model(self, value) -> None:
        self._model = value


@dataclass
class CompiledRun:
    """What ``run_compiled`` produced for models of seeds ``seeds``."""

    weights: list[ArrayModel]  # one per seed, trained: float32 arrays (``models``: as torch modules)
    thetas: np.ndarray  # (models, P) the trained weights in float64 (before the float32 copy)
    layout: Layout
    prepared: Prepared
    history: list[float]  # each step's loss (the median over the models still running)
    status: str
    message: str  # why it stopped early (for one model; many: see ``diverged``)
    seconds: float
    context: Window  # the window model 0's generator draws after training, as its own run
    diverged: list[int]  # models whose loss became NaN or infinite (they keep their last finite weights)
    validation: list[tuple[int, float]] = field(default_factory=list)  # model 0's (step, validation loss)
    best_step: int | None = None  # model 0's restored step (train.patience)

    @functools.cached_property
    def models(self) -> list[SequenceModel]:
        """The trained models as torch modules in eval mode (imports torch)."""
        return [w.to_torch() for w in self.weights]


def _medians(losses: np.ndarray) -> list[float]:
    """The median over the models still running at each step (rows: models), up to the first
    step where none is."""
    if np.isfinite(losses).all():
        return np.median(losses, axis=0).tolist()
    medians = []
    for column in losses.T:
        finite = column[np.isfinite(column)]
        if finite.size == 0:
            break
        medians.append(float(np.median(finite)))
    return medians


def run_compiled(
    config: RunConfig,
    seeds: Sequence[int],
    *,
    on_step: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    prepared: Prepared | None = None,
    exact: bool = False,
) -> CompiledRun:
    """Train one model per seed with the compiled loop; see the module docstring. ``exact``: the
    seed's case takes the per-member path even for many members (each equal to its single run
    bit for bit), not the SIMD lanes."""
    check_supported(config)
    lay, p, prepared = problem(config, prepared)
    t = config.train
    count, total = len(seeds), t.steps
    rngs = [random.Random(seed) for seed in seeds]
    thetas = np.stack([lay.pack(initial_parameters(config.model, seed)) for seed in seeds])  # (models, P)
    states = np.stack([mt.state_of(rng) for rng in rngs])  # (models, 625)
    moments = np.zeros_like(thetas), np.zeros_like(thetas)  # Adam's m and v, SGD's momentum in m
    done = np.zeros((count, 2), dtype=np.int64)  # per model: steps done, weights restored
    chunk = CHUNK_STEPS if count == 1 else MEMBER_STEPS_PER_CALL // count
    chunk = max(1, min(total, chunk))
    seed_case = special.applies(config) and not p.context
    units = special.units(config.model.hidden_size)  # the seed case's compile-time hidden size
    validation = Validation(prepared, p.rollout, thetas, t.patience) if prepared.split.val_size else None
    validating = validation is not None and validation.usable
    early = np.zeros(count, dtype=bool)  # models stopped by train.patience
    history: list[float] = []
    status, message, step0 = "completed", "", 0
    started = time.perf_counter()
    with loop_control(total, on_step, should_stop) as control:
        while step0 < total:
            if control.stopped():
                status, message = "interrupted", control.stop_message(step0)
                break
            steps = min(chunk, total - step0)
            if validating:  # stop at the next validation
                steps = min(steps, t.val_every - step0 % t.val_every)
            losses = np.full((count, steps), np.nan)
            lrs = learning_rates(config, step0, steps)
            if seed_case and count >= lanes.WIDTH and not exact:  # many members side by side in SIMD lanes
                lanes.train_many(units, p, thetas, states, step0, lrs, losses, done)
            elif seed_case:  # the seed's case, compiled on its own (same numbers)
                (special.train_one if count == 1 else special.train_many)(units, p, thetas, states, step0, lrs, losses, done)
            else:
                (loop.train_one if count == 1 else loop.train_many)(p, thetas, states, step0, lrs, moments[0], moments[1],
                                                                   losses, done)
            medians = _medians(losses)
            for i, median in enumerate(medians):
                history.append(median)
                control.report(step0 + i + 1, median)
            step0 += steps
            running = done[:, 0] == step0
            if validating and (step0 % t.val_every == 0 or step0 == total):
                stopping = validation.update(lay, thetas, running, step0)
                early |= stopping
                done[stopping, 0] = -1  # the compiled loop skips them from now on
                running &= ~stopping
            if not running.any():  # every model diverged or stopped early
                break
    seconds = time.perf_counter() - started
    diverged = [i for i in range(count) if done[i, 0] < step0 and not early[i]]
    if status == "completed" and count == 1 and diverged:  # many models: the caller sums them up
        steps_done, restored = int(done[0, 0]), bool(done[0, 1])
        status = "diverged"
        message = diverged_message(losses[0, steps_done - (step0 - steps)], steps_done + 1,
                                   steps_done - 1 if restored else steps_done, t.lr)
    best_step = None
    if validating and t.patience and status == "completed":
        validation.restore(thetas)
        best_step = int(validation.best_step[0]) or None
        if count == 1:
            stop = f"early stop at step {step0}: no better validation loss for {t.patience} validations; " if early[0] else ""
            message = f"{stop}best validation loss {validation.best[0]:.6g} at step {best_step} restored"
    weights = [ArrayModel(config.model, lay.unpack(theta)) for theta in thetas]  # float32, as stored
    mt.load_state(rngs[0], states[0])
    # the window drawn after training, as each engine draws it (the seed's generation context)
    context = training_windows(prepared, config.data.min_length, rngs[0]).draw()
    return CompiledRun(weights, thetas, lay, prepared, history, status, message, seconds, context, diverged,
                       validation.history if validating else [], best_step)


def result_fields(config: RunConfig, prepared: Prepared) -> dict:
    """The typed ``TrainResult`` fields the windowed torch loop reports (none for the seed loop)."""
    if is_seed_loop(config):
        return {}
    warning = readout_warning(prepared, config.model.readout)
    return {"data": prepared.info(), "warnings": [warning] if warning else []}


def train_compiled(
    config: RunConfig,
    *,
    on_step: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train one model with the compiled loop; returns a ``TrainResult`` like the torch engine."""
    return train_compiled_exact(config, on_step=on_step, should_stop=should_stop)[0]


def train_compiled_exact(config: RunConfig, **kwargs) -> tuple[TrainResult, dict[str, np.ndarray]]:
    """``train_compiled``, also returning the trained weights in float64 by name (before the
    float32 copy into the model): what the tests compare with float64 references."""
    config = resolve_seed(config)
    run = run_compiled(config, [config.seed], **kwargs)
    result = CompiledResult(config, None, run.history, run.status, run.seconds, run.context, run.message,
                            **result_fields(config, run.prepared), validation=run.validation, best_step=run.best_step,
                            weights=run.weights[0])
    return result, run.layout.unpack(run.thetas[0])
