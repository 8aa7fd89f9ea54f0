"""Fuzzing: mutated bundled scenarios never crash jsim (issue "Hardening", item 11).

Each example takes a bundled scenario (``scenarios/*.toml``), applies one to three mutations
(delete a key, swap a value's type, a non-finite or huge number, an unknown name, a cycle, a long
list, a duplicate name, an empty list or table, a long string, deep nesting), writes it back as
TOML or YAML and runs ``jsim validate`` and a tiny ``jsim run`` in process. The contract:

- each command exits 0 or 2, never 1 (a runtime failure) and never with a traceback;
- exit 2 prints exactly one ``error:`` message;
- ``validate`` and ``run`` agree: validate 2 implies run 2, validate 0 implies run 0 or a
  refusal to use too much memory;
- a run that succeeds writes no NaN or infinity into any file, ``summary.json`` parses, and the
  customers are conserved: on each day the stages of ``daily.csv`` hold the day-0 customers
  plus the arrivals so far;
- no example takes longer than :data:`TIME_LIMIT` seconds (a Python-level hang raises
  :class:`Hang`; a hang inside compiled code, which no signal interrupts, ends the whole test
  process after :data:`HARD_LIMIT` seconds with faulthandler's traceback of every thread).

Examples: ``JSIM_FUZZ_EXAMPLES`` (default 400, derandomized so ``make test`` is reproducible);
``make fuzz`` runs 3000 with a random seed. The mutation functions are plain functions of a
:class:`Chooser`, so ``/work/fuzz-findings/sweep.py``-style scripts can draw them from a numpy
generator instead of hypothesis.
"""

from __future__ import annotations

import copy
import csv
import datetime
import faulthandler
import json
import math
import os
import resource
import signal
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, event, given, note, settings
from hypothesis import strategies as st

from jsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = {p.stem: tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "scenarios").glob("*.toml"))}
ENGINES = ("fast", "mean-field", "des")

#: seconds one example (validate + run) may take before it fails as a hang
TIME_LIMIT = int(os.environ.get("JSIM_FUZZ_TIME_LIMIT", "30"))
#: seconds after which a hang that no signal interrupts ends the test process (faulthandler)
HARD_LIMIT = 4 * TIME_LIMIT
#: the memory limit handed to jsim (read by its memory estimate; ignored by versions without one)
MEMORY_LIMIT = "1G"
#: address-space limit of the test process while fuzzing, so a wrong memory estimate fails fast
#: with MemoryError instead of taking the machine's memory
ADDRESS_SPACE = 8 * 2**30

EXAMPLES = int(os.environ.get("JSIM_FUZZ_EXAMPLES", "400"))
#: a numerical warning inside jsim (an overflow, a division by zero) fails the example: outputs must not
#: come from overflowing arithmetic
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

DERANDOMIZE = os.environ.get("JSIM_FUZZ_RANDOM", "") == ""

NASTY_NUMBERS = (
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -1e308,
    2**63,
    2**63 - 1,
    10**30,
    -(10**30),
    -1,
    -0.5,
    0,
    0.0,
    -0.0,
    5e-324,
    1e-300,
)
#: absurd sizes (more people than on earth, per day): a run must refuse them, not start an endless computation
HUGE_SIZES = (10**12, 2**53, 2**62, 2**63 - 1, 10**30)
UNKNOWN = "no_such_name"


class Hang(BaseException):
    """An example ran longer than :data:`TIME_LIMIT` (BaseException: no ``except Exception`` in jsim hides it)."""


class FuzzFailure(AssertionError):
    """A broken contract; ``kind`` is a short class for grouping (exit code, exception type, first line)."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}\n{detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


# --- choosers: where the random choices come from ------------------------------------------------


class Chooser:
    """Random choices for the mutations; subclasses draw from hypothesis or from a numpy generator."""

    def pick(self, seq):
        raise NotImplementedError

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError


class DataChooser(Chooser):
    """Choices drawn from hypothesis' ``data()`` (they shrink)."""

    def __init__(self, data):
        self.data = data

    def pick(self, seq):
        return self.data.draw(st.sampled_from(list(seq)))

    def integer(self, lo, hi):
        return self.data.draw(st.integers(lo, hi))


