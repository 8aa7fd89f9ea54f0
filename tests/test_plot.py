"""Plot data is right; the renderer writes a PNG."""

from __future__ import annotations

import numpy as np
from conftest import build

from jsim.engine import simulate
from jsim.plot import get_funnel_info, plot_funnel


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
