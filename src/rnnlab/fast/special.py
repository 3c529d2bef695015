"""The seed's case compiled on its own: a 1-layer rnn cell trained by plain per-sample SGD.

The general loop (``loop.train_steps``) reads the cell, the sizes and the offsets from the
``layout.Net`` at run time. Here the hidden size is a constant of the compiled code: it is passed
as the length of a tuple (``units(hidden)``), numba compiles (and caches on disk) one version per
length, and the compiler unrolls the loops over the units; the parameters sit at fixed offsets,
nothing is allocated inside the step loop, and each model's weights and generator state are
copied into buffers of its own thread for the whole run (no two threads write the same cache
line). The loops are written out here rather than through ``kernels``' helpers, so that the
sizes stay compile-time constants and the tanh calls come after the sums.

It performs the same floating-point operations in the same order as ``loop.train_steps`` with
``kernels.forward`` / ``kernels.backward`` and the SGD update, so it gives the same numbers; the
tests compare the two. ``applies(config)`` says when it is used:

    cell rnn (tanh or relu), 1 layer, hidden_size <= MAX_HIDDEN, readout unit or linear,
    one window per step (train.batch_size 1), optimizer sgd without momentum, weight decay
    or gradient clipping; any learning-rate schedule.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from .mt import randint
from .problem import Problem, storable

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


class Scratch(NamedTuple):
    """One model's buffers for ``_run`` (H = len(units), T <= last + 1 inputs)."""

    backup: np.ndarray  # (P,): the weights before the last update
    grad: np.ndarray  # (P,)
    hs: np.ndarray  # ((last + 2) H,): h_0 … h_T, hs[t H : (t + 1) H] = h_t
    dh: np.ndarray  # (H,): d(loss)/dh_t
    da: np.ndarray  # (H,): d(loss)/da_t


@njit(cache=True, error_model="numpy")
def _scratch(units, p, th):
    """A model's ``Scratch``; ``backup`` starts as a copy of its weights th."""
    H = len(units)
    return Scratch(th.copy(), np.zeros(th.shape[0]), np.zeros((p.last + 2) * H), np.zeros(H), np.zeros(H))


@njit(cache=True, error_model="numpy")
def _run(units, p, th, st, lrs, losses, work):
    """Train th (P,) in place for len(lrs) steps with generator state st; (steps done, restored).

    len(units) = H is a compile-time constant; p.net.relu, p.net.linear are 0/1 flags.
    """
    H = len(units)
    relu, linear, series, last, low = p.net.relu, p.net.linear, p.series, p.last, p.low
    backup, grad, hs, dh, da = work.backup, work.grad, work.hs, work.dh, work.da
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
        # forward, hs[t*H:(t+1)*H] = h_t; h_0 = 0
        for i in range(H):
            hs[i] = 0.0
        for t in range(T):
            xt = series[start + t]
            for i in range(H):
                # a = b_ih + b_hh + W_ih x_t + W_hh h_{t-1}
                a = th[BIH + i] + th[BHH + i]
                a += th[WIH + i] * xt
                for k in range(H):
                    a += th[WHH + i * H + k] * hs[t * H + k]
                # h_t = relu(a) = max(a, 0); for tanh, a is kept here and h_t = tanh(a) below
                if relu:
                    hs[(t + 1) * H + i] = a if a > 0.0 else 0.0
                else:
                    hs[(t + 1) * H + i] = a
            if not relu:  # the calls to tanh after the sums: no live values to save around them
                for i in range(H):
                    # h_t = tanh(a)
                    hs[(t + 1) * H + i] = math.tanh(hs[(t + 1) * H + i])
        top = T * H
        if linear:
            # ŷ = b + w · h_T
            y = th[RB]
            for k in range(H):
                y += th[RW + k] * hs[top + k]
        else:
            # ŷ = h_T[H-1]
            y = hs[top + H - 1]
        # loss = e², d(loss)/dŷ = 2 e  (e = ŷ − y)
        e = y - series[end]
        g = 2.0 * e
        loss = e * e
        losses[n] = loss
        if not storable(loss):
            for j in range(P):
                if not storable(th[j]):
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
                    # dh_T += g w,  dw += g h_T
                    dh[k] += g * th[RW + k]
                    grad[RW + k] += g * hs[top + k]
                # db += g
                grad[RB] += g
            else:
                # dh_T[H-1] += g
                dh[H - 1] += g
        for t in range(T - 1, -1, -1):
            xt = series[start + t]
            for i in range(H):
                h = hs[(t + 1) * H + i]
                # da = dh_t ⊙ act'(a): [h_t > 0] for relu, 1 − h_t² for tanh
                if relu:
                    d = dh[i] if h > 0.0 else 0.0
                else:
                    d = dh[i] * (1.0 - h * h)
                da[i] = d
                # db_ih += da,  db_hh += da,  dW_ih += da x_t,  dW_hh += da h_{t-1}ᵀ
                grad[BIH + i] += d
                grad[BHH + i] += d
                grad[WIH + i] += d * xt
                for k in range(H):
                    grad[WHH + i * H + k] += d * hs[t * H + k]
            if t > 0:
                for k in range(H):
                    # dh_{t-1} = W_hhᵀ da
                    s = 0.0
                    for i in range(H):
                        s += th[WHH + i * H + k] * da[i]
                    dh[k] = s
        # plain SGD: θ ← θ − lr ∇θ
        lr = lrs[n]
        for j in range(P):
            backup[j] = th[j]
            th[j] -= lr * grad[j]
    return lrs.shape[0], 0


@njit(cache=True, error_model="numpy")
def train_one(units, p, theta, state, lrs, losses):
    """``loop.train_steps`` for this case: theta (P,), state (625,) advanced in place;
    ``units`` = ``units(hidden_size)``, the compile-time hidden size."""
    th, st = theta.copy(), state.copy()
    out = _run(units, p, th, st, lrs, losses, _scratch(units, p, th))
    theta[:] = th
    state[:] = st
    return out


@njit(cache=True, error_model="numpy")
def train_many(units, p, thetas, states, step0, lrs, losses, done):
    """``loop.train_many`` for this case: one row per model, the models split evenly over the threads."""
    # as in loop.train_many: prange hands the threads p.net and p's other fields, not p
    _train_many(units, p.net, p[1:], thetas, states, step0, lrs, losses, done)


@njit(cache=True, error_model="numpy")
def train_one(units, p, thetas, states, step0, lrs, losses, done):
    """``train_many`` for a single model (row 0), with no parallel region (nor thread start-up)."""
    if done[0, 0] >= step0:
        th, st = thetas[0].copy(), states[0].copy()
        steps, restored = _run(units, p, th, st, lrs, losses[0], _scratch(units, p, th))
        thetas[0] = th
        states[0] = st
        done[0, 0] = step0 + steps
        done[0, 1] = restored


@njit(cache=True, error_model="numpy", parallel=True)
def _train_many(units, net, rest, thetas, states, step0, lrs, losses, done):
    for n in prange(thetas.shape[0]):
        if done[n, 0] < step0:  # stopped earlier (diverged): leave it as it is
            continue
        p = Problem(net, *rest)
        # the row's weights and generator state in this thread's own buffers for the run
        th, st = thetas[n].copy(), states[n].copy()
        steps, restored = _run(units, p, th, st, lrs, losses[n], _scratch(units, p, th))
        thetas[n] = th
        states[n] = st
        done[n, 0] = step0 + steps
        done[n, 1] = restored
