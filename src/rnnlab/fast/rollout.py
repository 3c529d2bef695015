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
loop's; the sums only run in another order.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def applies(spec) -> bool:
    """Whether this module handles the model: a one-layer rnn (any nonlinearity and readout)."""
    return spec[0] == 0 and spec[2] == 1


TILE = 256  # windows whose rollouts run side by side
MAX_VALUES = 1 << 24  # prefix states kept at most (128 MiB); more: the general loop, window by window


@njit(cache=True, error_model="numpy")
def fits(spec, last, min_length, K) -> bool:
    """Whether the prefix states (and their gradients) of every start fit in ``MAX_VALUES`` numbers."""
    T = last + 1 - K
    S = T - min_length
    return 2 * (T + 1) * spec[3] * S <= MAX_VALUES


@njit(cache=True, error_model="numpy")
def buffers(spec, last, min_length, K):
    """Work arrays for ``loss_grad``; T = the longest context, S starts, W windows."""
    H = spec[3]
    T = last + 1 - K
    S = T - min_length
    W = 0
    for L in range(min_length, T + 1):
        W += min(T - L + 1, S)
    hp = np.zeros((T + 1, H, S))  # prefix states: h after t inputs of start s
    inj = np.zeros((T + 1, H, S))  # d(loss)/dh_t from the rollouts started there
    lens = np.zeros(W, dtype=np.int64)  # windows ordered by context length, then start
    starts = np.zeros(W, dtype=np.int64)
    w = 0
    for L in range(min_length, T + 1):
        for s in range(min(T - L + 1, S)):
            lens[w], starts[w] = L, s
            w += 1
    rs = np.zeros((K, H, TILE))  # rollout states: h at ŷ_1 … ŷ_K of the tile's windows
    preds = np.zeros((K, TILE))  # ŷ_1 … ŷ_K of the tile's windows
    dh = np.zeros((H, TILE))
    da = np.zeros((H, TILE))
    feed = np.zeros(TILE)  # d(loss)/dŷ_k, with what ŷ_k received as the next input
    dhp = np.zeros((H, S))
    dap = np.zeros((H, S))
    return hp, inj, lens, starts, rs, preds, dh, da, feed, dhp, dap


# reassociation lets the sums over windows run in SIMD lanes; no assumption about NaN or inf is
# made, so a diverging run is still seen as one
_FAST = {"reassoc", "contract", "arcp"}


@njit(cache=True, error_model="numpy", fastmath=_FAST)
def _activate(row, n, relu):
    """act(a) in place on row[:n]."""
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


