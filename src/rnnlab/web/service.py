"""What the web page shows, computed from the library: limits, forecasts, weights, hand steps.

Every function takes plain values (a run, a window, a horizon) and returns JSON-ready dicts; the
FastAPI layer in ``app.py`` only parses requests and calls these. Nothing here touches a path
given by a client: runs are named by id and resolved by ``RunStore``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Mapping

from ..config import RunConfig, merge, preset
from ..errors import ConfigError, InputError

# Sizes the playground accepts; a request over any of them gets a 400 naming the limit.
LIMITS = {
    "model.hidden_size": 64,
    "model.num_layers": 4,
    "train.steps": 100_000,
    "train.batch_size": 4096,
    "train.ensemble": 16,
    "forecast.steps": 200,  # the horizon
    "series_length": 20_000,  # values in the training series
    "upload_bytes": 1_000_000,  # an uploaded CSV file
    "live_trainings": 4,  # trainings running at the same time
    "edits": 256,  # weight edits in one request
    "weight_value": 1000.0,  # |new weight value|
}


def check_limit(key: str, value: int | float) -> None:
    """Raise a ConfigError when ``value`` passes ``LIMITS[key]``."""
    limit = LIMITS[key]
    if value > limit:
        raise ConfigError(f"{key} must be <= {limit} in the playground, got {value}")


MISSING = {
    "explain": "The hand calculation needs rnnlab.explain, which this build does not have.",
    "report": "Run reports need rnnlab.report, which this build does not have.",
    "datasets": "Bundled datasets need rnnlab.datasets, which this build does not have.",
    "csv": "CSV series are not supported by this build's data config yet.",
}


def feature_status() -> dict[str, dict[str, Any]]:
    """Which optional parts of rnnlab this build has; the page says plainly what is missing."""

    def probe(module: str, names: tuple[str, ...]) -> bool:
        import importlib

        try:
            mod = importlib.import_module(module)
        except ImportError:
            return False
        return all(hasattr(mod, name) for name in names)

    explain = probe("rnnlab.explain", ("explain_forward", "render"))
    report = report_function() is not None
    datasets = dataset_names() is not None
    available = {"explain": explain, "report": report, "datasets": datasets, "csv": csv_field() is not None}
    return {name: {"available": ok, "message": "" if ok else MISSING[name]} for name, ok in available.items()}


def report_function():
    """The report renderer of ``rnnlab.report`` (returns HTML text), or None when absent."""
    try:
        from .. import report
    except ImportError:
        return None
    for name in ("render_report", "report_html", "build_report"):
        if callable(getattr(report, name, None)):
            return getattr(report, name)
    return None


def dataset_names() -> list[str] | None:
    """Names of the bundled datasets (no data is read)."""
    from ..data.datasets import DATASETS

    return list(DATASETS)


def csv_field() -> str | None:
    """The DataConfig field that names a CSV file, when the data config has one."""
    from ..config import DataConfig

    for f in dataclasses.fields(DataConfig):
        if f.name in ("csv", "csv_path", "path", "file"):
            return f.name
    return None


def path_fields() -> set[str]:
    """Config fields that hold a file path: a client may never set them directly."""
    from ..config import DataConfig

    return {f.name for f in dataclasses.fields(DataConfig) if f.name in ("csv", "csv_path", "path", "file")}


def options() -> dict[str, Any]:
    """The choices the page offers, the presets' configs, the limits and the optional features."""
    from .. import config as cfg

    return {
        "presets": {name: value.to_dict() for name, value in cfg.PRESETS.items()},
        "choices": {
            "data.series": list(getattr(cfg, "SERIES", ("sine",))),
            "model.cell": list(cfg.CELLS),
            "model.nonlinearity": list(cfg.NONLINEARITIES),
            "model.readout": list(cfg.READOUTS),
            "train.optimizer": list(cfg.OPTIMIZERS),
            "train.engine": list(cfg.ENGINES),
        },
        "datasets": dataset_names() or [],
        "limits": LIMITS,
        "features": feature_status(),
    }


