"""The playground's API for teaching: training one step at a time, a step's Wolfram expression and
paper precision, an upload's columns, and the answers that must never touch or show the server's
files. Through FastAPI's test client."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

warnings.filterwarnings("ignore", message=".*httpx.*")
from fastapi.testclient import TestClient  # noqa: E402

from conftest import tiny  # noqa: E402
from rnnlab.data import series_values  # noqa: E402
from rnnlab.explain import explain_backward, explain_forward, render  # noqa: E402
from rnnlab.model import SequenceModel  # noqa: E402
from rnnlab.runs import stored_window  # noqa: E402
from rnnlab.store import RunStore  # noqa: E402
from rnnlab.training import train  # noqa: E402
from rnnlab.training.stepwise import StepTrainer  # noqa: E402
from rnnlab.web import create_app  # noqa: E402


@pytest.fixture
def fresh(tmp_path):
    root = tmp_path / "runs"
    with TestClient(create_app(root)) as c:
        yield c, root


def wait_done(client, job_id: str) -> dict:
    assert client.app.state.trainings.get(job_id).done.wait(120), "training did not finish"
    return client.get(f"/api/train/{job_id}").json()


def model_from(config, tensors) -> SequenceModel:
    model = SequenceModel(config.model)
    model.load_tensors({k: torch.tensor(np.array(v), dtype=torch.float32) for k, v in tensors.items()})
    return model.eval()


# -- the step trainer ------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{}, {"model.cell": "gru", "model.readout": "linear"}, {"model.cell": "lstm"}])
def test_steps_taken_one_at_a_time_are_the_seed_loop_bit_for_bit(overrides):
    config = tiny(**{"train.steps": 12, **overrides})
    trained = train(config)
    stepper = StepTrainer(config)
    steps = [stepper.step() for _ in range(12)]
    assert stepper.history == trained.history
    for name, value in trained.model.tensors().items():
        assert torch.equal(stepper.model.tensors()[name], value)
        assert np.array_equal(steps[-1].after[name], value.double().numpy())
    assert stepper.result().context == trained.context  # the window the seed generates from
    stepper.reset()
    again = stepper.step()
    assert again.window == steps[0].window and again.loss == steps[0].loss


def test_a_step_by_hand_is_explain_backward_for_its_window():
    config = tiny(**{"train.steps": 40})
    stepper = StepTrainer(config)
    for _ in range(7):
        step = stepper.step()
    series = torch.tensor(series_values(config.data).tolist(), dtype=torch.float32).double().numpy()
    assert step.context == pytest.approx(series[step.window.start:step.window.end].tolist(), abs=0)
    walk = explain_backward(model_from(config, step.before), list(step.context), step.target, lr=config.train.lr)
    for name in step.before:
        assert step.gradients[name] == pytest.approx(walk.gradients[name], abs=1e-6)
        assert step.after[name] == pytest.approx(walk.updated[name], abs=1e-6)
        assert step.update[name] == pytest.approx(-config.train.lr * walk.gradients[name], abs=1e-6)
    assert step.loss == pytest.approx(walk.loss, rel=1e-5)


def test_the_api_steps_pauses_resets_and_stores(fresh):
    client, root = fresh
    started = client.post("/api/steppers", json={"config": {"seed": 2, "train": {"steps": 30}}})
    assert started.status_code == 200
    first = started.json()
    sid = first["stepper"]
    assert first["step"] == 0 and first["last"] is None and first["total"] == 30
    ten = client.post(f"/api/steppers/{sid}/step", json={"count": 10}).json()
    assert ten["step"] == 10 and len(ten["losses"]) == 10 and "hand" not in ten["last"]
    one = client.post(f"/api/steppers/{sid}/step", json={"count": 1, "detail": True}).json()
    last = one["last"]
    assert one["step"] == 11 and last["step"] == 11
    config = tiny(seed=2, **{"train.steps": 30})
    walk = explain_backward(model_from(config, last["before"]), last["context"], last["target"], lr=0.1)
    hand = last["hand"]
    for name, value in walk.updated.items():
        assert np.array(hand["updated"][name]) == pytest.approx(value, abs=1e-12)
        assert np.array(one["weights"][name]["values"]) == pytest.approx(value, abs=1e-6)  # the weights now
        assert np.array(last["before"][name]) + np.array(last["update"][name]) == pytest.approx(
            np.array(one["weights"][name]["values"]), abs=1e-7)
    assert all(check["passed"] for check in hand["checks"]) and len(hand["checks"]) == 2
    # the rest of the steps, then no more
    done = client.post(f"/api/steppers/{sid}/step", json={"count": 100}).json()
    assert done["step"] == 30 and "all 30 steps are done" in done["message"]
    stored = client.post(f"/api/steppers/{sid}/store").json()["stored"]
    run = RunStore(root).load(stored)
    trained = train(config)
    assert run.history == trained.history and run.info["status"] == "completed"
    for name, value in trained.model.tensors().items():
        assert torch.equal(run.model.tensors()[name], value)
    reset = client.post(f"/api/steppers/{sid}/reset").json()
    assert reset["step"] == 0 and reset["weights"] == first["weights"]


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"count": 0}, 400, "count must be in 1..2000"),
    ({"count": 5000}, 400, "count must be in 1..2000"),
])
def test_bad_step_requests_are_refused(fresh, body, status, message):
    client, _ = fresh
    sid = client.post("/api/steppers", json={"config": {"seed": 1}}).json()["stepper"]
    answer = client.post(f"/api/steppers/{sid}/step", json=body)
    assert answer.status_code == status and message in answer.json()["error"]


def test_a_stepper_needs_the_seed_loop_and_an_id_it_knows(fresh):
    client, _ = fresh
    batched = client.post("/api/steppers", json={"config": {"train": {"batch_size": 8}}})
    assert batched.status_code == 400 and "seed's loop" in batched.json()["error"]
    missing = client.post("/api/steppers/0123456789ab/step", json={"count": 1})
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]
    sid = client.post("/api/steppers", json={"config": {"seed": 1}}).json()["stepper"]
    empty = client.post(f"/api/steppers/{sid}/store")
    assert empty.status_code == 400 and "at least one training step" in empty.json()["error"]


# -- a step's Wolfram expression, paper precision, the states, compare -----------------------------


@pytest.fixture
def one_run(tmp_path):
    root = tmp_path / "runs"
    store = RunStore(root)
    run_id = store.save(train(tiny(seed=5, **{"train.steps": 40})), {})
    return root, run_id


def test_a_step_carries_its_wolfram_expression_and_paper_precision(one_run):
    root, run_id = one_run
    run = RunStore(root).load(run_id)
    with TestClient(create_app(root)) as client:
        view = client.get(f"/api/runs/{run_id}/forecast", params={"start": 2, "end": 9, "horizon": 3}).json()
        hand = client.get(f"/api/runs/{run_id}/explain", params={"start": 2, "end": 9, "horizon": 3, "step": 8}).json()
    walk = explain_forward(run.model, view["model_context"], ahead=2)
    whole = render(walk, "wolfram")  # what `rnnlab explain --format wolfram` prints
    header, _, body = hand["wolfram"].partition("\n\n")
    assert body.strip() and body in whole and header in whole
    assert "t = 9, x_t = " in body and "(fed back)" in body
    rounded = explain_forward(run.model, view["model_context"], ahead=2, decimals=4)
    paper = hand["paper"]
    assert paper["rounded"] == rounded.steps[8].y_hat and paper["exact"] == walk.steps[8].y_hat
    assert paper["shift"] == pytest.approx(rounded.steps[8].y_hat - walk.steps[8].y_hat)
    assert paper["weights"]["weight_hh_l0"] == np.round(run.model.tensors()["weight_hh_l0"].double().numpy(), 4).tolist()
    assert "rounding moves each weight" in paper["why"]
    # the network picture's node values: torch's h_t after every input
    with torch.no_grad():
        out, _ = run.model.rnn(torch.tensor(view["inputs"], dtype=torch.float32).view(1, -1, 1))
    np.testing.assert_allclose(np.array(view["states"]), out[0].double().numpy(), atol=1e-7)


def test_compare_forecasts_both_runs_from_the_same_window(tmp_path):
    root = tmp_path / "runs"
    store = RunStore(root)
    ids = [store.save(train(tiny(seed=s, **{"train.steps": 20})), {}) for s in (1, 2)]
    with TestClient(create_app(root)) as client:
        data = client.get("/api/compare", params={"a": ids[0], "b": ids[1]}).json()
    windows = [r["chart"]["window"] for r in data["runs"]]
    assert data["same_window"] and windows[0] == windows[1]
    window = stored_window(RunStore(root).load(ids[0]))
    assert windows[0] == [window.start, window.end]


# -- the bugs: uploads, columns, limits, paths --------------------------------------------------------


def test_deleting_uploads_through_the_runs_api_is_refused_and_their_runs_still_work(fresh):
    client, root = fresh
    text = "value\n" + "\n".join(f"{10 + np.sin(i / 3):.6f}" for i in range(60)) + "\n"
    upload = client.post("/api/uploads", content=text.encode()).json()["upload"]
    config = {"seed": 1, "model": {"readout": "linear"}, "train": {"steps": 10, "optimizer": "adam", "lr": 0.01}}
    final = wait_done(client, client.post("/api/train", json={"upload": upload, "config": config}).json()["job"])
    assert final["state"] == "completed", final["message"]
    answer = client.delete("/api/runs/uploads")
    assert answer.status_code == 404 and "not a run" in answer.json()["error"]
    assert str(root) not in answer.json()["error"]
    assert (root / "uploads" / f"{upload}.csv").is_file()
    assert client.get(f"/api/runs/{final['run']}/forecast").status_code == 200
    assert client.get(f"/api/runs/{final['run']}/explain", params={"step": 0}).status_code == 200


@pytest.mark.parametrize(("lr", "message"), [
    (1e308, "train.lr must be a finite number within float32 range"),
    (5000.0, "train.lr must be <= 1000.0 in the playground, got 5000.0"),
])
def test_learning_rates_that_cannot_train_are_400(fresh, lr, message):
    client, _ = fresh
    answer = client.post("/api/train", json={"config": {"train": {"lr": lr}}})
    assert answer.status_code == 400 and message in answer.json()["error"]
    assert client.get("/api/train").json() == []


def test_a_csv_with_two_value_columns_names_them_and_trains_the_chosen_one(fresh):
    client, root = fresh
    rows = [f"2020-01-01 {i // 60:02d}:{i % 60:02d},{i % 7}.5,{100 + 3 * np.cos(i / 4):.4f}" for i in range(70)]
    text = "when,a,b\n" + "\n".join(rows) + "\n"
    described = client.post("/api/uploads", content=text.encode()).json()
    assert described["columns"] == ["when", "a", "b"]
    assert described["value_columns"] == ["a", "b"] and described["time_columns"] == ["when"]
    config = {"seed": 1, "model": {"readout": "linear"}, "train": {"steps": 5, "optimizer": "adam", "lr": 0.01}}
    refused = client.post("/api/train", json={"upload": described["upload"], "config": config})
    assert refused.status_code == 400
    assert refused.json()["error"] == (f"data.column must name one of the 2 value columns of upload "
                                       f"{described['upload']}: a, b")
    wrong = client.post("/api/train", json={"upload": described["upload"], "config": {**config, "data": {"column": "when"}}})
    assert wrong.status_code == 400 and "one of the value columns" in wrong.json()["error"]
    chosen = {**config, "data": {"column": "b", "time_column": "when"}}
    final = wait_done(client, client.post("/api/train", json={"upload": described["upload"], "config": chosen}).json()["job"])
    assert final["state"] == "completed", final["message"]
    run = RunStore(root).load(final["run"])
    assert run.trained_config.data.column == "b" and run.trained_config.data.time_column == "when"
    view = client.get(f"/api/runs/{final['run']}/forecast", params={"start": 0, "end": 10, "horizon": 2}).json()
    assert view["context"] == pytest.approx([100 + 3 * np.cos(i / 4) for i in range(10)], abs=1e-4)


def test_no_message_shows_a_server_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # served with a relative runs directory, as `rnnlab serve` is by default
    with TestClient(create_app("runs")) as client:
        upload = client.post("/api/uploads", content=b"value\n1\n2\nthree\n4\n").json()["upload"]
        gaps = "value\n" + "\n".join("na" if i == 20 else f"{np.sin(i / 3):.4f}" for i in range(60)) + "\n"
        gap = client.post("/api/uploads", content=gaps.encode()).json()["upload"]
        answers = [
            client.get("/api/runs/null/explain", params={"step": 0}).json()["error"],
            client.delete("/api/runs/nothing-here").json()["error"],
            client.get("/api/runs/latest").json()["error"],
        ]
        for bad in (upload, gap):
            job = client.post("/api/train", json={"upload": bad, "config": {"train": {"steps": 3}}})
            answers.append(job.json()["error"] if job.status_code != 202 else wait_done(client, job.json()["job"])["message"])
    for message in answers:
        assert str(tmp_path) not in message and "/uploads/" not in message, message
    assert "the runs directory" in answers[0]
    assert f"upload {upload}" in answers[-2] and f"upload {gap}" in answers[-1]
