"""The compiled engine's path without torch: train, evaluate and store on numpy; rnnlab compile."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import tiny
from rnnlab.arraymodel import ArrayModel
from rnnlab.evaluate import evaluate_seed_task
from rnnlab.store import RunStore
from rnnlab.training import train

NO_TORCH = """
import json, sys
from rnnlab.cli import main
code = main({args!r})
print(json.dumps({{"code": code, "loaded": sorted(m for m in ("torch", "matplotlib", "pandas", "statsmodels")
                                          if m in sys.modules)}}))
"""


def _without_torch(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-c", NO_TORCH.format(args=args)], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_training_on_the_compiled_engine_imports_neither_torch_nor_pandas(tmp_path):
    runs = str(tmp_path / "runs")
    done = _without_torch(["train", "--engine", "fast", "--steps", "200", "--seed", "3", "--quiet", "--runs-dir", runs])
    assert done == {"code": 0, "loaded": []}
    run = RunStore(runs).load("latest")  # stored from numpy, loaded as a torch module
    again = train(run.config)  # the same config again, in this process (torch loaded)
    for name, value in again.model.tensors().items():
        assert np.array_equal(run.model.tensors()[name].numpy(), value.numpy())
    assert run.metrics["one_step_mse"] == pytest.approx(evaluate_seed_task(run.model, run.config.data)["one_step_mse"],
                                                         rel=1e-5)


def test_an_ensemble_of_a_recorded_series_trains_without_torch(tmp_path):
    runs = str(tmp_path / "runs")
    done = _without_torch(["train", "--dataset", "nile", "--steps", "20", "--ensemble", "2", "--seed", "1", "--quiet",
                           "--runs-dir", runs])
    assert done["code"] == 0 and "torch" not in done["loaded"]  # statsmodels (and pandas) where STL is chosen
    run = RunStore(runs).load("latest")
    assert len(run.members) == 2 and np.isfinite(run.metrics["test"]["methods"]["model"]["all_steps"]["mase"])


def test_an_array_model_forecasts_as_the_torch_module_to_float32_rounding():
    result = train(tiny(**{"seed": 2, "train.steps": 100, "train.engine": "fast", "model.cell": "gru",
                           "model.readout": "linear"}))
    arrays, module = result.weights, result.model
    assert isinstance(arrays, ArrayModel)
    for name, value in module.tensors().items():
        assert np.array_equal(arrays.arrays()[name], value.numpy())
    from rnnlab.forecasting import forecast_at, forecast_batch

    contexts = np.sin(np.linspace(0, 3, 24)).reshape(3, 8)
    assert np.allclose(arrays.forecast_batch(contexts, 5), forecast_batch(module, contexts, 5), rtol=1e-5, atol=1e-6)
    assert np.allclose(arrays.forecast_batch(contexts, 5, relative=True),
                       forecast_batch(module, contexts, 5, relative=True), rtol=1e-5, atol=1e-6)
    values = np.sin(np.linspace(0, 6, 40))
    for length in (0, 6):
        assert np.allclose(arrays.forecast_at(values, [10, 17, 30], 4, length),
                           forecast_at(module, values, [10, 17, 30], 4, length), rtol=1e-5, atol=1e-6)


def test_rnnlab_compile_runs_every_code_path_once():
    out = subprocess.run([sys.executable, "-c", "from rnnlab.cli import main; raise SystemExit(main(['compile', '--json']))"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert len(report["cases"]) == 6 and all(case["seconds"] >= 0 for case in report["cases"])
    assert "compiled the seed's case" in out.stderr


def test_cached_code_of_other_sources_is_removed(tmp_path, monkeypatch):
    from pathlib import Path

    import rnnlab.fast as fast

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    folder = fast._cache_dirs(Path(fast.__file__).resolve().parent)[-1]
    folder.mkdir(parents=True)
    (folder / "loop.train_many-1.py311.nbi").write_bytes(b"index")
    (folder / "loop.train_many-1.py311.1.nbc").write_bytes(b"code")
    (folder / fast.STAMP).write_text("the hash of other sources")
    fast._fresh_cache()
    assert not list(folder.glob("*.nb*"))  # compiled from other sources: removed
    digest = (folder / fast.STAMP).read_text()
    assert len(digest) == 64 and digest != "the hash of other sources"
    (folder / "loop.train_many-1.py311.nbi").write_bytes(b"index")
    fast._fresh_cache()
    assert (folder / "loop.train_many-1.py311.nbi").exists()  # these sources: kept
