"""SequenceModel: every cell through one code path; parameters under torch's names."""

from __future__ import annotations

import pytest
import torch

from rnnlab.config import ModelConfig
from rnnlab.errors import RunCorruptError
from rnnlab.forecasting import forecast
from rnnlab.model import SequenceModel
from rnnlab.training import train

from conftest import tiny

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


@pytest.mark.parametrize("cell,nonlinearity", CELLS)
@pytest.mark.parametrize("readout", ["unit", "linear"])
def test_every_cell_trains_and_forecasts(cell, nonlinearity, readout):
    config = tiny(**{"model.cell": cell, "model.nonlinearity": nonlinearity, "model.readout": readout,
                     "model.num_layers": 2, "train.lr": 0.05})
    result = train(config)
    assert result.status == "completed" and len(result.history) == 30
    values = forecast(result.model, [0.0, 0.17, 0.34, 0.5], 5)
    assert values.shape == (5,) and torch.isfinite(torch.tensor(values)).all()
    # training moved the weights away from a fresh model built from the same seed
    torch.manual_seed(config.seed)
    fresh = SequenceModel(config.model).tensors()
    moved = result.model.tensors()
    assert set(fresh) == set(moved)
    assert any(not torch.equal(fresh[k], moved[k]) for k in fresh)


def test_unit_readout_is_the_last_hidden_unit():
    torch.manual_seed(0)
    model = SequenceModel(ModelConfig(hidden_size=3))
    x = torch.randn(2, 5, 1)
    prediction, h = model(x)
    out, _ = model.rnn(x)
    assert torch.equal(prediction, out[..., -1])
    assert h.shape == (1, 2, 3)


def test_stored_names_load_into_plain_torch_rnn():
    torch.manual_seed(0)
    model = SequenceModel(ModelConfig(num_layers=2))
    rnn = torch.nn.RNN(1, 4, num_layers=2)
    rnn.load_state_dict(model.tensors())
    x = torch.randn(7, 1)
    assert torch.allclose(rnn(x)[0][:, -1], model(x.view(1, 7, 1))[0][0])


def test_load_rejects_wrong_names_and_shapes():
    model = SequenceModel(ModelConfig())
    tensors = model.tensors()
    with pytest.raises(RunCorruptError, match=r"missing \['bias_hh_l0'\]"):
        model.load_tensors({k: v for k, v in tensors.items() if k != "bias_hh_l0"})
    bad = dict(tensors, weight_hh_l0=torch.zeros(5, 5))
    with pytest.raises(RunCorruptError, match=r"weight_hh_l0 has shape \(5, 5\), expected \(4, 4\)"):
        model.load_tensors(bad)
