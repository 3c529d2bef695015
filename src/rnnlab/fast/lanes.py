"""The seed's case for an ensemble, members side by side in SIMD lanes (structure of arrays).

``special.train_many`` trains each member on its own: a scalar chain per member, half of its
time in libm's tanh. Here the members are split into one chunk per thread (``prange``), and at
every step each chunk's members are taken ``WIDTH`` at a time (a lane group) into arrays with
the member innermost — weights ``th[j, l]`` (P, WIDTH), states ``hs[t H + i, l]``, gradients
``grad[j, l]`` — so each loop over the lanes is one vector operation, and tanh is
``vmath.tanh`` (branch-free, vectorised) instead of libm's. The weights are gathered into the
lanes and scattered back at every step (P values a member, a small cost next to its window).

Each member draws its window from its own generator state (``mt.randint``, CPython's two
``randint`` calls as in ``special``), so member i draws what the single run with seed S + i
draws. A group's step runs to the longest window of its lanes, so the members are sorted by
this step's window length before they are grouped (a group's windows are then about equally
long: without the sort a group of 32 runs to about 30 values where the average is 12); a lane
whose window is shorter keeps its state after its own length (h_{t+1} = h_t) and adds nothing
to its gradient for those steps, so its readout sees its own h_T and its gradient is its own
window's. No operation mixes lanes, so a member's numbers do not depend on which group it falls
in. A member that stops (first non-finite loss; its weights from before the update that made
them non-finite are put back, as in ``special``) draws no more windows.

What differs from ``special.train_many`` (the exact per-member path):

- tanh: ``vmath.tanh`` is within ``vmath.MAX_ULP`` ulp of libm's instead of equal to it, so
  for the tanh cell the results are equal to rounding, not bit for bit; the differences grow
  with the steps (``TOLERANCE`` = 1e-9 is what the tests allow after a few hundred steps;
  measured on the seed preset: max |Δweight| 2.3e-14 over 256 members and 5.6e-14 over 1,024
  after 20,000 steps). Every other operation is the same operation in the same order, so the
  relu cell gives the same numbers bit for bit.
- nothing else: the same windows (generator states equal afterwards), the same losses to
  rounding, the same steps done and restored flags.

``applies(config)`` is ``special.applies`` (1-layer rnn, tanh or relu, plain per-sample SGD,
unit or linear readout, hidden <= 16). The lane count is read from the arrays at run time (a
compile-time 8 or 32 is unrolled by LLVM and then not vectorised). No ``fastmath``: it would
reorder the sums (and break vmath's rounding trick); the speed comes from the vectors alone.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import get_num_threads, njit, prange

from . import special
from .mt import randint
from .problem import Problem, storable
from .vmath import tanh

WIDTH = 32  # members per lane group: 8 AVX2 (4 AVX-512) vectors of float64; the best of 8 and 32 measured
MAX_HIDDEN = special.MAX_HIDDEN
TOLERANCE = 1e-9  # max |Δweight| against special.train_many after a few hundred tanh steps


def applies(config) -> bool:
    """Whether ``train_many`` implements ``config``: ``special``'s case (see the module docstring)."""
    m = config.model
    return special.applies(config) and m.readout in ("unit", "linear") and m.hidden_size <= MAX_HIDDEN


def lanes(width: int = WIDTH) -> tuple:
    """The lane count as the compiled code takes it: a tuple of that length (a compile-time size)."""
    return (0.0,) * int(width)


_LANES = lanes(WIDTH)  # a global tuple: a constant of the compiled code


