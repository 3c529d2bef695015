"""The compiled engine: numba kernels (float64, CPU) for the forward pass, BPTT and training loops.

Arrays in, arrays out: nothing here imports the trainers (``rnnlab.training.compiled`` drives
it). ``layout`` places a model's tensors in one flat vector and describes the model to the
kernels as a named tuple (``Net``), ``problem`` holds a training problem as a named tuple,
``kernels`` the cells forward and backward, ``loop`` the general training loop, ``special`` the
seed's case compiled on its own, ``rollout`` the full-batch rollout of a one-layer rnn, ``mt``
CPython's Mersenne Twister.

Importing this package imports numba. The compiled functions are cached on disk (``cache=True``):
next to the modules in ``__pycache__``; where that folder is not writable (a read-only install),
numba uses its user cache folder, ``$NUMBA_CACHE_DIR`` when set; and where no folder can be
written at all, a temporary one for this process, so only caching is lost, never the engine.
"""

from __future__ import annotations


def _import():
    try:
        from . import kernels, loop, mt, rollout, special
    except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available"
        if "cannot cache" not in str(exc):
            raise
        import tempfile

        import numba

        numba.config.CACHE_DIR = tempfile.mkdtemp(prefix="rnnlab-numba-")
        from . import kernels, loop, mt, rollout, special
    return kernels, loop, mt, rollout, special


kernels, loop, mt, rollout, special = _import()

from .layout import Layout, Net, layout  # noqa: E402
from .problem import Problem  # noqa: E402

__all__ = ["Layout", "Net", "Problem", "kernels", "layout", "loop", "mt", "rollout", "special"]
