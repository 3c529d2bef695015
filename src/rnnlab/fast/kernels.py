"""Compiled forward pass and backpropagation through time for one sequence (float64, numba).

All parameters of a model live in one flat float64 vector ``theta``; ``layout.py`` says where
each torch tensor sits in it. The maths is torch's (PyTorch documentation, same gate order):

    rnn   h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)                  act = tanh | relu
    lstm  i, f, g, o = σ, σ, tanh, σ of (W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
          c_t = f c_{t-1} + i g,   h_t = o tanh(c_t)
    gru   r = σ(W_ir x + b_ir + W_hr h + b_hr),   z = σ(W_iz x + b_iz + W_hz h + b_hz)
          n = tanh(W_in x + b_in + r (W_hn h + b_hn)),   h_t = (1 - z) n + z h_{t-1}

Layer l > 0 takes layer l-1's h_t as its input. The prediction at each step is the top layer's
last hidden unit (readout "unit", as the seed) or ``w · h_t + b`` (readout "linear").

``spec`` is an int64 array: [cell, nonlinearity, num_layers, hidden_size, readout, readout_w,
readout_b] with cell 0 rnn / 1 lstm / 2 gru, nonlinearity 0 tanh / 1 relu, readout 0 unit /
1 linear; ``offsets`` is (num_layers, 4): where weight_ih, weight_hh, bias_ih, bias_hh start.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

RNN, LSTM, GRU = 0, 1, 2


@njit(cache=True, error_model="numpy", inline="always")
def _sigmoid(a):
    return 1.0 / (1.0 + math.exp(-a))


@njit(cache=True, error_model="numpy")
def workspace(spec, max_time):
    """Buffers for sequences up to ``max_time`` steps (forward values kept for the backward pass)."""
    layers, hidden = spec[2], spec[3]
    hs = np.zeros((layers, max_time + 1, hidden))  # h_0 .. h_T per layer
    cs = np.zeros((layers, max_time + 1, hidden))  # c_0 .. c_T per layer (lstm)
    gates = np.zeros((layers, max_time, 4 * hidden))  # post-activation gates per step
    dh = np.zeros((layers, hidden))  # backward: gradient reaching h_t of each layer
    dc = np.zeros((layers, hidden))  # backward: gradient reaching c_t of each layer (lstm)
    scratch = np.zeros((3, 4 * hidden))  # backward: pre-activation gradients
    return hs, cs, gates, dh, dc, scratch


@njit(cache=True, error_model="numpy")
def forward(theta, spec, offsets, x, x0, T, hs, cs, gates, preds):
    """Run the stack over x[x0:x0+T] from a zero state; preds[t] gets the prediction after x[x0+t]."""
    relu, layers, H = spec[1], spec[2], spec[3]
    for l in range(layers):
        hs[l, 0, :] = 0.0
        cs[l, 0, :] = 0.0
    if spec[0] != RNN:
        for t in range(T):
            preds[t] = step(theta, spec, offsets, x[x0 + t], t, hs, cs, gates)
        return
    # The rnn cell (the seed's) written out here, without a call per step: the hot loop.
    top = layers - 1
    for t in range(T):
        xt = x[x0 + t]
        for l in range(layers):
            o_wih, o_whh, o_bih, o_bhh = offsets[l, 0], offsets[l, 1], offsets[l, 2], offsets[l, 3]
            for i in range(H):
                # a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
                a = theta[o_bih + i] + theta[o_bhh + i]
                if l == 0:
                    a += theta[o_wih + i] * xt
                else:
                    for k in range(H):
                        a += theta[o_wih + i * H + k] * hs[l - 1, t + 1, k]
                for k in range(H):
                    a += theta[o_whh + i * H + k] * hs[l, t, k]
                if relu == 1:
                    hs[l, t + 1, i] = a if a > 0.0 else 0.0
                else:
                    hs[l, t + 1, i] = math.tanh(a)
        if spec[4] == 0:
            preds[t] = hs[top, t + 1, H - 1]
        else:
            p = theta[spec[6]]
            for k in range(H):
                p += theta[spec[5] + k] * hs[top, t + 1, k]
            preds[t] = p


@njit(cache=True, error_model="numpy")
def step(theta, spec, offsets, xt, t, hs, cs, gates):
    """One time step of the whole stack: input xt and the state at t -> state at t+1; the prediction."""
    cell, relu, layers, H = spec[0], spec[1], spec[2], spec[3]
    for l in range(layers):
        o_wih, o_whh, o_bih, o_bhh = offsets[l, 0], offsets[l, 1], offsets[l, 2], offsets[l, 3]
        n_in = 1 if l == 0 else H
        if cell == RNN:
            for i in range(H):
                a = theta[o_bih + i] + theta[o_bhh + i]
                if l == 0:
                    a += theta[o_wih + i] * xt
                else:
                    for k in range(n_in):
                        a += theta[o_wih + i * n_in + k] * hs[l - 1, t + 1, k]
                for k in range(H):
                    a += theta[o_whh + i * H + k] * hs[l, t, k]
                if relu == 1:
                    hs[l, t + 1, i] = a if a > 0.0 else 0.0
                else:
                    hs[l, t + 1, i] = math.tanh(a)
        elif cell == LSTM:
            for r in range(4 * H):
                a = theta[o_bih + r] + theta[o_bhh + r]
                if l == 0:
                    a += theta[o_wih + r] * xt
                else:
                    for k in range(n_in):
                        a += theta[o_wih + r * n_in + k] * hs[l - 1, t + 1, k]
                for k in range(H):
                    a += theta[o_whh + r * H + k] * hs[l, t, k]
                if 2 * H <= r < 3 * H:
                    gates[l, t, r] = math.tanh(a)  # g
                else:
                    gates[l, t, r] = _sigmoid(a)  # i, f, o
            for i in range(H):
                c = gates[l, t, H + i] * cs[l, t, i] + gates[l, t, i] * gates[l, t, 2 * H + i]
                cs[l, t + 1, i] = c
                hs[l, t + 1, i] = gates[l, t, 3 * H + i] * math.tanh(c)
        else:  # GRU: gates holds r, z, n and W_hn h + b_hn
            for r in range(3 * H):
                ax = theta[o_bih + r]
                if l == 0:
                    ax += theta[o_wih + r] * xt
                else:
                    for k in range(n_in):
                        ax += theta[o_wih + r * n_in + k] * hs[l - 1, t + 1, k]
                ah = theta[o_bhh + r]
                for k in range(H):
                    ah += theta[o_whh + r * H + k] * hs[l, t, k]
                if r < 2 * H:
                    gates[l, t, r] = _sigmoid(ax + ah)  # r, z
                else:
                    gates[l, t, r] = ax  # W_in x + b_in, turned into n below
                    gates[l, t, r + H] = ah  # W_hn h + b_hn
            for i in range(H):
                n = math.tanh(gates[l, t, 2 * H + i] + gates[l, t, i] * gates[l, t, 3 * H + i])
                gates[l, t, 2 * H + i] = n
                z = gates[l, t, H + i]
                hs[l, t + 1, i] = (1.0 - z) * n + z * hs[l, t, i]
    top = layers - 1
    if spec[4] == 0:
        return hs[top, t + 1, H - 1]
    p = theta[spec[6]]
    for k in range(H):
        p += theta[spec[5] + k] * hs[top, t + 1, k]
    return p


@njit(cache=True, error_model="numpy")
def backward(theta, spec, offsets, x, x0, T, hs, cs, gates, dh, dc, da, dpreds, grad, fed):
    """Add d(loss)/d(theta) to ``grad`` given dpreds[t] = d(loss)/d(preds[t]) (BPTT).

    dh, dc: (layers, hidden) scratch for the gradient reaching h_t, c_t; da: (3, 4 hidden).
    Inputs from t = ``fed`` on are the previous predictions fed back (x[x0+t] = preds[t-1]): the
    gradient reaching such an input, d(loss)/dx_t = W_ih(layer 0)ᵀ da_t, is added to dpreds[t-1]
    before step t-1 is taken back. ``fed`` >= T: no input is fed back.
    """
    cell, relu, layers, H = spec[0], spec[1], spec[2], spec[3]
    dh[:, :] = 0.0
    dc[:, :] = 0.0
    top = layers - 1
    if cell == RNN:
        _backward_rnn(theta, spec, offsets, x, x0, T, hs, dh, da, dpreds, grad, fed)
        return
    G = 1 if cell == RNN else (4 if cell == LSTM else 3)
    for t in range(T - 1, -1, -1):
        g = dpreds[t]
        if g != 0.0:
            if spec[4] == 0:
                dh[top, H - 1] += g
            else:
                for k in range(H):
                    dh[top, k] += g * theta[spec[5] + k]
                    grad[spec[5] + k] += g * hs[top, t + 1, k]
                grad[spec[6]] += g
        for l in range(top, -1, -1):
            o_wih, o_whh, o_bih, o_bhh = offsets[l, 0], offsets[l, 1], offsets[l, 2], offsets[l, 3]
            n_in = 1 if l == 0 else H
            # da[0]: input-side pre-activation gradient (G*H); da[1]: hidden side (G*H);
            # da[2]: the part of dh_{t-1} that does not go through W_hh (gru: z dh)
            if cell == RNN:
                for i in range(H):
                    h = hs[l, t + 1, i]
                    if relu == 1:
                        d = dh[l, i] if h > 0.0 else 0.0
                    else:
                        d = dh[l, i] * (1.0 - h * h)
                    da[0, i] = d
                    da[1, i] = d
                    da[2, i] = 0.0
            elif cell == LSTM:
                for i in range(H):
                    ig, fg = gates[l, t, i], gates[l, t, H + i]
                    gg, og = gates[l, t, 2 * H + i], gates[l, t, 3 * H + i]
                    tc = math.tanh(cs[l, t + 1, i])
                    dct = dc[l, i] + dh[l, i] * og * (1.0 - tc * tc)
                    da[0, i] = dct * gg * ig * (1.0 - ig)
                    da[0, H + i] = dct * cs[l, t, i] * fg * (1.0 - fg)
                    da[0, 2 * H + i] = dct * ig * (1.0 - gg * gg)
                    da[0, 3 * H + i] = dh[l, i] * tc * og * (1.0 - og)
                    dc[l, i] = dct * fg  # reaches c_{t-1}
                    da[2, i] = 0.0
                for r in range(4 * H):
                    da[1, r] = da[0, r]
            else:
                for i in range(H):
                    rg, zg = gates[l, t, i], gates[l, t, H + i]
                    ng, ghn = gates[l, t, 2 * H + i], gates[l, t, 3 * H + i]
                    d = dh[l, i]
                    dn = d * (1.0 - zg) * (1.0 - ng * ng)
                    dz = d * (hs[l, t, i] - ng) * zg * (1.0 - zg)
                    dr = dn * ghn * rg * (1.0 - rg)
                    da[0, i] = dr
                    da[0, H + i] = dz
                    da[0, 2 * H + i] = dn
                    da[1, i] = dr
                    da[1, H + i] = dz
                    da[1, 2 * H + i] = dn * rg
                    da[2, i] = d * zg
            # parameter gradients
            for r in range(G * H):
                grad[o_bih + r] += da[0, r]
                grad[o_bhh + r] += da[1, r]
                if l == 0:
                    grad[o_wih + r] += da[0, r] * x[x0 + t]
                else:
                    for k in range(n_in):
                        grad[o_wih + r * n_in + k] += da[0, r] * hs[l - 1, t + 1, k]
                for k in range(H):
                    grad[o_whh + r * H + k] += da[1, r] * hs[l, t, k]
            # gradient reaching the layer below at time t (its h_t)
            if l > 0:
                for k in range(H):
                    s = 0.0
                    for r in range(G * H):
                        s += theta[o_wih + r * n_in + k] * da[0, r]
                    dh[l - 1, k] += s
            # gradient reaching h_{t-1} of this layer
            for k in range(H):
                s = da[2, k]
                for r in range(G * H):
                    s += theta[o_whh + r * H + k] * da[1, r]
                dh[l, k] = s
        if t >= fed:  # x_t = preds[t-1]: dL/dx_t = W_ih(l0)ᵀ da_t (da[0] holds layer 0's now)
            s = 0.0
            for r in range(G * H):
                s += theta[offsets[0, 0] + r] * da[0, r]
            dpreds[t - 1] += s


@njit(cache=True, error_model="numpy")
def _backward_rnn(theta, spec, offsets, x, x0, T, hs, dh, da, dpreds, grad, fed):
    """``backward`` for the rnn cell, written out: the hot loop of the seed's training."""
    relu, layers, H = spec[1], spec[2], spec[3]
    top = layers - 1
    for t in range(T - 1, -1, -1):
        g = dpreds[t]
        if g != 0.0:
            if spec[4] == 0:
                dh[top, H - 1] += g
            else:
                for k in range(H):
                    dh[top, k] += g * theta[spec[5] + k]
                    grad[spec[5] + k] += g * hs[top, t + 1, k]
                grad[spec[6]] += g
        for l in range(top, -1, -1):
            o_wih, o_whh, o_bih, o_bhh = offsets[l, 0], offsets[l, 1], offsets[l, 2], offsets[l, 3]
            for i in range(H):
                # da = dh ⊙ act'(a): 1 − h² for tanh, [h > 0] for relu
                h = hs[l, t + 1, i]
                if relu == 1:
                    d = dh[l, i] if h > 0.0 else 0.0
                else:
                    d = dh[l, i] * (1.0 - h * h)
                da[0, i] = d
                grad[o_bih + i] += d
                grad[o_bhh + i] += d
                if l == 0:
                    grad[o_wih + i] += d * x[x0 + t]
                else:
                    for k in range(H):
                        grad[o_wih + i * H + k] += d * hs[l - 1, t + 1, k]
                for k in range(H):
                    grad[o_whh + i * H + k] += d * hs[l, t, k]
            if l > 0:  # W_ih^T da reaches the layer below at time t
                for k in range(H):
                    s = 0.0
                    for i in range(H):
                        s += theta[o_wih + i * H + k] * da[0, i]
                    dh[l - 1, k] += s
            for k in range(H):  # W_hh^T da reaches h_{t-1}
                s = 0.0
                for i in range(H):
                    s += theta[o_whh + i * H + k] * da[0, i]
                dh[l, k] = s
        if t >= fed:  # x_t = preds[t-1]: dL/dx_t = W_ih(l0)ᵀ da_t
            s = 0.0
            for i in range(H):
                s += theta[offsets[0, 0] + i] * da[0, i]
            dpreds[t - 1] += s


