"""The command line: parse, call the library, render.

Results go to stdout (``--json`` for scripts), progress and messages to stderr. Errors raised by
the library are caught in ``main`` and printed as one line, ``error: …``, with exit status 2 for
usage errors and 1 otherwise. torch is imported only by the commands that need it, so ``--help``
stays fast. Each module registers its commands on ``app``:

- training: train, seed
- forecasting: forecast, explain
- inspect: weights, evaluate, datasets
- runs: runs list, show, rm
- outputs: plot, report, serve
"""

from __future__ import annotations

import sys

import typer

from ..errors import RnnlabError
from ..optional import missing_message
from . import training, forecasting, inspect, runs, outputs  # noqa: F401, I001  (registers the commands, in this order)
from .common import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, turn errors into one line on stderr and an exit status."""
    try:
        result = app(args=argv, prog_name="rnnlab", standalone_mode=False)
    except RnnlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors found by the parser
        print(f"error: {exc.format_message()}", file=sys.stderr)
        return exc.exit_code
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        return 130
    except ImportError as exc:  # an optional dependency missing where no command checked for it
        message = missing_message(getattr(exc, "name", None) or "")
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0
