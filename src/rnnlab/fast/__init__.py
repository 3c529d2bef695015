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

numba checks a cached function against its own module's file only, while the machine code also
holds the functions it inlined from the other modules here (``kernels`` inside ``loop``, ...):
after an edit of one module, another module's cached code would still run the old one. So the
cache is keyed on all of this package's sources together: when their hash differs from the one
written beside the cache, the package's cached code is removed first (``_fresh_cache``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

STAMP = "rnnlab-fast-sources.sha256"


def _cache_dirs(here: Path) -> list[Path]:
    """Where numba keeps this package's cached code: ``__pycache__`` here, or under $NUMBA_CACHE_DIR."""
    dirs = [here / "__pycache__"]
    if os.environ.get("NUMBA_CACHE_DIR"):
        dirs.append(Path(os.environ["NUMBA_CACHE_DIR"]) / str(here.resolve()).lstrip(os.sep))
    return dirs


def _fresh_cache() -> None:
    """Remove cached code compiled from other sources than these (see the module docstring)."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(here.glob("*.py")))).hexdigest()
    for folder in _cache_dirs(here):
        stamp = folder / STAMP
        try:
            if not folder.is_dir() or (stamp.is_file() and stamp.read_text() == digest):
                continue
            for cached in list(folder.glob("*.nbi")) + list(folder.glob("*.nbc")):
                cached.unlink(missing_ok=True)
            stamp.write_text(digest)
        except OSError:  # a read-only cache: numba keeps its own per-file check
            continue


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


_fresh_cache()
kernels, loop, mt, rollout, special = _import()

from .layout import Layout, Net, layout  # noqa: E402
from .problem import Problem  # noqa: E402

__all__ = ["Layout", "Net", "Problem", "kernels", "layout", "loop", "mt", "rollout", "special"]
