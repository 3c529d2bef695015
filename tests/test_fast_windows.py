"""The compiled engine on real-series windows: fixed contexts, relative levels, R targets,
validation and early stopping, against the torch engine run in float64 from the same start."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest
import torch

from conftest import tiny
from rnnlab.data import every_training_window, prepare, training_windows
from rnnlab.model import SequenceModel
from rnnlab.training import choose_engine, settle_engine, train
from rnnlab.training import compiled as engine
from rnnlab.training.common import make_optimizer, make_schedule
from rnnlab.training.windowed import rollout_predictions, targets_of, validation_loss


def series_config(**overrides):
    """A 60-value dataset series cut to fixed contexts (the forecasting defaults, made tiny)."""
    base = {"data.series": "dataset", "data.dataset": "nile", "data.context_length": 6, "train.rollout": 3,
            "train.optimizer": "adam", "train.lr": 0.01, "train.batch_size": 4, "train.steps": 12, "seed": 5,
            "train.engine": "fast", "model.hidden_size": 3, "data.val_fraction": 0.1, "data.test_fraction": 0.2}
    base.update(overrides)
    return tiny(**base)


def _torch_reference(config):
    """The torch engine's windowed loop in float64: same initial weights, same windows, same validation."""
    t = config.train
    prepared = prepare(config.data, t.rollout)
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    model = SequenceModel(config.model).double()
    optimizer = make_optimizer(config, model)
    scheduler = make_schedule(config, optimizer)
    series = torch.tensor(np.asarray(prepared.scaled, dtype=np.float32).astype(np.float64))
    sampler = training_windows(prepared, config.data.min_length, rng)
    every = every_training_window(prepared, config.data.min_length)
    losses, validations, best, best_state, waited = [], [], math.inf, None, 0
    for step in range(1, t.steps + 1):
        windows = every if t.batch_size == 0 else [sampler.draw() for _ in range(t.batch_size)]
        predictions = rollout_predictions(model, series, windows, prepared.targets, prepared.relative)
        loss = torch.nn.functional.mse_loss(predictions, targets_of(series, windows, prepared.targets))
        optimizer.zero_grad()
        loss.backward()
        if t.clip_grad > 0:
            torch.nn.utils.clip_grad_norm_(list(model.parameters()), t.clip_grad)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
        if prepared.split.val_size and (step % t.val_every == 0 or step == t.steps):
            val = _float64_validation(model, prepared)
            validations.append((step, val))
            if val < best:
                best, waited = val, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
            if t.patience and waited >= t.patience:
                break
    if t.patience and best_state is not None:
        model.load_state_dict(best_state)
    return model, losses, validations, sampler.draw()


def _float64_validation(model, prepared):
    """windowed.validation_loss's score, computed in float64 from the float32 inputs."""
    split, N, R = prepared.split, prepared.context_length, min(prepared.targets, prepared.split.val_size)
    values = np.asarray(prepared.scaled, dtype=np.float32).astype(np.float64)
    origins = range(split.train_end, split.val_end - R + 1)
    errors = []
    with torch.no_grad():
        for o in origins:
            context = values[o - N : o]
            level = context[-1] if prepared.relative else 0.0
            x = torch.tensor(context - level).view(1, -1, 1)
            prediction, state = model(x)
            value, out = prediction[:, -1], []
            for _ in range(R):
                out.append(value.item() + level)
                prediction, state = model(value.view(1, 1, 1), state)
                value = prediction[:, -1]
            errors.extend((np.array(out) - values[o : o + R]) ** 2)
    return float(np.mean(errors))


