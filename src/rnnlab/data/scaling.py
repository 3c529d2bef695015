"""Scaling of a series, fitted on its training part only and inverted on every output.

``value_scaled = (value - offset) / scale``:

- ``none``: offset 0, scale 1 (the seed's values as they are);
- ``standard``: offset = mean, scale = standard deviation of the training part;
- ``minmax``: offset = (max + min) / 2, scale = (max - min) / 2, so the training part spans [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import InputError, RunCorruptError

KINDS = ("none", "standard", "minmax", "changes")


@dataclass(frozen=True)
class Scaler:
    """An affine map fitted on the training part; ``inverse(transform(x)) == x`` up to rounding."""

    kind: str = "none"
    offset: float = 0.0
    scale: float = 1.0

    def transform(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if self.kind == "none":
            return values.copy()
        return (values - self.offset) / self.scale

    def inverse(self, values) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        if self.kind == "none":
            return values.copy()
        return values * self.scale + self.offset

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "offset": self.offset, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Scaler":
        if not data:
            return cls()
        try:
            scaler = cls(str(data["kind"]), float(data["offset"]), float(data["scale"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise RunCorruptError(f"stored scaling {dict(data)!r} is not valid: {exc}") from None
        if scaler.kind not in KINDS or not np.isfinite(scaler.scale) or scaler.scale == 0:
            raise RunCorruptError(f"stored scaling {dict(data)!r} is not valid")
        return scaler


def fit_scaler(kind: str, train_values, what: str = "series") -> Scaler:
    """Fit ``kind`` on the training values; a constant training part cannot be scaled."""
    values = np.asarray(train_values, dtype=np.float64)
    if kind == "none":
        return Scaler()
    if kind == "standard":
        offset, scale = float(values.mean()), float(values.std())
    elif kind == "minmax":
        low, high = float(values.min()), float(values.max())
        offset, scale = (high + low) / 2, (high - low) / 2
    elif kind == "changes":  # one-step changes of unit spread: for windows read relative to their end
        offset = float(values.mean())
        scale = float(np.std(np.diff(values))) if len(values) > 2 else 0.0
    else:
        raise InputError(f"scaling must be one of {', '.join(KINDS)}; got {kind!r}")
    if not scale > 0:
        raise InputError(
            f"{what} is constant over its training part (every value {values[0]:g}): "
            f"data.scaling = {kind!r} would divide by zero; use data.scaling = 'none'"
        )
    return Scaler(kind, offset, scale)
