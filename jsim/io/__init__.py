"""Writing results: CSV and JSON that pandas opens, plots, each written atomically, as one set per folder.

- :mod:`jsim.io.files`: :func:`atomic_path`, the one way jsim writes a file (whole or not at all,
  with the user's umask);
- :mod:`jsim.io.folder`: :func:`output_set`, the one way a command writes its output folder (one
  run's files, swapped in whole), and :func:`check_output_dir`, checked before any work;
- :mod:`jsim.io.processes`: :func:`pid_alive`, for leftovers and locks that record their owner;
- :mod:`jsim.io.tables`: the run's tables (CSV/JSON) and :func:`write_run`.
"""

from __future__ import annotations

from .files import atomic_path, atomic_write, current_umask
from .folder import MANIFEST, add_to_set, check_output_dir, output_set
from .tables import (
    RUN_FILES,
    csv_text,
    daily_rows,
    flow_rows,
    segment_rows,
    service_daily_rows,
    service_rows,
    source_rows,
    to_json,
    touchpoint_rows,
    wait_rows,
    write_run,
    write_run_files,
)

__all__ = [
    "MANIFEST",
    "add_to_set",
    "RUN_FILES",
    "check_output_dir",
    "output_set",
    "atomic_path",
    "atomic_write",
    "current_umask",
    "csv_text",
    "to_json",
    "daily_rows",
    "flow_rows",
    "segment_rows",
    "service_rows",
    "service_daily_rows",
    "wait_rows",
    "source_rows",
    "touchpoint_rows",
    "write_run",
    "write_run_files",
]
