"""Compiled forward pass and backpropagation through time for one sequence (float64, numba).

All parameters of a model live in one flat float64 vector ``theta``; ``layout.py`` says where
each torch tensor sits in it, and every kernel takes the model as a ``layout.Net`` named tuple
(``net.cell``, ``net.hidden``, ``net.offsets[l, W_IH]`` …). The maths is torch's (PyTorch
documentation, same gate order; σ(a) = 1 / (1 + e^{-a}), ⊙ the elementwise product):

    rnn   h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)                  act = tanh | relu
    lstm  i, f, g, o = σ, σ, tanh, σ of (W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
          c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
    gru   r = σ(W_ir x + b_ir + W_hr h + b_hr),   z = σ(W_iz x + b_iz + W_hz h + b_hz)
          n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),   h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

Layer l > 0 takes layer l-1's h_t as its input. The prediction ŷ_t at each step is the top
layer's last hidden unit (readout "unit", as the seed) or ``w · h_t + b`` (readout "linear").

Each cell is written once forward (``_rnn_layer``, ``_lstm_layer``, ``_gru_layer``) and once
backward (``_rnn_back``, ``_lstm_back``, ``_gru_back``); the readout, the weight gradients and
the loop through time and layers are shared, and every mat-vec goes through one inline helper
(``dot``: a matrix row times a vector, or a column for the transpose). The sums run in a fixed
order (no fastmath), the one ``special.py`` writes out, so the two give the same bits. A ``Work``
named tuple (``workspace``) holds the forward values BPTT reads, its scratch, and the inputs and
predictions of the sequence; the loops take its arrays out once, before they start.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .layout import B_HH, B_IH, GRU, LSTM, RNN, W_HH, W_IH


class Work(NamedTuple):
    """Buffers for one sequence of up to ``max_time`` steps (``workspace``)."""

    hs: np.ndarray  # (layers, max_time + 1, H): h_0 … h_T per layer
    cs: np.ndarray  # (layers, max_time + 1, H): c_0 … c_T per layer (lstm)
    gates: np.ndarray  # (layers, max_time, 4 H): lstm i, f, g, o; gru r, z, n and W_hn h_{t-1} + b_hn
    dh: np.ndarray  # (layers, H): backward, d(loss)/dh_t reaching each layer
    dc: np.ndarray  # (layers, H): backward, d(loss)/dc_t reaching each layer (lstm)
    da: np.ndarray  # (3, 4 H): backward, d(loss)/d(pre-activation): input side, hidden side; gru's z ⊙ dh_t
    xs: np.ndarray  # (max_time,): the inputs of a rollout (the context, then ŷ fed back)
    preds: np.ndarray  # (max_time,): ŷ_t
    dpreds: np.ndarray  # (max_time,): d(loss)/dŷ_t


@njit(cache=True, error_model="numpy")
def workspace(net, max_time):
    """Buffers for sequences up to ``max_time`` steps (forward values kept for the backward pass)."""
    layers, H = net.layers, net.hidden
    return Work(
        np.zeros((layers, max_time + 1, H)), np.zeros((layers, max_time + 1, H)), np.zeros((layers, max_time, 4 * H)),
        np.zeros((layers, H)), np.zeros((layers, H)), np.zeros((3, 4 * H)),
        np.zeros(max_time), np.zeros(max_time), np.zeros(max_time),
    )



@njit(cache=True, error_model="numpy", inline="always")
def dot(theta, at, stride, v, n, a):
    """a + Σ_j θ[at + j·stride] v[j], added for j = 0 … n−1 in this order.

    Of a row-major (rows, cols) matrix W starting at w: row r times v is
    ``dot(θ, w + r·cols, 1, v, cols, a)``, column k times v (Wᵀ v)_k is ``dot(θ, w + k, cols, v, rows, a)``.
    """
    for j in range(n):
        a += theta[at + j * stride] * v[j]
    return a


@njit(cache=True, error_model="numpy", inline="always")
def layer_offsets(net, l):
    """Where layer l's weight_ih, weight_hh, bias_ih, bias_hh start in theta."""
    o = net.offsets
    return o[l, W_IH], o[l, W_HH], o[l, B_IH], o[l, B_HH]


@njit(cache=True, error_model="numpy", inline="always")
def _sigmoid(a):
    # σ(a) = 1 / (1 + e^{-a})
    return 1.0 / (1.0 + math.exp(-a))


