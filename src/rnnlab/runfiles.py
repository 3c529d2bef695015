"""The files of a run directory: written whole or not at all, read without trusting them.

A run is written into a hidden staging directory, ``.tmp-<id>-<random>``, beside a lock file
``.tmp-<id>-<random>.lock`` that the writing process holds (``flock``) until the run is in place;
every file is flushed to disk, then the directory is renamed to ``<id>``. A staging directory
whose lock no process holds is the leftover of a killed write, and is removed by the next command.
Reading checks every file's shape and every tensor's dtype and values, so a tampered file is a
one-line ``RunCorruptError``, never a traceback or a silently wrong model.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Iterator

from .errors import RunCorruptError, StoreError

STAGING = ".tmp-"
TRASH = ".trash-"
SERIES_FILE = "series.csv"

try:  # POSIX: a lock that the kernel releases when its process dies, even by SIGKILL
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: staging directories are then never swept
    fcntl = None


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


def write_file(path: Path, payload: bytes) -> None:
    """Write a new file and flush it to disk (inside a staging directory: no rename needed)."""
    with open(path, "xb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def disk_message(exc: OSError, where: Path) -> str:
    """A one-line reason for a failed write."""
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return f"no space left on the disk of {str(where)!r}"
    if exc.errno == errno.EFBIG:
        return f"a file in {str(where)!r} would pass the file size limit (ulimit -f)"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{str(where)!r} is read-only ({exc.strerror})"
    return f"{str(where)!r} cannot be written ({exc.strerror or exc})"


def finite(data: Any) -> Any:
    """JSON has no NaN/inf: store them as null."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def to_json(data: Any) -> str:
    return json.dumps(finite(data), indent=2, allow_nan=False) + "\n"


@contextlib.contextmanager
def staging(root: Path, run_id: str) -> Iterator[Path]:
    """A hidden directory to write a run into, locked for as long as the block runs; removed when
    the block fails (the caller renames it into place before the block ends)."""
    name = f"{STAGING}{run_id}-{uuid.uuid4().hex[:8]}"
    lock_path = root / f"{name}.lock"
    lock = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    tmp = root / name
    try:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        tmp.mkdir()
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        os.close(lock)


def stale_staging(path: Path) -> bool:
    """Whether a staging directory was left by a write whose process is gone (its lock is free)."""
    if fcntl is None:
        return False
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return True  # the lock goes only after the directory was renamed away: a leftover
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a live process holds it
    finally:
        os.close(fd)
    return True


def remove_staging(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.unlink(path.with_name(path.name + ".lock"))


def read_json(path: Path, what: str, kind: type = dict) -> Any:
    """A JSON file of the given top-level kind, or ``RunCorruptError`` naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunCorruptError(f"run file {str(path)!r} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RunCorruptError(f"run file {str(path)!r} is not valid JSON {what}: {exc}") from None
    if not isinstance(data, kind):
        raise RunCorruptError(f"run file {str(path)!r} must hold a JSON {kind.__name__} ({what}), "
                              f"got {type(data).__name__}")
    return data


def read_history(path: Path) -> list[float]:
    """history.json: {"loss": [number or null, ...]}."""
    data = read_json(path, "history")
    loss = data.get("loss", [])
    if not isinstance(loss, list) or not all(
            v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in loss):
        raise RunCorruptError(f"run file {str(path)!r} must hold {{\"loss\": [numbers]}}")
    return [float("nan") if v is None else float(v) for v in loss]


# run.json fields and the types they must have when present
INFO_TYPES = {"id": str, "name": str, "created": str, "status": str, "steps": int, "seconds": (int, float),
              "message": str, "context": (list, type(None)), "data": (dict, type(None)),
              "backtest": (dict, type(None)), "evaluation": str}


def read_info(path: Path) -> dict[str, Any]:
    """run.json, its fields of the right types (a context is [start, end] integers)."""
    info = read_json(path, "run info")
    for key, kind in INFO_TYPES.items():
        if key in info and (not isinstance(info[key], kind) or isinstance(info[key], bool)):
            raise RunCorruptError(f"run file {str(path)!r}: {key!r} has the wrong type ({type(info[key]).__name__})")
    context = info.get("context")
    if context is not None and (len(context) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                             for v in context) or not 0 <= context[0] < context[1]):
        raise RunCorruptError(f"run file {str(path)!r}: context must be [start, end] with 0 <= start < end, got {context!r}")
    return info


def check_tensors(tensors: dict, where: str) -> dict:
    """Weights are float32 (or float64, read as float32) and finite; anything else is refused."""
    import torch

    checked = {}
    for name, tensor in tensors.items():
        if tensor.dtype not in (torch.float32, torch.float64):
            raise RunCorruptError(f"{where}: {name} is {str(tensor.dtype).replace('torch.', '')}; weights must be float32")
        if not bool(torch.isfinite(tensor).all()):
            raise RunCorruptError(f"{where}: {name} holds NaN or infinite values")
        if tensor.dtype == torch.float64:
            if bool((tensor.abs() > torch.finfo(torch.float32).max).any()):
                raise RunCorruptError(f"{where}: {name} holds values beyond float32")
            tensor = tensor.to(torch.float32)
        checked[name] = tensor
    return checked


def check_root(root: Path) -> None:
    """The runs directory is a directory (when it exists)."""
    if root.exists() and not root.is_dir():
        raise StoreError(f"runs directory {str(root)!r} is not a directory")
