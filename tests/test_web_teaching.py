"""The playground as a teacher and a learner use it, in a real browser (Debian's Chromium through
Playwright, headless, as in test_web_browser.py): it fits a phone and a projector, draws the
network, trains one step at a time, shows a step as the blog writes it, and keeps an edit's
effect in view.

Set RNNLAB_SCREENSHOTS=DIR to keep the screenshots docs/playground.md shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from test_web_browser import ARGS, CHROMIUM, HTTP, _free_port  # skips this module without a browser
from playwright.sync_api import expect, sync_playwright

from conftest import tiny
from rnnlab.data import series_values
from rnnlab.explain import explain_backward
from rnnlab.model import SequenceModel
from rnnlab.store import RunStore

SHOTS = os.environ.get("RNNLAB_SCREENSHOTS")


def shoot(target, name: str, **options) -> None:
    """A screenshot of a page or of one element (a locator) for the docs, when RNNLAB_SCREENSHOTS is set."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        target.screenshot(path=str(Path(SHOTS) / name), **options)


def train_over_http(base: str, config: dict) -> str:
    job = HTTP.post(f"{base}/api/train", json={"config": config}).json()
    for _ in range(1200):
        state = HTTP.get(f"{base}/api/train/{job['job']}").json()
        if state["state"] != "running":
            assert state["state"] == "completed", state["message"]
            return state["run"]
        time.sleep(0.1)
    pytest.fail("training did not finish")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``rnnlab serve`` over a runs directory holding an rnn run and a gru run."""
    runs = tmp_path_factory.mktemp("teaching") / "runs"
    port = _free_port()
    log = open(runs.parent / "server.log", "w+")
    process = subprocess.Popen([sys.executable, "-m", "rnnlab", "serve", "--port", str(port), "--runs-dir", str(runs)],
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"rnnlab serve exited with {process.returncode}: {log.read()}")
            try:
                if HTTP.get(f"{base}/api/options", timeout=1).status_code == 200:
                    break
            except Exception:
                time.sleep(0.1)
        rnn = train_over_http(base, {"seed": 1, "train": {"steps": 300}})
        gru = train_over_http(base, {"seed": 2, "model": {"cell": "gru"}, "train": {"steps": 60}})
        yield {"base": base, "runs": runs, "rnn": rnn, "gru": gru}
    finally:
        process.terminate()
        process.wait(30)
        log.seek(0)
        server_log = log.read()
        log.close()
    assert "Traceback" not in server_log, server_log


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, served):
    """A function: a new page at ``hash`` with the given viewport; every console error, and every
    request that leaves the server (the page works offline), fails the test."""
    contexts, errors, outside = [], [], []

    def make(hash_: str = "", width: int = 1280, height: int = 900, **options):
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("request", lambda request: request.url.startswith(served["base"] + "/") or outside.append(request.url))
        page.goto(f"{served['base']}/{hash_}")
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == [] and outside == []


def explain(served, run_id: str, step: int, **window) -> dict:
    return HTTP.get(f"{served['base']}/api/runs/{run_id}/explain", params={"step": step, **window}).json()


# -- any screen ----------------------------------------------------------------------------------

UNREACHABLE = """() => {
  // every control: scrolled into view, is it the element under its own centre?
  const controls = [...document.querySelectorAll("main button, main input, main select, main a, #weights td[data-name]")]
    .filter((el) => el.offsetParent !== null && !el.closest(".js-plotly-plot"));
  const missed = [];
  for (const el of controls) {
    el.scrollIntoView({ block: "center", inline: "center" });
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    const ok = hit && (hit === el || el.contains(hit) || (hit.tagName === "LABEL" && hit.control === el));
    if (!ok || r.width < 4 || r.height < 4) missed.push(`${el.tagName}#${el.id}.${el.className}[${el.dataset.name || ""}${el.dataset.index || ""}]`);
  }
  window.scrollTo(0, 0);
  return { count: controls.length, weights: controls.filter((el) => el.dataset.name).length, missed };
}"""


@pytest.mark.parametrize(("width", "height", "shot"), [(390, 844, "playground-phone.png"), (1920, 1080, "playground-desktop.png")])
def test_the_page_fits_the_screen_and_every_control_and_gru_weight_clicks(open_page, served, width, height, shot):
    page = open_page(f"#run={served['gru']}&step=2", width, height)
    expect(page.locator("#hand-panel")).to_have_attribute("data-step", "2", timeout=30_000)
    overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert overflow[0] <= overflow[1], f"the page is {overflow[0]} px wide in a {overflow[1]} px window"
    found = page.evaluate(UNREACHABLE)
    assert found["missed"] == []
    assert found["weights"] == 3 * 4 + 3 * 4 * 4 + 3 * 4 + 3 * 4  # a gru's every weight: W_ih, W_hh, b_ih, b_hh
    shoot(page, shot, full_page=width > 1000)
    # the last gru bias opens its editor, and the runs table's open button opens the other run
    page.locator("td[data-name='bias_hh_l0'][data-index='11']").click()
    expect(page.locator("td[data-name='bias_hh_l0'][data-index='11'] input")).to_be_visible()
    page.keyboard.press("Escape")
    page.locator(f"tr[data-run='{served['rnn']}'] .open-run").click()
    expect(page.locator("#run-id")).to_have_text(served["rnn"])


# -- the network picture ---------------------------------------------------------------------------


def test_the_network_is_drawn_and_follows_the_selected_step(open_page, served):
    page = open_page(f"#run={served['rnn']}")
    expect(page.locator("#network svg.unrolled")).to_be_visible()
    columns = page.locator("#network svg.unrolled g.column")
    view = HTTP.get(f"{served['base']}/api/runs/{served['rnn']}/forecast").json()
    assert columns.count() == len(view["inputs"])
    page.click("#step-row button[data-step='4']")
    expect(page.locator("#hand-panel")).to_have_attribute("data-step", "4")
    expect(page.locator("#network svg.unrolled")).to_have_attribute("data-step", "4")
    assert page.locator("#network g.column.active").get_attribute("data-step") == "4"
    hand = explain(served, served["rnn"], 4)
    nodes = [float(page.locator(f"#network svg.open-cell circle[data-node='h.{i}']").get_attribute("data-value")) for i in range(4)]
    assert nodes == pytest.approx(hand["hand"]["layers"][0]["h"], abs=1e-12)
    unrolled = [float(page.locator(f"#network svg.unrolled circle[data-node='h.4.{i}']").get_attribute("data-value")) for i in range(4)]
    assert unrolled == pytest.approx(hand["framework"]["h"], abs=1e-12)  # torch's h_t after step 4
    # an edge tells its weight and the term it enters
    title = page.locator("#network svg.open-cell line[data-edge='weight_hh_l0.1.2'] title").text_content()
    weight = HTTP.get(f"{served['base']}/api/runs/{served['rnn']}/weights").json()["weight_hh_l0"]["values"][1][2]
    assert f"weight_hh_l0[1,2] = {weight:.6f}" in title and "in the sum of h_t[1]" in title
    # clicking a column of the picture selects that step, and the address keeps it
    page.locator("#network svg.unrolled g.column[data-step='6']").click()
    expect(page.locator("#hand-panel")).to_have_attribute("data-step", "6")
    expect(page.locator("#network svg.unrolled")).to_have_attribute("data-step", "6")
    assert page.evaluate("location.hash") == f"#run={served['rnn']}&step=6"
    shoot(page.locator("#network"), "playground-network.png")
    shared = open_page(page.evaluate("location.hash"))
    expect(shared.locator("#hand-panel")).to_have_attribute("data-step", "6", timeout=30_000)
    expect(shared.locator("#run-id")).to_have_text(served["rnn"])


# -- training one step at a time -------------------------------------------------------------------


def page_numbers(page, column: str) -> dict[tuple[str, str], float]:
    cells = page.locator(f"#step-table td[data-col='{column}']")
    return {(c["param"], c["index"]): float(c["value"]) for c in cells.evaluate_all(
        "cells => cells.map(c => ({param: c.dataset.param, index: c.dataset.index, value: c.dataset.value}))")}


def as_arrays(numbers: dict, like: dict) -> dict[str, np.ndarray]:
    arrays = {name: np.zeros(np.shape(value["values"])) for name, value in like.items()}
    for (name, index), value in numbers.items():
        arrays[name][tuple(int(i) for i in index.split(","))] = value
    return arrays


def test_pause_one_step_and_resume_move_the_weights_by_explain_backwards_update(open_page, served):
    page = open_page()
    page.fill("#steps", "5000")
    page.fill("#seed", "7")
    page.click("#step-start")
    expect(page.locator("#step-one")).to_be_enabled(timeout=30_000)
    page.click("#step-resume")
    page.wait_for_function("Number(document.getElementById('step-text').dataset.step) >= 30", timeout=60_000)
    page.click("#step-pause")
    expect(page.locator("#step-one")).to_be_enabled(timeout=30_000)
    stepper = page.locator("#step-text").get_attribute("data-stepper")
    paused = HTTP.get(f"{served['base']}/api/steppers/{stepper}").json()
    n = paused["step"]
    assert page.locator("#step-text").get_attribute("data-step") == str(n)
    page.click("#step-one")
    expect(page.locator("#step-account")).to_have_attribute("data-step", str(n + 1), timeout=30_000)
    expect(page.locator("#step-table td[data-col='grad_hand']").first).to_be_visible()
    before = as_arrays(page_numbers(page, "before"), paused["weights"])
    after = as_arrays(page_numbers(page, "after"), paused["weights"])
    after_hand = as_arrays(page_numbers(page, "after_hand"), paused["weights"])
    grad_hand = as_arrays(page_numbers(page, "grad_hand"), paused["weights"])
    now = HTTP.get(f"{served['base']}/api/steppers/{stepper}").json()
    assert now["step"] == n + 1
    # exactly one step: it starts from the paused weights and ends at the weights the server holds now
    for name, value in paused["weights"].items():
        assert before[name] == pytest.approx(np.array(value["values"]), abs=0)
        assert after[name] == pytest.approx(np.array(now["weights"][name]["values"]), abs=1e-15)
    # and its numbers are those of explain --backward for the window it drew
    start, end = map(int, page.locator("#step-account").get_attribute("data-window").split(","))
    config = tiny(seed=7, **{"train.steps": 5000})
    series = torch.tensor(series_values(config.data).tolist(), dtype=torch.float32).double().numpy()
    model = SequenceModel(config.model)
    model.load_tensors({k: torch.tensor(v, dtype=torch.float32) for k, v in before.items()})
    walk = explain_backward(model.eval(), series[start:end].tolist(), float(series[end]), lr=config.train.lr)
    for name in before:
        assert grad_hand[name] == pytest.approx(walk.gradients[name], abs=1e-12)
        assert after_hand[name] == pytest.approx(walk.updated[name], abs=1e-12)
        assert after[name] == pytest.approx(walk.updated[name], abs=1e-6)  # torch's float32 step
    assert page.locator("#step-account td.pass").count() == 2 and page.locator("#step-account td.fail").count() == 0
    shoot(page.locator("#step-account"), "playground-step.png")
    # resume goes on from there
    page.click("#step-resume")
    page.wait_for_function(f"Number(document.getElementById('step-text').dataset.step) > {n + 1}", timeout=60_000)
    expect(page.locator("#step-text")).to_contain_text("steps/s")
    page.click("#step-pause")
    expect(page.locator("#step-one")).to_be_enabled(timeout=30_000)
    page.click("#step-reset")
    expect(page.locator("#step-text")).to_have_attribute("data-step", "0")


# -- the blog's view of a step ----------------------------------------------------------------------


def test_a_steps_wolfram_expression_is_shown_copyable_and_is_the_clis(open_page, served):
    page = open_page(f"#run={served['rnn']}&step=3", permissions=["clipboard-read", "clipboard-write"])
    expect(page.locator("#hand-panel")).to_have_attribute("data-step", "3", timeout=30_000)
    text = page.locator("#wolfram").text_content()
    page.click("#copy-wolfram")
    expect(page.locator("#status")).to_contain_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == text
    start, end = page.input_value("#win-start"), page.input_value("#win-end")
    cli = subprocess.run([sys.executable, "-m", "rnnlab", "explain", served["rnn"], "--runs-dir", str(served["runs"]),
                          "--window", f"{start}:{end}", "--format", "wolfram"], capture_output=True, text=True, check=True)
    header, _, body = text.partition("\n\n")
    assert "(* t = 4, x_t = " in body and body in cli.stdout and header in cli.stdout
    # paper precision beside it, and W_hh beside h_{t-1} and their product
    hand = explain(served, served["rnn"], 3)
    assert float(page.locator("[data-key='paper.rounded']").inner_text()) == pytest.approx(hand["paper"]["rounded"], abs=1e-8)
    expect(page.locator("#hand-panel")).to_contain_text("rounding moves each weight")
    expect(page.locator("#hand-panel table.product")).to_have_count(1)
    shoot(page.locator("#hand-panel"), "playground-hand.png")


def test_a_fed_back_steps_heading_and_table_show_the_same_input(open_page, served):
    page = open_page(f"#run={served['rnn']}")
    view = HTTP.get(f"{served['base']}/api/runs/{served['rnn']}/forecast").json()
    fed = len(view["context"]) + 3
    page.click(f"#step-row button[data-step='{fed}']")
    expect(page.locator("#hand-panel")).to_have_attribute("data-step", str(fed))
    heading = page.locator("#hand-panel h3").inner_text()
    table = page.locator("#hand-panel h4").first.inner_text()
    x = heading.split("x = ")[1].split(",")[0]
    assert f"[{x}]" in table, (heading, table)


# -- an edit and its effect ---------------------------------------------------------------------------


def edit(page, name: str, index: str, value: str) -> None:
    page.locator(f"td[data-name='{name}'][data-index='{index}']").click()
    page.fill(f"td[data-name='{name}'][data-index='{index}'] input", value)
    page.keyboard.press("Enter")


def test_an_edit_keeps_the_forecast_before_it_in_view_and_undo_goes_one_edit_back(open_page, served):
    page = open_page(f"#run={served['rnn']}")
    expect(page.locator("#network svg.unrolled")).to_be_visible()
    original = page.evaluate("document.getElementById('forecast-chart').data[2].y")
    edit(page, "weight_hh_l0", "0,0", "0.9")
    expect(page.locator("#edit-banner")).to_contain_text("nothing is saved")
    page.wait_for_function("document.getElementById('forecast-chart').data.some(t => t.name === 'prediction before the edits')")
    traces = page.evaluate("document.getElementById('forecast-chart').data.map(t => ({name: t.name, y: t.y}))")
    before = next(t for t in traces if t["name"] == "prediction before the edits")
    assert before["y"] == original and traces[2]["y"] != original
    edit(page, "bias_ih_l0", "1", "-0.5")
    expect(page.locator("#edit-banner")).to_contain_text("bias_ih_l0[1] = -0.5")
    page.click("#undo-edit")
    expect(page.locator("#edit-banner")).not_to_contain_text("bias_ih_l0")
    expect(page.locator("#edit-banner")).to_contain_text("weight_hh_l0[0,0] = 0.9")
    page.click("#undo-edit")
    expect(page.locator("#edit-banner")).to_be_hidden()
    page.wait_for_function("(y) => JSON.stringify(document.getElementById('forecast-chart').data[2].y) === JSON.stringify(y)",
                           arg=original)
    assert not any(t["name"] == "prediction before the edits"
                   for t in page.evaluate("document.getElementById('forecast-chart').data.map(t => ({name: t.name}))"))


# -- the bugs ------------------------------------------------------------------------------------------


def test_deleting_the_open_run_clears_it_from_the_page(open_page, served):
    doomed = train_over_http(served["base"], {"seed": 9, "train": {"steps": 20}})
    page = open_page(f"#run={doomed}&step=1")
    page.on("dialog", lambda dialog: dialog.accept())
    expect(page.locator("#hand-panel")).to_have_attribute("data-step", "1", timeout=30_000)
    page.locator(f"tr[data-run='{doomed}'] .delete-run").click()
    expect(page.locator("#status")).to_contain_text(f"deleted {doomed}")
    expect(page.locator("#run-id")).to_have_text("—")
    assert page.evaluate("(document.getElementById('forecast-chart').data || []).length") == 0
    for part in ("#step-row", "#weights", "#network"):
        assert page.locator(part).inner_html() == ""
    expect(page.locator("#hand-panel")).to_contain_text("Open a run")
    assert "step" not in page.evaluate("location.hash")


def test_training_messages_say_each_thing_once(open_page, served, tmp_path):
    page = open_page()
    # a failed training replaces the last line, and says why (an upload with a missing value)
    gaps = tmp_path / "gaps.csv"
    gaps.write_text("value\n" + "\n".join("na" if i == 30 else f"{np.sin(i / 4):.4f}" for i in range(80)) + "\n")
    page.set_input_files("#csv-file", str(gaps))
    expect(page.locator("#status")).to_contain_text("uploaded gaps.csv")
    page.fill("#steps", "20")
    page.click("#train-btn")
    expect(page.locator("#progress-text")).to_contain_text("failed after 0 of 20 steps", timeout=60_000)
    assert "completed" not in page.locator("#progress-text").inner_text()
    assert "RUNS_DIR" not in page.locator("#status").inner_text() and "/" not in page.locator("#status").inner_text()
    # a stopped training says where it stopped, once
    page.select_option("#series", "sine")
    page.fill("#steps", "100000")
    page.click("#train-btn")
    expect(page.locator("#progress-text")).to_contain_text("steps/s", timeout=60_000)
    page.click("#stop-btn")
    expect(page.locator("#status")).to_contain_text("(interrupted)", timeout=60_000)
    line = page.locator("#progress-text").inner_text()
    assert line.startswith("interrupted: stopped after") and line.count("after") == 1, line


def test_a_csv_with_two_value_columns_trains_the_chosen_one_in_its_units(open_page, served, tmp_path):
    page = open_page()
    two = tmp_path / "two.csv"
    two.write_text("when,a,b\n" + "\n".join(f"2020-01-01 {i // 60:02d}:{i % 60:02d},{i % 5},{50 + 4 * np.sin(i / 3):.4f}"
                                            for i in range(240)) + "\n")
    page.set_input_files("#csv-file", str(two))
    expect(page.locator("#column-label")).to_be_visible()
    assert page.locator("#csv-column option").all_inner_texts() == ["a", "b"]
    assert page.input_value("#csv-time-column") == "when"
    page.select_option("#csv-column", "b")
    page.fill("#steps", "30")
    page.click("#train-btn")
    expect(page.locator("#status")).to_contain_text("stored", timeout=120_000)
    run_id = page.locator("#run-id").inner_text()
    assert RunStore(served["runs"]).load(run_id).trained_config.data.column == "b"
    page.click("#step-row button[data-step='2']")
    expect(page.locator("#hand-panel")).to_have_attribute("data-step", "2")
    view = HTTP.get(f"{served['base']}/api/runs/{run_id}/forecast").json()
    note = page.locator("[data-key='units']").inner_text()
    assert "sees scaled values" in note and f"{view['context'][2]:.8f}" in note
    # the chart opens at the end of the series, and the runs table shows the backtest's scores
    shown = page.evaluate("document.getElementById('forecast-chart').layout.xaxis.range")
    assert view["window"][1] == 240 and view["forecast_index"][0] == 240  # the forecast past its end
    assert shown == [view["window"][0] - (240 - view["window"][0]) - 0.5, view["forecast_index"][-1] + 0.5]
    mae = RunStore(served["runs"]).load(run_id).metrics["test"]["methods"]["model"]["one_step"]["mae"]
    assert float(page.locator(f"tr[data-run='{run_id}'] td.num").nth(2).inner_text()) == pytest.approx(mae, rel=1e-6)
