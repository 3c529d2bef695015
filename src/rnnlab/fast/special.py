"""The seed's case compiled on its own: a 1-layer rnn cell trained by plain per-sample SGD.

The general loop (``loop.train_steps``) reads the cell, the sizes and the offsets from arrays at
run time. Here the hidden size is a constant of the compiled code: it is passed as the length of a tuple
(``units(hidden)``), numba compiles (and caches on disk) one version per length, and the
compiler unrolls the loops over the units; the parameters sit at fixed offsets,
nothing is allocated inside the step loop, and each model's weights and generator state are
copied into buffers of its own thread for the whole run (no two threads write the same cache line).

It performs the same floating-point operations in the same order as ``loop.train_steps`` with
``kernels.forward`` / ``kernels._backward_rnn`` and the SGD update, so it gives the same
numbers; the tests compare the two. ``applies(config)`` says when it is used:

    cell rnn (tanh or relu), 1 layer, hidden_size <= MAX_HIDDEN, readout unit or linear,
    one window per step (train.batch_size 1), optimizer sgd without momentum, weight decay
    or gradient clipping; any learning-rate schedule.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .mt import randint

MAX_HIDDEN = 16


def applies(config) -> bool:
    """Whether ``config`` is the case the specialised loop implements (see the module docstring)."""
    m, t = config.model, config.train
    return (
        m.cell == "rnn" and m.num_layers == 1 and m.input_size == 1 and m.hidden_size <= MAX_HIDDEN
        and t.batch_size == 1 and t.optimizer == "sgd" and t.momentum == 0.0
        and t.weight_decay == 0.0 and t.clip_grad == 0.0 and t.rollout == 1
    )


def units(hidden: int) -> tuple:
    """The hidden size as the compiled code takes it: a tuple of that length."""
    return (0.0,) * int(hidden)


@njit(cache=True, error_model="numpy")
def _run(units, relu, linear, th, series, last, low, st, lrs, losses, backup, grad, hs, dh, da):
    """Train th (P,) in place for len(lrs) steps with generator state st; (steps done, restored).

    len(units) = H is a compile-time constant; relu, linear: 0/1 flags.
    """
    H = len(units)
    # offsets in the flat vector (layout.py): weight_ih (H, 1), weight_hh (H, H), bias_ih, bias_hh,
    # then readout.weight (1, H) and readout.bias for the linear readout
    WIH, WHH, BIH, BHH = 0, H, H + H * H, 2 * H + H * H
    RW, RB = 3 * H + H * H, 4 * H + H * H
    P = th.shape[0]
    for n in range(lrs.shape[0]):
        start = randint(st, 0, last - low)
        stop = randint(st, start + low, last + 1)
        end = stop - 1  # context series[start:end], target series[end]
        T = end - start
        # forward: h_t = act(b_ih + b_hh + W_ih x_t + W_hh h_{t-1}), hs[t*H:(t+1)*H] = h_t
        for i in range(H):
            hs[i] = 0.0
        for t in range(T):
            xt = series[start + t]
            for i in range(H):
                a = th[BIH + i] + th[BHH + i]
                a += th[WIH + i] * xt
                for k in range(H):
                    a += th[WHH + i * H + k] * hs[t * H + k]
                if relu:
                    hs[(t + 1) * H + i] = a if a > 0.0 else 0.0
                else:
                    hs[(t + 1) * H + i] = a
            if not relu:  # the calls to tanh after the sums: no live values to save around them
                for i in range(H):
                    hs[(t + 1) * H + i] = math.tanh(hs[(t + 1) * H + i])
        top = T * H
        if linear:
            p = th[RB]
            for k in range(H):
                p += th[RW + k] * hs[top + k]
        else:
            p = hs[top + H - 1]
        e = p - series[end]
        g = 2.0 * e  # d(loss)/d(prediction)
        loss = e * e
        losses[n] = loss
        if not math.isfinite(loss):
            for j in range(P):
                if not math.isfinite(th[j]):
                    th[:] = backup
                    return n, 1
            return n, 0
        # backward through time
        for j in range(P):
            grad[j] = 0.0
        for k in range(H):
            dh[k] = 0.0
        if g != 0.0:
            if linear:
                for k in range(H):
                    dh[k] += g * th[RW + k]
                    grad[RW + k] += g * hs[top + k]
                grad[RB] += g
            else:
                dh[H - 1] += g
        for t in range(T - 1, -1, -1):
            xt = series[start + t]
            for i in range(H):
                h = hs[(t + 1) * H + i]
                if relu:
                    d = dh[i] if h > 0.0 else 0.0
                else:
                    d = dh[i] * (1.0 - h * h)
                da[i] = d
                grad[BIH + i] += d
                grad[BHH + i] += d
                grad[WIH + i] += d * xt
                for k in range(H):
                    grad[WHH + i * H + k] += d * hs[t * H + k]
            if t > 0:  # W_hh^T da reaches h_{t-1}
                for k in range(H):
                    s = 0.0
                    for i in range(H):
                        s += th[WHH + i * H + k] * da[i]
                    dh[k] = s
        # plain SGD
        lr = lrs[n]
        for j in range(P):
            backup[j] = th[j]
            th[j] -= lr * grad[j]
    return lrs.shape[0], 0


@njit(cache=True, error_model="numpy")
def train_one(units, p, theta, state, lrs, losses):
    """``loop.train_steps`` for this case: theta (P,), state (625,) advanced in place;
    ``units`` = ``units(hidden_size)``, the compile-time hidden size."""
    relu, linear, series, last, low = p.spec[1], p.spec[4], p.series, p.last, p.low
    H = len(units)
    th, st = theta.copy(), state.copy()
    out = _run(units, relu, linear, th, series, last, low, st, lrs, losses, th.copy(), np.zeros(th.shape[0]),
               np.zeros((last + 2) * H), np.zeros(H), np.zeros(H))
    theta[:] = th
    state[:] = st
    return out


@njit(cache=True, error_model="numpy", parallel=True)
def train_many(units, p, thetas, states, step0, lrs, losses, done):
    """``loop.train_many`` for this case: one row per model, the models split evenly over the threads."""
    relu, linear, series, last, low = p.spec[1], p.spec[4], p.series, p.last, p.low
    H = len(units)
    for n in prange(thetas.shape[0]):
        if done[n, 0] < step0:  # stopped earlier (diverged): leave it as it is
            continue
        # the row's weights and generator state in this thread's own buffers for the run
        th, st = thetas[n].copy(), states[n].copy()
        steps, restored = _run(
            units, relu, linear, th, series, last, low, st, lrs, losses[n], th.copy(), np.zeros(th.shape[0]),
            np.zeros((last + 2) * H), np.zeros(H), np.zeros(H),
        )
        thetas[n] = th
        states[n] = st
        done[n, 0] = step0 + steps
        done[n, 1] = restored
