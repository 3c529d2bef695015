"""The fast engine: the training of ``rnnlab.train`` in compiled float64 code, for small models.

``train_fast(config)`` gives the same ``TrainResult`` as the torch engine: it seeds Python's
``random`` and torch with ``config.seed``, builds the ``SequenceModel`` (so the initial weights
are torch's), copies its weights into a flat float64 vector, runs the compiled loop
(``loop.train_steps``, or ``special.train_one`` for the seed's case: a 1-layer rnn trained by
plain per-sample SGD) and copies the result back into the model. Windows are drawn by a numba
copy of CPython's Mersenne Twister started from ``random.Random(seed)``'s state, so they are the
windows the torch engine draws, and the state is handed back to Python afterwards for the
forecast context. Losses and weights are float64 (the torch engine computes in float32).

Supported: cells rnn (tanh, relu), lstm, gru; 1–2 layers; readouts unit and linear; optimizers
sgd (with momentum), adam, adamw; weight decay; gradient clipping; the seed's one window per step,
sampled minibatches (``train.batch_size`` windows per step) and the full batch
(``train.batch_size`` 0: every window at every step); rollout training (``train.rollout`` R > 1:
the loss over R predictions, each fed back as the next input, backpropagated through the
feedback); schedules constant, cosine and step; any series ``data.prepare`` gives with the
seed's variable-length windows (``context_length`` 0). Anything else raises ``ConfigError``
naming the setting.
"""

from __future__ import annotations

import random
import time
from typing import Callable

import numpy as np

from ..config import RunConfig
from ..errors import ConfigError
from .layout import Layout, layout

OPTIMIZER_CODE = {"sgd": 0, "adam": 1, "adamw": 2}
MAX_LAYERS = 2
MAX_HIDDEN = 256
CHUNK_STEPS = 1000  # steps per compiled call; progress and Ctrl-C are handled between calls


def check_supported(config: RunConfig) -> None:
    """Raise ConfigError for a configuration the fast engine does not implement."""
    m, t, d = config.model, config.train, config.data
    problems = [
        (m.num_layers <= MAX_LAYERS, f"model.num_layers = {m.num_layers}: the fast engine has 1 or 2 layers"),
        (m.hidden_size <= MAX_HIDDEN, f"model.hidden_size = {m.hidden_size}: the fast engine is for small models (<= {MAX_HIDDEN} units, no BLAS)"),
        (getattr(m, "dropout", 0.0) == 0, f"model.dropout = {getattr(m, 'dropout', 0.0)}: the fast engine has no dropout"),
        (d.horizon == 1, f"data.horizon = {d.horizon}: the fast engine trains and scores one value per window"),
        (t.patience == 0, f"train.patience = {t.patience}: the fast engine has no validation loop for early stopping"),
        (t.loss == "mse", f"train.loss = {t.loss!r}: the fast engine implements mse only"),
        (not getattr(d, "context_length", 0), f"data.context_length = {getattr(d, 'context_length', 0)}: the fast engine draws the seed's variable-length windows only (set data.context_length = 0)"),
    ]
    for ok, message in problems:
        if not ok:
            raise ConfigError(f"{message}; use --engine torch")


def window_count(last: int, low: int) -> int:
    """Number of distinct windows over series[0:last+1] (560 for the seed preset)."""
    return sum(last + 2 - (start + low) for start in range(0, last - low + 1))


def problem(config: RunConfig) -> dict:
    """Everything the compiled loop needs besides the weights, as plain numpy values."""
    from ..data import prepare

    lay = layout(config.model)
    t = config.train
    prepared = prepare(config.data, t.rollout)
    if prepared.context_length:  # csv and dataset series default to fixed contexts
        raise ConfigError(
            f"data.context_length = {prepared.context_length} (the default for {config.data.series} series): "
            "the fast engine draws the seed's variable-length windows only; set data.context_length = 0 "
            "or use --engine torch"
        )
    size = prepared.split.train_end
    # The torch engine trains on float32 tensors of the (scaled) series: use the same values.
    series = np.asarray(prepared.scaled[:size], dtype=np.float32).astype(np.float64)  # (size,)
    last = size - 1
    low = config.data.min_length + t.rollout  # the shortest window plus its targets
    hyper = np.array([t.momentum, t.weight_decay, 0.9, 0.999, 1e-8, t.clip_grad, t.rollout], dtype=np.float64)
    return dict(
        layout=lay, prepared=prepared, series=series, last=last, low=low,
        full=int(t.batch_size == 0), batch=max(t.batch_size, 1),
        opt=OPTIMIZER_CODE[t.optimizer], hyper=hyper,
    )


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


