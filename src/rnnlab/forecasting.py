"""Autoregressive forecasting: feed each prediction back as the next input.

``forecast`` carries the recurrent state forward, so K values cost K cell steps after the
context (O(K)). ``forecast_at`` forecasts from many origins of one series (backtests, validation).
``forecast_rerun`` is the seed program's way — re-run the whole, growing sequence
from a zero state for every new value (O(K²)); it gives the same numbers and is kept as the
reference the tests compare against.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .errors import InputError
from .model import SequenceModel


def _contexts(contexts: Sequence[Sequence[float]] | np.ndarray) -> torch.Tensor:
    array = np.asarray(contexts, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] < 1:
        raise InputError(f"context must hold at least 1 value, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError("context values must be finite numbers")
    return torch.tensor(array, dtype=torch.float32).unsqueeze(-1)  # (batch, time, 1)


def _step_function(model: SequenceModel):
    """One time step of the model after the context, without the module's per-call overhead.

    Returns step(value (batch, 1), state) -> (next value (batch, 1), state) that gives bit for bit
    what ``model(value, state)`` gives (the tests check every cell), or None where the module
    must be called instead (dropout active while training). One layer of rnn or gru is written
    with torch's own float32 ops on the model's own weights, the same ops in the same order as
    torch's CPU cells (``aten/native/RNN.cpp``); the lstm cell and stacked layers call torch's
    recurrent kernel itself (``_kernel_step``).
    """
    config = model.config
    if model.training and config.dropout and config.num_layers > 1:
        return None
    if config.cell == "lstm" or config.num_layers > 1:
        return _kernel_step(model)
    rnn = model.rnn
    w_ih_t, w_hh_t = rnn.weight_ih_l0.detach().t(), rnn.weight_hh_l0.detach().t()  # (1, G*H), (H, G*H)
    b_ih, b_hh = rnn.bias_ih_l0.detach(), rnn.bias_hh_l0.detach()  # (G*H,)
    readout = None
    if model.readout is not None:
        readout = (model.readout.weight.detach().t(), model.readout.bias.detach())  # (H, 1), (1,)
    addmm = torch.addmm

    if config.cell == "rnn":
        relu = config.nonlinearity == "relu"

        def cell(x, h):  # h' = act(W_hh h + b_hh + (W_ih x + b_ih))
            a = addmm(b_hh, h, w_hh_t).add_(addmm(b_ih, x, w_ih_t))
            return a.relu_() if relu else a.tanh_()

    else:

        def cell(x, h):  # gru: r, z from both sides; n = tanh(W_in x + b_in + r (W_hn h + b_hn))
            xr, xz, xn = addmm(b_ih, x, w_ih_t).unsafe_chunk(3, 1)
            hr, hz, hn = addmm(b_hh, h, w_hh_t).unsafe_chunk(3, 1)
            r = hr.add_(xr).sigmoid_()
            z = hz.add_(xz).sigmoid_()
            n = xn.add(hn.mul_(r)).tanh_()
            return (h - n).mul_(z).add_(n)  # (1 - z) n + z h

    if readout is None:

        def step(value, h):
            h = cell(value, h)  # (batch, hidden)
            return h[:, -1:], h  # the last hidden unit

    else:

        def step(value, h):
            h = cell(value, h)
            return addmm(readout[1], h, readout[0]), h

    step.single_layer = True
    return step


def _kernel_step(model: SequenceModel):
    """One time step through torch's recurrent kernel itself (``torch._VF``), called with the
    arguments ``nn.RNN/LSTM/GRU.forward`` passes it: the same numbers without the module's
    Python overhead. For the lstm cell (oneDNN on CPU) and stacked layers, whose kernels fuse
    work across layers and steps in ways single ops do not reproduce bit for bit."""
    rnn, config = model.rnn, model.config
    kernel = {"lstm": torch._VF.lstm, "gru": torch._VF.gru}.get(config.cell)
    if kernel is None:
        kernel = torch._VF.rnn_relu if config.nonlinearity == "relu" else torch._VF.rnn_tanh
    flat, lstm = rnn._flat_weights, config.cell == "lstm"
    options = (rnn.bias, rnn.num_layers, float(rnn.dropout), rnn.training, rnn.bidirectional, True)
    readout = None
    if model.readout is not None:
        readout = (model.readout.weight.detach().t(), model.readout.bias.detach())

    def step(value, state):
        out, *state = kernel(value.unsqueeze(-1), state, flat, *options)  # (batch, 1, hidden)
        state = tuple(state) if lstm else state[0]  # (h, c) or h, each (layers, batch, hidden)
        top = out[:, 0]  # (batch, hidden)
        if readout is None:
            return top[:, -1:], state
        return torch.addmm(readout[1], top, readout[0]), state  # (batch, 1)

    step.single_layer = False
    return step


def forecast_batch(model: SequenceModel, contexts, steps: int, relative: bool = False) -> np.ndarray:
    """Forecast ``steps`` values after each of several equally long contexts.

    contexts: (batch, time) -> forecasts (batch, steps), float64 holding the model's float32 values.
    ``relative``: the network reads each context minus its last value and its outputs are
    shifted back by it (a run trained with ``data.level = "last"``).
    """
    if not relative:
        return _forecast_batch(model, contexts, steps)
    contexts = np.asarray(contexts, dtype=np.float64)
    levels = contexts[:, -1:]  # (batch, 1): each context's last value
    return _forecast_batch(model, contexts - levels, steps) + levels


@torch.inference_mode()
def _forecast_batch(model: SequenceModel, contexts, steps: int) -> np.ndarray:
    """``forecast_batch`` of absolute contexts: the context goes through the module once; the
    steps after it use ``_step_function``."""
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    x = _contexts(contexts)  # (batch, time, 1)
    prediction, state = model(x)  # (batch, time)
    value = prediction[:, -1:]  # (batch, 1)
    out = [value]
    step = _step_function(model)
    if step is None:
        for _ in range(steps - 1):
            prediction, state = model(value.unsqueeze(-1), state)  # one step: (batch, 1, 1) in
            value = prediction[:, -1:]
            out.append(value)
    else:
        if step.single_layer:
            state = state[0]  # (1, batch, hidden) -> (batch, hidden)
        for _ in range(steps - 1):
            value, state = step(value, state)  # (batch, 1)
            out.append(value)
    return torch.cat(out, dim=1).double().numpy()  # (batch, steps)


def forecast(model: SequenceModel, context: Sequence[float], steps: int, relative: bool = False) -> np.ndarray:
    """Forecast ``steps`` values after ``context`` by carrying the state forward: shape (steps,)."""
    return forecast_batch(model, [list(context)], steps, relative)[0]


def forecast_ensemble(members: Sequence[SequenceModel], context: Sequence[float], steps: int,
                      relative: bool = False) -> dict[str, np.ndarray]:
    """An ensemble's forecast: every member's (members, steps), and over the members the
    ``median`` and the 10–90 % band ``low`` / ``high`` (``numpy.percentile``), each (steps,)."""
    values = np.stack([forecast(model, context, steps, relative) for model in members])  # (members, steps)
    low, median, high = np.percentile(values, [10.0, 50.0, 90.0], axis=0)
    return {"members": values, "median": median, "low": low, "high": high}


@torch.no_grad()
def forecast_rerun(model: SequenceModel, context: Sequence[float], steps: int) -> np.ndarray:
    """The seed's O(K²) generation: re-run the whole sequence from a zero state for each value."""
    if steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}")
    sequence = _contexts([list(context)])  # (1, time, 1)
    out = []
    for _ in range(steps):
        prediction, _ = model(sequence)  # fresh zero state every time, as the seed
        value = prediction[:, -1:]  # (1, 1)
        sequence = torch.cat([sequence, value.unsqueeze(-1)], dim=1)
        out.append(float(value))
    return np.array(out, dtype=np.float64)


