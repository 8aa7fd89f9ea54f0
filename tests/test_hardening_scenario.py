"""Hardening of the scenario layer: finite bounded numbers, size limits, warnings, validate == run."""

from __future__ import annotations

import copy
import math
import types
import typing

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from jsim.cli import main
from jsim.errors import ScenarioError
from jsim.model import compile_scenario
from jsim.scenario import load_scenario, parse_scenario, scenario_warnings
from jsim.scenario.limits import MAX_FILE_BYTES
from jsim.scenario.models import Scenario

#: A valid scenario that sets every number field of every model at least once.
FULL = {
    "name": "full",
    "stages": [
        {"name": "unaware"},
        {"name": "aware"},
        {"name": "customer", "converted": True, "purchase": True, "value": 40.0, "advocate": True},
        {"name": "lost", "absorbing": True},
    ],
    "transitions": [{"from": "aware", "to": "lost", "p": 0.01}],
    "touchpoints": [
        {
            "name": "search",
            "spend": 100.0,
            "cost_per_exposure": 0.01,
            "response": {"kind": "hill", "ec": 50.0, "slope": 1.5, "max_reach": 0.9},
            "adstock": {"alpha": 0.3, "l_max": 5},
            "engagement": 0.5,
            "fatigue": {"halflife": 3.0, "strength": 0.1},
            "frequency_cap": {"exposures": 2.0, "days": 7.0},
            "effects": [{"from": "unaware", "to": "aware", "p": 0.05}],
        },
        {
            "name": "tv",
            "budget": 1000.0,
            "response": {"kind": "exponential", "lam": 0.01, "max_reach": 0.5},
            "effects": [{"from": "unaware", "to": "aware", "p": 0.02}],
        },
        {
            "name": "chat",
            "kind": "owned",
            "reach": 0.1,
            "effects": [{"from": "aware", "to": "customer", "p": 0.1}],
            "service": {
                "agents": 2,
                "service_time": {"dist": "lognormal", "mean": 0.25, "sd": 0.1},
                "patience": {"dist": "gamma", "mean": 0.5, "sd": 0.2},
                "open": [9.0, 17.0],
                "abandon_effects": [{"from": "aware", "to": "lost", "p": 0.1}],
                "wait_loss_per_hour": 0.01,
            },
        },
    ],
    "segments": [
        {
            "name": "a",
            "share": 0.4,
            "effect_multiplier": 1.0,
            "transition_multiplier": 1.0,
            "word_of_mouth_multiplier": 1.0,
        },
        {"name": "b", "share": 0.6, "touchpoint_multipliers": {"chat": 1.5}},
    ],
    "population": {
        "customers": 100,
        "days": 20,
        "initial": {"unaware": 0.9, "aware": 0.1},
        "arrivals_per_day": 3.0,
    },
    "word_of_mouth": [{"from": "unaware", "to": "aware", "p": 0.001, "q": 0.1}],
    "economics": {"revenue_per_purchase": 50.0, "margin": 0.3},
    "teach": {"sliders": ["economics.margin"], "ranges": {"economics.margin": [0.0, 1.0, 0.01]}},
    "seasonality": {"weekly": [1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.2], "yearly": [1.0] * 12},
    "events": [
        {"kind": "flight", "start": 2, "end": 4, "touchpoint": "search", "spend_multiplier": 2.0},
        {"kind": "promotion", "start": 3, "end": 5, "effect_multiplier": 1.2},
        {"kind": "price", "start": 6, "end": 8, "revenue_multiplier": 0.8, "purchase_multiplier": 1.1},
        {"kind": "shock", "start": 9, "touchpoint": "tv", "reach_multiplier": 0.5, "word_of_mouth_multiplier": 2.0},
        {"kind": "shock", "start": 10, "move": {"from": "unaware", "to": "aware", "share": 0.05}},
    ],
}


def _options(annotation) -> list:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _options(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for a in typing.get_args(annotation) for t in _options(a)]
    return [annotation]


