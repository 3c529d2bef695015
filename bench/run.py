"""rnnlab's benchmark: one process, one run, every figure measured here (``make bench``).

Rows (wall time is the median of several repeats; "× (a)" is (a)'s time divided by the row's):

  (a) the seed program's algorithm in torch eager: nn.RNN(1, 4), one window per SGD step,
      20,000 steps — the reference;
  (b) the same per-sample training (seed preset) on the fast engine;
  (c) time to reach the seed program's median quality (one-step MSE <= 0.0018 and 10-step
      rollout RMSE <= 0.37 over the 560 windows, as ``rnnlab evaluate`` computes them) with the
      best batched configuration of each engine, for 5 seeds: the fewest steps that reach it
      (checked every few steps), then the time of a fresh run of that many steps;
  (d) ensembles of 64, 256 and 1,024 seed-preset models of 20,000 steps (fast engine);
  (e) forecasting 1,000 steps by carrying the state vs the seed's re-run (torch engine).

Peak memory is the highest resident set size sampled while the row ran, minus the size when it
started. ``--quick`` runs fewer repeats and smaller ensembles (a smoke test, not for the README).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rnnlab.presets import apply_overrides, preset  # noqa: E402
from rnnlab.evaluate import evaluate_seed_task  # noqa: E402
from rnnlab.model import SequenceModel  # noqa: E402
from rnnlab.training import train  # noqa: E402
from seed_program import seed_program  # noqa: E402  (bench/seed_program.py)

MSE_GOAL, RMSE_GOAL = 0.0018, 0.37  # the seed program's median quality (20,000 steps)
PAGE = os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Samples the resident set size every 2 ms in a thread; ``peak`` is the rise over the start."""

    def __init__(self):
        self.start = self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * PAGE

    def __enter__(self):
        self.start = self.rss()
        self.top = self.start
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.top = max(self.top, self.rss())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.top = max(self.top, self.rss())
        self.peak = self.top - self.start


def quality(model: SequenceModel, config) -> tuple[float, float]:
    m = evaluate_seed_task(model, config.data, 10)
    return m["one_step_mse"], m["rollout_rmse"]


def as_sequence_model(rnn: torch.nn.RNN) -> SequenceModel:
    model = SequenceModel(preset("seed").model)
    model.load_tensors({name: p.detach() for name, p in rnn.named_parameters()})
    return model.eval()


def reached(q: tuple[float, float]) -> bool:
    return q[0] <= MSE_GOAL and q[1] <= RMSE_GOAL


ROWS: list[dict] = []


def row(label: str, what: str, seconds: float, quality_text: str, memory: int, note: str = "") -> None:
    ROWS.append(dict(label=label, what=what, seconds=seconds, quality=quality_text, memory=memory, note=note))
    print(f"  {label:<5} {seconds:9.4f} s  {what}  [{quality_text}] {note}", file=sys.stderr, flush=True)


def fmt_quality(qs: list[tuple[float, float]]) -> str:
    mse = statistics.median(q[0] for q in qs)
    rmse = statistics.median(q[1] for q in qs)
    ok = sum(reached(q) for q in qs)
    return f"MSE {mse:.5f}, RMSE {rmse:.3f}, {ok}/{len(qs)} reach"


def seed_config(seed: int, **overrides):
    return apply_overrides(preset("seed"), {"seed": seed, **overrides})


def steps_to_quality_fast(config, check_every: int, max_steps: int):
    """Fewest steps (a multiple of check_every) after which the fast engine's model reaches the goal.

    The compiled loop resumes where it stopped, so checking every few steps costs one run.
    """
    from rnnlab.fast import loop, mt
    from rnnlab.training import compiled as engine

    lay, p, _ = engine.problem(config)
    model = engine.initial_model(config, config.seed)
    theta = lay.pack(model.tensors())
    state = mt.state_of(random.Random(config.seed))
    m, v = np.zeros(lay.size), np.zeros(lay.size)
    done, q = 0, None
    while done < max_steps:
        losses = np.empty(check_every)
        loop.train_steps(p, theta, state, done, engine.learning_rates(config, done, check_every), m, v, losses)
        done += check_every
        engine.load_into(model, lay, theta)
        q = quality(model, config)
        if reached(q):
            return done, q
    return None, q


