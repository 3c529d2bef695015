"""The forward pass by hand: every term of every cell equation, in float64, without torch.

Notation of the PyTorch documentation. ``x_t`` is the input at step ``t`` (for layer ``l > 0``
the input is ``h_t`` of the layer below), ``h_{t-1}`` the layer's previous hidden state
(zeros before the first step), ``σ(a) = 1 / (1 + e^{-a})`` and ``⊙`` the elementwise product.

RNN (Elman), ``act`` = tanh or relu::

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

LSTM (``weight_ih`` stacks ``W_ii, W_if, W_ig, W_io``; likewise the other three)::

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

GRU (``weight_ih`` stacks ``W_ir, W_iz, W_in``; the reset gate multiplies ``W_hn h + b_hn``,
bias included)::

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

Readout of the top layer ``L-1`` (``H`` units)::

    unit:    ŷ_t = h_t^{(L-1)}[H-1]              (the last hidden unit, as the seed program)
    linear:  ŷ_t = w · h_t^{(L-1)} + b

With ``ahead = K`` the walk continues K steps past the context, each step's input being the
prediction of the step before (``x_{t+1} = ŷ_t``).
"""

from __future__ import annotations

import math
import numbers
from typing import Mapping, Sequence

import numpy as np

from ..errors import InputError
from .check import forward_checks
from .records import ForwardWalk, LayerStep, Rounding, Step, Term, frozen_array

# The gates stacked in weight_ih / weight_hh, in torch's order.
GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}


def sigmoid(a: np.ndarray) -> np.ndarray:
    # σ(a) = 1 / (1 + e^{-a})
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-a))


def relu(a: np.ndarray) -> np.ndarray:
    # relu(a) = max(a, 0)
    return np.maximum(a, 0.0)


ACTIVATIONS = {"tanh": np.tanh, "relu": relu, "sigmoid": sigmoid}


def check_context(context: Sequence[float]) -> tuple[float, ...]:
    """The context as a tuple of finite floats, or an InputError naming what is wrong."""
    try:
        values = tuple(float(v) for v in context)
    except (TypeError, ValueError):
        raise InputError(f"context must be a list of numbers, got {context!r}") from None
    if len(values) < 1:
        raise InputError("context must hold at least 1 value, got 0")
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise InputError(f"context values must be finite numbers, got {bad[0]}")
    return values


def model_parameters(model, decimals: int | None = None) -> dict[str, np.ndarray]:
    """A model's parameters as float64 arrays under torch's names, rounded to ``decimals``."""
    if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, numbers.Integral) or decimals < 0):
        raise InputError(f"decimals must be an integer >= 0, got {decimals!r}")
    exact = {name: t.detach().double().cpu().numpy() for name, t in model.tensors().items()}
    if decimals is None:
        return {name: frozen_array(p) for name, p in exact.items()}
    # what a person copying the printed weights writes down
    return {name: frozen_array(np.round(p, decimals)) for name, p in exact.items()}


def _term(name, activation, x, h_prev, W_ih, b_ih, W_hh, b_hh, reset=None) -> Term:
    # the input's share: W_i· x_t
    W_ih_x = W_ih @ x
    # the previous state's share: W_h· h_{t-1}
    W_hh_h = W_hh @ h_prev
    if reset is None:
        # a = W_i· x_t + b_i· + W_h· h_{t-1} + b_h·
        a = W_ih_x + b_ih + W_hh_h + b_hh
    else:
        # a = W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn)
        a = W_ih_x + b_ih + reset * (W_hh_h + b_hh)
    # value = act(a)
    value = ACTIVATIONS[activation](a)
    return Term(name, activation, *map(frozen_array, (W_ih_x, b_ih, W_hh_h, b_hh)),
                None if reset is None else frozen_array(reset), frozen_array(a), frozen_array(value))


def cell_step(cell: str, nonlinearity: str, p: Mapping[str, np.ndarray], layer: int,
              x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray | None) -> LayerStep:
    """One layer, one time step, every term kept."""
    H = h_prev.shape[0]
    W_ih, W_hh = p[f"weight_ih_l{layer}"], p[f"weight_hh_l{layer}"]  # (G·H, in), (G·H, H)
    b_ih, b_hh = p[f"bias_ih_l{layer}"], p[f"bias_hh_l{layer}"]  # (G·H,)
    # the rows of gate k: W_i·[k] = W_ih[k·H:(k+1)·H]
    rows = {name: slice(k * H, (k + 1) * H) for k, name in enumerate(GATES[cell])}

    def gate(name, activation, reset=None):
        s = rows[name]
        return _term(name, activation, x, h_prev, W_ih[s], b_ih[s], W_hh[s], b_hh[s], reset)

    if cell == "rnn":
        # h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
        h_term = gate("h", nonlinearity)
        return LayerStep(layer, frozen_array(x), frozen_array(h_prev), None, (h_term,), None, None, h_term.value)
    if cell == "lstm":
        # i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
        i = gate("i", "sigmoid")
        # f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        f = gate("f", "sigmoid")
        # g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        g = gate("g", "tanh")
        # o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
        o = gate("o", "sigmoid")
        # c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        c = f.value * c_prev + i.value * g.value
        # h_t = o_t ⊙ tanh(c_t)
        tanh_c = np.tanh(c)
        h = o.value * tanh_c
        return LayerStep(layer, frozen_array(x), frozen_array(h_prev), frozen_array(c_prev), (i, f, g, o),
                         frozen_array(c), frozen_array(tanh_c), frozen_array(h))
    # r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    r = gate("r", "sigmoid")
    # z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    z = gate("z", "sigmoid")
    # n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
    n = gate("n", "tanh", reset=r.value)
    # h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
    h = (1.0 - z.value) * n.value + z.value * h_prev
    return LayerStep(layer, frozen_array(x), frozen_array(h_prev), None, (r, z, n), None, None, frozen_array(h))


