"""The initial weights torch draws for a ``SequenceModel``, reproduced without importing torch.

``torch.manual_seed(seed)`` then ``SequenceModel(config)`` (what every engine starts from) draws
the parameters from torch's CPU generator, a Mersenne Twister (MT19937) seeded with the low 32
bits of the seed by the classic ``init_genrand``. Each parameter is filled in order, element by
element, by ``Tensor.uniform_(a, b)``; for float32 that is (``aten/src/ATen/core/
TransformationHelper.h``, ``uniform_real``)

    u = (r & (2^24 − 1)) · 2^−24        r: the generator's next 32-bit output
    value = u · (b − a) + a             a and b rounded to float32 first; the product and sum
                                        in double (the CPU's accumulate type), rounded once

The bounds are torch's own (``nn.RNNBase.reset_parameters``, ``nn.Linear.reset_parameters``):

- every recurrent weight and bias, layer by layer (w_ih, w_hh, b_ih, b_hh): U(−1/√H, 1/√H);
- the linear readout's weight: ``kaiming_uniform_(a=√5)``, bound √3 · gain / √H with
  gain = √(2 / (1 + a²)); its bias: U(−1/√H, 1/√H).

numpy's legacy ``RandomState(s)`` seeds MT19937 with the same ``init_genrand`` for a 32-bit s,
and its full-range uint32 draws are the generator's outputs one by one, so the draws here are
torch's draws. tests/test_initial.py checks every cell, readout, size and layer count against
torch bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from .config import ModelConfig

GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # rows of w_ih per hidden unit


def shapes(config: ModelConfig) -> list[tuple[str, tuple[int, ...]]]:
    """Parameter names and shapes in the order torch creates (and draws) them."""
    H, rows = config.hidden_size, GATES[config.cell] * config.hidden_size
    out = []
    for layer in range(config.num_layers):
        inputs = config.input_size if layer == 0 else H
        out += [(f"weight_ih_l{layer}", (rows, inputs)), (f"weight_hh_l{layer}", (rows, H)),
                (f"bias_ih_l{layer}", (rows,)), (f"bias_hh_l{layer}", (rows,))]
    if config.readout == "linear":
        out += [("readout.weight", (1, H)), ("readout.bias", (1,))]
    return out


def _uniform(draws: np.ndarray, bound: float) -> np.ndarray:
    """``uniform_(−bound, bound)`` of float32 from the generator's 32-bit outputs ``draws``."""
    low, high = np.float32(-bound), np.float32(bound)
    u = (draws & np.uint32(0xFFFFFF)).astype(np.float64) * 2.0**-24
    # in float64, rounded to float32 once: u (24 bits) times b − a (a float32) is exact in float64
    return (u * np.float64(high - low) + np.float64(low)).astype(np.float32)


def initial_parameters(config: ModelConfig, seed: int) -> dict[str, np.ndarray]:
    """What ``torch.manual_seed(seed); SequenceModel(config).tensors()`` holds, as float32 arrays."""
    layout = shapes(config)
    total = sum(math.prod(shape) for _, shape in layout)
    generator = np.random.RandomState(int(seed) & 0xFFFFFFFF)
    draws = generator.randint(0, 2**32, size=total, dtype=np.uint64).astype(np.uint32) if total else np.zeros(0, np.uint32)
    H = config.hidden_size
    recurrent = 1.0 / math.sqrt(H)
    a = math.sqrt(5)  # nn.Linear's kaiming_uniform_(a=√5)
    readout_weight = math.sqrt(3.0) * (math.sqrt(2.0 / (1 + a**2)) / math.sqrt(H))
    out, used = {}, 0
    for name, shape in layout:
        size = math.prod(shape)
        bound = readout_weight if name == "readout.weight" else recurrent
        out[name] = _uniform(draws[used : used + size], bound).reshape(shape)
        used += size
    return out
