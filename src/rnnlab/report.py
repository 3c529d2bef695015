"""A run as one self-contained HTML file: config, metrics, charts, weights, the hand calculation.

Everything is inline — the charts as base64 PNG, the styles in a ``<style>`` element — and there
are no scripts and no links, so the file opens anywhere without a network. Each part is a
``<section id=...>`` (``summary``, ``metrics``, ``forecast``, ``loss``, ``states``,
``hand-calculation``, ``weights``, ``config``). A part that cannot be drawn (a run stopped at step 0 has no
loss curve) says why in its place; the other parts still render.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Callable, Mapping

from . import __version__
from .errors import RnnlabError

# The hand calculation prints a table per step; longer contexts are left to `rnnlab explain`.
MAX_HAND_STEPS = 64

SECTIONS = ("summary", "metrics", "forecast", "loss", "states", "hand-calculation", "weights", "config")

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1000px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
     border-bottom: 1px solid #ddd; padding-bottom: .2rem; } h3 { font-size: 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .85rem; }
th, td { border: 1px solid #ddd; padding: .2rem .5rem; text-align: right; }
th { background: #f4f4f4; } td.key, th.key { text-align: left; font-family: monospace; white-space: nowrap; }
td { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
.note { color: #666; font-size: .9rem; } .missing { color: #a33; }
.better { color: #186318; font-weight: bold; } .worse { color: #a33; }
details { margin: .5rem 0; } pre { background: #f7f7f7; padding: .5rem; overflow-x: auto; }
.scroll { overflow-x: auto; } .row { display: flex; flex-wrap: wrap; gap: 0 1.5rem; align-items: flex-start; }
.row > section { flex: 1 1 380px; min-width: 0; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 6) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) >= 10 ** -digits or value == 0 else f"{value:.{digits}g}"
    return _e(value)


def _table(header: list[str], rows: list[list[str]], key_columns: int = 1) -> str:
    """An HTML table; cells are already escaped strings."""
    head = "".join(f'<th class="key">{h}</th>' if i < key_columns else f"<th>{h}</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="key">{c}</td>' if i < key_columns else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    thead = f"<thead><tr>{head}</tr></thead>" if any(header) else ""
    return f'<div class="scroll"><table>{thead}<tbody>{body}</tbody></table></div>'


def _image(figure, alt: str) -> str:
    from .plot import figure_bytes

    data = base64.b64encode(figure_bytes(figure, "png")).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


# -- sections --------------------------------------------------------------------------------------


def _summary(run) -> str:
    from .plot import run_label

    info = run.info
    rows = [
        ["run", _e(run.id)],
        ["name", _e(run_label(run))],
        ["created", _e(info.get("created", ""))],
        ["status", _e(run.status)],
        ["steps done", _e(f"{len(run.history)} of {run.config.train.steps}")],
        ["final loss", _num(run.history[-1]) if run.history else '<span class="missing">none</span>'],
        ["training time", _e(f"{info['seconds']:.2f} s") if isinstance(info.get("seconds"), (int, float)) else ""],
        ["forecast context", _e(_context_text(run))],
    ]
    message = f'<p class="note">{_e(info["message"])}</p>' if info.get("message") else ""
    return _table(["", ""], rows) + message


def _context_text(run) -> str:
    from .plot import run_forecast

    try:
        walk = run_forecast(run, 1)
    except RnnlabError as exc:
        return f"none ({exc})"
    return f"series[{walk.start}:{walk.end}]"


def _config(run) -> str:
    """One small table per part of the config (data, model, train, …), side by side."""
    top, parts = [], []
    for key, value in run.config.to_dict().items():
        if isinstance(value, Mapping):
            rows = [[_e(k), _e(v)] for k, v in _flatten(value)]
            parts.append(_table([_e(key), ""], rows))
        else:
            top.append([_e(key), _e(value)])
    tables = ([_table(["run", ""], top)] if top else []) + parts
    return '<div class="row">' + "".join(f"<div>{t}</div>" for t in tables) + "</div>"


def _ratio(model: Any, naive: Any) -> str:
    if isinstance(model, (int, float)) and isinstance(naive, (int, float)) and naive > 0:
        ratio = model / naive
        return f'<span class="{"better" if ratio < 1 else "worse"}">{ratio:.3f}</span>'
    return ""


def _backtest(name: str, part: Mapping[str, Any]) -> str:
    """A backtest's table: one row per (scope, metric), one column per method, and model / naive."""
    methods = part["methods"]
    names = list(methods)
    rows = []
    first = methods[names[0]]
    for scope, values in first.items():
        if not isinstance(values, Mapping):
            continue
        for metric in values:
            cells = [_num(methods[m].get(scope, {}).get(metric)) for m in names]
            ratio = ""
            if "model" in methods and "naive" in methods:
                ratio = _ratio(methods["model"].get(scope, {}).get(metric), methods["naive"].get(scope, {}).get(metric))
            rows.append([_e(f"{scope} {metric}")] + cells + [ratio])
    about = ", ".join(f"{k} {v}" for k, v in part.items() if k != "methods" and not isinstance(v, Mapping))
    return (
        f"<h3>{_e(name)} part</h3><p class=\"note\">{_e(about)}</p>"
        + _table(["metric"] + [_e(m) for m in names] + ["model / naive"], rows)
    )


