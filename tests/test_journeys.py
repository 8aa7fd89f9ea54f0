"""Traced journeys (exposure-level stepper) are draws from the same process as the engines."""

from __future__ import annotations

import copy

import numpy as np
from conftest import assert_close, build
from test_kernels import KERNEL_SCENARIO

import jsim

K = 40_000


def no_arrivals(data: dict) -> dict:
    data = copy.deepcopy(data)
    data["population"]["arrivals_per_day"] = 0.0
    return data


def check_final_distribution(model, result):
    """Traced customers' day-T stages against the expected-value run started from their own day-0 cells."""
    j = result.journeys
    final = j.final_stage()
    x0 = np.zeros_like(model.initial, dtype=np.float64)
    np.add.at(x0, (j.start_segment, j.start_stage), 1.0)
    from jsim.kernels import mean_field_arrays

    # given the word-of-mouth share path the customers are independent: the expected-value
    # propagation from their own start cells, under that path, is their exact expected final state
    shares = result.journeys.shares
    expected = (
        mean_field_arrays(model, x0=x0, arrivals=np.zeros(model.n_segments), shares=shares)[0].occupancy[-1].sum(axis=0)
    )
    counts = np.bincount(final, minlength=model.n_stages)
    p = expected / j.n_customers
    assert_close(counts, expected, np.sqrt(j.n_customers * p * (1 - p)), what="traced final stages")


def test_traced_journeys_match_the_model_without_word_of_mouth():
    data = no_arrivals(KERNEL_SCENARIO)
    data["word_of_mouth"] = []
    model = build(data)
    result = jsim.simulate(model, seed=11, journeys=K)
    check_final_distribution(model, result)


def test_traced_journeys_engagement_and_consistency():
    data = no_arrivals(KERNEL_SCENARIO)
    data["word_of_mouth"] = []
    model = build(data)
    j = jsim.simulate(model, seed=12, journeys=5000).journeys
    rec, time = j.records, j.time
    cust, day, event, src = rec[:, 0], rec[:, 1], rec[:, 2], rec[:, 3]
    assert np.all((time > day - 1 - 1e-12) & (time <= day))
    assert np.all(np.diff(cust) >= 0)
    # moves chain up: each move starts where the previous one (or the start) left the customer
    moves = rec[event == 1]
    for c in np.unique(moves[:, 0])[:500]:
        mv = moves[moves[:, 0] == c]
        assert mv[0, 5] == j.start_stage[c]
        assert np.all(mv[1:, 5] == mv[:-1, 6])
        assert np.all(np.diff(mv[:, 1]) >= 1)  # at most one move a day
    # engagement rate of the 'flight' touchpoint (engagement 0.5) within binomial SE
    flight = 1 + model.touchpoint_index["flight"]
    exp_rows = rec[(event == 0) & (src == flight)]
    n = len(exp_rows)
    assert n > 500
    assert_close(exp_rows[:, 4].sum(), 0.5 * n, np.sqrt(n * 0.25), what="engaged flight exposures")
    # the silent touchpoint never delivers
    assert not np.any(src[event == 0] == 1 + model.touchpoint_index["silent"])


def test_traced_journeys_follow_the_runs_word_of_mouth_shares():
    model = build(no_arrivals(KERNEL_SCENARIO))
    result = jsim.simulate(model, engine="mean-field", journeys=K, seed=5)
    check_final_distribution(model, result)
    # and the fast engine's own share path: same check, shares differ only by noise
    result = jsim.simulate(model, seed=6, journeys=K)
    check_final_distribution(model, result)


def test_journeys_are_reproducible():
    model = build(no_arrivals(KERNEL_SCENARIO))
    a = jsim.simulate(model, seed=3, journeys=300).journeys
    b = jsim.simulate(model, seed=3, journeys=300).journeys
    np.testing.assert_array_equal(a.records, b.records)
    np.testing.assert_array_equal(a.time, b.time)


def test_journeys_do_not_depend_on_the_number_of_replications():
    """The journeys come from the seed's named child "journeys", not from a child after the replications."""
    model = build(no_arrivals(KERNEL_SCENARIO))
    one = jsim.simulate(model, seed=3, reps=1, journeys=200).journeys
    three = jsim.simulate(model, seed=3, reps=3, journeys=200).journeys
    np.testing.assert_array_equal(one.records[:, [0, 1, 2, 3, 4]], three.records[:, [0, 1, 2, 3, 4]])
    assert one.start_stage.tolist() == three.start_stage.tolist()


def test_traced_moves_name_their_source():
    model = build(no_arrivals(KERNEL_SCENARIO))
    j = jsim.simulate(model, seed=4, journeys=500).journeys
    rows = j.rows()
    moves = [r for r in rows if r[3] == "move"]
    assert moves and all(r[9] in model.source_names for r in moves)
    assert all(r[9] == "" for r in rows if r[3] == "exposure")
    assert {r[4] for r in moves} <= set(model.clock_names)
    assert any(r[9].startswith("wom:") for r in moves)