@njit(cache=True, error_model="numpy", fastmath=_FAST)
def loss_grad(theta, spec, offsets, series, last, min_length, K, grad, bufs):
    """The full-batch rollout loss (mean over windows and k of (ŷ_k − y_k)²); adds its gradient to ``grad``."""
    hp, inj, lens, starts, rs, preds, dh, da, feed, dhp, dap = bufs
    relu, H, linear, o_w, o_b = spec[1], spec[3], spec[4], spec[5], spec[6]
    o_wih, o_whh, o_bih, o_bhh = offsets[0, 0], offsets[0, 1], offsets[0, 2], offsets[0, 3]
    T = last + 1 - K
    S = T - min_length
    W = lens.shape[0]
    scale = 1.0 / (W * K)

    # prefix pass: h_{t+1}[s] = act(W_ih x + b_ih + W_hh h_t[s] + b_hh), x = series[s + t]
    hp[0, :, :] = 0.0
    for t in range(T):
        n = min(T - t, S)  # starts whose contexts reach length t + 1
        for i in range(H):
            b = theta[o_bih + i] + theta[o_bhh + i]
            wx = theta[o_wih + i]
            for s in range(n):
                hp[t + 1, i, s] = b + wx * series[s + t]
            row = hp[t + 1, i]
            for j in range(H):
                wh = theta[o_whh + i * H + j]
                before = hp[t, j]
                for s in range(n):
                    row[s] += wh * before[s]
            _activate(row, n, relu)

    # rollouts, a tile of windows at a time (their states stay in the cache); window w has
    # context length lens[w] and start starts[w]
    loss = 0.0
    for lo in range(0, W, TILE):
        m = min(TILE, W - lo)
        for i in range(H):
            for u in range(m):
                rs[0, i, u] = hp[lens[lo + u], i, starts[lo + u]]
        for k in range(K):
            if k > 0:  # the state after feeding ŷ_k back
                for i in range(H):
                    b = theta[o_bih + i] + theta[o_bhh + i]
                    wx = theta[o_wih + i]
                    row, fed = rs[k, i], preds[k - 1]
                    for u in range(m):
                        row[u] = b + wx * fed[u]
                    for j in range(H):
                        wh = theta[o_whh + i * H + j]
                        before = rs[k - 1, j]
                        for u in range(m):
                            row[u] += wh * before[u]
                    _activate(row, m, relu)
            out = preds[k]
            if linear == 1:
                out[:m] = theta[o_b]
                for i in range(H):
                    wo = theta[o_w + i]
                    row = rs[k, i]
                    for u in range(m):
                        out[u] += wo * row[u]
            else:
                out[:m] = rs[k, H - 1, :m]

        # loss and backward through the rollouts
        dh[:, :m] = 0.0
        feed[:m] = 0.0
        for k in range(K - 1, -1, -1):
            out = preds[k]
            for u in range(m):  # dŷ_k = 2 scale (ŷ_k − y_k) + what its feeding back received
                e = out[u] - series[starts[lo + u] + lens[lo + u] + k]
                loss += scale * e * e
                feed[u] += 2.0 * scale * e
            if linear == 1:
                total = 0.0
                for u in range(m):
                    total += feed[u]
                grad[o_b] += total
                for i in range(H):
                    wo = theta[o_w + i]
                    g = 0.0
                    row, dhi = rs[k, i], dh[i]
                    for u in range(m):
                        g += feed[u] * row[u]
                        dhi[u] += feed[u] * wo
                    grad[o_w + i] += g
            else:
                dhi = dh[H - 1]
                for u in range(m):
                    dhi[u] += feed[u]
            if k == 0:
                break
            for i in range(H):  # da = dh ⊙ act'(a)
                _act_grad(da[i], dh[i], rs[k, i], m, relu)
            feed[:m] = 0.0
            fed = preds[k - 1]
            for i in range(H):
                gb, gx = 0.0, 0.0
                wx = theta[o_wih + i]
                dai = da[i]
                for u in range(m):
                    gb += dai[u]
                    gx += dai[u] * fed[u]
                    feed[u] += wx * dai[u]  # the input of step k is ŷ_k (index k − 1)
                grad[o_bih + i] += gb
                grad[o_bhh + i] += gb
                grad[o_wih + i] += gx
                for j in range(H):
                    g = 0.0
                    before = rs[k - 1, j]
                    for u in range(m):
                        g += dai[u] * before[u]
                    grad[o_whh + i * H + j] += g
            for j in range(H):  # W_hhᵀ da reaches the state before
                dhj = dh[j]
                dhj[:m] = 0.0
                for i in range(H):
                    wh = theta[o_whh + i * H + j]
                    dai = da[i]
                    for u in range(m):
                        dhj[u] += wh * dai[u]
        # what reached each window's first state goes to the prefix state it started from
        for i in range(H):
            for u in range(m):
                inj[lens[lo + u], i, starts[lo + u]] = dh[i, u]

    # backward through the prefix pass
    dhp[:, :] = 0.0
    for t in range(T - 1, -1, -1):
        n = min(T - t, S)
        for i in range(H):  # inj is 0 where no context ends (t + 1 < min_length)
            d = dhp[i]
            got = inj[t + 1, i]
            for s in range(n):
                d[s] += got[s]
            _act_grad(dap[i], d, hp[t + 1, i], n, relu)
        x = series[t : t + n]
        for i in range(H):
            gb, gx = 0.0, 0.0
            dai = dap[i]
            for s in range(n):
                gb += dai[s]
                gx += dai[s] * x[s]
            grad[o_bih + i] += gb
            grad[o_bhh + i] += gb
            grad[o_wih + i] += gx
            for j in range(H):
                g = 0.0
                before = hp[t, j]
                for s in range(n):
                    g += dai[s] * before[s]
                grad[o_whh + i * H + j] += g
        for j in range(H):
            dhj = dhp[j]
            dhj[:n] = 0.0
            for i in range(H):
                wh = theta[o_whh + i * H + j]
                dai = dap[i]
                for s in range(n):
                    dhj[s] += wh * dai[s]
    return loss