MODELS = [
    {"model.cell": "rnn", "model.nonlinearity": "tanh", "model.readout": "unit"},
    {"model.cell": "rnn", "model.nonlinearity": "relu", "model.readout": "linear", "model.num_layers": 2},
    {"model.cell": "lstm", "model.readout": "linear"},
    {"model.cell": "lstm", "model.readout": "unit", "model.num_layers": 2},
    {"model.cell": "gru", "model.readout": "linear"},
    {"model.cell": "gru", "model.readout": "unit", "model.num_layers": 2},
]
WINDOWS = [
    {"data.level": "last"},
    {"data.level": "none", "train.batch_size": 0, "train.clip_grad": 0.5},
    {"data.level": "last", "train.rollout": 1, "train.schedule": "cosine", "data.seasonal": "classical"},
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: "-".join(str(v) for v in m.values()))
@pytest.mark.parametrize("windows", WINDOWS, ids=["relative-batch4", "absolute-full-clip", "relative-one-step-cosine"])
def test_fixed_contexts_equal_torch_float64(model, windows):
    config = series_config(**model, **windows)
    result, weights = engine.train_compiled_exact(config)
    reference, losses, validations, context = _torch_reference(config)
    assert result.status == "completed" and result.steps_done == config.train.steps
    np.testing.assert_allclose(result.history, losses, rtol=0, atol=1e-10)
    for name, value in reference.tensors().items():
        np.testing.assert_allclose(weights[name], value.detach().numpy(), rtol=0, atol=1e-9)
    assert result.context == context  # the same windows were drawn
    assert [s for s, _ in result.validation] == [s for s, _ in validations]
    np.testing.assert_allclose([v for _, v in result.validation], [v for _, v in validations], rtol=0, atol=1e-10)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_early_stopping_restores_the_best_weights_as_torch_does(cell):
    config = series_config(**{"model.cell": cell, "model.readout": "linear", "train.steps": 60, "train.val_every": 3,
                              "train.patience": 2, "train.lr": 0.08, "data.level": "last"})
    result, weights = engine.train_compiled_exact(config)
    reference, losses, validations, _ = _torch_reference(config)
    assert result.steps_done == len(losses) < 60  # stopped early, at the same step
    assert result.best_step == min(validations, key=lambda sv: sv[1])[0]
    assert "restored" in result.message and f"step {result.best_step}" in result.message
    for name, value in reference.tensors().items():
        np.testing.assert_allclose(weights[name], value.detach().numpy(), rtol=0, atol=1e-9)


def test_validation_scores_match_the_torch_engines_float32_validation():
    """The compiled validation loss (float64) against ``windowed.validation_loss`` (float32)."""
    config = series_config(**{"model.cell": "gru", "model.readout": "linear", "data.level": "last", "train.steps": 20})
    result = train(config)
    prepared = prepare(config.data, config.train.rollout)
    assert result.validation and result.validation[-1][0] == 20
    assert result.validation[-1][1] == pytest.approx(validation_loss(result.model, prepared, prepared.targets), rel=1e-4)


def test_ensemble_members_equal_their_single_runs_with_early_stopping():
    config = series_config(**{"model.cell": "gru", "model.readout": "linear", "train.steps": 40, "train.val_every": 4,
                              "train.patience": 2, "train.lr": 0.05, "train.ensemble": 3})
    ensemble = train(config)
    assert ensemble.seeds == [5, 6, 7]
    for member, seed in zip(ensemble.members, ensemble.seeds):
        single = train(dataclasses.replace(config, seed=seed, train=dataclasses.replace(config.train, ensemble=1)))
        for (name, a), b in zip(member.tensors().items(), single.model.tensors().values()):
            np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=name)


def test_auto_engine_picks_fast_for_real_series_and_torch_for_the_seed():
    assert choose_engine(series_config(**{"train.engine": "auto"}))[0] == "fast"
    assert choose_engine(tiny())[0] == "torch"  # the seed's own loop: bit-exact on torch
    assert choose_engine(tiny(**{"train.ensemble": 4}))[0] == "fast"
    engine_name, why = choose_engine(series_config(**{"train.engine": "auto", "model.dropout": 0.1,
                                                      "model.num_layers": 2}))
    assert engine_name == "torch" and "dropout" in why
    assert settle_engine(series_config(**{"train.engine": "auto"})).train.engine == "fast"
    result = train(series_config(**{"train.engine": "auto"}))
    assert result.config.train.engine == "fast"


def test_short_series_shrinks_its_targets_on_both_engines():
    """A short series: prepare shrinks R to what the training part holds; the engines agree."""
    config = series_config(**{"data.context_length": None, "train.rollout": 40, "model.readout": "linear"})
    prepared = prepare(config.data, config.train.rollout)
    assert prepared.targets < 40
    fast = train(config)
    slow = train(dataclasses.replace(config, train=dataclasses.replace(config.train, engine="torch")))
    assert fast.context == slow.context
    np.testing.assert_allclose(fast.history, slow.history, rtol=1e-4, atol=1e-6)
