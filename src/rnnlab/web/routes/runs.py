"""The run catalog: list, show, delete, weights, two runs compared, a run's report."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from ...store import check_run_id
from .. import service, views
from ..context import ApiError, Playground, playground

router = APIRouter()


@router.get("/api/runs", summary="The run catalog, oldest first")
def runs(context: Playground = Depends(playground)):
    return context.store.list()


@router.get("/api/runs/{run_id}", summary="A run: info, config, metrics, loss history")
def run(run_id: str, context: Playground = Depends(playground)):
    r = context.load(run_id)
    return {"id": r.id, "info": r.info, "config": r.config.to_dict(), "metrics": r.metrics, "history": r.history}


@router.delete("/api/runs/{run_id}", summary="Delete a run (catalog row and directory)")
def delete_run(run_id: str, context: Playground = Depends(playground)):
    context.store.remove(check_run_id(run_id))
    return {"deleted": run_id}


@router.get("/api/runs/{run_id}/weights", summary="Every parameter with its shape and values")
def weights(run_id: str, context: Playground = Depends(playground)):
    return views.weights_payload(context.load(run_id).model)


@router.get("/api/compare", summary="Two runs side by side: config differences, metrics, loss, forecast")
def compare(a: str, b: str, horizon: Optional[int] = None, context: Playground = Depends(playground)):
    pair = [context.load(a), context.load(b)]
    first = views.run_chart(pair[0], pair[0].model, None, None, horizon, context.limits)
    # both forecast from the first run's window when the second run's series holds it
    start, end = first["window"]
    second = views.run_chart(pair[1], pair[1].model, *((start, end) if end <= series_length(pair[1]) else (None, None)),
                             horizon, context.limits)
    return {
        "runs": [
            {"id": r.id, "name": r.info.get("name"), "info": r.info, "metrics": r.metrics, "history": r.history,
             "chart": view}
            for r, view in zip(pair, (first, second))
        ],
        "same_window": first["window"] == second["window"],
        "differences": views.config_differences(pair[0].config.to_dict(), pair[1].config.to_dict()),
    }


@router.get("/api/runs/{run_id}/report", summary="The run's HTML report, as a download")
def report(run_id: str, context: Playground = Depends(playground)):
    r = context.load(run_id)
    render = service.report_function()
    if render is None:  # a server with reports switched off
        raise ApiError(501, service.MISSING["report"])
    return Response(render(r), media_type="text/html",
                    headers={"Content-Disposition": f'attachment; filename="{r.id}.html"'})


def series_length(run) -> int:
    """Values in a run's series."""
    from ...data import series_values

    return len(series_values(run.config.data))
