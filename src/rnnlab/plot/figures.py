"""Charts as matplotlib Figures, built from plain arrays (``ForecastData``, loss lists, ``StateWalk``).

The chart functions take data, not runs, so any series (a waveform, a CSV column, an ensemble's
median and band) draws the same way. Figures are created with the Agg canvas directly (no
pyplot, no display, no global state), so the command line, the HTML report and the web page can
all reuse them.

- ``forecast_figure``: the true series as the baseline, the known inputs as markers, the generated
  values as a line, a vertical rule where generation starts (several runs: shared axes);
- ``loss_figure``: raw loss per step (faint) and its moving mean, log scale;
- ``states_figure``: the hidden state (and the LSTM/GRU gates) over time, units × time heatmaps.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import InputError
from .data import ForecastData, StateWalk

COLORS = {"baseline": "#1f77b4", "input": "#ff7f0e", "prediction": "#6b6b6b", "rule": "#999999"}
CYCLE = ("#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e")


def new_figure(width: float = 9.0, height: float = 5.0) -> Figure:
    """A Figure on the Agg canvas (no pyplot, no display)."""
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def forecast_figure(data: ForecastData | Sequence[ForecastData], title: str | None = None) -> Figure:
    """The seed's chart: baseline, input markers, prediction line, a rule where generation starts.

    With several ``ForecastData`` all go on shared axes: one baseline per distinct true series,
    each run's inputs and prediction in its own colour. Every line carries a gid
    (``baseline``, ``input``, ``prediction``, ``band``; ``input:LABEL``… for several runs).
    """
    items = [data] if isinstance(data, ForecastData) else list(data)
    if not items:
        raise InputError("forecast_figure needs at least one forecast, got none")
    single = len(items) == 1
    figure = new_figure()
    ax = figure.add_subplot()
    # One baseline per distinct true series: one that agrees with a longer one drawn is not repeated.
    drawn: list[ForecastData] = []
    for item in sorted(items, key=lambda i: -len(i.baseline_index)):
        if any(_covers(other, item) for other in drawn):
            continue
        drawn.append(item)
        ax.plot(item.baseline_index, item.baseline, color=COLORS["baseline"], linewidth=1.8,
                label="Baseline" if len(drawn) == 1 else f"Baseline ({item.label})",
                gid="baseline" if len(drawn) == 1 else f"baseline:{item.label}")
    starts: set[float] = set()
    for n, item in enumerate(items):
        suffix = "" if single else f":{item.label}"
        color_in = COLORS["input"] if single else CYCLE[n % len(CYCLE)]
        color_out = COLORS["prediction"] if single else CYCLE[n % len(CYCLE)]
        ax.plot(item.input_index, item.inputs, linestyle="none", marker="o", markersize=6, color=color_in,
                label="Input" if single else f"{item.label} input", gid=f"input{suffix}")
        if item.lower is not None:
            ax.fill_between(item.prediction_index, item.lower, item.upper, color=color_out, alpha=0.2,
                            linewidth=0, label="10–90 % band" if single else f"{item.label} band",
                            gid=f"band{suffix}")
        ax.plot(item.prediction_index, item.prediction, color=color_out, linewidth=2, marker=".",
                linestyle="--" if single else "-", label="Prediction" if single else f"{item.label} prediction",
                gid=f"prediction{suffix}")
        if item.generation_start not in starts:
            starts.add(item.generation_start)
            ax.axvline(item.generation_start, color=COLORS["rule"] if single else color_out, linestyle=":",
                       linewidth=1.2, gid=f"generation{suffix}",
                       label=None if single or len(starts) > 1 else "generation starts (dotted)")
            if single:
                ax.text(item.generation_start, 0.99, " generation starts", va="top", ha="left", fontsize=8,
                        color="#555555", transform=ax.get_xaxis_transform())
    train_end = items[0].train_end
    if train_end is not None and max(int(i.baseline_index[-1]) for i in items) > train_end:
        ax.axvspan(train_end, max(int(i.baseline_index[-1]) for i in items), color="#000000", alpha=0.05,
                   linewidth=0, label="past the known series", gid="beyond-training")
    ax.set_xlabel("index")
    ax.set_ylabel("value")
    ax.set_title(title or (f"{items[0].label}: forecast" if single else f"forecasts of {len(items)} runs"))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return figure


def _covers(longer: ForecastData, other: ForecastData) -> bool:
    """Whether ``longer``'s baseline holds ``other``'s: the same values at each of its indices."""
    values = dict(zip(longer.baseline_index.tolist(), longer.baseline.tolist()))
    return all(i in values and values[i] == v for i, v in zip(other.baseline_index.tolist(), other.baseline.tolist()))


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving mean: point t is the mean of values[max(0, t-window+1) : t+1]."""
    array = np.asarray(values, dtype=np.float64)
    if window < 1:
        raise InputError(f"window must be >= 1, got {window}")
    sums = np.concatenate([[0.0], np.cumsum(array)])
    t = np.arange(len(array))
    first = np.maximum(0, t - window + 1)
    return (sums[t + 1] - sums[first]) / (t + 1 - first)


