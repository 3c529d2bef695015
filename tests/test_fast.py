"""The fast engine against torch: gradients (autograd, float64), whole training runs (float64),
window draws (CPython's random), and the errors for what it does not implement."""

from __future__ import annotations

import dataclasses
import math
import random
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import tiny
from rnnlab.data import RandomWindows, series_values
from rnnlab.errors import ConfigError
from rnnlab.fast import kernels, layout, loop, mt, rollout, special
from rnnlab.training import compiled as engine
from rnnlab.model import SequenceModel
from rnnlab.training import TrainResult, train

MODELS = [
    dict(cell=cell, nonlinearity=nonlinearity, num_layers=layers, readout=readout)
    for cell, nonlinearity in (("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh"))
    for layers in (1, 2)
    for readout in ("unit", "linear")
]


def _named_grads(model: SequenceModel) -> dict[str, torch.Tensor]:
    return {name.removeprefix("rnn."): p.grad for name, p in model.named_parameters()}


@pytest.mark.parametrize("spec", MODELS, ids=lambda s: "-".join(map(str, s.values())))
def test_gradient_equals_autograd_float64(spec):
    config = tiny(**{f"model.{k}": v for k, v in spec.items()}, **{"model.hidden_size": 5})
    torch.manual_seed(11)
    model = SequenceModel(config.model).double()
    with torch.no_grad():  # larger weights than the default init, so every path carries gradient
        for p in model.parameters():
            p.mul_(2.0)
    lay = layout(config.model)
    theta = lay.pack(model.tensors())
    rng = np.random.default_rng(7)
    T = 9
    x, targets, weights = rng.normal(size=T), rng.normal(size=T), rng.uniform(0.1, 1.0, size=T)

    grad = np.zeros(lay.size)
    work = kernels.workspace(lay.net, T)
    loss = kernels.sequence_loss_grad(lay.net, theta, x, 0, T, targets, 0, weights, grad, work)
    preds = work.preds

    prediction, _ = model(torch.tensor(x).view(1, T, 1))  # (1, T)
    reference = (torch.tensor(weights) * (prediction[0] - torch.tensor(targets)) ** 2).sum()
    reference.backward()
    expected = lay.pack(_named_grads(model))
    assert abs(loss - reference.item()) <= 1e-12
    assert np.abs(expected).max() > 1e-3  # a real gradient, not zeros on both sides
    np.testing.assert_allclose(grad, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(preds, prediction[0].detach().numpy(), rtol=0, atol=1e-13)


def test_layout_round_trips_torch_tensors():
    config = tiny(**{"model.cell": "lstm", "model.num_layers": 2, "model.readout": "linear"})
    torch.manual_seed(0)
    model = SequenceModel(config.model)
    lay = layout(config.model)
    unpacked = lay.unpack(lay.pack(model.tensors()))
    assert list(unpacked) == list(model.tensors())
    for name, value in model.tensors().items():
        np.testing.assert_array_equal(unpacked[name], value.double().numpy())


@pytest.mark.parametrize("seed", [0, 7, 2**40 + 3])
def test_window_draws_equal_cpython_random(seed):
    rng, reference = random.Random(seed), random.Random(seed)
    state = mt.state_of(rng)
    ranges = random.Random(99)
    for _ in range(3000):  # > 624 words: crosses several twists; ranges of many bit lengths
        a = ranges.randrange(0, 30)
        b = a + ranges.randrange(0, 2 ** ranges.randrange(0, 31))
        assert mt.randint(state, a, b) == reference.randint(a, b)
    mt.load_state(rng, state)  # the state goes back to Python
    assert rng.random() == reference.random()


def _torch_reference(config, steps: int):
    """The torch engine's algorithm in float64: same initial weights, same windows."""
    t = config.train
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    model = SequenceModel(config.model).double()
    series = torch.tensor(series_values(config.data).astype(np.float32).astype(np.float64))
    last = len(series) - 1
    windows = RandomWindows(last, config.data.min_length, 1, rng)
    if t.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)
    elif t.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    scheduler = None
    if t.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t.steps)
    elif t.schedule == "step":
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[t.steps // 2, 3 * t.steps // 4], gamma=0.1)
    from rnnlab.data import all_windows

    every = list(all_windows(last, config.data.min_length, 1))
    losses = []
    for _ in range(steps):
        batch = every if t.batch_size == 0 else [windows.draw() for _ in range(t.batch_size)]
        loss = 0.0
        for w in batch:
            prediction, _ = model(series[w.start : w.end].view(1, -1, 1))
            loss = loss + (prediction[0, -1] - series[w.end]) ** 2
        loss = loss / len(batch)
        optimizer.zero_grad()
        loss.backward()
        if t.clip_grad > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.clip_grad)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
    return model, losses, windows.draw()