def build_config(preset_name: str | None, values: Mapping[str, Any] | None,
                 server_data: Mapping[str, Any] | None = None) -> RunConfig:
    """A preset with the client's (nested, partial) values on top, checked against the limits.

    A client never gives a path; ``server_data`` holds the data fields the server sets itself
    (the path of an uploaded file).
    """
    if values is not None and not isinstance(values, Mapping):
        raise ConfigError(f"config must be a table of keys, got {values!r}")
    data = dict(values or {})
    section = data.get("data")
    blocked = path_fields() & set(section if isinstance(section, Mapping) else ())
    if blocked:
        raise InputError(f"data.{sorted(blocked)[0]} cannot be set here; upload the file and give its upload id")
    if server_data:
        data["data"] = {**(section if isinstance(section, Mapping) else {}), **server_data}
    config = merge(preset(preset_name or "seed"), {**data, "preset": preset_name or "seed"})
    check_config_limits(config)
    return config


def check_config_limits(config: RunConfig) -> None:
    for key in ("model.hidden_size", "model.num_layers", "train.steps", "train.batch_size", "train.ensemble",
                "forecast.steps"):
        section, name = key.split(".")
        value = getattr(getattr(config, section), name, None)
        if isinstance(value, (int, float)):
            check_limit(key, value)
    d = config.data
    length = getattr(d, "points_per_period", 0) * getattr(d, "periods", 0) + 1
    check_limit("series_length", length)


# -- runs, windows, forecasts ---------------------------------------------------------------------


def series_of(config: RunConfig) -> list[float]:
    from ..data import series_values

    return [float(v) for v in series_values(config.data)]


def baseline_value(config: RunConfig, index: int, series: list[float]) -> float | None:
    """The true series at ``index``, also past the training range where the source is periodic."""
    from ..config import WAVEFORMS
    from ..data import true_value

    if 0 <= index < len(series):
        return series[index]
    if config.data.series not in WAVEFORMS or index < 0:
        return None  # a recorded series has no values past its end
    value = true_value(config.data, index)  # the waveform's noiseless continuation
    return float(value) if math.isfinite(value) else None


def resolve_window(run, start: int | None, end: int | None) -> tuple[int, int]:
    """The context window: the given one, or the window the run drew after training."""
    length = len(series_of(run.config))
    if start is None and end is None:
        stored = run.info.get("context")
        if stored:
            return int(stored[0]), int(stored[1])
        return 0, min(length, max(1, run.config.data.min_length))
    if start is None or end is None:
        raise InputError(f"give both start and end of the context window, got start={start} end={end}")
    if not (0 <= start < end <= length):
        raise InputError(
            f"window must satisfy 0 <= start < end <= {length} (series of {length} values), got {start}:{end}"
        )
    return start, end


def check_horizon(steps: int | None, default: int) -> int:
    steps = default if steps is None else steps
    if steps < 1:
        raise InputError(f"horizon must be >= 1, got {steps}")
    check_limit("forecast.steps", steps)
    return steps


def framework_steps(model, inputs: list[float]) -> dict[str, list]:
    """torch's own per-step values for an input sequence: the top layer's h_t and the prediction y_t."""
    import torch

    with torch.no_grad():
        x = torch.tensor(inputs, dtype=torch.float32).view(1, -1, 1)  # (batch=1, time, 1)
        out, _ = model.rnn(x)  # (1, time, hidden): top layer's h_t
        prediction, _ = model(x)  # (1, time)
    return {"h": out[0].double().tolist(), "y": prediction[0].double().tolist()}


def scaler_of(run):
    """The scaling a run was trained with (stored with its data info); none for the seed's runs."""
    from ..data import Scaler

    info = run.info if isinstance(run.info, Mapping) else {}
    data = info.get("data") if isinstance(info.get("data"), Mapping) else {}
    return Scaler.from_dict(data.get("scaling") or info.get("scaling"))


def chart(run, model, start: int, end: int, steps: int, members=None) -> dict[str, Any]:
    """The seed's chart for one window: baseline, input, prediction, and every step's inputs.

    Chart values are in the series' units; ``inputs`` (what the cell reads at each step, the
    predictions fed back) are in the model's units, scaled as in training.
    """
    from ..forecasting import forecast

    config = run.config
    series = series_of(config)
    context = series[start:end]
    scaler = scaler_of(run)
    scaled_context = [float(v) for v in scaler.transform(context)]
    scaled_forecast = [float(v) for v in forecast(model, scaled_context, steps)]
    predicted = [float(v) for v in scaler.inverse(scaled_forecast)]
    last = max(len(series), end + steps)
    baseline_index = list(range(last))
    baseline = [baseline_value(config, i, series) for i in baseline_index]
    inputs = scaled_context + scaled_forecast[:-1]  # what the cell reads at each step
    band = None
    if members and len(members) > 1:  # an ensemble: the median and the 10-90 % band of its members
        from ..forecasting import forecast_ensemble

        spread = forecast_ensemble(members, scaled_context, steps)
        band = {key: [float(v) for v in scaler.inverse(spread[key])] for key in ("median", "low", "high")}
        band["members"] = len(members)
    return {
        "run": run.id,
        "window": [start, end],
        "horizon": steps,
        "context": context,
        "context_index": list(range(start, end)),
        "forecast": predicted,
        "forecast_index": list(range(end, end + steps)),
        "baseline": baseline,
        "baseline_index": baseline_index,
        "inputs": inputs,
        "ensemble": band,
        "model_context": scaled_context,
        "scaling": scaler.to_dict(),
        "series_length": len(series),
    }