class Group(NamedTuple):
    """One lane group's buffers (H units, P weights, L lanes, T <= last + 1 inputs)."""

    th: np.ndarray  # (P, L): the weights, th[j, l] = weight j of lane l
    backup: np.ndarray  # (P, L): the weights before the last update
    grad: np.ndarray  # (P, L)
    hs: np.ndarray  # ((last + 2) H, L): h_0 … h_T, hs[t H + i, l]
    xs: np.ndarray  # (last + 1, L): the inputs, 0 after a lane's own window
    dh: np.ndarray  # (H, L)
    da: np.ndarray  # ((last + 1) H, L): d(loss)/da_t of every step, da[t H + i, l]
    st: np.ndarray  # int64 (L, 625): the generator states
    length: np.ndarray  # int64 (L,): this step's context length T per lane (0: idle)
    target: np.ndarray  # (L,)
    g: np.ndarray  # (L,): d(loss)/dŷ
    alive: np.ndarray  # int64 (L,): 1 while the lane's member trains


@njit(cache=True, error_model="numpy")
def _group(units, width, p, P):
    H, L = len(units), len(width)
    T = p.last + 1
    return Group(np.zeros((P, L)), np.zeros((P, L)), np.zeros((P, L)), np.zeros(((T + 1) * H, L)),
                 np.zeros((T, L)), np.zeros((H, L)), np.zeros((T * H, L)), np.zeros((L, 625), dtype=np.int64),
                 np.zeros(L, dtype=np.int64), np.zeros(L), np.zeros(L), np.zeros(L, dtype=np.int64))


@njit(cache=True, error_model="numpy")
def _forward(units, width, relu, th, hs, xs, length, Tmax):
    """h_t for t = 1 … Tmax of every lane; a lane keeps h_{t+1} = h_t once t >= its length."""
    H, L = len(units), th.shape[1]  # a run-time count: LLVM vectorises the lane loops (a constant 8 is unrolled instead)
    WIH, WHH, BIH, BHH = 0, H, H + H * H, 2 * H + H * H
    for i in range(H):
        for l in range(L):
            hs[i, l] = 0.0
    for t in range(Tmax):
        now, nxt = t * H, (t + 1) * H
        for i in range(H):
            for l in range(L):
                # a = b_ih + b_hh + W_ih x_t + W_hh h_{t-1}
                a = th[BIH + i, l] + th[BHH + i, l]
                a += th[WIH + i, l] * xs[t, l]
                for k in range(H):
                    a += th[WHH + i * H + k, l] * hs[now + k, l]
                hs[nxt + i, l] = a
        if relu:
            for i in range(H):
                for l in range(L):
                    a = hs[nxt + i, l]
                    h = a if a > 0.0 else 0.0
                    hs[nxt + i, l] = h if t < length[l] else hs[now + i, l]
        else:
            for i in range(H):
                for l in range(L):
                    h = tanh(hs[nxt + i, l])
                    hs[nxt + i, l] = h if t < length[l] else hs[now + i, l]