def _float_paths(model, data, prefix=()):
    """Yield ``(path, model, field)`` of every float in ``data`` as the schema of ``model`` types it."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key not in data:
            continue
        yield from _typed(field.annotation, data[key], prefix + (key,), (model, name))


def _typed(annotation, value, path, owner):
    for option in _options(annotation):
        origin = typing.get_origin(option)
        if option is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            yield path, owner
        elif isinstance(option, type) and issubclass(option, BaseModel) and isinstance(value, dict):
            kind = option.model_fields.get("kind")
            literal = typing.get_args(kind.annotation) if kind is not None else ()
            if not literal or len(literal) > 1 or value.get("kind") == literal[0]:
                yield from _float_paths(option, value, path)
        elif origin in (list, tuple) and isinstance(value, list):
            args = typing.get_args(option)
            for i, item in enumerate(value):
                item_type = args[i] if origin is tuple and len(args) > i and args[-1] is not Ellipsis else args[0]
                yield from _typed(item_type, item, path + (i,), owner)
        elif origin is dict and isinstance(value, dict):
            for k, item in value.items():
                yield from _typed(typing.get_args(option)[1], item, path + (k,), owner)


def _schema_float_fields(model, seen=None) -> set:
    """Every (model, field name) of the schema whose type allows a float, anywhere inside."""
    seen = set() if seen is None else seen
    out = set()
    if model in seen:
        return out
    seen.add(model)

    def visit(annotation, owner):
        for option in _options(annotation):
            if option is float:
                out.add(owner)
            elif isinstance(option, type) and issubclass(option, BaseModel):
                out.update(_schema_float_fields(option, seen))
            elif typing.get_origin(option) in (list, tuple, dict):
                for arg in typing.get_args(option):
                    if arg is not Ellipsis:
                        visit(arg, owner)

    for name, field in model.model_fields.items():
        visit(field.annotation, (model, name))
    return out


FLOAT_PATHS = list(_float_paths(Scenario, FULL))


def _loc(path) -> str:
    """How a location names ``path``'s last step: ``.key`` or ``[i]``."""
    last = path[-1]
    return f"[{last}]" if isinstance(last, int) else f".{last}"


def test_full_scenario_is_valid_and_covers_every_float_field():
    compile_scenario(parse_scenario(FULL))
    covered = {owner for _, owner in FLOAT_PATHS}
    missing = _schema_float_fields(Scenario) - covered
    assert not missing, f"FULL sets no value for {sorted((m.__name__, f) for m, f in missing)}"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1e308], ids=["nan", "inf", "-inf", "1e308"])
@pytest.mark.parametrize("path", [p for p, _ in FLOAT_PATHS], ids=lambda p: ".".join(map(str, p)))
def test_every_float_field_refuses_non_finite_and_huge_numbers(path, bad):
    data = copy.deepcopy(FULL)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = bad
    with pytest.raises(ScenarioError) as info:
        compile_scenario(parse_scenario(data))
    locations = [issue.location for issue in info.value.issues]
    assert any(_loc(path) in loc for loc in locations), (path, str(info.value))
    if math.isnan(bad) or math.isinf(bad):
        assert "must be a finite number" in str(info.value), str(info.value)
        assert "use a value" not in str(info.value)


@pytest.mark.parametrize("extreme", [0.0, 5e-324, 1e-300, 1e3, 1e12], ids=["0", "5e-324", "1e-300", "1e3", "1e12"])
def test_extreme_legal_numbers_compile_to_finite_arrays_or_fail_with_a_location(extreme):
    """Every float field at an extreme value: a located ScenarioError, or a model of finite arrays."""
    import numpy as np

    for path, _ in FLOAT_PATHS:
        data = copy.deepcopy(FULL)
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = extreme
        try:
            model = compile_scenario(parse_scenario(data))
        except ScenarioError as exc:
            assert all(issue.location for issue in exc.issues), (path, str(exc))
            continue
        for name, value in vars(model).items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and name not in ("reach",):
                assert not np.isnan(value).any(), (path, name)
        assert all(np.isfinite([sv.service_mean, sv.open_from, sv.open_to]).all() for sv in model.services)
        assert all(sv.service_mean > 0 for sv in model.services), path


@pytest.mark.parametrize(
    "section, key, value, expected",
    [
        ("population", "customers", 2**63, "population.customers: must be <= 1e12"),
        ("population", "customers", 10**30, "population.customers: must be <= 1e12"),
        ("population", "arrivals_per_day", 1e12, "population.arrivals_per_day: must be <= 1e9"),
        ("economics", "revenue_per_purchase", 1e308, "economics.revenue_per_purchase: must be <= 1e12"),
    ],
)
def test_huge_numbers_are_refused_with_the_limit(section, key, value, expected):
    data = copy.deepcopy(FULL)
    data[section][key] = value
    with pytest.raises(ScenarioError, match=None) as info:
        parse_scenario(data)
    assert expected in str(info.value)
    assert "docs/model.md" in str(info.value)


def test_customers_override_beyond_int64_is_a_scenario_error():
    sc = parse_scenario(FULL)
    with pytest.raises(ScenarioError) as info:
        compile_scenario(sc, customers=10**20)
    assert info.value.issues[0].location == "customers"


