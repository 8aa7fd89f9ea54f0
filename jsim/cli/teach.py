"""``jsim teach``: a classroom page on 127.0.0.1 answering slider moves with the mean-field engine."""

from __future__ import annotations

import click


@click.command()
@click.argument(
    "scenario",
    type=click.Path(dir_okay=False, path_type=str),
    metavar="[SCENARIO]",
    default="scenarios/teaching/word_of_mouth.toml",
)
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8050, show_default=True, help="Port on 127.0.0.1 (0: a free one)."
)
@click.option("--no-browser", is_flag=True, help="Do not open the page in a browser.")
def teach(scenario, port, no_browser):
    """Serve a classroom page for SCENARIO on http://127.0.0.1:PORT/ until Ctrl-C.

    Sliders (the scenario's [teach] sliders, keys of the --set language) re-run the mean-field
    engine; students predict, then run; the funnel fills day by day; flows by source show why
    customers moved; a pinned setting sits beside the current one; a button runs the stochastic
    engine to show the noise. Only 127.0.0.1 listens; nothing is fetched from the internet.
    Ctrl-C stops the server (exit 130, one line, like every command).
    """
    from ..teach import TeachSession, serve

    session = TeachSession(scenario)
    for issue in session.warnings:
        click.echo(f"warning: {scenario}: {issue}", err=True)
    serve(session, port=port, open_browser=not no_browser)  # until Ctrl-C: exit 130 with one line
