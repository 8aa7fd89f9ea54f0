"""The discrete-event (SimPy) engine: same law as the fast engine, calendar traces, service desks, seeds.

Statistical comparisons use 4.5 standard errors (``conftest.Z``): exact binomial standard
errors against the expected-value engine where it is exact (no word of mouth), and the
replication spread of both engines where it is not.
"""

from __future__ import annotations

import copy
import subprocess
import sys

import numpy as np
from click.testing import CliRunner
from conftest import ROOT, assert_close, build, normal_cells

import jsim
from jsim.engine import SimulationResult
from jsim.engine.des import DesEngine

# -- DES vs the expected-value engine (exact without word of mouth) ----------------------------

FUNNEL = {
    "stages": [
        {"name": "unaware"},
        {"name": "aware"},
        {"name": "cart"},
        {"name": "customer", "converted": True, "purchase": True},
        {"name": "lost", "absorbing": True},
    ],
    "transitions": [
        {"from": "unaware", "to": "aware", "p": 0.01},
        {"from": "aware", "to": "cart", "p": 0.04},
        {"from": "aware", "to": "lost", "p": 0.02},
        {"from": "cart", "to": "customer", "p": 0.1},
        {"from": "cart", "to": "lost", "p": 0.05},
        {"from": "customer", "to": "lost", "p": 0.01},
    ],
    "touchpoints": [
        {
            "name": "tv",
            "spend": 100.0,
            "response": {"kind": "exponential", "lam": 0.004},
            "start_day": 5,
            "end_day": 40,
            "effects": [{"from": "unaware", "to": "aware", "p": 0.2}],
        },
        {
            "name": "email",
            "kind": "owned",
            "reach": 0.5,
            "engagement": 0.4,
            "effects": [{"from": "cart", "to": "customer", "p": 0.5}, {"from": "aware", "to": "cart", "p": 0.1}],
        },
    ],
    "segments": [
        {"name": "a", "share": 0.7},
        {"name": "b", "share": 0.3, "transition_multiplier": 1.5, "effect_multiplier": 0.5},
    ],
    "events": [{"kind": "promotion", "touchpoint": "email", "start": 20, "end": 25, "effect_multiplier": 1.8}],
    "population": {"customers": 20_000, "days": 60},
    "economics": {"revenue_per_purchase": 30.0},
}


def test_des_matches_exact_expectations_without_word_of_mouth():
    """Occupancy by day, segment and stage, conversions and revenue: binomial standard errors."""
    model = build(FUNNEL)
    des = jsim.simulate(model, engine="des", seed=11)
    mf = jsim.simulate(model, engine="mean-field")
    n_g = model.initial.sum(axis=1).astype(np.float64)  # (G,) customers per segment, no arrivals
    p = mf.occupancy[0] / n_g[None, :, None]  # (T+1, G, S) each customer's stage distribution
    var = n_g[None, :, None] * p * (1 - p)
    cells = normal_cells(var)
    assert cells.sum() > 300
    assert_close(des.occupancy[0][cells], mf.occupancy[0][cells], np.sqrt(var[cells]), what="occupancy")
    # ever converted by day t (each customer converts at most once): binomial per segment
    p_conv = np.cumsum(mf.new_converted[0], axis=0) / n_g
    assert_close(
        np.cumsum(des.new_converted[0], axis=0)[10:],
        (p_conv * n_g)[10:],
        np.sqrt(n_g * p_conv * (1 - p_conv))[10:],
        what="converted",
    )
    # purchases: the purchase stage is entered at most once, so revenue by day t is binomial too
    value = float(model.purchase_value[3])
    rev, rev_mf = np.cumsum(des.revenue[0]), np.cumsum(mf.revenue[0])
    p_buy = rev_mf / value / n_g.sum()
    assert_close(rev[10:], rev_mf[10:], (value * np.sqrt(n_g.sum() * p_buy * (1 - p_buy)))[10:], what="revenue")
    # bookkeeping is the fast engine's: flows explain occupancy, credits explain flows
    occ = des.stage_occupancy[0]
    np.testing.assert_array_equal(occ[1:] - occ[:-1], des.flows[0, 1:].sum(axis=1) - des.flows[0, 1:].sum(axis=2))
    np.testing.assert_array_equal(des.credits[0].sum(axis=0), des.flows[0].sum(axis=0))
    np.testing.assert_array_equal(des.segment_flows[0].sum(axis=0), des.flows[0].sum(axis=0))


