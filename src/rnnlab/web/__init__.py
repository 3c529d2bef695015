"""The playground: a local web page over rnnlab (``rnnlab serve``)."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