def smoothing_window(steps: int) -> int:
    """The moving-mean window for a loss curve of ``steps`` points: about 2 % of it."""
    return max(1, round(steps / 50))


def loss_figure(histories: Mapping[str, Sequence[float]], title: str | None = None) -> Figure:
    """Loss per step (faint) and its moving mean on a log scale; several runs share the axes.

    Lines carry gids ``raw:LABEL`` and ``smooth:LABEL``.
    """
    if not histories:
        raise InputError("loss_figure needs at least one loss history, got none")
    figure = new_figure(9.0, 4.5)
    ax = figure.add_subplot()
    single = len(histories) == 1
    for n, (label, history) in enumerate(histories.items()):
        if len(history) == 0:
            raise InputError(f"run {label!r} has no loss history (stopped at step 0); nothing to draw")
        steps = np.arange(1, len(history) + 1)
        color = COLORS["baseline"] if single else CYCLE[n % len(CYCLE)]
        window = smoothing_window(len(history))
        ax.plot(steps, np.asarray(history, dtype=np.float64), color=color, alpha=0.25, linewidth=0.6,
                label="loss per step" if single else None, gid=f"raw:{label}")
        ax.plot(steps, smooth(history, window), color=color, linewidth=1.8,
                label=f"mean of {window} steps" if single else f"{label} (mean of {window})",
                gid=f"smooth:{label}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (MSE)")
    ax.set_title(title or (f"{next(iter(histories))}: training loss" if single else "training loss"))
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="best", fontsize=8)
    return figure


def states_figure(walk: StateWalk, index: Sequence[int] | None = None, generation_start: float | None = None,
                  title: str | None = None) -> Figure:
    """Heatmaps (units × time) of h and, for lstm/gru, the cell state and gates of every layer.

    Each panel's image carries the gid ``LAYER:NAME`` (``0:h``, ``0:f``, …).
    """
    time = len(walk.inputs)
    index = np.arange(time) if index is None else np.asarray(index)
    panels = [(layer, name) for layer, record in enumerate(walk.layers) for name in record]
    hidden = walk.layers[0]["h"].shape[1]
    height = min(14.0, 1.0 + len(panels) * (0.45 + 0.22 * hidden))
    figure = new_figure(9.0, height)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    titles = {"h": "hidden state h", "c": "cell state c", "i": "input gate i", "f": "forget gate f",
              "g": "cell candidate g", "o": "output gate o", "r": "reset gate r", "z": "update gate z",
              "n": "new gate n"}
    extent = (index[0] - 0.5, index[-1] + 0.5, hidden - 0.5, -0.5)
    for ax, (layer, name) in zip(axes, panels):
        values = walk.layers[layer][name].T  # (hidden, time)
        limit = max(1.0, float(np.abs(values).max()))
        image = ax.imshow(values, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, extent=extent,
                          interpolation="nearest")
        image.set_gid(f"{layer}:{name}")
        ax.set_yticks(range(hidden))
        ax.set_ylabel("unit", fontsize=8)
        label = titles[name] + (f" (layer {layer})" if len(walk.layers) > 1 else "")
        ax.set_title(label, fontsize=9, loc="left")
        if generation_start is not None:
            ax.axvline(generation_start, color="black", linestyle=":", linewidth=1)
        figure.colorbar(image, ax=ax, pad=0.01, fraction=0.04)
    axes[-1].set_xlabel("index (inputs: the context, then the fed-back predictions)")
    figure.suptitle(title or f"{walk.cell} state over time", fontsize=11)
    return figure
