"""Reference tests of the hand calculation: forward against torch, backward against autograd."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab.config import ModelConfig
from rnnlab.errors import InputError
from rnnlab.explain import explain_backward, explain_forward
from rnnlab.explain import forward as forward_module
from rnnlab.model import SequenceModel

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


def random_model(cell, nonlinearity, num_layers, readout, hidden_size, seed, scale=0.8) -> SequenceModel:
    """A model whose every parameter is drawn uniformly from [-scale, scale] with ``seed``."""
    config = ModelConfig(cell=cell, nonlinearity=nonlinearity, hidden_size=hidden_size,
                         num_layers=num_layers, readout=readout)
    model = SequenceModel(config)
    rng = np.random.default_rng(seed)
    model.load_tensors({name: torch.tensor(rng.uniform(-scale, scale, t.shape), dtype=torch.float32)
                        for name, t in model.tensors().items()})
    return model.eval()


def torch_run(model, inputs, dtype):
    """torch's predictions (every step) and final state for ``inputs``, in ``dtype``."""
    twin = copy.deepcopy(model).to(dtype)
    x = torch.tensor(inputs, dtype=dtype).view(1, -1, 1)  # (1, time, 1)
    with torch.no_grad():
        prediction, state = twin(x)
    return prediction[0].double().numpy(), state


model_cases = st.tuples(
    st.sampled_from(CELLS),
    st.sampled_from([1, 2]),
    st.sampled_from(["unit", "linear"]),
    st.integers(1, 4),
    st.integers(0, 2**32 - 1),
    st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=7),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=model_cases, ahead=st.integers(0, 2))
def test_forward_equals_torch(case, ahead):
    (cell, nonlinearity), num_layers, readout, hidden_size, seed, context = case
    model = random_model(cell, nonlinearity, num_layers, readout, hidden_size, seed)
    walk = explain_forward(model, context, ahead=ahead)
    assert len(walk.steps) == len(context) + ahead
    assert len(walk.predictions) == ahead + 1 and walk.prediction == walk.predictions[0]
    inputs = [step.x for step in walk.steps]
    assert inputs[: len(context)] == [float(v) for v in context]
    # fed-back inputs are the predictions before them
    assert inputs[len(context):] == walk.predictions[:-1]
    hand = np.array([step.y_hat for step in walk.steps])
    # against torch in float64: ~1e-12
    ref64, state = torch_run(model, inputs, torch.float64)
    np.testing.assert_allclose(hand, ref64, rtol=1e-12, atol=1e-12)
    # the final states of every layer, not only the readout
    h_n = state[0] if cell == "lstm" else state
    for layer in range(num_layers):
        np.testing.assert_allclose(walk.steps[-1].layers[layer].h, h_n[layer, 0].numpy(), rtol=1e-12, atol=1e-12)
        if cell == "lstm":
            np.testing.assert_allclose(walk.steps[-1].layers[layer].c, state[1][layer, 0].numpy(), rtol=1e-12, atol=1e-12)
    # against the stored float32 model: float32 rounding, ~1e-7 relative
    ref32, _ = torch_run(model, inputs, torch.float32)
    np.testing.assert_allclose(hand, ref32, rtol=1e-5, atol=1e-6)
    # the walk's own checks say the same
    assert walk.passed and [c.framework for c in walk.checks] == ["torch float32 (the model as stored)", "torch float64"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=model_cases, target=st.floats(-1.5, 1.5), lr=st.sampled_from([0.1, 0.01]))
