"""The playground's JSON API through FastAPI's test client: every endpoint, every limit, traversal."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

warnings.filterwarnings("ignore", message=".*httpx.*")
from fastapi.testclient import TestClient  # noqa: E402

from conftest import tiny  # noqa: E402
from rnnlab.data import series_values, true_value  # noqa: E402
from rnnlab.forecasting import forecast  # noqa: E402
from rnnlab.store import RunStore  # noqa: E402
from rnnlab.training import train  # noqa: E402
from rnnlab.web import create_app  # noqa: E402
from rnnlab.web.service import LIMITS  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A runs directory holding two small runs (seeds 3 and 4), shared by the read-only tests."""
    root = tmp_path_factory.mktemp("web") / "runs"
    store = RunStore(root)
    ids = [store.save(train(tiny(seed=seed, **{"train.steps": 25})), {"one_step_mse": 0.5}) for seed in (3, 4)]
    return root, ids


@pytest.fixture
def client(trained):
    with TestClient(create_app(trained[0])) as c:
        yield c


@pytest.fixture
def fresh(tmp_path):
    """A client over an empty runs directory, and that directory."""
    root = tmp_path / "runs"
    with TestClient(create_app(root)) as c:
        yield c, root


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def wait_done(client, job_id: str) -> dict:
    job = client.app.state.trainings.get(job_id)
    assert job.done.wait(120), "training did not finish"
    return client.get(f"/api/train/{job_id}").json()


# -- page, static files, schema, options ----------------------------------------------------------


