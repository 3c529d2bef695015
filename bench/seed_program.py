"""The seed program's training as the blog writes it (printing left out): nn.RNN(1, 4) on windows
of one sine period, one window per SGD step. Run as a script, it trains 20,000 steps (the whole
process is what ``bench/startup.py`` times); ``bench/run.py`` imports ``seed_program``."""

from __future__ import annotations

import math
import random
import sys

import torch


def seed_program(seed: int, steps: int = 20000) -> torch.nn.RNN:
    """The seed program's training, as it is written (printing left out)."""
    random.seed(seed)
    torch.manual_seed(seed)

    def generate_sine_values():
        num_points, min_sequence_length, prediction_length = 36, 4, 1
        start = random.randint(0, num_points - min_sequence_length - prediction_length)
        end = random.randint(start + min_sequence_length + prediction_length, num_points + 1)
        Y = [math.sin(i * math.pi * 2 / num_points) for i in range(start, end)]
        y = Y.pop()
        return torch.tensor(Y).view(-1, 1), torch.tensor(y)

    hidden_size = 4
    model = torch.nn.RNN(1, hidden_size)
    criterion = torch.nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for _ in range(steps):
        hidden = torch.zeros(1, hidden_size)
        Y, y = generate_sine_values()
        output, _ = model(Y, hidden)
        loss = criterion(output[-1, :][-1], y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


if __name__ == "__main__":
    seed_program(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
