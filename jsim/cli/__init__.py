"""The ``jsim`` command line: the click group; each command lives in its own module.

Only click and the command modules are imported here, so ``jsim --help`` stays fast; every
command imports the library (numpy, numba, Optuna) inside its body.
"""

from __future__ import annotations

import shlex
from dataclasses import replace

import click

from .. import __version__
from ..errors import InputError, JsimError, ScenarioError, caused_by_interrupt, forget_unhandled_interrupt
from . import attribute, calibrate, compare, optimise, report, run, schema, sensitivity, sweep, teach, validate

EPILOG = "Docs: README.md and docs/model.md. Exit codes: 0 ok, 1 runtime failure, 2 invalid input."

#: library parameter -> the flag that sets it (the library's errors name parameters; a command-line user reads flags)
_FLAGS = {
    "budget": "--budget",
    "engine": "--engine",
    "touchpoints": "--touchpoints",
    "reps": "--reps",
    "promote": "--promote",
    "sampler": "--sampler",
    "customers": "--customers",
    "days": "--days",
    "metric": "--objective",
    "constraints": "--constraint",
    "bounds": "--bounds",
    "n_trials": "--trials",
    "directions": "--objective",
    "resume": "--resume",
    "worker": "--worker",
    "study_name": "--study-name",
    "storage": "--storage",
    "url_or_path": "--storage",
    "out_dir": "--out",
    "seed": "--seed",
    "weekly": "--weekly",
    "scenario": "SCENARIO",
    "scenario_hash": "--set",
    "variants": "--variant",
    "journeys": "--journeys",
    "paths": "--paths",
    "params": "--param",
    "metrics": "--metric",
    "method": "--method",
    "samples": "--samples",
    "budget_range": "--budget-range",
    "target_cac": "--target-cac",
    "target_roas": "--target-roas",
    "plan": "--evaluate",
    "plan_file": "--allocation",
    "methods": "--method",
    "order": "--order",
    "half_life": "--half-life",
    "path_col": "--path-col",
    "conv_col": "--conv-col",
    "value_col": "--value-col",
    "null_col": "--null-col",
    "times_col": "--times-col",
    "data": "--data",
    "fits": "--fit",
    "trials": "--trials",
    "population": "--population",
    "generations": "--generations",
    "run_dir": "RUN_DIR",
    "report_out": "--out",
    "port": "--port",
    "scheduler": "--scheduler",
    "workers": "--workers",
}


def _flag_hint(exc: JsimError) -> str:
    """`` [command line: --resume, --study-name]`` for the library parameters an error's fix names."""
    flags = list(dict.fromkeys(_FLAGS[p] for p in exc.params if p in _FLAGS))
    return f" [command line: {', '.join(flags)}]" if flags else ""


def _in_flags(exc: ScenarioError) -> ScenarioError:
    """``exc`` with each issue at a library parameter moved to its flag (``touchpoints`` -> ``--touchpoints``).

    The issues of a scenario file (``exc.source`` set) name places in the file and stay as they are.
    """
    if exc.source is not None:
        return exc
    return ScenarioError([replace(issue, location=_FLAGS.get(issue.location, issue.location)) for issue in exc.issues])


