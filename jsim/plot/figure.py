"""Saving a figure: the one way the plots are written."""

from __future__ import annotations

__all__ = ["save_figure"]

from pathlib import Path

from ..io import atomic_path


def save_figure(fig, path) -> None:
    """Save ``fig`` to ``path`` atomically (:func:`jsim.io.atomic_path`; format from the suffix) and close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format=Path(path).suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