# -- DES vs the fast engine with word of mouth, arrivals, segments and calendar events -------------

COUPLED = {
    "stages": [
        {"name": "aware"},
        {"name": "considering"},
        {"name": "cart"},
        {"name": "customer", "converted": True, "purchase": True, "advocate": True},
        {"name": "lost", "absorbing": True},
    ],
    "transitions": [
        {"from": "aware", "to": "considering", "p": 0.02},
        {"from": "considering", "to": "cart", "p": 0.1},
        {"from": "considering", "to": "lost", "p": 0.02},
        {"from": "cart", "to": "customer", "p": 0.2},
        {"from": "customer", "to": "cart", "p": 0.05},
        {"from": "customer", "to": "lost", "p": 0.01},
    ],
    "word_of_mouth": [{"from": "aware", "to": "considering", "p": 0.001, "q": 0.4}],
    "touchpoints": [
        {
            "name": "search",
            "spend": 200.0,
            "response": {"kind": "hill", "ec": 150.0, "slope": 1.2, "max_reach": 0.4},
            "adstock": {"alpha": 0.5, "l_max": 5},
            "start_day": 3,
            "end_day": 20,
            "engagement": 0.7,
            "effects": [{"from": "aware", "to": "considering", "p": 0.3}],
        },
        {
            "name": "email",
            "kind": "owned",
            "reach": 0.5,
            "engagement": 0.3,
            "cost_per_exposure": 0.01,
            "effects": [{"from": "cart", "to": "customer", "p": 0.5}],
        },
    ],
    "segments": [
        {"name": "a", "share": 0.6},
        {
            "name": "b",
            "share": 0.4,
            "transition_multiplier": 1.5,
            "effect_multiplier": 0.5,
            "word_of_mouth_multiplier": 2.0,
        },
    ],
    "events": [
        {"kind": "flight", "touchpoint": "search", "start": 8, "end": 12, "spend_multiplier": 3.0},
        {"kind": "promotion", "touchpoint": "email", "start": 15, "end": 18, "effect_multiplier": 1.5},
        {"kind": "shock", "start": 22, "move": {"from": "aware", "to": "considering", "share": 0.1}},
        {"kind": "price", "start": 25, "revenue_multiplier": 0.8, "purchase_multiplier": 1.2},
    ],
    "population": {"customers": 4_000, "days": 30, "arrivals_per_day": 40.0},
    "economics": {"revenue_per_purchase": 20.0},
}


def test_des_matches_fast_engine_with_word_of_mouth_and_calendar():
    """Means over replications agree within 4.5 standard errors of their difference."""
    model = build(COUPLED)
    assert model.is_coupled and len(model.move_day) == 1
    reps = 16
    des = jsim.simulate(model, engine="des", seed=5, reps=reps)
    fast = jsim.simulate(model, engine="fast", seed=6, reps=reps)

    def stats(res):
        occ = res.stage_occupancy[:, [5, 10, 15, 20, 25, 30]].reshape(reps, -1).astype(np.float64)
        conv = res.new_converted.sum(axis=(1, 2))[:, None]
        buys = res.purchases.sum(axis=1)[:, None]
        revenue = res.revenue.sum(axis=1)[:, None]
        deliveries = res.deliveries.sum(axis=1)
        return np.hstack([occ, conv, buys, revenue, deliveries])

    a, b = stats(des), stats(fast)
    se = np.sqrt(a.var(axis=0, ddof=1) / reps + b.var(axis=0, ddof=1) / reps)
    live = se > 0
    assert live.sum() > 30
    assert_close(a.mean(axis=0)[live], b.mean(axis=0)[live], se[live], what="DES - fast")
    # both engines count arrivals with the same named stream: identical draws for the same seed
    one = jsim.simulate(model, engine="des", seed=5)
    np.testing.assert_array_equal(one.arrivals, jsim.simulate(model, engine="fast", seed=5).arrivals)


# -- calendar events: traces and results change exactly on their days ------------------------------