def _cat_states(states: list):
    if isinstance(states[0], tuple):  # lstm: (h, c), each (layers, 1, hidden)
        return tuple(torch.cat(parts, dim=1) for parts in zip(*states))
    return torch.cat(states, dim=1)  # (layers, batch, hidden)


@torch.no_grad()
def forecast_at(
    model: SequenceModel, values: np.ndarray, origins: Sequence[int], steps: int, context_length: int = 0,
    relative: bool = False,
) -> np.ndarray:
    """Forecasts of ``steps`` values after each origin t (from ``values[:t]``): (origins, steps).

    ``context_length`` N > 0: the context is ``values[t-N:t]``; 0: the whole history
    ``values[:t]``, run once through the cell, its state kept at each origin.
    ``values`` are in the model's (scaled) units.
    """
    origins = [int(o) for o in origins]
    if not origins:
        return np.zeros((0, steps))
    if context_length:
        contexts = np.stack([values[o - context_length : o] for o in origins])  # (batch, N)
        return forecast_batch(model, contexts, steps, relative)
    assert not relative, "relative windows have a fixed context length"
    x = torch.tensor(np.asarray(values, dtype=np.float64), dtype=torch.float32).view(1, -1, 1)  # (1, time, 1)
    first = min(origins)
    prediction, state = model(x[:, :first])  # (1, first)
    value = prediction[:, -1]  # (1,)
    wanted = set(origins)
    firsts, states = {}, {}
    for t in range(first, max(origins) + 1):
        if t in wanted:
            firsts[t], states[t] = value, state
        if t < max(origins):
            prediction, state = model(x[:, t : t + 1], state)  # one step: (1, 1, 1) in
            value = prediction[:, -1]
    value = torch.cat([firsts[o] for o in origins]).view(-1, 1)  # (batch, 1)
    state = _cat_states([states[o] for o in origins])
    out = [value]
    for _ in range(steps - 1):
        prediction, state = model(value.unsqueeze(-1), state)  # (batch, 1, 1) in
        value = prediction[:, -1:]
        out.append(value)
    return torch.cat(out, dim=1).double().numpy()  # (batch, steps)