class RngChooser(Chooser):
    """Choices drawn from a numpy ``Generator`` (for sweeps without hypothesis)."""

    def __init__(self, rng):
        self.rng = rng

    def pick(self, seq):
        seq = list(seq)
        return seq[int(self.rng.integers(len(seq)))]

    def integer(self, lo, hi):
        return int(self.rng.integers(lo, hi + 1))


# --- paths into a nested document ----------------------------------------------------------------


def walk(obj, path=(), depth: int = 12):
    """Every (path, value) below ``obj`` (not ``obj`` itself) down to ``depth`` levels; a path is a tuple of keys
    and indices. (Bundled scenarios are 5 levels deep; the limit keeps deeply nested mutants cheap.)"""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        yield (*path, k), v
        if depth > 1:
            yield from walk(v, (*path, k), depth - 1)


def get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def put(doc, path, value):
    get(doc, path[:-1])[path[-1]] = value


def show(path) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path) or "."


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _named(doc) -> dict[str, list]:
    """Top-level lists of tables with a ``name`` (stages, touchpoints, segments, events)."""
    return {
        k: v
        for k, v in doc.items()
        if isinstance(v, list) and v and all(isinstance(x, dict) and isinstance(x.get("name"), str) for x in v)
    }


def _names(doc) -> set[str]:
    return {x["name"] for items in _named(doc).values() for x in items}


def _stage_names(doc) -> list[str]:
    stages = doc.get("stages")
    if not isinstance(stages, list):
        return []
    return [s["name"] for s in stages if isinstance(s, dict) and isinstance(s.get("name"), str)]


# --- mutations: each changes ``doc`` in place and returns what it did ----------------------------


def delete_key(doc, ch):
    paths = [p for p, _ in walk(doc)]
    path = ch.pick(paths)
    del get(doc, path[:-1])[path[-1]]
    return f"delete {show(path)}"


def _other_types(v):
    if isinstance(v, bool):
        return ["true", 1, [v], {"value": v}]
    if _is_number(v):
        return [str(v), [v], {"value": v}, True]
    if isinstance(v, str):
        return [1, 0.5, [v], {"name": v}, False]
    if isinstance(v, list):
        return [0, "list", {"0": v[0]} if v else {}, True]
    if isinstance(v, dict):
        return [1, "table", [v], False]
    return [1, "x"]


def swap_type(doc, ch):
    path = ch.pick([p for p, _ in walk(doc)])
    new = ch.pick(_other_types(get(doc, path)))
    put(doc, path, copy.deepcopy(new))
    return f"swap type {show(path)} -> {new!r:.40}"


def bad_number(doc, ch):
    paths = [p for p, v in walk(doc) if _is_number(v)]
    if not paths:
        return swap_type(doc, ch)
    path = ch.pick(paths)
    new = ch.pick(NASTY_NUMBERS)
    put(doc, path, new)
    return f"number {show(path)} = {new!r}"


def scale_number(doc, ch):
    """A plausible change (most stay valid, so the run and its outputs are checked): a number scaled, or a
    value in [0, 1] set to an edge."""
    paths = [(p, v) for p, v in walk(doc) if _is_number(v)]
    if not paths:
        return swap_type(doc, ch)
    path, value = ch.pick(paths)
    if 0 <= value <= 1 and ch.integer(0, 1):
        new = ch.pick([0.0, 1.0, 1e-12, 0.999999])
    else:
        new = value * ch.pick([0, 0.5, 0.9, 1.1, 2, 10])
        new = int(round(new)) if isinstance(value, int) else new
    put(doc, path, new)
    return f"number {show(path)} = {new!r} (was {value!r})"


def huge_size(doc, ch):
    pop = doc.get("population")
    if not isinstance(pop, dict):
        pop = doc["population"] = {}
    key = ch.pick(["customers", "days", "arrivals_per_day"])
    pop[key] = ch.pick(HUGE_SIZES)
    return f"population.{key} = {pop[key]}"


