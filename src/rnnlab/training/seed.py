"""The seed's per-sample loop, faithful to the bit.

``train_seed(config)`` seeds Python's ``random`` and torch with ``config.seed`` once, builds the
model (which draws its initial weights from torch), and then, for each step, draws one window
exactly as the seed program does, predicts, and takes one optimizer step. After the loop it
draws one more window, the context the seed program generates from.
"""

from __future__ import annotations

import math
import random
import time
from typing import Callable

import torch
import torch.nn.functional as F

from ..config import RunConfig
from ..data import SeedWindows, series_values
from ..model import SequenceModel
from .common import FiniteGuard, StepCallback, TrainResult, loop_control, make_optimizer


def train_seed(
    config: RunConfig,
    *,
    on_step: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train as the seed program does; ``config.seed`` must be set."""
    # The seed program: random.seed(S); torch.manual_seed(S); model = nn.RNN(1, 4)
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    model = SequenceModel(config.model)
    optimizer = make_optimizer(config, model)
    model.train()

    windows = SeedWindows(config.data, rng)
    # The seed builds torch.tensor(list_of_floats): float32 values of the same doubles.
    series = torch.tensor(series_values(config.data).tolist(), dtype=torch.float32)  # (length,)
    guard = FiniteGuard(model.parameters())

    total = config.train.steps
    history: list[float] = []
    status, message = "completed", ""
    started = time.perf_counter()
    with loop_control(total, on_step, should_stop) as control:
        for step in range(1, total + 1):
            if control.stopped():
                status, message = "interrupted", control.stop_message(len(history))
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
            control.report(step, value)
    seconds = time.perf_counter() - started
    model.eval()
    # The seed program draws one more window after training and generates from its inputs.
    context = windows.draw()
    return TrainResult(config, model, history, status, seconds, context, message)