def test_seed_preset_run_equals_torch_float64():
    """2,000 per-sample SGD steps of the seed preset (the benchmark runs all 20,000)."""
    config = tiny(**{"train.steps": 2000, "seed": 5, "train.engine": "fast"})
    result, weights = engine.train_compiled_exact(config)
    model, losses, context = _torch_reference(config, 2000)
    assert result.status == "completed" and result.steps_done == 2000
    np.testing.assert_allclose(result.history, losses, rtol=0, atol=1e-12)
    for name, value in model.tensors().items():
        np.testing.assert_allclose(weights[name], value.numpy(), rtol=0, atol=1e-9)
    assert result.context == context  # the generator state is handed back to Python


@pytest.mark.parametrize(
    "overrides",
    [
        {"train.optimizer": "adam", "train.lr": 0.01, "train.batch_size": 8},
        {"train.optimizer": "adamw", "train.lr": 0.02, "train.weight_decay": 0.01, "train.batch_size": 3,
         "model.cell": "gru", "model.readout": "linear", "train.schedule": "cosine"},
        {"train.optimizer": "sgd", "train.momentum": 0.9, "train.lr": 0.05, "train.batch_size": 0,
         "train.clip_grad": 0.5, "model.cell": "lstm", "model.num_layers": 2, "train.schedule": "step",
         "data.points_per_period": 12},
        {"model.cell": "rnn", "model.nonlinearity": "relu", "model.hidden_size": 6, "train.weight_decay": 0.001},
    ],
    ids=["adam-minibatch", "adamw-gru-cosine", "momentum-fullbatch-lstm2-clip-step", "relu-decay"],
)
def test_other_configs_equal_torch_float64(overrides):
    config = tiny(**{"train.steps": 20, "seed": 2, "train.engine": "fast", **overrides})
    result, weights = engine.train_compiled_exact(config)
    model, losses, _ = _torch_reference(config, 20)
    np.testing.assert_allclose(result.history, losses, rtol=0, atol=1e-11)
    for name, value in model.tensors().items():
        np.testing.assert_allclose(weights[name], value.numpy(), rtol=0, atol=1e-10)


def test_train_dispatches_to_the_fast_engine():
    config = tiny(**{"train.steps": 300, "train.engine": "fast", "seed": 4})
    fast = train(config)
    slow = train(dataclasses.replace(config, train=dataclasses.replace(config.train, engine="torch")))
    assert isinstance(fast, TrainResult) and isinstance(fast.model, SequenceModel)
    assert fast.steps_done == 300 and fast.status == "completed"
    assert fast.context == slow.context  # the same windows were drawn
    # float64 against float32 training: close, not equal
    assert np.allclose(fast.history[:50], slow.history[:50], atol=1e-5)
    for name, value in slow.model.tensors().items():
        assert torch.allclose(fast.model.tensors()[name], value, atol=1e-3)


def test_dataset_series_follows_the_torch_engine():
    """A bundled dataset (scaled, split) with the seed's variable windows: same windows, same losses."""
    config = tiny(**{"seed": 1, "train.steps": 50, "data.series": "dataset", "data.dataset": "nile",
                     "data.context_length": 0, "train.batch_size": 4, "train.optimizer": "adam", "train.lr": 0.01})
    slow = train(config)
    fast = train(dataclasses.replace(config, train=dataclasses.replace(config.train, engine="fast")))
    assert fast.context == slow.context
    assert fast.data == slow.data  # the same split and scaling are stored
    np.testing.assert_allclose(fast.history, slow.history, rtol=0, atol=1e-6)


