"""Plots: ``*_info`` functions return plain data (tested), renderers only draw (matplotlib)."""

from .funnel import FunnelInfo, get_funnel_info, plot_funnel

__all__ = ["FunnelInfo", "get_funnel_info", "plot_funnel"]
