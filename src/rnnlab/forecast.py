"""Autoregressive forecasting: feed each prediction back as the next input.

``forecast`` carries the recurrent state forward, so K values cost K cell steps after the
context (O(K)). ``forecast_rerun`` is the seed program's way — re-run the whole, growing sequence
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
    """One time step of the model written with torch's own ops and the model's own weights.

    The same float32 operations, in the same order, as torch's CPU cells (``aten/native/RNN.cpp``),
    so each step gives bit for bit what ``model(x, state)`` gives, without the module's per-call
    overhead. state: per layer h (batch, hidden), or (h, c) for lstm; value: (batch, 1).
    Returns None where the module must be called instead (dropout active while training).
    """
    config = model.config
    if model.training and config.dropout and config.num_layers > 1:
        return None
    if config.cell == "lstm" or config.num_layers > 1:
        return _kernel_step(model)
    rnn = model.rnn
    weights = []  # per layer: W_ih^T, W_hh^T, b_ih, b_hh
    for layer in range(config.num_layers):
        w_ih, w_hh, b_ih, b_hh = (getattr(rnn, f"{name}_l{layer}").detach() for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        weights.append((w_ih.t(), w_hh.t(), b_ih, b_hh))
    readout = None
    if model.readout is not None:
        readout = (model.readout.weight.detach().t(), model.readout.bias.detach())
    cell, relu = config.cell, config.nonlinearity == "relu"
    addmm, sigmoid, tanh = torch.addmm, torch.sigmoid, torch.tanh

    def step(value, state):
        x = value  # (batch, 1)
        new_state = []
        for (w_ih_t, w_hh_t, b_ih, b_hh), s in zip(weights, state):
            if cell == "rnn":  # h' = act(W_hh h + b_hh + (W_ih x + b_ih))
                a = addmm(b_hh, s, w_hh_t).add_(addmm(b_ih, x, w_ih_t))
                h = a.relu_() if relu else a.tanh_()
                new_state.append(h)
            elif cell == "lstm":  # gates = W_hh h + b_hh + (W_ih x + b_ih), chunked i, f, g, o
                h, c = s
                gates = addmm(b_hh, h, w_hh_t).add_(addmm(b_ih, x, w_ih_t))
                i, f, g, o = gates.unsafe_chunk(4, 1)
                i, f, g, o = i.sigmoid_(), f.sigmoid_(), g.tanh_(), o.sigmoid_()
                c = (f * c).add_(i * g)
                h = o * tanh(c)
                new_state.append((h, c))
            else:  # gru: r, z from both sides; n = tanh(W_in x + b_in + r (W_hn h + b_hn))
                h = s
                xr, xz, xn = addmm(b_ih, x, w_ih_t).unsafe_chunk(3, 1)
                hr, hz, hn = addmm(b_hh, h, w_hh_t).unsafe_chunk(3, 1)
                r = hr.add_(xr).sigmoid_()
                z = hz.add_(xz).sigmoid_()
                n = xn.add(hn.mul_(r)).tanh_()
                h = (h - n).mul_(z).add_(n)
                new_state.append(h)
            x = h  # (batch, hidden): the next layer's input
        if readout is None:
            return x[:, -1:], new_state  # the last hidden unit, (batch, 1)
        return addmm(readout[1], x, readout[0]), new_state  # (batch, 1)

    step.layered = True
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

    step.layered = False
    return step


def _layers(model: SequenceModel, state):
    """The module's state (num_layers, batch, hidden) [or (h, c)] as a list per layer."""
    if model.config.cell == "lstm":
        h, c = state
        return [(h[layer], c[layer]) for layer in range(h.shape[0])]
    return [state[layer] for layer in range(state.shape[0])]


@torch.inference_mode()
def forecast_batch(model: SequenceModel, contexts, steps: int) -> np.ndarray:
    """Forecast ``steps`` values after each of several equally long contexts.

    contexts: (batch, time) -> forecasts (batch, steps), float64 holding the model's float32 values.
    The context goes through the module once; the steps after it use ``_step_function``.
    """
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
        if step.layered:
            state = _layers(model, state)
        for _ in range(steps - 1):
            value, state = step(value, state)  # (batch, 1)
            out.append(value)
    return torch.cat(out, dim=1).double().numpy()  # (batch, steps)


def forecast(model: SequenceModel, context: Sequence[float], steps: int) -> np.ndarray:
    """Forecast ``steps`` values after ``context`` by carrying the state forward: shape (steps,)."""
    return forecast_batch(model, [list(context)], steps)[0]


def forecast_ensemble(members: Sequence[SequenceModel], context: Sequence[float], steps: int) -> dict[str, np.ndarray]:
    """An ensemble's forecast: every member's (members, steps), and over the members the
    ``median`` and the 10–90 % band ``low`` / ``high`` (``numpy.percentile``), each (steps,)."""
    values = np.stack([forecast(model, context, steps) for model in members])  # (members, steps)
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