@njit(cache=True, error_model="numpy")
def _backward(units, width, relu, linear, th, grad, hs, xs, dh, da, g, length, Tmax):
    """The gradient of each lane's loss (d(loss)/dŷ = g[l], 0 for an idle lane) into grad."""
    H, L = len(units), th.shape[1]  # a run-time count: LLVM vectorises the lane loops (a constant 8 is unrolled instead)
    WIH, WHH, BIH, BHH = 0, H, H + H * H, 2 * H + H * H
    RW, RB = 3 * H + H * H, 4 * H + H * H
    top = Tmax * H  # h_T of every lane (held since its own length)
    for j in range(grad.shape[0]):
        for l in range(L):
            grad[j, l] = 0.0
    for k in range(H):
        for l in range(L):
            dh[k, l] = 0.0
    if linear:
        for k in range(H):
            for l in range(L):
                # dh_T += g w,  dw += g h_T  (nothing where g = 0, as special skips it)
                gl = g[l]
                dh[k, l] = (0.0 + gl * th[RW + k, l]) if gl != 0.0 else 0.0
                grad[RW + k, l] = (0.0 + gl * hs[top + k, l]) if gl != 0.0 else 0.0
        for l in range(L):
            # db += g
            grad[RB, l] = 0.0 + g[l]
    else:
        for l in range(L):
            # dh_T[H-1] += g
            dh[H - 1, l] = 0.0 + g[l]
    # back through time: da_t of every step (the recurrence), then the weights' gradients
    for t in range(Tmax - 1, -1, -1):
        nxt = (t + 1) * H
        for i in range(H):
            for l in range(L):
                h = hs[nxt + i, l]
                # da = dh_t ⊙ act'(a): [h_t > 0] for relu, 1 − h_t² for tanh; 0 after the lane's length
                if relu:
                    d = dh[i, l] if h > 0.0 else 0.0
                else:
                    d = dh[i, l] * (1.0 - h * h)
                da[t * H + i, l] = d if t < length[l] else 0.0
        if t > 0:
            for k in range(H):
                for l in range(L):
                    # dh_{t-1} = W_hhᵀ da (kept as it is after the lane's length)
                    s = 0.0
                    for i in range(H):
                        s += th[WHH + i * H + k, l] * da[t * H + i, l]
                    dh[k, l] = s if t < length[l] else dh[k, l]
    # db_ih += da_t,  db_hh += da_t,  dW_ih += da_t x_t,  dW_hh += da_t h_{t-1}ᵀ, summed from t = T − 1
    # down to 0 as the loop above runs (the same sums in the same order, one gradient row at a time:
    # each innermost loop writes one row, so it is vector code)
    for i in range(H):
        for t in range(Tmax - 1, -1, -1):
            for l in range(L):
                grad[BIH + i, l] += da[t * H + i, l]
        for t in range(Tmax - 1, -1, -1):
            for l in range(L):
                grad[BHH + i, l] += da[t * H + i, l]
        for t in range(Tmax - 1, -1, -1):
            for l in range(L):
                grad[WIH + i, l] += da[t * H + i, l] * xs[t, l]
        for k in range(H):
            for t in range(Tmax - 1, -1, -1):
                for l in range(L):
                    grad[WHH + i * H + k, l] += da[t * H + i, l] * hs[t * H + k, l]


@njit(cache=True, error_model="numpy")
def _draw(p, st, alive, start, length):
    """Each live member's window from its own generator (CPython's two randint calls, as in
    ``special``): context series[start : start + length], target series[start + length]."""
    for m in range(alive.shape[0]):
        length[m] = 0
        if alive[m]:
            first = randint(st[m], 0, p.last - p.low)
            stop = randint(st[m], first + p.low, p.last + 1)
            start[m] = first
            length[m] = stop - 1 - first


@njit(cache=True, error_model="numpy")
def _step_group(units, width, p, w, members, count, thetas, backup, start, length, alive, lr, losses, rows, n,
                done, step0):
    """One step of the members ``members[:count]`` as one lane group: gather their weights into
    the lanes, forward, loss, backward, SGD, scatter back. Returns the number that stopped."""
    H, L = len(units), w.th.shape[1]
    relu, linear, series = p.net.relu, p.net.linear, p.series
    th, grad, hs, xs, target, g, lane_length = w.th, w.grad, w.hs, w.xs, w.target, w.g, w.length
    RW, RB = 3 * H + H * H, 4 * H + H * H
    P = th.shape[0]
    Tmax = 0
    for l in range(L):
        lane_length[l] = 0
        g[l] = 0.0
        if l < count:
            m = members[l]
            lane_length[l] = length[m]
            target[l] = series[start[m] + length[m]]
            Tmax = max(Tmax, length[m])
            for j in range(P):
                th[j, l] = thetas[m, j]
    for l in range(count):
        m = members[l]
        for t in range(length[m]):
            xs[t, l] = series[start[m] + t]
    for l in range(L):
        for t in range(lane_length[l], Tmax):
            xs[t, l] = 0.0
    _forward(units, width, relu, th, hs, xs, lane_length, Tmax)
    top = Tmax * H
    stopped = 0
    for l in range(count):
        m = members[l]
        if linear:
            # ŷ = b + w · h_T
            y = th[RB, l]
            for k in range(H):
                y += th[RW + k, l] * hs[top + k, l]
        else:
            # ŷ = h_T[H-1]
            y = hs[top + H - 1, l]
        # loss = e², d(loss)/dŷ = 2 e  (e = ŷ − y)
        e = y - target[l]
        loss = e * e
        losses[rows[m], n] = loss
        g[l] = 2.0 * e
        if not storable(loss):  # the member stops here, with its last finite weights
            restored = 0
            for j in range(P):
                if not storable(thetas[m, j]):
                    restored = 1
            if restored:
                for j in range(P):
                    thetas[m, j] = backup[m, j]
            done[rows[m], 0] = step0 + n
            done[rows[m], 1] = restored
            alive[m] = 0
            lane_length[l] = 0
            g[l] = 0.0
            stopped += 1
    _backward(units, width, relu, linear, th, grad, hs, xs, w.dh, w.da, g, lane_length, Tmax)
    # plain SGD: θ ← θ − lr ∇θ  (a member that stopped keeps its weights)
    for j in range(P):
        for l in range(L):
            th[j, l] = th[j, l] - lr * grad[j, l]
    for l in range(count):
        m = members[l]
        if alive[m]:
            for j in range(P):
                backup[m, j] = thetas[m, j]
                thetas[m, j] = th[j, l]
    return stopped


