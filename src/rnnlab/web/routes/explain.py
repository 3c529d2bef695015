"""A run's chart for any window, the hand calculation of one step, and both with weights edited."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from .. import views
from ..context import Playground, playground

router = APIRouter()


class WeightEdit(BaseModel):
    name: str = Field(description="Parameter name, e.g. weight_hh_l0.")
    index: list[int] = Field(description="Index into the parameter, one integer per dimension.")
    value: float = Field(description="The new value.")


class EditRequest(BaseModel):
    edits: list[WeightEdit] = Field(description="Weights to replace; the stored run is not changed.")
    start: Optional[int] = None
    end: Optional[int] = None
    horizon: Optional[int] = None
    step: Optional[int] = Field(None, description="Also return the hand calculation of this step.")


@router.get("/api/runs/{run_id}/forecast", summary="The seed's chart: baseline, input and prediction")
def forecast(run_id: str, start: Optional[int] = Query(None, description="Context window start."),
             end: Optional[int] = Query(None, description="Context window end (exclusive)."),
             horizon: Optional[int] = Query(None, description="Values to generate."),
             context: Playground = Depends(playground)):
    r = context.load(run_id)
    return views.run_chart(r, r.model, start, end, horizon, context.limits)


@router.get("/api/runs/{run_id}/explain", summary="The hand calculation of one step, checked against torch")
def explain(run_id: str, step: int = Query(description="0 … len(context)-1, then the fed-back steps."),
            start: Optional[int] = None, end: Optional[int] = None, horizon: Optional[int] = None,
            context: Playground = Depends(playground)):
    r = context.load(run_id)
    view = views.run_chart(r, r.model, start, end, horizon, context.limits)
    return views.hand_calculation(r.model, view, step)


@router.post("/api/runs/{run_id}/edit",
             summary="Forecast and hand calculation with some weights replaced (nothing is saved)")
def edit(run_id: str, request: EditRequest, context: Playground = Depends(playground)):
    r = context.load(run_id)
    model = views.edited_model(r, [e.model_dump() for e in request.edits], context.limits)
    view = views.run_chart(r, model, request.start, request.end, request.horizon, context.limits)
    result = {"chart": view, "weights": views.weights_payload(model)}
    if request.step is not None:
        result["explain"] = views.hand_calculation(model, view, request.step)
    return result
