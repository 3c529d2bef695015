"""Validation and early stopping for the compiled engine: every member at once, on numpy.

The torch engine (``windowed.validation_loss``) scores a model by the mean squared error, in
scaled units, of R-step rollouts from every origin of the validation part, each from the
context the model reads there (the last N values for fixed contexts, the whole history for
variable-length windows). ``Validation`` computes the same score for many models at once with
the compiled forecast (``fast.loop.forecast_many``) and keeps, per model, the best score, its
step and its weights, and the count of validations since; with ``train.patience`` P > 0 a model
stops after P validations without a better score, and the best weights are restored at the end.
"""

from __future__ import annotations

import numpy as np

from ..data import Prepared
from ..fast import Layout, loop


class Validation:
    """The validation part's origins, contexts and truth, and each model's best score so far."""

    def __init__(self, prepared: Prepared, steps: int, thetas: np.ndarray, patience: int):
        split, N = prepared.split, prepared.context_length
        self.steps = min(steps, split.val_size)
        origins = list(range(split.train_end, split.val_end - self.steps + 1))
        values = np.asarray(prepared.scaled, dtype=np.float32).astype(np.float64)  # the model's inputs
        self.usable = bool(origins) and not (N and origins[0] < N)
        if not self.usable:
            return
        if N:
            self.contexts = np.stack([values[o - N : o] for o in origins])  # (origins, N)
            self.lengths = np.full(len(origins), N, dtype=np.int64)
        else:  # the whole history before each origin
            self.contexts = np.zeros((len(origins), origins[-1]))
            for i, o in enumerate(origins):
                self.contexts[i, :o] = values[:o]
            self.lengths = np.array(origins, dtype=np.int64)
        self.levels = self.contexts[:, N - 1].copy() if prepared.relative else np.zeros(len(origins))
        if prepared.relative:
            self.contexts = self.contexts - self.levels[:, None]
        self.truth = np.stack([values[o : o + self.steps] for o in origins])  # (origins, steps)
        count = thetas.shape[0]
        self.patience = patience
        self.best = np.full(count, np.inf)
        self.best_step = np.zeros(count, dtype=np.int64)
        self.best_thetas = thetas.copy()
        self.waited = np.zeros(count, dtype=np.int64)
        self.history: list[tuple[int, float]] = []  # model 0's (step, loss)

    def losses(self, lay: Layout, thetas: np.ndarray) -> np.ndarray:
        """Each model's validation loss: (models,)."""
        out = np.zeros((thetas.shape[0], len(self.lengths), self.steps))
        loop.forecast_many(lay.net, thetas, self.contexts, self.lengths, self.steps, out)
        out += self.levels[None, :, None]
        return np.mean((out - self.truth[None]) ** 2, axis=(1, 2))

    def update(self, lay: Layout, thetas: np.ndarray, running: np.ndarray, step: int) -> np.ndarray:
        """Score the running models after ``step``; returns the models that stop early now."""
        losses = self.losses(lay, thetas)
        if running[0]:
            self.history.append((step, float(losses[0])))
        better = running & (losses < self.best)
        self.best[better], self.best_step[better] = losses[better], step
        self.best_thetas[better] = thetas[better]
        self.waited[better] = 0
        self.waited[running & ~better] += 1
        if not self.patience:
            return np.zeros_like(running)
        return running & (self.waited >= self.patience)

    def restore(self, thetas: np.ndarray) -> None:
        """Put each model's best weights back (models that were never scored keep theirs)."""
        scored = np.isfinite(self.best)
        thetas[scored] = self.best_thetas[scored]
