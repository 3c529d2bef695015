"""Waveforms computed from their formula: the seed's sine and its relatives.

The seed program's ``generate_sine_values`` is split in two: ``waveform_values`` samples the wave
once (``windows.SeedWindows`` draws the windows with the seed's two ``random.randint`` calls).
"""

from __future__ import annotations

import math

import numpy as np

from ..config import DataConfig



def _components(text: str) -> list[tuple[float, float]]:
    """``"1:1,3:0.3"`` -> [(1.0, 1.0), (3.0, 0.3)]: (multiple of the base frequency, amplitude)."""
    pairs = []
    for part in text.split(","):
        multiple, amplitude = part.split(":")
        pairs.append((float(multiple), float(amplitude)))
    return pairs


def wave_value(data: DataConfig, index: int) -> float:
    """The noiseless waveform at any integer index (also past the end: its continuation).

    With x = index·2π/points_per_period + phase (the seed's ``i * math.pi * 2 / num_points``) and
    f = (x mod 2π) / 2π, the fraction of the period:

    sine A·sin x · cosine A·cos x · square A for f < 1/2, −A after · sawtooth A·(2f − 1) ·
    triangle A·(1 − 4·|f − 1/2|) · damped_sine A·d^(index/points_per_period)·sin x ·
    sines A·Σ a_k·sin(m_k·x).
    """
    x = index * math.pi * 2 / data.points_per_period
    if data.phase:
        x = x + data.phase
    a = data.amplitude
    kind = data.series
    if kind == "sine":
        value = math.sin(x)
    elif kind == "cosine":
        value = math.cos(x)
    elif kind == "damped_sine":
        value = data.damping ** (index / data.points_per_period) * math.sin(x)
    elif kind == "sines":
        value = sum(amp * math.sin(mult * x) for mult, amp in _components(data.components))
    else:
        fraction = (x % (2 * math.pi)) / (2 * math.pi)
        if kind == "square":
            value = 1.0 if fraction < 0.5 else -1.0
        elif kind == "sawtooth":
            value = 2 * fraction - 1
        elif kind == "triangle":
            value = 1 - 4 * abs(fraction - 0.5)
        else:  # pragma: no cover - the config only allows the kinds above
            raise AssertionError(kind)
    return value if a == 1.0 else a * value


def true_value(data: DataConfig, index: int) -> float:
    """The wave at any integer index, also past the training range (the noiseless continuation)."""
    return wave_value(data, index)


def waveform_values(data: DataConfig) -> np.ndarray:
    """The waveform, float64, shape (points_per_period * periods + 1,).

    Each value is computed as the seed computes it, ``math.sin(i * math.pi * 2 / num_points)``, so
    the float32 tensors made from it hold the seed's bits; then the noise, if any.
    """
    count = data.points_per_period * data.periods + 1
    values = np.array([wave_value(data, i) for i in range(count)], dtype=np.float64)
    if data.noise > 0:
        values = values + np.random.default_rng(data.noise_seed).normal(0.0, data.noise, count)
    return values
