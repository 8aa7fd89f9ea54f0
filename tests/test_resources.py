"""Memory estimates and the refusal of runs that cannot fit (jsim.engine.resources).

The estimate must be an upper bound of what a run allocates, and not a wild one: measured here
with tracemalloc (numpy's and Python's allocations) at small sizes; the large-size figures
(peak resident memory in a fresh process) are in docs/limits.md (benchmarks/bench_memory.py).
"""

from __future__ import annotations

import re
import time
import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner

import jsim
from jsim.cli import main
from jsim.engine import simulate
from jsim.engine.resources import (
    MEMORY_ENV,
    OVERHEAD_BYTES,
    available_memory,
    check_compile,
    check_resources,
    estimate_compile,
    estimate_resources,
    parse_size,
)
from jsim.errors import ResourceError
from tests.conftest import ROOT

WEBSHOP = str(ROOT / "scenarios" / "webshop.toml")
REFERENCE = str(ROOT / "benchmarks" / "reference.toml")
SUPPORT = str(ROOT / "scenarios" / "support_understaffed.toml")


def _model(path, customers, days):
    return jsim.compile_scenario(jsim.load_scenario(path), customers=customers, days=days)


def _measured(model, engine, reps=1, journeys=0) -> int:
    """tracemalloc's peak of one simulate call and the tables its consumers derive."""
    simulate(model, engine=engine, journeys=10 if journeys else 0)  # numba caches, imports
    tracemalloc.start()
    try:
        result = simulate(model, engine=engine, reps=reps, journeys=journeys)
        _ = result.flows, result.credits, result.moves_by_source
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "path, engine, customers, days, reps, journeys",
    [
        (WEBSHOP, "fast", 3_000_000, 10, 1, 0),  # day-by-day path: 16 bytes a customer
        (REFERENCE, "fast", 200_000, 3_000, 2, 0),  # independent path: day tables, chunk buffers
        (WEBSHOP, "mean-field", 10_000, 20_000, 1, 0),  # exposures (T+1, J, G, S)
        (REFERENCE, "des", 20_000, 30, 1, 0),  # Python objects per customer and per move
        (SUPPORT, "des", 5_000, 30, 1, 0),  # service requests at desks
        (WEBSHOP, "fast", 2_000, 60, 1, 20_000),  # traced journeys
    ],
)
def test_estimate_is_an_upper_bound_within_3x(monkeypatch, path, engine, customers, days, reps, journeys):
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    model = _model(path, customers, days)
    est = estimate_resources(model, engine, reps, journeys)
    measured = _measured(model, engine, reps, journeys)
    assert measured <= est.bytes_peak, (measured, est.bytes_peak, est.breakdown)
    assert est.bytes_peak - OVERHEAD_BYTES <= 3 * measured, (measured, est.bytes_peak, est.breakdown)


def test_estimate_parts_and_customer_days():
    model = _model(WEBSHOP, 1_000, 100)
    est = estimate_resources(model, "fast", 3)
    assert est.customers >= 1_000 + 60 * 100  # day 0 + expected arrivals (+ margin)
    # day-0 customers every day, arrivals from their day on
    assert est.customer_days == pytest.approx(1_000 * 100 + model.arrivals_mean.sum() * 100 * 101 / 2, rel=0.05)
    assert {"results", "derived tables", "exposures", "customers", "chunk seeds"} <= set(est.breakdown)
    assert est.model_bytes > 0 and est.seconds > 0
    assert "customers x 16 bytes" in est.formulas["customers"]
    assert est.describe().count(" = ") == 3  # the three largest parts


def test_parse_size():
    assert parse_size("4G") == 4 << 30
    assert parse_size("512M") == 512 << 20
    assert parse_size("1.5GiB") == int(1.5 * (1 << 30))
    assert parse_size("2000000") == 2_000_000
    for bad in ("", "-1G", "lots", "4Q"):
        with pytest.raises(ValueError, match=MEMORY_ENV):
            parse_size(bad)


def test_available_memory(monkeypatch):
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    mem = available_memory()
    assert 0 < mem.usable < mem.available
    monkeypatch.setenv(MEMORY_ENV, "300M")
    assert available_memory().usable == 300 << 20
    monkeypatch.setenv(MEMORY_ENV, "plenty")
    with pytest.raises(ResourceError, match="JSIM_MEMORY_LIMIT must be an amount of memory"):
        available_memory()


