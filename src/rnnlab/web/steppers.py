"""Trainings driven one step at a time from the page: pause, one step, resume, reset, store.

A ``Stepper`` holds a ``training.stepwise.StepTrainer`` in memory; the page asks it for N steps
at a time (its speed) and, for a single step, for the whole account of that step: the window
drawn, the loss, autograd's gradient of every weight and the update, next to the same numbers by
hand (``explain_backward``, as ``rnnlab explain --backward`` prints them).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

import numpy as np

from ..config import RunConfig
from ..errors import InputError, RnnlabError
from ..model import SequenceModel
from ..training.stepwise import StepTrainer, TrainingStep, TrainingDiverged

MAX_STEPPERS = 8  # kept in memory; the oldest goes first
MAX_STEPS_PER_CALL = 2000
LOSS_POINTS = 2000  # the loss history sent to the page, at most


class StepperNotFound(RnnlabError):
    """A step-by-step training this server does not hold."""

    http_status = 404


class Stepper:
    def __init__(self, config: RunConfig, name: str | None = None):
        self.id = uuid.uuid4().hex[:12]
        self.trainer = StepTrainer(config)
        self.name = name
        self.lock = threading.Lock()
        self.last: TrainingStep | None = None
        self.stored: str | None = None  # the run id once stored
        self.touched = time.time()

    @property
    def config(self) -> RunConfig:
        return self.trainer.config

    def advance(self, count: int) -> str:
        """Take up to ``count`` steps (fewer at the end of ``train.steps`` or on divergence)."""
        if not (1 <= count <= MAX_STEPS_PER_CALL):
            raise InputError(f"count must be in 1..{MAX_STEPS_PER_CALL}, got {count}")
        message = ""
        with self.lock:
            for _ in range(count):
                if self.trainer.steps_done >= self.config.train.steps:
                    message = f"all {self.config.train.steps} steps are done; reset to start again"
                    break
                try:
                    self.last = self.trainer.step()
                except TrainingDiverged as exc:
                    message = str(exc)
                    break
            self.touched = time.time()
        return message

    def reset(self) -> None:
        with self.lock:
            self.trainer.reset()
            self.last, self.stored = None, None


def values(arrays) -> dict[str, Any]:
    return {name: np.asarray(a).tolist() for name, a in arrays.items()}


def hand_step(config: RunConfig, step: TrainingStep) -> dict[str, Any]:
    """The step by hand: ``explain_backward`` over the weights before it, compared with autograd
    (the gradients) and with the optimizer (the new weights, for plain SGD)."""
    import torch

    from ..explain import explain_backward

    model = SequenceModel(config.model)
    model.load_tensors({k: torch.tensor(v, dtype=torch.float32) for k, v in step.before.items()})
    model.eval()
    t = config.train
    walk = explain_backward(model, list(step.context), step.target, lr=t.lr, weight_decay=t.weight_decay)
    plain_sgd = t.optimizer == "sgd" and not t.momentum

    def largest(a, b) -> float:
        return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])), initial=0.0)) for k in a)

    def scale(a) -> float:
        return max(1.0, *(float(np.max(np.abs(v), initial=0.0)) for v in a.values()))

    # float64 by hand against float32 torch: |difference| <= tolerance · max(1, largest |value|)
    checks = [{"what": "∂L/∂θ by hand vs torch autograd", "difference": largest(walk.gradients, step.gradients),
               "tolerance": 1e-5, "scale": scale(step.gradients)}]
    if plain_sgd:
        checks.append({"what": "θ − lr·∂L/∂θ by hand vs torch.optim.SGD", "difference": largest(walk.updated, step.after),
                       "tolerance": 1e-5, "scale": scale(step.after)})
    for check in checks:
        check["passed"] = check["difference"] <= check["tolerance"] * check["scale"]
    return {
        "loss": walk.loss, "prediction": walk.prediction, "dL_dy_hat": walk.dL_dy_hat,
        "gradients": values(walk.gradients), "updated": values(walk.updated) if plain_sgd else None,
        "checks": checks, "explain_checks_passed": walk.passed,
        "rule": "θ ← θ − lr·(∂L/∂θ + λθ)" if plain_sgd else f"{t.optimizer} (its own rule; the hand check covers the gradients)",
    }


def payload(stepper: Stepper, detail: bool = False, message: str = "") -> dict[str, Any]:
    trainer, last = stepper.trainer, stepper.last
    history = trainer.history
    stride = max(1, len(history) // LOSS_POINTS)
    result: dict[str, Any] = {
        "stepper": stepper.id, "step": trainer.steps_done, "total": stepper.config.train.steps,
        "seed": stepper.config.seed, "lr": stepper.config.train.lr, "optimizer": stepper.config.train.optimizer,
        "cell": stepper.config.model.cell, "hidden_size": stepper.config.model.hidden_size,
        "loss": history[-1] if history else None,
        "losses": [[i + 1, history[i]] for i in range(0, len(history), stride)],
        "seconds": trainer.seconds, "message": message or trainer.failure, "stored": stepper.stored,
        "weights": {name: {"shape": list(t.shape), "values": t.double().tolist()}
                    for name, t in trainer.model.tensors().items()},
        "last": None,
    }
    if last is not None:
        result["last"] = {
            "step": last.step, "window": [last.window.start, last.window.end], "context": list(last.context),
            "target": last.target, "prediction": last.prediction, "loss": last.loss,
            "gradients": values(last.gradients), "update": values(last.update), "before": values(last.before),
        }
        if detail:
            result["last"]["hand"] = hand_step(stepper.config, last)
    return result


class Steppers:
    """The steppers of one app, by id; at most ``MAX_STEPPERS``, the least recently used dropped."""

    def __init__(self):
        self.items: OrderedDict[str, Stepper] = OrderedDict()
        self.lock = threading.Lock()

    def start(self, config: RunConfig, name: str | None = None) -> Stepper:
        stepper = Stepper(config, name)
        with self.lock:
            self.items[stepper.id] = stepper
            while len(self.items) > MAX_STEPPERS:
                self.items.popitem(last=False)
        return stepper

    def get(self, stepper_id: str) -> Stepper:
        with self.lock:
            stepper = self.items.get(stepper_id)
            if stepper is not None:
                self.items.move_to_end(stepper_id)
        if stepper is None:
            raise StepperNotFound(f"step-by-step training {stepper_id!r} does not exist (or was dropped for newer ones)")
        return stepper
