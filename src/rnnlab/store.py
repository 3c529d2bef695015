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
        ensemble.safetensors      ensemble runs only: every member's parameters, stacked, under
                                  the same names with a leading member dimension
                                  (weight_ih_l0: (members, 4, 1), ...); member i has seed
                                  seed + i, and member 0 is also model.safetensors

A run is written into a hidden temporary directory and renamed into place; only then does the
catalog get its row, so a row never points at a half-written run. Loading never unpickles.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import sqlite3
import tempfile
import uuid
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .config import RunConfig
from .errors import ConfigError, InputError, RunCorruptError, RunNotFoundError, RnnlabError

ENV_RUNS_DIR = "RNNLAB_RUNS_DIR"
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    created  TEXT NOT NULL,
    status   TEXT NOT NULL,
    steps    INTEGER NOT NULL,
    config   TEXT NOT NULL,
    metrics  TEXT NOT NULL
)
"""


def default_runs_dir() -> Path:
    return Path(os.environ.get(ENV_RUNS_DIR) or "runs")


def check_run_id(run_id: str) -> str:
    """A run id is a plain directory name: letters, digits, '.', '_', '-'; no path."""
    if not isinstance(run_id, str) or not RUN_ID.match(run_id) or ".." in run_id:
        raise InputError(
            f"run id must be a directory name of letters, digits, '.', '_' and '-', got {run_id!r}"
        )
    return run_id


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and a rename."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _finite(data: Any) -> Any:
    """JSON has no NaN/inf: store them as null."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data


def _json(data: Any) -> str:
    return json.dumps(_finite(data), indent=2, allow_nan=False) + "\n"


@dataclass
class Run:
    """A stored run, loaded: the model is ready to forecast."""

    id: str
    path: Path
    config: RunConfig
    model: Any  # SequenceModel
    history: list[float]
    info: dict[str, Any]  # run.json: status, created, seconds, context, message
    metrics: dict[str, Any] = field(default_factory=dict)
    members: list[Any] | None = None  # ensemble runs: a SequenceModel per member (member 0 = model)

    @property
    def status(self) -> str:
        return self.info.get("status", "unknown")


