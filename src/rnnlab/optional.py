"""Optional dependencies: which extra brings each one, and a one-line error when it is missing.

``pip install rnnlab`` installs the core (torch, numpy, numba, matplotlib, the command line);
the extras bring the rest: ``rnnlab[datasets]`` (pandas, statsmodels: CSV files and the bundled
datasets) and ``rnnlab[web]`` (fastapi, uvicorn, plotly: the playground). ``make run`` installs both.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

EXTRAS = {"pandas": "datasets", "statsmodels": "datasets", "fastapi": "web", "uvicorn": "web",
          "plotly": "web", "starlette": "web", "dask": "many", "distributed": "many"}


def missing_message(module: str, purpose: str | None = None) -> str | None:
    """The one-line message for a missing optional module (None for a module of no extra)."""
    top = module.split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    what = f"{purpose} needs {top}" if purpose else f"{top} is not installed"
    return f"{what}: install the {extra!r} extra (pip install 'rnnlab[{extra}]')"


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional module, or raise ``MissingDependencyError`` saying which extra brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or module
        raise MissingDependencyError(missing_message(missing, purpose) or f"{purpose} needs {missing}") from None
