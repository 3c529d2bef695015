"""The few errors rnnlab raises.

Every message names the offending value and what was expected, e.g.
``"hidden_size must be >= 1, got 0"``. The command line prints ``error: <message>`` and exits
with ``exit_code`` (2 for a usage error, 1 for anything else); the web layer answers with
``http_status``.
"""

from __future__ import annotations


class RnnlabError(Exception):
    """Base class: a problem the user can fix, reported in one line."""

    exit_code = 1
    http_status = 400


class ConfigError(RnnlabError):
    """A configuration value, flag or config file is invalid."""

    exit_code = 2


class InputError(RnnlabError):
    """Values given to a command (context values, windows, ranges) are invalid."""

    exit_code = 2


class RunNotFoundError(RnnlabError):
    """No run with the given id exists in the runs directory."""

    http_status = 404


class RunCorruptError(RnnlabError):
    """A stored run cannot be loaded: missing or truncated file, or mismatching shapes."""

    http_status = 409


class MissingDependencyError(RnnlabError):
    """An optional dependency (an extra such as ``rnnlab[datasets]``) is not installed."""

    http_status = 501


class TrainingDivergedError(RnnlabError):
    """The loss became NaN or infinite; the run keeps the last finite weights."""


class StoreError(RnnlabError):
    """The runs directory cannot be used: not a directory, read-only, or full."""

    http_status = 500


class CatalogError(StoreError):
    """The catalog (runs.db) is corrupt, unreadable or stays locked; ``rnnlab runs check --repair``
    rebuilds it from the run directories."""

    http_status = 503


class RunKeptError(CatalogError):
    """A run was stored completely on disk but the catalog could not list it yet; the next command
    (or ``rnnlab runs check --repair``) adds it. ``run_id`` names it."""

    def __init__(self, message: str, run_id: str):
        super().__init__(message)
        self.run_id = run_id
