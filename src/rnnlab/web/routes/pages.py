"""The page and its static files (plotly from the installed package: the page loads nothing remote)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

WEB = Path(__file__).resolve().parent.parent  # rnnlab/web: templates/ and static/

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page():
    return HTMLResponse((WEB / "templates" / "index.html").read_text(encoding="utf-8"))


@router.get("/favicon.ico", include_in_schema=False)
def favicon():
    return Response(status_code=204)


@router.get("/static/plotly.min.js", include_in_schema=False)
def plotly_js():
    import plotly

    return FileResponse(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", media_type="text/javascript")


STATIC = {"app.js": "text/javascript", "network.js": "text/javascript", "stepper.js": "text/javascript",
          "app.css": "text/css"}  # the page's own files; nothing else under static/ is served


@router.get("/static/{name}", include_in_schema=False)
def static_file(name: str):
    if name not in STATIC:
        raise StarletteHTTPException(404, f"static file {name!r} does not exist")
    return FileResponse(WEB / "static" / name, media_type=STATIC[name])
