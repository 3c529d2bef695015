"""``rnnlab runs check``: compare the catalog with the run directories, and repair what can be.

Findings, each one line:

- ``catalog``: runs.db is missing, damaged or not a file. Repair: the broken file is kept beside
  it as ``runs.db.broken-<time>`` and a new catalog is built from the run directories.
- ``missing``: a catalog row whose run directory is gone. Repair: the row is deleted.
- ``unlisted``: a complete run directory the catalog does not list. Repair: its row is added.
- ``staging``: a hidden staging directory left by a write that was killed. Repair: removed.
- ``removal``: a removal that was interrupted. Repair: finished, or undone while the row stands.
- ``unreadable``: a run directory that does not load (a damaged or tampered file). Never
  deleted by a repair: the message says what is wrong; ``rnnlab runs rm ID`` removes it.

Without ``repair`` nothing is changed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from . import catalog as catalog_module, runfiles
from .errors import CatalogError, RnnlabError
from .store import RunStore


@dataclass
class Finding:
    kind: str  # catalog, missing, unlisted, staging, removal, unreadable
    target: str  # a run id or a file name
    detail: str
    repaired: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def check_store(store: RunStore, repair: bool = False) -> list[Finding]:
    """The findings of one check of ``store`` (see the module docstring), repaired if asked."""
    root = store.root
    runfiles.check_root(root)
    if not root.is_dir():
        return []
    findings: list[Finding] = []
    dirs = store.run_dirs()
    rows = _catalog_rows(store, dirs, findings, repair)
    listed = {row["id"] for row in rows} if rows is not None else None

    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        path = Path(entry.path)
        if entry.name.startswith(runfiles.STAGING) and entry.is_dir() and runfiles.stale_staging(path):
            finding = Finding("staging", entry.name, "left by a write that was killed; no run is in it")
            if repair:
                runfiles.remove_staging(path)
                finding.repaired = True
            findings.append(finding)
        elif entry.name.startswith(runfiles.TRASH) and entry.is_dir():
            run_id = entry.name[len(runfiles.TRASH):].rsplit("-", 1)[0]
            restore = listed is not None and run_id in listed and not (root / run_id).exists()
            finding = Finding("removal", entry.name, f"an interrupted removal of {run_id}; "
                              + ("restored: its row stands" if restore else "finished"))
            if repair:
                if restore:
                    os.replace(path, root / run_id)
                    dirs.append(root / run_id)
                else:
                    shutil.rmtree(path, ignore_errors=True)
                finding.repaired = True
            findings.append(finding)

    unreadable = set()
    for path in dirs:
        try:
            store.load(path.name)
        except RnnlabError as exc:
            unreadable.add(path.name)
            findings.append(Finding("unreadable", path.name, f"{exc}; remove it with 'rnnlab runs rm {path.name}'"))
    if listed is None:
        return findings
    present = {path.name for path in dirs}
    missing = sorted(listed - present)
    unlisted = [path for path in dirs if path.name not in listed and path.name not in unreadable]
    for run_id in missing:
        findings.append(Finding("missing", run_id, "listed in the catalog, but its directory is gone", repair))
    new_rows = [row for row in map(store.row_of, unlisted) if row is not None]
    for row in new_rows:
        findings.append(Finding("unlisted", row["id"], "a complete run the catalog did not list", repair))
    if repair and (missing or new_rows):
        def change(db):
            for run_id in missing:
                db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            for row in new_rows:
                catalog_module.insert(db, row)
        store.catalog.write(change)
    return findings


def _catalog_rows(store: RunStore, dirs: list[Path], findings: list[Finding], repair: bool) -> list[dict] | None:
    """The catalog's rows; a missing or broken catalog is a finding (rebuilt when repairing).
    None when the catalog cannot be read (and is not repaired)."""
    path = store.catalog.path
    try:
        if store.catalog.exists():
            return store.catalog.rows()
        if not dirs:
            return []
        problem = f"the catalog {str(path)!r} is missing"
    except CatalogError as exc:
        problem = str(exc).split("; run 'rnnlab runs check")[0]
    finding = Finding("catalog", path.name, problem)
    findings.append(finding)
    if not repair:
        return None
    aside = None
    if path.exists() or path.is_symlink():
        aside = path.with_name(f"{path.name}.broken-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
        if path.is_file():  # with its write-ahead log, so that what can still be read is read
            for suffix in ("-wal", "-shm"):
                if Path(f"{path}{suffix}").exists():
                    os.replace(f"{path}{suffix}", f"{aside}{suffix}")
        os.replace(path, aside)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        finding.detail += f"; kept as {aside.name}"
    rows = [row for row in map(store.row_of, dirs) if row is not None]
    kept = catalog_module.rebuild(path, rows, aside if aside is not None and aside.is_file() else None)
    finding.detail += f"; rebuilt from {len(rows)} run directories"
    if kept:
        finding.detail += f" (kept the tables {', '.join(kept)})"
    finding.repaired = True
    return rows