@njit(cache=True, error_model="numpy", inline="always")
def _act(a, relu):
    # act(a) = max(a, 0) | tanh(a)
    if relu == 1:
        return a if a > 0.0 else 0.0
    return math.tanh(a)


@njit(cache=True, error_model="numpy", inline="always")
def _w_ih_x(theta, w_ih, l, r, H, x_t, below, a):
    """a + (W_ih x_t)_r: layer 0's input is the scalar x_t, layer l > 0's the layer below's h_t (``below``)."""
    if l == 0:
        return a + theta[w_ih + r] * x_t
    return dot(theta, w_ih + r * H, 1, below, H, a)


# -- forward -----------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy", inline="always")
def _rnn_layer(net, theta, l, x_t, t, hs):
    """Layer l of an rnn: hs[l, t + 1] = h_t from its input and h_{t-1} = hs[l, t]."""
    w_ih, w_hh, b_ih, b_hh = layer_offsets(net, l)
    H = net.hidden
    h_prev, below = hs[l, t], hs[max(l - 1, 0), t + 1]
    for i in range(H):
        # a = b_ih + b_hh + W_ih x_t + W_hh h_{t-1}
        a = theta[b_ih + i] + theta[b_hh + i]
        a = _w_ih_x(theta, w_ih, l, i, H, x_t, below, a)
        a = dot(theta, w_hh + i * H, 1, h_prev, H, a)
        # h_t = act(a)
        hs[l, t + 1, i] = _act(a, net.relu)


@njit(cache=True, error_model="numpy")
def _lstm_layer(net, theta, l, x_t, t, hs, cs, gates):
    """Layer l of an lstm: h_t, c_t into hs, cs[l, t + 1]; its gates i, f, g, o into gates[l, t]."""
    w_ih, w_hh, b_ih, b_hh = layer_offsets(net, l)
    H = net.hidden
    h_prev, below = hs[l, t], hs[max(l - 1, 0), t + 1]
    for r in range(4 * H):
        # a = b_i· + b_h· + W_i· x_t + W_h· h_{t-1}, rows r of gates i, f, g, o
        a = theta[b_ih + r] + theta[b_hh + r]
        a = _w_ih_x(theta, w_ih, l, r, H, x_t, below, a)
        a = dot(theta, w_hh + r * H, 1, h_prev, H, a)
        if 2 * H <= r < 3 * H:
            # g = tanh(a_g)
            gates[l, t, r] = math.tanh(a)
        else:
            # i, f, o = σ(a_i), σ(a_f), σ(a_o)
            gates[l, t, r] = _sigmoid(a)
    for i in range(H):
        # c_t = f ⊙ c_{t-1} + i ⊙ g
        c = gates[l, t, H + i] * cs[l, t, i] + gates[l, t, i] * gates[l, t, 2 * H + i]
        cs[l, t + 1, i] = c
        # h_t = o ⊙ tanh(c_t)
        hs[l, t + 1, i] = gates[l, t, 3 * H + i] * math.tanh(c)


@njit(cache=True, error_model="numpy")
def _gru_layer(net, theta, l, x_t, t, hs, gates):
    """Layer l of a gru: h_t into hs[l, t + 1]; r, z, n and W_hn h_{t-1} + b_hn into gates[l, t]."""
    w_ih, w_hh, b_ih, b_hh = layer_offsets(net, l)
    H = net.hidden
    h_prev, below = hs[l, t], hs[max(l - 1, 0), t + 1]
    for r in range(3 * H):
        # ax = W_i· x_t + b_i·,  ah = W_h· h_{t-1} + b_h·  (rows r of r, z, n)
        ax = _w_ih_x(theta, w_ih, l, r, H, x_t, below, theta[b_ih + r])
        ah = dot(theta, w_hh + r * H, 1, h_prev, H, theta[b_hh + r])
        if r < 2 * H:
            # r, z = σ(W_i· x_t + b_i· + W_h· h_{t-1} + b_h·)
            gates[l, t, r] = _sigmoid(ax + ah)
        else:
            gates[l, t, r] = ax  # W_in x_t + b_in, turned into n below
            gates[l, t, r + H] = ah  # W_hn h_{t-1} + b_hn
    for i in range(H):
        # n = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t-1} + b_hn))
        n = math.tanh(gates[l, t, 2 * H + i] + gates[l, t, i] * gates[l, t, 3 * H + i])
        gates[l, t, 2 * H + i] = n
        # h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
        z = gates[l, t, H + i]
        hs[l, t + 1, i] = (1.0 - z) * n + z * hs[l, t, i]