def test_page_loads_plotly_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200
    assert '<script src="/static/plotly.min.js"></script>' in page.text
    assert "cdn" not in page.text.lower()
    import plotly

    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert js.content == (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    for name in ("app.js", "app.css"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and len(response.content) > 1000
    assert "http" not in client.get("/static/app.js").text.replace("HTTP ", "")


def test_openapi_documents_every_api_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/api/options": {"get"}, "/api/train": {"get", "post"}, "/api/train/{job_id}": {"get"},
        "/api/train/{job_id}/stop": {"post"}, "/api/train/{job_id}/events": {"get"},
        "/api/uploads": {"post"}, "/api/runs": {"get"}, "/api/runs/{run_id}": {"get", "delete"},
        "/api/runs/{run_id}/weights": {"get"}, "/api/runs/{run_id}/forecast": {"get"},
        "/api/runs/{run_id}/explain": {"get"}, "/api/runs/{run_id}/edit": {"post"},
        "/api/runs/{run_id}/report": {"get"}, "/api/compare": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path


def test_options_offer_the_configs_choices_and_the_seed_preset(client):
    from rnnlab import config, presets

    data = client.get("/api/options").json()
    assert data["choices"]["model.cell"] == list(config.CELLS)
    assert data["choices"]["train.optimizer"] == list(config.OPTIMIZERS)
    assert data["choices"]["train.engine"] == list(config.ENGINES)
    assert data["presets"]["seed"] == presets.PRESETS["seed"].to_dict()
    assert data["limits"]["model.hidden_size"] == LIMITS["model.hidden_size"]
    assert data["features"]["explain"]["available"] is True


# -- training ------------------------------------------------------------------------------------


def test_training_streams_progress_and_stores_the_run(fresh):
    client, root = fresh
    started = client.post("/api/train", json={"config": {"seed": 5, "train": {"steps": 20}}})
    assert started.status_code == 202
    job = started.json()
    assert job["state"] == "running" and job["total"] == 20 and job["seed"] == 5
    events = sse_events(client.get(f"/api/train/{job['job']}/events").text)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"progress"}
    points = [p for kind, data in events if kind == "progress" for p in data["points"]]
    assert [step for step, _ in points] == list(range(1, 21))
    done = events[-1][1]
    assert done["state"] == "completed" and done["step"] == 20
    rows = RunStore(root).list()
    assert [(r["id"], r["status"], r["steps"]) for r in rows] == [(done["run"], "completed", 20)]
    run = client.get(f"/api/runs/{done['run']}").json()
    assert run["history"] == [loss for _, loss in points]
    # the same config trained directly gives the same losses
    assert train(tiny(seed=5, **{"train.steps": 20})).history == run["history"]
    assert run["metrics"]["windows"] == 560


def test_stop_keeps_the_run_as_interrupted(fresh):
    client, root = fresh
    job = client.post("/api/train", json={"config": {"seed": 1, "train": {"steps": 50000}}}).json()
    stopped = client.post(f"/api/train/{job['job']}/stop")
    assert stopped.status_code == 200
    final = wait_done(client, job["job"])
    assert final["state"] == "interrupted"
    row = RunStore(root).list()[0]
    assert row["id"] == final["run"] and row["status"] == "interrupted" and row["steps"] < 50000
    assert client.get("/api/train").json()[0]["state"] == "interrupted"


def test_two_trainings_at_once_both_finish_with_their_own_results(fresh):
    client, root = fresh
    jobs = [client.post("/api/train", json={"config": {"seed": s, "train": {"steps": 30}}}).json() for s in (1, 2)]
    finals = [wait_done(client, j["job"]) for j in jobs]
    assert [f["state"] for f in finals] == ["completed", "completed"]
    rows = {r["id"]: r for r in RunStore(root).list()}
    assert set(rows) == {f["run"] for f in finals} and all(r["status"] == "completed" for r in rows.values())
    for seed, final in zip((1, 2), finals):
        stored = client.get(f"/api/runs/{final['run']}").json()["history"]
        assert stored == train(tiny(seed=seed)).history


def test_closing_the_server_stops_live_trainings_and_stores_them(tmp_path):
    root = tmp_path / "runs"
    with TestClient(create_app(root)) as client:
        job = client.post("/api/train", json={"config": {"seed": 1, "train": {"steps": 100000}}}).json()
    rows = RunStore(root).list()
    assert len(rows) == 1 and rows[0]["status"] == "interrupted" and rows[0]["steps"] < 100000
    assert job["state"] == "running"


def test_too_many_trainings_at_once_is_429(fresh):
    client, _ = fresh
    client.app.state.trainings.max_live = 1
    first = client.post("/api/train", json={"config": {"seed": 1, "train": {"steps": 50000}}}).json()
    second = client.post("/api/train", json={"config": {"seed": 2, "train": {"steps": 10}}})
    assert second.status_code == 429 and "trainings at once must be <= 1" in second.json()["error"]
    client.post(f"/api/train/{first['job']}/stop")
    assert wait_done(client, first["job"])["state"] == "interrupted"


def test_unknown_training_is_404(client):
    for method, url in (("get", "/api/train/nope"), ("post", "/api/train/nope/stop"), ("get", "/api/train/nope/events")):
        response = getattr(client, method)(url)
        assert response.status_code == 404 and "nope" in response.json()["error"]


@pytest.mark.parametrize(
    "config, message",
    [
        ({"model": {"hidden_size": 0}}, "model.hidden_size must be >= 1, got 0"),
        ({"model": {"hidden_size": LIMITS["model.hidden_size"] + 1}}, "model.hidden_size must be <= 64 in the playground"),
        ({"model": {"num_layers": LIMITS["model.num_layers"] + 1}}, "model.num_layers must be <= 4"),
        ({"train": {"steps": LIMITS["train.steps"] + 1}}, "train.steps must be <= 100000"),
        ({"forecast": {"steps": LIMITS["forecast.steps"] + 1}}, "forecast.steps must be <= 200"),
        ({"data": {"points_per_period": 30000}}, "series_length must be <= 20000"),
        ({"train": {"lr": -1}}, "train.lr must be a finite number > 0"),
        ({"model": {"cell": "transformer"}}, "model.cell must be one of"),
        ({"modle": {}}, "unknown config key modle"),
        ({"data": {"csv": "/etc/passwd"}}, "data.csv cannot be set here"),
    ],
)
def test_bad_or_oversized_training_configs_are_400(fresh, config, message):
    client, root = fresh
    response = client.post("/api/train", json={"config": config})
    assert response.status_code == 400 and message in response.json()["error"]
    assert client.get("/api/train").json() == [] and RunStore(root).list() == []


def test_a_malformed_body_is_a_one_line_400(client):
    response = client.post("/api/train", json={"config": "big"})
    assert response.status_code == 400 and response.json()["error"].startswith("config:")
    response = client.get("/api/runs/x/explain", params={"step": "abc"})
    assert response.status_code == 400 and "step" in response.json()["error"]


# -- runs ----------------------------------------------------------------------------------------


def test_runs_list_show_and_weights(client, trained):
    root, ids = trained
    assert [r["id"] for r in client.get("/api/runs").json()] == ids
    run = RunStore(root).load(ids[0])
    shown = client.get(f"/api/runs/{ids[0]}").json()
    assert shown["config"] == run.config.to_dict() and shown["history"] == run.history
    assert client.get("/api/runs/latest").json()["id"] == ids[-1]
    weights = client.get(f"/api/runs/{ids[0]}/weights").json()
    for name, tensor in run.model.tensors().items():
        assert weights[name]["shape"] == list(tensor.shape)
        assert np.array_equal(np.array(weights[name]["values"]), tensor.double().numpy())


def test_forecast_gives_the_seed_chart_for_any_window(client, trained):
    root, ids = trained
    run = RunStore(root).load(ids[0])
    series = series_values(run.config.data)
    default = client.get(f"/api/runs/{ids[0]}/forecast").json()
    start, end = run.info["context"]
    assert default["window"] == [start, end] and default["horizon"] == 10
    assert default["context"] == series[start:end].tolist()
    assert default["forecast"] == forecast(run.model, series[start:end], 10).tolist()
    chosen = client.get(f"/api/runs/{ids[0]}/forecast", params={"start": 30, "end": 36, "horizon": 15}).json()
    assert chosen["forecast_index"] == list(range(36, 51))
    assert chosen["forecast"] == forecast(run.model, series[30:36], 15).tolist()
    assert chosen["baseline_index"] == list(range(51))
    assert chosen["baseline"][:37] == series.tolist()
    assert chosen["baseline"][50] == pytest.approx(true_value(run.config.data, 50))
    assert chosen["inputs"] == series[30:36].tolist() + chosen["forecast"][:-1]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"start": 5, "end": 5}, "0 <= start < end <= 37"),
        ({"start": 0, "end": 38}, "0 <= start < end <= 37"),
        ({"start": -1, "end": 3}, "0 <= start < end <= 37"),
        ({"start": 3}, "give both start and end"),
        ({"horizon": 0}, "horizon must be >= 1, got 0"),
        ({"horizon": LIMITS["forecast.steps"] + 1}, "forecast.steps must be <= 200"),
    ],
)
def test_bad_windows_and_horizons_are_400(client, trained, params, message):
    response = client.get(f"/api/runs/{trained[1][0]}/forecast", params=params)
    assert response.status_code == 400 and message in response.json()["error"]


