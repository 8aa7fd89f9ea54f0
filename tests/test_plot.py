"""Plot data is right; the renderer writes a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import build

from jsim.engine import simulate
from jsim.plot import get_funnel_info, plot_funnel

ROOT = Path(__file__).resolve().parents[1]


def test_funnel_info_and_png(tmp_path):
    model = build(
        {
            "stages": [{"name": "lead"}, {"name": "customer", "converted": True, "absorbing": True}],
            "transitions": [{"from": "lead", "to": "customer", "p": 0.1}],
            "population": {"customers": 2000, "days": 20, "arrivals_per_day": 10},
        }
    )
    result = simulate(model, seed=4, reps=3)
    info = get_funnel_info(result)
    assert info.occupancy.shape == (21, 2)
    np.testing.assert_allclose(info.occupancy.sum(axis=1), result.stage_occupancy.mean(axis=0).sum(axis=1))
    total = 2000 + 10 * np.arange(21)  # approx: arrivals are Poisson
    assert np.all(np.abs(info.occupancy.sum(axis=1) - total) < 6 * np.sqrt(10 * np.arange(21) + 1))
    assert info.converted_share[0] == 0 and np.all(np.diff(info.converted_share) > -0.01)
    prospects = 2000 + result.arrivals.sum(axis=(1, 2))  # nobody starts converted here
    np.testing.assert_allclose(
        info.converted_share[-1], (result.new_converted[:, 1:].sum(axis=(1, 2)) / prospects).mean(), rtol=1e-12
    )
    assert (
        info.low is not None and np.all(info.low <= info.converted_share) and np.all(info.converted_share <= info.high)
    )
    plot_funnel(result, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_funnel_info_marks_flights_and_small_stages(tmp_path):
    from jsim.runner import prepare

    _, model, _ = prepare(ROOT / "scenarios" / "webshop.toml", customers=5000)
    result = simulate(model, seed=0, reps=1, engine="mean-field")
    info = get_funnel_info(result)
    assert set(info.flights) == {("tv", 60, 87), ("influencer", 30, 59)}  # the scenario's start_day..end_day
    small = {info.stages[s] for s in np.flatnonzero(info.small)}
    assert {"cart", "customer"} <= small and "unaware" not in small
    assert not any(info.small[info.absorbing])
    plot_funnel(result, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0


def test_tangent_stays_within_the_plotted_spend_and_ticks_are_plain():
    from jsim.io.numbers import fmt_number as plain_number
    from jsim.plot.optimise import tangent_segment

    xs, ys = tangent_segment(np.linspace(0, 1000, 11), 950.0, 10.0, 0.5)
    assert xs[0] == 700.0 and xs[1] == 1000.0  # clipped at the right end of the curve
    assert ys[1] - ys[0] == 0.5 * 300.0
    assert tangent_segment([0, 1], 0.5, 1.0, float("nan")) is None
    assert [plain_number(x) for x in (12500.0, 2500.0, 0.0108531, 1e6)] == ["12,500", "2,500", "0.01085", "1,000,000"]
