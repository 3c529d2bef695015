"""What the routes share: the runs store, the live trainings and the limits of one app.

``create_app`` builds one ``Playground`` and keeps it in ``app.state.playground``; an endpoint
asks for it with ``Depends(playground)``. ``ApiError`` is an error with its own HTTP status, for
the few answers the library has no error class for (an unknown training or upload, a too large
upload).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from fastapi import Request

from ..errors import RnnlabError
from ..store import Run, RunStore, check_run_id
from .jobs import Trainings
from .steppers import Steppers


class ApiError(RnnlabError):
    """An error with its own HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.http_status = status


@dataclass
class Playground:
    """The state of one playground app."""

    store: RunStore
    trainings: Trainings
    limits: Mapping[str, Any]
    steppers: Steppers = field(default_factory=Steppers)  # trainings driven one step at a time
    closing: threading.Event = field(default_factory=threading.Event)  # set when the server shuts down

    def load(self, run_id: str) -> Run:
        """A stored run by id; 'latest' names the newest run, as on the command line."""
        store = self.store
        return store.load(store.latest() if run_id == "latest" else check_run_id(run_id))

    def redact(self, message: str) -> str:
        """``message`` without the server's paths: an upload's file becomes 'upload <id>', the runs
        directory (as given, or absolute) 'the runs directory' or RUNS_DIR."""
        root = self.store.root
        for path in sorted({str(root), str(root.resolve())}, key=len, reverse=True):
            for quote in ("'", '"'):
                message = re.sub(re.escape(quote + path) + r"[/\\]uploads[/\\]([0-9a-f]{16})\.csv" + quote,
                                 r"upload \1", message)
            message = message.replace(repr(path), "the runs directory")
            if Path(path).is_absolute():
                message = message.replace(path, "RUNS_DIR")
        return message


def playground(request: Request) -> Playground:
    """The app's shared state (a FastAPI dependency)."""
    return request.app.state.playground
