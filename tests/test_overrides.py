"""``--set KEY=VALUE``: the same as running an edited copy of the file, and clear errors for a wrong KEY."""

from __future__ import annotations

import copy
import json
import tomllib

import pytest
import yaml
from click.testing import CliRunner

from jsim.cli import main
from jsim.errors import ScenarioError
from jsim.scenario import apply_overrides, load_scenario, parse_override
from tests.conftest import ROOT

WEBSHOP = ROOT / "scenarios" / "webshop.toml"
SUPPORT = ROOT / "scenarios" / "support_understaffed.toml"


def _named(entries, name):
    return next(e for e in entries if e.get("name") == name)


def _move(entries, src, dst):
    return next(e for e in entries if e.get("from") == src and e.get("to") == dst)


# (file, overrides, the same edit made by hand on the file's data)
EDITS = [
    (WEBSHOP, ["population.customers=3000"], lambda d: d["population"].__setitem__("customers", 3000)),
    (WEBSHOP, ["economics.margin=0.5"], lambda d: d["economics"].__setitem__("margin", 0.5)),
    (
        WEBSHOP,
        ["touchpoints.email_newsletter.engagement=0.6"],
        lambda d: _named(d["touchpoints"], "email_newsletter").__setitem__("engagement", 0.6),
    ),
    (WEBSHOP, ["stages.loyal.value=95"], lambda d: _named(d["stages"], "loyal").__setitem__("value", 95)),
    (
        WEBSHOP,
        ["touchpoints.tv.response.ec=9000"],
        lambda d: _named(d["touchpoints"], "tv")["response"].update(ec=9000),
    ),
    (
        WEBSHOP,
        ["transitions.aware->considering.p=0.02"],
        lambda d: _move(d["transitions"], "aware", "considering").__setitem__("p", 0.02),
    ),
    (
        WEBSHOP,
        ["touchpoints.search_ads.effects.aware->considering.p=0.2"],
        lambda d: _move(_named(d["touchpoints"], "search_ads")["effects"], "aware", "considering").update(p=0.2),
    ),
    (
        WEBSHOP,
        ["word_of_mouth.unaware->aware.q=0.2"],
        lambda d: _move(d["word_of_mouth"], "unaware", "aware").__setitem__("q", 0.2),
    ),
]