CALENDAR = {
    "stages": [
        {"name": "unaware"},
        {"name": "aware"},
        {"name": "cart"},
        {"name": "customer", "absorbing": True, "converted": True, "purchase": True},
        {"name": "lost", "absorbing": True},
    ],
    "transitions": [{"from": "aware", "to": "lost", "p": 0.01}, {"from": "cart", "to": "lost", "p": 0.02}],
    "touchpoints": [
        {
            "name": "tv",
            "spend": 100.0,
            "response": {"kind": "exponential", "lam": 0.002},
            "effects": [{"from": "unaware", "to": "aware", "p": 0.2}],
        },
        {"name": "site", "kind": "owned", "reach": 0.5, "effects": [{"from": "aware", "to": "cart", "p": 0.1}]},
        {"name": "checkout", "kind": "owned", "reach": 1.0, "effects": [{"from": "cart", "to": "customer", "p": 0.3}]},
    ],
    "events": [
        {"kind": "flight", "touchpoint": "tv", "start": 5, "end": 8, "spend_multiplier": 0.0},
        {
            "kind": "shock",
            "name": "checkout outage",
            "touchpoint": "checkout",
            "start": 10,
            "end": 12,
            "reach_multiplier": 0.0,
        },
        {"kind": "promotion", "touchpoint": "site", "start": 20, "end": 22, "effect_multiplier": 0.0},
    ],
    "population": {"customers": 20_000, "days": 30},
}


def des_result(model, seed: int) -> SimulationResult:
    """One DES replication run directly on ``SeedSequence(seed)``, as a result (R = 1)."""
    return SimulationResult.from_runs(model, "des", seed, [DesEngine().run(model, np.random.SeedSequence(seed))])


def test_calendar_events_change_results_exactly_on_their_days():
    model = build(CALENDAR)
    res = des_result(model, 4)
    daily = res.moves_by_source[0]  # (T+1, n_sources) moves per day and source
    tv, site, checkout = (model.source_names.index(n) for n in ("tv", "site", "checkout"))
    for k, first, last in ((tv, 5, 8), (checkout, 10, 12), (site, 20, 22)):
        assert np.all(daily[first : last + 1, k] == 0), model.source_names[k]
        assert daily[first - 1, k] > 0 and daily[last + 1, k] > 0, model.source_names[k]
    # the carts pile up during the outage and convert once checkout is back
    assert daily[13, checkout] > 2 * daily[9, checkout]
    trace = res.calendar
    assert (4.0, "spend", "tv", "100 -> 0") in trace and (8.0, "spend", "tv", "0 -> 100") in trace
    assert (9.0, "reach", "checkout", "1 -> 0") in trace and (12.0, "reach", "checkout", "0 -> 1") in trace
    assert (19.0, "effect", "site", "1 -> 0") in trace and (22.0, "effect", "site", "0 -> 1") in trace
    assert [e[0] for e in trace] == sorted(e[0] for e in trace)


# -- service desks ----------------------------------------------------------------------------


def support(agents: int, **service) -> dict:
    """Customers contact support (5% a day); a served contact makes half of them happy."""
    svc = {
        "agents": agents,
        "service_time": {"mean": 0.5},
        "patience": {"mean": 2.0},
        "abandon_effects": [{"from": "customer", "to": "lost", "p": 0.2}],
        "wait_loss_per_hour": 0.05,
    }
    svc.update(service)
    return {
        "stages": [{"name": "customer"}, {"name": "happy", "converted": True}, {"name": "lost", "absorbing": True}],
        "transitions": [{"from": "customer", "to": "lost", "p": 0.005}, {"from": "happy", "to": "customer", "p": 0.05}],
        "touchpoints": [
            {
                "name": "support",
                "kind": "owned",
                "reach": 0.05,
                "effects": [{"from": "customer", "to": "happy", "p": 0.5}],
                "service": svc,
            }
        ],
        "population": {"customers": 3_000, "days": 20},
    }


def desk_summary(res, name: str = "support") -> dict:
    """Replication 0 of a DES result's service ``name``: its waits, timeline and day arrays, and the
    moves by each of its outcome sources (``served_moves`` ... are (S, S) credits)."""
    rec = res.service[name]
    waits, timeline = rec.waits[0], rec.timeline[0]
    credits = {
        kind: res.credits[0, res.model.source_names.index(f"{name}:{kind}")]
        for kind in ("served", "abandoned", "lost_waiting")
    }
    return dict(
        n_requests=int(rec.requests[0].sum()),
        n_served=int(rec.served[0].sum()),
        n_abandoned=int(rec.abandoned[0].sum()),
        waits_served=waits.wait[waits.outcome == 0],
        waits_abandoned=waits.wait[waits.outcome == 1],
        requests=rec.requests[0],
        utilisation=rec.utilisation[0],
        times=timeline.times,
        queue_length=timeline.queue_length,
        n_busy=timeline.n_busy,
        n_scheduled=timeline.n_scheduled,
        served_moves=credits["served"],
        abandon_moves=credits["abandoned"],
        wait_loss_moves=credits["lost_waiting"],
    )


