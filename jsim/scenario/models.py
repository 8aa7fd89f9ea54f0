"""Pydantic v2 models of a jsim scenario file.

Every model forbids unknown keys. Field-level rules live in the field types; rules that
span fields (names that must exist, totals that must not exceed 1) live in
``Scenario._check_references`` so that all problems are reported together.
See ``docs/model.md`` for what each number means in the simulation.
"""

from __future__ import annotations

__all__ = [
    "Stage",
    "Transition",
    "Effect",
    "HillResponse",
    "ExponentialResponse",
    "Adstock",
    "Fatigue",
    "FrequencyCap",
    "Touchpoint",
    "Segment",
    "Population",
    "WordOfMouth",
    "Economics",
    "Distribution",
    "Service",
    "Seasonality",
    "Event",
    "Teach",
    "Scenario",
]

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .limits import (
    MAX_ARRIVALS_PER_DAY,
    MAX_CUSTOMERS,
    MAX_DAYS,
    MAX_EVENTS,
    MAX_HOURS,
    MAX_MONEY,
    MAX_MULTIPLIER,
    MAX_PAIRS,
    MAX_RATE,
    MAX_SEGMENTS,
    MAX_SLOPE,
    MAX_STAGES,
    MAX_TOUCHPOINTS,
    MAX_WORD_OF_MOUTH,
    MIN_HOURS,
)

# Every number is finite (``allow_inf_nan=False`` below) and bounded: see ``limits.py``.
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Money = Annotated[float, Field(ge=0.0, le=MAX_MONEY)]
Multiplier = Annotated[float, Field(ge=0.0, le=MAX_MULTIPLIER)]
Rate = Annotated[float, Field(ge=0.0, le=MAX_RATE)]
PositiveRate = Annotated[float, Field(gt=0.0, le=MAX_RATE)]
Hours = Annotated[float, Field(ge=MIN_HOURS, le=MAX_HOURS)]
#: Characters a name may not hold: control characters, and those that separate names in source labels
#: (``NAME:served``, ``wom:FROM->TO``), command-line lists (``A,B``, ``T=MIN:MAX``, ``T@w3``) and
#: scenario paths (``touchpoints.NAME.spend``).
_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f.,=:@>\"']")


def _check_name(name: str) -> str:
    bad = _NAME_FORBIDDEN.search(name)
    if bad is not None or name != name.strip():
        shown = repr(bad.group()) if bad is not None else "a leading or trailing space"
        raise ValueError(
            f"names may not hold control characters, quotes, the separators . , = : @ > or leading/trailing "
            f"spaces, got {name[:40]!r} with {shown} (use letters, digits, _, - and spaces, e.g. 'search_ads')"
        )
    return name


Name = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_check_name)]


def _check_title(title: str) -> str:
    if any(not ch.isprintable() for ch in title):
        raise ValueError(
            f"may not hold control characters (a line break, a tab), got {title[:40]!r} (write it on one line)"
        )
    return title


