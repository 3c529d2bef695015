"""Backpropagation through time by hand, for one training sample, in float64, without torch.

The sample is a context ``x_1 … x_T`` and a target ``y``; the loss is the trainer's: the squared
error of the last prediction, ``L = (ŷ_T - y)²``, so ``∂L/∂ŷ_T = 2 (ŷ_T - y)``.

Readout (top layer ``L-1``, ``H`` units)::

    unit:    ∂L/∂h_T^{(L-1)} = ∂L/∂ŷ_T · e_{H-1}                 (only the last unit is read)
    linear:  ∂L/∂w = ∂L/∂ŷ_T · h_T,  ∂L/∂b = ∂L/∂ŷ_T,  ∂L/∂h_T^{(L-1)} = ∂L/∂ŷ_T · w

Then for t = T … 1 and for each layer from the top down, the gradient reaching ``h_t`` is the sum
of what the readout sends (t = T, top layer), what step t+1 of the same layer sends back through
time, and what the layer above sends down through its input::

    ∂L/∂h_t = readout share + ∂L/∂h_t|_{t+1} + ∂L/∂h_t|_{above}

RNN, with ``a_t`` the sum inside the activation (tanh' = 1 - h², relu' = [a > 0])::

    δ_t = ∂L/∂a_t = ∂L/∂h_t ⊙ act'(a_t)

LSTM (the cell state also carries a gradient, ``∂L/∂c_t``, from step t+1)::

    ∂L/∂o_t = ∂L/∂h_t ⊙ tanh(c_t)
    ∂L/∂c_t ← ∂L/∂c_t + ∂L/∂h_t ⊙ o_t ⊙ (1 - tanh²(c_t))
    ∂L/∂i_t = ∂L/∂c_t ⊙ g_t,  ∂L/∂g_t = ∂L/∂c_t ⊙ i_t,  ∂L/∂f_t = ∂L/∂c_t ⊙ c_{t-1}
    ∂L/∂c_{t-1} = ∂L/∂c_t ⊙ f_t
    δ^i = ∂L/∂i ⊙ i(1-i),  δ^f = ∂L/∂f ⊙ f(1-f),  δ^g = ∂L/∂g ⊙ (1-g²),  δ^o = ∂L/∂o ⊙ o(1-o)

GRU (``h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}``, ``n = tanh(W_in x + b_in + r ⊙ (W_hn h_{t-1} + b_hn))``)::

    ∂L/∂n_t = ∂L/∂h_t ⊙ (1 - z_t),  ∂L/∂z_t = ∂L/∂h_t ⊙ (h_{t-1} - n_t)
    δ^n = ∂L/∂n_t ⊙ (1 - n_t²)
    ∂L/∂r_t = δ^n ⊙ (W_hn h_{t-1} + b_hn)
    δ^r = ∂L/∂r_t ⊙ r(1-r),  δ^z = ∂L/∂z_t ⊙ z(1-z)

With ``δ`` the gates' deltas stacked in torch's order (for the GRU the hidden side uses
``δ_h = [δ^r, δ^z, r ⊙ δ^n]``, the input side ``δ_i = [δ^r, δ^z, δ^n]``; for the others
``δ_h = δ_i = δ``), step t adds to the gradients::

    ∂L/∂W_ih += δ_i x_tᵀ    ∂L/∂b_ih += δ_i    ∂L/∂W_hh += δ_h h_{t-1}ᵀ    ∂L/∂b_hh += δ_h

and sends back ``∂L/∂h_{t-1} = W_hhᵀ δ_h`` (GRU: ``+ ∂L/∂h_t ⊙ z_t``) and, to the layer
below, ``∂L/∂x_t = W_ihᵀ δ_i``. Last, the SGD step: ``W ← W - lr · (∂L/∂W + λ W)`` (λ: weight
decay, 0 by default).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from ..errors import InputError
from .forward import explain_forward
from .records import BackStep, BackwardWalk, LayerBack, LayerStep, frozen_array



def _layer_back(cell: str, nonlinearity: str, p: Mapping[str, np.ndarray], fs: LayerStep,
                dh_readout, dh_next, dh_above, dc_next) -> tuple[dict, np.ndarray, np.ndarray | None, np.ndarray]:
    """The deltas of one layer step; returns (parts, ∂L/∂h_{t-1}, ∂L/∂c_{t-1}, ∂L/∂x_t)."""
    l = fs.layer
    W_ih, W_hh = p[f"weight_ih_l{l}"], p[f"weight_hh_l{l}"]  # (G·H, in), (G·H, H)
    # ∂L/∂h_t = readout share + ∂L/∂h_t|_{t+1} + ∂L/∂h_t|_{above}
    dh = dh_readout + dh_next + dh_above
    terms = {term.name: term for term in fs.terms}
    dc = None
    dc_prev = None
    if cell == "rnn":
        h = terms["h"]
        if nonlinearity == "tanh":
            # δ_t = ∂L/∂h_t ⊙ (1 - h_t²)
            delta = dh * (1.0 - h.value**2)
        else:
            # δ_t = ∂L/∂h_t ⊙ [a_t > 0]
            delta = dh * (h.preactivation > 0)
        gates, deltas = {"h": dh}, {"h": delta}
        delta_i = delta_h = delta
        # ∂L/∂h_{t-1} = W_hhᵀ δ_t
        dh_prev = W_hh.T @ delta_h
    elif cell == "lstm":
        i, f, g, o = (terms[k].value for k in "ifgo")
        # ∂L/∂o_t = ∂L/∂h_t ⊙ tanh(c_t)
        do = dh * fs.tanh_c
        # ∂L/∂c_t ← ∂L/∂c_t + ∂L/∂h_t ⊙ o_t ⊙ (1 - tanh²(c_t))
        dc = dc_next + dh * o * (1.0 - fs.tanh_c**2)
        # ∂L/∂i_t = ∂L/∂c_t ⊙ g_t
        di = dc * g
        # ∂L/∂g_t = ∂L/∂c_t ⊙ i_t
        dg = dc * i
        # ∂L/∂f_t = ∂L/∂c_t ⊙ c_{t-1}
        df = dc * fs.c_prev
        # ∂L/∂c_{t-1} = ∂L/∂c_t ⊙ f_t
        dc_prev = dc * f
        gates = {"i": di, "f": df, "g": dg, "o": do}
        deltas = {
            # δ^i = ∂L/∂i ⊙ i(1-i)
            "i": di * i * (1.0 - i),
            # δ^f = ∂L/∂f ⊙ f(1-f)
            "f": df * f * (1.0 - f),
            # δ^g = ∂L/∂g ⊙ (1-g²)
            "g": dg * (1.0 - g**2),
            # δ^o = ∂L/∂o ⊙ o(1-o)
            "o": do * o * (1.0 - o),
        }
        delta_i = delta_h = np.concatenate([deltas[k] for k in "ifgo"])
        # ∂L/∂h_{t-1} = W_hhᵀ δ
        dh_prev = W_hh.T @ delta_h
    else:
        r, z, n = (terms[k] for k in "rzn")
        # ∂L/∂n_t = ∂L/∂h_t ⊙ (1 - z_t)
        dn = dh * (1.0 - z.value)
        # ∂L/∂z_t = ∂L/∂h_t ⊙ (h_{t-1} - n_t)
        dz = dh * (fs.h_prev - n.value)
        # δ^n = ∂L/∂n_t ⊙ (1 - n_t²)
        delta_n = dn * (1.0 - n.value**2)
        # ∂L/∂r_t = δ^n ⊙ (W_hn h_{t-1} + b_hn)
        dr = delta_n * (n.W_hh_h + n.b_hh)
        gates = {"r": dr, "z": dz, "n": dn}
        deltas = {
            # δ^r = ∂L/∂r ⊙ r(1-r)
            "r": dr * r.value * (1.0 - r.value),
            # δ^z = ∂L/∂z ⊙ z(1-z)
            "z": dz * z.value * (1.0 - z.value),
            "n": delta_n,
        }
        # δ_i = [δ^r, δ^z, δ^n]
        delta_i = np.concatenate([deltas["r"], deltas["z"], delta_n])
        # δ_h = [δ^r, δ^z, r ⊙ δ^n]
        delta_h = np.concatenate([deltas["r"], deltas["z"], r.value * delta_n])
        # ∂L/∂h_{t-1} = W_hhᵀ δ_h + ∂L/∂h_t ⊙ z_t
        dh_prev = W_hh.T @ delta_h + dh * z.value
    contributions = {
        # ∂L/∂W_ih += δ_i x_tᵀ
        f"weight_ih_l{l}": np.outer(delta_i, fs.x),
        # ∂L/∂b_ih += δ_i
        f"bias_ih_l{l}": delta_i,
        # ∂L/∂W_hh += δ_h h_{t-1}ᵀ
        f"weight_hh_l{l}": np.outer(delta_h, fs.h_prev),
        # ∂L/∂b_hh += δ_h
        f"bias_hh_l{l}": delta_h,
    }
    # ∂L/∂x_t = W_ihᵀ δ_i
    dx = W_ih.T @ delta_i
    parts = dict(dh=dh, dc=dc, gates=gates, deltas=deltas, contributions=contributions)
    return parts, dh_prev, dc_prev, dx


def explain_backward(model, context: Sequence[float], target: float, lr: float = 0.1,
                     weight_decay: float = 0.0, check: bool = True) -> BackwardWalk:
    """Walk backpropagation through time by hand for the sample (context, target).

    With ``check`` the gradients are compared with torch autograd (float64) and the SGD update
    with one step of the trainer (torch.optim.SGD, MSE loss on the last prediction).
    """
    try:
        y = float(target)
    except (TypeError, ValueError):
        raise InputError(f"target must be a number, got {target!r}") from None
    if not math.isfinite(y):
        raise InputError(f"target must be a finite number, got {target!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise InputError(f"lr must be a finite number > 0, got {lr!r}")
    if not (isinstance(weight_decay, (int, float)) and math.isfinite(weight_decay) and weight_decay >= 0):
        raise InputError(f"weight_decay must be a finite number >= 0, got {weight_decay!r}")
    walk = explain_forward(model, context, check=check)
    cfg, p = model.config, walk.parameters
    H, T = cfg.hidden_size, len(walk.steps)
    # ŷ_T and L = (ŷ_T - y)²
    y_hat = walk.prediction
    loss = (y_hat - y) ** 2
    # ∂L/∂ŷ_T = 2 (ŷ_T - y)
    dL_dy_hat = 2.0 * (y_hat - y)
    h_T = walk.steps[-1].layers[-1].h
    readout = {}
    if cfg.readout == "unit":
        # ∂L/∂h_T^{(L-1)} = ∂L/∂ŷ_T · e_{H-1}
        dh_from_readout = np.zeros(H)
        dh_from_readout[-1] = dL_dy_hat
    else:
        # ∂L/∂w = ∂L/∂ŷ_T · h_T,  ∂L/∂b = ∂L/∂ŷ_T
        readout = {"readout.weight": frozen_array(dL_dy_hat * h_T[None, :]), "readout.bias": frozen_array([dL_dy_hat])}
        # ∂L/∂h_T^{(L-1)} = ∂L/∂ŷ_T · w
        dh_from_readout = dL_dy_hat * p["readout.weight"][0]
    totals = {name: np.zeros_like(value) for name, value in p.items() if not name.startswith("readout.")}
    dh_next = [np.zeros(H) for _ in range(cfg.num_layers)]
    dc_next = [np.zeros(H) for _ in range(cfg.num_layers)]
    back_steps = []
    for t in range(T - 1, -1, -1):
        dh_above = np.zeros(H)
        layers = []
        for l in range(cfg.num_layers - 1, -1, -1):
            fs = walk.steps[t].layers[l]
            # only the top layer's last state is read out
            share = dh_from_readout if (t == T - 1 and l == cfg.num_layers - 1) else np.zeros(H)
            parts, dh_prev, dc_prev, dx = _layer_back(cfg.cell, cfg.nonlinearity, p, fs, share,
                                                      dh_next[l], dh_above, dc_next[l])
            for name, value in parts["contributions"].items():
                # ∂L/∂θ = Σ_t (the share of step t), summed from t = T down
                totals[name] = totals[name] + value
            layers.append(LayerBack(
                l, frozen_array(share), frozen_array(dh_next[l]), frozen_array(dh_above), frozen_array(parts["dh"]),
                None if parts["dc"] is None else frozen_array(parts["dc"]),
                {k: frozen_array(v) for k, v in parts["gates"].items()},
                {k: frozen_array(v) for k, v in parts["deltas"].items()},
                {k: frozen_array(v) for k, v in parts["contributions"].items()},
                {k: frozen_array(totals[k]) for k in parts["contributions"]},
                frozen_array(dh_prev), None if dc_prev is None else frozen_array(dc_prev), frozen_array(dx)))
            # ∂L/∂h_{t-1} (and ∂L/∂c_{t-1}) go back to step t-1 of this layer
            dh_next[l] = dh_prev
            dc_next[l] = dc_prev if dc_prev is not None else dc_next[l]
            # the layer below receives ∂L/∂x_t of this layer as its ∂L/∂h_t|_{above}
            dh_above = dx
        back_steps.append(BackStep(t, tuple(layers)))
    gradients = {name: frozen_array(totals.get(name, readout.get(name))) for name in p}
    # θ ← θ - lr · (∂L/∂θ + λ θ)
    updated = {name: frozen_array(p[name] - lr * (gradients[name] + weight_decay * p[name])) for name in p}
    checks = ()
    if check:
        from .check import backward_checks

        checks = backward_checks(model, walk.context, y, gradients, updated, lr, weight_decay)
    return BackwardWalk(walk, y, y_hat, loss, dL_dy_hat, readout, tuple(back_steps), gradients,
                        float(lr), float(weight_decay), updated, walk.checks + checks)
