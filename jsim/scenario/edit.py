"""A scenario file's text with fields changed, comments and layout kept (``tomlkit``): ``jsim calibrate``'s output."""

from __future__ import annotations

__all__ = ["scenario_text_with"]

from collections.abc import Sequence
from pathlib import Path

from .overrides import apply_overrides, set_in_place


def _plain(value):
    """TOML-writable: numpy scalars as Python numbers."""
    return value.item() if hasattr(value, "item") else value


def scenario_text_with(path, data: dict, pairs: Sequence[tuple], header: Sequence[str] = ()) -> str:
    """The TOML text of scenario ``path`` with each ``(KEY, value)`` of ``pairs`` set (``--set`` KEYs).

    A ``.toml`` file is edited where it stands (:func:`tomlkit.parse`): every comment, blank line
    and the order of the tables is kept, and a changed value keeps the comment on its line. A YAML
    file is written as TOML from its ``data`` with the values applied (YAML comments are not kept:
    PyYAML does not read them). ``header`` lines go first, as ``#`` comments.
    """
    import tomlkit

    pairs = [(k, _plain(v)) for k, v in pairs]
    path = Path(path)
    if path.suffix.lower() == ".toml":
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
        set_in_place(document, pairs)
        body = tomlkit.dumps(document)
    else:
        changed, _ = apply_overrides(data, pairs)
        body = tomlkit.dumps(changed)
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header)
    return lines + ("\n" if lines else "") + body