def unknown_ref(doc, ch):
    """A reference (or a defining name, or a key such as ``initial.<stage>``) to a name that does not exist."""
    names = _names(doc)
    value_paths = [p for p, v in walk(doc) if isinstance(v, str) and v in names]
    key_paths = [p for p, _ in walk(doc) if isinstance(p[-1], str) and p[-1] in names]
    if not value_paths and not key_paths:
        return rename_key(doc, ch)
    new = ch.pick([UNKNOWN, UNKNOWN, "", " ", "Unaware"])
    if value_paths and (not key_paths or ch.integer(0, 3)):
        path = ch.pick(value_paths)
        put(doc, path, new)
        return f"reference {show(path)} = {new!r}"
    path = ch.pick(key_paths)
    parent = get(doc, path[:-1])
    parent[new] = parent.pop(path[-1])
    return f"key {show(path)} renamed to {new!r}"


def rename_key(doc, ch):
    paths = [p for p, _ in walk(doc) if isinstance(p[-1], str)]
    path = ch.pick(paths)
    parent = get(doc, path[:-1])
    new = ch.pick([UNKNOWN, path[-1].upper(), path[-1] + "s", ""])
    parent[new] = parent.pop(path[-1])
    return f"key {show(path)} renamed to {new!r}"


def cycle(doc, ch):
    """Moves back and forth, self-loops, moves out of absorbing stages, a word-of-mouth self-loop."""
    stages = _stage_names(doc)
    if not stages:
        return swap_type(doc, ch)
    a, b = ch.pick(stages), ch.pick(stages)
    absorbing = [
        s["name"]
        for s in doc["stages"]
        if isinstance(s, dict) and isinstance(s.get("name"), str) and s.get("absorbing") is True
    ]
    kind = ch.pick(["back-and-forth", "self-loop", "out-of-absorbing", "word-of-mouth", "effect"])
    if not isinstance(doc.get("transitions"), list):
        doc["transitions"] = []
    moves = doc["transitions"]
    p = ch.pick([0.5, 1.0, 0.999999])
    if kind == "back-and-forth":
        moves += [{"from": a, "to": b, "p": p}, {"from": b, "to": a, "p": p}]
    elif kind == "self-loop":
        moves.append({"from": a, "to": a, "p": p})
    elif kind == "out-of-absorbing" and absorbing:
        a = ch.pick(absorbing)
        moves.append({"from": a, "to": b, "p": p})
    elif kind == "word-of-mouth":
        wom = doc.setdefault("word_of_mouth", [])
        if isinstance(wom, list):
            wom.append({"from": a, "to": a, "p": p, "q": ch.pick([1.0, 1e6])})
    else:
        tps = [t for t in doc.get("touchpoints", []) if isinstance(t, dict) and isinstance(t.get("effects"), list)]
        if tps:
            ch.pick(tps)["effects"] += [{"from": a, "to": b, "p": p}, {"from": b, "to": a, "p": p}]
    return f"cycle {kind} {a} <-> {b}"


def long_list(doc, ch):
    """Repeat a list entry many times (duplicates), or add many distinct stages in a chain."""
    n = ch.pick([50, 300, 3000])
    if ch.integer(0, 2) == 0 and _stage_names(doc):
        stages, first = doc["stages"], _stage_names(doc)[0]
        new = [f"s{i}" for i in range(n)]
        stages += [{"name": s} for s in new]
        if not isinstance(doc.get("transitions"), list):
            doc["transitions"] = []
        chain = [first, *new]
        doc["transitions"] += [{"from": x, "to": y, "p": 0.5} for x, y in zip(chain, chain[1:])]
        return f"{n} more stages in a chain"
    paths = [p for p, v in walk(doc) if isinstance(v, list) and v]
    if not paths:
        return empty(doc, ch)
    path = ch.pick(paths)
    items = get(doc, path)
    items += [copy.deepcopy(items[ch.integer(0, len(items) - 1)]) for _ in range(n)]
    return f"{show(path)} repeated to {len(items)} entries"


def duplicate_name(doc, ch):
    named = _named(doc)
    if not named:
        return unknown_ref(doc, ch)
    key = ch.pick(sorted(named))
    items = named[key]
    i, j = ch.integer(0, len(items) - 1), ch.integer(0, len(items) - 1)
    if i == j:
        items.append(copy.deepcopy(items[i]))
        return f"{key}[{i}] appended again"
    items[j]["name"] = items[i]["name"]
    return f"{key}[{j}].name = {items[i]['name']!r} (as {key}[{i}])"