def test_explain_gives_each_steps_terms_and_the_check(client, trained):
    from rnnlab.explain import explain_forward

    root, ids = trained
    run = RunStore(root).load(ids[0])
    view = client.get(f"/api/runs/{ids[0]}/forecast", params={"start": 2, "end": 8, "horizon": 4}).json()
    walk = explain_forward(run.model, view["context"], ahead=3)
    with torch.no_grad():
        torch_predictions = run.model(torch.tensor(view["inputs"], dtype=torch.float32).view(1, -1, 1))[0][0]
    for step in (0, 5, 8):  # first context step, last context step, a fed-back step
        hand = client.get(f"/api/runs/{ids[0]}/explain", params={"start": 2, "end": 8, "horizon": 4, "step": step}).json()
        assert hand["available"] is True and hand["fed_back"] is (step >= 6)
        assert hand["x"] == view["inputs"][step]
        assert hand["hand_prediction"] == pytest.approx(walk.steps[step].y_hat, abs=1e-12)
        assert hand["hand"]["layers"][0]["h"] == pytest.approx(walk.steps[step].layers[0].h.tolist(), abs=1e-12)
        assert hand["framework"]["prediction"] == pytest.approx(float(torch_predictions[step]), abs=1e-7)
        assert hand["difference"] == pytest.approx(abs(hand["hand_prediction"] - hand["framework"]["prediction"]))
        assert all(c["passed"] for c in hand["checks"]) and len(hand["checks"]) >= 1
    # the last fed-back step predicts the forecast's last value
    assert hand["framework"]["prediction"] == pytest.approx(view["forecast"][3], abs=1e-7)
    bad = client.get(f"/api/runs/{ids[0]}/explain", params={"start": 2, "end": 8, "horizon": 4, "step": 9})
    assert bad.status_code == 400 and "step must be in 0..8" in bad.json()["error"]


