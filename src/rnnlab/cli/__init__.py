"""The command line: parse, call the library, render.

Results go to stdout (``--json`` for scripts), progress and messages to stderr. Errors raised by
the library are caught in ``main`` and printed as one line, ``error: …``, with exit status 2 for
usage errors and 1 otherwise. torch is imported only by the commands that need it, so ``--help``
stays fast. Each module registers its commands on ``app``:

- training: train, seed, compile
- forecasting: forecast, explain
- inspect: weights, evaluate, datasets
- runs: runs list, show, rm, check
- outputs: plot, report, serve
- many: fit-many
"""

from __future__ import annotations

import sys

import typer

from ..errors import RnnlabError
from ..optional import missing_message
from . import training, forecasting, inspect, runs, outputs, many  # noqa: F401, I001  (registers the commands, in this order)
from .common import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the command, turn errors into one line on stderr and an exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="rnnlab", standalone_mode=False)
    except RnnlabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors found by the parser
        print(f"error: {_usage_message(exc, args)}", file=sys.stderr)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print("error: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory; give smaller sizes (see the limits in 'rnnlab train --help')", file=sys.stderr)
        return 1
    except OSError as exc:  # a file the command writes or reads, outside the library's own checks
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except ImportError as exc:  # an optional dependency missing where no command checked for it
        message = missing_message(getattr(exc, "name", None) or "")
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


def _usage_message(exc: Exception, args: list[str]) -> str:
    """The parser's message, with the value given for the option it names."""
    message = exc.format_message()
    param = getattr(exc, "param", None)
    opts = list(getattr(param, "opts", None) or [])
    if not opts or "Invalid value" not in message:
        return message
    for position, arg in enumerate(args):
        for opt in opts:
            if arg == opt and position + 1 < len(args):
                return f"{message} (got {args[position + 1][:80]!r})"
            if arg.startswith(opt + "="):
                return f"{message} (got {arg[len(opt) + 1:][:80]!r})"
    return message
