"""rnnlab's default command on the development panel, against seasonal naive, AutoETS and
AutoARIMA (statsforecast).

Protocol (``bench/panel.py``): three non-overlapping forecast origins at the end of each series,
each method fitted only on the values before its origin; MASE scaled by the in-sample
seasonal-naive error; per series the mean MASE over the origins divided by seasonal naive's;
over series the geometric mean of that ratio (lower is better, < 1 beats seasonal naive).

rnnlab is run as a user would run it, in-process: for every origin and seed the values before
the origin go to a temporary CSV (``time,value``), ``rnnlab train --csv … --seed S --quiet
--json`` (no preset: the CLI picks the automatic forecaster) and ``rnnlab forecast latest
--steps H --json``; its ratio per series is the mean over seeds of the per-seed ratio.
AutoETS / AutoARIMA use ``season_length=max(1, season)``; a failure falls back to seasonal naive
and is noted under the table.

    .venv/bin/python bench/forecast_panel.py [--panel dev|holdout] [--only NAME,NAME] [--seeds 1,2,3] [--out FILE]

The Markdown table goes to stdout and to ``--out`` (default bench/out/forecast_panel.md);
progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import numpy as np  # noqa: E402

import panel  # noqa: E402

NOTES: list[str] = []
TIMES: list[float] = []  # seconds per rnnlab train+forecast
BANDS: dict[tuple[str, int], list[tuple[np.ndarray, np.ndarray]]] = {}  # (series, origin) -> the 80 % intervals
CHOICES: list[str] = []  # the candidate each run's automatic choice kept


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def write_csv(path: Path, values: np.ndarray, times: list[str] | None) -> None:
    """The format of ``panel.write_csvs``: ``time,value``, an integer index when there are no dates."""
    stamps = times if times is not None else range(len(values))
    rows = ["time,value"] + [f"{t},{float(v)!r}" for t, v in zip(stamps, values)]
    path.write_text("\n".join(rows) + "\n")


def rnnlab_method(seed: int):
    """``method(train, horizon, series)`` that trains and forecasts with rnnlab's command line."""
    from rnnlab.cli import main

    def method(train: np.ndarray, horizon: int, series: panel.PanelSeries) -> np.ndarray:
        times = series.times[: len(train)] if series.times is not None else None
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="forecast_panel_") as tmp:
            csv = Path(tmp) / f"{series.name}.csv"
            runs = str(Path(tmp) / "runs")
            write_csv(csv, train, times)
            argv = ["train", "--csv", str(csv), "--column", "value"]
            if times is not None:
                argv += ["--time-column", "time"]
            argv += ["--seed", str(seed), "--quiet", "--json", "--runs-dir", runs]
            messages = io.StringIO()  # "run stored: …"; shown only when a command fails
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(messages):
                status = main(argv)
            if status:
                return _fallback(f"rnnlab train failed (status {status}: {messages.getvalue().strip()})",
                                 series, train, horizon, seed)
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(messages):
                status = main(["forecast", "latest", "--steps", str(horizon), "--json", "--runs-dir", runs])
            if status:
                return _fallback(f"rnnlab forecast failed (status {status}: {messages.getvalue().strip()})",
                                 series, train, horizon, seed)
            answer = json.loads(out.getvalue())
            forecast = np.asarray(answer["forecast"], dtype=float)
            interval = answer.get("interval")
            if interval:
                BANDS.setdefault((series.name, len(train)), []).append(
                    (np.asarray(interval["low"], float), np.asarray(interval["high"], float), forecast))
            with contextlib.redirect_stdout(out := io.StringIO()), contextlib.redirect_stderr(messages):
                if main(["runs", "show", "latest", "--json", "--runs-dir", runs]) == 0:
                    chosen = (json.loads(out.getvalue()).get("metrics") or {}).get("selection", {}).get("chosen")
                    if chosen:
                        CHOICES.append(chosen)
        TIMES.append(time.perf_counter() - start)
        if forecast.shape != (horizon,) or not np.all(np.isfinite(forecast)):
            return _fallback(f"rnnlab forecast not {horizon} finite values", series, train, horizon, seed)
        return forecast

    return method


