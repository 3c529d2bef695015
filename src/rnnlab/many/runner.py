"""Fit a panel: chunks of series out to the workers, results back, the client alone stores them.

Where the work runs: ``workers=0`` in this process; by default a Dask ``LocalCluster`` with one
worker process per core (one thread each); ``cluster="tcp://host:8786"`` a running Dask
scheduler. Dask re-runs the tasks of a worker that dies. Each result is stored as it arrives
(``RunStore.save``, then its row in the group table), so an interrupted fit keeps every series
stored so far; the same command again skips the series whose newest run in the group has the
same config hash, and stores a series at most once. Ctrl-C (or SIGTERM) stops the loop between
two results; a second Ctrl-C raises ``KeyboardInterrupt`` at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from ..config import RunConfig
from ..errors import InputError, RunKeptError
from ..store import RunStore
from . import groups
from .panel import PanelSeries
from .work import Failed, Fitted, Task, fit_chunk, to_result

MAX_CHUNK = 8  # series per task at most (bench/many.py measures the overhead of smaller ones)
CHUNKS_PER_WORKER = 4  # at least this many tasks per worker while the panel allows: the slow ones even out


@dataclass
class Summary:
    """What a fit of a panel did."""

    group: str
    total: int
    stored: dict[str, str] = field(default_factory=dict)  # series id -> new run id
    skipped: dict[str, str] = field(default_factory=dict)  # series id -> run id already in the group
    failed: dict[str, str] = field(default_factory=dict)  # series id -> reason
    interrupted: str | None = None  # the signal that stopped the fit
    seconds: float = 0.0
    workers: int = 0
    chunk_size: int = 0
    notes: list[str] = field(default_factory=list)  # runs stored whose catalog row waits (RunKeptError)
    warnings: dict[str, str] = field(default_factory=dict)  # series id -> why its stored run has no metrics

    def to_dict(self) -> dict:
        return {"group": self.group, "series": self.total, "stored": len(self.stored), "skipped": len(self.skipped),
                "failed": [{"id": k, "reason": v} for k, v in self.failed.items()],
                "not_done": self.total - len(self.stored) - len(self.skipped) - len(self.failed),
                "warnings": [{"id": k, "warning": v} for k, v in self.warnings.items()],
                "interrupted": self.interrupted, "seconds": round(self.seconds, 3), "workers": self.workers,
                "chunk_size": self.chunk_size, "runs": {**self.skipped, **self.stored}}


def series_config(base: RunConfig, series: PanelSeries) -> RunConfig:
    """The config ``rnnlab train`` would use for this series alone: the base with its source."""
    fields = {"series": "csv", "csv": "", "column": "", "time_column": "", "dataset": "", **series.source}
    return dataclasses.replace(base, data=dataclasses.replace(base.data, **fields))


def config_hash(config: RunConfig, series: PanelSeries) -> str:
    """The config and the series' values and times, hashed: what resume compares."""
    text = json.dumps(config.to_dict(), sort_keys=True) + series.digest()
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def make_tasks(panel: list[PanelSeries], base: RunConfig) -> list[Task]:
    seen: set[str] = set()
    tasks = []
    for series in panel:
        if series.id in seen:
            raise InputError(f"series {series.id!r} appears twice in the panel")
        seen.add(series.id)
        config = series_config(base, series)
        tasks.append(Task(series.id, config.to_dict(), series.values, series.times, config_hash(config, series)))
    return tasks


def chunk_size_for(series: int, workers: int) -> int:
    """Series per task: ``CHUNKS_PER_WORKER`` tasks per worker at least, at most ``MAX_CHUNK`` series each."""
    return max(1, min(MAX_CHUNK, math.ceil(series / max(1, workers * CHUNKS_PER_WORKER))))


class _Stop:
    """SIGINT and SIGTERM set a flag the loop checks; a second SIGINT interrupts at once."""

    def __init__(self):
        self.received: int | None = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame):
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum


def fit_many(panel: list[PanelSeries], base: RunConfig, store: RunStore, group: str, *, workers: int | None = None,
             cluster: str | None = None, chunk_size: int | None = None,
             on_progress: Callable[[int, int], None] | None = None) -> Summary:
    """Fit every series of ``panel`` with ``base`` (its source replaced by each series') and
    store them as ``group``; see the module docstring. ``on_progress(done, total)`` after each result."""
    group = groups.check_group(group)
    if workers is not None and workers < 0:
        raise InputError(f"--workers must be >= 0, got {workers}")
    if workers is not None and cluster is not None:
        raise InputError("give --workers (processes on this machine) or --cluster (a Dask scheduler), not both")
    if chunk_size is not None and chunk_size < 1:
        raise InputError(f"--chunk-size must be >= 1, got {chunk_size}")
    start = time.perf_counter()
    tasks = make_tasks(panel, base)
    store.check()
    store.reconcile()
    summary = Summary(group, len(tasks))
    summary.notes.extend(groups.reconcile(store))
    done = groups.members(store, group)
    todo = []
    for task in tasks:
        entry = done.get(task.series_id)
        if entry is not None and entry["config_hash"] == task.config_hash:
            summary.skipped[task.series_id] = entry["run_id"]
        else:
            todo.append(task)

    def progress() -> None:
        if on_progress is not None:
            on_progress(len(summary.stored) + len(summary.skipped) + len(summary.failed), len(tasks))

    progress()
    with _Stop() as stop:
        if todo:
            if workers == 0 and cluster is None:
                _run_here(todo, store, group, summary, stop, chunk_size or 1, progress)
            else:
                _run_dask(todo, store, group, summary, stop, workers, cluster, chunk_size, progress)
        if stop.received is not None:
            summary.interrupted = signal.Signals(stop.received).name
    summary.seconds = time.perf_counter() - start
    return summary


