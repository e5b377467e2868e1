"""Typed results of yield commonality analysis: what the yield agent cites.

An :class:`Excursion` says *what* went wrong (which lots, when, against which control limit);
a :class:`Cause` says *where* it most likely came from (step x chamber, recipe, a fab-wide
time window or a maintenance event), with the statistics behind the claim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class CommonalityError(ValueError):
    """The data cannot be analysed (no route history, no yields, wrong columns); the message says why."""


class CauseKind(StrEnum):
    STEP_CHAMBER = "step_chamber"  # lots through this chamber at this step yield less
    CHAMBER = "chamber"  # lots through this chamber yield less at every step it runs (pooled)
    RECIPE = "recipe"  # lots run with this recipe at this step yield less
    TIME_WINDOW = "time_window"  # every route yields less in this window (material, facility ...)
    PM_EVENT = "pm_event"  # the chamber's effect began right after this maintenance work order


@dataclass(frozen=True)
class Excursion:
    """Lots whose metric crossed the control limit, grouped into one episode in time."""

    excursion_id: str
    metric: str  # 'yield_pct' or 'defects:<class>'
    direction: str  # 'low' (yield) or 'high' (defect counts)
    start: datetime  # first out-of-limit lot (its metric timestamp)
    end: datetime  # last out-of-limit lot
    lots: tuple[str, ...]  # the out-of-limit lots
    control_limit: float  # the limit they crossed (centre -/+ k sigma, robust)
    center_line: float  # the metric's normal level (median)
    sigma: float  # robust spread of the metric (1.4826 x MAD)
    mean_value: float  # mean metric of the excursion lots
    worst_value: float  # worst metric among them

    @property
    def n_lots(self) -> int:
        return len(self.lots)


@dataclass(frozen=True)
class Cause:
    """A candidate cause, ranked by statistical evidence (``rank`` 1 = most likely).

    ``effect_size`` is, in the metric's unit, the mean of the affected units minus that of their
    peers (same step, same time window, other chambers); with glass-level data both are taken
    relative to each glass's lot-mates. Negative means lower yield. ``p_value`` is the larger of
    the one-sided Mann-Whitney p-value and the scan-statistic p-value of finding so strong a
    stretch anywhere in the chamber's series (the onset is chosen on the same data);
    ``p_adjusted`` is the Benjamini-Hochberg (or Holm) correction over all candidates tested.
    ``tree_importance`` is the candidate's share of a gradient-boosted model's gain when all
    accepted candidates compete to explain the metric (0..1).

    Ranking: chamber / step x chamber / recipe causes by ``z_score`` (evidence after the
    higher-ranked causes' units were removed); a PM-event cause sits right after the chamber
    cause it explains; a time-window cause (what the others leave unexplained) comes last.
    """

    rank: int
    kind: CauseKind
    metric: str
    step_id: str | None  # None for a chamber cause pooled over its steps (see ``steps``)
    chamber_id: str | None
    equipment_id: str | None
    recipe_id: str | None
    work_order_id: str | None
    effect_size: float
    effect_sigma: float  # effect in units of the metric's normal spread
    p_value: float
    p_adjusted: float
    z_score: float  # evidence after explaining away higher-ranked causes (larger = stronger)
    n_affected_lots: int
    n_affected_units: int  # substrates (or lots when yields are per lot)
    n_peer_units: int
    onset: datetime | None  # when the effect began (change point of the chamber's series)
    end: datetime | None  # last affected run
    tree_importance: float
    steps: tuple[str, ...] = ()  # the steps the evidence comes from
    test: str = "mann-whitney-u (one-sided)"
    affected_lots: tuple[str, ...] = field(default=(), repr=False)

    def label(self) -> str:
        if self.kind == CauseKind.STEP_CHAMBER:
            return f"{self.chamber_id} at step {self.step_id}"
        if self.kind == CauseKind.CHAMBER:
            return f"{self.chamber_id} at all its steps ({', '.join(self.steps)})"
        if self.kind == CauseKind.RECIPE:
            return f"recipe {self.recipe_id} at step {self.step_id}"
        if self.kind == CauseKind.PM_EVENT:
            return f"work order {self.work_order_id} on {self.chamber_id}"
        return f"time window {self.onset:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class CommonalityReport:
    """Everything one analysis found, over one data window."""

    metric: str
    unit: str  # 'substrate' or 'lot'
    window_start: datetime | None
    window_end: datetime | None
    n_lots: int
    n_units: int
    n_candidates: int  # candidates tested (the multiple-testing family size)
    correction: str
    excursions: tuple[Excursion, ...]
    causes: tuple[Cause, ...]  # significant causes, ranked
    seconds: float

    def causes_for(self, excursion: Excursion, k: int = 5, route_days: float = 5.0) -> tuple[Cause, ...]:
        """The causes of one excursion: first those whose affected lots include the excursion's lots
        (most lots explained first, then by rank), then those active in the ``route_days`` before
        the excursion or during it (by rank) - lots finish their route days after the run that hurt them."""
        lots = set(excursion.lots)
        by_lots, by_time = [], []
        lead = timedelta(days=route_days)
        for c in self.causes:
            hit = len(lots.intersection(c.affected_lots))
            if hit:
                by_lots.append((-hit, c.rank, c))
            elif (
                c.onset is not None
                and c.end is not None
                and c.onset <= excursion.end
                and c.end >= excursion.start - lead
            ):
                by_time.append((0, c.rank, c))
        by_lots.sort(key=lambda s: (s[0], s[1]))
        by_time.sort(key=lambda s: s[1])
        return tuple(c for _, _, c in (by_lots + by_time)[:k])

    def top(self, k: int = 3) -> tuple[Cause, ...]:
        return self.causes[:k]