def readout_terms(readout: str, p: Mapping[str, np.ndarray], h_top: np.ndarray) -> tuple[float, float | None, float | None]:
    """(ŷ_t, w · h_t, b); the last two are None for the "unit" readout."""
    if readout == "unit":
        # ŷ_t = h_t^{(L-1)}[H-1]
        return float(h_top[-1]), None, None
    # w · h_t^{(L-1)}
    w_h = float(p["readout.weight"][0] @ h_top)
    b = float(p["readout.bias"][0])
    # ŷ_t = w · h_t^{(L-1)} + b
    return w_h + b, w_h, b


def walk_steps(cell: str, nonlinearity: str, hidden_size: int, num_layers: int, readout: str,
               p: Mapping[str, np.ndarray], context: Sequence[float], ahead: int = 0) -> tuple[Step, ...]:
    """The hand calculation proper: context steps, then ``ahead`` steps fed with ŷ."""
    H = hidden_size
    # h_0 = 0 (and c_0 = 0) for every layer
    h = [np.zeros(H) for _ in range(num_layers)]
    c = [np.zeros(H) if cell == "lstm" else None for _ in range(num_layers)]
    steps: list[Step] = []
    for t in range(len(context) + ahead):
        if t < len(context):
            x_t, fed_back = float(context[t]), False
        else:
            # x_{t} = ŷ_{t-1}: the prediction fed back
            x_t, fed_back = steps[-1].y_hat, True
        layer_input = np.array([x_t])  # (input_size=1,)
        layers = []
        for layer in range(num_layers):
            ls = cell_step(cell, nonlinearity, p, layer, layer_input, h[layer], c[layer])
            h[layer], c[layer] = ls.h, ls.c
            layers.append(ls)
            # the next layer's input is this layer's h_t
            layer_input = ls.h
        y_hat, w_h, b = readout_terms(readout, p, h[-1])
        steps.append(Step(t, x_t, fed_back, tuple(layers), y_hat, w_h, b))
    return tuple(steps)


def explain_forward(model, context: Sequence[float], ahead: int = 0, decimals: int | None = None,
                    check: bool = True) -> ForwardWalk:
    """Walk a model's forward pass by hand over ``context`` and ``ahead`` fed-back steps.

    ``decimals`` rounds every weight first, as a person copying printed weights would; the walk
    then also records how far that moves the predictions. With ``check`` the hand values are
    compared with torch's, in float32 (the model as stored) and in float64.
    """
    config = model.config
    values = check_context(context)
    if isinstance(ahead, bool) or not isinstance(ahead, numbers.Integral) or ahead < 0:
        raise InputError(f"ahead must be an integer >= 0, got {ahead!r}")
    parameters = model_parameters(model, decimals)  # checks decimals
    ahead, decimals = int(ahead), None if decimals is None else int(decimals)
    shape = (config.cell, config.nonlinearity, config.hidden_size, config.num_layers, config.readout)
    steps = walk_steps(*shape, parameters, values, ahead)
    T = len(values)
    predictions = [steps[T - 1 + k].y_hat for k in range(ahead + 1)]
    rounding = None
    if decimals is not None:
        exact_parameters = model_parameters(model)
        exact_steps = walk_steps(*shape, exact_parameters, values, ahead)
        exact = tuple(exact_steps[T - 1 + k].y_hat for k in range(ahead + 1))
        change = max(float(np.max(np.abs(parameters[n] - exact_parameters[n]), initial=0.0)) for n in parameters)
        rounding = Rounding(decimals, change, exact, tuple(predictions),
                            tuple(r - e for r, e in zip(predictions, exact)))
    checks = ()
    if check:
        checks = forward_checks(model, parameters, steps)
    return ForwardWalk(*shape, parameters, values, ahead, decimals, steps, predictions[0], predictions,
                       checks, rounding)