def empty(doc, ch):
    paths = [p for p, v in walk(doc) if isinstance(v, (list, dict))]
    if not paths or ch.integer(0, 5) == 0:
        key = ch.pick(list(doc) or ["stages"])
        doc[key] = ch.pick([[], {}])
        return f"top-level {key} emptied"
    path = ch.pick(paths)
    put(doc, path, type(get(doc, path))())
    return f"{show(path)} emptied"


def long_string(doc, ch):
    paths = [p for p, v in walk(doc) if isinstance(v, str)]
    if not paths:
        return swap_type(doc, ch)
    path = ch.pick(paths)
    new = ch.pick(["x" * 1000, "x" * 100_000, "", "é😀\t\"'\\ \u202e", "a\nb", "\x7f\x01"])
    put(doc, path, new)
    return f"string {show(path)} = {new!r:.30} ({len(new)} chars)"


class Nested:
    """A value nested ``depth`` lists deep (``[[[...1...]]]``), written as text by the writers (no recursion)."""

    def __init__(self, depth: int):
        self.depth = depth

    def text(self) -> str:
        return "[" * self.depth + "1" + "]" * self.depth

    def __repr__(self):
        return f"Nested({self.depth})"


def deep_nesting(doc, ch):
    path = ch.pick([p for p, _ in walk(doc)])
    depth = ch.pick([50, 500, 5000, 100_000])
    put(doc, path, Nested(depth))
    return f"{show(path)} nested {depth} deep"


def null_value(doc, ch):
    """``null`` (YAML only; a TOML file leaves the key out)."""
    path = ch.pick([p for p, _ in walk(doc)])
    put(doc, path, None)
    return f"{show(path)} = null"


MUTATIONS = (
    scale_number,
    scale_number,
    scale_number,
    delete_key,
    swap_type,
    bad_number,
    bad_number,
    huge_size,
    unknown_ref,
    rename_key,
    cycle,
    long_list,
    duplicate_name,
    empty,
    long_string,
    deep_nesting,
    null_value,
)


def mutate(doc, ch, n: int | None = None) -> list[str]:
    """Apply ``n`` (default 1-3, chosen, 1 most often) mutations to ``doc`` in place; return their descriptions."""
    done = []
    for _ in range(ch.pick([1, 1, 2, 3]) if n is None else n):
        if not doc:
            doc["name"] = "empty"
        done.append(ch.pick(MUTATIONS)(doc, ch))
    return done


# --- writing TOML (tomli_w is not a dependency) and YAML ---------------------------------------


