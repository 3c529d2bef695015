"""Groups of runs: the series of one panel, stored as one run each, under one name.

A table of its own in the catalog's database, written through the catalog's connection (the same
timeout, WAL mode, IMMEDIATE transactions retried while busy)::

    groups(run_id TEXT PRIMARY KEY, grp TEXT NOT NULL, series_id TEXT NOT NULL, config_hash TEXT)

The table is an index like the catalog: each run of a group carries its group in run.json
(``"group": {"name", "series", "config_hash"}``, written with the run in one transaction), so
``reconcile`` recovers a row that a killed client never wrote, or a whole table that a rebuilt
catalog lost. A series stored twice in a group (its config changed) is answered by its newest run.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from ..errors import InputError
from ..store import RunStore

SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    run_id      TEXT PRIMARY KEY,
    grp         TEXT NOT NULL,
    series_id   TEXT NOT NULL,
    config_hash TEXT
)
"""
NOTE = "group"  # the run.json key
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_group(name: str) -> str:
    """A group name is like a run id: letters, digits, '.', '_', '-'."""
    if not isinstance(name, str) or not NAME.match(name) or ".." in name:
        raise InputError(f"group must be a name of letters, digits, '.', '_' and '-', got {str(name)[:140]!r}")
    return name


def note(group: str, series_id: str, config_hash: str) -> dict[str, Any]:
    """The run.json keys that place a run in its group."""
    return {NOTE: {"name": group, "series": series_id, "config_hash": config_hash}}


def _has_table(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'groups'").fetchone() is not None


def record(store: RunStore, run_id: str, group: str, series_id: str, config_hash: str) -> None:
    """Add a run to its group (one transaction)."""
    def change(db):
        db.execute(SCHEMA)
        db.execute("INSERT OR REPLACE INTO groups (run_id, grp, series_id, config_hash) VALUES (?, ?, ?, ?)",
                   (run_id, group, series_id, config_hash))
    store.catalog.write(change)


def members(store: RunStore, group: str) -> dict[str, dict[str, str]]:
    """{series id: {"run_id", "config_hash"}} of the group's runs still in the catalog, the newest
    run (the last recorded) of each series, in the order the series were first stored."""
    if not store.catalog.exists():
        return {}

    def query(db):
        if not _has_table(db):
            return []
        return db.execute("SELECT g.series_id, g.run_id, g.config_hash FROM groups g JOIN runs r ON r.id = g.run_id "
                          "WHERE g.grp = ? ORDER BY g.rowid", (group,)).fetchall()

    out: dict[str, dict[str, str]] = {}
    for series_id, run_id, config_hash in store.catalog.read(query):
        out[series_id] = {"run_id": run_id, "config_hash": config_hash}
    return out


def group_of(store: RunStore) -> dict[str, str]:
    """{run id: group} of every grouped run in the catalog."""
    if not store.catalog.exists():
        return {}

    def query(db):
        return dict(db.execute("SELECT run_id, grp FROM groups").fetchall()) if _has_table(db) else {}
    return store.catalog.read(query)


def reconcile(store: RunStore) -> list[str]:
    """Rows for runs whose run.json names a group the table does not list; one line per run added."""
    from ..runfiles import read_info
    from ..errors import RunCorruptError

    if not store.catalog.exists():
        return []
    listed = store.catalog.ids()
    missing = sorted(listed - set(group_of(store)))
    found = []
    for run_id in missing:
        path = store.root / run_id / "run.json"
        try:
            info = read_info(path) if path.is_file() else {}
        except RunCorruptError:
            continue
        entry = info.get(NOTE)
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and isinstance(entry.get("series"), str):
            found.append((run_id, entry["name"], entry["series"], entry.get("config_hash")))
    if not found:
        return []

    def change(db):
        db.execute(SCHEMA)
        db.executemany("INSERT OR IGNORE INTO groups (run_id, grp, series_id, config_hash) VALUES (?, ?, ?, ?)", found)
    store.catalog.write(change)
    return [f"added {run_id} to group {group} (its run.json names it)" for run_id, group, _, _ in found]


def run_ids(store: RunStore, group: str) -> set[str]:
    """The ids of a group's runs (each series' newest), after recovering rows from run.json."""
    check_group(group)
    reconcile(store)
    return {entry["run_id"] for entry in members(store, group).values()}
