"""Full-batch rollout training of a one-layer rnn, all windows at once (float64, numba).

The full batch of rollout training (``train.batch_size`` 0, ``train.rollout`` R > 1) is every
window (start s, context length L) of the training series, each with R targets after it. The
general loop runs each window on its own; for the one-layer rnn this module shares the work:

- the contexts: one pass over series[s:] per start s gives the state h_L after every context
  length L (the prefix pass, starts side by side, ``hp[t, i, s]``);
- the rollouts: the R − 1 fed-back steps of ``TILE`` windows at a time run side by side, starting
  from its prefix state, ŷ_1 = readout(h_L) and ŷ_{k+1} = readout(act(W_ih ŷ_k + b_ih + W_hh h + b_hh));
- backward: through the rollouts (the gradient reaching a fed-back input ŷ_k goes into ŷ_k,
  i.e. through the readout into h), which leaves d(loss)/dh_L for each window; that is added
  to the prefix state it started from, and one backward pass per start goes through the contexts.

Windows, targets and the loss (the mean over windows and k of (ŷ_k − y_k)²) are the general
loop's; the sums only run in another order (with reassociation, so not to the last bit). The
model comes as a ``layout.Net``. Rows of the work arrays are units, columns the starts or
windows run side by side; the cell (``_cell``), its weight gradients (``_weight_grads``) and
W_hhᵀ da (``_back_hh``) are each written once for both the prefix pass and the rollouts.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .kernels import layer_offsets
from .layout import RNN, W_HH, W_IH


@njit(cache=True, error_model="numpy")
def applies(net) -> bool:
    """Whether this module handles the model: a one-layer rnn (any nonlinearity and readout)."""
    return net.cell == RNN and net.layers == 1


TILE = 256  # windows whose rollouts run side by side
MAX_VALUES = 1 << 24  # prefix states kept at most (128 MiB); more: the general loop, window by window


@njit(cache=True, error_model="numpy")
def fits(net, last, min_length, K) -> bool:
    """Whether the prefix states (and their gradients) of every start fit in ``MAX_VALUES`` numbers."""
    T = last + 1 - K
    S = T - min_length
    return 2 * (T + 1) * net.hidden * S <= MAX_VALUES


class Buffers(NamedTuple):
    """Work arrays of ``loss_grad`` (``buffers``); T = the longest context, S starts, W windows."""

    hp: np.ndarray  # (T + 1, H, S): prefix states, h after t inputs of start s
    inj: np.ndarray  # (T + 1, H, S): d(loss)/dh_t from the rollouts started there
    lens: np.ndarray  # int64 (W,): context length of each window, ordered by length, then start
    starts: np.ndarray  # int64 (W,): start of each window
    rs: np.ndarray  # (K, H, TILE): rollout states, h at ŷ_1 … ŷ_K of the tile's windows
    preds: np.ndarray  # (K, TILE): ŷ_1 … ŷ_K of the tile's windows
    dh: np.ndarray  # (H, TILE): d(loss)/dh through the rollouts
    da: np.ndarray  # (H, TILE): d(loss)/da through the rollouts
    feed: np.ndarray  # (TILE,): d(loss)/dŷ_k, with what ŷ_k received as the next input
    dhp: np.ndarray  # (H, S): d(loss)/dh through the prefix pass
    dap: np.ndarray  # (H, S): d(loss)/da through the prefix pass


@njit(cache=True, error_model="numpy")
def buffers(net, last, min_length, K):
    """Work arrays for ``loss_grad``."""
    H = net.hidden
    T = last + 1 - K
    S = T - min_length
    W = 0
    for L in range(min_length, T + 1):
        W += min(T - L + 1, S)
    lens = np.zeros(W, dtype=np.int64)
    starts = np.zeros(W, dtype=np.int64)
    w = 0
    for L in range(min_length, T + 1):
        for s in range(min(T - L + 1, S)):
            lens[w], starts[w] = L, s
            w += 1
    return Buffers(
        np.zeros((T + 1, H, S)), np.zeros((T + 1, H, S)), lens, starts, np.zeros((K, H, TILE)), np.zeros((K, TILE)),
        np.zeros((H, TILE)), np.zeros((H, TILE)), np.zeros(TILE), np.zeros((H, S)), np.zeros((H, S)),
    )


# reassociation lets the sums over windows run in SIMD lanes; no assumption about NaN or inf is
# made, so a diverging run is still seen as one
_FAST = {"reassoc", "contract", "arcp"}


@njit(cache=True, error_model="numpy", fastmath=_FAST)
def _activate(row, n, relu):
    """act(a) in place on row[:n]: max(a, 0) | tanh(a)."""
    if relu == 1:
        for s in range(n):
            row[s] = max(row[s], 0.0)
    else:
        for s in range(n):
            row[s] = np.tanh(row[s])


@njit(cache=True, error_model="numpy", fastmath=_FAST)
def _act_grad(out, d, h, n, relu):
    """out[:n] = d ⊙ act'(a), from h = act(a): [h > 0] for relu, 1 − h² for tanh."""
    if relu == 1:
        for s in range(n):
            out[s] = d[s] if h[s] > 0.0 else 0.0
    else:
        for s in range(n):
            out[s] = d[s] * (1.0 - h[s] * h[s])