def _chunks(tasks: list[Task], size: int) -> list[list[Task]]:
    return [tasks[i:i + size] for i in range(0, len(tasks), size)]


def _run_here(todo, store, group, summary, stop, size, progress) -> None:
    """In this process: each chunk on a thread, so that a signal reaches ``stop`` (the main
    thread's handler) and stops the training between two steps."""
    summary.workers, summary.chunk_size = 0, size
    stopping = lambda: stop.received is not None  # noqa: E731
    for chunk in _chunks(todo, size):
        if stopping():
            return
        box: dict = {}
        thread = threading.Thread(target=lambda: box.update(out=fit_chunk(chunk, stopping)), daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.05)
        outcomes = box.get("out") or [Failed(t.series_id, "its worker thread ended without a result") for t in chunk]
        for outcome in outcomes:
            if isinstance(outcome, Fitted) and outcome.signal is not None:
                return
            _keep(outcome, store, group, summary)
        progress()


def _run_dask(todo, store, group, summary, stop, workers, cluster, chunk_size, progress) -> None:
    from ..optional import require

    distributed = require("distributed", "fitting many series")
    local = None
    try:
        if cluster is not None:
            client = _connect(distributed, cluster)
        else:
            # the worker processes start with SIGINT ignored (kept across exec): a Ctrl-C in the
            # terminal reaches the whole process group, and only this process handles it
            main = threading.current_thread() is threading.main_thread()
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
            try:
                local = distributed.LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                                 processes=True, dashboard_address="127.0.0.1:0",
                                                 silence_logs=logging.ERROR)
            finally:
                if main:
                    signal.signal(signal.SIGINT, previous)
            client = distributed.Client(local)
        try:
            count = len(client.scheduler_info().get("workers", {})) or 1
            summary.workers = count
            size = summary.chunk_size = chunk_size or chunk_size_for(len(todo), count)
            futures = {client.submit(fit_chunk, chunk, pure=False): chunk for chunk in _chunks(todo, size)}
            pending = distributed.as_completed(list(futures))
            while not pending.is_empty():
                if stop.received is not None:
                    break
                if not pending.has_ready():
                    time.sleep(0.05)
                    continue
                for future in pending.next_batch(block=False):
                    if stop.received is not None:
                        break
                    try:
                        outcomes = future.result()
                    except Exception as exc:  # the task itself failed (its workers died too often)
                        outcomes = [Failed(t.series_id, f"{type(exc).__name__}: {exc}") for t in futures[future]]
                    for outcome in outcomes:
                        _keep(outcome, store, group, summary)
                    future.release()
                    progress()
            client.cancel(list(futures))
        finally:
            client.close()
    finally:
        if local is not None:
            local.close()


def _connect(distributed, address: str):
    if not isinstance(address, str) or "://" not in address:
        raise InputError(f"--cluster must be a scheduler address such as tcp://host:8786, got {str(address)[:80]!r}")
    try:
        return distributed.Client(address, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"no Dask scheduler answers at {address!r} ({exc}); start one with 'dask scheduler'") from None


def _keep(outcome, store: RunStore, group: str, summary: Summary) -> None:
    """Store a fitted series once, or note why it failed."""
    sid = outcome.series_id
    if sid in summary.stored:
        return
    if isinstance(outcome, Failed):
        summary.failed[sid] = outcome.reason
        return
    result = to_result(outcome)
    notes = {**outcome.notes, **groups.note(group, sid, outcome.config_hash)}
    if outcome.evaluation_error:
        notes["evaluation_error"] = outcome.evaluation_error
        summary.warnings[sid] = outcome.evaluation_error
    try:
        run_id = store.save(result, outcome.metrics, name=f"{group}:{sid}"[:200], backtest=outcome.backtest, series=outcome.series, notes=notes)
    except RunKeptError as exc:
        run_id = exc.run_id
        summary.notes.append(str(exc))
    groups.record(store, run_id, group, sid, outcome.config_hash)
    summary.failed.pop(sid, None)
    summary.stored[sid] = run_id
