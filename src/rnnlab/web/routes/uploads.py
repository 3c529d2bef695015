"""CSV uploads: the file's bytes, capped and checked, stored under the runs directory by content id."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter, Depends, Request

from ...errors import InputError
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
    return {"upload": upload_id, "bytes": size, "rows": len(lines) - 1, "header": lines[0][:200]}
