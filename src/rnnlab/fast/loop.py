"""Compiled training loops: windows, loss, BPTT and the optimizer step, all inside numba.

Two ways of choosing the windows of a step:

- sampled (``full = 0``): each step draws ``batch`` windows with the seed's two ``randint``
  calls (``mt.randint``, CPython's generator) and the loss is the mean over them of
  (prediction after the context − the next value)²; ``batch = 1`` is the seed's per-sample loop;
- full batch (``full = 1``): every window of the series at once, computed as prefixes: one pass
  over ``series[start:]`` per start gives the prediction after every context starting there,
  and the loss is the mean over all windows;
- fixed contexts (``p.context`` N > 0, the default for recorded series): windows of N values
  with R targets after them, drawn as the torch engine's ``FixedWindows`` (one ``randint`` for
  the start) or, for the full batch, every start; with ``p.relative`` each window is read minus
  its context's last value and its targets are compared in the same units, so the prediction
  is that value plus the network's output (``data.level = "last"``).

With rollout training (``p.rollout`` = R > 1 values after each context) the loss of a window is
the mean over k = 1…R of (ŷ_k − y_k)², ŷ_k for k > 1 being the prediction after feeding ŷ_{k−1}
back as the next input (``kernels.rollout_loss_grad``); windows are drawn as the torch engine's
``RandomWindows`` with R targets (``low`` = min_length + R), the full batch is every such window,
each run on its own, or for a one-layer rnn all at once (``rollout.py``).

Optimizers follow torch's update rules (``torch.optim.SGD`` with momentum and weight decay,
``Adam``, ``AdamW``), and ``clip`` clips the gradient's global norm as
``torch.nn.utils.clip_grad_norm_`` does; their constants are fields of the ``Problem``
(``problem.py``). ``lrs[i]`` is the learning rate of step ``step0 + i``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from . import rollout as shared
from .kernels import last_step_loss_grad, rollout_loss_grad, sequence_loss_grad, step, workspace
from .mt import randint
from .problem import ADAMW, SGD, Problem, storable


@njit(cache=True, error_model="numpy")
def _update(theta, grad, lr, p, m, v, step_number):
    """One optimizer step of ``p.optimizer`` on theta in place, after clipping grad's norm."""
    opt, momentum, decay, clip = p.optimizer, p.momentum, p.weight_decay, p.clip
    beta1, beta2, eps = p.beta1, p.beta2, p.eps
    P = theta.shape[0]
    if clip > 0.0:
        total = 0.0
        for j in range(P):
            total += grad[j] * grad[j]
        coef = clip / (math.sqrt(total) + 1e-6)
        if coef < 1.0:
            for j in range(P):
                grad[j] *= coef
    if opt == SGD:
        for j in range(P):
            g = grad[j]
            if decay != 0.0:
                g += decay * theta[j]
            if momentum != 0.0:
                if step_number == 1:
                    m[j] = g
                else:
                    m[j] = momentum * m[j] + g
                g = m[j]
            theta[j] -= lr * g
        return
    correction1 = 1.0 - beta1**step_number
    correction2 = math.sqrt(1.0 - beta2**step_number)
    step_size = lr / correction1
    for j in range(P):
        g = grad[j]
        if opt == ADAMW:
            theta[j] *= 1.0 - lr * decay
        elif decay != 0.0:
            g += decay * theta[j]
        m[j] += (g - m[j]) * (1.0 - beta1)
        v[j] = v[j] * beta2 + (1.0 - beta2) * g * g
        theta[j] -= step_size * m[j] / (math.sqrt(v[j]) / correction2 + eps)


