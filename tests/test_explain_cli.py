"""The explain command and the formats of the walk."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from rnnlab.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small stored seed run: (runs dir, run id)."""
    runs = tmp_path_factory.mktemp("explain") / "runs"
    code = main(["train", "--seed", "3", "--steps", "60", "--quiet", "--json", "--runs-dir", str(runs)])
    assert code == 0
    from rnnlab.store import RunStore

    return runs, RunStore(runs).latest()


@pytest.fixture
def explain(run, capsys):
    runs, run_id = run

    def call(*args):
        code = main(["explain", run_id, "--runs-dir", str(runs), *map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err

    return call


@pytest.fixture
def forecast(run, capsys):
    runs, run_id = run

    def call(*args):
        assert main(["forecast", run_id, "--runs-dir", str(runs), "--json", *map(str, args)]) == 0
        return json.loads(capsys.readouterr().out)

    return call


def test_text_walk_matches_forecast(explain, forecast):
    code, out, err = explain()
    assert code == 0, err
    first = forecast("--steps", "1")
    assert "Forward pass by hand" in out and "h_t = tanh(W_ih·x_t + b_ih + W_hh·h_{t-1} + b_hh)" in out
    assert out.count("(context value ") == len(first["context"])
    assert out.rstrip().endswith("all checks pass")
    shown = float(re.search(r"prediction after the context: (\S+)", out).group(1))
    assert abs(shown - first["forecast"][0]) < 1e-6


def test_json_ahead_follows_the_forecast(explain, forecast):
    code, out, _ = explain("--values", "0.5,0.6,0.7", "--ahead", "4", "--format", "json")
    assert code == 0
    walk = json.loads(out)
    assert walk["kind"] == "forward" and walk["passed"] is True
    assert len(walk["steps"]) == 3 + 4 and len(walk["predictions"]) == 5
    assert walk["prediction"] == walk["predictions"][0] == walk["steps"][2]["y_hat"]
    assert [s["fed_back"] for s in walk["steps"]] == [False] * 3 + [True] * 4
    expected = forecast("--values", "0.5,0.6,0.7", "--steps", "5")["forecast"]
    np.testing.assert_allclose(walk["predictions"], expected, atol=1e-5)
    # every term of every step is there
    term = walk["steps"][1]["layers"][0]["terms"][0]
    np.testing.assert_allclose(np.sum([term[k] for k in ("W_ih_x", "b_ih", "W_hh_h", "b_hh")], axis=0),
                               term["preactivation"], atol=1e-15)
    assert explain("--values", "0.5,0.6,0.7", "--json")[1] == explain("--values", "0.5,0.6,0.7", "--format", "json")[1]


def test_decimals_records_the_shift(explain):
    code, out, _ = explain("--decimals", "2", "--format", "json")
    walk = json.loads(out)
    rounding = walk["rounding"]
    assert rounding["decimals"] == 2 and 0 < rounding["max_weight_change"] <= 0.005 + 1e-12
    assert rounding["rounded"][0] == walk["prediction"]
    assert rounding["shift"][0] == pytest.approx(rounding["rounded"][0] - rounding["exact"][0])
    for values in walk["parameters"].values():
        flat = np.ravel(values)
        np.testing.assert_allclose(flat, np.round(flat, 2), atol=1e-15)
    code, out, _ = explain("--decimals", "2")
    assert "Paper precision: weights rounded to 2 decimals" in out


def _wolfram_eval(line: str):
    """Evaluate a Wolfram expression of the kinds rnnlab writes, with numpy."""
    if line.startswith("Tanh["):
        line = "np.tanh(" + line[len("Tanh["):-1] + ")"
    line = line.replace("Transpose[", "np.transpose(").replace("}] . ", "}) . ")
    line = line.replace("{", "np.array([").replace("}", "])").replace(" . ", " @ ").replace("^", "**")
    return eval(line, {"np": np})


def test_wolfram_expressions_evaluate_to_each_state(explain):
    code, out, _ = explain("--values", "0.2,-0.1,0.4", "--ahead", "1", "--format", "wolfram")
    assert code == 0
    walk = json.loads(explain("--values", "0.2,-0.1,0.4", "--ahead", "1", "--json")[1])
    expressions = [line for line in out.splitlines() if line.startswith("Tanh[")]
    assert len(expressions) == len(walk["steps"]) == 4  # one per step
    assert not re.search(r"\de-?\d", out)  # no 'e' exponents: Wolfram reads 1e-5 as 1·e−5
    for line, step in zip(expressions, walk["steps"]):
        np.testing.assert_allclose(_wolfram_eval(line), step["layers"][0]["h"], atol=1e-8)


def test_wolfram_backward_expressions(explain):
    code, out, _ = explain("--backward", "--values", "0.2,-0.1,0.4", "--target", "0.3", "--format", "wolfram")
    walk = json.loads(explain("--backward", "--values", "0.2,-0.1,0.4", "--target", "0.3", "--json")[1])
    lines = out.splitlines()
    deltas = [lines[k + 1] for k, line in enumerate(lines) if line.startswith("(* delta_t")]
    sent_back = [lines[k + 1] for k, line in enumerate(lines) if line.startswith("(* dL/dh_(t-1)")]
    assert len(deltas) == len(sent_back) == 3
    for delta, back, step in zip(deltas, sent_back, walk["steps"]):
        layer = step["layers"][0]
        np.testing.assert_allclose(_wolfram_eval(delta), layer["deltas"]["h"], atol=1e-8)
        np.testing.assert_allclose(_wolfram_eval(back), layer["dh_prev"], atol=1e-8)


def test_worksheets(explain):
    code, md, _ = explain("--format", "markdown")
    assert code == 0
    assert md.startswith("# Forward pass by hand")
    assert r"$$ h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}) $$" in md
    assert "| unit | $h_{t-1}$ |" in md and md.rstrip().endswith("**all checks pass**")
    # every Markdown table row has as many cells as its header (pipes inside cells are escaped)
    for table in re.findall(r"(?:^\|.*\|\n)+", md + "\n", flags=re.M):
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in table.splitlines()}
        assert len(widths) == 1, table
    code, tex, _ = explain("--format", "latex")
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert tex.count(r"\begin{longtable}") == tex.count(r"\end{longtable}") > 3
    assert tex.count("$") % 2 == 0
    code, page, _ = explain("--format", "html")
    assert page.startswith('<section class="rnnlab-explain">') and "<script" not in page
    assert page.count("<table") == page.count("</table>") > 3


def test_backward(explain, run):
    code, out, err = explain("--backward", "--format", "json")
    assert code == 0, err
    walk = json.loads(out)
    assert walk["kind"] == "backward" and walk["passed"] is True
    from rnnlab.data import series_values
    from rnnlab.store import RunStore

    stored = RunStore(run[0]).load(run[1])
    start, end = stored.info["context"]
    assert walk["target"] == series_values(stored.config.data)[end]  # the true next value
    assert walk["loss"] == pytest.approx((walk["prediction"] - walk["target"]) ** 2)
    assert [c["framework"].split(":")[0] for c in walk["checks"][2:]] == ["gradients", "SGD update"]
    assert len(walk["steps"]) == end - start
    code, out, _ = explain("--backward", "--values", "0.1,0.3", "--target", "0.4")
    assert code == 0 and "Backpropagation through time by hand" in out and "target y = 0.4" in out
    assert "θ ← θ − 0.1·(∂L/∂θ)" in out and out.rstrip().endswith("all checks pass")
    for fmt, ending in (("markdown", "**all checks pass**"), ("latex", r"\end{document}"), ("html", "</section>")):
        code, out, _ = explain("--backward", "--values", "0.1,0.3", "--target", "0.4", "--format", fmt)
        assert code == 0 and out.rstrip().endswith(ending)
        assert "gradients: torch autograd float64" in out
        assert ("bias_hh_l0[3]" if fmt != "latex" else r"bias\_hh\_l0[3]") in out


def test_out_writes_the_file(explain, tmp_path):
    path = tmp_path / "sheet.md"
    code, out, err = explain("--format", "markdown", "--out", path)
    assert code == 0 and out == "" and str(path) in err
    assert path.read_text().startswith("# Forward pass by hand")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--values", ""], "values must be a comma-separated list of numbers"),
        (["--values", "0.1,abc"], "values must be numbers, got 'abc'"),
        (["--window", "5:5"], "window must satisfy"),
        (["--decimals", "-1"], "--decimals must be >= 0, got -1"),
        (["--ahead", "-1"], "--ahead must be >= 0, got -1"),
        (["--format", "pdf"], "--format must be one of text, markdown, latex, wolfram, json, html; got 'pdf'"),
        (["--backward", "--values", "0.1,0.2"], "--backward needs a target"),
        (["--backward", "--target", "nan"], "target must be a finite number"),
        (["--target", "0.5"], "--target is the target of --backward"),
        (["--backward", "--ahead", "2"], "--backward walks one training sample"),
        (["--out", "/nonexistent-dir/sheet.md"], "--out '/nonexistent-dir/sheet.md' cannot be written"),
    ],
)
def test_bad_input(explain, args, message):
    code, out, err = explain(*args)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_scaled_run_walks_the_scaled_values(tmp_path, capsys):
    """A run that scales its series: the walk is on the values the network sees."""
    config = tmp_path / "scaled.toml"
    config.write_text('[data]\nscaling = "standard"\n[train]\nsteps = 20\n')
    runs = str(tmp_path / "runs")
    assert main(["train", "--config", str(config), "--seed", "2", "--runs-dir", runs, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["explain", "latest", "--runs-dir", runs, "--values", "0.1,0.5", "--json"]) == 0
    out, err = capsys.readouterr()
    walk = json.loads(out)
    assert main(["forecast", "latest", "--runs-dir", runs, "--values", "0.1,0.5", "--steps", "1", "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)["forecast"][0]
    from rnnlab.store import RunStore
    from rnnlab.data.scaling import Scaler

    scaler = Scaler.from_dict(RunStore(runs).load(RunStore(runs).latest()).info["data"]["scaling"])
    assert scaler.kind == "standard"
    np.testing.assert_allclose(walk["context"], scaler.transform([0.1, 0.5]), rtol=1e-15)
    assert float(scaler.inverse([walk["prediction"]])[0]) == pytest.approx(expected, abs=1e-6)
    assert walk["passed"] and "the network sees transformed values: scaled" in err and f"{float(scaler.inverse([walk['prediction']])[0]):.10g}" in err