@njit(cache=True, error_model="numpy", inline="always")
def _readout(net, theta, hs, t):
    """ŷ_t from the top layer's h_t (hs[top, t + 1])."""
    top, H = net.layers - 1, net.hidden
    if net.linear == 0:
        # ŷ_t = h_t[H-1]
        return hs[top, t + 1, H - 1]
    # ŷ_t = b + w · h_t
    y = theta[net.readout_b]
    for k in range(H):
        y += theta[net.readout_w + k] * hs[top, t + 1, k]
    return y


@njit(cache=True, error_model="numpy", inline="always")
def _step(net, theta, x_t, t, hs, cs, gates):
    """Every layer from the state at t to t + 1; ŷ_t."""
    for l in range(net.layers):
        if net.cell == RNN:
            _rnn_layer(net, theta, l, x_t, t, hs)
        elif net.cell == LSTM:
            _lstm_layer(net, theta, l, x_t, t, hs, cs, gates)
        else:
            _gru_layer(net, theta, l, x_t, t, hs, gates)
    return _readout(net, theta, hs, t)


@njit(cache=True, error_model="numpy")
def step(net, theta, x_t, t, work):
    """One time step of the whole stack: input x_t and the state at t -> the state at t+1; ŷ_t."""
    return _step(net, theta, x_t, t, work.hs, work.cs, work.gates)


@njit(cache=True, error_model="numpy")
def forward(net, theta, x, x0, T, work):
    """Run the stack over x[x0:x0+T] from a zero state; work.preds[t] gets ŷ after x[x0+t]."""
    hs, cs, gates, preds = work.hs, work.cs, work.gates, work.preds
    for l in range(net.layers):
        # h_0 = 0, c_0 = 0
        hs[l, 0, :] = 0.0
        cs[l, 0, :] = 0.0
    if net.cell == RNN:  # the seed's hot loop: the rnn cell inline, the cell not tested per step
        for t in range(T):
            for l in range(net.layers):
                _rnn_layer(net, theta, l, x[x0 + t], t, hs)
            preds[t] = _readout(net, theta, hs, t)
        return
    for t in range(T):
        preds[t] = _step(net, theta, x[x0 + t], t, hs, cs, gates)


# -- backward ----------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy", inline="always")
def _readout_back(net, theta, g, hs, dh, t, grad):
    """What d(loss)/dŷ_t = g gives the top layer's dh_t and, linear, the readout's gradient."""
    top = net.layers - 1
    if g == 0.0:
        return
    if net.linear == 0:
        # ŷ_t = h_t[H-1]: dh_t[H-1] += g
        dh[top, net.hidden - 1] += g
        return
    for k in range(net.hidden):
        # ŷ_t = w · h_t + b: dh_t += g w,  dw += g h_t
        dh[top, k] += g * theta[net.readout_w + k]
        grad[net.readout_w + k] += g * hs[top, t + 1, k]
    # db += g
    grad[net.readout_b] += g


@njit(cache=True, error_model="numpy", inline="always")
def _rnn_back(net, l, t, hs, dh, da):
    """da[0] = d(loss)/da of layer l at step t, from dh_t."""
    for i in range(net.hidden):
        h = hs[l, t + 1, i]
        if net.relu == 1:
            # da = dh_t ⊙ [h_t > 0]
            da[0, i] = dh[l, i] if h > 0.0 else 0.0
        else:
            # da = dh_t ⊙ (1 − h_t²)
            da[0, i] = dh[l, i] * (1.0 - h * h)


@njit(cache=True, error_model="numpy")
def _lstm_back(net, l, t, cs, gates, dh, dc, da):
    """da[0] = d(loss)/d(a_i, a_f, a_g, a_o) of layer l at step t; dc becomes dc_{t-1}."""
    H = net.hidden
    for i in range(H):
        ig, fg = gates[l, t, i], gates[l, t, H + i]
        gg, og = gates[l, t, 2 * H + i], gates[l, t, 3 * H + i]
        tc = math.tanh(cs[l, t + 1, i])
        # dc_t = dc_t (from c_{t+1}) + dh_t ⊙ o ⊙ (1 − tanh²(c_t))
        dct = dc[l, i] + dh[l, i] * og * (1.0 - tc * tc)
        # da_i = dc_t ⊙ g ⊙ i (1 − i)
        da[0, i] = dct * gg * ig * (1.0 - ig)
        # da_f = dc_t ⊙ c_{t-1} ⊙ f (1 − f)
        da[0, H + i] = dct * cs[l, t, i] * fg * (1.0 - fg)
        # da_g = dc_t ⊙ i ⊙ (1 − g²)
        da[0, 2 * H + i] = dct * ig * (1.0 - gg * gg)
        # da_o = dh_t ⊙ tanh(c_t) ⊙ o (1 − o)
        da[0, 3 * H + i] = dh[l, i] * tc * og * (1.0 - og)
        # dc_{t-1} = dc_t ⊙ f
        dc[l, i] = dct * fg


