"""``jsim compare``: paired differences on common random numbers, verdicts, outputs, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from jsim.analysis.compare import compare_runs
from jsim.analysis.variants import Variant, parse_variant, run_variants
from jsim.cli import main
from jsim.errors import InputError
from jsim.metrics import paired_difference, reps_needed

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = str(ROOT / "benchmarks" / "reference.toml")
SUPPORT = str(ROOT / "scenarios" / "support_understaffed.toml")
WEBSHOP = str(ROOT / "scenarios" / "webshop.toml")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# --- the statistics ---------------------------------------------------------------------------


def test_paired_interval_is_the_paired_t_interval():
    rng = np.random.default_rng(1)
    base = rng.normal(100, 10, size=12)
    var = base + rng.normal(0.8, 1.0, size=12)
    d = paired_difference(var, base)
    ref = stats.ttest_rel(var, base).confidence_interval(0.95)
    assert d.mean == pytest.approx(float(np.mean(var - base)), rel=1e-12)
    assert (d.low, d.high) == pytest.approx((ref.low, ref.high), rel=1e-10)
    assert d.distinguishable == (stats.ttest_rel(var, base).pvalue < 0.05)


def test_identical_values_differ_by_exactly_zero_even_where_undefined():
    x = np.array([1.0, np.nan, 3.0])
    d = paired_difference(x, x.copy())
    assert (d.mean, d.low, d.high, d.distinguishable, d.reps_needed) == (0.0, 0.0, 0.0, False, None)


def test_deterministic_difference_is_exact():
    d = paired_difference([5.0], [3.0], deterministic=True)
    assert (d.mean, d.low, d.high, d.distinguishable) == (2.0, 2.0, 2.0, True)


def test_one_stochastic_replication_gives_no_verdict():
    d = paired_difference([5.0], [3.0])
    assert d.low is None and d.distinguishable is None


@pytest.mark.parametrize(("effect", "expected"), [(0.5, 34), (1.0, 10), (0.2, 199)])
def test_reps_needed_matches_the_published_sample_sizes(effect, expected):
    # G*Power, paired t-test (matched pairs), two-tailed alpha 0.05, power 0.8, effect size dz
    assert reps_needed(effect, 1.0) == expected


def test_reps_needed_is_the_smallest_n_with_the_power():
    from scipy.stats import nct, t

    def power(n, effect):
        crit = t.ppf(0.975, n - 1)
        return nct.sf(crit, n - 1, effect * math.sqrt(n)) + nct.cdf(-crit, n - 1, effect * math.sqrt(n))

    for effect in (0.05, 0.3, 0.7, 2.5):
        n = reps_needed(effect * 3.0, 3.0)
        assert power(n, effect) >= 0.8
        assert n == 2 or power(n - 1, effect) < 0.8
    assert reps_needed(0.0, 1.0) is None
    assert reps_needed(1.0, 0.0) == 2


# --- common random numbers ------------------------------------------------------------------


def test_compare_runs_every_version_on_the_seeds_run_uses():
    """A variant's values are exactly those of ``jsim run --set ... --seed S --reps R``."""
    runs = run_variants(
        [Variant("base", SUPPORT), Variant("chat3", SUPPORT, ("touchpoints.support_chat.service.agents=3",))],
        seed=7,
        reps=3,
        customers=3000,
    )
    for run, extra in zip(runs, ([], ["--set", "touchpoints.support_chat.service.agents=3"])):
        res = invoke("run", SUPPORT, "--seed", 7, "--reps", 3, "--customers", 3000, "--format", "json", "-q", *extra)
        assert res.exit_code == 0, res.output
        summary = json.loads(res.output)
        for metric, est in summary["metrics"].items():
            got = float(np.mean(run.values["metrics"][metric]))
            assert est["mean"] is None and math.isnan(got) or got == est["mean"], metric


def test_paired_difference_agrees_with_the_exact_difference():
    """Fast engine, no coupling: the paired mean difference is unbiased for the mean-field difference."""
    change = ("touchpoints.search.effects.considering->cart.p=0.09",)
    versions = [Variant("base", REFERENCE), Variant("more", REFERENCE, change)]
    fast = compare_runs(run_variants(versions, seed=3, reps=20, customers=20_000))
    exact = compare_runs(run_variants(versions, engine="mean-field", customers=20_000))
    checked = 0
    for row in fast.table("more", "metrics"):
        ex = next(r for r in exact.table("more", "metrics") if r["metric"] == row["metric"])
        if row["metric"] not in ("new_customers", "purchases", "revenue", "retained") or ex["difference"] is None:
            continue
        half = row["difference_high"] - row["difference"]  # t(19) * sd / sqrt(20)
        se = half / stats.t.ppf(0.975, 19)
        assert abs(row["difference"] - ex["difference"]) <= 4.5 * se, row["metric"]
        assert ex["difference_low"] == ex["difference_high"] == ex["difference"]
        checked += 1
    assert checked >= 2


