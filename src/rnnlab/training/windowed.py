"""The windowed training loop: any series, minibatches, optimizers, schedules, early stopping.

Each step draws ``batch_size`` windows from the training part (the seed's variable-length
windows, or fixed contexts of ``data.context_length``; ``batch_size`` 0: every window at every
step), runs them through the cell — windows of different lengths grouped by start, padded after
their ends, each taking the state at its own end, so no padding reaches a prediction — and takes
one optimizer step on

    loss = mean over windows and k = 1…R of (ŷ_k − y_k)²,

where ŷ_1 is the prediction after the context and, with rollout training (``train.rollout`` R > 1),
ŷ_k for k > 1 is the prediction after feeding ŷ_{k−1} back as the next input; the loss is
backpropagated through that feedback. Values are scaled as ``data.scaling`` says, with the scaler
fitted on the training part only.

With a validation part, the validation loss (the same R-step rollout from every origin of the
validation part) is computed every ``val_every`` steps; with ``patience`` P > 0, training stops
after P validations without a better one and the best weights are restored.

Schedules: ``cosine`` anneals lr to 0 over the steps; ``step`` multiplies it by 0.1 at 1/2 and at
3/4 of the steps.
"""

from __future__ import annotations

import math
import random
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..config import RunConfig
from ..data import Prepared, Window, every_training_window, prepare, readout_warning, training_windows
from ..forecasting import forecast_at
from ..model import SequenceModel
from .common import FiniteGuard, StepCallback, TrainResult, loop_control, make_optimizer, make_schedule


def _readout(model: SequenceModel, h: torch.Tensor) -> torch.Tensor:
    """The prediction from the top layer's hidden state h: (batch, hidden) -> (batch,)."""
    if model.readout is None:
        return h[..., -1]
    return model.readout(h).squeeze(-1)


def _gather_state(state, rows: torch.Tensor):
    """The state of the given batch rows: h (layers, batch, hidden), or (h, c) for lstm."""
    if isinstance(state, tuple):
        return tuple(part[:, rows] for part in state)
    return state[:, rows]


def _after_contexts(model: SequenceModel, series: torch.Tensor, windows: list[Window], levels: torch.Tensor | None = None):
    """The prediction after each window's context and the state there: (batch,), state.

    Windows of one length run as one (batch, time, 1) tensor. Windows of different lengths run
    grouped by start: one sequence per distinct start, as long as its longest window (padded with
    zeros after the series' end, which no window reaches, the cell being causal); each window
    then takes the state at its own end. A one-layer rnn or gru has its whole state in its output
    at every step, so one call does; other cells step through time and keep the states needed.
    """
    lengths = [w.length for w in windows]
    if len(set(lengths)) == 1:
        index = torch.tensor([list(range(w.start, w.end)) for w in windows])  # (batch, time)
        x = series[index] if levels is None else series[index] - levels[:, None]  # (batch, time)
        prediction, state = model(x.unsqueeze(-1))  # (batch, time)
        return prediction[:, -1], state
    assert levels is None, "relative windows have one length (fixed contexts)"
    starts = sorted({w.start for w in windows})
    row_of = {s: r for r, s in enumerate(starts)}
    longest = max(lengths)
    padded = torch.cat([series, series.new_zeros(longest)])
    index = torch.tensor(starts).view(-1, 1) + torch.arange(longest).view(1, -1)  # (starts, longest)
    x = padded[index].unsqueeze(-1)  # (starts, longest, 1)
    rows = torch.tensor([row_of[w.start] for w in windows])  # (batch,)
    ends = torch.tensor(lengths) - 1  # (batch,) position of each context's last value
    config = model.config
    if config.cell in ("rnn", "gru") and config.num_layers == 1:
        out, _ = model.rnn(x)  # (starts, longest, hidden): the state after every step
        flat = out.reshape(-1, out.shape[-1])  # (starts * longest, hidden)
        h = flat.index_select(0, rows * longest + ends)  # (batch, hidden); cheaper backward than out[rows, ends]
        return _readout(model, h), h.unsqueeze(0)  # state: (1, batch, hidden)
    by_end: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_end.setdefault(w.length - 1, []).append(i)
    state, values, states, order = None, [], [], []
    for t in range(longest):
        prediction, state = model(x[:, t : t + 1], state)  # one step: (starts, 1)
        if t in by_end:
            picked = by_end[t]
            values.append(prediction[rows[picked], -1])
            states.append(_gather_state(state, rows[picked]))
            order.extend(picked)
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(len(order))
    value = torch.cat(values)[inverse]
    if isinstance(states[0], tuple):
        state = tuple(torch.cat(parts, dim=1)[:, inverse] for parts in zip(*states))
    else:
        state = torch.cat(states, dim=1)[:, inverse]
    return value, state