class _Group(click.Group):
    """Shows a :class:`~jsim.errors.JsimError` as one line on stderr: exit 2 for invalid input
    (:class:`~jsim.errors.InputError`), 1 otherwise;
    Ctrl-C exits 130 with one line."""

    def list_commands(self, ctx):
        return list(self.commands)  # the order of registration: the order a user meets them

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ScenarioError as exc:
            click.echo(f"error: {_in_flags(exc)}", err=True)
            ctx.exit(2)
        except InputError as exc:
            click.echo(f"error: {exc}{_flag_hint(exc)}", err=True)
            ctx.exit(2)
        except JsimError as exc:
            click.echo(f"error: {exc}{_flag_hint(exc)}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt as exc:
            click.echo(f"error: interrupted by Ctrl-C; {_after_interrupt(ctx, exc)}", err=True)
            forget_unhandled_interrupt()
            ctx.exit(130)
        except Exception as exc:
            if not caused_by_interrupt(exc):  # a Ctrl-C a library turned into another error (a first import)
                raise
            click.echo(f"error: interrupted by Ctrl-C; {_after_interrupt(ctx, KeyboardInterrupt())}", err=True)
            forget_unhandled_interrupt()
            ctx.exit(130)

    def parse_args(self, ctx, args):
        ctx.meta["jsim.args"] = list(args)  # for the command that continues an interrupted study
        return super().parse_args(ctx, args)


def _after_interrupt(ctx: click.Context, exc: KeyboardInterrupt) -> str:
    """The rest of the one line Ctrl-C prints: what was kept, and for a study, the command that continues it."""
    if ctx.invoked_subcommand == "teach":
        return "the page has stopped"
    if ctx.invoked_subcommand != "optimise":
        return "no file is left half-written"
    if not hasattr(exc, "n_trials"):  # before the study was opened
        return "the optimisation had not started; nothing new was saved"
    if exc.storage is None:
        return "the study was in memory and is lost (add --out DIR to keep the next one resumable)"
    if exc.study_name is None:
        return f"the study was not created yet in {exc.storage}; start again with: {_resume_command(ctx, add=False)}"
    done = "?" if exc.n_complete is None else exc.n_complete
    done = f"{done} trials" if exc.n_trials is None else f"{done} of {exc.n_trials} trials"
    if getattr(exc, "finished", False):
        return (
            f"the study is complete ({done}) in {exc.storage}, its report was not "
            f"written; write it with: {_resume_command(ctx)}"
        )
    return f"{done} complete are saved in {exc.storage}; continue with: {_resume_command(ctx)}"


def _resume_command(ctx: click.Context, add: bool = True) -> str:
    """The user's command line with ``--resume`` added (already there, or ``--worker``: as it was), no password."""
    from ..optimise.redact import redact_url

    args = list(ctx.meta.get("jsim.args", []))
    if add and not {"--resume", "--worker"} & set(args):
        args.append("--resume")
    return " ".join([ctx.info_name or "jsim", *(shlex.quote(redact_url(a)) for a in args)])


@click.group(
    cls=_Group, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(__version__, prog_name="jsim")
def main():
    """jsim: simulate customer journeys through touchpoints and funnel stages.

    \b
    Start here:
      jsim run scenarios/webshop.toml            simulate and print a summary
      jsim run scenarios/webshop.toml -r 5 -o out   5 replications, CSV/JSON into out/
      jsim compare scenarios/support_understaffed.toml --variant chat3:touchpoints.support_chat.service.agents=3
                                                 a what-if against the baseline, on common seeds
      jsim sweep scenarios/webshop.toml --param economics.margin=0.2:0.4:5 --metric net_profit
                                                 a metric across a grid of values, on common seeds
      jsim sensitivity scenarios/webshop.toml --param economics.margin=0.25:0.45 --metric net_profit
                                                 which fields move a metric (oat, morris, sobol)
      jsim attribute paths.csv                   split conversions among channels (Markov, Shapley, ...)
      jsim calibrate scenarios/webshop.toml --data daily.csv --fit economics.margin=0.2:0.5
                                                 fit fields to observed daily series, with intervals
      jsim report out                            one HTML page of a folder a command wrote
      jsim validate my.toml                      check a scenario file
      jsim schema > jsim.schema.json             JSON Schema for editor completion
      jsim optimise scenarios/teaching.toml --budget 1500   split a budget across touchpoints
      jsim optimise scenarios/webshop.toml --objective profit --budget-range 1000:50000
                                                 ... and find the total that pays
      jsim teach scenarios/teaching/word_of_mouth.toml   a classroom page with sliders
    """


for _command in (
    run.run,
    compare.compare,
    sweep.sweep,
    sensitivity.sensitivity,
    attribute.attribute,
    calibrate.calibrate,
    report.report,
    validate.validate,
    schema.schema,
    optimise.optimise,
    teach.teach,
):
    _command.epilog = EPILOG
    main.add_command(_command)
del _command