@njit(cache=True, error_model="numpy")
def sequence_loss_grad(theta, spec, offsets, x, x0, T, targets, y0, weights, grad, work, preds, dpreds):
    """sum_t weights[t] (preds[t] - targets[y0+t])² over inputs x[x0:x0+T]; adds its gradient to ``grad``."""
    hs, cs, gates, dh, dc, da = work
    forward(theta, spec, offsets, x, x0, T, hs, cs, gates, preds)
    loss = 0.0
    for t in range(T):
        w = weights[t]
        if w != 0.0:
            e = preds[t] - targets[y0 + t]
            loss += w * e * e
            dpreds[t] = 2.0 * w * e
        else:
            dpreds[t] = 0.0
    backward(theta, spec, offsets, x, x0, T, hs, cs, gates, dh, dc, da, dpreds, grad, T)
    return loss


@njit(cache=True, error_model="numpy")
def last_step_loss_grad(theta, spec, offsets, x, x0, T, target, scale, grad, work, preds, dpreds):
    """scale · (prediction after inputs x[x0:x0+T] − target)²; adds its gradient to ``grad``."""
    hs, cs, gates, dh, dc, da = work
    forward(theta, spec, offsets, x, x0, T, hs, cs, gates, preds)
    e = preds[T - 1] - target
    for t in range(T - 1):
        dpreds[t] = 0.0
    dpreds[T - 1] = 2.0 * scale * e
    backward(theta, spec, offsets, x, x0, T, hs, cs, gates, dh, dc, da, dpreds, grad, T)
    return scale * e * e