@njit(cache=True, error_model="numpy", fastmath=_FAST, inline="always")
def _cell(net, theta, x, before, after, n):
    """after[:, :n] = act(W_ih x + b_ih + W_hh before + b_hh), column by column (x: one input a column)."""
    w_ih, w_hh, b_ih, b_hh = layer_offsets(net, 0)
    H = net.hidden
    for i in range(H):
        # a_i = (b_ih + b_hh)_i + (W_ih)_i x
        b = theta[b_ih + i] + theta[b_hh + i]
        wx = theta[w_ih + i]
        row = after[i]
        for s in range(n):
            row[s] = b + wx * x[s]
        # a_i += Σ_j (W_hh)_ij h_j
        for j in range(H):
            wh = theta[w_hh + i * H + j]
            h = before[j]
            for s in range(n):
                row[s] += wh * h[s]
        # h_i = act(a_i)
        _activate(row, n, net.relu)


@njit(cache=True, error_model="numpy", fastmath=_FAST, inline="always")
def _weight_grads(net, da, x, before, grad, n):
    """Add the parameter gradients of the cell ``_cell`` ran, summed over the columns, given its da."""
    w_ih, w_hh, b_ih, b_hh = layer_offsets(net, 0)
    H = net.hidden
    for i in range(H):
        # db_ih = db_hh = Σ_s da_i,  dW_ih = Σ_s da_i x
        gb, gx = 0.0, 0.0
        d = da[i]
        for s in range(n):
            gb += d[s]
            gx += d[s] * x[s]
        grad[b_ih + i] += gb
        grad[b_hh + i] += gb
        grad[w_ih + i] += gx
        # dW_hh = Σ_s da_i before_jᵀ
        for j in range(H):
            g = 0.0
            h = before[j]
            for s in range(n):
                g += d[s] * h[s]
            grad[w_hh + i * H + j] += g


@njit(cache=True, error_model="numpy", fastmath=_FAST, inline="always")
def _back_hh(net, theta, da, dh, n):
    """dh[:, :n] = W_hhᵀ da: what reaches the state before the cell."""
    w_hh, H = net.offsets[0, W_HH], net.hidden
    for j in range(H):
        # dh_j = Σ_i (W_hh)_ij da_i
        dhj = dh[j]
        dhj[:n] = 0.0
        for i in range(H):
            wh = theta[w_hh + i * H + j]
            d = da[i]
            for s in range(n):
                dhj[s] += wh * d[s]