def weights_payload(model) -> dict[str, Any]:
    return {
        name: {"shape": list(t.shape), "values": t.double().tolist()}
        for name, t in model.tensors().items()
    }


def edited_model(run, edits: list[Mapping[str, Any]]):
    """A copy of the run's model with some weights replaced; the stored run is not touched."""
    from ..model import SequenceModel

    if len(edits) > LIMITS["edits"]:
        raise InputError(f"edits must hold at most {LIMITS['edits']} changes, got {len(edits)}")
    tensors = run.model.tensors()
    for edit in edits:
        name, index, value = edit["name"], edit["index"], edit["value"]
        if name not in tensors:
            raise InputError(f"parameter must be one of {', '.join(tensors)}; got {name!r}")
        shape = list(tensors[name].shape)
        index = [index] if isinstance(index, int) else list(index)
        if len(index) != len(shape) or any(not (0 <= i < n) for i, n in zip(index, shape)):
            raise InputError(f"index of {name} must be within shape {shape}, got {index}")
        if not math.isfinite(value) or abs(value) > LIMITS["weight_value"]:
            raise InputError(
                f"value of {name}{index} must be a finite number within ±{LIMITS['weight_value']:g}, got {value}"
            )
        tensors[name][tuple(index)] = value
    model = SequenceModel(run.config.model)
    model.load_tensors(tensors)
    model.eval()
    return model


def hand_calculation(model, view: Mapping[str, Any], step: int) -> dict[str, Any]:
    """One time step of the walk: its terms from the explain engine, and torch's own numbers.

    ``step`` counts over the inputs the cell reads: 0 … len(context)-1 for the context, then the
    fed-back predictions. The step that reads input t predicts value t+1; so clicking the k-th
    forecast value shows step len(context)-1+k.
    """
    inputs = view["inputs"]
    if not (0 <= step < len(inputs)):
        raise InputError(f"step must be in 0..{len(inputs) - 1} (context plus fed-back values), got {step}")
    context_length = len(view["context"])
    framework = framework_steps(model, inputs)
    result: dict[str, Any] = {
        "step": step,
        "steps": len(inputs),
        "index": view["context_index"][0] + step,  # the series index of the input read
        "fed_back": step >= context_length,
        "x": inputs[step],
        "framework": {"h": framework["h"][step], "prediction": framework["y"][step]},
        "predicts_index": view["context_index"][0] + step + 1,
        "available": False,
        "message": MISSING["explain"],
    }
    if not feature_status()["explain"]["available"]:
        return result
    from ..explain import explain_forward, render

    ahead = max(0, step - context_length + 1)
    walk = explain_forward(model, list(view["model_context"]), ahead=ahead)
    data = json.loads(render(walk, "json"))
    hand = data["steps"][step]
    checks = []
    for check in data.get("checks", []):
        reference, by_hand = check["reference"][step], check["hand"][step]
        difference = abs(by_hand - reference)
        checks.append({
            "framework": check["framework"],
            "hand": by_hand,
            "reference": reference,
            "difference": difference,
            "tolerance": check["tolerance"],
            # the explain engine's rule: |hand - reference| <= tolerance * max(1, |reference|)
            "passed": difference <= check["tolerance"] * max(1.0, abs(reference)),
        })
    result.update(
        available=True,
        message="",
        hand=hand,
        readout=data["readout"],
        readout_parameters={k: data["parameters"][k] for k in ("readout.weight", "readout.bias") if k in data["parameters"]},
        hand_prediction=hand["y_hat"],
        difference=abs(hand["y_hat"] - framework["y"][step]),
        checks=checks,
    )
    return result


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"model": {"hidden_size": 4}} -> {"model.hidden_size": 4}."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def render_report(render, run) -> str:
    """HTML text of a run's report from ``rnnlab.report``'s renderer."""
    html = render(run)
    return html if isinstance(html, str) else str(html)