def rollout_predictions(model: SequenceModel, series: torch.Tensor, windows: list[Window], steps: int,
                        relative: bool = False) -> torch.Tensor:
    """Predictions after each window's context, fed back ``steps``−1 times: (batch, steps), differentiable.

    series: (length,) float32. ``relative``: the network reads each window minus its context's
    last value, and its outputs are shifted back by it (``data.level = "last"``).
    """
    levels = series[torch.tensor([w.end - 1 for w in windows])] if relative else None  # (batch,)
    value, state = _after_contexts(model, series, windows, levels)  # (batch,)
    values = [value]
    for _ in range(steps - 1):
        prediction, state = model(value.view(-1, 1, 1), state)  # one step: (batch, 1, 1) in
        value = prediction[:, -1]
        values.append(value)
    out = torch.stack(values, dim=1)  # (batch, steps)
    return out if levels is None else out + levels[:, None]


def targets_of(series: torch.Tensor, windows: list[Window], steps: int) -> torch.Tensor:
    """The ``steps`` values after each window's context: (batch, steps)."""
    index = torch.tensor([list(range(w.end, w.end + steps)) for w in windows])  # (batch, steps)
    return series[index]


def validation_loss(model: SequenceModel, prepared: Prepared, steps: int) -> float | None:
    """Mean squared error (scaled units) of ``steps``-step rollouts from every origin of the validation part."""
    split = prepared.split
    steps = min(steps, split.val_size)
    origins = list(range(split.train_end, split.val_end - steps + 1))
    if not origins or (prepared.context_length and origins[0] < prepared.context_length):
        return None
    was_training = model.training
    model.eval()
    forecasts = forecast_at(model, prepared.scaled, origins, steps, prepared.context_length, prepared.relative)
    model.train(was_training)
    truth = np.array([prepared.scaled[o : o + steps] for o in origins])
    return float(np.mean((forecasts - truth) ** 2))


def train_windows(
    config: RunConfig,
    *,
    on_step: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    prepared: Prepared | None = None,
) -> TrainResult:
    """Train as the module docstring says; ``config.seed`` must be set."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # these cells are tiny: one thread is several times faster than many
    try:
        with loop_control(config.train.steps, on_step, should_stop) as control:
            return _train_windows(config, control, prepared)
    finally:
        torch.set_num_threads(threads)


def _train_windows(config: RunConfig, control, prepared: Prepared | None) -> TrainResult:
    t = config.train
    prepared = prepared or prepare(config.data, t.rollout)
    rollout = prepared.targets  # train.rollout, or fewer where a short series holds fewer
    warnings = [w for w in [readout_warning(prepared, config.model.readout)] if w]
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    model = SequenceModel(config.model)  # initial weights drawn first, as the seed does
    optimizer = make_optimizer(config, model)
    scheduler = make_schedule(config, optimizer)
    model.train()

    series = torch.tensor(prepared.scaled.tolist(), dtype=torch.float32)  # (length,) scaled
    sampler = training_windows(prepared, config.data.min_length, rng)
    full_batch = every_training_window(prepared, config.data.min_length) if t.batch_size == 0 else None
    params = list(model.parameters())
    guard = FiniteGuard(params)
    has_validation = prepared.split.val_size > 0
    best_loss, best_step, best_weights, waited = math.inf, 0, None, 0
    val_history: list[tuple[int, float]] = []

    history: list[float] = []
    status, message = "completed", ""
    started = time.perf_counter()
    for step in range(1, t.steps + 1):
        if control.stopped():
            status, message = "interrupted", control.stop_message(len(history))
            break
        windows = full_batch if full_batch is not None else [sampler.draw() for _ in range(t.batch_size)]
        predictions = rollout_predictions(model, series, windows, rollout, prepared.relative)  # (batch, rollout)
        loss = F.mse_loss(predictions, targets_of(series, windows, rollout))
        value = loss.item()
        if not math.isfinite(value):
            status, message = "diverged", guard.diverged(value, step, len(history), t.lr)
            break
        guard.save()
        optimizer.zero_grad()
        loss.backward()
        if t.clip_grad > 0:
            torch.nn.utils.clip_grad_norm_(params, t.clip_grad)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        history.append(value)
        control.report(step, value)
        if has_validation and (step % t.val_every == 0 or step == t.steps):
            val = validation_loss(model, prepared, rollout)
            if val is not None:
                val_history.append((step, val))
                if val < best_loss:
                    best_loss, best_step, waited = val, step, 0
                    best_weights = [p.detach().clone() for p in params]
                else:
                    waited += 1
                if t.patience and waited >= t.patience:
                    message = f"early stop at step {step}: no better validation loss for {t.patience} validations"
                    break
    seconds = time.perf_counter() - started
    if t.patience and best_weights is not None and status == "completed":
        with torch.no_grad():
            for p, b in zip(params, best_weights):
                p.copy_(b)
        message = (message + "; " if message else "") + f"best validation loss {best_loss:.6g} at step {best_step} restored"
    model.eval()
    context = sampler.draw()
    return TrainResult(
        config, model, history, status, seconds, context, message, data=prepared.info(), warnings=warnings,
        validation=val_history, best_step=best_step or None,
    )
