"""The checks: the same computations done by torch, compared with the hand values.

Tolerances, each applied as ``|hand - torch| <= tolerance · max(1, |torch|)``:

* forward, torch float32 (the model as stored) vs the hand calculation in float64 of the same
  float32 weights: the difference is float32 rounding, ~1e-7 relative; ``FLOAT32_TOLERANCE``.
* forward, torch run in float64 on the same weights: ``FLOAT64_TOLERANCE``.
* gradients, torch autograd in float64: ``GRADIENT_TOLERANCE``.
* the SGD update, one step of the trainer (float32, torch.optim.SGD, MSE of the last
  prediction): ``FLOAT32_TOLERANCE``.
"""

from __future__ import annotations

import copy
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .records import Check, Step

FLOAT32_TOLERANCE = 1e-5
FLOAT64_TOLERANCE = 1e-12
GRADIENT_TOLERANCE = 1e-10


def _compare(framework: str, hand: Sequence[float], reference: Sequence[float], tolerance: float) -> Check:
    hand_a = np.asarray(hand, dtype=np.float64)
    ref_a = np.asarray(reference, dtype=np.float64)
    diff = np.abs(hand_a - ref_a)
    max_abs = float(diff.max(initial=0.0))
    passed = bool(np.all(diff <= tolerance * np.maximum(1.0, np.abs(ref_a))))
    return Check(framework, tuple(map(float, hand_a)), tuple(map(float, ref_a)), max_abs, tolerance, passed)


def _copy_with(model, parameters: Mapping[str, np.ndarray], dtype: torch.dtype):
    """A copy of ``model`` in ``dtype`` holding ``parameters``."""
    twin = copy.deepcopy(model).to(dtype)
    twin.load_tensors({name: torch.from_numpy(np.array(value)) for name, value in parameters.items()})
    twin.eval()
    return twin


def _flat(tensors: Mapping[str, np.ndarray], names: Sequence[str]) -> list[float]:
    return [float(v) for name in names for v in np.asarray(tensors[name], dtype=np.float64).ravel()]


def forward_checks(model, parameters: Mapping[str, np.ndarray], steps: Sequence[Step]) -> tuple[Check, ...]:
    """torch's predictions for the walk's inputs (teacher-forced) in float32 and in float64."""
    inputs = [step.x for step in steps]
    hand = [step.y_hat for step in steps]
    checks = []
    for dtype, label, tolerance in (
        (torch.float32, "torch float32 (the model as stored)", FLOAT32_TOLERANCE),
        (torch.float64, "torch float64", FLOAT64_TOLERANCE),
    ):
        twin = _copy_with(model, parameters, dtype)
        x = torch.tensor(inputs, dtype=dtype).view(1, -1, 1)  # (batch=1, time, 1)
        with torch.no_grad():
            prediction, _ = twin(x)  # (1, time)
        checks.append(_compare(label, hand, prediction[0].double().tolist(), tolerance))
    return tuple(checks)


def backward_checks(model, context: Sequence[float], target: float, gradients: Mapping[str, np.ndarray],
                    updated: Mapping[str, np.ndarray], lr: float, weight_decay: float) -> tuple[Check, ...]:
    """Gradients against torch autograd (float64); the update against one trainer step (float32)."""
    names = list(gradients)
    exact = {name: t.detach().double().numpy() for name, t in model.tensors().items()}
    # autograd in float64
    twin = _copy_with(model, exact, torch.float64)
    x = torch.tensor(list(context), dtype=torch.float64).view(1, -1, 1)  # (1, time, 1)
    prediction, _ = twin(x)  # (1, time)
    loss = F.mse_loss(prediction[0, -1], torch.tensor(target, dtype=torch.float64))
    loss.backward()
    autograd = {_name(n): p.grad.numpy() for n, p in twin.named_parameters()}
    grads = _compare("gradients: torch autograd float64", _flat(gradients, names), _flat(autograd, names),
                     GRADIENT_TOLERANCE)
    # one step of the trainer, float32: torch.optim.SGD, MSE loss on the last prediction
    trainer = copy.deepcopy(model).float()
    # the trainer's mode; dropout between layers is not part of the hand calculation, so off
    trainer.train(not getattr(model.config, "dropout", 0))
    optimizer = torch.optim.SGD(trainer.parameters(), lr=lr, weight_decay=weight_decay)
    series = torch.tensor(list(context) + [target], dtype=torch.float32)  # as the trainer: float32
    prediction, _ = trainer(series[:-1].view(1, -1, 1))
    loss = F.mse_loss(prediction[0, -1], series[-1])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    stepped = {_name(n): p.detach().double().numpy() for n, p in trainer.named_parameters()}
    update = _compare("SGD update: one trainer step (torch float32)", _flat(updated, names),
                      _flat(stepped, names), FLOAT32_TOLERANCE)
    return grads, update


def _name(parameter_name: str) -> str:
    return parameter_name[len("rnn."):] if parameter_name.startswith("rnn.") else parameter_name
