"""What the page draws for one run: a window's chart, the weights, an edited copy, one step by hand.

Forecasts come from ``rnnlab.runs`` (the context scaled as in training, fed to the model or the
ensemble's members, the outputs unscaled); here the window and horizon are checked against the
playground's limits and the values laid out as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Mapping

import numpy as np
import torch

from ..data import series_values
from ..errors import InputError
from ..explain import explain_forward, render
from ..model import SequenceModel
from ..config import WAVEFORMS
from ..runs import baseline, forecast_values, prepared_of, series_end, stored_window
from ..store import Run
from . import service
from .service import LIMITS, check_limit


def resolve_window(run: Run, length: int, start: int | None, end: int | None) -> tuple[int, int]:
    """The context window: the given one; else a recorded series' last context (its forecast
    past the end), or the window a waveform run drew after training."""
    if start is None and end is None:
        if run.config.data.series not in WAVEFORMS:
            window = series_end(prepared_of(run))
            return window.start, window.end
        if run.info.get("context"):
            window = stored_window(run)
            return window.start, window.end
        return 0, min(length, max(1, run.config.data.min_length))
    if start is None or end is None:
        raise InputError(f"give both start and end of the context window, got start={start} end={end}")
    if not (0 <= start < end <= length):
        raise InputError(
            f"window must satisfy 0 <= start < end <= {length} (series of {length} values), got {start}:{end}"
        )
    return start, end


def check_horizon(steps: int | None, default: int, limits: Mapping[str, Any] = LIMITS) -> int:
    steps = default if steps is None else steps
    if steps < 1:
        raise InputError(f"horizon must be >= 1, got {steps}")
    check_limit("forecast.steps", steps, limits)
    return steps


def run_chart(run: Run, model, start: int | None, end: int | None, horizon: int | None,
              limits: Mapping[str, Any] = LIMITS) -> dict[str, Any]:
    """The chart of a window (default: the stored one) and horizon (default: the run's).

    An ensemble's band is drawn for the stored members; an edit (``model`` other than the run's)
    changes member 0 alone, so an edited chart has no band.
    """
    series = series_values(run.config.data)
    window = resolve_window(run, len(series), start, end)
    steps = check_horizon(horizon, run.config.forecast.steps, limits)
    return chart(run, model, series, window, steps, run.members if model is run.model else None)


def chart(run: Run, model, series: np.ndarray, window: tuple[int, int], steps: int, members=None) -> dict[str, Any]:
    """The seed's chart for one window: baseline, input, prediction, and every step's inputs.

    Chart values are in the series' units; ``inputs`` (what the cell reads at each step, the
    predictions fed back) are in the model's units, scaled as in training. ``forecast`` is
    ``model``'s; ``ensemble`` the median and 10-90 % band of ``members`` (more than one).
    """
    start, end = window
    context = series[start:end]
    single = forecast_values(run, context, steps, start=start, model=model)
    band = None
    if members and len(members) > 1:
        spread = forecast_values(run, context, steps, start=start, members=members, scaler=single.scaler)
        band = {"median": spread.values.tolist(), "low": spread.low.tolist(), "high": spread.high.tolist(),
                "members": spread.members}
    last = max(len(series), end + steps)
    known = [float(v) if math.isfinite(v) else None for v in baseline(run.config.data, series, last - 1)]
    fed = single.fed.tolist()
    inputs = fed + single.scaled.tolist()[:-1]
    return {
        "run": run.id,
        "window": [start, end],
        "horizon": steps,
        "context": context.tolist(),
        "context_index": list(range(start, end)),
        "forecast": single.values.tolist(),
        "forecast_index": list(range(end, end + steps)),
        "baseline": known + [None] * (last - len(known)),  # a recorded series has no values past its end
        "baseline_index": list(range(last)),
        "inputs": inputs,  # what the cell reads at each step
        "states": framework_steps(model, inputs)["h"],  # torch's top-layer h_t after each of them
        "ensemble": band,
        "model_context": fed,
        "scaling": single.scaler.scaler.to_dict(),
        "series_length": len(series),
    }


def weights_payload(model) -> dict[str, Any]:
    return {
        name: {"shape": list(t.shape), "values": t.double().tolist()}
        for name, t in model.tensors().items()
    }


def edited_model(run: Run, edits: list[Mapping[str, Any]], limits: Mapping[str, Any] = LIMITS) -> SequenceModel:
    """A copy of the run's model with some weights replaced; the stored run is not touched."""
    if len(edits) > limits["edits"]:
        raise InputError(f"edits must hold at most {limits['edits']} changes, got {len(edits)}")
    tensors = run.model.tensors()
    for edit in edits:
        name, index, value = edit["name"], edit["index"], edit["value"]
        if name not in tensors:
            raise InputError(f"parameter must be one of {', '.join(tensors)}; got {name!r}")
        shape = list(tensors[name].shape)
        index = [index] if isinstance(index, int) else list(index)
        if len(index) != len(shape) or any(not (0 <= i < n) for i, n in zip(index, shape)):
            raise InputError(f"index of {name} must be within shape {shape}, got {index}")
        if not math.isfinite(value) or abs(value) > limits["weight_value"]:
            raise InputError(
                f"value of {name}{index} must be a finite number within ±{limits['weight_value']:g}, got {value}"
            )
        tensors[name][tuple(index)] = value
    model = SequenceModel(run.config.model)
    model.load_tensors(tensors)
    model.eval()
    return model


