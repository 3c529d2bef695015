"""The page's options, and trainings: start one, list them, follow one's progress, stop it."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from .. import service
from ..context import ApiError, Playground, playground
from ..jobs import Job
from .uploads import upload_data

router = APIRouter()


class TrainRequest(BaseModel):
    preset: str = Field("seed", description="Preset the config starts from.")
    config: dict[str, Any] = Field(default_factory=dict, description="Nested config values on top of the preset.")
    name: Optional[str] = Field(None, max_length=100, description="A name for the run.")
    upload: Optional[str] = Field(None, description="Id of an uploaded CSV to train on (see POST /api/uploads).")


def summary(context: Playground, job: Job) -> dict[str, Any]:
    """A training's state; a failure's message does not show the server's paths."""
    state = job.summary()
    return {**state, "message": context.redact(state["message"])}


def get_job(context: Playground, job_id: str) -> Job:
    job = context.trainings.get(job_id)
    if job is None:
        raise ApiError(404, f"training {job_id!r} does not exist (or finished long ago)")
    return job


@router.get("/api/options", summary="Choices, presets, limits and the optional parts this build has")
def options(context: Playground = Depends(playground)):
    return service.options(context.limits)


@router.post("/api/train", status_code=202, summary="Start a training; follow it at /api/train/{job}/events")
def start_training(request: TrainRequest, context: Playground = Depends(playground)):
    server_data = None
    if request.upload is not None:
        service.require_feature("csv")
        data = request.config.get("data")
        server_data = upload_data(context.store, request.upload, data if isinstance(data, dict) else {})
    config = service.build_config(request.preset, dict(request.config), server_data, context.limits)
    return summary(context, context.trainings.start(config, request.name))


@router.get("/api/train", summary="Trainings started from this server: live and recently finished")
def list_trainings(context: Playground = Depends(playground)):
    return [summary(context, job) for job in context.trainings.all()]


@router.get("/api/train/{job_id}", summary="A training's state")
def training(job_id: str, context: Playground = Depends(playground)):
    return summary(context, get_job(context, job_id))


@router.post("/api/train/{job_id}/stop", summary="Stop a training after its current step; the run is kept")
def stop_training(job_id: str, context: Playground = Depends(playground)):
    job = get_job(context, job_id)
    job.stop.set()
    return summary(context, job)


@router.get("/api/train/{job_id}/events", summary="Server-sent events: progress, then the final state")
async def training_events(job_id: str, request: Request, context: Playground = Depends(playground)):
    job = get_job(context, job_id)
    stride = max(1, job.total // 2000)  # about 2000 points on the page's curve

    async def events():
        sent = 0
        while True:
            finished = job.done.is_set()
            count = len(job.losses)
            if count > sent:
                points = [[i + 1, job.losses[i]] for i in range(sent, count)
                          if (i + 1) % stride == 0 or i + 1 == count]
                sent = count
                yield sse("progress", {"step": count, "total": job.total, "points": points})
            if finished:
                yield sse("done", summary(context, job))
                return
            if context.closing.is_set() or await request.is_disconnected():
                return  # the training goes on and is stored when it ends (or the server stops)
            await asyncio.sleep(0.1)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"
