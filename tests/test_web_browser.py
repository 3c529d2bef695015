"""The playground in a real browser: Debian's Chromium driven by Playwright, headless.

The server is ``rnnlab serve`` on a free local port over a temporary runs directory. Playwright
never downloads a browser: it drives /usr/bin/chromium (``apt-get install chromium``; ``make test``
installs it when it is missing). Without it these tests are skipped with a notice in the summary.

Set RNNLAB_SCREENSHOT=FILE to keep the screenshot of the page after training (the README's
docs/images/playground.png is made this way).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
NOTICE = (
    "BROWSER TESTS SKIPPED: {} — install Debian's Chromium (apt-get install chromium) and run again"
)

if not Path(CHROMIUM).is_file():
    pytest.skip(NOTICE.format(f"{CHROMIUM} not found"), allow_module_level=True)
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover
    pytest.skip(NOTICE.format("playwright is not installed"), allow_module_level=True)

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
HTTP = httpx.Client(timeout=120)  # a loaded 2-core machine can be slow to render a report


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``rnnlab serve`` on a free port; yields its base URL."""
    runs = tmp_path_factory.mktemp("browser") / "runs"
    port = _free_port()
    log = open(runs.parent / "server.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnlab", "serve", "--port", str(port), "--runs-dir", str(runs)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"rnnlab serve exited with {process.returncode}: {log.read()}")
            try:
                if HTTP.get(f"{base}/api/options", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    yield page
    context.close()
    assert errors == []


def number(page, selector: str) -> float:
    return float(page.locator(selector).inner_text())


def plot_data(page, element_id: str):
    return page.evaluate(f"document.getElementById('{element_id}').data.map(t => ({{x: t.x, y: t.y, name: t.name}}))")


def click_point(page, x: float, y: float) -> None:
    """Click the forecast chart where the data point (x, y) is drawn."""
    px, py = page.evaluate(
        """([x, y]) => {
            const el = document.getElementById('forecast-chart'), box = el.getBoundingClientRect();
            const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
            return [box.left + xa._offset + xa.l2p(x), box.top + ya._offset + ya.l2p(y)];
        }""",
        [x, y],
    )
    page.mouse.move(px - 30, py)
    page.mouse.move(px, py, steps=3)
    # plotly turns a click into a point click only once it hovers that point: wait until the
    # point it hovers is this one (its hover events are throttled, so an earlier point may linger)
    page.wait_for_function(
        "(x) => (document.getElementById('forecast-chart')._hoverdata || []).some((p) => p.x === x)",
        arg=x, timeout=10_000,
    )
    page.mouse.click(px, py)


def train_from_page(page, steps: int, seed: int) -> str:
    page.select_option("#preset", "seed-better")  # another preset fills the form with its values
    expect(page.locator("#readout")).to_have_value("linear")
    expect(page.locator("#cell")).to_have_value("rnn_relu")
    expect(page.locator("#steps")).to_have_value("3000")
    page.click("#preset-seed")
    expect(page.locator("#steps")).to_have_value("20000")
    page.fill("#steps", str(steps))
    page.fill("#seed", str(seed))
    page.click("#train-btn")
    expect(page.locator("#status")).to_contain_text("stored", timeout=120_000)
    return page.locator("#run-id").inner_text()


def test_train_watch_step_through_and_edit_a_weight(page, server, tmp_path):
    run_id = train_from_page(page, steps=50, seed=7)
    run = HTTP.get(f"{server}/api/runs/{run_id}").json()
    assert run["info"]["status"] == "completed" and run["config"]["seed"] == 7
    # the seed button brought the seed preset back, hidden settings included
    assert run["config"]["preset"] == "seed" and run["config"]["train"]["rollout"] == 1
    # the live loss curve holds every step's loss
    loss = plot_data(page, "loss-chart")[0]
    assert loss["x"] == list(range(1, 51)) and loss["y"] == pytest.approx(run["history"])
    expect(page.locator("#progress-text")).to_contain_text("completed after 50 of 50 steps")
    # the seed's chart: baseline, input, prediction for the run's own window
    chart = HTTP.get(f"{server}/api/runs/{run_id}/forecast").json()
    traces = {t["name"]: t for t in plot_data(page, "forecast-chart")}
    assert traces["baseline"]["y"] == pytest.approx(chart["baseline"])
    assert traces["input"]["x"] == chart["context_index"] and traces["input"]["y"] == pytest.approx(chart["context"])
    assert traces["prediction"]["y"] == pytest.approx(chart["forecast"])

    shot = Path(os.environ.get("RNNLAB_SCREENSHOT") or tmp_path / "playground.png")
    # a step of the context, then one of the forecast: the numbers shown are the API's
    last = len(chart["context"]) - 1
    for step in (1, last + 2):
        page.click(f"#step-row button[data-step='{step}']")
        expect(page.locator("#hand-panel")).to_have_attribute("data-step", str(step))
        api = HTTP.get(f"{server}/api/runs/{run_id}/explain", params={"step": step}).json()
        assert number(page, "[data-key=hand_prediction]") == pytest.approx(api["hand_prediction"], abs=1e-8)
        assert number(page, "[data-key='check.0.reference']") == pytest.approx(api["checks"][0]["reference"], abs=1e-8)
        hidden = api["hand"]["layers"][0]["h"]
        shown = [number(page, f"[data-key='l0.h.{i}']") for i in range(len(hidden))]
        assert shown == pytest.approx(hidden, abs=1e-8)
        assert page.locator("#check .pass").count() == len(api["checks"])
        if step == 1:
            page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # edit a weight: the forecast and the hand calculation follow, and match the API's
    before = plot_data(page, "forecast-chart")[2]["y"]
    page.click("td[data-name='weight_hh_l0'][data-index='3,0']")
    page.fill("td[data-name='weight_hh_l0'] input", "1.75")
    page.press("td[data-name='weight_hh_l0'] input", "Enter")
    expect(page.locator("#edits")).to_contain_text("weight_hh_l0[3,0] = 1.75")
    edited = HTTP.post(
        f"{server}/api/runs/{run_id}/edit",
        json={"edits": [{"name": "weight_hh_l0", "index": [3, 0], "value": 1.75}], "step": last + 2},
    ).json()
    page.wait_for_function(
        "(y) => document.getElementById('forecast-chart').data[2].y[0] !== y", arg=before[0], timeout=30_000
    )
    after = plot_data(page, "forecast-chart")[2]["y"]
    assert after == pytest.approx(edited["chart"]["forecast"]) and after != pytest.approx(before)
    expect(page.locator("[data-key=hand_prediction]")).to_have_text(
        page.evaluate("(v) => v.toFixed(8)", edited["explain"]["hand_prediction"]), timeout=30_000
    )
    # the stored run is unchanged, and Reset edits brings its forecast back
    assert HTTP.get(f"{server}/api/runs/{run_id}/forecast").json()["forecast"] == chart["forecast"]
    page.click("#reset-edits")
    page.wait_for_function(
        "(y) => document.getElementById('forecast-chart').data[2].y[0] === y", arg=before[0], timeout=30_000
    )
    assert plot_data(page, "forecast-chart")[2]["y"] == before


def test_window_by_numbers_stop_compare_and_delete(page, server):
    page.on("dialog", lambda dialog: dialog.accept())
    first = train_from_page(page, steps=30, seed=1)
    # choose the context window with two numbers and a horizon
    page.fill("#win-start", "3")
    page.fill("#win-end", "9")
    page.fill("#horizon", "5")
    page.click("#show-btn")
    expect(page.locator("#status")).to_contain_text("window 3:9, horizon 5")
    traces = plot_data(page, "forecast-chart")
    assert traces[1]["x"] == list(range(3, 9)) and traces[2]["x"] == list(range(9, 14))
    expected = HTTP.get(f"{server}/api/runs/{first}/forecast", params={"start": 3, "end": 9, "horizon": 5}).json()
    assert traces[2]["y"] == pytest.approx(expected["forecast"])
    # or pick it on the chart: its first and its last value on the baseline
    page.click("#pick-btn")
    click_point(page, 12, expected["baseline"][12])
    expect(page.locator("#status")).to_contain_text("window start 12")
    click_point(page, 20, expected["baseline"][20])
    expect(page.locator("#status")).to_contain_text("window 12:21, horizon 5")
    assert plot_data(page, "forecast-chart")[1]["x"] == list(range(12, 21))
    # clicking a prediction on the chart shows the step that made it
    view = HTTP.get(f"{server}/api/runs/{first}/forecast", params={"start": 12, "end": 21, "horizon": 5}).json()
    click_point(page, 23, view["forecast"][2])
    expect(page.locator("#hand-panel")).to_have_attribute("data-step", str(9 - 1 + 2))
    # Stop keeps the run as interrupted
    page.fill("#steps", "100000")
    page.click("#train-btn")
    expect(page.locator("#progress-text")).to_contain_text("step", timeout=60_000)
    page.click("#refresh-runs")  # the live training is listed with the runs until it is stored
    expect(page.locator("tr[data-job] td").nth(2)).to_have_text("running")
    page.click("#stop-btn")
    expect(page.locator("#status")).to_contain_text("(interrupted)", timeout=60_000)
    second = page.locator("#run-id").inner_text()
    expect(page.locator("tr[data-job]")).to_have_count(0)
    assert HTTP.get(f"{server}/api/runs/{second}").json()["info"]["status"] == "interrupted"
    # compare the two, then delete the first
    page.check(f"tr[data-run='{first}'] .pick-run")
    page.check(f"tr[data-run='{second}'] .pick-run")
    page.click("#compare-btn")
    expect(page.locator("#compare h3")).to_contain_text(f"{first} vs {second}")
    # the legends name the runs; each loss curve comes with its smoothed line
    names = [t["name"] for t in plot_data(page, "compare-loss")]
    assert names == [f"loss of {first}", f"{first}, smoothed", f"loss of {second}", f"{second}, smoothed"]
    assert {t["name"] for t in plot_data(page, "compare-forecast")} >= {f"prediction of {first}", f"prediction of {second}"}
    page.click(f"tr[data-run='{first}'] .delete-run")
    expect(page.locator(f"tr[data-run='{first}']")).to_have_count(0)
    ids = [r["id"] for r in HTTP.get(f"{server}/api/runs").json()]
    assert first not in ids and second in ids
    href = page.locator(f"tr[data-run='{second}'] a.report-run").get_attribute("href")
    assert HTTP.get(server + href).status_code == 200


def test_two_tabs_train_at_once(browser, server):
    context = browser.new_context()
    pages = [context.new_page() for _ in range(2)]
    for seed, tab in enumerate(pages, start=11):
        tab.goto(server + "/")
        tab.wait_for_selector("body[data-ready='1']", timeout=60_000)
        tab.fill("#steps", "40")
        tab.fill("#seed", str(seed))
    for tab in pages:
        tab.click("#train-btn")
    ids = []
    for tab in pages:
        expect(tab.locator("#status")).to_contain_text("stored (completed)", timeout=120_000)
        ids.append(tab.locator("#run-id").inner_text())
    context.close()
    rows = {r["id"]: r for r in HTTP.get(f"{server}/api/runs").json()}
    assert len(set(ids)) == 2 and all(rows[i]["status"] == "completed" and rows[i]["steps"] == 40 for i in ids)
    assert sorted(rows[i]["config"]["seed"] for i in ids) == [11, 12]