def test_editing_a_weight_changes_forecast_and_hand_calculation_without_saving(client, trained):
    from rnnlab.model import SequenceModel

    root, ids = trained
    run = RunStore(root).load(ids[0])
    weights_file = (root / ids[0] / "model.safetensors").read_bytes()
    before = client.get(f"/api/runs/{ids[0]}/forecast", params={"start": 0, "end": 6}).json()
    edits = [{"name": "weight_hh_l0", "index": [3, 1], "value": 1.5}, {"name": "bias_ih_l0", "index": [2], "value": -0.25}]
    edited = client.post(f"/api/runs/{ids[0]}/edit", json={"edits": edits, "start": 0, "end": 6, "step": 5})
    assert edited.status_code == 200
    data = edited.json()
    tensors = run.model.tensors()
    tensors["weight_hh_l0"][3, 1] = 1.5
    tensors["bias_ih_l0"][2] = -0.25
    model = SequenceModel(run.config.model)
    model.load_tensors(tensors)
    expected = forecast(model, before["context"], 10).tolist()
    assert data["chart"]["forecast"] == expected and expected != before["forecast"]
    assert data["weights"]["weight_hh_l0"]["values"][3][1] == pytest.approx(1.5)
    assert data["explain"]["framework"]["prediction"] == pytest.approx(expected[0], abs=1e-7)
    assert data["explain"]["hand_prediction"] == pytest.approx(expected[0], abs=1e-6)
    # nothing saved
    assert (root / ids[0] / "model.safetensors").read_bytes() == weights_file
    assert client.get(f"/api/runs/{ids[0]}/forecast", params={"start": 0, "end": 6}).json() == before


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"name": "weight_xx", "index": [0], "value": 1.0}, "parameter must be one of weight_ih_l0"),
        ({"name": "weight_hh_l0", "index": [4, 0], "value": 1.0}, "index of weight_hh_l0 must be within shape [4, 4]"),
        ({"name": "weight_hh_l0", "index": [0], "value": 1.0}, "must be within shape [4, 4], got [0]"),
        ({"name": "bias_hh_l0", "index": [0], "value": 1e6}, "must be a finite number within ±1000"),
    ],
)
def test_bad_weight_edits_are_400(client, trained, edit, message):
    response = client.post(f"/api/runs/{trained[1][0]}/edit", json={"edits": [edit]})
    assert response.status_code == 400 and message in response.json()["error"]


def test_too_many_edits_is_400(client, trained):
    edits = [{"name": "bias_hh_l0", "index": [0], "value": 0.1}] * (LIMITS["edits"] + 1)
    response = client.post(f"/api/runs/{trained[1][0]}/edit", json={"edits": edits})
    assert response.status_code == 400 and "at most 256 changes" in response.json()["error"]


def test_compare_shows_differences_and_both_runs(client, trained):
    root, ids = trained
    data = client.get("/api/compare", params={"a": ids[0], "b": ids[1]}).json()
    assert data["differences"] == {"seed": [3, 4]}
    assert [r["id"] for r in data["runs"]] == ids
    start, end = RunStore(root).load(ids[0]).info["context"]  # both forecast from the first run's window
    for shown, run_id in zip(data["runs"], ids):
        run = RunStore(root).load(run_id)
        assert shown["history"] == run.history and shown["chart"]["window"] == [start, end]
        assert shown["chart"]["forecast"] == forecast(run.model, series_values(run.config.data)[start:end], 10).tolist()


def test_report_is_a_download_of_the_runs_html(client, trained):
    run_id = trained[1][0]
    response = client.get(f"/api/runs/{run_id}/report")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["content-disposition"] == f'attachment; filename="{run_id}.html"'
    assert run_id in response.text and "<html" in response.text.lower()