def test_should_stop_and_progress():
    calls = []
    config = tiny(**{"train.steps": 5000, "train.engine": "fast"})
    result = train(config, on_step=lambda s, n, loss: calls.append(s), should_stop=lambda: len(calls) >= 1)
    assert result.status == "interrupted"
    assert result.steps_done == engine.CHUNK_STEPS == len(calls)
    assert calls == list(range(1, engine.CHUNK_STEPS + 1))


def test_divergence_keeps_last_finite_weights():
    config = tiny(**{"train.steps": 200, "train.engine": "fast", "train.lr": 1e6, "model.cell": "rnn",
                     "model.nonlinearity": "relu", "model.readout": "linear"})
    result = train(config)
    assert result.status == "diverged"
    assert "train.lr" in result.message
    assert all(torch.isfinite(t).all() for t in result.model.tensors().values())
    assert all(math.isfinite(v) for v in result.history)


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"model.num_layers": 3}, "model.num_layers = 3"),
        ({"model.dropout": 0.1, "model.num_layers": 2}, "model.dropout = 0.1"),
        ({"model.hidden_size": 1000}, "model.hidden_size = 1000"),
    ],
)
def test_unsupported_configs_are_refused(overrides, named):
    config = tiny(**{"train.engine": "fast", **overrides})
    with pytest.raises(ConfigError) as error:
        train(config)
    assert named in str(error.value) and "--engine torch" in str(error.value)