def _metrics(run) -> str:
    metrics = run.metrics or {}
    if not metrics:
        return '<p class="missing">This run has no metrics (it was not evaluated: no finished training step).</p>'
    model, naive = metrics.get("model"), metrics.get("naive")
    parts = []
    if isinstance(model, Mapping) and isinstance(naive, Mapping):
        rows = [[_e(key), _num(model[key]), _num(naive[key]), _ratio(model[key], naive[key])]
                for key in model if key in naive]
        parts.append(_table(["metric", "model", "naive (repeat the last value)", "model / naive"], rows))
        if isinstance(metrics.get("windows"), int) and isinstance(metrics.get("steps"), int):
            parts.append(f'<p class="note">Over {metrics["windows"]} windows, rollouts of {metrics["steps"]} steps.</p>')
    shown = {"model", "naive", "windows", "steps"} | set(model or {})
    for key, value in metrics.items():
        if isinstance(value, Mapping) and isinstance(value.get("methods"), Mapping) and value["methods"]:
            parts.append(_backtest(key, value))
            shown.add(key)
    rest = [(k, v) for k, v in _flatten({k: v for k, v in metrics.items() if k not in shown})]
    if rest:
        parts.append(_table(["", ""], [[_e(k), _num(v)] for k, v in rest]))
    return "".join(parts) + '<p class="note">Lower is better; a ratio under 1 beats the naive forecast.</p>'


def _forecast(run) -> str:
    from .plot import forecast_figure, forecast_table, run_forecast_data, table_cell

    data = run_forecast_data(run)
    rows = forecast_table(data)
    names = list(rows[0])
    body = [[_e(row["index"])] + [_e(table_cell(row[n])) for n in names[1:]] for row in rows]
    return (
        _image(forecast_figure(data, title=f"{data.label}: baseline, input and prediction"), "forecast chart")
        + "<details><summary>The values behind the chart</summary>"
        + _table(names, body)
        + "</details>"
    )


def _loss(run) -> str:
    from .plot import loss_figure, run_label

    if not run.history:
        return '<p class="missing">No loss history: the run stopped before its first training step.</p>'
    return _image(loss_figure({run_label(run): run.history}), "loss curve")


def _states(run) -> str:
    from .plot import run_state_walk, states_figure

    walk, index, start = run_state_walk(run)
    return _image(states_figure(walk, index, start), "hidden state heatmap")


def _weights(run) -> str:
    parts = []
    for name, tensor in run.model.tensors().items():
        values = tensor.double().numpy()
        matrix = values.reshape(1, -1) if values.ndim == 1 else values
        shape = "×".join(map(str, values.shape))
        header = [""] + [str(j) for j in range(matrix.shape[1])]
        rows = [["" if values.ndim == 1 else str(i)] + [_num(float(v)) for v in row] for i, row in enumerate(matrix)]
        parts.append(f"<h3><code>{_e(name)}</code> <span class=\"note\">{shape}</span></h3>" + _table(header, rows))
    return "".join(parts)


def _hand_calculation(run) -> str:
    """The first prediction after the stored context, by ``rnnlab.explain``, checked against torch."""
    from .explain import explain_forward, render
    from .plot import run_forecast

    walk = run_forecast(run, 1)
    if len(walk.fed) > MAX_HAND_STEPS:
        return (
            f'<p class="note">The context series[{walk.start}:{walk.end}] holds {len(walk.fed)} values; the '
            f"report shows the hand calculation for contexts of up to {MAX_HAND_STEPS}. "
            f"<code>rnnlab explain</code> walks any context.</p>"
        )
    explained = explain_forward(run.model, walk.fed.tolist())
    return (
        f"<p>The first prediction after the context series[{walk.start}:{walk.end}], recomputed step "
        f"by step from the stored weights in float64, then compared with torch.</p>" + render(explained, "html")
    )


_BUILDERS: dict[str, tuple[str, Callable]] = {
    "summary": ("Run", _summary),
    "config": ("Configuration", _config),
    "metrics": ("Metrics against the naive forecast", _metrics),
    "forecast": ("Forecast", _forecast),
    "loss": ("Training loss", _loss),
    "states": ("Hidden state over the forecast", _states),
    "weights": ("Weights", _weights),
    "hand-calculation": ("The first prediction by hand", _hand_calculation),
}


def build_report(run) -> str:
    """The report of a loaded run as one HTML document (a string)."""
    from .plot import run_label

    label = run_label(run)
    body = []
    for section in SECTIONS:
        heading, builder = _BUILDERS[section]
        try:
            content = builder(run)
        except RnnlabError as exc:  # this part cannot be drawn: say why, keep the others
            content = f'<p class="missing">Not available: {_e(exc)}</p>'
        body.append(f'<section id="{section}"><h2>{_e(heading)}</h2>{content}</section>')
    backtests = any(isinstance(v, Mapping) and "methods" in v for v in (run.metrics or {}).values())
    if not backtests:  # summary and the small metrics table side by side
        body[:2] = ['<div class="row">' + "".join(body[:2]) + "</div>"]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>rnnlab report: {_e(label)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>rnnlab report: {_e(label)}</h1>"
        f'<p class="note">{_e(run.config.model.cell)} with {run.config.model.hidden_size} units × '
        f"{run.config.model.num_layers} layer(s), trained {len(run.history)} steps; rnnlab {__version__}.</p>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def write_report(run, out: str | Path | None = None) -> Path:
    """Render the report, then write it atomically to ``out`` (default: ``RUN_DIR/report.html``)."""
    from .plot import prepare_dir, write_files

    path = Path(out) if out is not None else Path(run.path) / "report.html"
    if path.is_dir():
        raise RnnlabError(f"--out {str(path)!r} is a directory; expected a file name such as report.html")
    if out is not None and not path.parent.is_dir() and not path.parent.parent.is_dir():
        # one new directory at most, inside one that exists: never a tree of them from a typo
        raise RnnlabError(f"--out {str(path)!r}: the directory {str(path.parent.parent)!r} does not exist; "
                          "create it first")
    prepare_dir(path.parent)  # fail on an unusable place before rendering
    document = build_report(run)
    return write_files(path.parent, {path.name: document})[0]
