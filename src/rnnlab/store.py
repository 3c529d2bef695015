"""The run store: one directory per run and a SQLite catalog listing them.

::

    runs/                         (--runs-dir, or $RNNLAB_RUNS_DIR, or ./runs)
      runs.db                     catalog: id, name, created, status, steps, config, metrics
      20261129-214055-seed-s7-3fa2/
        config.json               RunConfig, enough to rebuild the model
        model.safetensors         parameters under torch's names (weight_ih_l0, ...)
        history.json              loss of every step
        run.json                  status, times, the forecast context drawn after training,
                                  the series' split and scaling ("data")
        metrics.json              evaluation results
        series.csv                csv and dataset runs: the series trained on, with its dates
        ensemble.safetensors      ensemble runs only: every member's parameters, stacked, under
                                  the same names with a leading member dimension
                                  (weight_ih_l0: (members, 4, 1), ...); member i has seed
                                  seed + i, and member 0 is also model.safetensors

Saving is a transaction: the run is written whole into a hidden staging directory, flushed and
renamed into place, and only then does the catalog get its row; from the rename on, nothing
deletes it. A directory the catalog does not list (its writer was killed before the row, or the
catalog stayed locked) is added by the next command that lists the runs; a staging directory
left by a killed write is removed (``runfiles``). Loading never unpickles and never trusts a file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import catalog as catalog_module, hooks, runfiles
from .catalog import Catalog
from .config import RunConfig
from .errors import CatalogError, ConfigError, InputError, RunCorruptError, RunKeptError, RunNotFoundError, StoreError
from .runfiles import SERIES_FILE, STAGING, TRASH, write_atomic  # noqa: F401  (write_atomic re-exported)

ENV_RUNS_DIR = "RNNLAB_RUNS_DIR"
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MIN_FREE_BYTES = 1_000_000  # refuse to start a training that could not be stored


def default_runs_dir() -> Path:
    return Path(os.environ.get(ENV_RUNS_DIR) or "runs")


def check_run_id(run_id: str) -> str:
    """A run id is a plain directory name: letters, digits, '.', '_', '-'; no path."""
    if not isinstance(run_id, str) or not RUN_ID.match(run_id) or ".." in run_id:
        raise InputError(
            f"run id must be a directory name of letters, digits, '.', '_' and '-', got {str(run_id)[:140]!r}"
        )
    return run_id


def check_name(name: str | None) -> str | None:
    """A run's name: None, or a string of at most ``limits.NAME`` characters."""
    from .limits import NAME

    if name is not None and (not isinstance(name, str) or len(name) > NAME):
        raise InputError(f"run name must be a string of at most {NAME} characters, got {len(str(name))} "
                         f"characters ({str(name)[:40]!r}...)")
    return name


@dataclass
class Run:
    """A stored run, loaded: the model is ready to forecast."""

    id: str
    path: Path
    config: RunConfig  # as the run is used: a csv or dataset run reads the series stored with it
    model: Any  # SequenceModel
    history: list[float]
    info: dict[str, Any]  # run.json: status, created, seconds, context, message
    metrics: dict[str, Any] = field(default_factory=dict)
    members: list[Any] | None = None  # ensemble runs: a SequenceModel per member (member 0 = model)
    trained_config: RunConfig | None = None  # config.json as trained (the original csv path)

    @property
    def status(self) -> str:
        return self.info.get("status", "unknown")


