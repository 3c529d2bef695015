"""The records of the hand calculation: frozen dataclasses holding every intermediate value.

The forward walk (``forward.py``) and the backward walk (``backward.py``) return these; the
terminal, Markdown/LaTeX export, plots and the web page all render the same numbers from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class Term:
    """One gate (for the RNN: the new state) with each term of its equation kept apart.

    ``value = activation(W_ih_x + b_ih + reset ⊙ (W_hh_h + b_hh))``; ``reset`` is only set for
    the GRU's ``n`` (it is ``r_t``), otherwise it is 1.
    """

    name: str  # "h" (rnn), "i", "f", "g", "o" (lstm), "r", "z", "n" (gru)
    activation: str  # "tanh", "relu" or "sigmoid"
    W_ih_x: np.ndarray  # (H,) the input's share, W_i· x_t
    b_ih: np.ndarray  # (H,)
    W_hh_h: np.ndarray  # (H,) the previous state's share, W_h· h_{t-1}
    b_hh: np.ndarray  # (H,)
    reset: np.ndarray | None  # (H,) r_t for the GRU's n, else None
    preactivation: np.ndarray  # (H,) the sum inside the activation
    value: np.ndarray  # (H,) activation(preactivation)


@dataclass(frozen=True)
class LayerStep:
    """One layer at one time step: its input, the state before, the terms, the state after."""

    layer: int
    x: np.ndarray  # (input_size,) x_t, or h_t of the layer below
    h_prev: np.ndarray  # (H,) h_{t-1}
    c_prev: np.ndarray | None  # (H,) c_{t-1} (lstm only)
    terms: tuple[Term, ...]  # the gates in torch's order
    c: np.ndarray | None  # (H,) c_t (lstm only)
    tanh_c: np.ndarray | None  # (H,) tanh(c_t) (lstm only)
    h: np.ndarray  # (H,) h_t


@dataclass(frozen=True)
class Step:
    """One time step through every layer, and the readout's prediction."""

    t: int  # 0-based position in the walk
    x: float  # the input value x_t
    fed_back: bool  # True when x_t is the prediction of the step before (past the context)
    layers: tuple[LayerStep, ...]
    y_hat: float  # ŷ_t, the readout of the top layer's h_t
    w_h: float | None = None  # linear readout: w · h_t (ŷ_t = w_h + b)
    b: float | None = None  # linear readout: b


@dataclass(frozen=True)
class Check:
    """The framework's own output for the same inputs and weights, against the hand values."""

    framework: str  # e.g. "torch float32 (the model as stored)"
    hand: tuple[float, ...]  # ŷ_t by hand, every step
    reference: tuple[float, ...]  # ŷ_t from the framework, every step
    max_abs_diff: float
    tolerance: float  # passes when |hand - reference| <= tolerance · max(1, |reference|)
    passed: bool


@dataclass(frozen=True)
class Rounding:
    """How far the result moves when every weight is rounded to ``decimals`` decimals."""

    decimals: int
    max_weight_change: float  # largest |rounded - exact| over all parameters
    exact: tuple[float, ...]  # predictions by hand with the exact weights
    rounded: tuple[float, ...]  # predictions by hand with the rounded weights
    shift: tuple[float, ...]  # rounded - exact


@dataclass(frozen=True)
class ForwardWalk:
    """The whole forward walk; every renderer reads only this."""

    cell: str  # "rnn", "lstm" or "gru"
    nonlinearity: str  # the rnn's activation
    hidden_size: int
    num_layers: int
    readout: str  # "unit" or "linear"
    parameters: Mapping[str, np.ndarray]  # float64 values the hand calculation used, torch names
    context: tuple[float, ...]
    ahead: int
    decimals: int | None
    steps: tuple[Step, ...]
    prediction: float  # the first prediction after the context
    predictions: list[float]  # the first prediction, then the `ahead` fed-back ones
    checks: tuple[Check, ...] = ()
    rounding: Rounding | None = None

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def frozen_array(array) -> np.ndarray:
    value = np.array(array, dtype=np.float64)
    value.setflags(write=False)
    return value


@dataclass(frozen=True)
class LayerBack:
    """One layer at one time step of the backward walk."""

    layer: int
    dh_readout: np.ndarray  # (H,) share of ∂L/∂h_t sent by the readout (t = T, top layer)
    dh_next: np.ndarray  # (H,) share sent back from step t+1 of this layer
    dh_above: np.ndarray  # (H,) share sent down from the layer above
    dh: np.ndarray  # (H,) ∂L/∂h_t, the sum
    dc: np.ndarray | None  # (H,) ∂L/∂c_t after adding the share through h_t (lstm only)
    gates: Mapping[str, np.ndarray]  # ∂L/∂(gate value), e.g. {"i": …} (rnn: {"h": ∂L/∂h_t})
    deltas: Mapping[str, np.ndarray]  # ∂L/∂(gate pre-activation): δ^i, δ^f, … (rnn: δ = ∂L/∂a_t)
    contributions: Mapping[str, np.ndarray]  # this step's share of each gradient, torch names
    totals: Mapping[str, np.ndarray]  # the gradients accumulated from step T down to this one
    dh_prev: np.ndarray  # (H,) ∂L/∂h_{t-1} sent back through time
    dc_prev: np.ndarray | None  # (H,) ∂L/∂c_{t-1} (lstm only)
    dx: np.ndarray  # (input,) ∂L/∂x_t sent to the layer below


@dataclass(frozen=True)
class BackStep:
    """Time step t of the backward walk, layers from the top down."""

    t: int
    layers: tuple[LayerBack, ...]


@dataclass(frozen=True)
class BackwardWalk:
    """The whole backward walk; every renderer reads only this."""

    forward: ForwardWalk  # the forward walk over the context (exact weights)
    target: float  # y
    prediction: float  # ŷ_T
    loss: float  # L = (ŷ_T - y)²
    dL_dy_hat: float  # 2 (ŷ_T - y)
    readout: Mapping[str, np.ndarray]  # ∂L/∂w, ∂L/∂b of a linear readout (empty for "unit")
    steps: tuple[BackStep, ...]  # from t = T down to t = 1
    gradients: Mapping[str, np.ndarray]  # ∂L/∂θ for every parameter, torch names
    lr: float
    weight_decay: float
    updated: Mapping[str, np.ndarray]  # θ - lr · (∂L/∂θ + λ θ)
    checks: tuple[Check, ...] = ()

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)