@njit(cache=True, error_model="numpy")
def _gru_back(net, l, t, hs, gates, dh, da):
    """da[0], da[1] = d(loss)/d(input side, hidden side) of r, z, n; da[2] = z ⊙ dh_t."""
    H = net.hidden
    for i in range(H):
        rg, zg = gates[l, t, i], gates[l, t, H + i]
        ng, ghn = gates[l, t, 2 * H + i], gates[l, t, 3 * H + i]
        d = dh[l, i]
        # da_n = dh_t ⊙ (1 − z) ⊙ (1 − n²)
        dn = d * (1.0 - zg) * (1.0 - ng * ng)
        # da_z = dh_t ⊙ (h_{t-1} − n) ⊙ z (1 − z)
        dz = d * (hs[l, t, i] - ng) * zg * (1.0 - zg)
        # da_r = da_n ⊙ (W_hn h_{t-1} + b_hn) ⊙ r (1 − r)
        dr = dn * ghn * rg * (1.0 - rg)
        # input side (W_i· x_t + b_i·): da_r, da_z, da_n
        da[0, i] = dr
        da[0, H + i] = dz
        da[0, 2 * H + i] = dn
        # hidden side (W_h· h_{t-1} + b_h·): da_r, da_z, r ⊙ da_n
        da[1, i] = dr
        da[1, H + i] = dz
        da[1, 2 * H + i] = dn * rg
        # h_t = … + z ⊙ h_{t-1}: dh_{t-1} gets z ⊙ dh_t past W_hh
        da[2, i] = d * zg


@njit(cache=True, error_model="numpy", inline="always")
def _weight_grads(net, l, t, x_t, hs, da_x, da_h, rows, grad):
    """Add layer l's parameter gradients at step t, given its pre-activation gradients."""
    w_ih, w_hh, b_ih, b_hh = layer_offsets(net, l)
    H = net.hidden
    for r in range(rows):
        # db_ih += da_x,  db_hh += da_h
        grad[b_ih + r] += da_x[r]
        grad[b_hh + r] += da_h[r]
        # dW_ih += da_x x_tᵀ (x_t: the layer below's h_t for l > 0)
        if l == 0:
            grad[w_ih + r] += da_x[r] * x_t
        else:
            for k in range(H):
                grad[w_ih + r * H + k] += da_x[r] * hs[l - 1, t + 1, k]
        # dW_hh += da_h h_{t-1}ᵀ
        for k in range(H):
            grad[w_hh + r * H + k] += da_h[r] * hs[l, t, k]


