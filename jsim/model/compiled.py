"""The compiled model: a scenario as frozen typed arrays, produced once by :func:`jsim.model.compile_scenario`.

The engines never see pydantic objects: they read the :class:`CompiledModel` arrays below (the
numba kernels through :attr:`CompiledModel.arrays`). Axis letters used in the docstrings: ``T``
days (index 0 is the initial state, 1..T the simulated days), ``G`` segments, ``S`` stages,
``J`` touchpoints, ``W`` word-of-mouth rules, ``E`` one-off event moves, ``V`` service
touchpoints, ``K = 1 + J + W + E`` clocks (organic, touchpoints, word-of-mouth rules, event
moves: what competes within the day), ``X`` routes (``(from, to, source)`` a move can take; see
:mod:`jsim.model.sources`), ``P`` (clock, destination) pairs of one stage.
"""

from __future__ import annotations

__all__ = ["CompiledModel"]

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .arrays import ModelArrays
from .checks import check_day_probabilities
from .media import Media, deliver


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """A scenario as arrays. Produced by :func:`~jsim.model.compile_scenario`; read-only.

    Attributes (arrays)
    -------------------
    p0 : (G, S, S) float64
        Organic daily transition probabilities, segment multipliers applied; rows sum to <= 1.
    q : (G, J, S, S) float64
        Effect of one engaged exposure, segment multipliers and targeting applied.
    target : (J, G, S) bool
        Whether touchpoint j delivers to customers of segment g standing in stage s.
    spend : (T+1, J) float64
        Daily spend (row 0 is zero).
    delivery : (T+1, J) float64
        Daily delivery probability after adstock, saturation, frequency cap and outages.
    engagement : (J,) float64
    fatigue : (T+1, J) float64
        Effect multiplier from wear-out, in (0, 1].
    exposure_effect : (T+1, J) float64
        ``delivery * engagement * fatigue * calendar effect multiplier``: multiplies ``q`` on each day.
    effect_mult : (T+1, J) float64
        The calendar's multiplier of each touchpoint's effects (promotions, seasonality, shocks).
    day_mult : (T+1, 3) float64
        Calendar multipliers of organic transitions, word-of-mouth hazards and moves into
        purchase stages (see :mod:`jsim.model.calendar`).
    arrivals_mult, revenue_mult : (T+1,) float64
        Calendar multipliers of arrivals and of revenue per purchase.
    move_day, move_from, move_to : (E,) int64
    move_share : (E,) float64
        One-off moves (shocks): on ``move_day``, a source moving ``move_share`` of the stage.
    move_names : (E,) tuple of str
        The events' names (unique).
    qa, ql : (G, J, S, S) float64
        Service touchpoints only: effects of abandoning the queue, and the one-hot move of a
        customer lost while waiting (to the service's loss stage).
    svc_tp : (V,) int64
        Touchpoint index of each service.
    svc_capacity : (T+1, V) float64
        Requests a service can complete each day: agents x open share of the day / mean service time.
    svc_agents : (T+1, V) float64
        Agents on duty each day.
    svc_params : (V, 4) float64
        Opening and closing time (fractions of the day), mean service time and mean patience
        (inf: none), in days.
    svc_loss : (V,) float64
        Hazard of loss per day waited.
    services : tuple of CompiledService
    wom_from, wom_to : (W,) int64
    wom_p, wom_q : (W,) float64
        Bass hazards per day.
    wom_advocate : (W, S) bool
    wom_mult : (G,) float64
    initial : (G, S) int64
        Day-0 customers.
    arrivals_mean : (G,) float64
        Mean daily arrivals per segment (Poisson).
    media : Media
        How spend becomes delivery (kept for :meth:`with_spend`).
    sources : Sources
        Clocks, sources, routes and pairs (:mod:`jsim.model.sources`).
    """

    name: str
    scenario_hash: str
    stage_names: tuple[str, ...]
    segment_names: tuple[str, ...]
    touchpoint_names: tuple[str, ...]
    touchpoint_kinds: tuple[str, ...]
    n_days: int
    n_customers: int
    currency: str
    margin: float
    is_absorbing: np.ndarray
    is_converted: np.ndarray
    is_retained: np.ndarray
    is_purchase: np.ndarray
    purchase_value: np.ndarray
    seg_share: np.ndarray
    p0: np.ndarray
    q: np.ndarray
    target: np.ndarray
    spend: np.ndarray
    delivery: np.ndarray
    engagement: np.ndarray
    fatigue: np.ndarray
    exposure_effect: np.ndarray
    cost_per_exposure: np.ndarray
    wom_from: np.ndarray
    wom_to: np.ndarray
    wom_p: np.ndarray
    wom_q: np.ndarray
    wom_advocate: np.ndarray
    wom_mult: np.ndarray
    initial: np.ndarray
    arrivals_mean: np.ndarray
    arrival_stage: int
    effect_mult: np.ndarray
    day_mult: np.ndarray
    arrivals_mult: np.ndarray
    revenue_mult: np.ndarray
    move_day: np.ndarray
    move_from: np.ndarray
    move_to: np.ndarray
    move_share: np.ndarray
    move_names: tuple
    qa: np.ndarray
    ql: np.ndarray
    svc_tp: np.ndarray
    svc_capacity: np.ndarray
    svc_agents: np.ndarray
    svc_params: np.ndarray
    svc_loss: np.ndarray
    services: tuple
    media: Media = field(repr=False)
    sources: object = field(repr=False)
    stage_index: dict = field(repr=False)
    touchpoint_index: dict = field(repr=False)
    segment_index: dict = field(repr=False)
    spend_overridden: bool = False

    # -- sizes ------------------------------------------------------------------------------------
    @property
    def n_stages(self) -> int:
        return len(self.stage_names)

    @property
    def n_segments(self) -> int:
        return len(self.segment_names)

    @property
    def n_touchpoints(self) -> int:
        return len(self.touchpoint_names)

    @property
    def n_wom(self) -> int:
        return len(self.wom_from)

    @property
    def n_clocks(self) -> int:
        """K: organic, touchpoints, word-of-mouth rules and event moves, which compete within the day."""
        return 1 + self.n_touchpoints + self.n_wom + len(self.move_day)

    @property
    def n_sources(self) -> int:
        """Sources moves are credited to (a service touchpoint has three: served, abandoned, lost_waiting)."""
        return len(self.sources.names)

    @property
    def source_names(self) -> tuple[str, ...]:
        """``organic``, touchpoint names (``NAME:served`` ... for services), ``wom:FROM->TO``, ``event:NAME``."""
        return self.sources.names

    @property
    def clock_names(self) -> tuple[str, ...]:
        """One label per clock: ``organic``, touchpoint names, ``wom:FROM->TO``, ``event:NAME``."""
        src = self.sources
        return tuple(
            self.touchpoint_names[src.touchpoint[i]] if src.kinds[i] == "service" else src.names[i]
            for i in src.clock_source
        )

    @property
    def n_routes(self) -> int:
        """X: the (from, to, source) routes a move can take."""
        return self.sources.n_routes

    @property
    def pair_src(self) -> np.ndarray:
        """(G, S, P) int64: clock of each (clock, destination) pair that can move a customer out of a stage."""
        return self.sources.pair_src

    @property
    def pair_dst(self) -> np.ndarray:
        """(G, S, P) int64: destination of each pair."""
        return self.sources.pair_dst

    @property
    def n_pairs(self) -> np.ndarray:
        """(G, S) int64: pairs in use per segment and stage."""
        return self.sources.n_pairs

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(sv.name for sv in self.services)

    @property
    def is_service(self) -> np.ndarray:
        """(J,) bool: touchpoints with a service block."""
        out = np.zeros(self.n_touchpoints, dtype=np.bool_)
        out[self.svc_tp] = True
        return out

    @property
    def is_coupled(self) -> bool:
        """True when hazards depend on the population state (word of mouth, service queues)."""
        return self.n_wom > 0 or len(self.services) > 0

    @cached_property
    def arrays(self) -> ModelArrays:
        """The arrays the numba kernels read, as one typed tuple."""
        return ModelArrays(
            p0=self.p0,
            q=self.q,
            qa=self.qa,
            ql=self.ql,
            day_mult=self.day_mult,
            is_purchase=self.is_purchase,
            is_absorbing=self.is_absorbing,
            is_converted=self.is_converted,
            wom_p=self.wom_p,
            wom_q=self.wom_q,
            wom_mult=self.wom_mult,
            wom_advocate=self.wom_advocate,
            move_day=self.move_day,
            move_share=self.move_share,
            pair_src=self.sources.pair_src,
            pair_dst=self.sources.pair_dst,
            n_pairs=self.sources.n_pairs,
            pair_route=self.sources.pair_route,
            is_service=self.is_service,
            target=self.target,
            delivery=self.delivery,
            engagement=self.engagement,
            exposure_effect=self.exposure_effect,
            svc_tp=self.svc_tp,
            svc_agents=self.svc_agents,
            svc_params=self.svc_params,
            svc_loss=self.svc_loss,
            arrival_stage=int(self.arrival_stage),
        )

    # -- derived quantities ---------------------------------------------------------------------------
    def cost(self, deliveries: np.ndarray) -> np.ndarray:
        """Money spent per day and touchpoint: ``spend + cost_per_exposure * deliveries`` (..., T+1, J)."""
        return self.spend + deliveries * self.cost_per_exposure

    def with_spend(self, spend) -> CompiledModel:
        """The same model with another daily spend (the optimiser's spend override).

        Parameters
        ----------
        spend : (T+1, J) array of float
            Daily spend of every touchpoint, after the calendar's flight multipliers (row 0 is
            day 0 and must be 0). ``media.spend_shape`` times a daily amount gives a flight's
            spend. Delivery, fatigue and exposure effect are recomputed from it exactly as
            :func:`~jsim.model.compile_scenario` does; everything else is shared.

        Raises
        ------
        ValueError
            Wrong shape, or a spend that is negative or not finite.
        ScenarioError
            The new fatigue makes an exposure's effects exceed 1 on some day.
        """
        spend = np.array(spend, dtype=np.float64)
        shape = (self.n_days + 1, self.n_touchpoints)
        if spend.shape != shape:
            raise ValueError(f"spend must have shape (T+1, J) = {shape}, got {spend.shape}")
        if not np.all(np.isfinite(spend)) or np.any(spend < 0):
            raise ValueError(f"spend must be finite and >= 0 on every day, got min {np.nanmin(spend):g}")
        if np.any(spend[0] != 0):
            raise ValueError(f"spend on day 0 (the initial state) must be 0, got {spend[0].tolist()}")
        delivery, fatigue, exposure_effect = deliver(self.media, spend)
        check_day_probabilities(
            self.p0,
            self.q,
            fatigue * self.effect_mult,
            self.day_mult,
            self.is_purchase,
            self.stage_names,
            self.touchpoint_names,
        )
        exposure_effect = np.ascontiguousarray(exposure_effect)
        for a in (spend, delivery, fatigue, exposure_effect):
            a.setflags(write=False)
        return dataclasses.replace(
            self,
            spend=spend,
            delivery=delivery,
            fatigue=fatigue,
            exposure_effect=exposure_effect,
            spend_overridden=True,
        )

    def without_touchpoints(self, names) -> CompiledModel:
        """The same model with touchpoints ``names`` switched off: they deliver nothing and cost nothing.

        Their delivery, exposure effect and spend are 0 on every day (a service gets no requests),
        so they move nobody; everything else, the other touchpoints and the sources included, is
        as it was, so a run of this model on a seed is paired with the full model's run on that
        seed (the counterfactual of attribution against the truth).

        Raises
        ------
        ValueError
            A name that is not a touchpoint of the model.
        """
        names = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in names if n not in self.touchpoint_names]
        if unknown:
            raise ValueError(f"touchpoints to switch off must be among {list(self.touchpoint_names)}, got {unknown}")
        off = [self.touchpoint_names.index(n) for n in names]
        arrays = {}
        for field_name in ("spend", "delivery", "exposure_effect"):
            a = np.array(getattr(self, field_name), dtype=np.float64)
            a[:, off] = 0.0
            a = np.ascontiguousarray(a)
            a.setflags(write=False)
            arrays[field_name] = a
        return dataclasses.replace(self, **arrays, spend_overridden=True)
