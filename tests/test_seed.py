"""The seed program, reproduced: golden numbers printed by the blog's program for four seeds.

tests/golden/ holds, for each seed, what the seed program printed and its final weights
(``random.seed(S)``, ``torch.manual_seed(S)`` once at the start, the program unchanged but for
its number of epochs, torch 2.13.0 on the CPU). ``rnnlab seed`` must print the same numbers and
store the same weights, within 1e-6.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from rnnlab.store import RunStore

GOLDEN = Path(__file__).parent / "golden"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
CASES = [("seed1_epochs2000.json", 1, 2000), ("seed2_epochs2000.json", 2, 2000),
         ("seed3_epochs2000.json", 3, 2000), ("seed7_epochs20000.json", 7, 20000)]


def numbers(line: str) -> list[float]:
    return [float(x) for x in NUMBER.findall(line)]


@pytest.mark.parametrize("filename,seed,steps", CASES)
def test_seed_command_reproduces_the_seed_program(filename, seed, steps, runs_dir, cli):
    golden = json.loads((GOLDEN / filename).read_text())
    code, out, err = cli("seed", "--seed", seed, "--steps", steps, "--quiet")
    assert code == 0, err

    got, want = out.splitlines(), golden["stdout"].splitlines()
    assert len(got) == len(want)
    for line_got, line_want in zip(got, want):
        # same words, same numbers to 1e-6 (loss lines, tensors as torch prints them, values)
        assert NUMBER.sub("#", line_got) == NUMBER.sub("#", line_want)
        np.testing.assert_allclose(numbers(line_got), numbers(line_want), rtol=0, atol=1e-6)

    run = RunStore(runs_dir).load(RunStore(runs_dir).latest())
    tensors = run.model.tensors()
    assert set(tensors) == set(golden["final_state_dict"])
    for name, values in golden["final_state_dict"].items():
        np.testing.assert_allclose(tensors[name].numpy(), np.array(values), rtol=0, atol=1e-6)
    assert run.config.seed == seed and run.info["steps"] == steps and run.status == "completed"


def test_the_loss_history_is_the_printed_loss(runs_dir, cli):
    golden = json.loads((GOLDEN / "seed2_epochs2000.json").read_text())
    code, out, _ = cli("seed", "--seed", 2, "--steps", 2000, "--quiet")
    assert code == 0
    history = RunStore(runs_dir).load(RunStore(runs_dir).latest()).history
    printed = [numbers(line)[-1] for line in golden["stdout"].splitlines() if line.startswith("Epoch")]
    np.testing.assert_allclose(np.round(history[9::10], 4), printed, atol=1e-12)
