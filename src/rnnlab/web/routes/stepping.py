"""Training one step at a time: start, take N steps (one with its hand check), reset, store."""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from ...evaluate import evaluate_result
from ...errors import RnnlabError
from .. import service
from ..context import Playground, playground
from ..steppers import payload

router = APIRouter()


class StepperRequest(BaseModel):
    preset: str = Field("seed", description="Preset the config starts from.")
    config: dict[str, Any] = Field(default_factory=dict, description="Nested config values on top of the preset.")
    name: Optional[str] = Field(None, max_length=100, description="A name for the run, once stored.")


class StepRequest(BaseModel):
    count: int = Field(1, description="Steps to take now (1 … 2000).")
    detail: bool = Field(False, description="Also give the last step by hand, checked against autograd.")


@router.post("/api/steppers", summary="Start a training to drive one step at a time (the seed's loop)")
def start(request: StepperRequest, context: Playground = Depends(playground)):
    config = service.build_config(request.preset, dict(request.config), None, context.limits)
    return payload(context.steppers.start(config, request.name))


@router.get("/api/steppers/{stepper_id}", summary="Where a step-by-step training stands: step, loss, weights")
def state(stepper_id: str, detail: bool = False, context: Playground = Depends(playground)):
    return payload(context.steppers.get(stepper_id), detail)


@router.post("/api/steppers/{stepper_id}/step",
             summary="Take N steps; the last one's window, loss, gradients and update (and by hand, with detail)")
def step(stepper_id: str, request: StepRequest, context: Playground = Depends(playground)):
    stepper = context.steppers.get(stepper_id)
    message = stepper.advance(request.count)
    return payload(stepper, request.detail, message)


@router.post("/api/steppers/{stepper_id}/reset", summary="Back to step 0: the initial weights and windows")
def reset(stepper_id: str, context: Playground = Depends(playground)):
    stepper = context.steppers.get(stepper_id)
    stepper.reset()
    return payload(stepper)


@router.post("/api/steppers/{stepper_id}/store", summary="Evaluate the training so far and store it as a run")
def store(stepper_id: str, context: Playground = Depends(playground)):
    stepper = context.steppers.get(stepper_id)
    with stepper.lock:
        result = stepper.trainer.result()
        try:
            metrics = evaluate_result(result)
        except RnnlabError:
            metrics = {}
        stepper.stored = context.store.save(result, metrics, name=stepper.name)
    return payload(stepper)
