"""Live trainings: each runs in its own thread and is stored when it ends, whoever is watching.

The store writes a run only when its training ends, so the catalog never holds a run that is
still ``running``; the trainings in progress live here, in memory. A training whose page went
away keeps going and is stored with its final status (completed, interrupted or diverged); the
Stop button sets its ``should_stop`` flag; closing the server stops every training and stores it
as interrupted.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..config import RunConfig
from ..errors import RnnlabError

# torch's global generator is seeded by train(); two trainings starting at the same instant
# would interleave their initial draws. Starts take this lock until their first step.
_START = threading.Lock()

FINISHED_KEPT = 64  # finished jobs remembered for late listeners


@dataclass
class Job:
    id: str
    config: RunConfig
    name: str | None
    total: int
    state: str = "running"  # running, then completed / interrupted / diverged / failed
    step: int = 0
    losses: list[float] = field(default_factory=list)
    run_id: str | None = None
    message: str = ""
    started: float = field(default_factory=time.time)
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "job": self.id,
            "state": self.state,
            "step": self.step,
            "total": self.total,
            "loss": self.losses[-1] if self.losses else None,
            "run": self.run_id,
            "message": self.message,
            "seed": self.config.seed,
            "started": self.started,
        }


class Trainings:
    """The registry of trainings started from the page."""

    def __init__(self, store, max_live: int):
        self.store = store
        self.max_live = max_live
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()

    def live(self) -> list[Job]:
        with self.lock:
            return [j for j in self.jobs.values() if j.state == "running"]

    def all(self) -> list[Job]:
        with self.lock:
            return list(self.jobs.values())

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def start(self, config: RunConfig, name: str | None = None) -> Job:
        from ..training import resolve_seed

        config = resolve_seed(config)
        job = Job(uuid.uuid4().hex[:12], config, name, config.train.steps)
        with self.lock:
            running = sum(1 for j in self.jobs.values() if j.state == "running")
            if running >= self.max_live:
                raise TooManyTrainings(
                    f"trainings at once must be <= {self.max_live}; {running} are running, stop one first"
                )
            self.jobs[job.id] = job
            finished = [j for j in self.jobs.values() if j.state != "running"]
            for old in finished[: max(0, len(finished) - FINISHED_KEPT)]:
                del self.jobs[old.id]
        job.thread = threading.Thread(target=self._run, args=(job,), name=f"train-{job.id}", daemon=True)
        job.thread.start()
        return job

    def _run(self, job: Job) -> None:
        from ..pipeline import train_and_store

        started_lock = _START.acquire()

        def release() -> None:
            nonlocal started_lock
            if started_lock:
                _START.release()
                started_lock = False

        def on_step(step: int, total: int, loss: float) -> None:
            release()
            job.step = step
            job.losses.append(loss)

        try:
            try:
                stored = train_and_store(job.config, self.store, on_step=on_step, should_stop=job.stop.is_set,
                                         name=job.name)
            finally:
                release()
            job.run_id = stored.run_id
            job.message = "; ".join(m for m in (stored.result.message, stored.evaluation_error) if m)
            job.state = stored.result.status
        except RnnlabError as exc:
            job.message, job.state = str(exc), "failed"
        except Exception as exc:  # a bug: keep the server up, say what happened
            traceback.print_exc()
            job.message, job.state = f"training failed: {type(exc).__name__}: {exc}", "failed"
        finally:
            job.done.set()

    def stop_all(self, wait: float = 30.0) -> None:
        """Stop every live training and wait for it to be stored (server shutdown)."""
        jobs = self.live()
        for job in jobs:
            job.stop.set()
        deadline = time.time() + wait
        for job in jobs:
            job.done.wait(max(0.0, deadline - time.time()))


class TooManyTrainings(RnnlabError):
    """More trainings than the playground runs at once."""

    http_status = 429
