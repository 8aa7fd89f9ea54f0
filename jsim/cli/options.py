"""Options shared by several commands, defined once and stacked onto commands."""

from __future__ import annotations

import math

import click

from ..engine.registry import engine_names

#: The largest spend --budget accepts: jsim.scenario.limits.MAX_MONEY (written out, as importing the scenario
#: package here would load pydantic for `jsim --help`; a test checks the two agree).
MAX_SPEND = 1e12

#: --customers at most (a finite range: a larger number is a usage error, not an overflow deep in the engine)
MAX_CUSTOMERS = 10**12


class PositiveFloat(click.ParamType):
    """A finite number in (0, ``maximum``] (click's ``FloatRange`` lets ``nan`` and ``inf`` through).

    ``example`` goes into the fix.
    """

    name = "float"

    def __init__(self, example: str, maximum: float = math.inf):
        self.example = example
        self.maximum = maximum

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not (math.isfinite(number) and 0 < number <= self.maximum):
            flag = f"{param.opts[0]} " if param is not None else ""
            rule = "a finite number > 0" if math.isinf(self.maximum) else f"a number > 0 and <= {self.maximum:g}"
            self.fail(f"must be {rule}, got {value} (e.g. {flag}{self.example})", param, ctx)
        return number


def _name_list(ctx, param, value):
    """``"search, social"`` -> ``["search", "social"]``; None (the flag not given) stays None."""
    return None if value is None else [name.strip() for name in value.split(",") if name.strip()]


def reps_option(default: int, help: str):
    """``--reps/-r``: replications, 1 to 10,000."""
    return click.option("--reps", "-r", type=click.IntRange(1, 10_000), default=default, show_default=True, help=help)