def _run(args, tmp_path, name):
    out = tmp_path / name
    res = CliRunner().invoke(
        main, ["run", *map(str, args), "--customers", "2000", "--days", "30", "-q", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.parametrize("path, overrides, edit", EDITS)
def test_set_gives_what_an_edited_copy_gives(tmp_path, path, overrides, edit):
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    edited = copy.deepcopy(data)
    edit(edited)
    copy_path = tmp_path / "edited.yaml"
    copy_path.write_text(yaml.safe_dump(edited), encoding="utf-8")
    assert load_scenario(path, overrides) == load_scenario(copy_path)
    a = _run([path, *(f"--set={o}" for o in overrides)], tmp_path, "set")
    b = _run([copy_path], tmp_path, "copy")
    for name in ("daily.csv", "flows.csv", "sources.csv", "touchpoints.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    sa, sb = json.loads((a / "summary.json").read_text()), json.loads((b / "summary.json").read_text())
    assert sa["metrics"] == sb["metrics"] and sa["scenario_hash"] == sb["scenario_hash"]
    assert sa["overrides"] == dict(parse_override(o) for o in overrides) and sb["overrides"] == {}


def test_set_on_services_and_segments_by_name():
    data = tomllib.loads(SUPPORT.read_text(encoding="utf-8"))
    segs = [s["name"] for s in data["segments"]]
    overrides = ["touchpoints.support_chat.service.agents=4", f"segments.{segs[0]}.share=0.5"]
    overrides.append(f"segments.{segs[1]}.share=0.5")
    sc = load_scenario(SUPPORT, overrides)
    chat = next(tp for tp in sc.touchpoints if tp.name == "support_chat")
    assert chat.service.agents == 4 and [g.share for g in sc.segments] == [0.5, 0.5]


def test_set_adds_a_move_that_the_file_does_not_have():
    sc = load_scenario(WEBSHOP, ["transitions.considering->lost.p=0.05"])
    assert any(t.from_ == "considering" and t.to == "lost" and t.p == 0.05 for t in sc.transitions)


@pytest.mark.parametrize(
    "override, message, fix",
    [
        ("population.custmers=5", "'custmers' is not a key of population", "did you mean 'customers'?"),
        ("touchpoints.emai_newsletter.engagement=0.5", "touchpoints has no entry named", "email_newsletter"),
        ("touchpoints.tv.respons.ec=1", "'respons' is not a key of touchpoints.tv", "did you mean 'response'?"),
        ("transitions.aware.p=0.1", "entries of transitions are named FROM->TO", "did you mean 'aware->"),
        ("economics.margin", "must read KEY=VALUE", "--set"),
        ("economics.margin=[1", "VALUE must be a TOML value", "a list [9, 18]"),
    ],
)
def test_a_wrong_key_is_a_clean_error(override, message, fix):
    res = CliRunner().invoke(main, ["run", str(WEBSHOP), "--set", override, "-q"])
    assert res.exit_code == 2, res.output
    (line,) = res.output.strip().splitlines()
    assert message in line and fix in line, line


def test_a_value_that_breaks_a_rule_names_the_override():
    res = CliRunner().invoke(main, ["validate", str(WEBSHOP), "--set", "economics.margin=4"])
    assert res.exit_code == 2
    assert "with --set economics.margin: economics.margin: must be within [0, 1], got 4" in res.output


def test_overrides_do_not_change_the_data_passed_in():
    data = tomllib.loads(WEBSHOP.read_text(encoding="utf-8"))
    before = copy.deepcopy(data)
    new, applied = apply_overrides(data, ["economics.margin=0.3", "economics.margin=0.2", "touchpoints.tv.kind=owned"])
    assert data == before and new["economics"]["margin"] == 0.2 and applied["touchpoints.tv.kind"] == "owned"
    with pytest.raises(ScenarioError):
        apply_overrides(data, ["nope.x=1"])


def test_optimise_resume_with_other_overrides_is_refused(tmp_path):
    scenario = ROOT / "scenarios" / "teaching.toml"
    out = tmp_path / "out"
    args = ["optimise", str(scenario), "--budget", "900", "--trials", "4", "--compare-reps", "2", "--out", str(out)]
    assert CliRunner().invoke(main, [*args, "-q"]).exit_code == 0
    res = CliRunner().invoke(main, [*args, "-q", "--resume", "--set", "economics.margin=0.5"])
    assert res.exit_code == 2 and "scenario_hash" in res.output, res.output


def test_a_key_that_stops_at_an_entry_names_its_keys():
    res = CliRunner().invoke(main, ["run", str(WEBSHOP), "--set", "stages.loyal=3", "-q"])
    assert res.exit_code == 2 and "stages.loyal is a table" in res.output and "value" in res.output


def test_overrides_never_change_the_callers_data():
    """apply_overrides copies only what lies on each KEY's path; the data read from the file stays as read."""
    import copy

    from jsim.scenario import apply_overrides, read_scenario_data

    data = read_scenario_data(ROOT / "scenarios" / "support_understaffed.toml")
    before = copy.deepcopy(data)
    changed, _ = apply_overrides(
        data,
        [
            "touchpoints.support_chat.service.agents=3",
            "transitions.aware->considering.p=0.02",
            "touchpoints.checkout.effects.cart->lost.p=0.01",
            "population.initial.aware=100",
            "economics.margin=0.4",
            "word_of_mouth.unaware->aware.q=0.2",
            ("stages.loyal.value", 70.0),
        ],
    )
    assert data == before
    assert changed != before and changed["economics"]["margin"] == 0.4
