"""The largest scenario jsim accepts: sizes of files and lists, and ranges of numbers.

Every number of a scenario is finite and bounded so that no sum, product or count of the
simulation can overflow (a float64 holds up to 1.8e308, an int64 9.2e18); every list is bounded
so that a file that validates can also be compiled (the model's arrays grow with the square of
the stage count). ``docs/model.md``, "Limits", states the same numbers with their reasons.
"""

from __future__ import annotations

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_YAML_NODES",
    "MAX_YAML_DEPTH",
    "MAX_STAGES",
    "MAX_TOUCHPOINTS",
    "MAX_SEGMENTS",
    "MAX_WORD_OF_MOUTH",
    "MAX_EVENTS",
    "MAX_PAIRS",
    "MAX_MODEL_CELLS",
    "MAX_MONEY",
    "MAX_MULTIPLIER",
    "MAX_CALENDAR_PRODUCT",
    "MAX_CUSTOMERS",
    "MAX_ARRIVALS_PER_DAY",
    "MAX_RATE",
    "MAX_HOURS",
    "MIN_HOURS",
    "MAX_SLOPE",
    "MAX_DAYS",
]

#: A scenario file (TOML or YAML) is at most 10 MB.
MAX_FILE_BYTES = 10_000_000
#: A YAML document holds at most 1,000,000 values (keys, scalars, lists, tables), an alias counting
#: every value of what it repeats each time it is used ("billion laughs"). Room for the largest
#: scenario (10,000 events of a dozen values each) ten times over.
MAX_YAML_NODES = 1_000_000
#: Lists and tables nest at most 64 deep in a YAML document (a scenario nests a few levels).
MAX_YAML_DEPTH = 64

#: Counts of list entries. The compiled model holds (segments, touchpoints, stages, stages) arrays.
MAX_STAGES = 100
MAX_TOUCHPOINTS = 200
MAX_SEGMENTS = 100
MAX_WORD_OF_MOUTH = 1_000
MAX_EVENTS = 10_000
#: Transitions, or effects of one touchpoint: at most one per (from, to) pair of 100 stages.
MAX_PAIRS = MAX_STAGES * MAX_STAGES
#: segments x touchpoints x stages**2: the cells of each of the model's three effect arrays
#: (8 bytes each, so at most 160 MB an array). The single limits above allow 200 million.
MAX_MODEL_CELLS = 20_000_000

#: Money amounts (spend, budget, revenue per purchase, cost per delivery, a stage's value, the
#: half-saturation spend ``ec``), in the scenario's currency.
MAX_MONEY = 1e12
#: Each multiplier (segment, calendar event, seasonal profile value).
MAX_MULTIPLIER = 1e3
#: The product of every calendar multiplier (seasonality and events) acting on one quantity on one day.
MAX_CALENDAR_PRODUCT = 1e4
#: Customers on day 0 (``population.customers`` or the sum of ``population.initial`` counts).
MAX_CUSTOMERS = 10**12
#: Mean daily arrivals: times the calendar product and 100,000 days, arrivals stay below 2**63.
MAX_ARRIVALS_PER_DAY = 1e9
#: Hazards and rates per day or hour (word-of-mouth p and q, loss per hour waited, fatigue
#: strength, the exponential response's ``lam``, a frequency cap's exposures and days).
MAX_RATE = 1e6
#: Durations in hours (service time, patience) and days (fatigue half-life).
MAX_HOURS = 1e6
#: Shortest mean or sd of a service time or patience, in hours (3.6 ms): shorter ones round to 0 days.
MIN_HOURS = 1e-6
#: Steepness of a Hill response curve.
MAX_SLOPE = 1e3
#: The horizon in days (``population.days``, ``--days``).
MAX_DAYS = 100_000