def test_backward_equals_autograd(case, target, lr):
    (cell, nonlinearity), num_layers, readout, hidden_size, seed, context = case
    model = random_model(cell, nonlinearity, num_layers, readout, hidden_size, seed)
    walk = explain_backward(model, context, target, lr=lr)
    twin = copy.deepcopy(model).double()
    prediction, _ = twin(torch.tensor(context, dtype=torch.float64).view(1, -1, 1))
    loss = F.mse_loss(prediction[0, -1], torch.tensor(target, dtype=torch.float64))
    loss.backward()
    assert walk.loss == pytest.approx(loss.item(), rel=1e-12, abs=1e-14)
    grads = {n.removeprefix("rnn."): p.grad.numpy() for n, p in twin.named_parameters()}
    assert set(grads) == set(walk.gradients)
    for name, grad in grads.items():
        np.testing.assert_allclose(walk.gradients[name], grad, rtol=1e-10, atol=1e-10, err_msg=name)
        # the update is θ − lr·∇θ
        np.testing.assert_allclose(walk.updated[name], walk.forward.parameters[name] - lr * grad, rtol=1e-10, atol=1e-12)
    # the per-step contributions add up to the totals
    for name in walk.gradients:
        if name.startswith("readout."):
            continue
        layer = int(name[-1])
        parts = [lb.contributions[name] for step in walk.steps for lb in step.layers if lb.layer == layer]
        np.testing.assert_allclose(sum(parts), walk.gradients[name], rtol=1e-12, atol=1e-14)
    assert walk.steps[0].t == len(context) - 1 and walk.steps[-1].t == 0  # last to first
    assert walk.passed, [(c.framework, c.max_abs_diff) for c in walk.checks]


def test_checks_can_fail(monkeypatch):
    """A wrong equation in the hand calculation shows up as a failing check."""
    model = random_model("gru", "tanh", 1, "unit", 3, seed=5)
    assert explain_forward(model, [0.3, -0.2, 0.5]).passed
    # a classic slip: b_hn added outside the reset gate, n = tanh(W_in x + b_in + r ⊙ (W_hn h) + b_hn)
    original = forward_module._term

    def bias_outside(name, activation, x, h_prev, W_ih, b_ih, W_hh, b_hh, reset=None):
        if reset is not None:
            return original(name, activation, x, h_prev, W_ih, b_ih + b_hh, W_hh, 0 * b_hh, reset)
        return original(name, activation, x, h_prev, W_ih, b_ih, W_hh, b_hh, reset)

    monkeypatch.setattr(forward_module, "_term", bias_outside)
    walk = explain_forward(model, [0.3, -0.2, 0.5])
    assert not walk.passed
    assert all(not c.passed for c in walk.checks)
    assert max(c.max_abs_diff for c in walk.checks) > 1e-4


def test_rnn_terms_add_up():
    model = random_model("rnn", "tanh", 1, "unit", 4, seed=11)
    walk = explain_forward(model, [0.5, -0.25])
    p = walk.parameters
    step = walk.steps[1].layers[0]
    term = step.terms[0]
    np.testing.assert_array_equal(term.W_ih_x, p["weight_ih_l0"] @ np.array([-0.25]))
    np.testing.assert_array_equal(term.W_hh_h, p["weight_hh_l0"] @ walk.steps[0].layers[0].h)
    np.testing.assert_allclose(term.preactivation, term.W_ih_x + term.b_ih + term.W_hh_h + term.b_hh)
    np.testing.assert_array_equal(step.h, np.tanh(term.preactivation))
    assert walk.steps[1].y_hat == step.h[-1]  # the "unit" readout: the last hidden unit


# -- the seed program's hand calculation ------------------------------------------------------------

# The weights the seed program printed after training, 4 decimals, and the inputs it generated from.
SEED_PRINTED = {
    "weight_ih_l0": [[0.4578], [0.8740], [0.7745], [2.5193]],
    "bias_ih_l0": [0.2991, -0.1368, 0.5886, 0.2219],
    "weight_hh_l0": [[0.3623, 0.0076, -0.9166, -0.2516], [0.4999, 0.1557, 0.0980, -0.7547],
                     [-0.2654, 0.5356, 0.6579, 0.0889], [0.5429, 0.8763, 0.4217, -1.3401]],
    "bias_hh_l0": [-0.5376, 0.6217, -0.2166, -0.3979],
}
SEED_INPUTS = [0.3420201539993286, 0.1736481785774231, 1.2246468525851679e-16, -0.1736481785774231,
               -0.3420201539993286, -0.5]
