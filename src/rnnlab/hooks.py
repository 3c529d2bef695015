"""Named moments of storing a run, where the test suite stops a real process.

``RNNLAB_FAULT="MOMENT:SIGNAL"`` (for example ``store-renamed:KILL``) makes the process send
itself ``SIGNAL`` when it reaches ``MOMENT``: ``train-step`` (the command line's first training
step is done), ``evaluate`` (the evaluation after the last step
begins), ``store-write`` (a run's files half written), ``store-renamed`` (its directory in place,
no catalog row yet), ``store-committed`` (the row written), ``remove-moved`` (a removal half done).
Unset, a moment costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV_FAULT = "RNNLAB_FAULT"


def point(moment: str) -> None:
    """Send the signal ``$RNNLAB_FAULT`` names for ``moment`` to this process, if any."""
    spec = os.environ.get(ENV_FAULT)
    if not spec:
        return
    name, _, signame = spec.partition(":")
    if name == moment:
        os.kill(os.getpid(), getattr(signal, f"SIG{signame or 'INT'}"))
