"""Where each torch tensor of a model sits in the fast engine's flat parameter vector.

The order is ``SequenceModel.tensors()``'s: per layer weight_ih_l{k}, weight_hh_l{k},
bias_ih_l{k}, bias_hh_l{k}, then readout.weight and readout.bias for the linear readout.
Each tensor is stored row-major, so ``theta[offset : offset + size].reshape(shape)`` is the
tensor itself.

``Layout.net`` is what the compiled kernels read of the model: a ``Net`` named tuple of the
cell, its sizes, the readout and where each tensor starts (numba compiles against its fields).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple

import numpy as np

from ..config import ModelConfig

RNN, LSTM, GRU = 0, 1, 2  # Net.cell
W_IH, W_HH, B_IH, B_HH = 0, 1, 2, 3  # the columns of Net.offsets
_CELL_CODE = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class Net(NamedTuple):
    """A model as the kernels see it: plain integers and one offsets array."""

    cell: int  # RNN, LSTM or GRU
    relu: int  # 1: the rnn's act is relu, 0: tanh
    layers: int
    hidden: int  # H, units per layer
    linear: int  # readout 1: ŷ = w · h_t + b (linear), 0: ŷ = h_t[H-1] (unit, as the seed)
    readout_w: int  # where readout.weight (1, H) starts; -1 for the unit readout
    readout_b: int  # where readout.bias (1,) starts; -1 for the unit readout
    offsets: np.ndarray  # int64 (layers, 4): where weight_ih, weight_hh, bias_ih, bias_hh start


@dataclass(frozen=True)
class Layout:
    """Names, shapes and offsets of a model's parameters in the flat vector."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    starts: tuple[int, ...]
    size: int
    net: Net  # what the compiled kernels read of the model

    def pack(self, tensors: Mapping[str, object]) -> np.ndarray:
        """Flat float64 vector (size,) from tensors named as ``SequenceModel.tensors()``."""
        theta = np.empty(self.size, dtype=np.float64)
        for name, shape, start in zip(self.names, self.shapes, self.starts):
            value = tensors[name]
            if hasattr(value, "detach"):
                value = value.detach().cpu().double().numpy()
            array = np.asarray(value, dtype=np.float64)
            assert array.shape == shape, (name, array.shape, shape)
            theta[start : start + array.size] = array.reshape(-1)
        return theta

    def unpack(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Tensors (float64 numpy arrays) by name from a flat vector (size,)."""
        return {
            name: theta[start : start + int(np.prod(shape))].reshape(shape).copy()
            for name, shape, start in zip(self.names, self.shapes, self.starts)
        }


def layout(model: ModelConfig) -> Layout:
    """The layout of a model config's parameters."""
    hidden, rows = model.hidden_size, _GATES[model.cell] * model.hidden_size
    names, shapes = [], []
    for layer in range(model.num_layers):
        inputs = model.input_size if layer == 0 else hidden
        names += [f"weight_ih_l{layer}", f"weight_hh_l{layer}", f"bias_ih_l{layer}", f"bias_hh_l{layer}"]
        shapes += [(rows, inputs), (rows, hidden), (rows,), (rows,)]
    if model.readout == "linear":
        names += ["readout.weight", "readout.bias"]
        shapes += [(1, hidden), (1,)]
    starts, at = [], 0
    for shape in shapes:
        starts.append(at)
        at += int(np.prod(shape))
    offsets = np.array(starts[: 4 * model.num_layers], dtype=np.int64).reshape(model.num_layers, 4)
    linear = model.readout == "linear"
    net = Net(
        cell=_CELL_CODE[model.cell],
        relu=int(model.cell == "rnn" and model.nonlinearity == "relu"),
        layers=int(model.num_layers),
        hidden=int(hidden),
        linear=int(linear),
        readout_w=starts[-2] if linear else -1,
        readout_b=starts[-1] if linear else -1,
        offsets=offsets,
    )
    return Layout(tuple(names), tuple(shapes), tuple(starts), at, net)