def test_a_variant_equal_to_the_baseline_differs_by_exactly_zero_everywhere(tmp_path):
    res = invoke(
        "compare", SUPPORT, "--variant", "same:population.customers=20000", "--reps", 3, "-n", 2000,
        "--format", "json", "-q",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    (same,) = doc["variants"]
    assert all(
        d["mean"] == d["low"] == d["high"] == 0 and d["distinguishable"] is False for d in same["difference"].values()
    )
    cells = [c for table in ("touchpoints", "sources") for item in same[table].values() for c in item.values()]
    cells += list(same["stages_at_horizon"].values())
    assert cells and all(c["difference"]["mean"] == 0 and c["difference"]["high"] == 0 for c in cells)


# --- the command ---------------------------------------------------------------------------


def test_json_output_has_the_documented_keys(tmp_path):
    res = invoke(
        "compare", SUPPORT, "--variant", "chat3:touchpoints.support_chat.service.agents=3,economics.margin=0.35",
        "--reps", 4, "--seed", 5, "-n", 3000, "--format", "json", "-q",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert {"baseline", "reps", "seed", "variants"} <= set(doc)
    assert (doc["baseline"], doc["reps"], doc["seed"]) == ("support_understaffed", 4, 5)
    run = json.loads(invoke("run", SUPPORT, "-n", 3000, "--format", "json", "-q").output)
    (v,) = doc["variants"]
    assert v["name"] == "chat3"
    assert v["overrides"] == {"touchpoints.support_chat.service.agents": 3, "economics.margin": 0.35}
    assert set(v["metrics"]) == set(run["metrics"]) == set(v["difference"])
    assert all(set(m) >= {"mean", "low", "high"} for m in v["metrics"].values())
    assert all(set(d) >= {"mean", "low", "high", "distinguishable"} for d in v["difference"].values())
    for d in v["difference"].values():
        if d["mean"] is not None:
            assert d["low"] <= d["mean"] <= d["high"]
            assert d["distinguishable"] == (d["low"] > 0 or d["high"] < 0)


def test_out_writes_json_csv_and_plot(tmp_path):
    out = tmp_path / "cmp"
    res = invoke(
        "compare", SUPPORT, "--variant", "chat3:touchpoints.support_chat.service.agents=3", "--variant",
        "chat4:touchpoints.support_chat.service.agents=4", "--reps", 3, "-n", 2000, "--out", out, "--plot", "-q",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "why: moves by source" in res.output and "real" in res.output
    assert sorted(p.name for p in out.iterdir()) == [
        ".jsim-manifest.json",
        "compare.csv",
        "compare.json",
        "compare.png",
    ]
    df = pd.read_csv(out / "compare.csv")
    assert list(df.columns[:7]) == ["variant", "table", "item", "metric", "mean", "low", "high"]
    assert set(df["variant"]) == {"support_understaffed", "chat3", "chat4"}
    assert set(df["table"]) == {"metrics", "stages_at_horizon", "touchpoints", "sources"}
    assert df.loc[df.variant == "support_understaffed", "difference"].isna().all()
    doc = json.loads((out / "compare.json").read_text())
    row = df[(df.variant == "chat4") & (df.metric == "new_customers") & (df.table == "metrics")].iloc[0]
    assert row["difference"] == doc["variants"][1]["difference"]["new_customers"]["mean"]


def test_plot_data_is_relative_to_the_baseline():
    from jsim.plot.compare import get_compare_info

    runs = run_variants(
        [Variant("b", SUPPORT), Variant("v", SUPPORT, ("touchpoints.support_chat.service.agents=3",))],
        engine="mean-field",
    )
    cmp = compare_runs(runs)
    info = get_compare_info(cmp)
    k = info.metrics.index("new_customers")
    base = float(runs[0].values["metrics"]["new_customers"][0])
    diff = float(runs[1].values["metrics"]["new_customers"][0]) - base
    assert info.relative[0, k] == pytest.approx(diff / base)
    assert info.low[0, k] == info.high[0, k] == info.relative[0, k]


def test_another_file_with_other_touchpoints_is_compared_where_it_can_be(tmp_path):
    other = tmp_path / "no_email.toml"
    text = Path(SUPPORT).read_text()
    start = text.index('name = "email_newsletter"')
    block_start = text.rindex("[[touchpoints]]", 0, start)
    block_end = text.index("[[touchpoints]]", start)
    text = text[:block_start] + text[block_end:]
    event = text.index('name = "Black Friday newsletter"')  # the promotion that names it goes too
    event_start = text.rindex("[[events]]", 0, event)
    other.write_text(text[:event_start] + text[text.index("\n\n", event) :])
    assert "email_newsletter" not in other.read_text()
    res = invoke("compare", SUPPORT, other, "--engine", "mean-field", "--format", "json", "-q")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    (v,) = doc["variants"]
    assert v["name"] == "no_email"
    assert "email_newsletter" not in v["touchpoints"]
    assert v["difference"]["new_customers"]["mean"] < 0  # the newsletter brought customers


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--variant", "nocolon"], "NAME:KEY=VALUE"),
        (["--variant", "x:"], "KEY=VALUE"),
        (["--variant", "x:touchpoints.support_chatt.service.agents=3"], "support_chat"),
        (["--variant", "a:economics.margin=0.3", "--variant", "a:economics.margin=0.4"], "unique"),
        (["--variant", "x:economics.margin=7"], "[variant x]: economics.margin"),
        (["--reps", "1"], "at least 2 replications"),
        ([], "something to compare"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, args, needle):
    out = tmp_path / "cmp"
    if needle != "at least 2 replications" and args and args[0] == "--reps":
        args = args + ["--variant", "x:economics.margin=0.3"]
    if needle == "at least 2 replications":
        args = args + ["--variant", "x:economics.margin=0.3"]
    res = invoke("compare", SUPPORT, *args, "--out", out, "-q")
    assert res.exit_code == 2, res.output
    assert needle in res.output
    assert not out.exists()


def test_parse_variant_keeps_commas_inside_values():
    v = parse_variant("hours:touchpoints.support_chat.service.hours=[8, 20],economics.margin=0.3", "f.toml")
    assert v.overrides == ("touchpoints.support_chat.service.hours=[8, 20]", "economics.margin=0.3")
    with pytest.raises(InputError, match="plain word"):
        parse_variant('a"b:economics.margin=0.3', "f.toml")


def test_plot_needs_out():
    res = invoke("compare", SUPPORT, "--variant", "x:economics.margin=0.3", "--plot")
    assert res.exit_code == 2 and "--plot needs --out" in res.output