@njit(cache=True, error_model="numpy")
def backward(net, theta, x, x0, T, work, grad, fed):
    """Add d(loss)/d(theta) to ``grad`` given work.dpreds[t] = d(loss)/dŷ_t (BPTT), after ``forward``.

    Inputs from t = ``fed`` on are the previous predictions fed back (x[x0+t] = ŷ_{t-1}): the
    gradient reaching such an input, d(loss)/dx_t = W_ih(layer 0)ᵀ da_t, is added to dpreds[t-1]
    before step t-1 is taken back. ``fed`` >= T: no input is fed back.
    """
    cell, H, top = net.cell, net.hidden, net.layers - 1
    rows = H if cell == RNN else (4 * H if cell == LSTM else 3 * H)  # of weight_ih and weight_hh
    hs, cs, gates, dh, dc, da, dpreds = work.hs, work.cs, work.gates, work.dh, work.dc, work.da, work.dpreds
    dh[:, :] = 0.0
    dc[:, :] = 0.0
    # da[0]: d(loss)/d(pre-activation), input side; da[1]: hidden side (the same but for the
    # gru's n); da[2]: the part of dh_{t-1} that does not go through W_hh (the gru's z ⊙ dh_t)
    da_x, da_h = da[0], da[1] if cell == GRU else da[0]
    for t in range(T - 1, -1, -1):
        _readout_back(net, theta, dpreds[t], hs, dh, t, grad)
        for l in range(top, -1, -1):
            if cell == RNN:
                _rnn_back(net, l, t, hs, dh, da)
            elif cell == LSTM:
                _lstm_back(net, l, t, cs, gates, dh, dc, da)
            else:
                _gru_back(net, l, t, hs, gates, dh, da)
            _weight_grads(net, l, t, x[x0 + t], hs, da_x, da_h, rows, grad)
            w_ih, w_hh = net.offsets[l, W_IH], net.offsets[l, W_HH]
            if l > 0:
                for k in range(H):
                    # dh_t of the layer below += W_ihᵀ da_x
                    dh[l - 1, k] += dot(theta, w_ih + k, H, da_x, rows, 0.0)
            for k in range(H):
                # dh_{t-1} = W_hhᵀ da_h (+ z ⊙ dh_t, gru)
                dh[l, k] = dot(theta, w_hh + k, H, da_h, rows, da[2, k] if cell == GRU else 0.0)
        if t >= fed:
            # x_t = ŷ_{t-1}: dŷ_{t-1} += dx_t = W_ih(layer 0)ᵀ da_x (da holds layer 0's now)
            dpreds[t - 1] += dot(theta, net.offsets[0, W_IH], 1, da_x, rows, 0.0)


# -- losses ------------------------------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def sequence_loss_grad(net, theta, x, x0, T, targets, y0, weights, grad, work):
    """Σ_t weights[t] (ŷ_t − targets[y0+t])² over inputs x[x0:x0+T]; adds its gradient to ``grad``."""
    forward(net, theta, x, x0, T, work)
    preds, dpreds = work.preds, work.dpreds
    loss = 0.0
    for t in range(T):
        w = weights[t]
        if w != 0.0:
            # loss += w e²,  d(loss)/dŷ_t = 2 w e  (e = ŷ_t − y_t)
            e = preds[t] - targets[y0 + t]
            loss += w * e * e
            dpreds[t] = 2.0 * w * e
        else:
            dpreds[t] = 0.0
    backward(net, theta, x, x0, T, work, grad, T)
    return loss


@njit(cache=True, error_model="numpy")
def last_step_loss_grad(net, theta, x, x0, T, target, scale, grad, work):
    """scale · (ŷ after inputs x[x0:x0+T] − target)²; adds its gradient to ``grad``."""
    forward(net, theta, x, x0, T, work)
    dpreds = work.dpreds
    e = work.preds[T - 1] - target
    for t in range(T - 1):
        dpreds[t] = 0.0
    # d(loss)/dŷ = 2 scale e
    dpreds[T - 1] = 2.0 * scale * e
    backward(net, theta, x, x0, T, work, grad, T)
    return scale * e * e


@njit(cache=True, error_model="numpy")
def rollout_loss_grad(net, theta, series, start, L, K, level, scale, grad, work):
    """scale · Σ_k (ŷ_k − (series[start+L+k−1] − level))² for k = 1…K; adds its gradient to ``grad``.

    ŷ_1 is the prediction after the context series[start:start+L] − level; ŷ_k for k > 1 the
    prediction after feeding ŷ_{k−1} back as the next input. ``level`` is 0, or the context's last
    value for relative windows (``data.level = "last"``). ``work`` holds at least L+K−1 steps.
    """
    xs, preds, dpreds = work.xs, work.preds, work.dpreds
    T = L + K - 1  # the inputs: L context values, then ŷ_1 … ŷ_{K−1}
    for t in range(L):
        xs[t] = series[start + t] - level
    forward(net, theta, xs, 0, L, work)
    for t in range(L, T):
        # x_t = ŷ_{t-1}, fed back
        xs[t] = preds[t - 1]
        preds[t] = step(net, theta, xs[t], t, work)
    loss = 0.0
    for t in range(L - 1):
        dpreds[t] = 0.0
    for t in range(L - 1, T):
        # loss += scale e²,  d(loss)/dŷ_t = 2 scale e  (e = ŷ_t − y_t)
        e = preds[t] - (series[start + t + 1] - level)
        loss += scale * e * e
        dpreds[t] = 2.0 * scale * e
    backward(net, theta, xs, 0, T, work, grad, L)
    return loss
