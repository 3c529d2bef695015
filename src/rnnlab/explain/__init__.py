"""The hand calculation of a recurrent net, forward and backward, checked against torch.

``explain_forward(model, context, ahead=0, decimals=None)`` walks the forward pass term by term
in float64 (numpy, no torch) and compares every prediction with torch's; ``explain_backward(model,
context, target, lr)`` walks backpropagation through time for one training sample and compares the
gradients with autograd and the SGD update with one trainer step. ``render(walk, fmt)`` turns
either walk into text, markdown, latex, wolfram, json or html.
"""

from __future__ import annotations

from .backward import BackStep, BackwardWalk, LayerBack, explain_backward
from .forward import explain_forward
from .records import Check, ForwardWalk, LayerStep, Rounding, Step, Term
from .render import FORMATS, render

__all__ = [
    "BackStep",
    "BackwardWalk",
    "Check",
    "FORMATS",
    "ForwardWalk",
    "LayerBack",
    "LayerStep",
    "Rounding",
    "Step",
    "Term",
    "explain_backward",
    "explain_forward",
    "render",
]
