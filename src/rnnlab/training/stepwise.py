"""The seed's loop one step at a time, every step laid open: the window drawn, the loss, each
weight's gradient and its update.

``StepTrainer(config)`` starts where ``train_seed`` starts (the same seed, initial weights and
windows) and ``step()`` takes one optimizer step, returning its ``TrainingStep``; after N steps
the weights are those of ``train_seed`` with ``train.steps = N``, bit for bit. ``reset()`` goes
back to step 0; ``result()`` is the ``TrainResult`` so far, stored like any other run.

One step, as ``train_seed`` takes it::

    window (start, end) drawn by the seed's rng;  x = series[start:end],  y = series[end]
    ŷ = model(x) at the last step;  L = (ŷ - y)²
    ∂L/∂θ by autograd;  θ ← optimizer(θ, ∂L/∂θ)   (sgd: θ - lr · ∂L/∂θ)
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch
import torch.nn.functional as F

from ..config import RunConfig
from ..data import SeedWindows, Window, series_values
from ..errors import InputError, RnnlabError
from ..model import SequenceModel
from .common import FiniteGuard, TrainResult, make_optimizer, resolve_seed
from .engines import is_seed_loop

# torch's global generator draws the initial weights; a start holds this lock while it does
SEEDING = threading.Lock()


class TrainingDiverged(RnnlabError):
    """The loss of a step is not a finite number; the weights stay those before it."""


@dataclass(frozen=True)
class TrainingStep:
    """One optimizer step, every number of it (weights under their stored names, float64)."""

    step: int  # 1, 2, …
    window: Window  # the context is series[start:end], the target series[end]
    context: tuple[float, ...]  # the values the cell read (the float32 series, as floats)
    target: float  # y
    prediction: float  # ŷ at the last step of the context
    loss: float  # L = (ŷ - y)²
    before: Mapping[str, np.ndarray]  # θ before the step
    gradients: Mapping[str, np.ndarray]  # ∂L/∂θ from autograd
    after: Mapping[str, np.ndarray]  # θ after the optimizer's step

    @property
    def update(self) -> dict[str, np.ndarray]:
        """θ_after - θ_before, per parameter."""
        return {name: self.after[name] - self.before[name] for name in self.before}


def float64_tensors(model: SequenceModel) -> dict[str, np.ndarray]:
    return {name: t.double().numpy() for name, t in model.tensors().items()}


class StepTrainer:
    """The seed's training loop, driven one step at a time."""

    def __init__(self, config: RunConfig):
        config = resolve_seed(config)
        if not is_seed_loop(config) or config.train.ensemble > 1:
            raise InputError("step-by-step training follows the seed's loop (a waveform, one window per plain "
                             "step, no batches, rollout, split, schedule or ensemble); this config asks for more")
        if config.model.dropout and config.model.num_layers > 1:
            raise InputError(f"step-by-step training needs model.dropout = 0, got {config.model.dropout}")
        self.config = config
        # The seed builds torch.tensor(list_of_floats): float32 values of the same doubles.
        self.series = torch.tensor(series_values(config.data).tolist(), dtype=torch.float32)  # (length,)
        self.reset()

    def reset(self) -> None:
        """Back to step 0: the initial weights and the first window again."""
        config = self.config
        self.rng = random.Random(config.seed)
        with SEEDING, torch.random.fork_rng(devices=[]):  # the global generator is left as it was
            torch.manual_seed(config.seed)
            self.model = SequenceModel(config.model)
        self.optimizer = make_optimizer(config, self.model)
        self.model.train()
        self.windows = SeedWindows(config.data, self.rng)
        self.history: list[float] = []
        self.seconds = 0.0
        self.guard = FiniteGuard(self.model.parameters())
        self.failure = ""  # the message of a step that diverged; no step follows it

    @property
    def steps_done(self) -> int:
        return len(self.history)

    def step(self) -> TrainingStep:
        """Take one optimizer step; ``TrainingDiverged`` when its loss is not finite."""
        if self.failure:
            raise TrainingDiverged(self.failure)
        started = time.perf_counter()
        window = self.windows.draw()
        x = self.series[window.start : window.end].view(1, -1, 1)  # (batch=1, time, 1)
        y = self.series[window.end]  # the value after the context
        before = float64_tensors(self.model)
        prediction, _ = self.model(x)  # (1, time)
        # L = (ŷ_T - y)²
        loss = F.mse_loss(prediction[0, -1], y)
        value = loss.item()
        if not math.isfinite(value):
            self.failure = self.guard.diverged(value, self.steps_done + 1, self.steps_done, self.config.train.lr)
            raise TrainingDiverged(self.failure)
        self.guard.save()
        self.optimizer.zero_grad()
        loss.backward()
        gradients = {
            (name[len("rnn."):] if name.startswith("rnn.") else name): p.grad.detach().double().numpy().copy()
            for name, p in self.model.named_parameters()
        }
        self.optimizer.step()
        self.history.append(value)
        self.seconds += time.perf_counter() - started
        return TrainingStep(self.steps_done, window, tuple(x.view(-1).double().tolist()), float(y),
                            float(prediction[0, -1].detach()), value, before, gradients, float64_tensors(self.model))

    def result(self) -> TrainResult:
        """The training so far as a ``TrainResult`` (the model in eval mode, a copy)."""
        if not self.history:
            raise InputError("take at least one training step before storing the run")
        model = SequenceModel(self.config.model)
        model.load_tensors(self.model.tensors())
        model.eval()
        rng = random.Random()
        rng.setstate(self.rng.getstate())  # the window train_seed draws after as many steps
        context = SeedWindows(self.config.data, rng).draw()
        status = "completed" if self.steps_done >= self.config.train.steps else "interrupted"
        message = "" if status == "completed" else (
            f"stepped {self.steps_done} of {self.config.train.steps} steps by hand")
        return TrainResult(self.config, model, list(self.history), status, self.seconds, context, message)