def framework_steps(model, inputs: list[float]) -> dict[str, list]:
    """torch's own per-step values for an input sequence: the top layer's h_t and the prediction y_t."""
    with torch.no_grad():
        x = torch.tensor(inputs, dtype=torch.float32).view(1, -1, 1)  # (batch=1, time, 1)
        out, _ = model.rnn(x)  # (1, time, hidden): top layer's h_t
        prediction, _ = model(x)  # (1, time)
    return {"h": out[0].double().tolist(), "y": prediction[0].double().tolist()}


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
    explain = service.feature_status()["explain"]
    result: dict[str, Any] = {
        "step": step,
        "steps": len(inputs),
        "index": view["context_index"][0] + step,  # the series index of the input read
        "fed_back": step >= context_length,
        "x": inputs[step],
        "framework": {"h": framework["h"][step], "prediction": framework["y"][step]},
        "predicts_index": view["context_index"][0] + step + 1,
        "available": explain["available"],
        "message": explain["message"],
    }
    if not explain["available"]:
        return result
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
        wolfram=wolfram_step(walk, step),
        paper=paper_precision(model, walk, step),
        hand=hand,
        readout=data["readout"],
        readout_parameters={k: data["parameters"][k] for k in ("readout.weight", "readout.bias") if k in data["parameters"]},
        hand_prediction=hand["y_hat"],
        difference=abs(hand["y_hat"] - framework["y"][step]),
        checks=checks,
    )
    return result


def wolfram_step(walk, step: int) -> str:
    """The Wolfram Language expressions of one step, numbers filled in (``explain --format wolfram``)."""
    return render(dataclasses.replace(walk, steps=(walk.steps[step],)), "wolfram")


PAPER_DECIMALS = 4  # the weights as a printout shows them


def paper_precision(model, exact, step: int) -> dict[str, Any]:
    """The step with every weight rounded to 4 decimals, as copied from a printout (``explain
    --decimals 4``): the rounded weights, the prediction they give, and how far it moved."""
    rounded = explain_forward(model, exact.context, ahead=exact.ahead, decimals=PAPER_DECIMALS, check=False)
    shift = rounded.steps[step].y_hat - exact.steps[step].y_hat
    largest = rounded.rounding.max_weight_change
    return {
        "decimals": PAPER_DECIMALS,
        "weights": {name: np.asarray(value).tolist() for name, value in rounded.parameters.items()},
        "exact": exact.steps[step].y_hat,
        "rounded": rounded.steps[step].y_hat,
        "shift": shift,
        "max_weight_change": largest,
        "why": (f"rounding moves each weight by at most {largest:.2g} (half a unit in the {PAPER_DECIMALS}th "
                f"decimal); the {step + 1} steps up to this one carry those small changes through h_t, so "
                f"the prediction moves by {shift:+.2e}"),
    }


def config_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, list]:
    """The flattened config keys where two configs differ: {"model.hidden_size": [4, 8]}."""
    flat = [flatten(a), flatten(b)]
    keys = sorted(set(flat[0]) | set(flat[1]))
    return {k: [flat[0].get(k), flat[1].get(k)] for k in keys if flat[0].get(k) != flat[1].get(k)}


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"model": {"hidden_size": 4}} -> {"model.hidden_size": 4}."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