def format_option(table: str, json: str):
    """``--format table|json``: what each choice prints."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help=f"table: {table}; json: {json}.",
    )


def out_option(help: str):
    """``--out/-o DIR``: the folder a command writes its set of files into."""
    return click.option("--out", "-o", type=click.Path(file_okay=False, path_type=str), default=None, help=help)


def report_option(what: str):
    """``--report`` (with ``--out``): also write ``report.html``, one self-contained page of ``what``."""
    return click.option(
        "--report",
        is_flag=True,
        help=f"With --out: also write report.html into it, one page of {what} that opens offline "
        "(the same page as `jsim report DIR`).",
    )


def plot_option(picture: str):
    """``--plot`` (with ``--out``): also draw ``picture``."""
    return click.option("--plot", is_flag=True, help=f"With --out: also draw {picture}.")


scenario_arg = click.argument("scenario", type=click.Path(dir_okay=False, path_type=str), metavar="SCENARIO")
customers = click.option(
    "--customers",
    "-n",
    type=click.IntRange(0, MAX_CUSTOMERS),
    default=None,
    help="Customers on day 0 (overrides population.customers); at most 1e12, and what fits in memory.",
)
days = click.option(
    "--days", "-d", type=click.IntRange(1, 100_000), default=None, help="Horizon in days (overrides population.days)."
)
seed = click.option(
    "--seed",
    "-s",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Root seed; the same seed gives bit-identical results on any thread count.",
)
reps = reps_option(1, "Replications on spawned seeds; means are reported with 95% intervals.")
engine = click.option(
    "--engine",
    type=click.Choice(list(engine_names())),
    default="fast",
    show_default=True,
    help="fast: numba event engine; mean-field: exact expected values (deterministic); "
    "des: SimPy discrete-event engine, service queues in continuous time (slower).",
)
out = out_option(
    "Folder for summary.json, daily.csv, flows.csv, sources.csv, touchpoints.csv, segments.csv "
    "(+ services.csv, service_daily.csv, waits.csv, journeys.csv)."
)
fmt = format_option("readable summary", "the summary JSON on stdout")
journeys = click.option(
    "--journeys",
    type=click.IntRange(0, 1_000_000),
    default=0,
    show_default=True,
    help="Trace this many individual journeys (exposures and moves) into journeys.csv.",
)
quiet = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
overrides = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Change a scenario field first, as an edited copy would (repeatable): population.customers=20000, "
    "touchpoints.email_newsletter.engagement=0.3, transitions.aware->considering.p=0.02; VALUE is a TOML value.",
)
strict = click.option(
    "--strict", is_flag=True, help="Treat warnings about the scenario as errors (exit 2, nothing simulated)."
)
plot = plot_option("funnel.png (stage occupancy and conversion)")
report = report_option("the run's figures, stages, flows, funnel and touchpoints")
compare_report = report_option("the differences with their intervals")
opt_report = report_option("the allocation, response curves, history and Pareto front")
sweep_report = report_option("the metrics across the grid with their intervals")
sensitivity_report = report_option("the indices of each parameter")
attribute_report = report_option("each method's credit (and, with --scenario, the truth)")
calibrate_report = report_option("the fitted fields with their intervals")

# jsim compare
variant = click.option(
    "--variant",
    "variants",
    multiple=True,
    metavar="NAME:KEY=VALUE[,KEY=VALUE...]",
    help="A version of BASE with changes, reported as NAME (repeatable): "
    "'chat3:touchpoints.support_chat.service.agents=3'.",
)
compare_reps_opt = reps_option(
    10, "Replications, on the same seeds for every version (at least 2 for a stochastic engine)."
)
fmt_compare = format_option("readable differences", "compare.json on stdout")
compare_out = out_option("Folder for compare.json and compare.csv (long format: variant, table, item, metric, ...).")
compare_plot = plot_option("compare.png (differences with their intervals)")

# jsim optimise
budget = click.option(
    "--budget",
    "-b",
    type=PositiveFloat(example="50000", maximum=MAX_SPEND),
    default=None,
    help="Total spend over the horizon to split across the touchpoints (currency). Required, unless "
    "--evaluate/--allocation (then: the plan's total) or --budget-range (then: the scenario's current "
    "spend, brought into the range) gives it.",
)
budget_range = click.option(
    "--budget-range",
    default=None,
    metavar="MIN:MAX",
    help="Also search the best total budget in [MIN, MAX] (each total with its best split; needs --objective "
    "profit or clv, or a --target-cac/--target-roas); reports the break-even total, writes budget_curve.png.",
)
target_cac = click.option(
    "--target-cac",
    type=PositiveFloat(example="40", maximum=MAX_SPEND),
    default=None,
    help="With --objective conversions: spending more pays while one extra new customer costs at most this.",
)
target_roas = click.option(
    "--target-roas",
    type=PositiveFloat(example="3", maximum=MAX_SPEND),
    default=None,
    help="With --objective revenue: spending more pays while one more unit of spend brings at least this revenue.",
)
evaluate = click.option(
    "--evaluate",
    default=None,
    metavar="A=SPEND,B=SPEND",
    help="Score your own split, e.g. 'search=20000,tv=5000' (touchpoints not named: 0), against the current "
    "and optimal splits; it is not rescaled to --budget.",
)
allocation = click.option(
    "--allocation",
    "allocation_file",
    default=None,
    metavar="FILE.json",
    help="As --evaluate, from a JSON object {touchpoint: spend} or an allocation.json jsim wrote.",
)
objective = click.option(
    "--objective",
    "objectives",
    multiple=True,
    default=("conversions",),
    show_default=True,
    help="conversions, retained, revenue, profit, clv or cost; repeat for a Pareto front.",
)
constraint = click.option(
    "--constraint",
    "constraints",
    multiple=True,
    help="METRIC>=VALUE or METRIC<=VALUE, e.g. 'retention>=0.6', 'cac<=40'; repeatable.",
)
trials = click.option(
    "--trials",
    type=click.IntRange(1, 1_000_000),
    default=None,
    help="Trials of the global search, at most --max-evaluations (a resumed study runs only the missing "
    "ones). Default: adaptive, up to 40% of --max-evaluations, stopping once the best trial stops improving.",
)
max_evaluations = click.option(
    "--max-evaluations",
    type=click.IntRange(1, 10_000_000),
    default=None,
    help="Cap on simulations of the search trials and the local polish together (default 100 + 100 per "
    "decision, at most 5,000; with --trials, those plus the polish's 60% of that).",
)


def _batch_size(ctx, param, value):
    """``--batch N``: a whole number >= 1 (checked against --max-evaluations by the command)."""
    if value is None:
        return 1
    try:
        n = int(value)
    except ValueError:
        n = None
    if n is None or str(n) != value.strip() or n < 1:
        raise click.BadParameter(
            f"must be a whole number >= 1 (trials evaluated side by side), got --batch {value} "
            "(use e.g. --batch 4, or the number of Dask workers; 1 runs one trial at a time)",
            param_hint="'--batch'",
        )
    return n


batch = click.option(
    "--batch",
    default=None,
    metavar="N",
    callback=_batch_size,
    help="Trials asked together and evaluated side by side: on the cluster's workers with --scheduler/--workers, "
    "else in threads of this process (the polish's finite-difference points too). Same --seed and --batch, "
    "same numbers, local or on a cluster; --batch 1 (default) runs one trial at a time.",
)
calibrate_batch = click.option(
    "--batch",
    default=None,
    metavar="N",
    callback=_batch_size,
    help="Trials of the point fit (--method optuna) asked together and their deviances computed side by side: on "
    "the cluster's workers with --scheduler/--workers, else in threads of this process. Same --seed and --batch, "
    "same fit, local or on a cluster; --batch 1 (default) runs one trial at a time.",
)
bounds = click.option(
    "--bounds",
    "bounds",
    multiple=True,
    metavar="TOUCHPOINT=MIN:MAX",
    help="Spend bounds of one touchpoint (or TOUCHPOINT@wK with --weekly); repeatable.",
)
touchpoints = click.option(
    "--touchpoints",
    default=None,
    metavar="A,B,C",
    callback=_name_list,
    help="Touchpoints to split the budget over; default every one with a response curve.",
)
opt_engine = click.option(
    "--engine",
    type=click.Choice(["mean-field", "fast", "des"]),
    default="mean-field",
    show_default=True,
    help="mean-field: fast deterministic expected values; fast: simulated, --reps on common seeds; des: the SimPy "
    "discrete-event engine (queues within the day; much slower), --reps likewise.",
)
sampler = click.option(
    "--sampler",
    type=click.Choice(["auto", "cmaes", "tpe", "gp", "nsga2", "random"]),
    default="auto",
    show_default=True,
    help="auto: CMA-ES for one objective, NSGA-II for several (TPE/NSGA-II with constraints).",
)
storage = click.option(
    "--storage",
    default=None,
    metavar="URL",
    help="Optuna storage: postgresql://... or sqlite:///..., or a journal file; default OUT/study.journal.",
)
resume = click.option("--resume", is_flag=True, help="Continue the study in --storage/--out after a crash or Ctrl-C.")
worker = click.option("--worker", is_flag=True, help="Join the shared study in --storage as one more worker.")
study_name = click.option(
    "--study-name", default=None, help="Study name; default derived from scenario, objectives and budget."
)
weekly = click.option(
    "--weekly", is_flag=True, help="One decision per touchpoint and week (carryover by the simulation)."
)
compare_reps = click.option(
    "--compare-reps",
    type=click.IntRange(2, 10_000),
    default=20,
    show_default=True,
    help="Replications on fresh seeds for the best vs current vs equal table (and the uplifts' verdicts).",
)
opt_out = click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Folder for allocation.json, trials.csv, pareto.csv, plots and the study journal.",
)
promote = click.option(
    "--promote",
    type=click.IntRange(1, 100),
    default=4,
    show_default=True,
    help="fast engine: re-evaluate promising trials on --reps x PROMOTE replications (1: off).",
)

# jsim sweep / sensitivity
sweep_param = click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=START:STOP:N",
    help="A --set KEY and N evenly spaced values from START to STOP (ints when START and STOP are); "
    "once for a line, twice for a grid: touchpoints.support_chat.service.agents=1:6:6.",
)
sensitivity_param = click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=LOW:HIGH",
    help="A --set KEY and its range (repeatable): economics.margin=0.25:0.45; "
    "a whole-number field (agents) is rounded.",
)
metric = click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="M",
    help="What to measure (repeatable): a metric of summary.json (new_customers, conversion_rate, "
    "net_profit, ...), stages_at_horizon.STAGE, touchpoints.TOUCHPOINT.FIELD or sources.SOURCE.FIELD.",
)
sweep_reps = reps_option(
    10, "Replications per grid point, on the same seeds at every point (intervals need at least 2)."
)
fmt_sweep = format_option("readable tables", "sweep.json on stdout")
sweep_out = out_option(
    "Folder for sweep.csv (one row per grid point and metric: KEYs, metric, mean, low, high, ...) and sweep.json."
)
sweep_plot = plot_option("sweep.png (lines with 95% bands, or heat maps)")
method = click.option(
    "--method",
    type=click.Choice(["oat", "morris", "sobol"]),
    default="oat",
    show_default=True,
    help="oat: one at a time, LOW and HIGH (tornado); morris: elementary effects (screening); "
    "sobol: variance-based S1, ST, S2 indices.",
)
samples = click.option(
    "--samples",
    type=click.IntRange(2, 1_000_000),
    default=None,
    help="morris: trajectories (default 20, D+1 evaluations each); sobol: base sample N, a power of two "
    "(default 256, N x (2D+2) evaluations).",
)
levels = click.option(
    "--levels", type=click.IntRange(2, 100), default=None, help="morris: grid levels per parameter (default 4)."
)
sensitivity_engine = click.option(
    "--engine",
    type=click.Choice(list(engine_names())),
    default="mean-field",
    show_default=True,
    help="mean-field: exact expected values (deterministic, fast); fast: simulated, each evaluation the "
    "mean of --reps replications on common seeds; des: discrete-event (slow).",
)
sensitivity_reps = reps_option(
    1, "Replications averaged per evaluation (a stochastic engine), the same seeds at every point."
)
fmt_sensitivity = format_option("readable indices", "sensitivity.json on stdout")
sensitivity_out = out_option("Folder for sensitivity.csv (one row per metric and parameter) and sensitivity.json.")
sensitivity_plot = plot_option("sensitivity.png (tornado, mu* vs sigma, or S1/ST bars)")

# jsim attribute
attribute_method = click.option(
    "--method",
    "methods",
    multiple=True,
    type=click.Choice(["markov", "shapley", "first", "last", "linear", "position", "time-decay", "all"]),
    default=("all",),
    show_default=True,
    help="Repeatable. markov: removal effects, exact; shapley: Shapley value of the paths' channel sets; "
    "first/last touch; linear (every touch, repeats too); position (40/20/40); time-decay (needs times); "
    "all: every one (time-decay only when the paths carry times).",
)
order = click.option(
    "--order",
    type=click.IntRange(1, 10),
    default=1,
    show_default=True,
    help="Markov order K: a state is the last K channels of the path (repeats collapsed).",
)
half_life = click.option(
    "--half-life",
    type=PositiveFloat(example="7"),
    default=7.0,
    show_default=True,
    help="time-decay: days before the path's last touch at which a touch counts half.",
)
fmt_attribute = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table: readable tables; json: attribution.json on stdout; csv: attribution.csv on stdout.",
)
attribute_out = out_option("Folder for attribution.csv, transition_matrix.csv (from,to,probability), attribution.json.")
path_col = click.option("--path-col", default=None, help="Column of the paths (default: path).")
conv_col = click.option("--conv-col", default=None, help="Column of the conversions (default: total_conversions).")
value_col = click.option(
    "--value-col", default=None, help="Column of the conversion value (default: total_conversion_value, if present)."
)
null_col = click.option(
    "--null-col", default=None, help="Column of the journeys that did not convert (default: total_null, if present)."
)
times_col = click.option(
    "--times-col", default=None, help="Column of the touch times in days, e.g. 0>3.5>7 (default: times, if present)."
)

# jsim attribute --scenario: attribution against the truth
truth_scenario = click.option(
    "--scenario",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    metavar="SCENARIO",
    help="Simulate SCENARIO instead of reading PATHS: attribute its traced journeys and set every method beside "
    "the truth (each touchpoint switched off on the same seeds).",
)
truth_journeys = click.option(
    "--journeys",
    type=click.IntRange(1, 1_000_000),
    default=None,
    help="--scenario: customers to trace into paths (default the population, at most 50,000).",
)
truth_reps = reps_option(
    10, "--scenario: replications of the truth, on the same seeds with and without each touchpoint."
)
truth_engine = click.option(
    "--engine",
    type=click.Choice(["fast", "mean-field", "des"]),
    default="fast",
    show_default=True,
    help="--scenario: the engine of the truth (mean-field: exact expected values; fast: paired replications).",
)
paths_file = click.option(
    "--paths",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    metavar="FILE",
    help="With --journeys: write the traced journeys as attribution paths (path;total_conversions;"
    "total_conversion_value;total_null;times), what `jsim attribute FILE` reads; .gz compresses.",
)
# jsim calibrate
observed_data = click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    metavar="OBSERVED.csv",
    help="Observed daily series: a day column and any of the stage columns, arrivals, new_converted, purchases, "
    "revenue, deliveries:TOUCHPOINT, engaged:TOUCHPOINT (a daily.csv of jsim run is one); empty cells allowed.",
)
fit_param = click.option(
    "--fit",
    "fits",
    multiple=True,
    metavar="KEY=LOW:HIGH",
    help="A --set KEY to fit and its range (repeatable): 'transitions.aware->considering.p=0.002:0.02'.",
)
calibrate_method = click.option(
    "--method",
    type=click.Choice(["optuna", "abc"]),
    default="optuna",
    show_default=True,
    help="optuna: point fit (Poisson deviance) with Laplace 95% intervals; abc: ABC-SMC posterior with pyabc "
    "(pip install 'jsim[abc]'), 95% credible intervals.",
)
calibrate_trials = click.option(
    "--trials",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Optuna trials of the point fit before its local polish (default 60).",
)
population = click.option(
    "--population",
    type=click.IntRange(10, 100_000),
    default=None,
    help="abc: particles per generation (default 300).",
)
generations = click.option(
    "--generations",
    type=click.IntRange(1, 100),
    default=None,
    help="abc: the most generations (default 12; ABC-SMC stops earlier once its temperature reaches 1).",
)
fmt_calibrate = format_option("fitted values with intervals", "parameters, warnings and deviance as JSON")
calibrate_out = out_option(
    "Folder for calibration.json, fitted.toml (the scenario with the fitted values), fitted.csv "
    "(day, series, observed, fitted) and with abc posterior.csv."
)
calibrate_plot = plot_option("calibration.png (observed vs fitted, per series)")


def cluster(command):
    """``--scheduler ADDRESS`` and ``--workers N`` (exclusive): replications as tasks on Dask workers.

    Both are checked by the library (:func:`jsim.engine.distributed.check_cluster_args`): a bad
    address, both flags, or ``distributed`` not installed exit 2 before anything is simulated.
    """
    command = click.option(
        "--workers",
        type=click.IntRange(1, 256),
        default=None,
        metavar="N",
        help="Run the replications as tasks on a local Dask cluster of N worker processes (numba threads "
        "shared out so they do not oversubscribe the cores); same seed, same numbers. Needs jsim[distributed].",
    )(command)
    return click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Run the replications as tasks on the workers of a running `dask scheduler` at tcp://HOST:PORT; "
        "same seed, same numbers as a local run. Needs jsim[distributed].",
    )(command)