def _toml_str(s) -> str:
    out = []
    for c in str(s):
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, Nested):
        return v.text()
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_toml_str(k)} = {_toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    raise TypeError(f"no TOML for {type(v).__name__}")


def toml_dumps(doc: dict) -> str:
    """TOML text of ``doc``: one ``key = value`` line per top-level key, inline tables below (``None`` left out)."""
    return "".join(f"{_toml_str(k)} = {_toml_value(v)}\n" for k, v in doc.items() if v is not None)


def yaml_dumps(doc) -> str:
    nested = {}

    def swap(v):
        if isinstance(v, Nested):
            nested[f"NESTED_{len(nested)}_"] = v.text()
            return list(nested)[-1]
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        if isinstance(v, list):
            return [swap(x) for x in v]
        return v

    text = yaml.safe_dump(swap(doc), sort_keys=False, allow_unicode=True, width=2**30)
    for key, value in nested.items():
        text = text.replace(key, value)
    return text


def alias_bomb(levels: int, width: int = 9) -> str:
    """A "billion laughs" YAML scenario: ``width ** levels`` strings from a few lines of aliases."""
    lines = ['l0: &l0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    lines += ["name: bomb", "stages:", "  - name: a", f"    description: *l{levels}", "  - name: b"]
    return "\n".join(lines) + "\n"


def deep_yaml(depth: int) -> str:
    return "name: deep\nstages: " + "[" * depth + "]" * depth + "\n"


# --- running jsim and checking the contract -------------------------------------------------------


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def _call(args) -> tuple[int, str]:
    """Run ``jsim ARGS`` in process; return (exit code, stdout+stderr); a non-SystemExit exception fails."""
    result = CliRunner().invoke(main, args, env={"JSIM_MEMORY_LIMIT": MEMORY_LIMIT}, catch_exceptions=True)
    output = result.output
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(*result.exc_info))
        msg = _first_line(str(exc))
        raise FuzzFailure(f"{args[0]} raised {type(exc).__name__}: {msg[:120]}", tb[-3000:])
    code = result.exit_code
    if code not in (0, 2):
        raise FuzzFailure(f"{args[0]} exit {code}: {_first_line(output)[:120]}", output[-3000:])
    if "Traceback" in output:
        raise FuzzFailure(f"{args[0]} printed a traceback", output[-3000:])
    if code == 2:
        errors = [ln for ln in output.splitlines() if ln.startswith("error:")]
        if len(errors) != 1:
            raise FuzzFailure(f"{args[0]} exit 2 with {len(errors)} 'error:' lines", output[-3000:])
    return code, output


def _finite(text: str, name: str) -> None:
    if name.endswith(".json"):

        def constant(token):
            raise FuzzFailure(f"{token} in a JSON output", name)

        json.loads(text, parse_constant=constant)
        return
    for row in csv.reader(text.splitlines()):
        for cell in row:
            try:
                x = float(cell)
            except ValueError:
                continue
            if not math.isfinite(x):
                raise FuzzFailure(f"non-finite {cell!r} in a CSV output", name)


def check_outputs(out: Path) -> None:
    """No NaN/infinity in any file; summary.json parses; customers conserved in daily.csv."""
    files = sorted(p for p in out.iterdir() if p.suffix in (".csv", ".json"))
    for f in files:
        _finite(f.read_text(encoding="utf-8"), f.name)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    stages = list(summary["stages_at_horizon"])
    rows = list(csv.reader((out / "daily.csv").read_text(encoding="utf-8").splitlines()))
    header, rows = rows[0], rows[1:]
    if header[1 : 1 + len(stages)] != stages or header[1 + len(stages)] != "arrivals":
        raise FuzzFailure("daily.csv columns are not day, stages, arrivals", repr(header[:5]))
    tol_cells = 1e-6 * (len(stages) + 2)
    total = None
    for row in rows:
        held = sum(float(x) for x in row[1 : 1 + len(stages)])
        arrivals = float(row[1 + len(stages)])
        total = held if total is None else total + arrivals
        if not abs(held - total) <= tol_cells + 1e-9 * abs(total):
            raise FuzzFailure(
                "customers not conserved in daily.csv", f"day {row[0]}: stages hold {held}, expected {total}"
            )
    day0 = summary["customers_day0"]
    held0 = sum(float(x) for x in rows[0][1 : 1 + len(stages)])
    if not abs(held0 - day0) <= tol_cells + 1e-9 * abs(day0):
        raise FuzzFailure("day-0 stages of daily.csv differ from customers_day0", f"{rows[0]} vs {day0}")
    customers = summary["metrics"]["customers"]["mean"]
    if customers is None or not abs(customers - total) <= tol_cells + 1e-9 * abs(total):
        raise FuzzFailure("metrics.customers differs from day 0 + arrivals", f"{customers} vs {total}")


def _alarm(signum, frame):
    raise Hang(f"example took longer than {TIME_LIMIT} s")


def check_case(path: Path, engine: str, sizes: str, out: Path) -> str:
    """``validate`` then ``run`` one scenario file; raise :class:`FuzzFailure` on a broken contract.

    ``sizes``: ``tiny`` (``--customers 200 --days 8``) or ``customers`` (``--days 8`` and the file's
    population, which a memory estimate may refuse).
    """
    flags = {"tiny": ["--customers", "200", "--days", "8"], "customers": ["--days", "8"]}[sizes]
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIME_LIMIT)
    faulthandler.dump_traceback_later(HARD_LIMIT, exit=True)
    try:
        vcode, voutput = _call(["validate", str(path), *flags])  # checked as the run below is
        args = [
            "run",
            str(path),
            *flags,
            "--reps",
            "1",
            "--seed",
            "1",
            "--quiet",
            "--out",
            str(out),
            "--engine",
            engine,
        ]
        rcode, routput = _call(args)
    except Hang as exc:
        raise FuzzFailure(f"hang: {exc}") from None
    except RecursionError as exc:  # raised outside click (the formatting of a message, say)
        raise FuzzFailure(f"RecursionError: {_first_line(str(exc))}") from None
    finally:
        signal.alarm(0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, old)
    if vcode == 2 and rcode != 2:
        raise FuzzFailure(f"validate rejects the file but run exits {rcode}", voutput[-2000:])
    if vcode == 0 and rcode == 2 and "memory" not in routput.lower():
        raise FuzzFailure(
            f"validate accepts the file but run rejects it: {_first_line(routput)[:120]}", routput[-2000:]
        )
    if rcode == 0:
        check_outputs(out)
    return f"validate {vcode}, run {rcode}"