def test_simulate_refuses_before_allocating(monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "16G")
    model = _model(WEBSHOP, 10**10, None)
    tracemalloc.start()
    try:
        with pytest.raises(ResourceError) as info:
            simulate(model, engine="fast")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20
    text = str(info.value)
    assert re.search(r"needs about 1[5-8]\d GB", text)
    assert "1e10 customers x 16 bytes (day-by-day state) = 160 GB" in text
    assert "the limit is 17.2 GB (JSIM_MEMORY_LIMIT=16G)" in text
    assert "lower customers (at most about 9.7e8 fit)" in text and "engine='mean-field'" in text
    assert set(info.value.params) >= {"customers", "engine"}


def test_check_is_cheap(monkeypatch):
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    model = _model(WEBSHOP, None, None)
    check_resources(model, "fast", 4)
    t0 = time.perf_counter()
    for _ in range(200):
        check_resources(model, "fast", 4)
    assert (time.perf_counter() - t0) / 200 < 0.01  # measured: about 70 microseconds


def test_limit_refuses_moderate_run_and_allows_small(monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "60M")
    with pytest.raises(ResourceError, match=r"lower customers \(at most about"):
        simulate(_model(WEBSHOP, 5_000_000, 30), engine="fast")
    result = simulate(_model(WEBSHOP, 5_000, 30), engine="fast")
    assert result.occupancy[0, -1].sum() > 5_000


def test_reps_and_days_fixes(monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "300M")
    model = _model(REFERENCE, 1_000, 20_000)
    with pytest.raises(ResourceError) as info:
        check_resources(model, "fast", reps=200)
    assert "lower reps (at most" in str(info.value) and "lower days (at most about" in str(info.value)
    assert {"reps", "days"} <= set(info.value.params)


def test_des_refused_from_customers_alone(monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "16G")
    model = _model(REFERENCE, 2 * 10**9, 30)
    with pytest.raises(ResourceError, match=r"2e9 customers x 176 bytes \(DES state"):
        check_resources(model, "des")


def test_compile_check(monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "100M")
    scenario = jsim.load_scenario(WEBSHOP)
    assert check_compile(scenario) < 100 << 20
    with pytest.raises(ResourceError, match="3 segments x 13 touchpoints x 9 stages over 100,000 days"):
        check_compile(scenario, days=100_000)
    assert estimate_compile(1, 200, 3000, 90) > 2 * estimate_compile(1, 200, 2000, 90)  # stages²


def test_optimise_objective_checks_before_the_study(monkeypatch):
    from jsim.optimise.objectives import ScenarioObjective

    monkeypatch.setenv(MEMORY_ENV, "16G")
    scenario = jsim.load_scenario(WEBSHOP)
    with pytest.raises(ResourceError, match="lower customers"):
        ScenarioObjective(scenario, 50_000, engine="fast", reps=4, customers=10**10)
    ScenarioObjective(scenario, 50_000, engine="mean-field", customers=10**10)  # expected values: no customers


# -- the command line: exit 2, one line, quickly -------------------------------------------------
def _invoke(args, env=None):
    return CliRunner().invoke(main, args, env={MEMORY_ENV: "16G", **(env or {})})


