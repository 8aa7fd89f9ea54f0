"""Tables, terminal output and files of jsim's results.

- :mod:`jsim.report.run`: the rich summary of a simulation run (``jsim run``).
- :mod:`jsim.report.optimise`: tables, rich output and ``--out`` files of a budget
  optimisation (``jsim optimise``).

Nothing here runs a simulation: each function takes a result (a summary dict, an
:class:`~jsim.optimise.study.OptimisationReport`) and presents it.
"""

from __future__ import annotations

__all__ = ["render_summary", "report_tables", "render_report", "trial_rows", "report_json", "write_report"]

from jsim.report.optimise import render_report, report_json, report_tables, trial_rows, write_report
from jsim.report.run import render_summary
