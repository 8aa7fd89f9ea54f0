"""Every command's terminal tables keep each number whole in a narrow terminal (numbers never folded)."""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = str(ROOT / "scenarios" / "support_understaffed.toml")
TEACHING = str(ROOT / "scenarios" / "teaching.toml")
NUMBER = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?%?")


def _render(render, width: int) -> str:
    buf = io.StringIO()
    render(Console(file=buf, width=width, force_terminal=False, color_system=None))
    return buf.getvalue()


def _numbers(text: str) -> Counter:
    return Counter(NUMBER.findall(text))


def _sweep(render_target):
    from jsim.report.sweep import render_sweep
    from jsim.runner import sweep_scenario

    result, _ = sweep_scenario(
        SUPPORT,
        ["touchpoints.support_chat.service.agents=1:3:3"],
        ["new_customers", "sources.support_chat:abandoned.moves"],
        engine="mean-field",
        customers=3000,
    )
    return lambda console: render_sweep(result, console)


def _sensitivity(render_target):
    from jsim.report.sensitivity import render_sensitivity
    from jsim.runner import sensitivity_scenario

    result, _ = sensitivity_scenario(
        SUPPORT,
        ["touchpoints.support_chat.service.agents=1:4", "economics.margin=0.2:0.4"],
        ["new_customers", "net_profit"],
        method="oat",
        customers=3000,
    )
    return lambda console: render_sensitivity(result, console)


def _attribution(render_target):
    from jsim.analysis.attribution import attribute
    from jsim.io.paths import PathTable
    from jsim.report.attribution import render_attribution

    table = PathTable.from_paths(
        [("search_brand_campaign", "email_newsletter"), ("social_video_ads",), ("email_newsletter",)],
        [1234.0, 56.0, 789.0],
        value=[123456.78, 5600.0, 78900.5],
        nulls=[10000.0, 2000.0, 300.0],
    )
    result = attribute(table)
    return lambda console: render_attribution(result, console)


def _optimise(render_target):
    from jsim.optimise.objectives import ScenarioObjective
    from jsim.optimise.study import optimise_scenario
    from jsim.report import render_report
    from jsim.scenario import load_scenario

    obj = ScenarioObjective(load_scenario(TEACHING), 1500.0, customers=2000)
    report = optimise_scenario(obj, n_trials=8, compare_reps=2)
    return lambda console: render_report(report, console)


@pytest.mark.parametrize("build", [_sweep, _sensitivity, _attribution, _optimise], ids=lambda f: f.__name__[1:])
def test_numbers_stay_whole_in_a_narrow_terminal(build):
    render = build(None)
    wide, narrow = _render(render, 400), _render(render, 50)
    missing = _numbers(wide) - _numbers(narrow)
    assert not missing, f"numbers broken at 50 columns: {sorted(missing)[:10]}"
    assert "e+" not in narrow.replace("e+0 ", "")  # money never in scientific notation