Title = Annotated[str, Field(max_length=200), AfterValidator(_check_title)]
OptionalName = Annotated[str, Field(max_length=64), AfterValidator(lambda n: _check_name(n) if n else n)]
StageNames = Annotated[list[Name], Field(max_length=MAX_STAGES)]
SegmentNames = Annotated[list[Name], Field(max_length=MAX_SEGMENTS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class Stage(_Strict):
    """A stage of the funnel, listed in funnel order."""

    name: Name = Field(description="Unique stage name, e.g. 'aware'.")
    absorbing: bool = Field(False, description="No one leaves this stage (lost to a competitor, churned).")
    converted: bool = Field(False, description="Standing here counts as converted (a customer).")
    retained: bool = Field(False, description="Standing here at the horizon counts as retained (loyal, active).")
    advocate: bool = Field(False, description="Counts toward word-of-mouth share when a rule names no advocates.")
    purchase: bool = Field(
        False, description="Entering this stage counts one purchase (a stage loop counts each entry)."
    )
    value: Money | None = Field(
        None, description="Revenue per purchase on entering this stage; default economics.revenue_per_purchase."
    )
    description: str = ""


class Transition(_Strict):
    """An organic (baseline) daily transition probability between two stages.

    An entry from a stage to itself (the diagonal of a full Markov matrix) states the staying
    probability; it is checked (the row must total <= 1) but changes nothing, since staying is
    1 minus the stage's outgoing total anyway.
    """

    from_: Name = Field(alias="from", description="Stage the customer is in.")
    to: Name = Field(description="Stage the customer moves to.")
    p: Probability = Field(description="Daily probability of this move, in [0, 1].")


class Effect(_Strict):
    """What one engaged exposure does to a customer standing in ``from``."""

    from_: Name = Field(alias="from")
    to: Name
    p: Probability = Field(description="Probability an engaged exposure moves the customer from 'from' to 'to'.")


class HillResponse(_Strict):
    """Hill saturation of adstocked daily spend (Meridian / PyMC-Marketing names)."""

    kind: Literal["hill"]
    ec: Annotated[float, Field(gt=0.0, le=MAX_MONEY)] = Field(
        description="Half-saturation point: adstocked daily spend giving half of max_reach."
    )
    slope: Annotated[float, Field(gt=0.0, le=MAX_SLOPE)] = Field(
        description="Hill slope (shape); > 1 gives an S-shaped curve."
    )
    max_reach: Probability = Field(1.0, description="Daily delivery probability at saturation.")


class ExponentialResponse(_Strict):
    """Exponential saturation: max_reach * (1 - exp(-lam * spend))."""

    kind: Literal["exponential"]
    lam: PositiveRate = Field(description="Rate per unit of adstocked daily spend (1 / saturation scale).")
    max_reach: Probability = 1.0


Response = Annotated[HillResponse | ExponentialResponse, Field(discriminator="kind")]


class Adstock(_Strict):
    """Geometric adstock (carryover) of daily spend."""

    alpha: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        description="Daily retention rate of the carryover, in [0, 1)."
    )
    l_max: Annotated[int, Field(ge=1, le=10**12)] | None = Field(
        None, description="Longest lag in days; default the whole horizon."
    )
    normalize: bool = Field(True, description="Divide the weights by their sum (steady spend keeps its level).")


class Fatigue(_Strict):
    """Wear-out: effects shrink with the recent engaged exposures of the targeted population."""

    halflife: Annotated[float, Field(gt=0.0, le=MAX_HOURS)] = Field(
        description="Days for a past exposure to count half."
    )
    strength: Rate = Field(description="Effects are divided by 1 + strength * recent exposures.")


class FrequencyCap(_Strict):
    """At most ``exposures`` deliveries per ``days`` per customer, on average."""

    exposures: PositiveRate
    days: PositiveRate


class Distribution(_Strict):
    """A distribution of durations in hours (service time, patience)."""

    dist: Literal["exponential", "fixed", "lognormal", "gamma"] = "exponential"
    mean: Hours = Field(description="Mean, in hours.")
    sd: Hours | None = Field(None, description="Standard deviation in hours (lognormal and gamma only).")

    @model_validator(mode="after")
    def _sd_rule(self):
        if self.dist in ("lognormal", "gamma") and self.sd is None:
            raise ValueError(
                f"a {self.dist} distribution needs sd (hours) as well as mean; add e.g. sd = {self.mean / 2:g}"
            )
        if self.dist in ("exponential", "fixed") and self.sd is not None:
            raise ValueError(f"an {self.dist} distribution is set by its mean alone; remove sd = {self.sd:g}")
        return self


class Service(_Strict):
    """Capacity-limited service (live chat, phone support, couriers): customers queue for agents.

    A touchpoint with a service block turns each delivery into a service request: the customer
    waits for a free agent (FIFO) within opening hours; served requests have the touchpoint's
    ``effects``; a customer whose patience runs out abandons (``abandon_effects``); every hour
    waited adds ``wait_loss_per_hour`` of hazard of moving to ``loss_stage``.
    """

    agents: Annotated[int, Field(ge=0, le=100_000)] = Field(description="Agents (servers) working when open.")
    service_time: Distribution = Field(description="Time an agent spends on one request, in hours.")
    patience: Distribution | None = Field(
        None, description="How long a customer waits before abandoning, in hours; default infinite."
    )
    open: tuple[Annotated[float, Field(ge=0, le=24)], Annotated[float, Field(ge=0, le=24)]] = Field(
        (0.0, 24.0), description="Opening hours [from, to) of each day, in hours."
    )
    abandon_effects: list[Effect] = Field(
        default_factory=list, max_length=MAX_PAIRS, description="What abandoning the queue does."
    )
    wait_loss_per_hour: Rate = Field(0.0, description="Hazard of loss per hour waited (served or not).")
    loss_stage: Name | None = Field(
        None,
        description="Stage that waiting loses customers to; default the first absorbing stage that is not converted.",
    )

    @model_validator(mode="after")
    def _hours_rule(self):
        if not self.open[0] < self.open[1]:
            raise ValueError(f"open = [from, to] needs from < to, got {list(self.open)}; e.g. open = [9, 17]")
        return self


class Touchpoint(_Strict):
    """A place where the business meets customers."""

    name: Name
    kind: Literal["paid", "owned", "earned"] = "paid"
    description: str = ""
    spend: Money | None = Field(None, description="Daily spend (currency per day).")
    budget: Money | None = Field(None, description="Spend over the whole flight, spread evenly over its days.")
    cost_per_exposure: Money = Field(0.0, description="Variable cost of each delivery (email send, support contact).")
    reach: Probability | None = Field(None, description="Fixed daily delivery probability (no response curve).")
    response: Response | None = Field(None, description="Saturation of spend into daily delivery probability.")
    adstock: Adstock | None = None
    engagement: Probability = Field(
        1.0, description="Probability a delivery is engaged (opened, viewed); only engaged exposures act."
    )
    fatigue: Fatigue | None = None
    frequency_cap: FrequencyCap | None = None
    targets: StageNames | None = Field(None, description="Stages reached; default every stage an effect starts from.")
    segments: SegmentNames | None = Field(None, description="Segments reached; default all.")
    start_day: Annotated[int, Field(ge=1, le=MAX_DAYS)] = Field(1, description="First day of the flight.")
    end_day: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = Field(
        None, description="Last day of the flight; default the horizon."
    )
    effects: list[Effect] = Field(default_factory=list, max_length=MAX_PAIRS)
    service: Service | None = Field(None, description="Makes deliveries service requests that queue for agents.")

    @model_validator(mode="after")
    def _delivery_rule(self):
        if self.spend is not None and self.budget is not None:
            raise ValueError(
                "give either spend (daily) or budget (whole flight), not both; "
                f"got spend={self.spend}, budget={self.budget}"
            )
        if self.reach is not None and self.response is not None:
            raise ValueError("give either a fixed reach or a response curve, not both")
        if self.reach is None and self.response is None:
            raise ValueError(
                "needs a fixed reach (daily delivery probability) or a response curve; "
                'add e.g. reach = 0.1, or response = { kind = "hill", ec = 100, slope = 1 } with spend'
            )
        if self.response is not None and self.spend is None and self.budget is None:
            raise ValueError(
                "a response curve turns spend into reach, but no spend or budget was given; add spend = <daily amount>"
            )
        if self.end_day is not None and self.end_day < self.start_day:
            raise ValueError(f"start_day <= end_day must hold, got start_day={self.start_day}, end_day={self.end_day}")
        return self


class Segment(_Strict):
    """A group of customers with its own sensitivities."""

    name: Name
    share: Probability = Field(description="Share of the population, in [0, 1]; shares sum to 1.")
    effect_multiplier: Multiplier = Field(1.0, description="Multiplies every touchpoint effect.")
    touchpoint_multipliers: dict[Name, Multiplier] = Field(
        default_factory=dict,
        max_length=MAX_TOUCHPOINTS,
        description="Per-touchpoint effect multipliers (on top of effect_multiplier).",
    )
    transition_multiplier: Multiplier = Field(1.0, description="Multiplies baseline transitions.")
    word_of_mouth_multiplier: Multiplier = Field(1.0, description="Multiplies word-of-mouth hazards.")


class Population(_Strict):
    """Who is simulated and for how long."""

    customers: Annotated[int, Field(ge=0, le=MAX_CUSTOMERS)] = Field(10_000, description="Customers on day 0.")
    days: Annotated[int, Field(ge=1, le=MAX_DAYS)] = Field(90, description="Horizon in days.")
    initial: dict[str, Annotated[float, Field(ge=0.0, le=MAX_CUSTOMERS)]] | None = Field(
        None,
        max_length=MAX_STAGES,
        description="Day-0 customers per stage: shares summing to 1, or whole-number counts (which then set the "
        "population size); default everyone in the first stage.",
    )
    arrivals_per_day: Annotated[float, Field(ge=0.0, le=MAX_ARRIVALS_PER_DAY)] = Field(
        0.0, description="Mean daily arrivals of new prospects (Poisson)."
    )
    arrival_stage: Name | None = Field(None, description="Stage new arrivals join; default the first stage.")

    @property
    def initial_counts(self) -> bool:
        """True when ``initial`` gives counts of customers rather than shares."""
        if not self.initial:
            return False
        values = list(self.initial.values())
        shares = all(v <= 1 for v in values) and abs(sum(values) - 1.0) <= 1e-6
        return not shares and all(float(v).is_integer() for v in values)


class WordOfMouth(_Strict):
    """A transition whose daily hazard rises with the share of advocates (Bass form p + q * share)."""

    from_: Name = Field(alias="from")
    to: Name
    p: Rate = Field(description="Innovation hazard per day (independent of advocates).")
    q: Rate = Field(description="Imitation hazard per day when everyone is an advocate.")
    advocates: StageNames | None = Field(
        None, description="Stages whose share drives the rule; default stages with advocate = true."
    )


class Seasonality(_Strict):
    """Weekly and yearly profiles multiplying arrivals and touchpoint effects (1.0 = average)."""

    weekly: list[Multiplier] | None = Field(
        None, min_length=7, max_length=7, description="Seven multipliers, Monday first."
    )
    yearly: list[Multiplier] | None = Field(
        None, min_length=12, max_length=12, description="Twelve monthly multipliers, January first."
    )
    start_weekday: Annotated[int, Field(ge=0, le=6)] = Field(0, description="Weekday of day 1 (0 = Monday).")
    start_month: Annotated[int, Field(ge=1, le=12)] = Field(1, description="Month of day 1 (1 = January).")
    applies_to: list[Literal["arrivals", "effects", "transitions"]] = Field(
        default_factory=lambda: ["arrivals", "effects"], description="What the profile multiplies."
    )


class Move(_Strict):
    """A one-off move of a share of a stage's customers (a viral review makes 5% of the unaware aware)."""

    from_: Name = Field(alias="from")
    to: Name
    share: Probability


class Event(_Strict):
    """A dated change, obeyed by every engine. Days are inclusive; ``end`` defaults to the horizon
    (``shock``: to ``start``, a one-day event)."""

    kind: Literal["flight", "promotion", "capacity", "price", "shock"]
    start: Annotated[int, Field(ge=1, le=MAX_DAYS)]
    end: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = None
    name: OptionalName = ""
    touchpoint: Name | None = Field(
        None,
        description="Touchpoint concerned; flights, capacity and reach shocks need one; promotions default to all.",
    )
    spend_multiplier: Multiplier | None = Field(None, description="flight: multiplies the touchpoint's spend.")
    effect_multiplier: Multiplier | None = Field(
        None, description="promotion: multiplies effects (of one touchpoint, or all)."
    )
    agents: Annotated[int, Field(ge=0, le=100_000)] | None = Field(
        None, description="capacity: agents from start to end."
    )
    revenue_multiplier: Multiplier | None = Field(None, description="price: multiplies revenue per purchase.")
    purchase_multiplier: Multiplier | None = Field(
        None, description="price: multiplies every move into a purchase stage (demand response)."
    )
    reach_multiplier: Multiplier | None = Field(
        None, description="shock: multiplies a touchpoint's delivery (0 = outage)."
    )
    word_of_mouth_multiplier: Multiplier | None = Field(None, description="shock: multiplies word-of-mouth hazards.")
    move: Move | None = Field(None, description="shock: a one-off move on the start day.")

    @model_validator(mode="after")
    def _kind_rule(self):
        allowed = {
            "flight": {"spend_multiplier"},
            "promotion": {"effect_multiplier"},
            "capacity": {"agents"},
            "price": {"revenue_multiplier", "purchase_multiplier"},
            "shock": {"reach_multiplier", "word_of_mouth_multiplier", "move", "effect_multiplier"},
        }[self.kind]
        given = {
            k
            for k in (
                "spend_multiplier",
                "effect_multiplier",
                "agents",
                "revenue_multiplier",
                "purchase_multiplier",
                "reach_multiplier",
                "word_of_mouth_multiplier",
                "move",
            )
            if getattr(self, k) is not None
        }
        if not given:
            raise ValueError(f"a {self.kind} event needs one of {sorted(allowed)}")
        if given - allowed:
            raise ValueError(f"a {self.kind} event takes {sorted(allowed)}, got {sorted(given - allowed)}")
        if self.kind in ("flight", "capacity") and self.touchpoint is None:
            raise ValueError(f'a {self.kind} event needs touchpoint = "<name>"')
        if self.reach_multiplier is not None and self.touchpoint is None:
            raise ValueError('a reach shock needs touchpoint = "<name>" (the touchpoint that fails)')
        if self.end is not None and self.end < self.start:
            raise ValueError(f"start <= end must hold, got start={self.start}, end={self.end}")
        return self


class Economics(_Strict):
    """Money: what a purchase brings in."""

    currency: str = "EUR"
    revenue_per_purchase: Money = 0.0
    margin: Probability = Field(1.0, description="Gross margin as a fraction of revenue.")


SliderRange = tuple[
    Annotated[float, Field(ge=-MAX_MONEY, le=MAX_MONEY)],
    Annotated[float, Field(ge=-MAX_MONEY, le=MAX_MONEY)],
    Annotated[float, Field(gt=0.0, le=MAX_MONEY)],
]


class Teach(_Strict):
    """The classroom page of ``jsim teach``: which fields students move. The engines ignore it.

    Each slider is a KEY of the ``--set`` language (``touchpoints.tv.spend``,
    ``word_of_mouth.unaware->aware.q``) naming a number this scenario sets.
    """

    sliders: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=8, description="--set KEYs of the numbers students move (at most 8)."
    )
    ranges: dict[str, SliderRange] = Field(
        default_factory=dict,
        max_length=8,
        description="Per slider KEY: [min, max, step]; default from the field's bounds and current value.",
    )
    question: Annotated[str, Field(max_length=500)] = Field(
        "", description="The question students answer by predicting before they run."
    )
    predict: OptionalName = Field(
        "", description="Stage whose customers students predict; default the last converted stage."
    )


class Scenario(_Strict):
    """A whole jsim scenario."""

    name: Title = "scenario"
    description: str = ""
    stages: list[Stage] = Field(min_length=1, max_length=MAX_STAGES)
    transitions: list[Transition] = Field(default_factory=list, max_length=MAX_PAIRS)
    touchpoints: list[Touchpoint] = Field(default_factory=list, max_length=MAX_TOUCHPOINTS)
    segments: list[Segment] = Field(default_factory=list, max_length=MAX_SEGMENTS)
    population: Population = Field(default_factory=Population)
    word_of_mouth: list[WordOfMouth] = Field(default_factory=list, max_length=MAX_WORD_OF_MOUTH)
    economics: Economics = Field(default_factory=Economics)
    seasonality: Seasonality | None = None
    events: list[Event] = Field(default_factory=list, max_length=MAX_EVENTS)
    teach: Teach | None = Field(None, description="The classroom page of `jsim teach` (sliders); engines ignore it.")