@njit(cache=True, error_model="numpy", fastmath=_FAST)
def loss_grad(net, theta, series, last, min_length, K, grad, bufs):
    """The full-batch rollout loss (mean over windows and k of (ŷ_k − y_k)²); adds its gradient to ``grad``."""
    hp, inj, rs, preds = bufs.hp, bufs.inj, bufs.rs, bufs.preds
    lens, starts, dh, da, feed = bufs.lens, bufs.starts, bufs.dh, bufs.da, bufs.feed
    relu, H, w_ih = net.relu, net.hidden, net.offsets[0, W_IH]
    T = last + 1 - K
    S = T - min_length
    W = lens.shape[0]
    scale = 1.0 / (W * K)

    # prefix pass: h_{t+1}[s] = act(W_ih x + b_ih + W_hh h_t[s] + b_hh), x = series[s + t]
    hp[0, :, :] = 0.0
    for t in range(T):
        n = min(T - t, S)  # starts whose contexts reach length t + 1
        _cell(net, theta, series[t : t + n], hp[t], hp[t + 1], n)

    # rollouts, a tile of windows at a time (their states stay in the cache); window w has
    # context length lens[w] and start starts[w]
    loss = 0.0
    for lo in range(0, W, TILE):
        m = min(TILE, W - lo)
        for i in range(H):
            for u in range(m):
                rs[0, i, u] = hp[lens[lo + u], i, starts[lo + u]]
        for k in range(K):
            if k > 0:
                # the state after feeding ŷ_k back: h = act(W_ih ŷ_k + b_ih + W_hh h + b_hh)
                _cell(net, theta, preds[k - 1], rs[k - 1], rs[k], m)
            out = preds[k]
            if net.linear == 1:
                # ŷ = b + w · h
                out[:m] = theta[net.readout_b]
                for i in range(H):
                    wo = theta[net.readout_w + i]
                    row = rs[k, i]
                    for u in range(m):
                        out[u] += wo * row[u]
            else:
                # ŷ = h[H-1]
                out[:m] = rs[k, H - 1, :m]

        # loss and backward through the rollouts
        dh[:, :m] = 0.0
        feed[:m] = 0.0
        for k in range(K - 1, -1, -1):
            out = preds[k]
            for u in range(m):
                # dŷ_k = 2 scale (ŷ_k − y_k) + what its feeding back received
                e = out[u] - series[starts[lo + u] + lens[lo + u] + k]
                loss += scale * e * e
                feed[u] += 2.0 * scale * e
            if net.linear == 1:
                # db += Σ dŷ,  dw += Σ dŷ h,  dh += dŷ w
                total = 0.0
                for u in range(m):
                    total += feed[u]
                grad[net.readout_b] += total
                for i in range(H):
                    wo = theta[net.readout_w + i]
                    g = 0.0
                    row, dhi = rs[k, i], dh[i]
                    for u in range(m):
                        g += feed[u] * row[u]
                        dhi[u] += feed[u] * wo
                    grad[net.readout_w + i] += g
            else:
                # dh[H-1] += dŷ
                dhi = dh[H - 1]
                for u in range(m):
                    dhi[u] += feed[u]
            if k == 0:
                break
            for i in range(H):
                # da = dh ⊙ act'(a)
                _act_grad(da[i], dh[i], rs[k, i], m, relu)
            # the input of step k is ŷ_k (index k − 1): dŷ_k = W_ihᵀ da
            feed[:m] = 0.0
            for i in range(H):
                wx = theta[w_ih + i]
                d = da[i]
                for u in range(m):
                    feed[u] += wx * d[u]
            _weight_grads(net, da, preds[k - 1], rs[k - 1], grad, m)
            _back_hh(net, theta, da, dh, m)
        # what reached each window's first state goes to the prefix state it started from
        for i in range(H):
            for u in range(m):
                inj[lens[lo + u], i, starts[lo + u]] = dh[i, u]

    # backward through the prefix pass
    dhp, dap = bufs.dhp, bufs.dap
    dhp[:, :] = 0.0
    for t in range(T - 1, -1, -1):
        n = min(T - t, S)
        for i in range(H):
            # dh += what the rollouts started at t + 1 sent (0 where no context ends: t + 1 < min_length)
            d = dhp[i]
            got = inj[t + 1, i]
            for s in range(n):
                d[s] += got[s]
            # da = dh ⊙ act'(a)
            _act_grad(dap[i], d, hp[t + 1, i], n, relu)
        _weight_grads(net, dap, series[t : t + n], hp[t], grad, n)
        _back_hh(net, theta, dap, dhp, n)
    return loss