def test_products_of_calendar_multipliers_stay_finite():
    data = copy.deepcopy(FULL)
    data["events"] = [
        {"kind": "price", "name": f"sale {k}", "start": 2, "end": 5, "revenue_multiplier": 1000.0} for k in range(3)
    ]
    sc = parse_scenario(data)  # each multiplier is within its range ...
    with pytest.raises(ScenarioError) as info:  # ... but together they exceed the product limit
        compile_scenario(sc)
    text = str(info.value)
    assert "revenue per purchase must multiply to at most 10000" in text
    assert "on day 2" in text and "events[0] (sale 0)" in text
    data["seasonality"] = {"weekly": [1000.0] * 7, "yearly": [1000.0] * 12}
    data["events"] = []
    with pytest.raises(ScenarioError, match="must multiply to at most"):
        compile_scenario(parse_scenario(data))


@pytest.mark.parametrize(
    "section, make, expected",
    [
        ("stages", lambda n: [{"name": f"s{i}"} for i in range(n)], "stages: at most 100 stages, got 3,000"),
        (
            "touchpoints",
            lambda n: [{"name": f"t{i}", "reach": 0.1} for i in range(n)],
            "touchpoints: at most 200 touchpoints",
        ),
        ("segments", lambda n: [{"name": f"g{i}", "share": 0.0} for i in range(n)], "segments: at most 100 segments"),
        (
            "word_of_mouth",
            lambda n: [{"from": "unaware", "to": "aware", "p": 0.0, "q": 0.0}] * n,
            "at most 1,000 word-of-mouth rules",
        ),
        (
            "events",
            lambda n: [{"kind": "promotion", "start": 1, "effect_multiplier": 1.0}] * n,
            "events: at most 10,000 calendar events",
        ),
    ],
)
def test_list_sizes_are_limited(section, make, expected):
    data = copy.deepcopy(FULL)
    data[section] = make({"stages": 3000, "events": 10_001, "word_of_mouth": 1001}.get(section, 201))
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert expected in str(info.value)
    assert info.value.issues[0].fix  # says how to stay within the limit


def test_segments_times_touchpoints_times_stages_squared_is_limited():
    data = copy.deepcopy(FULL)
    data["stages"] += [{"name": f"s{i}"} for i in range(96)]
    data["touchpoints"] += [{"name": f"t{i}", "reach": 0.1} for i in range(197)]
    data["segments"] = [{"name": f"g{i}", "share": 0.01} for i in range(100)]
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert "segments x touchpoints x stages^2 must be at most 20,000,000" in str(info.value)
    assert "100 x 200 x 100^2 = 200,000,000" in str(info.value)


BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
stages: *i
"""


def test_yaml_alias_bomb_is_refused_while_parsing(tmp_path):
    import tracemalloc

    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    tracemalloc.start()
    try:
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "a YAML document may hold at most 1,000,000 values" in str(info.value)
    assert peak < 50e6
    res = CliRunner().invoke(main, ["validate", str(path)])
    assert res.exit_code == 2 and len(res.output) < 1000


def test_yaml_aliases_within_the_limit_still_load(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(
        "stages:\n  - &s {name: aware}\n  - {name: lost, absorbing: true}\n"
        "transitions:\n  - {from: aware, to: lost, p: 0.2}\n"
    )
    assert load_scenario(path).stages[0].name == "aware"


@pytest.mark.parametrize("suffix", ["toml", "yaml"])
def test_file_size_is_limited(tmp_path, suffix):
    path = tmp_path / f"big.{suffix}"
    path.write_text("# " + "x" * MAX_FILE_BYTES + "\n")
    with pytest.raises(ScenarioError, match="a scenario file must be at most 10,000,000 bytes"):
        load_scenario(path)


@pytest.mark.parametrize("suffix, text", [("yaml", "stages: " + "[" * 50_000), ("toml", "a = " + "[" * 50_000)])
def test_deep_nesting_is_a_scenario_error(tmp_path, suffix, text):
    path = tmp_path / f"deep.{suffix}"
    path.write_text(text)
    with pytest.raises(ScenarioError):
        load_scenario(path)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["touchpoints"][0].update({"x" * 5000: 1}),
        lambda d: d["touchpoints"][0].update(kind="y" * 5000),
        lambda d: d["touchpoints"][0].update(kind=list(range(100_000))),
        lambda d: d["segments"][1].update(touchpoint_multipliers={"z" * 5000: 1.0}),
        lambda d: d["population"].update(initial={"w" * 5000: 1.0}),
        lambda d: d["events"][0].update(touchpoint="v" * 5000),
        lambda d: d["stages"].append({"name": "u" * 5000}),
        lambda d: d["events"][0].update(name="n" * 5000, spend_multiplier=2e3),
    ],
)
def test_long_values_are_cut_in_messages(mutate):
    data = copy.deepcopy(FULL)
    mutate(data)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    for issue in info.value.issues:
        assert len(str(issue)) < 600, str(issue)[:2000]
    assert "characters)" in str(info.value) or "entries)" in str(info.value)


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda d: d["touchpoints"][2]["service"].update(patience=0.2),
            "write it as a table: patience = { mean = ..., dist = ..., sd = ... }",
        ),
        (lambda d: d["touchpoints"][0].update(response=0.2), 'response = { kind = "hill", ec = ..., slope = ...'),
        (lambda d: d["segments"][1].update(touchpoint_multipliers=2), "touchpoint_multipliers = { <touchpoint> = ..."),
        (lambda d: d["transitions"][0].update(p=math.nan), "transitions[0].p: must be a finite number, got nan"),
        (lambda d: d.update(seasonality={"weekly": [1.0] * 3}), "needs exactly 7 multipliers, got 3"),
        (
            lambda d: d["population"].update(initial={"unaware": 0.2, "aware": 80}),
            "did you mean shares { unaware = 0.2, aware = 0.8 }?",
        ),
        (
            lambda d: d["population"].update(initial={"unaware": 20, "aware": 80}, customers=5000),
            "did you mean shares { unaware = 0.2, aware = 0.8 }?",
        ),
    ],
)
def test_messages_name_table_keys_and_likely_intent(mutate, expected):
    data = copy.deepcopy(FULL)
    mutate(data)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert expected in str(info.value)


# --- warnings --------------------------------------------------------------------------------


def _warnings(mutate, days=None):
    data = copy.deepcopy(FULL)
    mutate(data)
    sc = parse_scenario(data)
    compile_scenario(sc)
    return scenario_warnings(sc, days=days)


def test_a_valid_scenario_has_no_warnings():
    assert _warnings(lambda d: None) == []


def test_events_after_the_horizon_warn():
    late = {"kind": "price", "name": "xmas", "start": 25, "revenue_multiplier": 0.9}
    (w,) = _warnings(lambda d: d["events"].append(late))
    assert w.location == "events[5] (xmas).start"
    assert "after the horizon of 20 days" in w.message
    assert _warnings(lambda d: d["events"].append(late), days=30) == []
    (w,) = _warnings(lambda d: None, days=8)[-1:]  # the shocks on days 9 and 10 fall after --days 8
    assert "(--days)" in w.message
    (w,) = _warnings(lambda d: d["touchpoints"][1].update(start_day=40))
    assert w.location == "touchpoints[1] (tv).start_day"


def test_service_time_longer_than_opening_hours_warns():
    (w,) = _warnings(lambda d: d["touchpoints"][2]["service"].update(service_time={"mean": 15}))
    assert w.location == "touchpoints[2] (chat).service.service_time.mean"
    assert "longer than the 8 hours" in w.message
    assert "did you mean 15 minutes (mean = 0.25)?" in w.fix


def test_initial_counts_that_look_like_percentages_warn():
    def mutate(d):
        d["population"].pop("customers")
        d["population"]["initial"] = {"unaware": 20, "aware": 80}

    (w,) = _warnings(mutate)
    assert w.location == "population.initial"
    assert "did you mean shares { unaware = 0.2, aware = 0.8 }?" in w.fix


# --- the command line: validate runs every check run runs ---------------------------------------


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f'"{k}" = {_toml_value(x)}' for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(float(v)) if isinstance(v, float) else str(v)


def _write(tmp_path, data, name="s.toml"):
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items()]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


CASES = {
    "valid": lambda d: None,
    "promotion x10": lambda d: d["events"].append({"kind": "promotion", "start": 1, "effect_multiplier": 10.0}),
    "purchase x100": lambda d: d["events"].append(
        {"kind": "price", "start": 1, "end": 3, "purchase_multiplier": 100.0}
    ),
    "seasonal transitions": lambda d: d.update(
        seasonality={"weekly": [200.0] * 7, "applies_to": ["transitions"]},
        transitions=[{"from": "aware", "to": "lost", "p": 0.01}],
    ),
    "products": lambda d: d["events"].extend(
        [{"kind": "flight", "start": 1, "touchpoint": "search", "spend_multiplier": 1000.0}] * 3
    ),
    "late event": lambda d: d["events"].append({"kind": "promotion", "start": 99, "effect_multiplier": 1.0}),
}


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("case", list(CASES))
def test_validate_fails_exactly_when_run_fails(tmp_path, case, strict):
    data = copy.deepcopy(FULL)
    CASES[case](data)
    path = _write(tmp_path, data)
    flags = ["--strict"] if strict else []
    runner = CliRunner()
    checked = runner.invoke(main, ["validate", *flags, str(path)])
    out = tmp_path / "out"
    ran = runner.invoke(main, ["run", *flags, "-q", "--engine", "mean-field", "-o", str(out), str(path)])
    assert checked.exit_code in (0, 2) and ran.exit_code in (0, 2), (checked.output, ran.output)
    assert (checked.exit_code == 2) == (ran.exit_code == 2), (checked.output, ran.output)
    assert (ran.exit_code == 2) == (not out.exists())
    expect_bad = case not in ("valid", "late event") or (strict and case == "late event")
    assert (checked.exit_code == 2) == expect_bad, checked.output


def test_warnings_are_printed_by_validate_and_run(tmp_path):
    data = copy.deepcopy(FULL)
    CASES["late event"](data)
    path = _write(tmp_path, data)
    runner = CliRunner()
    checked = runner.invoke(main, ["validate", str(path)])
    assert checked.exit_code == 0
    assert f"warning: {path}: events[5].start: this promotion event starts on day 99" in checked.stderr
    assert "1 warning)" in checked.stdout
    ran = runner.invoke(main, ["run", "-q", "--engine", "mean-field", str(path)])
    assert ran.exit_code == 0 and "warning: " in ran.stderr and "warning" not in ran.stdout
    strict = runner.invoke(main, ["run", "--strict", "-q", "--engine", "mean-field", str(path)])
    assert strict.exit_code == 2 and "--strict makes it an error" in strict.stderr
    assert runner.invoke(main, ["run", "-q", "--engine", "mean-field", "--days", "120", str(path)]).stderr == ""


@pytest.mark.parametrize(
    "bad", ["a\nb", "x.y", "a:b", "tv->radio", "a,b", "a=b", "t@w3", " pad", 'q"uote', "tab\there"]
)
def test_names_that_would_break_labels_flags_or_tables_are_refused(bad):
    """A name with a separator or control character names its location and the character, on one line."""
    data = {
        "stages": [{"name": bad}, {"name": "lost", "absorbing": True}],
        "transitions": [{"from": bad, "to": "lost", "p": 0.1}],
    }
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    first = info.value.issues[0]
    assert first.location.startswith("stages[0]") and "names may not hold" in first.message
    assert "\n" not in str(first) and "\t" not in str(first)


def test_names_with_spaces_digits_and_accents_are_fine():
    sc = parse_scenario({"stages": [{"name": "Kunde 2"}, {"name": "verloren-é", "absorbing": True}]})
    assert [s.name for s in sc.stages] == ["Kunde 2", "verloren-é"]


def test_validate_checks_the_calendar_over_the_horizon_run_would_use(tmp_path):
    """An event that breaks a rule on day 40 fails a 60-day check and passes a --days 30 one, like run."""
    from tests.conftest import ROOT

    text = (ROOT / "scenarios" / "teaching.toml").read_text(encoding="utf-8")
    bad = tmp_path / "late.toml"
    bad.write_text(
        text + '\n[[events]]\nkind = "promotion"\nstart = 40\nend = 41\neffect_multiplier = 1000\n', encoding="utf-8"
    )
    runner = CliRunner()
    full = runner.invoke(main, ["validate", str(bad)])
    assert full.exit_code == 2 and "day 40" in full.output, full.output
    assert runner.invoke(main, ["run", str(bad), "-q", "--customers", "100"]).exit_code == 2
    short = runner.invoke(main, ["validate", str(bad), "--days", "30"])
    assert short.exit_code == 0, short.output
    assert runner.invoke(main, ["run", str(bad), "-q", "--customers", "100", "--days", "30"]).exit_code == 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("stages: &s [{name: a}, *s]\n", "may not refer to the list or table it stands in"),
        ("stages: " + "[" * 70 + "]" * 70 + "\n", "nested too deeply"),
        ("stages: " + "{a: " * 70 + "1" + "}" * 70 + "\n", "nested too deeply"),
    ],
)
def test_recursive_or_deep_yaml_is_refused_before_it_is_built(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)