class RunStore:
    """Run directories under ``root`` and their catalog ``root/runs.db``."""

    def __init__(self, root: str | Path | None = None):
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise InputError(f"runs directory must be a path, got {type(root).__name__}")
        self.root = Path(root) if root is not None else default_runs_dir()
        self.catalog = Catalog(self.root)
        self.notes: list[str] = []  # what the last reconcile did, for the command line to say

    # -- catalog ----------------------------------------------------------------------------
    def check(self) -> None:
        """Raise a one-line ``RnnlabError`` now when a run could not be stored here: not a
        directory, a read-only or full disk, a catalog that cannot be used (one that another
        process is writing is fine: saving waits for it, or keeps the run on disk)."""
        runfiles.check_root(self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"runs directory {str(self.root)!r} cannot be created: "
                             f"{runfiles.disk_message(exc, self.root)}") from None
        probe = self.root / f".probe-{uuid.uuid4().hex[:8]}"
        try:
            runfiles.write_file(probe, b"rnnlab")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"runs directory cannot hold a run: {runfiles.disk_message(exc, self.root)}") from None
        free = shutil.disk_usage(self.root).free
        if free < MIN_FREE_BYTES:
            raise StoreError(f"runs directory {str(self.root)!r} has {free} bytes free; storing a run needs "
                             f"at least {MIN_FREE_BYTES}")
        self.catalog.probe()
        self.reconcile()  # what a killed write left is swept now (``notes`` says what)

    def list(self) -> list[dict[str, Any]]:
        """Catalog rows, oldest first; runs on disk that the catalog misses are added first."""
        runfiles.check_root(self.root)
        if not self.root.is_dir():
            return []
        self.reconcile()
        if not self.catalog.exists():  # a read-only directory without a catalog: read the runs
            return sorted((r for r in map(self.row_of, self.run_dirs()) if r), key=lambda r: (r["created"], r["id"]))
        return self.catalog.rows()

    def run_dirs(self) -> list[Path]:
        """Directories under root that are runs (they hold a run.json or a config.json)."""
        found = []
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False) and RUN_ID.match(entry.name):
                path = Path(entry.path)
                if (path / "run.json").exists() or (path / "config.json").exists():
                    found.append(path)
        return found

    def row_of(self, path: Path) -> dict[str, Any] | None:
        """The catalog row of a complete run directory, from its files (None when it is incomplete)."""
        try:
            if not (path / "model.safetensors").is_file():
                return None
            info = runfiles.read_info(path / "run.json")
            config = runfiles.read_json(path / "config.json", "config")
            metrics = runfiles.read_json(path / "metrics.json", "metrics") if (path / "metrics.json").exists() else {}
        except RunCorruptError:
            return None
        return {"id": path.name, "name": info.get("name") or path.name, "status": info.get("status", "unknown"),
                "created": info.get("created") or "", "steps": int(info.get("steps", 0)),
                "config": config, "metrics": metrics}

    def reconcile(self) -> list[str]:
        """Sweep what killed writes and removals left: staging directories whose writer is gone
        are removed, a run directory without a row gets one, a half-done removal is finished.
        Returns (and keeps in ``notes``) one line per change; a read-only directory is left as is."""
        self.notes = []
        if not os.access(self.root, os.W_OK):
            return self.notes
        for entry in os.scandir(self.root):
            path = Path(entry.path)
            if entry.name.startswith(STAGING) and entry.is_dir() and runfiles.stale_staging(path):
                runfiles.remove_staging(path)
                self.notes.append(f"removed {entry.name}, left by a write that was killed")
        trash = [Path(e.path) for e in os.scandir(self.root) if e.name.startswith(TRASH) and e.is_dir()]
        known = self.catalog.ids()
        orphans = [p for p in self.run_dirs() if p.name not in known]
        if not orphans and not trash:
            return self.notes

        def change(db):
            ids = {r[0] for r in db.execute("SELECT id FROM runs")}
            for path in trash:  # ".trash-<id>-<random>": restore it while its row stands
                run_id = path.name[len(TRASH):].rsplit("-", 1)[0]
                if run_id in ids and not (self.root / run_id).exists() and path.exists():
                    os.replace(path, self.root / run_id)
                    self.notes.append(f"restored {run_id}, whose removal was interrupted")
                else:
                    shutil.rmtree(path, ignore_errors=True)
            for path in orphans:
                row = self.row_of(path) if path.is_dir() and path.name not in ids else None
                if row is not None:
                    catalog_module.insert(db, row)
                    self.notes.append(f"added {path.name} to the catalog (its directory was not listed)")

        self.catalog.write(change)
        return self.notes

    def path(self, run_id: str) -> Path:
        return self.root / check_run_id(run_id)

    def resolve(self, run_id: str) -> str:
        """A run id, with ``latest`` for the newest run."""
        return self.latest() if run_id == "latest" else check_run_id(run_id)

    def exists(self, run_id: str) -> bool:
        return (self.path(run_id) / "config.json").is_file()

    # -- writing ----------------------------------------------------------------------------
    def new_id(self, config: RunConfig) -> str:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{config.preset}-s{config.seed}-{uuid.uuid4().hex[:4]}"

    def save(self, result, metrics: dict[str, Any] | None = None, name: str | None = None,
             backtest: dict[str, Any] | None = None, series=None, notes: dict[str, Any] | None = None) -> str:
        """Store a ``TrainResult``; returns the new run id. ``backtest``: for a model refitted on
        every value, the held-out fractions (and steps) its metrics were measured with. ``series``:
        the ``Series`` a csv or dataset run trained on, stored with it. ``notes``: more run.json keys.

        Raises ``RunKeptError`` when the run is stored but the catalog could not list it yet."""
        from .training import TrainResult

        if not isinstance(result, TrainResult):
            raise InputError(f"result must be a TrainResult, got {type(result).__name__}")
        config: RunConfig = result.config
        check_name(name)
        runfiles.check_root(self.root)
        run_id = self.new_id(config)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        info = {
            "id": run_id, "name": name or run_id, "created": created, "status": result.status,
            "steps": result.steps_done, "seconds": round(result.seconds, 6), "message": result.message,
            "context": None if result.context is None else [result.context.start, result.context.end],
        }
        if result.data:  # split boundaries and scaling, to invert every output of the run
            info["data"] = dict(result.data)
        if backtest:
            info["backtest"] = backtest
        info.update(notes or {})
        files = self._payloads(result, config, metrics or {}, info, series)
        final = self.root / run_id
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with runfiles.staging(self.root, run_id) as tmp:
                for index, (file_name, payload) in enumerate(files.items()):
                    runfiles.write_file(tmp / file_name, payload)
                    if index == 1:
                        hooks.point("store-write")
                runfiles.fsync_dir(tmp)
                os.replace(tmp, final)
                runfiles.fsync_dir(self.root)
        except OSError as exc:
            raise StoreError(f"run {run_id} could not be stored: {runfiles.disk_message(exc, self.root)}") from None
        hooks.point("store-renamed")
        row = {"id": run_id, "name": info["name"], "created": created, "status": result.status,
               "steps": result.steps_done, "config": config.to_dict(), "metrics": metrics or {}}
        try:
            self.catalog.write(lambda db: catalog_module.insert(db, row))
        except CatalogError as exc:
            raise RunKeptError(f"run {run_id} is stored in {str(final)!r}, but the catalog could not list it "
                               f"({exc}); the next 'rnnlab runs list' (or 'rnnlab runs check --repair') adds it",
                               run_id) from None
        hooks.point("store-committed")
        return run_id

    def _payloads(self, result, config: RunConfig, metrics: dict, info: dict, series) -> dict[str, bytes]:
        """Every file of the run, rendered in memory (so that a bad value fails before any write)."""
        files = {"config.json": runfiles.to_json(config.to_dict()).encode()}
        weights = getattr(result, "weights", None)
        if weights is not None:  # the compiled engine's ArrayModel: stored from numpy, no torch
            from safetensors.numpy import save as save_arrays

            files["model.safetensors"] = save_arrays(weights.arrays())
        else:
            from safetensors.torch import save

            files["model.safetensors"] = save(result.model.tensors())
        member_weights = getattr(result, "member_weights", None)
        members = None if member_weights else getattr(result, "members", None)
        if member_weights and len(member_weights) > 1:  # the compiled engine's members: from numpy
            import numpy as np
            from safetensors.numpy import save as save_arrays

            arrays = [w.arrays() for w in member_weights]
            files["ensemble.safetensors"] = save_arrays({name: np.stack([a[name] for a in arrays])
                                                         for name in arrays[0]})  # (members, *shape)
        if members and len(members) > 1:
            import torch
            from safetensors.torch import save

            stacked = {name: torch.stack([m.tensors()[name] for m in members])
                       for name in result.model.tensors()}  # (members, *shape)
            files["ensemble.safetensors"] = save(stacked)
        if series is not None:
            from .data.stored import series_csv

            files[SERIES_FILE] = series_csv(series)
            info.setdefault("data", {})["stored_series"] = SERIES_FILE
        files["history.json"] = runfiles.to_json({"loss": result.history}).encode()
        files["metrics.json"] = runfiles.to_json(metrics).encode()
        files["run.json"] = runfiles.to_json(info).encode()  # last: a run.json means the rest is there
        return files

    def update_metrics(self, run_id: str, metrics: dict[str, Any]) -> None:
        """Replace a run's metrics (file first, then catalog)."""
        path = self.path(run_id)
        if not self.exists(run_id):
            raise RunNotFoundError(f"run {run_id!r} does not exist in {str(self.root)!r}")
        try:
            write_atomic(path / "metrics.json", runfiles.to_json(metrics))
        except OSError as exc:
            raise StoreError(f"metrics of run {run_id} could not be written: {runfiles.disk_message(exc, path)}") from None
        self.catalog.write(lambda db: db.execute("UPDATE runs SET metrics = ? WHERE id = ?",
                                                 (json.dumps(runfiles.finite(metrics)), run_id)))

    def remove(self, run_id: str) -> str:
        """Delete a run (``latest`` names the newest): its directory and its catalog row, in one
        transaction; a row whose directory is already gone is removed too. Returns the id."""
        run_id = self.resolve(run_id)
        path = self.path(run_id)
        runfiles.check_root(self.root)
        trash = self.root / f"{TRASH}{run_id}-{uuid.uuid4().hex[:6]}"

        def change(db):
            listed = db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is not None
            if not listed and path.is_dir() and not any((path / f).exists() for f in ("run.json", "config.json")):
                raise RunNotFoundError(f"run {run_id!r} does not exist in {str(self.root)!r} (a directory there "
                                       "that is not a run is left alone)")
            try:
                os.replace(path, trash)
            except FileNotFoundError:
                if not listed:
                    raise RunNotFoundError(f"run {run_id!r} does not exist in {str(self.root)!r} "
                                           "(already removed?)") from None
            except OSError as exc:
                raise StoreError(f"run {run_id} cannot be removed: {runfiles.disk_message(exc, self.root)}") from None
            hooks.point("remove-moved")
            db.execute("DELETE FROM runs WHERE id = ?", (run_id,))

        if not self.root.is_dir():
            raise RunNotFoundError(f"run {run_id!r} does not exist in {str(self.root)!r}")
        self.catalog.write(change)
        shutil.rmtree(trash, ignore_errors=True)
        return run_id

    # -- reading ----------------------------------------------------------------------------
    def load(self, run_id: str) -> Run:
        """Load a run (``latest`` names the newest): config, model (weights checked against the
        config: float32, finite, the right shapes), history, metrics, its stored series."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from .model import SequenceModel

        run_id = self.resolve(run_id)
        path = self.path(run_id)
        runfiles.check_root(self.root)
        if not path.is_dir():
            raise RunNotFoundError(f"run {run_id!r} does not exist in {str(self.root)!r}")
        raw = runfiles.read_json(path / "config.json", "config")
        try:
            config = RunConfig.from_dict(raw)
        except ConfigError as exc:
            raise RunCorruptError(f"run {run_id!r}: config.json cannot rebuild the model: {exc}") from None
        weights = path / "model.safetensors"
        if not weights.is_file():
            raise RunCorruptError(f"run {run_id!r}: model.safetensors is missing")
        try:
            tensors = load_file(str(weights))
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise RunCorruptError(f"run {run_id!r}: model.safetensors is not a valid safetensors file ({exc})") from None
        model = SequenceModel(config.model)
        try:
            model.load_tensors(runfiles.check_tensors(tensors, f"run {run_id!r}: model.safetensors"))
        except RunCorruptError as exc:
            raise RunCorruptError(f"run {run_id!r}: {exc}".replace(f"run {run_id!r}: run {run_id!r}", f"run {run_id!r}")) from None
        model.eval()
        members = self._load_members(run_id, path, config) if (path / "ensemble.safetensors").exists() else None
        history = runfiles.read_history(path / "history.json")
        info = runfiles.read_info(path / "run.json")
        metrics = runfiles.read_json(path / "metrics.json", "metrics") if (path / "metrics.json").exists() else {}
        return Run(run_id, path, self._using_stored_series(config, path, info), model, history, info, metrics,
                   members, config)

    @staticmethod
    def _using_stored_series(config: RunConfig, path: Path, info: dict) -> RunConfig:
        """A csv or dataset run reads the series stored in its directory, not the original file."""
        data = info.get("data") if isinstance(info.get("data"), dict) else {}
        if data.get("stored_series") != SERIES_FILE or not (path / SERIES_FILE).is_file():
            return config
        from .data.stored import stored_source

        return dataclasses.replace(config, data=stored_source(config.data, path / SERIES_FILE))

    def _load_members(self, run_id: str, path: Path, config: RunConfig) -> list[Any]:
        """The members of an ensemble run, from ensemble.safetensors (leading member dimension)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from .model import SequenceModel

        try:
            stacked = load_file(str(path / "ensemble.safetensors"))
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise RunCorruptError(f"run {run_id!r}: ensemble.safetensors is not a valid safetensors file ({exc})") from None
        stacked = runfiles.check_tensors(stacked, f"run {run_id!r}: ensemble.safetensors")
        counts = {t.shape[0] if t.dim() else 0 for t in stacked.values()}
        if len(counts) != 1 or 0 in counts:
            raise RunCorruptError(f"run {run_id!r}: ensemble.safetensors tensors disagree on the member count")
        members = []
        for i in range(counts.pop()):
            member = SequenceModel(config.model)
            try:
                member.load_tensors({name: t[i] for name, t in stacked.items()})
            except RunCorruptError as exc:
                raise RunCorruptError(f"run {run_id!r}: ensemble member {i}: {exc}") from None
            member.eval()
            members.append(member)
        return members

    def latest(self) -> str:
        """Id of the newest run in the catalog whose directory is there."""
        rows = [row for row in self.list() if (self.root / row["id"]).is_dir()]
        if not rows:
            raise RunNotFoundError(f"no runs in {str(self.root)!r}; train one with 'rnnlab train'")
        return rows[-1]["id"]