def test_more_agents_mean_shorter_waits_fewer_abandonments_and_less_loss():
    few = desk_summary(des_result(build(support(1)), 8))
    many = desk_summary(des_result(build(support(10)), 8))
    for rec in (few, many):
        assert rec["n_requests"] > 1000
        assert len(rec["waits_served"]) == rec["n_served"] and len(rec["waits_abandoned"]) == rec["n_abandoned"]
        assert np.all(rec["waits_served"] >= 0) and np.all(rec["waits_abandoned"] > 0)
        util = rec["utilisation"][1:]
        assert np.all((util > 0) & (util <= 1 + 1e-12))
        np.testing.assert_array_equal(rec["times"], np.sort(rec["times"]))
        assert rec["queue_length"].min() >= 0
    # one agent serves 48 contacts a day against ~150 requests: overloaded; ten agents are not
    assert few["utilisation"][1:].mean() > 0.9 > 0.5 > many["utilisation"][1:].mean()
    assert few["n_abandoned"] > 5 * max(many["n_abandoned"], 10)
    assert few["wait_loss_moves"].sum() > 3 * max(many["wait_loss_moves"].sum(), 5)
    assert few["abandon_moves"].sum() > 3 * max(many["abandon_moves"].sum(), 5)
    assert few["waits_served"].mean() > 5 * many["waits_served"].mean()
    assert many["served_moves"].sum() > 2 * few["served_moves"].sum()


def test_service_moves_are_credited_to_the_touchpoint():
    model = build(support(2))
    res = des_result(model, 9)
    rec = desk_summary(res)
    moves = rec["served_moves"] + rec["abandon_moves"] + rec["wait_loss_moves"]
    # the service is the touchpoint's only way to act: every other move is organic
    assert model.source_names == ("organic", "support:served", "support:abandoned", "support:lost_waiting")
    np.testing.assert_array_equal(res.flows[0].sum(axis=0), res.credits[0, 0] + moves)
    s = model.stage_index
    assert moves[s["customer"], s["happy"]] == rec["served_moves"].sum()
    assert rec["wait_loss_moves"][s["customer"], s["lost"]] == rec["wait_loss_moves"].sum() > 0
    # requests are the service touchpoint's deliveries (one request at a time per customer)
    np.testing.assert_array_equal(res.deliveries[0, :, 0], rec["requests"])
    # every request was served, abandoned, or is still queueing at the end
    assert rec["n_requests"] == rec["n_served"] + rec["n_abandoned"] + rec["queue_length"][-1]


def test_capacity_event_calls_set_agents_at_its_start():
    data = support(6)
    data["events"] = [{"kind": "capacity", "touchpoint": "support", "start": 10, "end": 12, "agents": 0}]
    res = des_result(build(data), 10)
    assert [e for e in res.calendar if e[1] == "capacity"] == [
        (9.0, "capacity", "support", "6 -> 0"),
        (12.0, "capacity", "support", "0 -> 6"),
    ]
    rec = desk_summary(res)
    t, sched, busy, queue = rec["times"], rec["n_scheduled"], rec["n_busy"], rec["queue_length"]
    closed = (t >= 9.0) & (t < 12.0)
    assert np.all(sched[closed] == 0) and np.all(sched[(t > 1) & (t < 9.0)] == 6) and sched[t >= 12.0][0] == 6
    # nobody starts service while nobody is on duty: busy agents only finish (no preemption)
    idx = np.flatnonzero(closed)
    assert np.all(busy[idx[1:]] <= busy[idx[1:] - 1])
    assert queue[idx].mean() > 5 * queue[(t > 1) & (t < 9.0)].mean()
    assert rec["utilisation"][11] == rec["utilisation"][12] == 0.0


# -- seeds ------------------------------------------------------------------------------------

