"""scenarios/support_understaffed.toml and the helpers of experiments/support_agents.py.

- The scenario validates (``jsim validate``), has its two-agent chat with the capacity event
  to four agents on day 60, and runs at a small population on every engine (the DES when
  ``jsim.engine.des`` is importable), with a service row in the summary.
- The sweep helpers edit the parsed scenario as documented (agents set, capacity events
  dropped; the checkout's cart -> lost probability set).
- Staffing: under the mean-field engine, conversion never falls as agents go 1..6; under
  the fast engine, conversion at 6 agents exceeds conversion at 1 agent by more than
  4.5 standard errors of the difference (independent replications).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from conftest import Z  # noqa: E402

import jsim  # noqa: E402
from jsim.analysis import summarise  # noqa: E402
from jsim.cli import main as cli_main  # noqa: E402
from jsim.metrics import rep_metrics  # noqa: E402
from jsim.scenario import parse_scenario  # noqa: E402

SCENARIO = ROOT / "scenarios" / "support_understaffed.toml"
SMALL = 2_000


def _des_available() -> bool:
    try:
        import jsim.engine.des  # noqa: F401
    except ImportError:
        return False
    return True


ENGINES = [
    "fast",
    "mean-field",
    pytest.param("des", marks=pytest.mark.skipif(not _des_available(), reason="jsim.engine.des not present")),
]


@pytest.fixture(scope="module")
def experiment():
    spec = importlib.util.spec_from_file_location("support_agents", ROOT / "experiments" / "support_agents.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def data(experiment):
    return experiment.read_scenario_dict(SCENARIO)


def test_validates_with_the_documented_service():
    res = CliRunner().invoke(cli_main, ["validate", str(SCENARIO)])
    assert res.exit_code == 0 and "ok" in res.output, res.output
    model = jsim.compile_scenario(jsim.load_scenario(SCENARIO))
    assert model.n_customers == 20_000 and model.n_days == 120
    (sv,) = model.services
    assert sv.name == "support_chat"
    assert sv.agents[1] == 2 and sv.agents[59] == 2 and sv.agents[60] == 4 and sv.agents[-1] == 4
    assert (sv.open_from * 24, sv.open_to * 24) == pytest.approx((9.0, 18.0))
    assert sv.service_mean * 24 * 60 == pytest.approx(8.0, rel=1e-3)
    assert sv.patience_mean * 24 * 60 == pytest.approx(4.0, rel=1e-3)
    assert sv.wait_loss_rate > 0
    lost = model.stage_index["lost"]
    assert sv.abandon_q[:, model.stage_index["considering"], lost].min() > 0
    assert sv.abandon_q[:, model.stage_index["cart"], lost].min() > 0
    j = model.touchpoint_index["checkout"]
    assert model.q[:, j, model.stage_index["cart"], lost].min() > 0  # the checkout failure rate
    # the calendar is exercised: seasonal arrivals, a sale and promotions
    assert np.ptp(model.arrivals_mult[1:]) > 0
    assert model.revenue_mult.min() < 1


@pytest.mark.parametrize("engine", ENGINES)
def test_runs_small_on_every_engine(engine):
    model = jsim.compile_scenario(jsim.load_scenario(SCENARIO), customers=SMALL)
    res = jsim.simulate(model, seed=3, reps=2 if engine != "mean-field" else 1, engine=engine)
    total = res.occupancy.sum(axis=(2, 3))
    expected = SMALL + np.cumsum(res.arrivals.sum(axis=2), axis=1)
    np.testing.assert_allclose(total, expected, rtol=1e-9, atol=1e-6)
    summary = summarise(res)
    (row,) = summary["services"]
    assert row["service"] == "support_chat"
    assert row["requests"]["mean"] > 0
    assert 0.0 <= row["abandonment_rate"]["mean"] <= 1.0
    conv = summary["metrics"]["conversion_rate"]["mean"]
    assert 0.0 < conv < 1.0


def test_sweep_helpers_edit_the_scenario(experiment, data):
    two = experiment.with_agents(data, 7, "support_chat")
    tp = next(t for t in two["touchpoints"] if t["name"] == "support_chat")
    assert tp["service"]["agents"] == 7
    assert not [e for e in two["events"] if e["kind"] == "capacity"]
    assert any(e["kind"] == "capacity" for e in data["events"])  # the original is untouched
    model = jsim.compile_scenario(parse_scenario(two))
    assert (model.services[0].agents[1:] == 7).all()
    failing = experiment.with_failure_rate(data, 0.15)
    model = jsim.compile_scenario(parse_scenario(failing))
    j, cart, lost = model.touchpoint_index["checkout"], model.stage_index["cart"], model.stage_index["lost"]
    assert model.q[0, j, cart, lost] == pytest.approx(0.15)


def test_more_agents_never_lower_mean_field_conversion(experiment, data):
    conv = []
    for agents in range(1, 7):
        model = jsim.compile_scenario(parse_scenario(experiment.with_agents(data, agents, "support_chat")))
        res = jsim.simulate(model, engine="mean-field")
        conv.append(float(rep_metrics(res)["conversion_rate"][0]))
    conv = np.array(conv)
    assert (np.diff(conv) >= -1e-12).all(), conv
    assert conv[-1] > conv[0]


def test_fast_conversion_rises_from_one_to_six_agents(experiment, data):
    reps = 6
    rates = {}
    for agents, seed in ((1, 11), (6, 12)):  # independent replications
        model = jsim.compile_scenario(parse_scenario(experiment.with_agents(data, agents, "support_chat")))
        rates[agents] = rep_metrics(jsim.simulate(model, seed=seed, reps=reps, engine="fast"))["conversion_rate"]
    diff = rates[6].mean() - rates[1].mean()
    se = np.sqrt(rates[6].var(ddof=1) / reps + rates[1].var(ddof=1) / reps)
    assert diff > Z * se, (rates, diff, se)
