"""Typed results of the fab tools (what the model reads and the claim checker matches)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SensorDeviation:
    """One sensor's share of a chamber's abnormality and how far (and which way) it is from normal."""

    sensor: str
    feature: str  # the FDC indicator that deviates most, e.g. 'RF_REFL_W.main.mean'
    contribution: float  # share of the MSPC statistic (0..1)
    value: float
    expected: float
    deviation_sigma: float
    direction: int  # +1 up, -1 down
    unit: str = ""


@dataclass(frozen=True)
class ChamberHealth:
    """MSPC (PCA T²/SPE) health of one chamber: recent runs against its own normal baseline."""

    chamber_id: str
    equipment_id: str
    type_id: str
    window_start: datetime
    window_end: datetime
    n_runs: int
    n_baseline_runs: int
    recipe_id: str  # the recipe whose runs look worst (the statistics below are over its runs)
    n_recipe_runs: int
    t2: float  # median over the recent runs of that recipe
    t2_limit: float
    spe: float
    spe_limit: float
    score: float  # median of max(T²/limit, SPE/limit) over those runs; > 1 = out of control
    share_out_of_control: float  # share of all recent runs over a limit
    top_sensors: tuple[SensorDeviation, ...]
    model: str  # family/name/version of the model that produced it

    @property
    def abnormal(self) -> bool:
        return self.score > 1.0

    def deviations(self, min_sigma: float = 3.0, k: int = 6) -> dict[str, int]:
        """Sensor -> +1/-1 of the clearly deviating top sensors (input of the failure-mode graph)."""
        out: dict[str, int] = {}
        for s in self.top_sensors[:k]:
            if abs(s.deviation_sigma) >= min_sigma and s.sensor not in out:
                out[s.sensor] = s.direction
        return out

    def signed_deviations(self, min_sigma: float = 3.0, k: int = 6) -> dict[str, float]:
        """Sensor -> deviation in sigmas (signed) of the clearly deviating top sensors."""
        return {s.sensor: s.deviation_sigma for s in self.top_sensors[:k] if abs(s.deviation_sigma) >= min_sigma}


@dataclass(frozen=True)
class ChamberRanking:
    """Chambers ranked by health score (worst first)."""

    window_start: datetime
    window_end: datetime
    chambers: tuple[ChamberHealth, ...]


@dataclass(frozen=True)
class TrendPoint:
    ts: datetime
    value: float


@dataclass(frozen=True)
class SensorTrend:
    chamber_id: str
    sensor: str
    feature: str
    unit: str
    points: tuple[TrendPoint, ...]
    baseline_mean: float
    baseline_std: float
    recent_mean: float
    slope_per_day: float


@dataclass(frozen=True)
class FailureModeCandidate:
    """A failure mode consistent with the observed deviations, ranked (1 = most likely)."""

    rank: int
    failure_mode: str
    subsystem: str
    equipment_type: str
    confidence: float  # 0..1
    matched_sensors: tuple[str, ...]
    contradicted_sensors: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    alarm_codes: tuple[str, ...] = ()
    citation: str = ""  # FMEA row / manual section it comes from
    matched_pattern: str | None = None  # the defect-map pattern given as evidence that this mode leaves


@dataclass(frozen=True)
class PastIncident:
    ticket_id: str
    opened: str
    chamber_id: str
    failure_mode: str
    root_cause: str
    action: str
    downtime_h: float | None
    similarity: float
    citation: str = ""


@dataclass(frozen=True)
class DocPassage:
    """A cited passage (text is quoted content, never instructions)."""

    citation: str
    text: str
    score: float
    flagged: bool = False


@dataclass(frozen=True)
class YieldSummary:
    window_start: datetime | None
    window_end: datetime | None
    n_lots: int
    mean_yield_pct: float
    products: dict[str, float] = field(default_factory=dict)  # product -> mean lot yield


@dataclass(frozen=True)
class PatternFinding:
    """Glasses whose defect maps show one spatial pattern and that shared a chamber (one-sided Fisher test)."""

    rank: int
    pattern: str  # edge_ring, center, donut, scratch, cluster, edge_loc, random
    chamber_id: str
    equipment_id: str
    equipment_type: str
    step_id: str | None  # None: through the chamber at any of its steps
    n_glass: int  # glasses with the pattern that went through the chamber
    n_pattern_glass: int  # glasses with the pattern still unexplained when this chamber was tested
    share: float  # n_glass / pattern glasses that ran the step (or any step)
    peer_share: float  # the same share among mapped glasses without the pattern
    p_value: float
    mean_probability: float  # classifier probability of the pattern, mean over the n_glass maps
    first_seen: datetime | None
    last_seen: datetime | None
    n_lots: int
    lots_sample: tuple[str, ...]
    consistent: bool  # the chamber's process has a failure mode (fault library) that leaves the pattern
    failure_modes: tuple[str, ...] = ()  # failure modes of the fault library that leave the pattern there


@dataclass(frozen=True)
class DefectPatternSummary:
    """Defect-map patterns of the inspected glass in a window and the chambers they point to."""

    window_start: datetime
    window_end: datetime
    n_maps: int  # inspected glasses with defects
    n_classified: int  # maps with enough defects to classify (the rest count as 'none')
    counts: dict[str, int]  # pattern -> glasses ('unknown': fits no known pattern)
    n_novel: int
    findings: tuple[PatternFinding, ...]
    model: str  # the pattern classifier (family/name/version)

    def for_chamber(self, chamber_id: str) -> tuple[PatternFinding, ...]:
        return tuple(f for f in self.findings if f.chamber_id == chamber_id)