def steps_to_quality_torch(config, check_every: int, max_steps: int):
    """The same for the torch engine: its model is checked every few steps during one run."""
    import rnnlab.training.windowed as batched

    made, found = [], {}

    class Recording(batched.SequenceModel):  # keeps a handle on the model the loop trains
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    def on_step(step, total, loss):
        if step % check_every == 0 and not found:
            q = quality(made[-1], config)
            if reached(q):
                found.update(step=step, q=q)

    original, batched.SequenceModel = batched.SequenceModel, Recording
    try:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, steps=max_steps))
        train(config, on_step=on_step, should_stop=lambda: bool(found))
    finally:
        batched.SequenceModel = original
    return found.get("step"), found.get("q") or quality(made[-1], config)


def time_to_quality(engine: str, overrides: dict, seeds: list[int], check_every: int, max_steps: int, repeats: int):
    """Per seed: fewest steps (multiple of check_every) reaching the goal, and a fresh run's wall time."""
    results = []
    for seed in seeds:
        config = seed_config(seed, **{"train.steps": max_steps, "train.engine": engine, **overrides})
        search = steps_to_quality_fast if engine == "fast" else steps_to_quality_torch
        steps, q = search(config, check_every, max_steps)
        if steps is None:
            results.append((seed, None, math.inf, q))
            continue
        config = seed_config(seed, **{"train.steps": steps, "train.engine": engine, **overrides})
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            result = train(config)
            times.append(time.perf_counter() - started)
        results.append((seed, steps, statistics.median(times), quality(result.model, result.config)))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller ensembles (smoke test)")
    args = parser.parse_args(argv)
    quick = args.quick
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    steps = 2000 if quick else 20000
    repeats_a, repeats_b = (1, 2) if quick else (3, 5)
    ensembles = (8, 16) if quick else (64, 256, 1024)

    print("rnnlab benchmark", file=sys.stderr)
    # Compile (or load from the on-disk cache) before timing anything.
    started = time.perf_counter()
    train(seed_config(0, **{"train.steps": 10, "train.engine": "fast"}))
    train(seed_config(0, **{"train.steps": 10, "train.engine": "fast", "train.ensemble": 2}))
    warm = time.perf_counter() - started

    # (a) the seed program in torch eager
    with PeakMemory() as mem:
        times, qs = [], []
        for seed in range(repeats_a):
            t0 = time.perf_counter()
            rnn = seed_program(seed, steps)
            times.append(time.perf_counter() - t0)
            qs.append(quality(as_sequence_model(rnn), preset("seed")))
    reference = statistics.median(times)
    row("(a)", f"seed program, torch eager, {steps:,} per-sample SGD steps (median of {repeats_a} seeds)",
        reference, fmt_quality(qs), mem.peak)

    # (b) the same on the fast engine
    with PeakMemory() as mem:
        times, qs = [], []
        for seed in range(repeats_b):
            t0 = time.perf_counter()
            result = train(seed_config(seed, **{"train.steps": steps, "train.engine": "fast"}))
            times.append(time.perf_counter() - t0)
            qs.append(quality(result.model, result.config))
    row("(b)", f"seed preset, fast engine, {steps:,} per-sample SGD steps (median of {repeats_b} seeds)",
        statistics.median(times), fmt_quality(qs), mem.peak)

    # fidelity of (b): the same run in torch float64 (same initial weights, same windows)
    from rnnlab.data import SeedWindows, series_values
    from rnnlab.training.compiled import train_compiled_exact as run_fast

    fid_steps = steps
    config = seed_config(1, **{"train.steps": fid_steps, "train.engine": "fast"})
    _, weights = run_fast(config)
    rng = random.Random(1)
    torch.manual_seed(1)
    model = SequenceModel(config.model).double()
    windows = SeedWindows(config.data, rng)
    series = torch.tensor(series_values(config.data).astype(np.float32).astype(np.float64))
    optimizer = torch.optim.SGD(model.parameters(), lr=config.train.lr)
    for _ in range(fid_steps):
        w = windows.draw()
        prediction, _ = model(series[w.start : w.end].view(1, -1, 1))
        loss = (prediction[0, -1] - series[w.end]) ** 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    fidelity = max(float(np.max(np.abs(weights[k] - v.numpy()))) for k, v in model.tensors().items())

    # (c) time to the seed's median quality, best batched configuration of each engine
    seeds = list(range(2 if quick else 5))
    # adam, lr 0.1, 8 windows a step: the best of a small search on the fast engine (batch sizes
    # 0/4/8/16/32, lr 0.02-0.2); the torch engine runs the same configuration
    best = {"train.optimizer": "adam", "train.lr": 0.1, "train.batch_size": 8}
    configs = {"fast": (best, 5, 3000), "torch": (best, 25, 3000)}
    for engine, (overrides, every, limit) in configs.items():
        with PeakMemory() as mem:
            results = time_to_quality(engine, overrides, seeds, every, limit, 1 if engine == "torch" else 5)
        ok = [r for r in results if r[1] is not None]
        median = statistics.median(r[2] for r in ok) if ok else math.inf  # over the seeds that reach it
        described = ", ".join(f"{k.split('.')[1]} {v}" for k, v in overrides.items())
        row("(c)", f"{engine}: {described}; steps needed {[r[1] for r in results]} (seeds {seeds})",
            median, fmt_quality([r[3] for r in results]), mem.peak,
            note=f"time: median over the {len(ok)} of {len(results)} seeds that reach the goal within {limit:,} steps")

    # (d) ensembles on the fast engine: the exact per-member path and the SIMD lanes, same seeds
    from rnnlab.evaluate import evaluate_ensemble
    from rnnlab.fast import lanes
    from rnnlab.training.compiled import run_compiled

    for count in ensembles:
        config = seed_config(0, **{"train.steps": steps, "train.engine": "fast", "train.ensemble": count})
        seconds = {}
        for path, exact in (("exact per-member path", True), (f"SIMD lanes, {lanes.WIDTH} members a group", False)):
            with PeakMemory() as mem:
                t0 = time.perf_counter()
                run = run_compiled(config, list(range(count)), exact=exact)
                seconds[exact] = time.perf_counter() - t0
            ev = evaluate_ensemble(config, run.models, 10)
            spread = ev["members"]
            mse, rmse = spread["one_step_mse"], spread["rollout_rmse"]
            speed = f"; {seconds[True] / seconds[False]:.2f}× the exact path" if not exact else ""
            row("(d)", f"ensemble of {count:,} seed-preset models, {steps:,} steps each, {path}", seconds[exact],
                f"members' one-step MSE p10/median/p90 {mse['p10']:.5f}/{mse['median']:.5f}/{mse['p90']:.5f}, "
                f"rollout RMSE {rmse['p10']:.3f}/{rmse['median']:.3f}/{rmse['p90']:.3f}{speed}", mem.peak)

    # (e) forecasting 1,000 steps on the torch engine
    from rnnlab.data import series_values as values_of
    from rnnlab.forecasting import forecast, forecast_rerun

    model = as_sequence_model(seed_program(0, 200))
    context = values_of(preset("seed").data)[16:22].tolist()
    with PeakMemory() as mem:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            carried = forecast(model, context, 1000)
            times.append(time.perf_counter() - t0)
    row("(e)", "forecast 1,000 steps, state carried (torch engine)", statistics.median(times), "-", mem.peak)
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        rerun = forecast_rerun(model, context, 1000)
        seconds = time.perf_counter() - t0
    row("(e)", "forecast 1,000 steps, the seed's re-run from a zero state each step", seconds,
        f"max abs(carried - re-run) {float(np.max(np.abs(carried - rerun))):.1e}; carried is "
        f"{seconds / statistics.median(times):,.0f}× faster", mem.peak)

    # the table (stdout)
    import numba

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"machine: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, torch {torch.__version__}, "
          f"numba {numba.__version__}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"fast engine warm-up (load from cache or compile): {warm:.2f} s; fidelity of (b): max |w_fast - "
          f"w_torch_float64| after {fid_steps:,} steps = {fidelity:.1e}")
    print()
    print("| row | what | wall time | × (a) | quality | peak memory |")
    print("|---|---|---:|---:|---|---:|")
    for r in ROWS:
        compared = r["label"] in ("(a)", "(b)", "(c)") and r["seconds"] > 0 and math.isfinite(r["seconds"])
        ratio = f"{reference / r['seconds']:,.0f}" if compared else "-"
        quality_text = r["quality"] + (f"; {r['note']}" if r["note"] else "")
        print(f"| {r['label']} | {r['what']} | {r['seconds']:.4f} s | {ratio} | {quality_text} | "
              f"{r['memory'] / 2**20:.1f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