SEEDED = copy.deepcopy(COUPLED)
SEEDED["population"] = {"customers": 1_500, "days": 20, "arrivals_per_day": 20.0}
SEEDED["touchpoints"].append(
    support(1, patience={"mean": 0.5})["touchpoints"][0]
    | {"targets": ["cart"], "effects": [{"from": "cart", "to": "customer", "p": 0.5}]}
)
SEEDED["touchpoints"][-1]["service"] = dict(
    SEEDED["touchpoints"][-1]["service"], abandon_effects=[{"from": "cart", "to": "lost", "p": 0.2}]
)


def flat(run) -> dict:
    """Every array of a DES Run (service records and the calendar trace included), by name."""
    arrays = {
        k: np.asarray(getattr(run, k))
        for k in (
            "occupancy",
            "occupancy_start",
            "arrivals",
            "moves",
            "segment_flows",
            "new_converted",
            "deliveries",
            "engagements",
            "cost",
            "shares",
        )
    }
    for rec in run.services:
        for k in ("requests", "served", "abandoned", "queue", "utilisation", "mean_wait"):
            arrays[f"service/{rec.name}/{k}"] = getattr(rec, k)
        for part in ("waits", "timeline"):
            for k, v in getattr(rec, part)[0]._asdict().items():
                arrays[f"service/{rec.name}/{part}/{k}"] = np.asarray(v)
    arrays["calendar"] = np.array([repr(tuple(e)) for e in run.calendar])
    return arrays


def assert_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
        assert a[name].tobytes() == b[name].tobytes(), name


FRESH = """
import sys
import numpy as np
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
import test_des as td
from jsim.engine.des import DesEngine
np.savez(sys.argv[1], **td.flat(DesEngine().run(td.build(td.SEEDED), np.random.SeedSequence(42))))
"""


def test_same_seed_is_bit_identical_in_process_and_in_a_fresh_process(tmp_path):
    model = build(SEEDED)
    a = flat(DesEngine().run(model, np.random.SeedSequence(42)))
    b = flat(DesEngine().run(model, np.random.SeedSequence(42)))
    assert a["service/support/requests"].sum() > 50 and a["service/support/abandoned"].sum() > 0
    assert_identical(a, b)
    path = tmp_path / "fresh.npz"
    subprocess.run(
        [sys.executable, "-c", FRESH.format(root=str(ROOT), tests=str(ROOT / "tests")), str(path)],
        check=True,
        cwd=tmp_path,
    )
    with np.load(path) as fresh:
        assert_identical(a, {k: fresh[k] for k in fresh.files})


def test_different_seeds_differ():
    model = build(SEEDED)
    a = DesEngine().run(model, np.random.SeedSequence(1))
    b = DesEngine().run(model, np.random.SeedSequence(2))
    for name in ("occupancy", "moves", "arrivals", "deliveries"):
        assert not np.array_equal(getattr(a, name), getattr(b, name)), name
    served = [(w.wait[w.outcome == 0]) for w in (a.services[0].waits[0], b.services[0].waits[0])]
    assert not np.array_equal(*served)


# -- entry points -----------------------------------------------------------------------------


def test_simulate_and_cli_run_the_des_engine(tmp_path):
    model = build(support(2))
    res = jsim.simulate(model, engine="des", seed=3, reps=2)
    assert res.engine == "des" and res.occupancy.shape == (2, 21, 1, 3)
    rec = res.service["support"]
    n_requests = rec.requests.sum(axis=1)
    assert rec.resolution == "event" and len(n_requests) == 2 and n_requests[0] != n_requests[1]
    assert res.occupancy.dtype == np.int64 and (res.occupancy.sum(axis=(2, 3)) == 3_000).all()
    path = tmp_path / "support.toml"
    path.write_text(SUPPORT_TOML)
    from jsim.cli import main

    run = CliRunner().invoke(
        main, ["run", str(path), "--engine", "des", "--days", "5", "--quiet", "--out", str(tmp_path / "out")]
    )
    assert run.exit_code == 0, run.output
    assert (tmp_path / "out" / "daily.csv").exists()


SUPPORT_TOML = """
[population]
customers = 500
[[stages]]
name = "customer"
[[stages]]
name = "happy"
converted = true
[[stages]]
name = "lost"
absorbing = true
[[touchpoints]]
name = "support"
kind = "owned"
reach = 0.1
effects = [{ from = "customer", to = "happy", p = 0.5 }]
service = { agents = 1, service_time = { mean = 0.5 }, patience = { mean = 1.0 } }
"""
