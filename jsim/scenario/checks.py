"""Rules that span several fields of a scenario: names that must exist, totals that must not exceed 1."""

from __future__ import annotations

__all__ = ["check_scenario", "scenario_warnings", "warnings_as_error", "did_you_mean", "shorten", "show"]

import difflib
import reprlib
from collections import defaultdict
from dataclasses import replace

from ..errors import ScenarioError, ScenarioIssue
from .limits import MAX_CUSTOMERS, MAX_MODEL_CELLS
from .models import Scenario

_TOL = 1e-9
#: Longest text of a value, key or name echoed in a message.
SHOWN_CHARS = 80


def shorten(text, limit: int = SHOWN_CHARS) -> str:
    """``text`` itself, or its first ``limit`` characters, ``...`` and its length."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, SHOWN_CHARS, SHOWN_CHARS, SHOWN_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 8


def show(value, limit: int = SHOWN_CHARS) -> str:
    """A value as a message echoes it: text in quotes, numbers as written; at most about ``limit`` characters.

    Large lists and tables are never turned into text in full (a YAML alias bomb is a few bytes
    that expand to gigabytes): their first entries are shown, then ``...`` and their size.
    """
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value):,} characters)"
    text = _REPR.repr(value) if isinstance(value, (list, tuple, dict, set)) else str(value)
    if isinstance(value, (list, tuple, dict, set)) and (len(text) > limit or "..." in text):
        return f"{text[:limit]}... ({len(value):,} entries)"
    return shorten(text, limit)


def did_you_mean(word: str, choices) -> str:
    """Return ``"did you mean 'x'?"`` for the closest of ``choices``, else a list of the choices."""
    choices = [str(c) for c in choices]
    close = difflib.get_close_matches(str(word)[:200], choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean {show(close[0])}?"
    if not choices:
        return ""
    shown = ", ".join(show(c) for c in choices[:12])
    return f"choose one of {shown}" + (", ..." if len(choices) > 12 else "")


def _named(section: str, i: int, name: str | None) -> str:
    return f"{section}[{i}] ({shorten(name)})" if name else f"{section}[{i}]"


def check_scenario(sc: Scenario) -> list[ScenarioIssue]:
    """Return every cross-field problem of a field-valid scenario (empty when it is valid)."""
    issues: list[ScenarioIssue] = []
    add = lambda loc, msg, fix="": issues.append(ScenarioIssue(loc, msg, fix))

    n_seg, n_tp, n_st = max(len(sc.segments), 1), max(len(sc.touchpoints), 1), len(sc.stages)
    if n_seg * n_tp * n_st**2 > MAX_MODEL_CELLS:
        add(
            "scenario",
            f"segments x touchpoints x stages^2 must be at most {MAX_MODEL_CELLS:,} (the cells of the model's "
            f"effect arrays), got {n_seg} x {n_tp} x {n_st}^2 = {n_seg * n_tp * n_st**2:,}",
            "merge segments, touchpoints or stages",
        )
    names = [s.name for s in sc.stages]
    absorbing = {s.name for s in sc.stages if s.absorbing}
    seen: set[str] = set()
    for i, s in enumerate(sc.stages):
        if s.name in seen:
            add(f"stages[{i}].name", f"stage names must be unique, got '{s.name}' twice", "rename one of them")
        seen.add(s.name)
    if all(s.absorbing for s in sc.stages):
        add(
            "stages",
            "at least one stage must not be absorbing, but all are",
            "set absorbing = false on the entry stage",
        )

    def stage_ref(loc: str, value: str, *, leaving: bool = False) -> bool:
        if value not in seen:
            add(loc, f"must name a stage, got {show(value)}", did_you_mean(value, names))
            return False
        if leaving and value in absorbing:
            add(
                loc,
                f"customers never leave an absorbing stage, got '{value}'",
                "remove this entry or set absorbing = false on that stage",
            )
            return False
        return True

    def check_moves(entries, where: str, same_fix: str, stays: dict | None = None) -> dict[str, float]:
        """Check (from, to, p) entries; return each source stage's outgoing total.

        With ``stays`` (a dict), an entry from a stage to itself is the explicit probability of
        staying (rows of a full Markov matrix): recorded there, not counted as a move.
        """
        total: dict[str, float] = defaultdict(float)
        pairs: set[tuple[str, str]] = set()
        for k, e in enumerate(entries):
            eloc = f"{where}[{k}]"
            if stays is not None and e.from_ == e.to:
                if stage_ref(f"{eloc}.from", e.from_):
                    if e.from_ in stays:
                        add(
                            eloc,
                            f"each (from, to) pair may appear once, got '{e.from_}' -> '{e.to}' again",
                            "merge them",
                        )
                    stays[e.from_] = e.p
                continue
            if not (stage_ref(f"{eloc}.from", e.from_, leaving=True) & stage_ref(f"{eloc}.to", e.to)):
                continue
            if e.from_ == e.to:
                add(eloc, f"from and to must differ, got '{e.from_}' for both", same_fix)
                continue
            if (e.from_, e.to) in pairs:
                add(
                    eloc,
                    f"each (from, to) pair may appear once, got '{e.from_}' -> '{e.to}' again",
                    "merge the entries into one p",
                )
            pairs.add((e.from_, e.to))
            total[e.from_] += e.p
        return total

    seg_names = [g.name for g in sc.segments]
    seg_seen: set[str] = set()
    for i, g in enumerate(sc.segments):
        if g.name in seg_seen:
            add(f"segments[{i}].name", f"segment names must be unique, got '{g.name}' twice", "rename one of them")
        seg_seen.add(g.name)
    if sc.segments:
        total = sum(g.share for g in sc.segments)
        if abs(total - 1.0) > 1e-6:
            add("segments", f"shares must sum to 1, got {total:.6g}", "rescale the shares so they add up to 1")
    max_transition_mult = max([g.transition_multiplier for g in sc.segments] or [1.0])

    # baseline transitions
    stays: dict[str, float] = {}
    out_total = check_moves(sc.transitions, "transitions", "", stays=stays)
    for stage, p_stay in stays.items():
        if p_stay + out_total.get(stage, 0.0) > 1 + _TOL:
            add(
                "transitions",
                f"the row of stage '{stage}' (staying {p_stay:.6g} plus moves {out_total.get(stage, 0.0):.6g}) "
                f"must total <= 1, got {p_stay + out_total.get(stage, 0.0):.6g}",
                "lower some p values of that stage",
            )
    for stage, total in out_total.items():
        if total * max_transition_mult > 1 + _TOL:
            extra = (
                f" after the largest segment transition_multiplier {max_transition_mult:g}"
                if max_transition_mult != 1
                else ""
            )
            add(
                "transitions",
                f"outgoing daily probabilities of stage '{stage}' must total <= 1{extra}, "
                f"got {total * max_transition_mult:.6g}",
                "lower some p values of that stage",
            )

    # touchpoints
    tp_names = [tp.name for tp in sc.touchpoints]
    tp_seen: set[str] = set()
    for i, tp in enumerate(sc.touchpoints):
        loc = _named("touchpoints", i, tp.name)
        if tp.name in tp_seen:
            add(f"{loc}.name", f"touchpoint names must be unique, got '{tp.name}' twice", "rename one of them")
        tp_seen.add(tp.name)
        if tp.targets is not None:
            for k, st in enumerate(tp.targets):
                stage_ref(f"{loc}.targets[{k}]", st, leaving=True)
        if tp.segments is not None:
            for k, sg in enumerate(tp.segments):
                if sg not in seg_names:
                    add(
                        f"{loc}.segments[{k}]",
                        f"must name a segment, got '{sg}'",
                        did_you_mean(sg, seg_names) or "define it under [[segments]]",
                    )
        reached = [g for g in sc.segments if tp.segments is None or g.name in tp.segments]
        max_mult = max([g.effect_multiplier * g.touchpoint_multipliers.get(tp.name, 1.0) for g in reached] or [1.0])
        eff_total = check_moves(tp.effects, f"{loc}.effects", "an exposure that changes nothing needs no effect entry")
        for k, e in enumerate(tp.effects):
            if tp.targets is not None and e.from_ in seen and e.from_ not in tp.targets:
                add(
                    f"{loc}.effects[{k}].from",
                    f"effects must start from a targeted stage, got '{e.from_}' not in targets {show(tp.targets)}",
                    f"add '{e.from_}' to targets",
                )
        for stage, total in eff_total.items():
            if total * max_mult > 1 + _TOL:
                extra = f" after the largest segment multiplier {max_mult:g}" if max_mult != 1 else ""
                add(
                    f"{loc}.effects",
                    f"effects from stage '{stage}' must total <= 1{extra}, got {total * max_mult:.6g}",
                    "lower some p values",
                )
    for i, g in enumerate(sc.segments):
        for key in g.touchpoint_multipliers:
            if key not in tp_names:
                add(
                    f"{_named('segments', i, g.name)}.touchpoint_multipliers.{shorten(key)}",
                    f"must name a touchpoint, got {show(key)}",
                    did_you_mean(key, tp_names),
                )

    # services
    for i, tp in enumerate(sc.touchpoints):
        if tp.service is None:
            continue
        loc = f"{_named('touchpoints', i, tp.name)}.service"
        for stage, total in check_moves(
            tp.service.abandon_effects, f"{loc}.abandon_effects", "abandoning that changes nothing needs no entry"
        ).items():
            if total > 1 + _TOL:
                add(
                    f"{loc}.abandon_effects",
                    f"effects from stage '{stage}' must total <= 1, got {total:.6g}",
                    "lower some p values",
                )
        if tp.service.loss_stage is not None:
            stage_ref(f"{loc}.loss_stage", tp.service.loss_stage)
        elif tp.service.wait_loss_per_hour > 0 and not any(st.absorbing and not st.converted for st in sc.stages):
            add(
                f"{loc}.wait_loss_per_hour",
                "waiting loses customers to an absorbing stage that is not converted, but there is none",
                "add loss_stage = \"<stage>\" or an absorbing stage such as 'lost'",
            )
        if tp.service.open[1] - tp.service.open[0] < tp.service.service_time.mean / 60:
            add(
                f"{loc}.open",
                f"opening hours {list(tp.service.open)} are shorter than a minute's worth of service",
                "widen them",
            )

    # calendar events
    services = {tp.name for tp in sc.touchpoints if tp.service is not None}
    for i, ev in enumerate(sc.events):
        loc = _named("events", i, ev.name)
        if ev.touchpoint is not None and ev.touchpoint not in tp_names:
            add(
                f"{loc}.touchpoint",
                f"must name a touchpoint, got '{ev.touchpoint}'",
                did_you_mean(ev.touchpoint, tp_names),
            )
        elif ev.kind == "capacity" and ev.touchpoint not in services:
            add(
                f"{loc}.touchpoint",
                f"capacity events change a service's agents, but '{ev.touchpoint}' has no service block",
                f"add [touchpoints.service] to '{ev.touchpoint}' or name a service: "
                f"{sorted(services) or 'none defined'}",
            )
        if ev.move is not None:
            ok = stage_ref(f"{loc}.move.from", ev.move.from_, leaving=True) & stage_ref(f"{loc}.move.to", ev.move.to)
            if ok and ev.move.from_ == ev.move.to:
                add(f"{loc}.move", f"from and to must differ, got '{ev.move.from_}' for both")

    # population
    pop = sc.population
    if pop.initial is not None:
        for key in pop.initial:
            stage_ref(f"population.initial.{shorten(key)}", key)
        total = sum(pop.initial.values())
        if pop.initial_counts:
            if "customers" in pop.model_fields_set and pop.customers != int(total):
                add(
                    "population",
                    f"initial counts sum to {int(total)} customers but customers = {pop.customers}",
                    _percent_hint(pop.initial) or "drop customers (the counts set the size) or make them agree",
                )
            elif total > MAX_CUSTOMERS:
                add(
                    "population.initial",
                    f"initial counts must sum to at most {MAX_CUSTOMERS:,} customers, got {total:.6g}",
                    "give fewer customers",
                )
        elif abs(total - 1.0) > 1e-6:
            add(
                "population.initial",
                f"stage shares must sum to 1 (or be whole-number counts), got {total:.6g}",
                _percent_hint(pop.initial) or "rescale the shares so they add up to 1, or give counts of customers",
            )
    if pop.arrival_stage is not None:
        stage_ref("population.arrival_stage", pop.arrival_stage)

    # word of mouth
    advocate_default = [s.name for s in sc.stages if s.advocate]
    for i, w in enumerate(sc.word_of_mouth):
        loc = f"word_of_mouth[{i}]"
        ok = stage_ref(f"{loc}.from", w.from_, leaving=True) & stage_ref(f"{loc}.to", w.to)
        if ok and w.from_ == w.to:
            add(loc, f"from and to must differ, got '{w.from_}' for both")
        if w.advocates is None:
            if not advocate_default:
                add(
                    f"{loc}.advocates",
                    "no advocates: the rule names none and no stage has advocate = true",
                    'add advocates = ["loyal"] or mark a stage advocate = true',
                )
        else:
            for k, a in enumerate(w.advocates):
                stage_ref(f"{loc}.advocates[{k}]", a)
    return issues


def _percent_hint(initial: dict) -> str:
    """``"did you mean { aware = 0.8, ... }?"`` when ``population.initial`` looks like percentages, else ``""``.

    Percentages sum to 100, or are shares with some values above 1 (``{ unaware = 0.2, aware = 80 }``).
    """
    values = list(initial.values())
    total = sum(values)
    if abs(total - 100) <= 1e-6:
        shares = {key: v / 100 for key, v in initial.items()}
    elif any(1 < v <= 100 for v in values) and all(v <= 100 for v in values):
        shares = {key: (v / 100 if v > 1 else v) for key, v in initial.items()}
        if abs(sum(shares.values()) - 1.0) > 1e-6:
            return ""
    else:
        return ""
    shown = ", ".join(f"{shorten(key, 20)} = {v:g}" for key, v in list(shares.items())[:6])
    more = ", ..." if len(shares) > 6 else ""
    return f"these look like percentages: did you mean shares {{ {shown}{more} }}?"


def scenario_warnings(sc: Scenario, days: int | None = None) -> list[ScenarioIssue]:
    """Legal but implausible settings of a valid scenario: things that are probably not what was meant.

    Parameters
    ----------
    sc : Scenario
        A validated scenario.
    days : int, optional
        The horizon of the run, when an override (``--days``) replaces ``population.days``.

    Returns
    -------
    list of ScenarioIssue
        Empty when nothing looks wrong. ``jsim validate`` and ``jsim run`` print them as
        ``warning:`` lines; with ``--strict`` they are errors (:func:`warnings_as_error`).
    """
    issues: list[ScenarioIssue] = []
    add = lambda loc, msg, fix="": issues.append(ScenarioIssue(loc, msg, fix))
    horizon = days if days is not None else sc.population.days
    source = "--days" if days is not None else "population.days"
    for i, ev in enumerate(sc.events):
        if ev.start > horizon:
            add(
                f"{_named('events', i, ev.name)}.start",
                f"this {ev.kind} event starts on day {ev.start}, after the horizon of {horizon} days ({source}), "
                "so it changes nothing",
                f"start it on a day within [1, {horizon}] or lengthen the horizon",
            )
    for i, tp in enumerate(sc.touchpoints):
        loc = _named("touchpoints", i, tp.name)
        if tp.start_day > horizon:
            add(
                f"{loc}.start_day",
                f"the flight starts on day {tp.start_day}, after the horizon of {horizon} days ({source}), "
                "so the touchpoint never runs",
                f"start it on a day within [1, {horizon}] or lengthen the horizon",
            )
        sv = tp.service
        if sv is not None:
            hours_open = sv.open[1] - sv.open[0]
            if sv.service_time.mean > hours_open:
                minutes = sv.service_time.mean / 60
                add(
                    f"{loc}.service.service_time.mean",
                    f"one request takes {sv.service_time.mean:g} hours on average, longer than the "
                    f"{hours_open:g} hours the service is open each day",
                    f"service_time is in hours: did you mean {sv.service_time.mean:g} minutes (mean = {minutes:.4g})?",
                )
    pop = sc.population
    if pop.initial and pop.initial_counts and "customers" not in pop.model_fields_set:
        hint = _percent_hint(pop.initial)
        if hint:
            add(
                "population.initial",
                f"whole numbers are counts of customers: {sum(pop.initial.values()):g} customers on day 0",
                hint,
            )
    return issues


def warnings_as_error(warnings: list[ScenarioIssue], source: str | None = None) -> ScenarioError:
    """The error ``--strict`` raises for ``warnings``: each is marked as a warning made an error."""
    return ScenarioError(
        [replace(w, message=f"{w.message} [a warning; --strict makes it an error]") for w in warnings], source=source
    )
