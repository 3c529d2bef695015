"""What a worker does with a chunk of series: fit each one, touch no store, send the results back.

A ``Task`` carries one series (its values and times, or a dataset's name) and the config a
single-series ``rnnlab train`` would use for it. ``fit_chunk`` runs on any machine with the same
rnnlab installed: each series goes through ``pipeline.train_and_evaluate`` (train, backtest,
refit on every value) reading its values from a private temporary file, exactly as a CSV column
is read; the result comes back as plain data, weights in safetensors bytes (``Fitted``). A
series that cannot be fitted comes back as ``Failed`` with the reason; the others go on.
``to_result`` rebuilds the training result on the client, which alone writes the run store.
"""

from __future__ import annotations

import dataclasses
import signal
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import RnnlabError


@dataclass(frozen=True)
class Task:
    """One series to fit."""

    series_id: str
    config: dict  # RunConfig.to_dict(): the data source names the original file and column, or the dataset
    values: np.ndarray | None  # (length,) float64, NaN where missing; None: the config's own source
    times: tuple[str, ...] | None  # ISO times, one per value
    config_hash: str  # what resume compares: the config and the series' values


@dataclass
class Fitted:
    """A fitted series as plain data: what travels back over the network."""

    series_id: str
    config_hash: str
    config: dict  # RunConfig.to_dict() as trained (seed and engine settled), naming the original source
    weights: bytes  # safetensors of the model (member 0 of an ensemble)
    members: bytes | None  # safetensors of every member, stacked on a leading dimension
    history: list[float]
    status: str
    seconds: float
    message: str
    context: tuple[int, int] | None
    data: dict | None
    metrics: dict
    evaluation_error: str | None
    notes: dict
    backtest: dict | None
    series: object  # the data.sources.Series trained on, stored with the run
    seeds: list[int] = field(default_factory=list)
    signal: int | None = None  # a signal or a stop request came while it was fitted: it is not complete


@dataclass(frozen=True)
class Failed:
    """A series that could not be fitted, and why."""

    series_id: str
    reason: str


def fit_chunk(tasks: list[Task], should_stop: Callable[[], bool] | None = None) -> list[Fitted | Failed]:
    """Fit every task of the chunk in turn (one thread: the cores are shared out by the workers).
    ``should_stop``: checked between training steps; a series it stops comes back incomplete."""
    import torch

    torch.set_num_threads(1)
    out: list[Fitted | Failed] = []
    for task in tasks:
        try:
            fitted = fit_one(task, should_stop)
        except RnnlabError as exc:
            out.append(Failed(task.series_id, str(exc)))
            continue
        except MemoryError:
            out.append(Failed(task.series_id, "out of memory"))
            continue
        except Exception as exc:  # one series' bug never stops the others
            out.append(Failed(task.series_id, f"{type(exc).__name__}: {exc}"))
            continue
        out.append(fitted)
        if fitted.signal is not None:  # stopped: leave the rest of the chunk
            break
    return out


def fit_one(task: Task, should_stop: Callable[[], bool] | None = None) -> Fitted:
    """Train, evaluate and refit one series; see the module docstring."""
    from safetensors.torch import save

    from ..config import RunConfig
    from ..pipeline import checked, train_and_evaluate

    config = RunConfig.from_dict(task.config)
    original = config.data
    with tempfile.TemporaryDirectory(prefix="rnnlab-many-") as tmp:
        path = Path(tmp) / "series.csv"
        try:
            if task.values is not None:
                path.write_text(_series_text(task.values, task.times), encoding="utf-8")
                local = dataclasses.replace(original, series="csv", csv=str(path), column="value",
                                            time_column="time" if task.times is not None else "", dataset="")
                config = dataclasses.replace(config, data=local)
            config = checked(config)
            trained = train_and_evaluate(config, should_stop=should_stop)
        except RnnlabError as exc:  # say the series, not the private file it was read from
            text = str(exc).replace(f"column 'value' of {str(path)!r}", f"series {task.series_id!r}")
            raise type(exc)(text.replace(str(path), original.csv)) from None
    result = trained.result
    as_named = dataclasses.replace(result.config.data, series=original.series, csv=original.csv,
                                   column=original.column, time_column=original.time_column,
                                   dataset=original.dataset)
    data = dict(result.data) if result.data else None
    if data is not None and task.values is not None:
        data["series"] = f"{Path(original.csv).name}:{original.column}"
    tensors = result.model.tensors()
    members = getattr(result, "members", None) or []
    stacked = None
    if len(members) > 1:
        import torch

        stacked = save({name: torch.stack([m.tensors()[name] for m in members]) for name in tensors})  # (members, *shape)
    return Fitted(
        task.series_id, task.config_hash, dataclasses.replace(result.config, data=as_named).to_dict(),
        save(tensors), stacked, list(result.history), result.status, float(result.seconds), result.message,
        None if result.context is None else (result.context.start, result.context.end), data,
        trained.metrics, trained.evaluation_error, dict(trained.notes), trained.backtest, trained.series,
        list(getattr(result, "seeds", []) or []),
        trained.signal or (signal.SIGINT if result.status == "interrupted" else None),
    )


def _series_text(values: np.ndarray, times: tuple[str, ...] | None) -> str:
    """``time,value`` (or ``value``) lines; each float as Python writes it, so it reads back bit for bit."""
    cells = ["" if not np.isfinite(v) else repr(float(v)) for v in values]
    if times is None:
        return "\n".join(["value", *cells]) + "\n"
    return "\n".join(["time,value", *(f"{t},{c}" for t, c in zip(times, cells))]) + "\n"


def to_result(fitted: Fitted):
    """The ``TrainResult`` (an ``EnsembleResult`` with its members) of a fitted series, for the store."""
    from safetensors.torch import load

    from ..config import RunConfig
    from ..data.windows import Window
    from ..model import SequenceModel
    from ..training import TrainResult
    from ..training.ensemble import EnsembleResult

    config = RunConfig.from_dict(fitted.config)

    def model_of(tensors):
        model = SequenceModel(config.model)
        model.load_tensors(tensors)
        model.eval()
        return model

    model = model_of(load(fitted.weights))
    common = dict(config=config, model=model, history=fitted.history, status=fitted.status, seconds=fitted.seconds,
                  context=None if fitted.context is None else Window(*fitted.context), message=fitted.message,
                  data=fitted.data)
    if fitted.members is None:
        return TrainResult(**common)
    stacked = load(fitted.members)
    count = next(iter(stacked.values())).shape[0]
    members = [model] + [model_of({name: t[i] for name, t in stacked.items()}) for i in range(1, count)]
    return EnsembleResult(**common, members=members, seeds=fitted.seeds)