def _fallback(why: str, series, train, horizon, seed=None) -> np.ndarray:
    where = f"{series.name}, origin {len(train)}" + (f", seed {seed}" if seed is not None else "")
    NOTES.append(f"{where}: {why}; seasonal naive used instead")
    log(f"  ! {where}: {why}")
    return panel.seasonal_naive(train, horizon, series.season)


def statsforecast_method(name: str):
    from statsforecast.models import AutoARIMA, AutoETS

    model_class = {"AutoETS": AutoETS, "AutoARIMA": AutoARIMA}[name]

    def method(train: np.ndarray, horizon: int, series: panel.PanelSeries) -> np.ndarray:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = model_class(season_length=max(1, series.season))
                forecast = np.asarray(model.forecast(y=train.astype(float), h=horizon)["mean"], float)
            if forecast.shape != (horizon,) or not np.all(np.isfinite(forecast)):
                raise ValueError(f"not {horizon} finite values")
        except Exception as exc:  # noqa: BLE001  (tiny series and the like)
            return _fallback(f"{name} failed ({type(exc).__name__}: {exc})", series, train, horizon)
        return forecast

    return method


def seasonal_naive_method(train: np.ndarray, horizon: int, series: panel.PanelSeries) -> np.ndarray:
    return panel.seasonal_naive(train, horizon, series.season)


