"""``jsim teach``: the [teach] table, the JSON API (equal to ``jsim run --format json``; 400s with
the command line's message), the five lessons of scenarios/teaching/, and the page in headless Chromium."""

from __future__ import annotations

import contextlib
import json
import socket
import statistics
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
from browser import browser, page  # noqa: F401  (pytest fixtures)
from click.testing import CliRunner

from jsim.cli import main
from jsim.errors import ScenarioError
from jsim.scenario import read_scenario_data, scenario_hash, scenario_with

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "scenarios" / "teaching"
WOM = LESSONS / "word_of_mouth.toml"
Q = "word_of_mouth.unaware->customer.q"

starlette = pytest.importorskip("starlette", reason="jsim teach needs starlette (pip install starlette uvicorn httpx)")


@pytest.fixture(scope="module")
def session():
    from jsim.teach import TeachSession

    return TeachSession(WOM)


@pytest.fixture(scope="module")
def client(session):
    from starlette.testclient import TestClient

    from jsim.teach import create_app

    with TestClient(create_app(session)) as c:
        yield c


def _cli(args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _simulate(client, sets=(), **extra):
    return client.get("/api/simulate?" + urlencode([("set", s) for s in sets] + list(extra.items())))


# --- the [teach] table ----------------------------------------------------------------------


def test_sliders_must_name_numbers_of_the_scenario():
    data = read_scenario_data(WOM)
    bad = {**data, "teach": {"sliders": ["word_of_mouth.unaware->customer.qq", "population.arrival_stage", Q]}}
    with pytest.raises(ScenarioError) as err:
        scenario_with(bad, "wom.toml")
    text = str(err.value)
    assert "teach.sliders[0] (word_of_mouth.unaware->customer.qq): 'qq' is not a key" in text
    assert "did you mean 'q'" in text
    assert "teach.sliders[1] (population.arrival_stage): a slider must name a number" in text
    ranges = {**data, "teach": {"sliders": [Q], "ranges": {Q: [0.5, 0.1, 0.01]}}}
    with pytest.raises(ScenarioError, match=r"teach.ranges.word_of_mouth.unaware->customer.q: min < max"):
        scenario_with(ranges, "wom.toml")


def test_teach_changes_no_simulation_nor_the_hash():
    data = read_scenario_data(WOM)
    without = {k: v for k, v in data.items() if k != "teach"}
    assert scenario_hash(scenario_with(data, "a")) == scenario_hash(scenario_with(without, "b"))


def test_schema_shows_teach():
    res = _cli(["schema"])
    schema = json.loads(res.output)
    assert "teach" in schema["properties"]
    assert {"sliders", "ranges", "question", "predict"} <= set(schema["$defs"]["Teach"]["properties"])


# --- the API ----------------------------------------------------------------------------------


def test_api_scenario_lists_the_sliders(client):
    info = client.get("/api/scenario").json()
    assert info["name"] == "word_of_mouth" and info["predict"] == "settled"
    assert [s["key"] for s in info["sliders"]] == [
        Q,
        "transitions.customer->settled.p",
        "word_of_mouth.unaware->customer.p",
    ]
    q = info["sliders"][0]
    assert (q["value"], q["min"], q["max"], q["step"], q["integer"]) == (0.08, 0.0, 0.3, 0.005, False)


@pytest.mark.parametrize("sets", [(), (f"{Q}=0.12",), (f"{Q}=0.12", "transitions.customer->settled.p=0.05")])
def test_api_simulate_equals_the_run_json(client, sets):
    from jsim.runner import run_scenario

    res = _simulate(client, sets)
    assert res.status_code == 200
    body = res.json()
    cli = _cli(
        ["run", WOM, "--engine", "mean-field", "--format", "json", "-q", *[a for s in sets for a in ("--set", s)]]
    )
    assert cli.exit_code == 0, cli.output
    assert body["summary"] == json.loads(cli.stdout)
    _, result, _ = run_scenario(WOM, engine="mean-field", overrides=sets)
    daily = body["daily"]
    assert daily["stages"] == ["unaware", "customer", "settled"] and daily["days"] == 120
    np.testing.assert_array_equal(np.array(daily["occupancy"]), result.stage_occupancy)
    np.testing.assert_array_equal(np.array(daily["moves_by_source"]), result.moves_by_source)
    assert daily["sources"] == list(result.model.source_names)
    moves = np.array(daily["moves_by_route"])
    assert moves.shape == result.moves.shape
    by_source = np.zeros_like(result.moves_by_source)
    for x, route in enumerate(daily["routes"]):
        by_source[:, :, daily["sources"].index(route["source"])] += moves[:, :, x]
    np.testing.assert_allclose(by_source, result.moves_by_source)


BAD_SETS = [
    "word_of_mouth.unaware->customer.qq=0.1",  # unknown key
    f"{Q}=-1",  # out of range
    "transitions.customer->settled.p=2",  # a probability above 1
    f"{Q}=abc",  # not a number
    "economics.margin=[1,",  # not a TOML value
    "no_equals_sign",  # malformed set
    "stages.fan.value=3",  # no such entry
]


@pytest.mark.parametrize("bad", BAD_SETS)
def test_bad_values_are_400s_with_the_cli_message(client, bad):
    res = _simulate(client, [bad])
    assert res.status_code == 400
    cli = _cli(["run", WOM, "--engine", "mean-field", "--format", "json", "-q", "--set", bad])
    assert cli.exit_code == 2
    assert "error: " + res.json()["error"] == cli.stderr.strip()


@pytest.mark.parametrize(
    "query, message",
    [
        ({"engine": "des"}, "engine: must be one of mean-field, fast, got 'des'"),
        ({"engine": "fast", "reps": "100"}, "reps: must be within [1, 20], got 100"),
        ({"reps": "two"}, "reps: must be a whole number, got 'two'"),
        ({"seed": "1.5"}, "seed: must be a whole number, got '1.5'"),
        ({"seed": "-1"}, "seed: must be a whole number >= 0, got -1"),
        ({"set": "x" * 200 + "=1"}, "is not a key of the scenario"),
        ({"set": "population.days=100000"}, "the teaching page draws at most 3650 days, got 100000"),
    ],
)
def test_bad_engine_reps_seed_are_400s(client, query, message):
    res = _simulate(client, **query)
    assert res.status_code == 400 and message in res.json()["error"]


def test_a_population_too_large_for_the_noise_button_is_a_400(client):
    sets = ["population.customers=5000010", "population.initial.unaware=5000000"]
    res = _simulate(client, sets, engine="fast", reps=2)
    assert res.status_code == 400 and "the noise button simulates at most 2,000,000 customers" in res.json()["error"]
    assert _simulate(client, sets).status_code == 200  # the expected-value engine answers any size


def test_noise_runs_the_stochastic_engine(client):
    body = _simulate(client, [f"{Q}=0.12"], engine="fast", reps=3, seed=5).json()
    assert body["summary"]["engine"] == "fast" and body["summary"]["reps"] == 3
    occ = np.array(body["daily"]["occupancy"])
    assert occ.shape == (3, 121, 3)
    assert np.all(occ.sum(axis=2) == 3000)  # whole customers, all accounted for
    assert not np.array_equal(occ[0], occ[1])  # the noise the button shows


def test_results_are_cached(session):
    a = session.simulate([f"{Q}=0.11"])
    assert session.simulate([f"{Q}=0.11"]) is a


def test_page_and_plotly_are_served_locally(client):
    html = client.get("/").text
    assert '<script src="/static/plotly.min.js">' in html and "http" not in html.replace("http-equiv", "")
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert client.get("/static/teach.js").status_code == 200
    assert client.get("/static/nope.js").status_code == 404


# --- the command ----------------------------------------------------------------------------


def test_cli_teach_is_the_last_command_and_checks_its_scenario(tmp_path):
    assert list(main.commands)[-1] == "teach"
    res = _cli(["teach", tmp_path / "missing.toml", "--no-browser"])
    assert res.exit_code == 2 and "no such scenario file" in res.stderr
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        res = _cli(["teach", WOM, "--no-browser", "--port", taken.getsockname()[1]])
    finally:
        taken.close()
    assert res.exit_code == 2 and "cannot listen on 127.0.0.1" in res.stderr and "--port 0" in res.stderr


def test_cli_teach_serves_until_ctrl_c(tmp_path):
    """The real command announces its URL and serves the API; Ctrl-C ends it with one line, exit 130."""
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "jsim", "teach", str(WOM), "--port", "0", "--no-browser"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        line = proc.stderr.readline()
        assert line.startswith("jsim teach: http://127.0.0.1:"), line
        url = line.split()[2]
        with urllib.request.urlopen(url + "api/scenario", timeout=30) as res:
            assert json.load(res)["name"] == "word_of_mouth"
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[1]
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert rest.strip() == "error: interrupted by Ctrl-C; the page has stopped"


# --- the lessons: each scenario shows what its story says (mean-field engine) ------------------


def _at_horizon(path, sets=(), stage="customer"):
    from jsim.runner import run_scenario

    summary, _, _ = run_scenario(path, engine="mean-field", overrides=sets)
    return summary["stages_at_horizon"][stage]["mean"]


def test_lesson_word_of_mouth_has_a_tipping_point():
    town = 3000
    below = _at_horizon(WOM, [f"{Q}=0.05"], "settled")
    above = _at_horizon(WOM, [f"{Q}=0.15"], "settled")
    assert below < 0.1 * town < 0.5 * town < above
    # the same step in q does little below the tip (q / 0.1 < 1) and a lot across it
    gain = lambda lo, hi: _at_horizon(WOM, [f"{Q}={hi}"], "settled") - _at_horizon(WOM, [f"{Q}={lo}"], "settled")
    assert gain(0.09, 0.12) > 4 * gain(0.02, 0.05)


def test_lesson_fatigue_more_emails_beyond_a_point_lower_conversions():
    path = LESSONS / "fatigue.toml"
    reach = {r: _at_horizon(path, [f"touchpoints.emails.reach={r}"]) for r in (0.0, 0.3, 1.0)}
    assert reach[0.3] > reach[0.0]  # a few emails help
    assert reach[1.0] < reach[0.3] - 25  # daily emails: fewer customers than two a week


def test_lesson_slow_support_loses_customers():
    path = LESSONS / "slow_support.toml"
    agents = "touchpoints.support_chat.service.agents"
    lost = {a: _at_horizon(path, [f"{agents}={a}"], "lost") for a in (1, 2, 3)}
    bought = {a: _at_horizon(path, [f"{agents}={a}"]) for a in (1, 2, 3)}
    assert lost[1] > lost[2] > lost[3] and bought[1] < bought[2] < bought[3]
    assert bought[2] - bought[1] > 3 * (bought[3] - bought[2])  # the queue explodes below capacity


def test_lesson_fixing_the_checkout_beats_buying_more_ads():
    path = LESSONS / "checkout_vs_ads.toml"
    base = _at_horizon(path)
    more_ads = _at_horizon(path, ["touchpoints.search_ads.spend=100"])  # +40 EUR/day: 2,400 EUR
    fixed = _at_horizon(path, ["transitions.checkout->lost.p=0.1"])  # the same money, failures halved
    assert more_ads > base and fixed - base > 1.5 * (more_ads - base)


def test_lesson_retention_compounds():
    path = LESSONS / "retention.toml"
    churn = "transitions.subscriber->cancelled.p"
    base = _at_horizon(path, stage="subscriber")
    lower_churn = _at_horizon(path, [f"{churn}=0.002"], "subscriber")
    more_trials = _at_horizon(path, ["population.arrivals_per_day=12"], "subscriber")
    # one cancellation in a thousand a day fewer: about 30% more subscribers after two years,
    # more than 20% more trials a day bring
    assert lower_churn > 1.25 * base and lower_churn > more_trials > base


# --- the page in headless Chromium ------------------------------------------------------------

CHARTS = ("funnel", "flows", "routes", "stage")


@contextlib.contextmanager
def _serving(session):
    """The app of ``session`` served by uvicorn on a free port of 127.0.0.1, in a thread: its URL."""
    uvicorn = pytest.importorskip("uvicorn")
    from jsim.teach import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    srv = uvicorn.Server(uvicorn.Config(create_app(session), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def server(session):
    with _serving(session) as url:
        yield url


def _open(page, server):  # noqa: F811
    page.goto(server + "/")
    page.wait_for_function("window.jsimTeach && window.jsimTeach.current && window.jsimTeach.redraws.length > 0")


def _move(page, slider_id, value):  # noqa: F811
    """Set a slider as a student's drag does (input event), wait for the redraw; the redraw's milliseconds."""
    n = page.evaluate("window.jsimTeach.redraws.length")
    page.evaluate(
        """([id, v]) => { const el = document.getElementById(id); el.value = v;
           el.dispatchEvent(new Event('input', {bubbles: true})); }""",
        [slider_id, str(value)],
    )
    page.wait_for_function(f"window.jsimTeach.redraws.length > {n}")
    return page.evaluate("window.jsimTeach.redraws[window.jsimTeach.redraws.length - 1].ms")


def _funnel(page):  # noqa: F811
    """The plotted stacked-area data: (stage names, (days+1, stages) customers)."""
    traces = page.evaluate("document.getElementById('funnel').data.map(t => [t.name, t.y])")
    return [name for name, _ in traces], np.array([y for _, y in traces]).T


def test_page_renders_every_chart_without_errors(page, server):  # noqa: F811
    _open(page, server)
    for chart in CHARTS:
        assert page.locator(f"#{chart}.js-plotly-plot .main-svg").count() >= 1, chart
    assert page.locator("#sliders input[type=range]").count() == 3
    assert page.locator("label[for=slider-0]").inner_text().startswith("word_of_mouth.unaware → customer.q")
    assert page.errors == []


def test_slider_moves_redraw_the_funnel_as_the_api_answers(page, server, client, capsys):  # noqa: F811
    _open(page, server)
    times = []
    for q in (0.1, 0.12, 0.05, 0.15, 0.2, 0.085, 0.11, 0.13, 0.03, 0.095, 0.14, 0.07):
        times.append(_move(page, "slider-0", q))
        names, occ = _funnel(page)
        api = _simulate(client, [f"{Q}={q}"]).json()["daily"]
        assert names == api["stages"]
        np.testing.assert_allclose(occ, np.array(api["occupancy"][0]), rtol=1e-12)
    assert page.errors == []
    median, worst = statistics.median(times), max(times)
    with capsys.disabled():
        print(
            f"\njsim teach: slider move -> fetch -> redraw: median {median:.0f} ms, max {worst:.0f} ms "
            f"over {len(times)} moves (goal 200 ms)"
        )
    assert median < 1000  # the goal is 200 ms; a loaded 2-core machine gets slack


def test_pin_predict_animate_and_noise(page, server):  # noqa: F811
    _open(page, server)
    page.click("#pin")
    _move(page, "slider-0", 0.15)
    assert page.locator("#funnel-a.js-plotly-plot .main-svg").count() >= 1
    a = np.array(page.evaluate("document.getElementById('funnel-a').data.map(t => t.y)"))
    b = np.array(page.evaluate("document.getElementById('funnel').data.map(t => t.y)"))
    assert a.shape == b.shape and not np.allclose(a, b)
    assert page.locator("#metrics th.a-col").is_visible()
    # predict, then run: results hidden until a prediction is entered and revealed
    page.check("#predict-mode")
    assert page.locator("#results.concealed").count() == 1
    page.click("#reveal")
    assert "prediction first" in page.inner_text("#verdict")
    page.fill("#prediction", "1500")
    page.click("#reveal")
    assert page.locator("#results.concealed").count() == 0
    assert "You predicted 1,500" in page.inner_text("#verdict")
    # the animation reveals day by day
    page.click("#pause")
    page.fill("#day", "10")
    page.evaluate("document.getElementById('day').dispatchEvent(new Event('input'))")
    page.wait_for_function("document.getElementById('funnel').data[0].x.length === 11")
    page.click("#step")
    page.wait_for_function("document.getElementById('funnel').data[0].x.length === 12")
    page.click("#play")
    page.wait_for_function("window.jsimTeach.day === 120", timeout=60_000)
    # noise: the stochastic engine's runs overlay the expected curve
    page.fill("#reps", "3")
    page.click("#noise")
    page.wait_for_function("window.jsimTeach.noise !== null", timeout=120_000)
    names = page.evaluate("document.getElementById('stage').data.map(t => t.name)")
    assert sum(n.startswith("random run") for n in names) == 3 and "my prediction" in names
    assert page.errors == []


@pytest.mark.parametrize("path", sorted(LESSONS.glob("*.toml")), ids=lambda p: p.stem)
def test_redraw_time_per_lesson(page, path, capsys):  # noqa: F811
    """Every slider of every lesson, moved across its range: the funnel shows what the API returns; time each redraw."""
    from jsim.teach import TeachSession

    session = TeachSession(path)
    times = []
    with _serving(session) as url:
        _open(page, url)
        for i, slider in enumerate(session.info()["sliders"]):
            for frac in (0.2, 0.5, 0.8):
                value = slider["min"] + frac * (slider["max"] - slider["min"])
                value = round(value) if slider["integer"] else round(value / slider["step"]) * slider["step"]
                times.append(_move(page, f"slider-{i}", value))
                sets = page.evaluate("changedSets(window.jsimTeach.values)")  # every slider moved so far
                expected = session.simulate(sets)
                np.testing.assert_allclose(_funnel(page)[1], np.array(expected["daily"]["occupancy"][0]), rtol=1e-12)
    assert page.errors == []
    with capsys.disabled():
        print(
            f"\njsim teach {path.stem}: redraw median {statistics.median(times):.0f} ms, max {max(times):.0f} ms "
            f"over {len(times)} slider moves (goal 200 ms)"
        )
    assert statistics.median(times) < 1000
