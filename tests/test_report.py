"""The HTML report: self-contained, every section present, the run's numbers in it."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from conftest import tiny
from rnnlab.data import series_values
from rnnlab.evaluate import evaluate_seed_task
from rnnlab.forecasting import forecast
from rnnlab.report import SECTIONS, build_report
from rnnlab.store import RunStore
from rnnlab.training import train

VOID = {"meta", "img", "br", "hr", "input", "link"}


class _Parsed(HTMLParser):
    """Sections by id with their text, images, and a check that tags are balanced."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.sections: dict[str, list[str]] = {}
        self.images: dict[str, list[str]] = {}
        self.current: str | None = None
        self.tags: set[str] = set()
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        if tag == "section":
            self.depth += 1
            if self.depth == 1:  # the report's own sections; the hand calculation may nest one
                self.current = attrs.get("id")
                self.sections[self.current] = []
                self.images[self.current] = []
        if tag == "img":
            self.images.setdefault(self.current, []).append(attrs["src"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
            return
        self.stack.pop()
        if tag == "section":
            self.depth -= 1
            if self.depth == 0:
                self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.sections[self.current].append(data)

    def text(self, section: str) -> str:
        return " ".join(self.sections[section])


def parse(document: str) -> _Parsed:
    parsed = _Parsed()
    parsed.feed(document)
    parsed.close()
    assert parsed.errors == [] and parsed.stack == []
    return parsed


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return RunStore(tmp_path_factory.mktemp("report") / "runs")


@pytest.fixture(scope="module")
def run(store):
    config = tiny(seed=3, **{"train.steps": 40})
    result = train(config)
    return store.load(store.save(result, evaluate_seed_task(result.model, config.data, config.forecast.steps)))


@pytest.fixture(scope="module")
def document(run):
    return build_report(run)


def test_report_is_self_contained_html_with_every_section(document):
    assert document.startswith("<!DOCTYPE html>")
    parsed = parse(document)
    assert list(parsed.sections) == list(SECTIONS)
    assert "script" not in parsed.tags and "link" not in parsed.tags and "iframe" not in parsed.tags
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", document)  # nothing fetched
    for section in ("forecast", "loss", "states"):
        (src,) = parsed.images[section]
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix):]).startswith(b"\x89PNG\r\n\x1a\n")


def test_report_holds_the_runs_numbers(run, document):
    parsed = parse(document)
    start, end = run.info["context"]
    context = series_values(run.config.data)[start:end].tolist()
    predicted = forecast(run.model, context, run.config.forecast.steps)
    values = parsed.text("forecast")
    for value in predicted:
        assert repr(float(value)) in values
    metrics = parsed.text("metrics")
    assert f"{run.metrics['model']['one_step_mse']:.6f}" in metrics
    assert f"{run.metrics['naive']['rollout_rmse']:.6f}" in metrics
    weights = parsed.text("weights")
    for name, tensor in run.model.tensors().items():
        assert name in weights
        for value in tensor.flatten().tolist():
            assert f"{value:.6f}" in weights
    config = parsed.text("config")
    assert "hidden_size" in config and str(run.config.seed) in config
    assert run.id in parsed.text("summary") and "completed" in parsed.text("summary")


def test_hand_calculation_shows_the_first_prediction(run, document):
    from rnnlab.explain import explain_forward, render

    parsed = parse(document)
    start, end = run.info["context"]
    fed = np.float32(series_values(run.config.data)[start:end]).astype(np.float64).tolist()
    walk = explain_forward(run.model, fed)
    assert render(walk, "html") in document
    first = float(forecast(run.model, fed, 1)[0])
    assert abs(walk.prediction - first) < 1e-6 and walk.passed
    assert f"series[{start}:{end}]" in parsed.text("hand-calculation")


def test_report_of_a_run_without_history_renders_what_exists(store):
    config = tiny(seed=2)
    result = train(config, should_stop=lambda: True)
    run = store.load(store.save(result, {}))
    assert run.history == []
    parsed = parse(build_report(run))
    assert list(parsed.sections) == list(SECTIONS)
    assert "No loss history" in parsed.text("loss") and parsed.images["loss"] == []
    assert "no metrics" in parsed.text("metrics")
    assert parsed.images["forecast"] and parsed.images["states"]
    assert "weight_hh_l0" in parsed.text("weights")


def test_report_command_writes_the_file(runs_dir, stored_run, cli, tmp_path):
    code, out, err = cli("report", stored_run)
    assert code == 0, err
    path = runs_dir / stored_run / "report.html"
    assert out.strip() == str(path)
    assert list(parse(path.read_text(encoding="utf-8")).sections) == list(SECTIONS)
    target = tmp_path / "out" / "homework.html"
    code, out, err = cli("report", "latest", "--out", target, "--json")
    assert code == 0, err
    assert json.loads(out) == {"run": stored_run, "report": str(target)}
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_errors_are_one_line(runs_dir, stored_run, cli, tmp_path):
    code, out, err = cli("report", "no-such-run")
    assert code == 1 and err.startswith("error: ") and "no-such-run" in err and "Traceback" not in err
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code, out, err = cli("report", stored_run, "--out", blocker / "report.html")
    assert code == 1 and err.startswith("error: ") and str(blocker) in err and out == ""
    code, out, err = cli("report", stored_run, "--out", tmp_path)
    assert code == 1 and "is a directory" in err
    assert not list(tmp_path.glob("*.html")) and not list(tmp_path.glob(".*.tmp"))


def test_report_of_a_dataset_run_shows_its_backtest(runs_dir, cli):
    code, out, err = cli("train", "--series", "dataset", "--dataset", "nile", "--steps", "20",
                         "--readout", "linear", "--seed", "1", "--quiet", "--json")
    assert code == 0, err
    run = RunStore(runs_dir).load(json.loads(out)["id"])
    parsed = parse(build_report(run))
    assert list(parsed.sections) == list(SECTIONS)
    text = parsed.text("metrics")
    methods = run.metrics["test"]["methods"]
    model, naive = methods["model"]["one_step"]["mase"], methods["naive"]["one_step"]["mase"]
    assert "one_step mase" in text
    assert f"{model:.6f}" in text and f"{naive:.6f}" in text and f"{model / naive:.3f}" in text
    assert "Not available" not in "".join(parsed.text(s) for s in SECTIONS)


def test_a_long_context_points_to_explain_instead_of_printing_every_step(run, monkeypatch):
    import rnnlab.report as report

    monkeypatch.setattr(report, "MAX_HAND_STEPS", 3)
    start, end = run.info["context"]
    document = build_report(run)
    text = parse(document).text("hand-calculation")
    assert f"holds {end - start} values" in text and "rnnlab explain" in text
    assert "rnnlab-explain" not in document  # the explain fragment's class