@njit(cache=True, error_model="numpy")
def _train_chunk(units, width, p, first, stop, thetas, states, step0, lrs, losses, done):
    """Members first … stop - 1 (those still training) for len(lrs) steps: at each step every
    member draws its window, the members are sorted by window length, and each run of ``WIDTH``
    of them is one lane group (so a group's windows are about equally long)."""
    L, P = len(width), thetas.shape[1]
    w = _group(units, width, p, P)
    M = stop - first
    rows = np.arange(first, stop)
    th = thetas[first:stop].copy()  # (M, P): this chunk's weights, member by member
    backup = th.copy()  # (M, P): each member's weights before its last update
    st = states[first:stop].copy()
    alive = np.zeros(M, dtype=np.int64)
    for m in range(M):
        alive[m] = 1 if done[first + m, 0] >= step0 else 0
    live = int(alive.sum())
    start, length = np.zeros(M, dtype=np.int64), np.zeros(M, dtype=np.int64)
    for n in range(lrs.shape[0]):
        if live == 0:
            break
        _draw(p, st, alive, start, length)
        order = np.argsort(length, kind="mergesort")  # the stopped members (length 0) first
        for g0 in range(M - live, M, L):
            count = min(L, M - g0)
            live -= _step_group(units, width, p, w, order[g0 : g0 + count], count, th, backup, start, length,
                                alive, lrs[n], losses, rows, n, done, step0)
    for m in range(M):
        if alive[m]:
            done[first + m, 0] = step0 + lrs.shape[0]
            done[first + m, 1] = 0
        thetas[first + m] = th[m]
        states[first + m] = st[m]


def train_many(units, p, thetas, states, step0, lrs, losses, done):
    """``special.train_many`` with the members in lane groups of ``WIDTH``, chunks of members over the threads.

    thetas (models, P) and states (models, 625) in and out, losses (models, len(lrs)) out,
    done (models, 2) in and out (steps done, weights restored); a model with fewer than step0
    steps done stopped earlier and is left as it is. ``units`` = ``special.units(hidden_size)``.
    """
    chunks = max(1, min(get_num_threads(), thetas.shape[0] // WIDTH))  # a chunk of whole groups per thread
    _train_many(units, _LANES, p.net, p[1:], chunks, thetas, states, step0, lrs, losses, done)


@njit(cache=True, error_model="numpy", parallel=True)
def _train_many(units, width, net, rest, chunks, thetas, states, step0, lrs, losses, done):
    M = thetas.shape[0]
    for c in prange(chunks):
        _train_chunk(units, width, Problem(net, *rest), c * M // chunks, (c + 1) * M // chunks, thetas, states,
                     step0, lrs, losses, done)