def test_cli_ten_billion_customers_refused_quickly():
    t0 = time.perf_counter()
    tracemalloc.start()
    try:
        res = _invoke(["run", WEBSHOP, "--customers", "10000000000", "-q"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.exit_code == 2, res.output
    assert re.search(r"needs about 1[5-8]\d GB", res.output) and "[command line: --customers, --engine]" in res.output
    assert peak < 50 << 20
    assert time.perf_counter() - t0 < 10  # scenario load and compile included; the check is microseconds


def test_cli_customers_beyond_int64_is_a_usage_error():
    res = _invoke(["run", WEBSHOP, "--customers", "9223372036854775808", "-q"])
    assert res.exit_code == 2
    assert "--customers" in res.output and "1000000000000" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("flag, value", [("--reps", "10001"), ("--days", "100001"), ("--journeys", "1000001")])
def test_cli_ranges(flag, value):
    res = _invoke(["run", WEBSHOP, flag, value, "-q"])
    assert res.exit_code == 2 and flag in res.output


def test_cli_des_two_billion_customers_refused():
    res = _invoke(["run", REFERENCE, "--engine", "des", "--customers", "2000000000", "-q"])
    assert res.exit_code == 2, res.output
    assert "engine 'des'" in res.output and "DES state" in res.output


def test_cli_memory_limit(tmp_path):
    res = _invoke(["run", WEBSHOP, "--customers", "5000000", "--days", "30", "-q"], env={MEMORY_ENV: "60M"})
    assert res.exit_code == 2 and "the limit is 62.9 MB (JSIM_MEMORY_LIMIT=60M)" in res.output
    res = _invoke(["run", WEBSHOP, "-n", "5000", "--days", "30", "-q", "--format", "json"], {MEMORY_ENV: "60M"})
    assert res.exit_code == 0, res.output


def test_slow_run_is_announced(monkeypatch, capsys):
    import jsim.engine.resources as resources
    from jsim.runner import run_scenario

    monkeypatch.setattr(resources, "SLOW_SECONDS", 0.0)
    run_scenario(WEBSHOP, customers=1_000, days=10, progress=True)
    err = capsys.readouterr().err
    assert "note: this run is estimated to take about" in err and "customer-days" in err


def test_result_unchanged_by_the_check():
    """The check allocates nothing the run uses: the same seed gives the same numbers with a limit set."""
    model = _model(WEBSHOP, 2_000, 30)
    a = simulate(model, seed=3, reps=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(MEMORY_ENV, "1G")
        b = simulate(model, seed=3, reps=2)
    np.testing.assert_array_equal(a.moves, b.moves)


@pytest.mark.parametrize(
    "per_day, error, fix",
    [
        (1e9, "ResourceError", r"lower population.arrivals_per_day .*at most"),  # legal, but cannot fit
        (1e12, "ScenarioError", r"must be <= 1e9"),  # beyond the scenario limit
        (np.inf, "ScenarioError", "finite"),
    ],
)
def test_arrivals_beyond_memory_refused(monkeypatch, per_day, error, fix):
    import jsim.errors
    from tests.conftest import build

    monkeypatch.setenv(MEMORY_ENV, "16G")
    with pytest.raises(getattr(jsim.errors, error), match=fix):
        model = build(
            {
                "stages": [{"name": "a"}, {"name": "b", "absorbing": True}],
                "transitions": [{"from": "a", "to": "b", "p": 0.1}],
                "word_of_mouth": [{"from": "a", "to": "b", "p": 0.01, "q": 0.1, "advocates": ["b"]}],
                "population": {"customers": 1000, "days": 90, "arrivals_per_day": per_day},
            }
        )
        simulate(model)


def test_validate_warns_when_a_run_at_the_files_size_would_be_refused(tmp_path):
    """validate and run agree: the population run would refuse is a warning of validate, an error with --strict."""
    text = open(WEBSHOP, encoding="utf-8").read()
    big = tmp_path / "big.toml"
    big.write_text(re.sub(r"(?m)^customers = .*$", "customers = 10_000_000_000", text), encoding="utf-8")
    env = {MEMORY_ENV: "1G"}
    res = CliRunner().invoke(main, ["validate", str(big)], env=env)
    assert res.exit_code == 0, res.output
    assert "jsim run at this size would be refused" in res.output and "1 warning" in res.output
    assert CliRunner().invoke(main, ["validate", "--strict", str(big)], env=env).exit_code == 2
    run = CliRunner().invoke(main, ["run", str(big), "-q"], env=env)
    assert run.exit_code == 2 and "needs about" in run.output, run.output
    assert CliRunner().invoke(main, ["validate", WEBSHOP], env=env).output.count("warning") == 0


def test_the_estimates_constants_are_the_fast_engines():
    """resources.py keeps its own copy (it must not import the numba kernels): the two must agree."""
    import jsim.engine.fast as fast
    import jsim.engine.resources as res

    assert (res.CHUNK_SIZE, res.BATCH_BYTES, res.BATCH_CHUNKS) == (fast.CHUNK_SIZE, fast.BATCH_BYTES, fast.BATCH_CHUNKS)
