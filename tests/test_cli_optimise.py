"""``jsim optimise``: end to end on a small scenario, files pandas reads, exit 2 and nothing written on bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from jsim.cli import main
from jsim.errors import ScenarioError
from jsim.optimise.objectives import ScenarioObjective
from jsim.scenario import load_scenario

TWO_CHANNELS = """
name = "two_channels"
[[stages]]
name = "unaware"
[[stages]]
name = "interested"
[[stages]]
name = "customer"
converted = true
purchase = true
retained = true
[[stages]]
name = "lost"
absorbing = true
[[transitions]]
from = "unaware"
to = "interested"
p = 0.002
[[transitions]]
from = "interested"
to = "customer"
p = 0.02
[[transitions]]
from = "interested"
to = "lost"
p = 0.02
[[transitions]]
from = "customer"
to = "lost"
p = 0.03
[[touchpoints]]
name = "search"
spend = 20.0
response = { kind = "hill", ec = 30.0, slope = 1.0, max_reach = 0.2 }
effects = [{ from = "unaware", to = "interested", p = 0.3 }]
[[touchpoints]]
name = "social"
spend = 10.0
response = { kind = "hill", ec = 15.0, slope = 2.0, max_reach = 0.3 }
effects = [{ from = "interested", to = "customer", p = 0.2 }]
[[touchpoints]]
name = "email"
kind = "owned"
reach = 0.1
targets = ["customer"]
effects = [{ from = "customer", to = "lost", p = 0.01 }]
[population]
customers = 2000
days = 30
[economics]
revenue_per_purchase = 10.0
margin = 0.5
"""


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "two_channels.toml"
    path.write_text(TWO_CHANNELS)
    return path


def _run(args):
    return CliRunner().invoke(main, ["optimise", *map(str, args)])


def test_help_names_the_flags():
    res = CliRunner().invoke(main, ["optimise", "--help"])
    assert res.exit_code == 0
    for flag in ("--budget", "--objective", "--trials", "--bounds", "--storage", "--resume", "--weekly", "--engine"):
        assert flag in res.output


def test_single_objective_end_to_end(scenario, tmp_path):
    out = tmp_path / "out"
    res = _run(
        [
            scenario,
            "--budget",
            900,
            "--trials",
            25,
            "--compare-reps",
            3,
            "--bounds",
            "social=100:",
            "--out",
            out,
            "--quiet",
        ]
    )
    assert res.exit_code == 0, res.output
    for text in ("best", "current", "equal", "marginal", "10% shift"):
        assert text in res.output
    alloc = json.loads((out / "allocation.json").read_text())
    assert set(alloc) == {
        "scenario",
        "budget",
        "touchpoints",
        "objectives",
        "directions",
        "constraints",
        "feasible",
        "allocation",
        "totals",
        "value",
        "bounds",
        "active_bounds",
        "polished",
        "n_evaluations",
        "max_evaluations",
        "settings",
        "comparison",
        "explanation",
        "budget_rule",
        "advice",
        "budget_search",
        "plan",
        "response_curves",
    }
    assert set(alloc["response_curves"]) == set(alloc["allocation"])  # {touchpoint: {spend: [...], value: [...]}}
    assert all(len(c["spend"]) == len(c["value"]) > 1 for c in alloc["response_curves"].values())
    assert sum(alloc["allocation"].values()) == pytest.approx(900.0, rel=1e-9)
    assert alloc["allocation"]["social"] >= 100.0 - 1e-9
    assert alloc["settings"]["seed"] == 0 and alloc["objectives"] == ["conversions"]
    # --trials 25 plus the polish's share of the default (4 touchpoints: 60% of 100 + 100 * n)
    assert 25 <= alloc["n_evaluations"] <= alloc["max_evaluations"] == alloc["settings"]["max_evaluations"]
    assert f"{alloc['n_evaluations']:,} of {alloc['max_evaluations']:,} evaluations" in res.output
    assert [row["split"] for row in alloc["comparison"]] == ["best", "current", "equal"]
    best, current, equal = (row["expected"]["conversions"] for row in alloc["comparison"])
    assert best >= current - 1e-9 and best >= equal - 1e-9
    trials = pd.read_csv(out / "trials.csv")
    assert {"trial", "state", "conversions", "search", "social"} <= set(trials.columns)
    assert (trials["state"] == "COMPLETE").sum() >= 25
    done = trials[trials["state"] == "COMPLETE"]
    assert ((done["search"] + done["social"]) - 900.0).abs().max() < 1e-6
    assert (out / "history.png").stat().st_size > 0 and (out / "response_curves.png").stat().st_size > 0
    assert not (out / "pareto.csv").exists()
    assert not list(out.glob(".*.tmp")) and not list(out.glob(".*png"))


def test_two_objectives_write_the_pareto_front_and_resume(scenario, tmp_path):
    out = tmp_path / "out"
    args = [
        scenario,
        "--budget",
        900,
        "--objective",
        "conversion",
        "--objective",
        "retention",
        "--trials",
        12,
        "--compare-reps",
        2,
        "--constraint",
        "cac<=1000",
        "--out",
        out,
        "--quiet",
    ]
    res = _run(args)
    assert res.exit_code == 0, res.output
    assert "Pareto front" in res.output
    pareto = pd.read_csv(out / "pareto.csv")
    assert list(pareto.columns) == ["search", "social", "conversions", "retained"] and len(pareto) >= 1
    assert (out / "pareto.png").exists()
    # a plain re-run refuses to overwrite the study; --resume continues it to the new trial count
    again = _run(args)
    assert again.exit_code == 2 and "--resume" in again.output
    res = _run([*args[:8], 20, *args[9:], "--resume"])
    assert res.exit_code == 0, res.output
    trials = pd.read_csv(out / "trials.csv")
    assert (trials["state"] == "COMPLETE").sum() >= 20
    assert trials["feasible"].all()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--objective", "conversoins"], "--objective: must be one of"),
        (["--objective", "conversoins"], "e.g. --objective conversions"),
        (["--bounds", "search=500:100"], "--bounds: 0 <= min <= max must hold"),
        (["--bounds", "serch=0:100"], "did you mean 'search'"),
        (["--bounds", "search=800:", "--bounds", "social=800:"], "--bounds: sum of minimums <= budget"),
        (
            ["--touchpoints", "search,email"],
            "--touchpoints: every touchpoint must have a response curve; 'email' has a fixed reach",
        ),
        (["--touchpoints", ","], "--touchpoints: at least one touchpoint"),
        (["--constraint", "retention=0.5"], "--constraint: must read METRIC>=VALUE"),
        (["--constraint", "cac<=40", "--sampler", "cmaes"], "--sampler: with constraints"),
        (
            ["--objective", "conversions", "--objective", "cost", "--sampler", "cmaes"],
            "--sampler: 'cmaes' handles one objective",
        ),
        (["--budget", "-5"], "--budget"),
        (["--budget", "abc"], "--budget"),
        (["--resume"], "--resume"),
        (["--engine", "agent-based"], "--engine"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(scenario, tmp_path, args, message):
    out = tmp_path / "out"
    base = ["--budget", 900] if "--budget" not in args else []
    res = _run([scenario, *base, "--trials", 3, *args] + (["--out", out] if "--resume" not in args else []))
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert not out.exists()


@pytest.mark.parametrize(
    "flags, library_call, flag, parameter",
    [
        (
            ["--touchpoints", "search,email"],
            lambda sc: ScenarioObjective(sc, 900.0, touchpoints=["search", "email"]),
            "--touchpoints",
            "touchpoints",
        ),
        (
            ["--touchpoints", "serch"],
            lambda sc: ScenarioObjective(sc, 900.0, touchpoints=["serch"]),
            "--touchpoints",
            "touchpoints",
        ),
        (["--budget", "-5"], lambda sc: ScenarioObjective(sc, -5.0), "--budget", "budget"),
        (["--budget", "nan"], lambda sc: ScenarioObjective(sc, float("nan")), "--budget", "budget"),
        (["--budget", "inf"], lambda sc: ScenarioObjective(sc, float("inf")), "--budget", "budget"),
    ],
)
def test_the_command_names_the_flag_the_library_the_parameter(scenario, tmp_path, flags, library_call, flag, parameter):
    """One mistake, two audiences: ``jsim optimise`` says ``--touchpoints: ...`` (exit 2, nothing written),
    :class:`ScenarioObjective` says ``touchpoints: ...`` and never names a flag."""
    out = tmp_path / "out"
    budget = [] if "--budget" in flags else ["--budget", 900]
    res = _run([scenario, *budget, "--trials", 3, *flags, "--out", out])
    assert res.exit_code == 2, res.output
    assert flag in res.output and "must" in res.output
    assert not out.exists()
    with pytest.raises(ScenarioError) as info:
        library_call(load_scenario(scenario))
    assert str(info.value).startswith(f"{parameter}: ") and "--" not in str(info.value)


def test_a_scenario_files_own_locations_are_not_taken_for_flags(tmp_path):
    """``touchpoints`` in a scenario file is a key of the file, not the ``--touchpoints`` flag."""
    bad = tmp_path / "bad.toml"
    bad.write_text("touchpoints = 3\n" + TWO_CHANNELS.split("[[touchpoints]]")[0])
    res = _run([bad, "--budget", 900])
    assert res.exit_code == 2, res.output
    assert f"{bad}: touchpoints: must be a list" in res.output and "--touchpoints" not in res.output


def test_max_evaluations_caps_the_simulations(scenario, tmp_path):
    out = tmp_path / "capped"
    res = _run([scenario, "--budget", 900, "--max-evaluations", 40, "--compare-reps", 2, "--out", out, "--quiet"])
    assert res.exit_code == 0, res.output
    alloc = json.loads((out / "allocation.json").read_text())
    assert alloc["max_evaluations"] == 40 and 0 < alloc["n_evaluations"] <= 40
    assert f"{alloc['n_evaluations']:,} of 40 evaluations" in res.output


def test_trials_above_max_evaluations_is_a_usage_error(scenario):
    res = _run([scenario, "--budget", 900, "--trials", 50, "--max-evaluations", 40, "--quiet"])
    assert res.exit_code == 2
    assert "--trials <= --max-evaluations must hold" in res.output
