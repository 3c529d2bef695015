"""The automatic choice: a few candidate configs, the one of least validation error kept.

With ``train.select`` (the ``auto`` preset's default for csv and dataset series), every
candidate of ``CANDIDATES`` — the config with a few fields set, each candidate naming all of the
fields any candidate sets, so the choice does not depend on the base config's values of them —
is trained on the training part only (its transforms and scaling fitted there), and scored on
the validation part by a rolling-origin forecast: from every origin o of the validation part,
``data.horizon`` values are forecast from the values before o, and every forecast value whose
truth lies inside the validation part is scored (the test part is never seen):

    score = mean |ŷ − y| / (mean |y_t − y_{t−m}| over the training part)      (a MASE)

The candidate of least score is kept (ties: the earlier one); its model, trained on the training
part, is the one the backtest scores, and its config is the run's (refitted on every value where
the run refits). Candidates whose transforms come out the same as an earlier one's (no season:
classical and STL are both nothing) are not trained twice. Every candidate's score is recorded
with the run's metrics ("selection"), as AutoETS records the AIC of the forms it tried.
The choice is deterministic for a seed: every candidate trains from the run's seed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .config import WAVEFORMS, RunConfig
from .data import prepare
from .errors import ConfigError
from .evaluate.metrics import mase_scale
from .predict import forecast_at  # torch's SequenceModel or the compiled engine's ArrayModel
from .presets import apply_overrides
from .training import StepCallback, TrainResult, train

# (name, fields set): classical seasonal indices or STL's seasonal component, each at two
# learning rates (the slower one is steadier on short and noisy series)
CANDIDATES: tuple[tuple[str, dict], ...] = (
    ("classical", {"data.seasonal": "auto", "train.lr": 0.01}),
    ("stl", {"data.seasonal": "stl", "train.lr": 0.01}),
    ("classical, lr 0.003", {"data.seasonal": "auto", "train.lr": 0.003}),
    ("stl, lr 0.003", {"data.seasonal": "stl", "train.lr": 0.003}),
)
CRITERION = "validation MASE: forecasts from every origin of the validation part, scored inside it"


@dataclass
class Selection:
    """The candidates tried, their validation scores and the one kept."""

    config: RunConfig  # the kept candidate's config
    result: TrainResult  # its model, trained on the training part
    chosen: str
    candidates: list[dict] = field(default_factory=list)  # name, fields set, score (None: not scored), note

    def to_dict(self) -> dict:
        return {"criterion": CRITERION, "chosen": self.chosen, "candidates": self.candidates}


def is_selecting(config: RunConfig) -> bool:
    """Whether training chooses among the candidates (``train.select``, a recorded series)."""
    return config.train.select and config.data.series not in WAVEFORMS


def validation_score(result: TrainResult, config: RunConfig) -> float | None:
    """The validation MASE of the module docstring for a model trained on the training part;
    None without a validation part or where no finite forecast comes out."""
    prepared = prepare(config.data, config.train.rollout)
    split, length = prepared.split, prepared.context_length
    if not split.val_size or not length or split.train_end < length:
        return None
    origins = list(range(max(split.train_end, length), split.val_end))
    steps = min(config.data.horizon, split.val_size)
    # the compiled engine's ArrayModels where there are (no torch), else the torch modules
    members = (getattr(result, "member_weights", None) or getattr(result, "members", None)
               or [getattr(result, "weights", None) or result.model])
    for model in members:
        if hasattr(model, "eval"):  # a torch module: no dropout while forecasting
            model.eval()
    scaled = np.median([forecast_at(m, prepared.scaled, origins, steps, length, prepared.relative)
                        for m in members], axis=0)  # (origins, steps), the model's units
    starts = np.asarray(origins)
    forecasts = prepared.scaler.inverse(scaled, start=starts)  # (origins, steps), the series' units
    values = prepared.series.values
    positions = starts[:, None] + np.arange(steps)  # (origins, steps)
    inside = positions < split.val_end
    truth = values[np.minimum(positions, len(values) - 1)]
    errors = np.abs(forecasts - truth)[inside]
    scale = mase_scale(values[: split.train_end], prepared.season)
    if not scale > 0 or not np.all(np.isfinite(errors)):
        return None
    return float(np.mean(errors) / scale)


def _transform_key(config: RunConfig) -> str:
    """What a candidate's network sees and how it trains: two candidates with the same key are one."""
    prepared = prepare(config.data, config.train.rollout)
    return json.dumps([prepared.scaler.to_dict(), prepared.relative, dataclasses.asdict(config.model),
                       dataclasses.asdict(config.train)], sort_keys=True, default=str)


def select(
    config: RunConfig,
    *,
    on_step: StepCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    candidates: tuple[tuple[str, dict], ...] = CANDIDATES,
) -> Selection:
    """Train every candidate on the training part and keep the one of least validation score;
    see the module docstring. A stop request ends the search with the candidates trained so far."""
    if not isinstance(config, RunConfig):
        raise ConfigError(f"config must be a RunConfig, got {type(config).__name__}")
    if not candidates:
        raise ConfigError("the automatic choice needs at least one candidate")
    tried: list[dict] = []
    seen: dict[str, str] = {}
    best: tuple[float, str, RunConfig, TrainResult] | None = None
    first: tuple[str, RunConfig, TrainResult] | None = None
    for name, fields in candidates:
        candidate = apply_overrides(config, fields)
        key = _transform_key(candidate)
        if key in seen:
            tried.append({"name": name, "set": fields, "score": None, "note": f"the same as {seen[key]!r}"})
            continue
        seen[key] = name
        result = train(candidate, on_step=on_step, should_stop=should_stop)
        score = validation_score(result, result.config) if result.status == "completed" else None
        tried.append({"name": name, "set": fields, "score": score,
                      "note": "" if result.status == "completed" else result.status})
        if first is None:
            first = (name, result.config, result)
        if score is not None and (best is None or score < best[0]):
            best = (score, name, result.config, result)
        if result.status == "interrupted" or (should_stop is not None and should_stop()):
            break
    name, chosen, result = (best[1], best[2], best[3]) if best is not None else first
    return Selection(chosen, result, name, tried)


def selection_lines(selection: dict | None) -> list[str]:
    """The record of the automatic choice as lines of text (none without one)."""
    if not isinstance(selection, dict) or not selection.get("candidates"):
        return []
    lines = [f"automatic choice by {selection.get('criterion', 'validation error')}:"]
    for c in selection["candidates"]:
        score = "not scored" if c.get("score") is None else f"{c['score']:.4f}"
        mark = "  <- chosen" if c.get("name") == selection.get("chosen") else ""
        note = f" ({c['note']})" if c.get("note") else ""
        lines.append(f"  {c.get('name')}: {score}{note}{mark}")
    return lines
