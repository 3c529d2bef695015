"""CSV uploads: the file's bytes, capped and checked, stored under the runs directory by content id."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any, Mapping

from fastapi import APIRouter, Depends, Request

from ...errors import InputError, RnnlabError
from ...store import RunStore, write_atomic
from .. import service
from ..context import ApiError, Playground, playground

router = APIRouter()


def upload_path(store: RunStore, upload_id: str) -> Path:
    """The stored file of an upload id (16 hex digits; never a path)."""
    if not isinstance(upload_id, str) or len(upload_id) != 16 or any(c not in "0123456789abcdef" for c in upload_id):
        raise InputError(f"upload id must be 16 hex digits, got {upload_id!r}")
    path = store.root / "uploads" / f"{upload_id}.csv"
    if not path.is_file():
        raise ApiError(404, f"upload {upload_id!r} does not exist")
    return path


MAX_COLUMNS = 20  # columns of an upload the page offers


def describe_upload(path: Path) -> dict[str, Any]:
    """The columns of an uploaded CSV: every name, those holding numbers, those holding dates."""
    from ...data.csvfile import read_csv_series

    header = path.read_text(encoding="utf-8-sig").splitlines()[0]
    try:
        delimiter = csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    names = [name.strip() for name in next(csv.reader([header], delimiter=delimiter))][:MAX_COLUMNS]

    def reads(**columns) -> bool:
        try:
            read_csv_series(str(path), interpolate=True, **columns)  # a gap is the training's to report
        except RnnlabError:
            return False
        return True

    values = [name for name in names if reads(column=name)]
    times = [name for name in names if name not in values and values and reads(column=values[0], time_column=name)]
    return {"columns": names, "value_columns": values, "time_columns": times}


def upload_data(store: RunStore, upload_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The data fields the server sets for a training on an upload: the file, and its value column
    checked (a file with several value columns needs ``data.column``)."""
    path = upload_path(store, upload_id)
    found = describe_upload(path)
    column, time_column = data.get("column") or "", data.get("time_column") or ""
    values = found["value_columns"]
    if not values:
        raise InputError(f"upload {upload_id} has no column of numbers (columns: {', '.join(found['columns'])})")
    if column and column not in values:
        raise InputError(f"data.column must be one of the value columns of upload {upload_id} "
                         f"({', '.join(values)}), got {column!r}")
    if not column and len(values) > 1:
        raise InputError(f"data.column must name one of the {len(values)} value columns of upload {upload_id}: "
                         f"{', '.join(values)}")
    if time_column and time_column not in found["time_columns"]:
        raise InputError(f"data.time_column must be one of the date columns of upload {upload_id} "
                         f"({', '.join(found['time_columns']) or 'none'}), got {time_column!r}")
    return {"series": "csv", "csv": str(path), "column": column or values[0], "time_column": time_column}


@router.post("/api/uploads", summary="Upload a CSV series (request body: the file's bytes)")
async def upload(request: Request, context: Playground = Depends(playground)):
    limit = context.limits["upload_bytes"]
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"upload must be <= {limit} bytes, got {int(declared)}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"upload must be <= {limit} bytes, got more")
        chunks.append(chunk)
    service.require_feature("csv")
    payload = b"".join(chunks)
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("upload must be a UTF-8 text CSV file") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        raise InputError(f"upload must hold a header and at least one row, got {len(lines)} lines")
    upload_id = hashlib.sha256(payload).hexdigest()[:16]
    folder = context.store.root / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / f"{upload_id}.csv", payload)
    return {"upload": upload_id, "bytes": size, "rows": len(lines) - 1, "header": lines[0][:200],
            **describe_upload(folder / f"{upload_id}.csv")}