SEED_NETWORK = -0.6631757020950317  # what the trained network output (full-precision weights)
SEED_PAPER = -0.663155  # what the hand calculation with the printed weights gave


def test_seed_printed_weights_reproduce_the_paper_result():
    model = SequenceModel(ModelConfig())
    model.load_tensors({k: torch.tensor(v) for k, v in SEED_PRINTED.items()})
    walk = explain_forward(model, SEED_INPUTS, decimals=4)
    # the printed weights reproduce the hand result to the 6 digits it was written with (±5e-6)
    assert walk.prediction == pytest.approx(SEED_PAPER, abs=5e-6)
    # and they sit ~2e-5 away from the network's answer: rounding, not arithmetic, explains it
    assert 1e-5 < abs(walk.prediction - SEED_NETWORK) < 3e-5
    assert walk.passed


def _printed(tensor) -> np.ndarray:
    """The numbers torch prints for a parameter (the seed program's printout)."""
    text = str(tensor.detach())
    assert "e-" not in text and "e+" not in text, text  # fixed-point printout, 4 decimals
    body = text[text.index("(") + 1 : text.rindex(")")]
    return np.array([float(v) for v in re.findall(r"-?\d+\.\d+", body)]).reshape(tuple(tensor.shape))


def test_seed_preset_rounding_explains_the_difference():
    from rnnlab.presets import preset, apply_overrides
    from rnnlab.data import series_values
    from rnnlab.training import train

    result = train(apply_overrides(preset("seed"), {"seed": 3, "train.steps": 300}))
    model = result.model
    context = series_values(result.config.data)[result.context.start : result.context.end].tolist()
    exact = explain_forward(model, context)
    rounded = explain_forward(model, context, decimals=4)
    # the rounded walk uses exactly the numbers the seed program prints
    for name in ("weight_ih_l0", "bias_ih_l0", "weight_hh_l0", "bias_hh_l0"):
        np.testing.assert_array_equal(rounded.parameters[name], _printed(getattr(model.rnn, name)))
    # exact weights: the hand result equals the float32 network to float32 rounding
    network = model(torch.tensor(context, dtype=torch.float32).view(1, -1, 1))[0][0, -1].item()
    assert abs(exact.prediction - network) < 1e-6
    # rounded weights: the result moves by far more than that, and the walk records how far
    shift = rounded.rounding.shift[0]
    assert shift == rounded.prediction - exact.prediction
    assert rounded.rounding.exact[0] == exact.prediction
    assert abs(shift) > 20 * abs(exact.prediction - network)
    assert 0 < rounded.rounding.max_weight_change <= 0.5e-4 + 1e-12
    assert rounded.passed  # the hand arithmetic with the rounded weights still matches torch


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(context=[]), "at least 1 value"),
        (dict(context=["a"]), "list of numbers"),
        (dict(context=[0.1, float("nan")]), "finite"),
        (dict(context=[0.1], decimals=-1), "decimals must be an integer >= 0, got -1"),
        (dict(context=[0.1], ahead=-2), "ahead must be an integer >= 0, got -2"),
    ],
)
def test_forward_bad_input(kwargs, message):
    model = random_model("rnn", "tanh", 1, "unit", 2, seed=1)
    with pytest.raises(InputError, match=re.escape(message)):
        explain_forward(model, **kwargs)


@pytest.mark.parametrize("target", [float("nan"), "x", None])
def test_backward_bad_target(target):
    model = random_model("rnn", "tanh", 1, "unit", 2, seed=1)
    with pytest.raises(InputError, match="target must be"):
        explain_backward(model, [0.1, 0.2], target)


def test_linear_readout_terms():
    model = random_model("lstm", "tanh", 2, "linear", 3, seed=4)
    walk = explain_forward(model, [0.1, 0.9, -0.4])
    w, b = walk.parameters["readout.weight"][0], walk.parameters["readout.bias"][0]
    for step in walk.steps:
        assert step.w_h == pytest.approx(float(w @ step.layers[-1].h), abs=1e-15)
        assert step.b == b and step.y_hat == step.w_h + step.b