def _general_and_special(config, count: int, steps: int):
    """Train ``count`` members (seeds 0..count-1) with loop.train_many and special.train_many."""
    lay, p, _ = engine.problem(config)
    thetas = np.stack([lay.pack(engine.initial_model(config, seed).tensors()) for seed in range(count)])
    states = np.stack([mt.state_of(random.Random(seed)) for seed in range(count)])
    lrs = engine.learning_rates(config, 0, steps)
    out = []
    for which in ("general", "special"):
        th, st = thetas.copy(), states.copy()
        losses, done = np.full((count, steps), np.nan), np.zeros((count, 2), dtype=np.int64)
        if which == "general":
            zeros = np.zeros_like(th)
            loop.train_many(p, th, st, 0, lrs, zeros, zeros.copy(), losses, done)
        else:
            special.train_many(special.units(lay.net.hidden), p, th, st, 0, lrs, losses, done)
        out.append((th, st, losses, done))
    return out


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"model.readout": "linear", "model.hidden_size": 3, "train.schedule": "cosine"},
        {"model.nonlinearity": "relu", "model.hidden_size": 5, "train.lr": 0.05},
    ],
    ids=["seed", "linear-h3-cosine", "relu-h5"],
)
def test_special_loop_equals_the_general_loop(overrides):
    config = tiny(**{"train.steps": 300, "train.engine": "fast", **overrides})
    assert special.applies(config)
    (g_th, g_st, g_loss, g_done), (s_th, s_st, s_loss, s_done) = _general_and_special(config, 5, 300)
    np.testing.assert_allclose(s_th, g_th, rtol=0, atol=1e-12)
    np.testing.assert_allclose(s_loss, g_loss, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(s_st, g_st)  # the same windows were drawn
    np.testing.assert_array_equal(s_done, g_done)
    assert not np.array_equal(s_th[0], s_th[1])  # the members differ


def test_special_loop_keeps_the_last_finite_weights_as_the_general_loop():
    config = tiny(**{"train.steps": 200, "train.engine": "fast", "train.lr": 1e6, "model.nonlinearity": "relu",
                     "model.readout": "linear"})
    (g_th, _, g_loss, g_done), (s_th, _, s_loss, s_done) = _general_and_special(config, 3, 200)
    assert (s_done[:, 0] < 200).all()  # every member stopped early
    np.testing.assert_array_equal(s_done, g_done)
    np.testing.assert_allclose(s_th, g_th, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(np.isfinite(s_loss), np.isfinite(g_loss))


@pytest.mark.parametrize(
    "overrides",
    [{"train.momentum": 0.9}, {"train.batch_size": 2}, {"model.cell": "gru"}, {"model.num_layers": 2},
     {"train.optimizer": "adam"}, {"train.clip_grad": 1.0}, {"model.hidden_size": special.MAX_HIDDEN + 1}],
)
def test_special_loop_is_only_used_for_its_case(overrides):
    assert special.applies(tiny(**{"train.engine": "fast"}))
    assert not special.applies(tiny(**{"train.engine": "fast", **overrides}))


def test_compiled_functions_are_cached_on_disk():
    for function in (kernels.forward, kernels.backward, loop.train_steps, loop.train_many, mt.randint,
                     special.train_one, special.train_many, kernels.rollout_loss_grad, rollout.loss_grad):
        assert function._cache.__class__.__name__ == "FunctionCache", function


def test_help_imports_neither_torch_nor_numba():
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rnnlab", "--help"], capture_output=True, text=True, check=True
    )
    imported = {line.split("|")[-1].strip().split(".")[0] for line in out.stderr.splitlines() if "|" in line}
    assert "rnnlab" in imported and "typer" in imported
    assert "torch" not in imported and "numba" not in imported


# -- rollout training: the loss over R fed-back predictions -----------------------------------------

ROLLOUT_MODELS = [
    dict(cell=cell, nonlinearity=nonlinearity, num_layers=layers, readout=readout)
    for cell, nonlinearity in (("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh"))
    for layers in (1, 2)
    for readout in ("unit", "linear")
]


@pytest.mark.parametrize("spec", ROLLOUT_MODELS, ids=lambda s: "-".join(map(str, s.values())))
def test_rollout_gradient_equals_autograd_float64(spec):
    """The loss over K predictions, each fed back as the next input, and its gradient through the feedback."""
    from rnnlab.training.windowed import rollout_predictions
    from rnnlab.data import Window

    config = tiny(**{f"model.{k}": v for k, v in spec.items()}, **{"model.hidden_size": 5})
    torch.manual_seed(4)  # weights under which every tensor gets gradient in every model here
    model = SequenceModel(config.model).double()
    with torch.no_grad():  # larger weights than the default init, so every path carries gradient
        for p in model.parameters():
            p.mul_(1.5)
    lay = layout(config.model)
    theta = lay.pack(model.tensors())
    series = np.random.default_rng(5).normal(size=20)
    start, L, K, scale = 2, 7, 6, 0.3

    grad = np.zeros(lay.size)
    work = kernels.workspace(lay.net, 20)
    loss = kernels.rollout_loss_grad(lay.net, theta, series, start, L, K, 0.0, scale, grad, work)
    preds = work.preds

    values = torch.tensor(series)
    predictions = rollout_predictions(model, values, [Window(start, start + L)], K)  # (1, K)
    reference = scale * ((predictions[0] - values[start + L : start + L + K]) ** 2).sum()
    reference.backward()
    expected = lay.pack(_named_grads(model))
    assert abs(loss - reference.item()) <= 1e-12
    np.testing.assert_allclose(preds[L - 1 : L + K - 1], predictions[0].detach().numpy(), rtol=0, atol=1e-13)
    assert all(np.abs(g.numpy()).max() > 1e-3 for g in _named_grads(model).values())  # real gradients
    np.testing.assert_allclose(grad, expected, rtol=0, atol=1e-12)
    # the feedback path matters: without it the gradient differs
    cut = np.zeros(lay.size)
    kernels.rollout_loss_grad(lay.net, theta, series, start, L, 1, 0.0, scale, cut, work)
    assert np.abs(cut - expected).max() > 1e-6


def _torch_rollout_reference(config, steps: int):
    """The torch engine's rollout training (batched.py) in float64: same initial weights, same windows."""
    from rnnlab.training.windowed import rollout_predictions, targets_of as _targets
    from rnnlab.data import every_training_window, prepare, training_windows
    from rnnlab.training.common import make_optimizer as _make_optimizer

    t = config.train
    prepared = prepare(config.data, t.rollout)
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    model = SequenceModel(config.model).double()
    optimizer = _make_optimizer(config, model)
    series = torch.tensor(np.asarray(prepared.scaled, dtype=np.float32).astype(np.float64))
    sampler = training_windows(prepared, config.data.min_length, rng)
    every = every_training_window(prepared, config.data.min_length)
    losses = []
    for _ in range(steps):
        windows = every if t.batch_size == 0 else [sampler.draw() for _ in range(t.batch_size)]
        predictions = rollout_predictions(model, series, windows, t.rollout)
        loss = torch.nn.functional.mse_loss(predictions, _targets(series, windows, t.rollout))
        optimizer.zero_grad()
        loss.backward()
        if t.clip_grad > 0:
            torch.nn.utils.clip_grad_norm_(list(model.parameters()), t.clip_grad)
        optimizer.step()
        losses.append(loss.item())
    return model, losses, sampler.draw()


@pytest.mark.parametrize(
    "overrides",
    [
        {"model.nonlinearity": "relu", "model.readout": "linear"},
        {"model.nonlinearity": "tanh", "model.readout": "unit", "train.batch_size": 5},
        {"model.nonlinearity": "tanh", "model.readout": "unit", "train.clip_grad": 0.5},
        {"model.nonlinearity": "relu", "model.readout": "unit", "model.num_layers": 2, "train.clip_grad": 0.5},
        {"model.nonlinearity": "tanh", "model.readout": "linear", "train.batch_size": 3},
        {"model.cell": "lstm", "model.readout": "linear"},
        {"model.cell": "gru", "model.num_layers": 2, "model.readout": "linear", "train.batch_size": 4},
    ],
    ids=["relu-linear-full", "tanh-unit-batch5", "tanh-unit-full-clip", "relu-unit-2layers-clip", "tanh-linear-batch3", "lstm-linear-full",
         "gru-2layers-batch4"],
)
def test_rollout_training_equals_torch_float64(overrides):
    config = tiny(**{"train.steps": 15, "seed": 3, "train.engine": "fast", "train.rollout": 4, "train.optimizer": "adam",
                     "train.lr": 0.01, "train.batch_size": 0, "data.points_per_period": 10, **overrides})
    result, weights = engine.train_compiled_exact(config)
    model, losses, context = _torch_rollout_reference(config, 15)
    assert result.status == "completed" and result.steps_done == 15
    np.testing.assert_allclose(result.history, losses, rtol=0, atol=1e-11)
    for name, value in model.tensors().items():
        np.testing.assert_allclose(weights[name], value.detach().numpy(), rtol=0, atol=1e-9)
    assert result.context == context  # the same windows were drawn


def test_shared_rollout_equals_the_window_by_window_loss():
    """rollout.py (all windows of a one-layer rnn at once) against kernels.rollout_loss_grad per window."""
    for readout, relu in (("linear", "relu"), ("unit", "tanh")):
        config = tiny(**{"train.rollout": 3, "model.readout": readout, "model.nonlinearity": relu,
                         "data.points_per_period": 9, "model.hidden_size": 3})
        lay = layout(config.model)
        theta = lay.pack(engine.initial_model(config, 0).tensors()) * 1.5
        series = np.random.default_rng(1).normal(size=19)
        last, min_length, K = 18, 2, 3
        assert rollout.applies(lay.net) and rollout.fits(lay.net, last, min_length, K)
        shared = np.zeros(lay.size)
        loss = rollout.loss_grad(lay.net, theta, series, last, min_length, K, shared,
                                 rollout.buffers(lay.net, last, min_length, K))
        windows = [(s, stop - K - s) for s in range(last - min_length - K + 1) for stop in range(s + min_length + K, last + 2)]
        each, total = np.zeros(lay.size), 0.0
        work = kernels.workspace(lay.net, last + 1)
        for start, length in windows:
            total += kernels.rollout_loss_grad(lay.net, theta, series, start, length, K, 0.0,
                                               1.0 / (len(windows) * K), each, work)
        assert abs(loss - total) <= 1e-12 and loss > 0
        np.testing.assert_allclose(shared, each, rtol=0, atol=1e-12)


def test_rollout_run_follows_the_torch_engine():
    """Through ``train``: the fast engine's losses are the torch engine's (float32) to float32 precision."""
    config = tiny(**{"train.steps": 30, "seed": 1, "train.rollout": 5, "train.optimizer": "adam", "train.lr": 0.01,
                     "train.batch_size": 0, "model.nonlinearity": "relu", "model.readout": "linear"})
    slow = train(config)
    fast = train(dataclasses.replace(config, train=dataclasses.replace(config.train, engine="fast")))
    assert fast.context == slow.context
    assert fast.data == slow.data
    np.testing.assert_allclose(fast.history, slow.history, rtol=1e-4, atol=1e-6)