def fmt(x: float) -> str:
    return f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panel", choices=sorted(panel.PANELS), default="dev",
                        help="dev (the development panel, default) or holdout (fixed before tuning, to report)")
    parser.add_argument("--only", help="comma-separated series names (default: the whole panel)")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated rnnlab seeds (default 1,2,3)")
    parser.add_argument("--out", help="also write the Markdown table here "
                        "(default bench/out/forecast_panel.md, bench/out/forecast_holdout.md for --panel holdout)")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if args.out is None:
        args.out = str(HERE / "out" / ("forecast_panel.md" if args.panel == "dev" else "forecast_holdout.md"))

    series_list = panel.load_panel(args.panel)
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        known = {s.name for s in series_list}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            parser.error(f"unknown series: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        series_list = [s for s in series_list if s.name in wanted]

    methods = {"AutoETS": statsforecast_method("AutoETS"), "AutoARIMA": statsforecast_method("AutoARIMA")}
    started = time.perf_counter()
    rows = []
    for i, s in enumerate(series_list, 1):
        log(f"[{i}/{len(series_list)}] {s.name} (length {len(s.values)}, season {s.season}, "
            f"horizon {s.horizon})")
        naive = panel.score(s, seasonal_naive_method)
        row = {"series": s, "naive": naive}
        for name, method in methods.items():
            row[name] = panel.score(s, method) / naive
            log(f"  {name}: {row[name]:.3f}")
        per_seed = []
        for seed in seeds:
            t0 = time.perf_counter()
            per_seed.append(panel.score(s, rnnlab_method(seed)) / naive)
            log(f"  rnnlab seed {seed}: {per_seed[-1]:.3f} ({time.perf_counter() - t0:.0f} s, "
                f"{time.perf_counter() - started:.0f} s elapsed)")
        row["rnnlab_seeds"] = per_seed
        row["rnnlab"] = float(np.mean(per_seed))
        rows.append(row)

    columns = ["rnnlab", "AutoETS", "AutoARIMA"]
    n = len(rows)
    lines = [
        f"{'Development' if args.panel == 'dev' else 'Held-out'} panel, {panel.ORIGINS} origins per series; ratio = mean MASE over origins / "
        f"seasonal naive's (lower is better, < 1 beats seasonal naive); rnnlab: default command, "
        f"mean ratio over seeds {','.join(map(str, seeds))}.",
        "",
        "| series | length | season | horizon | rnnlab ratio | AutoETS ratio | AutoARIMA ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        s = row["series"]
        best = min([1.0] + [row[c] for c in columns])
        cells = [f"**{fmt(row[c])}**" if row[c] == best else fmt(row[c]) for c in columns]
        lines.append(f"| {s.name} | {len(s.values)} | {s.season} | {s.horizon} | " + " | ".join(cells) + " |")
    gm = {c: panel.geometric_mean([r[c] for r in rows]) for c in columns}
    beats = {c: sum(r[c] < 1.0 for r in rows) for c in columns}
    best_of = {c: sum(r[c] == min([1.0] + [r[k] for k in columns]) and r[c] < 1.0 for r in rows)
               for c in columns}
    best_gm = min([1.0] + list(gm.values()))
    lines.append("| **geometric mean** | | | | "
                 + " | ".join(f"**{fmt(gm[c])}**" if gm[c] == best_gm else fmt(gm[c]) for c in columns) + " |")
    lines.append(f"| wins vs seasonal naive (ratio < 1), of {n} | | | | "
                 + " | ".join(str(beats[c]) for c in columns) + " |")
    lines.append(f"| best of the four methods, of {n} | | | | "
                 + " | ".join(str(best_of[c]) for c in columns) + " |")
    lines.append("")
    naive_best = sum(min(r[c] for c in columns) >= 1.0 for r in rows)
    lines.append(f"Bold: the best of the four on the series (seasonal naive best on {naive_best} of {n}).")
    head = []
    for other in ("AutoETS", "AutoARIMA"):
        head.append(f"vs {other} {sum(r['rnnlab'] < r[other] for r in rows)}/{n}")
    lines.append("rnnlab head to head (lower ratio): " + ", ".join(head) + ".")
    if len(seeds) > 1:
        per_seed_gm = [panel.geometric_mean([r["rnnlab_seeds"][k] for r in rows]) for k in range(len(seeds))]
        lines.append("rnnlab geometric mean per seed: "
                     + ", ".join(f"seed {seed} {fmt(g)}" for seed, g in zip(seeds, per_seed_gm)) + ".")
    if TIMES:
        lines.append(f"rnnlab train+forecast wall time per origin: median {statistics.median(TIMES):.1f} s "
                     f"(min {min(TIMES):.1f} s, max {max(TIMES):.1f} s, {len(TIMES)} runs); "
                     f"whole benchmark {time.perf_counter() - started:.0f} s.")
    widths = (1.0, 1.25, 1.5, 2.0)  # the interval, and the same widened around the forecast
    inside, total = dict.fromkeys(widths, 0), 0
    for s in series_list:
        for origin in panel.origins(s):
            truth = s.values[origin : origin + s.horizon]
            for low, high, forecast in BANDS.get((s.name, origin), []):
                for k in widths:
                    lo, hi = forecast - k * (forecast - low), forecast + k * (high - forecast)
                    inside[k] += int(np.sum((truth >= np.minimum(lo, hi)) & (truth <= np.maximum(lo, hi))))
                total += len(truth)
    if total:
        lines.append(f"rnnlab 80 % interval: {100 * inside[1.0] / total:.1f} % of the {total} true values inside "
                     "(the same widened around the forecast: "
                     + ", ".join(f"×{k:g} {100 * inside[k] / total:.1f} %" for k in widths[1:]) + ").")
    if CHOICES:
        counts = {name: CHOICES.count(name) for name in dict.fromkeys(CHOICES)}
        lines.append("rnnlab automatic choice, runs per candidate: "
                     + ", ".join(f"{name} {count}" for name, count in counts.items()) + ".")
    if NOTES:
        lines.append("")
        lines.append("Fallbacks:")
        lines.extend(f"- {note}" for note in NOTES)
    text = "\n".join(lines) + "\n"

    sys.stderr.flush()
    print(text, end="", flush=True)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
