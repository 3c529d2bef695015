"""Ctrl-C and SIGTERM while a run is trained, evaluated and stored: the finished work is kept.

``Guard`` is held for the whole of ``pipeline.train_and_store`` (in the main thread; elsewhere
signals are not this process's to handle). Its phases:

- ``train``: SIGTERM asks the loop to stop between two steps, as Ctrl-C does (the loop handles
  SIGINT itself); the run is kept as ``interrupted``.
- ``evaluate``: either signal ends the evaluation (``EvaluationInterrupted``); the run is stored
  ``completed``, its evaluation marked as skipped.
- ``store``: both are held until the run is stored, then reported.

``received`` holds the first signal that came (its number), for the exit status (128 + number).
"""

from __future__ import annotations

import signal
import threading
from typing import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM)
NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


class EvaluationInterrupted(BaseException):
    """A signal ended the evaluation after the last step (a BaseException: no evaluation code
    that catches ``Exception`` swallows it)."""


class Guard:
    """Signal handling by phase; a context manager that restores the previous handlers."""

    def __init__(self, should_stop: Callable[[], bool] | None = None):
        self.phase = "train"
        self.received: int | None = None
        self.user_stop = should_stop
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "Guard":
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum, frame) -> None:
        if self.received is None:
            self.received = signum
        if self.phase == "evaluate":
            self.phase = "store"  # a second signal waits for the run to be stored
            raise EvaluationInterrupted()

    def should_stop(self) -> bool:
        """For the training loop: stop between two steps once a signal came."""
        return self.received is not None or (self.user_stop is not None and bool(self.user_stop()))

    def name(self) -> str | None:
        return None if self.received is None else NAMES.get(self.received, f"signal {self.received}")
