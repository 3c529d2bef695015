"""initial.py: the initial weights of torch.manual_seed + SequenceModel, drawn without torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from rnnlab.config import ModelConfig
from rnnlab.initial import initial_parameters, shapes
from rnnlab.model import SequenceModel


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("readout", ["unit", "linear"])
@pytest.mark.parametrize("hidden, layers", [(1, 1), (4, 1), (7, 2), (33, 3)])
def test_initial_parameters_equal_torch_bit_for_bit(cell, readout, hidden, layers):
    config = ModelConfig(cell=cell, readout=readout, hidden_size=hidden, num_layers=layers)
    for seed in (0, 1, 7, 2**32 + 5, 2**63 - 1):
        torch.manual_seed(seed)
        want = SequenceModel(config).tensors()
        got = initial_parameters(config, seed)
        assert list(got) == list(want) == [name for name, _ in shapes(config)]
        for name, value in want.items():
            assert got[name].dtype == np.float32 and got[name].shape == tuple(value.shape)
            assert np.array_equal(got[name], value.numpy()), (name, seed)


def test_the_seed_programs_first_weights_without_torch():
    """The blog's nn.RNN(1, 4) after torch.manual_seed(seed) equals the draws here."""
    torch.manual_seed(1234)
    rnn = torch.nn.RNN(1, 4)
    got = initial_parameters(ModelConfig(), 1234)
    for name, value in rnn.named_parameters():
        assert np.array_equal(got[name], value.detach().numpy())


def test_drawing_initial_parameters_does_not_import_torch():
    code = ("import sys; from rnnlab.initial import initial_parameters; from rnnlab.config import ModelConfig; "
            "p = initial_parameters(ModelConfig(cell='gru', readout='linear'), 3); "
            "print(sorted(p)[0], 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["bias_hh_l0", "False"]