def initial_model(config: RunConfig, seed: int):
    """The torch model a run seeded with ``seed`` starts from (torch.manual_seed, then build)."""
    import torch

    from ..model import SequenceModel

    torch.manual_seed(seed)
    return SequenceModel(config.model)


def load_into(model, lay: Layout, theta: np.ndarray) -> None:
    """Copy a flat float64 vector into a SequenceModel's parameters."""
    import torch

    model.load_tensors({name: torch.from_numpy(value) for name, value in lay.unpack(theta).items()})


def train_fast(
    config: RunConfig,
    *,
    on_step: Callable[[int, int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
):
    """Train one model with the compiled loop; returns a ``TrainResult`` like the torch engine."""
    return run_fast(config, on_step=on_step, should_stop=should_stop)[0]


def run_fast(
    config: RunConfig,
    *,
    on_step: Callable[[int, int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
):
    """``train_fast``, also returning the trained weights in float64 by name (before the float32 copy)."""
    from ..data import RandomWindows, readout_warning
    from ..train import TrainResult, _interrupt_flag, is_seed_loop, resolve_seed
    from . import loop, mt, special

    config = resolve_seed(config)
    check_supported(config)
    rng = random.Random(config.seed)
    model = initial_model(config, config.seed)
    p = problem(config)
    lay: Layout = p["layout"]
    theta = lay.pack(model.tensors())
    state = mt.state_of(rng)
    m, v = np.zeros(lay.size), np.zeros(lay.size)
    total = config.train.steps
    losses = np.empty(total)
    done, status, message = 0, "completed", ""
    started = time.perf_counter()
    with _interrupt_flag() as interrupted:
        while done < total:
            if interrupted.is_set() or (should_stop is not None and should_stop()):
                status, message = "interrupted", f"stopped after {done} of {total} steps"
                break
            count = min(CHUNK_STEPS, total - done)
            if special.applies(config):  # the seed's case, compiled on its own (same numbers)
                steps, restored = special.train_one(
                    special.units(lay.spec[3]), int(lay.spec[1]), int(lay.spec[4]), theta, p["series"],
                    p["last"], p["low"], state, learning_rates(config, done, count), losses[done : done + count],
                )
            else:
                steps, restored = loop.train_steps(
                    theta, lay.spec, lay.offsets, p["series"], p["last"], p["low"], p["full"], p["batch"],
                    state, done, learning_rates(config, done, count), p["opt"], p["hyper"], m, v,
                    losses[done : done + count],
                )
            if on_step is not None:
                for i in range(done, done + steps):
                    on_step(i + 1, total, float(losses[i]))
            done += steps
            if steps < count:
                kept = done - 1 if restored else done
                status = "diverged"
                message = (
                    f"loss became {losses[done]} at step {done + 1}; kept the last finite weights "
                    f"(step {kept}); try a train.lr smaller than {config.train.lr}"
                )
                break
    seconds = time.perf_counter() - started
    load_into(model, lay, theta)
    model.eval()
    mt.load_state(rng, state)
    # the window drawn after training, as the seed program draws its generation context
    context = RandomWindows(p["last"], config.data.min_length, config.train.rollout, rng).draw()
    history = losses[:done].tolist()
    extra = {}
    if not is_seed_loop(config):  # what the torch engine's windowed loop reports
        warning = readout_warning(p["prepared"], config.model.readout)
        extra.update(data=p["prepared"].info(), warnings=[warning] if warning else [], validation=[], best_step=None)
    return TrainResult(config, model, history, status, seconds, context, message, extra), lay.unpack(theta)