def test_delete_removes_the_run_from_catalog_and_disk(tmp_path):
    root = tmp_path / "runs"
    store = RunStore(root)
    keep, gone = (store.save(train(tiny(seed=s, **{"train.steps": 3}))) for s in (1, 2))
    with TestClient(create_app(root)) as client:
        assert client.delete(f"/api/runs/{gone}").json() == {"deleted": gone}
        assert [r["id"] for r in client.get("/api/runs").json()] == [keep]
        assert not (root / gone).exists() and (root / keep).is_dir()
        again = client.delete(f"/api/runs/{gone}")
        assert again.status_code == 404 and gone in again.json()["error"]
        assert client.get(f"/api/runs/{gone}/forecast").status_code == 404


# -- safety --------------------------------------------------------------------------------------

TRAVERSALS = [
    "..", "../victim", "..%2Fvictim", "%2E%2E%2Fvictim", "%2e%2e", "..%5Cvictim", "%252e%252e%252fvictim",
    "%2Ftmp%2Fvictim", "..%2F..%2F..%2Fetc%2Fpasswd", "a%00b", ".hidden", "-rf",
]


@pytest.fixture
def victim(trained, tmp_path):
    """A valid run directory next to the runs directory, which no request may reach."""
    root, ids = trained
    target = root.parent / "victim"
    if not target.exists():
        shutil.copytree(root / ids[0], target)
    return target


@pytest.mark.parametrize("run_id", TRAVERSALS)
@pytest.mark.parametrize(
    "method, template",
    [("get", "/api/runs/{}"), ("get", "/api/runs/{}/weights"), ("get", "/api/runs/{}/forecast"),
     ("get", "/api/runs/{}/explain?step=0"), ("get", "/api/runs/{}/report"), ("delete", "/api/runs/{}"),
     ("post", "/api/runs/{}/edit")],
)
def test_run_ids_cannot_reach_outside_the_runs_dir(client, victim, method, template, run_id):
    kwargs = {"json": {"edits": []}} if method == "post" else {}
    response = getattr(client, method)(template.format(run_id), **kwargs)
    assert response.status_code in (400, 404), response.text
    assert "error" in response.json()
    assert (victim / "model.safetensors").is_file()


@pytest.mark.parametrize("run_id", ["../victim", "/tmp/victim", "..\\victim", "victim/../../x", str(Path("/etc/passwd"))])
def test_query_parameters_take_no_paths(client, victim, trained, run_id):
    response = client.get("/api/compare", params={"a": run_id, "b": trained[1][0]})
    assert response.status_code == 400 and "run id must be a directory name" in response.json()["error"]
    response = client.post("/api/train", json={"upload": run_id})
    assert response.status_code == 400 and "upload id must be 16 hex digits" in response.json()["error"]


