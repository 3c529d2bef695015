"""SequenceModel: one recurrent stack (nn.RNN, nn.LSTM or nn.GRU) and a readout.

Layout is batch_first throughout: inputs ``(batch, time, 1)``, predictions ``(batch, time)``.
Parameters are stored under torch's own names (``weight_ih_l0``, ``bias_hh_l1``, …) plus
``readout.weight`` / ``readout.bias`` for the linear head, so ``nn.RNN.load_state_dict`` takes
the recurrent part of a stored run as it is.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from .config import ModelConfig
from .errors import ConfigError, RunCorruptError

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class SequenceModel(nn.Module):
    """A recurrent stack and a readout that turns the top layer's state into one value per step."""

    def __init__(self, config: ModelConfig):
        if not isinstance(config, ModelConfig):
            raise ConfigError(f"config must be a ModelConfig, got {type(config).__name__}")
        super().__init__()
        self.config = config
        kwargs = dict(
            input_size=config.input_size,
            hidden_size=config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
        )
        if config.cell == "rnn":
            kwargs["nonlinearity"] = config.nonlinearity
        if config.dropout and config.num_layers > 1:
            kwargs["dropout"] = config.dropout  # between layers; torch warns about it with one layer
        # Created first, so that it draws its initial weights from torch's generator exactly as
        # the seed's nn.RNN(1, 4) does right after torch.manual_seed.
        self.rnn = _CELLS[config.cell](**kwargs)
        self.readout = nn.Linear(config.hidden_size, 1) if config.readout == "linear" else None

    def forward(self, x: torch.Tensor, state=None):
        """Predictions for every step and the final state.

        x: (batch, time, 1) -> predictions (batch, time); state as the cell returns it
        (h of shape (num_layers, batch, hidden), or (h, c) for lstm).
        """
        out, state = self.rnn(x, state)  # (batch, time, hidden)
        if self.readout is None:
            return out[..., -1], state  # the last hidden unit: the seed's output[-1, :][-1]
        return self.readout(out).squeeze(-1), state  # (batch, time, 1) -> (batch, time)

    def tensors(self) -> dict[str, torch.Tensor]:
        """Parameters under their stored names, detached and contiguous."""
        named = {}
        for name, value in self.named_parameters():
            key = name[len("rnn."):] if name.startswith("rnn.") else name
            named[key] = value.detach().contiguous().clone()
        return named

    def load_tensors(self, tensors: Mapping[str, torch.Tensor]) -> None:
        """Load parameters stored by ``tensors``; names and shapes must match the config exactly."""
        expected = {
            (name[len("rnn."):] if name.startswith("rnn.") else name): p
            for name, p in self.named_parameters()
        }
        missing = sorted(set(expected) - set(tensors))
        extra = sorted(set(tensors) - set(expected))
        if missing or extra:
            raise RunCorruptError(
                f"parameters do not match the model config: missing {missing or 'none'}, "
                f"unexpected {extra or 'none'}"
            )
        for name, target in expected.items():
            value = tensors[name]
            if tuple(value.shape) != tuple(target.shape):
                raise RunCorruptError(
                    f"parameter {name} has shape {tuple(value.shape)}, "
                    f"expected {tuple(target.shape)} for this model config"
                )
        with torch.no_grad():
            for name, target in expected.items():
                target.copy_(tensors[name].to(target.dtype))
