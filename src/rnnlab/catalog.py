"""The catalog of a runs directory, ``runs.db`` (SQLite, WAL mode): one row per run.

The catalog is an index: every run directory holds all it needs (config.json, run.json,
metrics.json), so a lost or broken catalog is rebuilt from them (``rnnlab runs check --repair``).
A busy catalog (another process inside a write transaction) is retried with backoff for
``busy_seconds()`` (60 s, or ``$RNNLAB_BUSY_SECONDS``); every other failure is a one-line
``CatalogError`` that says what is wrong and points at ``runs check``.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any, Callable, TypeVar

from .errors import CatalogError, StoreError
from .runfiles import finite

ENV_BUSY = "RNNLAB_BUSY_SECONDS"
FILE = "runs.db"
CHECK = "run 'rnnlab runs check --repair' to rebuild it from the run directories"

SCHEMA = """
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
COLUMNS = ("id", "name", "created", "status", "steps", "config", "metrics")

T = TypeVar("T")


def busy_seconds() -> float:
    """How long a busy catalog is retried before giving up."""
    try:
        return max(0.0, float(os.environ.get(ENV_BUSY, "60")))
    except ValueError:
        return 60.0


def _busy(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Catalog:
    """``root/runs.db``: read, write (one IMMEDIATE transaction, retried while busy), rebuild."""

    def __init__(self, root: Path):
        self.root = root
        self.path = root / FILE

    def exists(self) -> bool:
        return self.path.exists()

    def broken(self, exc: BaseException) -> CatalogError:
        """The one-line error for a catalog that cannot be used."""
        where = str(self.path)
        if self.path.is_dir():
            return CatalogError(f"the catalog {where!r} is a directory, not a SQLite file; {CHECK}")
        text = str(exc)
        if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
            return CatalogError(f"the catalog {where!r} is damaged ({text}); {CHECK}")
        if "readonly" in text.replace("-", "").replace(" ", "") or "read-only" in text:
            return CatalogError(f"the catalog {where!r} cannot be written: the runs directory is read-only")
        if "disk is full" in text or "No space" in text:
            return CatalogError(f"the catalog {where!r} cannot be written: no space left on the disk")
        if _busy(exc):
            return CatalogError(f"the catalog {where!r} stayed locked by another process for "
                                f"{busy_seconds():g} s; try again when it has finished")
        if not os.access(self.root, os.W_OK):
            return CatalogError(f"the catalog {where!r} cannot be opened: the runs directory is read-only ({text})")
        return CatalogError(f"the catalog {where!r} cannot be used ({text}); {CHECK}")

    def _connect(self) -> sqlite3.Connection:
        """A connection with the schema in place; a catalog in a read-only directory is read as
        it is (no -shm file can be made there)."""
        if self.path.exists() and not os.access(self.root, os.W_OK):
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?immutable=1", uri=True, timeout=1,
                                 isolation_level=None)
            writable = False
        else:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                raise StoreError(f"runs directory {str(self.root)!r} is not a directory") from None
            except OSError as exc:
                raise StoreError(f"runs directory {str(self.root)!r} cannot be created: {exc.strerror}") from None
            db = sqlite3.connect(self.path, timeout=1, isolation_level=None)
            writable = True
        db.row_factory = sqlite3.Row
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reads the header: a garbage file fails here
            if writable:
                if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    db.execute("PRAGMA journal_mode=WAL")
                db.execute(SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def _retry(self, action: Callable[[], T]) -> T:
        deadline = time.monotonic() + busy_seconds()
        delay = 0.02
        while True:
            try:
                return action()
            except sqlite3.Error as exc:
                if not _busy(exc) or time.monotonic() >= deadline:
                    raise self.broken(exc) from None
            except OSError as exc:
                raise self.broken(exc) from None
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())) * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)

    def read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``query`` on a connection (no writes); retried while busy."""
        def action():
            with closing(self._connect()) as db:
                return query(db)
        return self._retry(action)

    def write(self, change: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``change`` inside one IMMEDIATE transaction (the write lock held from its start)."""
        def action():
            with closing(self._connect()) as db:
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = change(db)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                return result
        return self._retry(action)

    def probe(self) -> None:
        """Raise the one-line ``CatalogError`` when the catalog cannot be written; a catalog that
        another process is writing right now is usable (a write waits for it)."""
        try:
            with closing(self._connect()) as db:
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            if not _busy(exc):
                raise self.broken(exc) from None
        except OSError as exc:
            raise self.broken(exc) from None

    def rows(self) -> list[dict[str, Any]]:
        """Every row, oldest first, config and metrics decoded (an undecodable one is a CatalogError)."""
        raw = self.read(lambda db: [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY created, id")])
        rows = []
        for row in raw:
            try:
                rows.append({**row, "config": json.loads(row["config"]), "metrics": json.loads(row["metrics"])})
            except (TypeError, json.JSONDecodeError):
                raise CatalogError(f"the catalog {str(self.path)!r} holds a damaged row for {row.get('id')!r}; "
                                   f"{CHECK}") from None
        return rows

    def ids(self) -> set[str]:
        if not self.exists():
            return set()
        return self.read(lambda db: {r[0] for r in db.execute("SELECT id FROM runs")})


def insert(db: sqlite3.Connection, row: dict[str, Any]) -> None:
    """Add a run's row (nothing when it is there already: a run is registered once)."""
    db.execute(
        "INSERT OR IGNORE INTO runs (id, name, created, status, steps, config, metrics) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (row["id"], row["name"], row["created"], row["status"], int(row["steps"]),
         json.dumps(row["config"]), json.dumps(finite(row["metrics"]))),
    )


def rebuild(path: Path, rows: list[dict[str, Any]], previous: Path | None = None) -> list[str]:
    """Write a fresh catalog at ``path`` holding ``rows`` (to a temporary file, then renamed).
    The tables other than ``runs`` (written by other parts of rnnlab) are copied from
    ``previous``, the catalog being replaced, as far as it can still be read; returns their names."""
    tmp = path.with_name(f".{path.name}.rebuild-{os.getpid()}")
    for leftover in (tmp, Path(f"{tmp}-journal")):
        leftover.unlink(missing_ok=True)
    with closing(sqlite3.connect(tmp)) as db:
        db.execute(SCHEMA)
        with db:
            for row in rows:
                insert(db, row)
        kept = _copy_other_tables(db, previous) if previous is not None else []
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, path)
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
    return kept


def _copy_other_tables(db: sqlite3.Connection, previous: Path) -> list[str]:
    """Copy every table but ``runs`` (schema, indexes, rows) from the catalog file ``previous``;
    a table that cannot be read whole is left out."""
    kept = []
    try:
        old = sqlite3.connect(f"{previous.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return kept
    with closing(old):
        try:
            tables = old.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name != 'runs' "
                                 "AND name NOT LIKE 'sqlite_%' AND sql IS NOT NULL").fetchall()
        except sqlite3.DatabaseError:
            return kept
        for name, sql in tables:
            try:
                values = old.execute(f'SELECT * FROM "{name}"').fetchall()
                indexes = [r[0] for r in old.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND "
                                                     "tbl_name = ? AND sql IS NOT NULL", (name,))]
                with db:
                    db.execute(sql)
                    for index in indexes:
                        db.execute(index)
                    if values:
                        marks = ", ".join("?" * len(values[0]))
                        db.executemany(f'INSERT INTO "{name}" VALUES ({marks})', values)
                kept.append(name)
            except sqlite3.DatabaseError:
                continue
    return kept