def test_uploads_are_capped_checked_and_stored_under_the_runs_dir(fresh):
    client, root = fresh
    big = b"value\n" + b"1.0\n" * (LIMITS["upload_bytes"] // 4)
    response = client.post("/api/uploads", content=big)
    assert response.status_code == 413 and "upload must be <= 1000000 bytes" in response.json()["error"]
    response = client.post("/api/uploads", content=b"\xff\xfe\x00bad")
    assert response.status_code == 400 and "UTF-8" in response.json()["error"]
    response = client.post("/api/uploads", content=b"value\n")
    assert response.status_code == 400 and "at least one row" in response.json()["error"]
    text = "value\n" + "\n".join(str(np.sin(i / 3)) for i in range(60)) + "\n"
    ok = client.post("/api/uploads", content=text.encode())
    assert ok.status_code == 200
    data = ok.json()
    assert data["rows"] == 60 and data["header"] == "value"
    assert (root / "uploads" / f"{data['upload']}.csv").read_text() == text
    missing = client.post("/api/train", json={"upload": "0123456789abcdef"})
    assert missing.status_code == 404


def test_other_hosts_and_cross_site_writes_are_refused(client, trained):
    response = client.get("/api/runs", headers={"host": "evil.example:8000"})
    assert response.status_code == 400 and "evil.example" in response.json()["error"]
    response = client.delete(f"/api/runs/{trained[1][0]}", headers={"origin": "http://evil.example"})
    assert response.status_code == 403
    assert client.get(f"/api/runs/{trained[1][0]}").status_code == 200


def test_serving_to_the_network_accepts_any_host_but_not_cross_site_writes(trained):
    with TestClient(create_app(trained[0], allowed_hosts=("0.0.0.0",))) as client:
        assert client.get("/api/runs", headers={"host": "192.168.1.5:8000"}).status_code == 200
        response = client.post("/api/train", json={}, headers={"host": "192.168.1.5:8000", "origin": "http://evil.example"})
        assert response.status_code == 403 and client.get("/api/train").json() == []


def test_serve_rejects_a_bad_port(cli):
    code, out, err = cli("serve", "--port", "70000")
    assert code == 2 and err.strip() == "error: --port must be in 0..65535, got 70000"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = cli("serve", "--port", str(port))
    assert code == 1 and err.startswith(f"error: cannot listen on 127.0.0.1:{port}: ") and len(err.splitlines()) == 1


# -- a real server: a client that goes away -------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_client_that_disconnects_mid_training_still_gets_its_run_stored(tmp_path):
    import httpx
    import uvicorn

    root = tmp_path / "runs"
    app = create_app(root)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        job = httpx.post(f"{base}/api/train", json={"config": {"seed": 2, "train": {"steps": 300}}}).json()
        with httpx.stream("GET", f"{base}/api/train/{job['job']}/events", timeout=60) as stream:
            first = next(stream.iter_lines())
        assert first.startswith("event: ")
        record = app.state.trainings.get(job["job"])
        assert record.done.wait(120)
        rows = RunStore(root).list()
        assert [(r["id"], r["status"], r["steps"]) for r in rows] == [(record.run_id, "completed", 300)]
    finally:
        server.should_exit = True
        thread.join(30)


def test_training_on_an_uploaded_csv_charts_it_in_its_own_units(fresh):
    client, root = fresh
    values = [10 + 5 * np.sin(i / 3) for i in range(90)]
    text = "value\n" + "\n".join(f"{v:.6f}" for v in values) + "\n"
    upload = client.post("/api/uploads", content=text.encode()).json()["upload"]
    config = {"seed": 1, "model": {"readout": "linear"}, "train": {"steps": 10, "optimizer": "adam", "lr": 0.01}}
    job = client.post("/api/train", json={"upload": upload, "config": config}).json()
    final = wait_done(client, job["job"])
    assert final["state"] == "completed", final["message"]
    run = RunStore(root).load(final["run"])
    trained = run.trained_config.data  # as trained; run.config reads the copy stored with the run
    assert trained.series == "csv" and Path(trained.csv) == root / "uploads" / f"{upload}.csv"
    assert Path(run.config.data.csv) == run.path / "series.csv"
    view = client.get(f"/api/runs/{final['run']}/forecast", params={"start": 10, "end": 30, "horizon": 4}).json()
    assert view["context"] == pytest.approx([round(v, 6) for v in values[10:30]])
    scale = view["scaling"]
    assert scale["kind"] == "minmax"
    scaled = [(v - scale["offset"]) / scale["scale"] for v in view["context"]]
    expected = np.array(forecast(run.model, scaled, 4)) * scale["scale"] + scale["offset"]
    assert view["forecast"] == pytest.approx(expected.tolist())
    assert view["baseline"] == pytest.approx([round(v, 6) for v in values])
    at_end = client.get(f"/api/runs/{final['run']}/forecast", params={"start": 80, "end": 90, "horizon": 3}).json()
    assert at_end["forecast_index"] == [90, 91, 92] and at_end["baseline"][90:] == [None] * 3  # no values past the end
    hand = client.get(f"/api/runs/{final['run']}/explain", params={"start": 10, "end": 30, "step": 19}).json()
    assert hand["x"] == pytest.approx(scaled[19]) and all(c["passed"] for c in hand["checks"])


def test_serve_stops_and_stores_live_trainings_on_ctrl_c(tmp_path):
    import signal
    import subprocess
    import sys

    import httpx

    root, port = tmp_path / "runs", _free_port()
    process = subprocess.Popen([sys.executable, "-m", "rnnlab", "serve", "--port", str(port), "--runs-dir", str(root)],
                               stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{base}/api/options", timeout=1)
                break
            except httpx.HTTPError:
                threading.Event().wait(0.1)
        job = httpx.post(f"{base}/api/train", json={"config": {"seed": 1, "train": {"steps": 100000}}}, timeout=30).json()
        with httpx.stream("GET", f"{base}/api/train/{job['job']}/events", timeout=60) as stream:
            lines = stream.iter_lines()
            next(lines)  # a page is watching
            process.send_signal(signal.SIGINT)
            rest = list(lines)  # the server ends the stream itself
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    err = process.stderr.read()
    assert f"rnnlab playground on http://127.0.0.1:{port}/" in err and "Traceback" not in err
    rows = RunStore(root).list()
    assert len(rows) == 1 and rows[0]["status"] == "interrupted" and rows[0]["steps"] < 100000
    assert all("done" not in line for line in rest)


def test_missing_parts_are_said_plainly(client, trained, monkeypatch):
    from rnnlab.web import service

    status = service.feature_status()
    status["explain"] = {"available": False, "message": "The hand calculation needs rnnlab.explain, which this build does not have."}
    monkeypatch.setattr(service, "feature_status", lambda: status)
    monkeypatch.setattr(service, "report_function", lambda: None)
    run_id = trained[1][0]
    hand = client.get(f"/api/runs/{run_id}/explain", params={"step": 0}).json()
    assert hand["available"] is False and "needs rnnlab.explain" in hand["message"]
    view = client.get(f"/api/runs/{run_id}/forecast").json()
    with torch.no_grad():
        first = RunStore(trained[0]).load(run_id).model(torch.tensor(view["inputs"][:1]).view(1, 1, 1))[0]
    assert hand["framework"]["prediction"] == pytest.approx(float(first[0, 0]))
    report = client.get(f"/api/runs/{run_id}/report")
    assert report.status_code == 501 and "rnnlab.report" in report.json()["error"]


def test_options_list_the_bundled_datasets_and_a_dataset_trains(fresh):
    from rnnlab.data.datasets import DATASETS, load_dataset

    client, root = fresh
    assert client.get("/api/options").json()["datasets"] == list(DATASETS)
    config = {"seed": 1, "data": {"series": "dataset", "dataset": "nile"}, "model": {"readout": "linear"},
              "train": {"steps": 5, "optimizer": "adam", "lr": 0.01}}
    final = wait_done(client, client.post("/api/train", json={"config": config}).json()["job"])
    assert final["state"] == "completed", final["message"]
    view = client.get(f"/api/runs/{final['run']}/forecast", params={"start": 0, "end": 20, "horizon": 2}).json()
    assert view["context"] == load_dataset("nile").values[:20].tolist()


def test_an_ensemble_run_shows_its_median_and_band(tmp_path):
    from rnnlab.forecasting import forecast_ensemble

    root = tmp_path / "runs"
    with TestClient(create_app(root)) as client:
        config = {"seed": 1, "train": {"steps": 5, "ensemble": 3}}
        final = wait_done(client, client.post("/api/train", json={"config": config}).json()["job"])
        assert final["state"] == "completed", final["message"]
        run = RunStore(root).load(final["run"])
        view = client.get(f"/api/runs/{final['run']}/forecast", params={"start": 0, "end": 8, "horizon": 4}).json()
        spread = forecast_ensemble(run.members, view["context"], 4)
        assert view["ensemble"]["members"] == 3
        for key in ("median", "low", "high"):
            assert view["ensemble"][key] == pytest.approx(spread[key].tolist())
        assert "ensemble" in RunStore(root).list()[0]["metrics"]


def test_a_training_that_fails_says_why_and_stores_nothing(fresh):
    client, root = fresh
    # early stopping needs a validation part, which a waveform does not have by default
    job = client.post("/api/train", json={"config": {"seed": 1, "train": {"steps": 5, "patience": 2}}})
    assert job.status_code == 202
    events = sse_events(client.get(f"/api/train/{job.json()['job']}/events").text)
    kind, final = events[-1]
    assert kind == "done" and final["state"] == "failed" and final["run"] is None
    assert "train.patience" in final["message"]
    assert RunStore(root).list() == [] and client.get("/api/train").json()[0]["state"] == "failed"