class _AddressSpace:
    """Lower the soft address-space limit of this process for a while (a wrong memory estimate then fails fast)."""

    def __enter__(self):
        self.old = resource.getrlimit(resource.RLIMIT_AS)
        soft, hard = self.old
        if soft == resource.RLIM_INFINITY or soft > ADDRESS_SPACE:
            resource.setrlimit(resource.RLIMIT_AS, (min(ADDRESS_SPACE, hard) if hard > 0 else ADDRESS_SPACE, hard))
        return self

    def __exit__(self, *exc):
        resource.setrlimit(resource.RLIMIT_AS, self.old)


def write_case(doc, fmt: str, folder: Path) -> Path:
    path = folder / f"scenario.{fmt}"
    path.write_text(toml_dumps(doc) if fmt == "toml" else yaml_dumps(doc), encoding="utf-8")
    return path


# --- the tests --------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    database=None,
    print_blob=True,
    # shrinking a failure of a whole-CLI example takes minutes; the notes name the mutations instead
    phases=[Phase.explicit, Phase.reuse, Phase.generate]
    + ([Phase.shrink] if os.environ.get("JSIM_FUZZ_SHRINK") else []),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_toml_writer_round_trips(name):
    assert tomllib.loads(toml_dumps(SCENARIOS[name])) == SCENARIOS[name]


def test_toml_writer_non_finite_and_huge():
    doc = {"a": math.inf, "b": -math.inf, "c": 2**63, "d": {"e": ['\x7f\n"', 1e308]}, "f": None}
    back = tomllib.loads(toml_dumps({"n": math.nan, **doc}))
    assert math.isnan(back.pop("n"))
    assert back == {k: v for k, v in doc.items() if v is not None}


@FUZZ
@given(data=st.data())
def test_mutated_scenarios(data, tmp_path_factory):
    ch = DataChooser(data)
    name = ch.pick(sorted(SCENARIOS))
    doc = copy.deepcopy(SCENARIOS[name])
    done = mutate(doc, ch)
    fmt = ch.pick(["toml", "toml", "toml", "yaml"])
    engine = ch.pick(ENGINES)
    sizes = ch.pick(["tiny", "tiny", "tiny", "customers"])
    if sizes == "customers" and engine == "fast":
        engine = ch.pick(["mean-field", "des"])  # the fast engine's time (not memory) grows with the population
    folder = tmp_path_factory.mktemp("fuzz")
    path = write_case(doc, fmt, folder)
    note(f"{name}.toml mutated: {done}; {fmt}; engine {engine}; sizes {sizes}")
    with _AddressSpace():
        event(check_case(path, engine, sizes, folder / "out"))  # "validate 0, run 0": --hypothesis-show-statistics


@settings(FUZZ, max_examples=max(10, EXAMPLES // 20))
@given(kind=st.sampled_from(["bomb", "deep"]), size=st.integers(1, 9), depth=st.sampled_from([10, 100, 1000, 10_000]))
def test_hostile_yaml(kind, size, depth, tmp_path_factory):
    folder = tmp_path_factory.mktemp("yaml")
    path = folder / "scenario.yaml"
    path.write_text(alias_bomb(size) if kind == "bomb" else deep_yaml(depth), encoding="utf-8")
    with _AddressSpace():
        check_case(path, "fast", "tiny", folder / "out")


def test_yaml_only_types(tmp_path):
    """YAML can say what TOML cannot: dates, integer keys, null; each is an input error."""
    for value in (datetime.date(2024, 1, 1), None, {1: "a"}):
        doc = copy.deepcopy(SCENARIOS["minimal"])
        doc["transitions"][0]["p"] = value
        folder = tmp_path / str(abs(hash(repr(value))))
        folder.mkdir()
        check_case(write_case(doc, "yaml", folder), "fast", "tiny", folder / "out")
