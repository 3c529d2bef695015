"""The fast engine: compiled (numba, float64, CPU) forward pass, BPTT and training loops.

``train_fast(config)`` is what ``rnnlab.train.train`` calls for ``train.engine = "fast"``.
Importing this package imports numba. The compiled functions are cached on disk (``cache=True``):
next to the modules in ``__pycache__``; where that folder is not writable (a read-only install),
numba uses its user cache folder, ``$NUMBA_CACHE_DIR`` when set; and where no folder can be
written at all, a temporary one for this process, so only caching is lost, never the engine.
"""

from __future__ import annotations


def _import():
    try:
        from . import engine, layout
    except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available"
        if "cannot cache" not in str(exc):
            raise
        import tempfile

        import numba

        numba.config.CACHE_DIR = tempfile.mkdtemp(prefix="rnnlab-numba-")
        from . import engine, layout
    return engine, layout


_engine, _layout = _import()
check_supported = _engine.check_supported
train_fast = _engine.train_fast
run_fast = _engine.run_fast
Layout = _layout.Layout
layout = _layout.layout

__all__ = ["Layout", "check_supported", "layout", "run_fast", "train_fast"]