@njit(cache=True, error_model="numpy")
def rollout_loss_grad(theta, spec, offsets, series, start, L, K, scale, grad, work, xs, preds, dpreds):
    """scale · sum_k (ŷ_k − series[start+L+k−1])² for k = 1…K; adds its gradient to ``grad``.

    ŷ_1 is the prediction after the context series[start:start+L]; ŷ_k for k > 1 the prediction
    after feeding ŷ_{k−1} back as the next input. xs, preds, dpreds: scratch of >= L+K−1 values.
    """
    hs, cs, gates, dh, dc, da = work
    T = L + K - 1  # the inputs: L context values, then ŷ_1 … ŷ_{K−1}
    for t in range(L):
        xs[t] = series[start + t]
    forward(theta, spec, offsets, xs, 0, L, hs, cs, gates, preds)
    for t in range(L, T):
        xs[t] = preds[t - 1]  # ŷ fed back
        preds[t] = step(theta, spec, offsets, xs[t], t, hs, cs, gates)
    loss = 0.0
    for t in range(L - 1):
        dpreds[t] = 0.0
    for t in range(L - 1, T):
        e = preds[t] - series[start + t + 1]
        loss += scale * e * e
        dpreds[t] = 2.0 * scale * e
    backward(theta, spec, offsets, xs, 0, T, hs, cs, gates, dh, dc, da, dpreds, grad, L)
    return loss