@njit(cache=True, error_model="numpy")
def train_steps(p, theta, state, step0, lrs, m, v, losses):
    """Run len(lrs) steps of problem ``p`` on ``theta`` in place; losses[i] gets step i's loss
    (before its update); ``state`` is the generator's, ``m`` and ``v`` the optimizer's.

    Returns (steps done, restored): it stops at the first non-finite loss, and when the update
    before it produced non-finite weights, restores the weights from before that update.
    """
    # p's fields taken out once, not read in the step loop
    net, series, last, low, full, batch = p.net, p.series, p.last, p.low, p.full, p.batch
    R, min_length, N, relative = p.rollout, p.min_length, p.context, p.relative
    P = theta.shape[0]
    work = workspace(net, last + 1)
    grad = np.zeros(P)
    backup = theta.copy()
    weights = np.zeros(last + 1)
    windows = 0
    if full == 1 and N > 0:
        windows = last - low + 2
    elif full == 1:
        for start in range(0, last - low + 1):
            windows += last + 1 - (start + low) + 1
    # the full batch of a one-layer rnn: every window's rollout side by side (rollout.py)
    use_shared = N == 0 and R > 1 and full == 1 and shared.applies(net) and shared.fits(net, last, min_length, R)
    bufs = shared.buffers(net, last if use_shared else low + 1, min_length, R)
    for i in range(lrs.shape[0]):
        grad[:] = 0.0
        loss = 0.0
        if N > 0:  # fixed contexts series[start:start+N], targets series[start+N:start+N+R]
            count = batch if full == 0 else windows
            for b in range(count):
                start = randint(state, 0, last + 1 - low) if full == 0 else b
                level = series[start + N - 1] if relative == 1 else 0.0
                loss += rollout_loss_grad(net, theta, series, start, N, R, level, 1.0 / (count * R), grad, work)
        elif use_shared:
            loss = shared.loss_grad(net, theta, series, last, min_length, R, grad, bufs)
        elif R > 1 and full == 0:
            for b in range(batch):
                start = randint(state, 0, last - low)
                stop = randint(state, start + low, last + 1)
                end = stop - R  # context series[start:end], targets series[end:stop]
                loss += rollout_loss_grad(net, theta, series, start, end - start, R, 0.0, 1.0 / (batch * R), grad, work)
        elif R > 1:
            for start in range(0, last - low + 1):
                for stop in range(start + low, last + 2):
                    scale = 1.0 / (windows * R)
                    loss += rollout_loss_grad(net, theta, series, start, stop - R - start, R, 0.0, scale, grad, work)
        elif full == 0:
            for b in range(batch):
                start = randint(state, 0, last - low)
                stop = randint(state, start + low, last + 1)
                end = stop - 1  # context series[start:end], target series[end]
                target = series[end]
                loss += last_step_loss_grad(net, theta, series, start, end - start, target, 1.0 / batch, grad, work)
        else:
            for start in range(0, last - low + 1):
                T = last - start  # inputs series[start:last]; step t predicts series[start + t + 1]
                for t in range(T):
                    weights[t] = 1.0 / windows if t >= low - 2 else 0.0
                loss += sequence_loss_grad(net, theta, series, start, T, series, start + 1, weights, grad, work)
        losses[i] = loss
        if not storable(loss):
            for j in range(P):
                if not storable(theta[j]):
                    theta[:] = backup
                    return i, 1
            return i, 0
        backup[:] = theta
        _update(theta, grad, lrs[i], p, m, v, step0 + i + 1)
    return lrs.shape[0], 0


@njit(cache=True, error_model="numpy")
def train_many(p, thetas, states, step0, lrs, ms, vs, losses, done):
    """``train_steps`` for many models at once (one row each), in parallel over the CPU cores.

    done[n] = (steps done, weights restored) of model n; a model with fewer than step0 steps
    done stopped earlier (diverged) and is left as it is."""
    # numba's prange hands the threads a named tuple's fields, but not a named tuple held in one
    # (p.net): they get p.net and the fields after it, and put p together again
    _train_many(p.net, p[1:], thetas, states, step0, lrs, ms, vs, losses, done)


@njit(cache=True, error_model="numpy")
def train_one(p, thetas, states, step0, lrs, ms, vs, losses, done):
    """``train_many`` for a single model (row 0), with no parallel region (nor thread start-up)."""
    if done[0, 0] >= step0:
        steps, restored = train_steps(p, thetas[0], states[0], step0, lrs, ms[0], vs[0], losses[0])
        done[0, 0] = step0 + steps
        done[0, 1] = restored


@njit(cache=True, error_model="numpy", parallel=True)
def _train_many(net, rest, thetas, states, step0, lrs, ms, vs, losses, done):
    for n in prange(thetas.shape[0]):
        if done[n, 0] < step0:  # stopped earlier (diverged): leave it as it is
            continue
        p = Problem(net, *rest)
        steps, restored = train_steps(p, thetas[n], states[n], step0, lrs, ms[n], vs[n], losses[n])
        done[n, 0] = step0 + steps
        done[n, 1] = restored


@njit(cache=True, error_model="numpy", parallel=True)
def forecast_many(net, thetas, contexts, lengths, steps, out):
    """For each model n and context c: ``steps`` values generated after contexts[c, :lengths[c]].

    thetas (models, P) of the model ``net`` (``Layout.net``), contexts (count, max_length), out
    (models, count, steps); the state is carried forward and each prediction is fed back as the
    next input.
    """
    for n in prange(thetas.shape[0]):
        forecast_one(net, thetas[n], contexts, lengths, steps, out[n])


@njit(cache=True, error_model="numpy")
def forecast_one(net, theta, contexts, lengths, steps, out):
    """``forecast_many`` for one model (out: (count, steps)), with no parallel region: what one
    model's evaluation calls, many times over, without waking the threads."""
    max_time, layers = contexts.shape[1] + steps, net.layers
    work = workspace(net, max_time)
    for c in range(contexts.shape[0]):
        T = lengths[c]
        for l in range(layers):
            # h_0 = 0, c_0 = 0
            work.hs[l, 0, :] = 0.0
            work.cs[l, 0, :] = 0.0
        y = 0.0
        for t in range(T):
            y = step(net, theta, contexts[c, t], t, work)
        out[c, 0] = y
        for k in range(1, steps):
            # x_t = ŷ_{t-1}, fed back
            y = step(net, theta, y, T + k - 1, work)
            out[c, k] = y
