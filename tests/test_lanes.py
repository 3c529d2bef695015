"""Ensembles in SIMD lanes (fast/lanes.py) against the exact per-member path, and the vectorised tanh."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from conftest import tiny
from rnnlab.fast import lanes, mt, special, vmath
from rnnlab.training import compiled as engine


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in units of the last place of want."""
    return np.abs(got - want) / np.spacing(np.abs(want)).astype(got.dtype)


@pytest.fixture(scope="module")
def grid():
    dense = np.linspace(-25.0, 25.0, 200_001)
    small = np.geomspace(1e-300, 1.0, 2001)
    return np.concatenate([dense, small, -small, [0.0, 1e-17, 0.34657359, 0.5 * math.log(3.0)]])


def test_vectorised_tanh_is_within_its_stated_ulps_of_libm(grid):
    from numba import njit

    many = njit(lambda xs: np.array([vmath.tanh(x) for x in xs]))
    got = many(grid)
    want = np.tanh(grid)
    assert _ulps(got, want).max() <= vmath.MAX_ULP
    assert math.copysign(1.0, many(np.array([-0.0]))[0]) == -1.0  # tanh(-0) = -0
    edge = many(np.array([np.inf, -np.inf, np.nan, 50.0, -700.0]))
    assert edge[0] == 1.0 and edge[1] == -1.0 and math.isnan(edge[2]) and edge[3] == 1.0 and edge[4] == -1.0


def _both(config, count: int, steps: int):
    """Train ``count`` members (seeds 0…count-1) with special.train_many and lanes.train_many."""
    lay, p, _ = engine.problem(config)
    thetas = np.stack([lay.pack(engine.initial_model(config, seed).tensors()) for seed in range(count)])
    states = np.stack([mt.state_of(random.Random(seed)) for seed in range(count)])
    lrs = engine.learning_rates(config, 0, steps)
    units = special.units(config.model.hidden_size)
    out = []
    for train_many in (special.train_many, lanes.train_many):
        th, st = thetas.copy(), states.copy()
        losses, done = np.full((count, steps), np.nan), np.zeros((count, 2), dtype=np.int64)
        train_many(units, p, th, st, 0, lrs, losses, done)
        out.append((th, st, losses, done))
    return out


@pytest.mark.parametrize("count", [3, lanes.WIDTH + 5])  # one partial group; a full one and a partial one
def test_lanes_equal_the_exact_path_to_rounding_for_tanh(count):
    config = tiny(**{"train.steps": 300, "train.engine": "fast"})
    (th, st, losses, done), (th2, st2, losses2, done2) = _both(config, count, 300)
    assert np.array_equal(st, st2)  # the same windows: the generators end in the same state
    assert np.array_equal(done, done2)
    assert 0 < np.abs(th - th2).max() <= lanes.TOLERANCE  # equal to rounding, not bit for bit
    assert np.allclose(losses, losses2, rtol=1e-9, atol=1e-12)


def test_lanes_equal_the_exact_path_bit_for_bit_for_relu():
    config = tiny(**{"train.steps": 200, "train.engine": "fast", "model.nonlinearity": "relu",
                     "model.readout": "linear", "train.lr": 0.01})
    (th, st, losses, done), (th2, st2, losses2, done2) = _both(config, 10, 200)
    assert np.array_equal(th, th2) and np.array_equal(st, st2) and np.array_equal(done, done2)
    assert np.array_equal(losses, losses2, equal_nan=True)


def test_a_diverging_lane_stops_alone_with_its_last_finite_weights():
    config = tiny(**{"train.steps": 200, "train.engine": "fast", "model.nonlinearity": "relu",
                     "model.readout": "linear", "train.lr": 5.0})
    (th, st, losses, done), (th2, st2, losses2, done2) = _both(config, 9, 200)
    assert np.array_equal(done, done2) and (done[:, 0] < 200).any()
    assert np.all(np.abs(th2) <= 3.4e38)  # every member kept weights that float32 can hold
    assert np.array_equal(th, th2)


def test_an_ensemble_of_the_seed_case_runs_in_lanes_and_matches_single_runs():
    count = lanes.WIDTH
    config = tiny(**{"seed": 3, "train.steps": 120, "train.engine": "fast", "train.ensemble": count})
    result = engine.run_compiled(config, [3 + i for i in range(count)])
    single = engine.run_compiled(tiny(**{"seed": 3 + count - 1, "train.steps": 120, "train.engine": "fast"}), [3 + count - 1])
    last = result.models[-1].tensors()
    for name, value in single.models[0].tensors().items():
        assert np.abs(last[name].numpy() - value.numpy()).max() <= 1e-6  # float32 weights, equal to rounding
