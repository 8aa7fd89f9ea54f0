"""Malformed scenarios only ever raise ScenarioError with a located, useful message."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jsim.errors import ScenarioError
from jsim.model import compile_scenario
from jsim.scenario import parse_scenario

VALID = {
    "stages": [
        {"name": "unaware"},
        {"name": "aware"},
        {"name": "customer", "converted": True, "purchase": True},
        {"name": "lost", "absorbing": True},
    ],
    "transitions": [{"from": "aware", "to": "lost", "p": 0.01}],
    "touchpoints": [
        {
            "name": "search",
            "spend": 100.0,
            "response": {"kind": "hill", "ec": 50.0, "slope": 1.5},
            "adstock": {"alpha": 0.3},
            "effects": [{"from": "unaware", "to": "aware", "p": 0.05}],
        },
        {
            "name": "email",
            "kind": "owned",
            "reach": 0.14,
            "engagement": 0.2,
            "effects": [{"from": "aware", "to": "customer", "p": 0.02}],
        },
    ],
    "segments": [{"name": "a", "share": 0.4}, {"name": "b", "share": 0.6, "touchpoint_multipliers": {"email": 2.0}}],
    "population": {"customers": 100, "days": 10, "arrivals_per_day": 3},
    "word_of_mouth": [{"from": "unaware", "to": "aware", "p": 0.001, "q": 0.1, "advocates": ["customer"]}],
    "economics": {"revenue_per_purchase": 50.0, "margin": 0.3},
}

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(VALID) if p]


def test_valid_base_compiles():
    compile_scenario(parse_scenario(VALID))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=junk, mode=st.sampled_from(["replace", "delete", "extra"]))
def test_malformed_scenarios_raise_scenario_error(path, value, mode):
    data = copy.deepcopy(VALID)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if mode == "replace":
        parent[last] = value
    elif mode == "delete":
        del parent[last]
    elif isinstance(parent, dict):
        parent[f"{last}x"] = value
    try:
        compile_scenario(parse_scenario(data))
    except ScenarioError as exc:
        text = str(exc)
        assert text and "Traceback" not in text
        for issue in exc.issues:
            assert issue.message, exc.issues
    # valid mutations are fine too: they must simply compile


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["transitions"][0].update(p=1.5), "transitions[0].p: must be within [0, 1], got 1.5"),
        (lambda d: d["transitions"][0].update(to="lots"), "did you mean 'lost'?"),
        (lambda d: d["touchpoints"][0].update(spnd=3), "unknown key 'spnd'"),
        (lambda d: d["touchpoints"][0]["response"].update(kind="hil"), "did you mean 'hill'?"),
        (lambda d: d["segments"][0].update(share=0.5), "shares must sum to 1, got 1.1"),
        (
            lambda d: d["transitions"].append({"from": "aware", "to": "customer", "p": 0.995}),
            "outgoing daily probabilities of stage 'aware' must total <= 1",
        ),
        (lambda d: d["touchpoints"][1]["effects"][0].update(p=0.6), "after the largest segment multiplier 2"),
        (
            lambda d: d["transitions"].append({"from": "lost", "to": "aware", "p": 0.1}),
            "never leave an absorbing stage",
        ),
        (lambda d: d["population"].update(initial={"unaware": 0.5, "awre": 0.5}), "population.initial.awre"),
        (lambda d: d["touchpoints"][0].pop("spend"), "no spend or budget"),
    ],
)
def test_error_messages_name_location_rule_value_fix(mutate, expected):
    data = copy.deepcopy(VALID)
    mutate(data)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert expected in str(info.value)


def test_steep_hill_curve_compiles_without_overflow():
    data = copy.deepcopy(VALID)
    data["touchpoints"][0]["response"] = {"kind": "hill", "ec": 50.0, "slope": 182.0}
    model = compile_scenario(parse_scenario(data))
    reach = model.delivery[1:, 0]
    assert ((reach >= 0) & (reach <= 1)).all()
    assert reach[-1] == 1.0  # adstocked spend 100 > ec: a step response is saturated


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda d: d.setdefault("events", []).append(
                {"kind": "flight", "start": 3, "touchpoint": "serch", "spend_multiplier": 2}
            ),
            "did you mean 'search'?",
        ),
        (
            lambda d: d.setdefault("events", []).append(
                {"kind": "capacity", "start": 3, "touchpoint": "search", "agents": 2}
            ),
            "has no service block",
        ),
        (
            lambda d: d.setdefault("events", []).append(
                {"kind": "flight", "start": 3, "touchpoint": "search", "agents": 2}
            ),
            "a flight event takes ['spend_multiplier'], got ['agents']",
        ),
        (
            lambda d: d.setdefault("events", []).append(
                {"kind": "shock", "start": 3, "move": {"from": "lost", "to": "aware", "share": 0.1}}
            ),
            "never leave an absorbing stage",
        ),
        (
            lambda d: d.setdefault("events", []).append(
                {"kind": "promotion", "start": 5, "end": 2, "effect_multiplier": 2}
            ),
            "start <= end must hold, got start=5, end=2",
        ),
        (
            lambda d: d["touchpoints"][1].update(
                service={"agents": 2, "service_time": {"dist": "lognormal", "mean": 1}}
            ),
            "needs sd",
        ),
        (
            lambda d: d["touchpoints"][1].update(service={"agents": 2, "service_time": {"mean": 1}, "open": [17, 9]}),
            "needs from < to",
        ),
        (
            lambda d: d["touchpoints"][1].update(
                service={"agents": 2, "service_time": {"mean": 1}, "loss_stage": "lots"}
            ),
            "did you mean 'lost'?",
        ),
        (lambda d: d.update(seasonality={"weekly": [1, 1, 1]}), "seasonality.weekly"),
    ],
)
def test_calendar_and_service_errors(mutate, expected):
    data = copy.deepcopy(VALID)
    mutate(data)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert expected in str(info.value)


def test_calendar_multipliers_that_break_probabilities_are_rejected():
    data = copy.deepcopy(VALID)
    data["events"] = [{"kind": "promotion", "start": 2, "end": 4, "touchpoint": "email", "effect_multiplier": 60}]
    with pytest.raises(ScenarioError) as info:
        compile_scenario(parse_scenario(data))
    assert "email" in str(info.value) and "on day 2" in str(info.value)


def test_initial_counts_set_the_population():
    data = {
        "stages": [{"name": "a"}, {"name": "b"}, {"name": "c", "absorbing": True}],
        "segments": [{"name": "x", "share": 0.3}, {"name": "y", "share": 0.7}],
        "population": {"initial": {"a": 701, "b": 299}, "days": 5},
    }
    model = compile_scenario(parse_scenario(data))
    assert model.n_customers == 1000
    assert model.initial.sum(axis=0).tolist() == [701, 299, 0]  # per-stage counts exactly as given
    assert compile_scenario(parse_scenario(data), customers=100).initial.sum(axis=0).tolist() == [70, 30, 0]
    data["population"]["customers"] = 500
    with pytest.raises(ScenarioError, match="initial counts sum to 1000 customers but customers = 500"):
        parse_scenario(data)
    data["population"] = {"initial": {"a": 0.5, "b": 0.6}}
    with pytest.raises(ScenarioError, match="must sum to 1 \\(or be whole-number counts\\), got 1.1"):
        parse_scenario(data)
