"""What every trainer shares: the result, the seed, stop requests, the finite-weights guard, optimizers.

A training loop runs inside ``loop_control``: Ctrl-C (SIGINT) and a ``should_stop`` callback
stop it between two steps, so the weights are always those of the last finished step; a NaN or
infinite loss stops it too, keeping the last finite weights (``FiniteGuard``).

Nothing here imports torch at import time (the compiled engine's path never needs it); the torch
helpers import it when called.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import signal
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..config import RunConfig
from ..data import Window
from .engines import check_supported, is_seed_loop  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from ..model import SequenceModel

# Called after every step with (step, total_steps, loss); step counts from 1.
StepCallback = Callable[[int, int, float], None]


@dataclass
class TrainResult:
    """What a training session produced."""

    config: RunConfig  # with the seed filled in
    model: SequenceModel  # the compiled engine's results build it from ``weights`` when first read
    history: list[float]  # loss of each finished step
    status: str  # "completed", "interrupted" or "diverged"
    seconds: float
    context: Window | None = None  # the window drawn after training (the seed's generation context)
    message: str = ""
    data: dict | None = None  # Prepared.info(): split, scaling, season (None for the seed loop)
    warnings: list[str] = field(default_factory=list)  # said on stderr before the run is stored
    validation: list[tuple[int, float]] = field(default_factory=list)  # (step, validation loss)
    best_step: int | None = None  # the step whose weights early stopping restored
    weights: Any = None  # the compiled engine: the trained model as an ArrayModel (numpy, no torch)

    @property
    def steps_done(self) -> int:
        return len(self.history)


def resolve_seed(config: RunConfig) -> RunConfig:
    """The config with a concrete seed: the given one, or a fresh one drawn from the OS."""
    if config.seed is not None:
        return config
    return dataclasses.replace(config, seed=random.SystemRandom().randrange(2**31))


@contextlib.contextmanager
def interrupt_flag() -> Iterator[threading.Event]:
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


class LoopControl:
    """Stop requests and progress of one training loop: ``stopped()`` between steps, ``report``
    after each finished step."""

    def __init__(self, total: int, on_step: StepCallback | None, should_stop: Callable[[], bool] | None,
                 interrupted: threading.Event):
        self.total, self.on_step, self.should_stop, self.interrupted = total, on_step, should_stop, interrupted

    def stopped(self) -> bool:
        return self.interrupted.is_set() or (self.should_stop is not None and self.should_stop())

    def report(self, step: int, loss: float) -> None:
        if self.on_step is not None:
            self.on_step(step, self.total, loss)

    def stop_message(self, done: int) -> str:
        return f"stopped after {done} of {self.total} steps"


@contextlib.contextmanager
def loop_control(total: int, on_step: StepCallback | None = None,
                 should_stop: Callable[[], bool] | None = None) -> Iterator[LoopControl]:
    """A ``LoopControl`` with Ctrl-C turned into a stop request for the duration of the loop."""
    with interrupt_flag() as interrupted:
        yield LoopControl(total, on_step, should_stop, interrupted)


def diverged_message(loss: float, step: int, kept: int, lr: float) -> str:
    """Where training stopped on a NaN or infinite loss, which weights it kept, and what to try."""
    return (
        f"loss became {loss} at step {step}; kept the last finite weights (step {kept}); "
        f"try a train.lr smaller than {lr}"
    )


class FiniteGuard:
    """Keeps the last finite weights: a copy of the parameters is taken before every update, so
    that an update that overflowed can be undone when the next loss comes out NaN or infinite."""

    def __init__(self, params):
        self.params = list(params)
        self.backup = [p.detach().clone() for p in self.params]

    def save(self) -> None:
        """Call before each optimizer step."""
        import torch

        with torch.no_grad():
            for p, b in zip(self.params, self.backup):
                b.copy_(p)

    def diverged(self, loss: float, step: int, done: int, lr: float) -> str:
        """Restore the last finite weights; the message says where training stopped and why."""
        import torch

        kept = done
        if not all(torch.isfinite(p).all() for p in self.params):
            kept -= 1  # the last update itself overflowed: undo it
            with torch.no_grad():
                for p, b in zip(self.params, self.backup):
                    p.copy_(b)
        return diverged_message(loss, step, kept, lr)


def make_optimizer(config: RunConfig, model: SequenceModel) -> Any:
    """The torch optimizer of ``train.optimizer`` over the model's parameters."""
    import torch

    t = config.train
    if t.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    if t.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    return torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)


def make_schedule(config: RunConfig, optimizer):
    """``cosine`` anneals lr to 0 over the steps; ``step`` multiplies it by 0.1 at 1/2 and 3/4."""
    import torch

    t = config.train
    if t.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t.steps)
    if t.schedule == "step":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[t.steps // 2, (3 * t.steps) // 4], gamma=0.1)
    return None
