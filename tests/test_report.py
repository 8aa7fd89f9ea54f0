"""``jsim report`` and ``--report``: a self-contained page whose numbers are the files' numbers."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from browser import browser, page  # noqa: F401  (pytest fixtures)
from click.testing import CliRunner

from jsim.cli import main
from jsim.io import MANIFEST
from jsim.report._numbers import fmt_number
from jsim.report.html import (
    KEY_FIGURES,
    fmt,
    get_compare_info,
    get_optimise_info,
    get_run_info,
    plotly_js,
    read_folder,
)

ROOT = Path(__file__).resolve().parents[1]
WEBSHOP = str(ROOT / "scenarios" / "webshop.toml")
SUPPORT = str(ROOT / "scenarios" / "support_understaffed.toml")


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    res = _invoke("run", WEBSHOP, "--engine", "mean-field", "-o", out, "-q", "--report")
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "cmp"
    res = _invoke(
        "compare", SUPPORT, "--variant", "chat3:touchpoints.support_chat.service.agents=3",
        "--engine", "mean-field", "-o", out, "-q", "--report",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def optimise_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "opt"
    res = _invoke(
        "optimise", WEBSHOP, "--budget", "30000", "--touchpoints", "search_ads,social_ads,display_ads",
        "--engine", "mean-field", "--trials", "20", "--compare-reps", "2", "-o", out, "-q", "--report",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return out


# --- data functions: the numbers are the files' numbers ------------------------------------------


def test_run_info_numbers_are_the_files_numbers(run_dir):
    files = read_folder(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    info = get_run_info(files)
    for row in info["key_figures"]:
        assert row["mean"] == summary["metrics"][row["key"]]["mean"]
        assert row["low"] == summary["metrics"][row["key"]]["low"]
    assert [k for k, _, _ in KEY_FIGURES if k in summary["metrics"]] == [r["key"] for r in info["key_figures"]]
    with open(run_dir / "daily.csv") as fh:
        daily = list(csv.DictReader(fh))
    assert info["occupancy"]["cart"] == [float(r["cart"]) for r in daily]
    assert info["calendar"] == summary["calendar"]
    assert {m["name"] for m in summary["calendar"]} == {"tv", "influencer"}  # webshop's two flights
    assert summary["calendar"][0] == {"kind": "flight", "name": "tv", "touchpoint": "tv", "start": 60, "end": 87}


def test_funnel_drop_off_is_the_share_of_moves_out_that_do_not_go_on(run_dir):
    info = get_run_info(read_folder(run_dir))
    with open(run_dir / "flows.csv") as fh:
        flows = list(csv.DictReader(fh))
    out_of_cart = sum(float(r["moves"]) for r in flows if r["from"] == "cart")
    to_customer = sum(float(r["moves"]) for r in flows if r["from"] == "cart" and r["to"] == "customer")
    cart = info["cart"]
    assert cart["next"] == "customer"
    assert cart["moves_out"] == pytest.approx(out_of_cart)
    assert cart["drop_off"] == pytest.approx(1 - to_customer / out_of_cart)
    assert [s["stage"] for s in info["funnel"]][:4] == ["unaware", "aware", "considering", "cart"]


def test_compare_and_optimise_info_read_their_json(compare_dir, optimise_dir):
    cmp = json.loads((compare_dir / "compare.json").read_text())
    info = get_compare_info(read_folder(compare_dir))
    row = next(r for r in info["variants"][0]["rows"] if r["metric"] == "new_customers")
    assert row["difference"] == cmp["variants"][0]["difference"]["new_customers"]["mean"]
    assert row["baseline"] == cmp["baseline_run"]["metrics"]["new_customers"]["mean"]
    alloc = json.loads((optimise_dir / "allocation.json").read_text())
    info = get_optimise_info(read_folder(optimise_dir))
    assert info["allocation"] == alloc["allocation"]
    assert set(info["curves"]) == {"search_ads", "social_ads", "display_ads"}
    with open(optimise_dir / "trials.csv") as fh:
        assert len(info["history"]["trial"]) == sum(r["state"] == "COMPLETE" for r in csv.DictReader(fh))


def test_the_page_is_self_contained(run_dir):
    text = (run_dir / "report.html").read_text()
    lib = plotly_js()
    assert text.count(lib) == 1  # plotly.js embedded once
    rest = text.replace(lib, "")
    assert not re.search(r"https?://", rest), "a URL outside the embedded library"
    assert "<script src" not in rest and "<link" not in rest


def test_report_html_is_part_of_the_set(run_dir):
    assert "report.html" in json.loads((run_dir / MANIFEST).read_text())["files"]


# --- the command ---------------------------------------------------------------------------------


def test_jsim_report_writes_into_the_folder_and_joins_its_set(run_dir, tmp_path):
    (run_dir / "report.html").unlink()
    res = _invoke("report", run_dir)
    assert res.exit_code == 0, res.output
    assert (run_dir / "report.html").is_file()
    assert "report.html" in json.loads((run_dir / MANIFEST).read_text())["files"]
    res = _invoke("report", run_dir, "--out", tmp_path / "elsewhere.html")
    assert res.exit_code == 0
    assert (tmp_path / "elsewhere.html").read_text() == (run_dir / "report.html").read_text()


def test_bad_folders_exit_2_and_write_nothing(tmp_path):
    res = CliRunner().invoke(main, ["report", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "no such folder" in res.output
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "summary.json" in res.output
    (tmp_path / "summary.json").write_text("{not json")
    res = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "summary.json is not valid JSON" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_an_out_file_in_a_missing_folder_exits_2(run_dir, tmp_path):
    res = CliRunner().invoke(main, ["report", str(run_dir), "--out", str(tmp_path / "no" / "r.html")])
    assert res.exit_code == 2 and "does not exist" in res.output
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("command", [["run", WEBSHOP], ["optimise", WEBSHOP, "--budget", "100"]])
def test_report_flag_needs_out(command, tmp_path):
    res = CliRunner().invoke(main, [*command, "--report"])
    assert res.exit_code == 2 and "--report needs --out" in res.output


# --- in Chromium ---------------------------------------------------------------------------------


def _open(page, path):  # noqa: F811
    requests = []
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None)
    page.goto(Path(path).resolve().as_uri())
    page.wait_for_function(
        "() => [...document.querySelectorAll('.chart')].every(d => d.querySelector('.main-svg'))", timeout=30000
    )
    charts = page.locator(".chart").count()
    assert charts > 0
    assert page.errors == []
    assert requests == []  # opens offline
    return charts


def _number(text: str) -> float:
    """A shown number back to a float (``1,549``, ``2.65%``, ``-0.8%``)."""
    t = text.strip().replace(",", "")
    return float(t[:-1]) / 100 if t.endswith("%") else float(t)


def test_run_report_renders_and_its_headline_is_summary_json(page, run_dir):  # noqa: F811
    charts = _open(page, run_dir / "report.html")
    assert charts == 4  # stages, flows, funnel, touchpoints
    summary = json.loads((run_dir / "summary.json").read_text())
    shown = page.locator("[data-metric]")
    assert shown.count() == 5
    for i in range(shown.count()):
        el = shown.nth(i)
        key, spec, text = el.get_attribute("data-metric"), el.get_attribute("data-spec"), el.inner_text()
        mean = summary["metrics"][key]["mean"]
        assert text == fmt(mean, spec)  # the file's number, formatted
        decimals = len(text.split(".")[1].rstrip("%")) if "." in text else 0
        scale = 100 if text.endswith("%") else 1
        assert _number(text) == pytest.approx(mean, abs=0.51 * 10**-decimals / scale)
    assert page.locator("#headline-cart_abandonment").inner_text().endswith("%")


def test_compare_and_optimise_reports_render(page, compare_dir, optimise_dir):  # noqa: F811
    assert _open(page, compare_dir / "report.html") == 1
    page.errors.clear()
    assert _open(page, optimise_dir / "report.html") == 5  # allocation, 3 response curves, history


@pytest.mark.parametrize("width", [60, 80, 120])
def test_terminal_tables_never_break_a_number(run_dir, width):
    import io

    from rich.console import Console

    from jsim.report.run import render_summary

    summary = json.loads((run_dir / "summary.json").read_text())
    buf = io.StringIO()
    render_summary(summary, Console(file=buf, width=width))
    text = buf.getvalue()
    for key, _, spec in KEY_FIGURES:
        if key in summary["metrics"] and key != "net_profit":  # the terminal summary has no net profit row
            assert fmt(summary["metrics"][key]["mean"], spec) in text, (key, width)
    for row in summary["touchpoints"]:
        assert row["touchpoint"] in text
        assert fmt(row["cost"], ",.0f") in text and fmt(row["deliveries"], ",.0f") in text
    for est in summary["stages_at_horizon"].values():
        assert fmt(est["mean"], ",.0f") in text
    assert "deliveries" in text and "…" not in text  # no header word cut either
    assert "e+" not in text  # money never in scientific notation


TV_SEARCH = str(ROOT / "scenarios" / "tv_search.toml")
OTHER_COMMANDS = {
    "sweep": (["sweep", WEBSHOP, "--param", "economics.margin=0.2:0.4:3", "--metric", "net_profit",
               "--engine", "mean-field"], 1),
    "sensitivity": (["sensitivity", WEBSHOP, "--param", "economics.margin=0.25:0.45", "--param",
                     "touchpoints.search_ads.spend=30:120", "--metric", "net_profit"], 1),
    "attribute": (["attribute", "--scenario", TV_SEARCH, "--engine", "mean-field", "--reps", "2",
                   "--journeys", "1000"], 2),
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(OTHER_COMMANDS))
def test_report_flag_of_the_other_commands(command, tmp_path, page):  # noqa: F811
    args, n_charts = OTHER_COMMANDS[command]
    out = tmp_path / command
    res = _invoke(*args, "--out", out, "-q", "--report")
    assert res.exit_code == 0, res.output
    assert "report.html" in json.loads((out / MANIFEST).read_text())["files"]
    assert _open(page, out / "report.html") == n_charts


def test_calibration_report(tmp_path, page):  # noqa: F811
    obs = tmp_path / "obs"
    assert _invoke("run", WEBSHOP, "--engine", "mean-field", "-o", obs, "-q").exit_code == 0
    out = tmp_path / "fit"
    res = _invoke(
        "calibrate", WEBSHOP, "--data", obs / "daily.csv", "--fit", "transitions.aware->considering.p=0.002:0.02",
        "--engine", "mean-field", "--trials", "20", "-o", out, "-q", "--report",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    page.goto((out / "report.html").resolve().as_uri())
    fitted = json.loads((out / "calibration.json").read_text())["parameters"]
    text = page.locator("#calibration").inner_text()
    est = fitted["transitions.aware->considering.p"]["estimate"]
    assert "transitions.aware->considering.p" in text and fmt_number(est) in text
    assert page.errors == []


def test_pareto_front_of_two_objectives(tmp_path, page):  # noqa: F811
    out = tmp_path / "pareto"
    res = _invoke(
        "optimise", WEBSHOP, "--budget", "30000", "--touchpoints", "search_ads,social_ads", "--objective",
        "conversions", "--objective", "net_profit", "--engine", "mean-field", "--trials", "20",
        "--compare-reps", "2", "-o", out, "-q", "--report",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    info = get_optimise_info(read_folder(out))
    with open(out / "pareto.csv") as fh:
        front = list(csv.DictReader(fh))
    metrics = info["objectives"]
    assert info["pareto"]["front"] == [[float(r[m]) for r in front] for m in metrics]
    assert _open(page, out / "report.html") == 5  # allocation, 2 response curves, Pareto front, history


def test_services_section_reads_service_daily(tmp_path, page):  # noqa: F811
    out = tmp_path / "support"
    assert _invoke("run", SUPPORT, "--engine", "mean-field", "-o", out, "-q", "--report").exit_code == 0
    info = get_run_info(read_folder(out))
    with open(out / "service_daily.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["service"] == "support_chat"]
    assert info["service_daily"]["support_chat"]["abandoned"] == [float(r["abandoned"]) for r in rows]
    assert _open(page, out / "report.html") == 5  # stages, flows, funnel, touchpoints, support_chat per day
    assert "support_chat" in page.locator("#services").inner_text()
