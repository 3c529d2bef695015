"""Forecasting by carrying the state equals the seed's re-run of the whole sequence."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.config import ModelConfig
from rnnlab.errors import InputError
from rnnlab.forecasting import forecast, forecast_batch, forecast_rerun
from rnnlab.model import SequenceModel

CONFIGS = [
    ModelConfig(),
    ModelConfig(nonlinearity="relu", hidden_size=3),
    ModelConfig(cell="lstm", num_layers=2, readout="linear"),
    ModelConfig(cell="gru", hidden_size=5, readout="linear"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.cell}-{c.nonlinearity}-{c.readout}")
@settings(max_examples=10, deadline=None)
@given(context=st.lists(st.floats(-1, 1), min_size=1, max_size=12), steps=st.integers(1, 15), seed=st.integers(0, 99))
def test_carried_state_equals_rerun(config, context, steps, seed):
    torch.manual_seed(seed)
    model = SequenceModel(config).eval()
    carried = forecast(model, context, steps)
    rerun = forecast_rerun(model, context, steps)
    np.testing.assert_allclose(carried, rerun, rtol=0, atol=1e-6)


def test_batch_equals_one_by_one():
    torch.manual_seed(3)
    model = SequenceModel(ModelConfig(cell="gru")).eval()
    contexts = np.array([[0.1, 0.2, 0.3], [-0.5, 0.0, 0.5]])
    batch = forecast_batch(model, contexts, 4)
    for row, context in zip(batch, contexts):
        np.testing.assert_allclose(row, forecast(model, context, 4), atol=1e-7)


def test_forecast_feeds_predictions_back():
    torch.manual_seed(1)
    model = SequenceModel(ModelConfig()).eval()
    values = forecast(model, [0.3, 0.1], 3)
    # the second value is the one-step prediction after the context extended by the first
    np.testing.assert_allclose(values[1], forecast(model, [0.3, 0.1, values[0]], 1)[0], atol=1e-7)


@pytest.mark.parametrize("context", [[], [float("nan")], [0.1, float("inf")]])
def test_bad_contexts(context):
    model = SequenceModel(ModelConfig())
    with pytest.raises(InputError):
        forecast(model, context, 3)


def _module_rollout(model, contexts, steps):
    """The rollout through the module, one call per step: what forecast_batch must equal bit for bit."""
    with torch.no_grad():
        x = torch.tensor(np.asarray(contexts), dtype=torch.float32).unsqueeze(-1)  # (batch, time, 1)
        prediction, state = model(x)
        value = prediction[:, -1:]  # (batch, 1)
        out = [value]
        for _ in range(steps - 1):
            prediction, state = model(value.unsqueeze(-1), state)
            value = prediction[:, -1:]
            out.append(value)
    return torch.cat(out, dim=1).double().numpy()


EXACT = [
    ModelConfig(cell=cell, nonlinearity=nonlinearity, num_layers=layers, readout=readout, hidden_size=hidden)
    for cell, nonlinearity in [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
    for layers in (1, 2)
    for readout in ("unit", "linear")
    for hidden in (1, 4, 7)
]


@pytest.mark.parametrize(
    "config", EXACT, ids=lambda c: f"{c.cell}-{c.nonlinearity}-l{c.num_layers}-{c.readout}-h{c.hidden_size}"
)
def test_forecast_is_bit_identical_to_the_module_called_per_step(config):
    torch.manual_seed(config.hidden_size + 10 * config.num_layers)
    model = SequenceModel(config).eval()
    contexts = np.random.default_rng(config.hidden_size).uniform(-1, 1, (3, 5))
    np.testing.assert_array_equal(forecast_batch(model, contexts, 40), _module_rollout(model, contexts, 40))
    single = forecast(model, contexts[0], 40)
    np.testing.assert_array_equal(single, _module_rollout(model, contexts[:1], 40)[0])


def test_forecast_of_a_training_model_with_dropout_uses_the_module():
    torch.manual_seed(0)
    model = SequenceModel(ModelConfig(num_layers=2, dropout=0.5)).train()
    torch.manual_seed(1)
    first = forecast(model, [0.1, 0.2], 30)
    torch.manual_seed(1)
    np.testing.assert_array_equal(first, _module_rollout(model, [[0.1, 0.2]], 30)[0])
