"""fit-many on this machine: 1,000 series of 100–300 monthly values, with the local default (a Dask
LocalCluster, one worker process per core, one thread each), for 1 worker and for 2.

Reports series per second for each (over the whole command, cluster start included, and over
the fitting alone: first result to last), the speed-up, and the overhead of the chunk size (series
per task) on a part of the panel. On a shared machine the wall clock says how much CPU the
workers got: the benchmark also reports the workers' CPU seconds per series (``getrusage`` of
the finished worker processes) and their share of the cores, and the load average. Small training settings keep the run to minutes: preset auto
with ``train.steps`` 20, ``train.ensemble`` 1 and ``data.horizon`` 6 (the default preset, 200
steps × 3 members with the refit and the backtest, takes seconds per series here).

    nice -n 10 .venv/bin/python bench/many.py [--series 1000] [--chunk-series 200]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SETTINGS = {"seed": 0, "train.steps": 20, "train.ensemble": 1, "data.horizon": 6}


def write_panel(path: Path, count: int, seed: int = 0) -> Path:
    """A wide CSV: a month column and ``count`` series of 100–300 values, each ending on the last month."""
    rng = np.random.default_rng(seed)
    longest = 300
    months = [f"{1990 + m // 12}-{m % 12 + 1:02d}-01" for m in range(longest)]
    columns = []
    for i in range(count):
        length = int(rng.integers(100, 301))
        t = np.arange(length)
        level, slope, amp = rng.uniform(20, 200), rng.uniform(-0.05, 0.3), rng.uniform(0.05, 0.3)
        values = level * (1 + amp * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 6))) + slope * t
        values = values + rng.normal(0, 0.03 * level, length)
        columns.append([""] * (longest - length) + [repr(float(v)) for v in np.maximum(values, 1.0)])
    lines = ["month," + ",".join(f"s{i:04d}" for i in range(count))]
    lines += [",".join([months[r], *(c[r] for c in columns)]) for r in range(longest)]
    path.write_text("\n".join(lines) + "\n")
    return path


def fit(panel, path: Path, runs: Path, workers: int, chunk_size: int | None = None) -> dict:
    from rnnlab.many.runner import fit_many
    from rnnlab.presets import resolve_config
    from rnnlab.store import RunStore

    base = resolve_config("auto", None, {**SETTINGS, "data.series": "csv", "data.csv": str(path),
                                         "data.time_column": "month"})
    stamps: list[float] = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # the worker processes count once they are joined
    start = time.perf_counter()
    summary = fit_many(panel, base, RunStore(runs), "bench", workers=workers, chunk_size=chunk_size,
                       on_progress=lambda done, total: stamps.append(time.perf_counter()))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    results = stamps[1:]  # the first call comes before any work
    fitting = results[-1] - results[0] if len(results) > 1 else float("nan")
    done_between = len(summary.stored) - summary.chunk_size  # the first result's chunk came before the clock
    return {"workers": summary.workers, "chunk": summary.chunk_size, "stored": len(summary.stored),
            "failed": len(summary.failed), "wall": wall, "per_s": len(summary.stored) / wall,
            "fit_per_s": done_between / fitting if fitting == fitting and fitting > 0 else float("nan"),
            "cpu_per_series": cpu / max(1, len(summary.stored)), "cpu_share": cpu / (wall * max(1, workers)),
            "load": os.getloadavg()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--chunk-series", type=int, default=200, help="series of the chunk-size runs (0: none)")
    args = parser.parse_args()
    from rnnlab.many.panel import read_panel

    print(f"{os.cpu_count()} cores; small settings: preset auto with {SETTINGS}", flush=True)
    with tempfile.TemporaryDirectory(prefix="rnnlab-bench-many-") as tmp:
        tmp = Path(tmp)
        path = write_panel(tmp / "panel.csv", args.series)
        panel = read_panel(path, "month")
        lengths = [len(s.values) for s in panel]
        print(f"{len(panel)} series of {min(lengths)}–{max(lengths)} values", flush=True)
        rows = []
        for workers in (1, 2):
            row = fit(panel, path, tmp / f"runs-{workers}", workers)
            rows.append(row)
            print(f"workers {row['workers']}  chunk {row['chunk']}  stored {row['stored']}  failed {row['failed']}  "
                  f"{row['wall']:.1f} s  {row['per_s']:.2f} series/s (whole command)  "
                  f"{row['fit_per_s']:.2f} series/s (fitting)  workers' CPU {row['cpu_per_series']:.3f} s/series, "
                  f"{100 * row['cpu_share']:.0f} % of {workers} core(s)  load average {row['load']:.1f}", flush=True)
        one, two = rows
        print(f"speed-up 2 workers / 1: {two['per_s'] / one['per_s']:.2f}x (whole command), "
              f"{two['fit_per_s'] / one['fit_per_s']:.2f}x (fitting)", flush=True)
        if args.chunk_series:
            part = panel[: args.chunk_series]
            for size in (1, None, 32):
                row = fit(part, path, tmp / f"chunk-{size}", 2, size)
                print(f"chunk {row['chunk']:>3} ({len(part)} series, 2 workers): {row['wall']:.1f} s, "
                      f"{row['per_s']:.2f} series/s (whole command), {row['fit_per_s']:.2f} series/s (fitting)",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
