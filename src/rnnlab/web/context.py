"""What the routes share: the runs store, the live trainings and the limits of one app.

``create_app`` builds one ``Playground`` and keeps it in ``app.state.playground``; an endpoint
asks for it with ``Depends(playground)``. ``ApiError`` is an error with its own HTTP status, for
the few answers the library has no error class for (an unknown training or upload, a too large
upload).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

from fastapi import Request

from ..errors import RnnlabError
from ..store import Run, RunStore, check_run_id
from .jobs import Trainings


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
    closing: threading.Event = field(default_factory=threading.Event)  # set when the server shuts down

    def load(self, run_id: str) -> Run:
        """A stored run by id; 'latest' names the newest run, as on the command line."""
        store = self.store
        return store.load(store.latest() if run_id == "latest" else check_run_id(run_id))

    def redact(self, message: str) -> str:
        """``message`` without the server's absolute path of the runs directory."""
        root = self.store.root
        if not root.is_absolute():
            return message
        for path in dict.fromkeys((str(root), str(root.resolve()))):
            message = message.replace(repr(path), "the runs directory").replace(path, "RUNS_DIR")
        return message


def playground(request: Request) -> Playground:
    """The app's shared state (a FastAPI dependency)."""
    return request.app.state.playground