class RunStore:
    """Run directories under ``root`` and their catalog ``root/runs.db``."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_runs_dir()

    # -- catalog ----------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RnnlabError(f"runs directory {str(self.root)!r} cannot be created: {exc.strerror}") from None
        db = sqlite3.connect(self.root / "runs.db", timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(_SCHEMA)
        return db

    def check(self) -> None:
        """Raise ``RnnlabError`` now when the runs directory or its catalog cannot be used."""
        self._connect().close()

    def list(self) -> list[dict[str, Any]]:
        """Catalog rows, oldest first."""
        if not (self.root / "runs.db").exists():
            return []
        with closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM runs ORDER BY created, id").fetchall()
        return [
            {**dict(row), "config": json.loads(row["config"]), "metrics": json.loads(row["metrics"])}
            for row in rows
        ]

    def path(self, run_id: str) -> Path:
        return self.root / check_run_id(run_id)

    def exists(self, run_id: str) -> bool:
        return (self.path(run_id) / "config.json").is_file()

    # -- writing ----------------------------------------------------------------------------
    def new_id(self, config: RunConfig) -> str:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{config.preset}-s{config.seed}-{uuid.uuid4().hex[:4]}"

    def save(self, result, metrics: dict[str, Any] | None = None, name: str | None = None,
             backtest: dict[str, Any] | None = None) -> str:
        """Store a ``TrainResult``; returns the new run id. ``backtest``: for a model refitted on
        every value, the held-out fractions (and steps) its metrics were measured with."""
        from safetensors.torch import save_file

        config: RunConfig = result.config
        run_id = self.new_id(config)
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        info = {
            "id": run_id,
            "name": name or run_id,
            "created": created,
            "status": result.status,
            "steps": result.steps_done,
            "seconds": round(result.seconds, 6),
            "message": result.message,
            "context": None if result.context is None else [result.context.start, result.context.end],
        }
        if result.data:  # split boundaries and scaling, to invert every output of the run
            info["data"] = result.data
        if backtest:
            info["backtest"] = backtest
        with closing(self._connect()) as db:
            final = self.root / run_id
            tmp = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=self.root))
            try:
                save_file(result.model.tensors(), str(tmp / "model.safetensors"))
                members = getattr(result, "members", None)
                if members and len(members) > 1:
                    import torch

                    stacked = {
                        name: torch.stack([m.tensors()[name] for m in members])
                        for name in result.model.tensors()
                    }  # (members, *shape)
                    save_file(stacked, str(tmp / "ensemble.safetensors"))
                write_atomic(tmp / "config.json", _json(config.to_dict()))
                write_atomic(tmp / "history.json", _json({"loss": result.history}))
                write_atomic(tmp / "metrics.json", _json(metrics or {}))
                write_atomic(tmp / "run.json", _json(info))
                os.replace(tmp, final)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            try:
                with db:
                    db.execute(
                        "INSERT INTO runs (id, name, created, status, steps, config, metrics)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (run_id, info["name"], created, result.status, result.steps_done,
                         json.dumps(config.to_dict()), json.dumps(_finite(metrics or {}))),
                    )
            except BaseException:
                shutil.rmtree(final, ignore_errors=True)
                raise
        return run_id

    def update_metrics(self, run_id: str, metrics: dict[str, Any]) -> None:
        """Replace a run's metrics (file first, then catalog)."""
        path = self.path(run_id)
        if not self.exists(run_id):
            raise RunNotFoundError(f"run {run_id!r} does not exist in {str(self.root)!r}")
        write_atomic(path / "metrics.json", _json(metrics))
        with closing(self._connect()) as db, db:
            db.execute("UPDATE runs SET metrics = ? WHERE id = ?", (json.dumps(_finite(metrics)), run_id))

    def remove(self, run_id: str) -> None:
        """Delete a run: its catalog row, then its directory."""
        path = self.path(run_id)
        if not path.is_dir():
            raise RunNotFoundError(f"run {run_id!r} does not exist in {str(self.root)!r}")
        trash = self.root / f".trash-{run_id}-{uuid.uuid4().hex[:6]}"
        os.replace(path, trash)
        try:
            with closing(self._connect()) as db, db:
                db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        except BaseException:
            os.replace(trash, path)
            raise
        shutil.rmtree(trash, ignore_errors=True)

    # -- reading ----------------------------------------------------------------------------
    def _read_json(self, path: Path, what: str) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunCorruptError(f"run file {str(path)!r} is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunCorruptError(f"run file {str(path)!r} is not valid JSON {what}: {exc}") from None

    def load(self, run_id: str) -> Run:
        """Load a run: config, model (weights checked against the config), history, metrics."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from .model import SequenceModel

        path = self.path(run_id)
        if not path.is_dir():
            raise RunNotFoundError(f"run {run_id!r} does not exist in {str(self.root)!r}")
        raw = self._read_json(path / "config.json", "config")
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
            model.load_tensors(tensors)
        except RunCorruptError as exc:
            raise RunCorruptError(f"run {run_id!r}: {exc}") from None
        model.eval()
        members = self._load_members(run_id, path, config) if (path / "ensemble.safetensors").exists() else None
        history = self._read_json(path / "history.json", "history").get("loss", [])
        info = self._read_json(path / "run.json", "run info")
        metrics = self._read_json(path / "metrics.json", "metrics") if (path / "metrics.json").exists() else {}
        return Run(run_id, path, config, model, history, info, metrics, members)

    def _load_members(self, run_id: str, path: Path, config: RunConfig) -> list[Any]:
        """The members of an ensemble run, from ensemble.safetensors (leading member dimension)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from .model import SequenceModel

        try:
            stacked = load_file(str(path / "ensemble.safetensors"))
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise RunCorruptError(f"run {run_id!r}: ensemble.safetensors is not a valid safetensors file ({exc})") from None
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
        """Id of the newest run in the catalog."""
        rows = self.list()
        if not rows:
            raise RunNotFoundError(f"no runs in {str(self.root)!r}; train one with 'rnnlab train'")
        return rows[-1]["id"]
