"""Training: the seed's per-sample loop, faithful to the bit, and the windowed loop for the rest.

A config that asks for exactly the seed's algorithm (``is_seed_loop``) runs the loop below;
anything else (minibatches, rollout training, schedules, early stopping, csv and dataset series,
scaling) runs the windowed loop of ``batched.py``.

``train(config)`` seeds Python's ``random`` and torch with ``config.seed`` once, builds the model
(which draws its initial weights from torch), and then, for each step, draws one window exactly
as the seed program does, predicts, and takes one optimizer step. After the loop it draws one
more window, the context the seed program generates from.

Ctrl-C (SIGINT) and a ``should_stop`` callback stop the loop between two steps, so the weights
are always those of the last finished step. A NaN or infinite loss stops it too, keeping the
last finite weights.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from .config import WAVEFORMS, RunConfig
from .data import SeedWindows, Window, series_values
from .errors import ConfigError
from .model import SequenceModel

# Called after every step with (step, total_steps, loss); step counts from 1.
StepCallback = Callable[[int, int, float], None]


@dataclass
class TrainResult:
    """What a training session produced."""

    config: RunConfig  # with the seed filled in
    model: SequenceModel
    history: list[float]  # loss of each finished step
    status: str  # "completed", "interrupted" or "diverged"
    seconds: float
    context: Window | None = None  # the window drawn after training (the seed's generation context)
    message: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def steps_done(self) -> int:
        return len(self.history)


def resolve_seed(config: RunConfig) -> RunConfig:
    """The config with a concrete seed: the given one, or a fresh one drawn from the OS."""
    if config.seed is not None:
        return config
    return dataclasses.replace(config, seed=random.SystemRandom().randrange(2**31))


@contextlib.contextmanager
def _interrupt_flag():
    """Turn SIGINT into a flag checked between steps (main thread only)."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        flag.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


class FiniteGuard:
    """Keeps the last finite weights: a copy of the parameters is taken before every update, so
    that an update that overflowed can be undone when the next loss comes out NaN or infinite."""

    def __init__(self, params):
        self.params = list(params)
        self.backup = [p.detach().clone() for p in self.params]

    def save(self) -> None:
        """Call before each optimizer step."""
        with torch.no_grad():
            for p, b in zip(self.params, self.backup):
                b.copy_(p)

    def diverged(self, loss: float, step: int, done: int, lr: float) -> str:
        """Restore the last finite weights; the message says where training stopped and why."""
        kept = done
        if not all(torch.isfinite(p).all() for p in self.params):
            kept -= 1  # the last update itself overflowed: undo it
            with torch.no_grad():
                for p, b in zip(self.params, self.backup):
                    p.copy_(b)
        return (
            f"loss became {loss} at step {step}; kept the last finite weights (step {kept}); "
            f"try a train.lr smaller than {lr}"
        )


def _make_optimizer(config: RunConfig, model: SequenceModel) -> torch.optim.Optimizer:
    t = config.train
    if t.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    if t.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    return torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)


def _check_supported(config: RunConfig) -> None:
    """Refuse what the trainers do not do yet."""
    t = config.train
    if t.patience:
        val = config.data.val_fraction
        if val == 0 or (val is None and config.data.series in WAVEFORMS):
            raise ConfigError(
                f"train.patience = {t.patience} needs a validation part: set data.val_fraction > 0"
            )


def check_config(config: RunConfig) -> None:
    """Refuse, before training, what the trainers cannot do or the series cannot hold."""
    _check_supported(config)
    if not is_seed_loop(config):
        from .data import prepare

        prepare(config.data, config.train.rollout)


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


def train(
    config: RunConfig,
    *,
    on_step: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a model as the config says; see the module docstring."""
    config = resolve_seed(config)
    _check_supported(config)
    if config.train.ensemble > 1:  # N models from seeds seed … seed+N-1, stored as one run
        from .ensemble import train_ensemble

        return train_ensemble(config, on_step=on_step, should_stop=should_stop)
    if config.train.engine == "fast":  # the compiled engine: same windows, same result format
        from .fast import train_fast

        return train_fast(config, on_step=on_step, should_stop=should_stop)
    if not is_seed_loop(config):
        from .batched import train_windows

        with _interrupt_flag() as interrupted:
            return train_windows(config, on_step=on_step, should_stop=should_stop, interrupted=interrupted)
    # The seed program: random.seed(S); torch.manual_seed(S); model = nn.RNN(1, 4)
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    model = SequenceModel(config.model)
    optimizer = _make_optimizer(config, model)
    model.train()

    windows = SeedWindows(config.data, rng)
    # The seed builds torch.tensor(list_of_floats): float32 values of the same doubles.
    series = torch.tensor(series_values(config.data).tolist(), dtype=torch.float32)  # (length,)
    guard = FiniteGuard(model.parameters())

    total = config.train.steps
    history: list[float] = []
    status, message = "completed", ""
    started = time.perf_counter()
    with _interrupt_flag() as interrupted:
        for step in range(1, total + 1):
            if interrupted.is_set() or (should_stop is not None and should_stop()):
                status, message = "interrupted", f"stopped after {len(history)} of {total} steps"
                break
            window = windows.draw()
            x = series[window.start : window.end].view(1, -1, 1)  # (batch=1, time, 1)
            y = series[window.end]  # the value after the context
            prediction, _ = model(x)  # (1, time)
            loss = F.mse_loss(prediction[0, -1], y)
            value = loss.item()
            if not math.isfinite(value):
                status, message = "diverged", guard.diverged(value, step, len(history), config.train.lr)
                break
            guard.save()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            history.append(value)
            if on_step is not None:
                on_step(step, total, value)
    seconds = time.perf_counter() - started
    model.eval()
    # The seed program draws one more window after training and generates from its inputs.
    context = windows.draw()
    return TrainResult(config, model, history, status, seconds, context, message)
