"""Pattern -> cause: which chamber the substrates with one defect-map pattern shared, as typed evidence.

The yield agent and the failure-mode graph cite this: *"edge_ring maps on 41 glasses (93 % of the
edge-ring glasses) that went through CVD-02/A at S01-GI-DEP, against 31 % of their peers (Fisher
p = 2e-19); failure modes that leave an edge ring on a CVD chamber: susceptor heater degradation"*.

1. :func:`load_maps` reads the defects of every inspected substrate from the store (geometry from
   the inspection's ``glass_width_mm``/``glass_height_mm`` or ``wafer_diameter_mm`` measurements,
   else the given default) and the classifier labels each map (:mod:`fabmind.models.defect_maps`).
2. For each pattern (``none`` excluded, novel maps kept apart; a ``mixed`` map counts for both of its
   component patterns) the substrates with that pattern are
   compared with all other mapped substrates at every step x chamber (and every chamber over all
   its steps) of the route history: share through the chamber vs the peers' share, one-sided
   Fisher exact test. The best candidate is taken, the pattern substrates that ran on its chamber
   (at any step) are removed, and the rest re-tested (a second chamber with the same pattern
   shows up as a second item), up to ``max_per_pattern``.
3. The pattern is also knowledge: :func:`candidate_failure_modes` maps it to the failure modes of
   the fault library that leave it, and with ``prefer_consistent`` a chamber whose process has such
   a failure mode ranks before one that does not (both must pass ``alpha``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import numpy as np
import pandas as pd

from fabmind.models.defect_maps import DefectPatternClassifier, PatternPrediction
from fabmind.sim.defect_maps import GLASS, DefectMap, Geometry

GEOMETRY_KEYS = ("glass_width_mm", "glass_height_mm", "wafer_diameter_mm")


@dataclass(frozen=True)
class FailureModeCandidate:
    """A failure mode of the fault library / FMEA that leaves a given defect pattern."""

    fault_type: str
    failure_mode: str
    subsystem: str
    processes: tuple[str, ...]  # cvd, etch, photo
    root_cause: str
    repair: str


@lru_cache(maxsize=1)
def pattern_failure_modes() -> dict[str, tuple[FailureModeCandidate, ...]]:
    """Pattern -> the failure modes that leave it (from :data:`fabmind.sim.faults.FAULT_LIBRARY`)."""
    from fabmind.sim.faults import FAULT_LIBRARY

    out: dict[str, list[FailureModeCandidate]] = {}
    for ft in FAULT_LIBRARY.values():
        out.setdefault(ft.defect_pattern, []).append(FailureModeCandidate(
            ft.fault_type, ft.failure_mode, ft.subsystem, tuple(ft.equipment_process), ft.root_cause, ft.repair))
    return {k: tuple(v) for k, v in out.items()}


def candidate_failure_modes(pattern: str, process: str | None = None) -> tuple[FailureModeCandidate, ...]:
    """Failure modes that leave ``pattern`` (on chambers of ``process`` when given: cvd, etch, photo)."""
    modes = pattern_failure_modes().get(pattern, ())
    return tuple(m for m in modes if process is None or process in m.processes)


@dataclass(frozen=True)
class PatternEvidence:
    """Substrates with one map pattern that shared a chamber (at a step), with the test behind it."""

    rank: int
    pattern: str
    chamber_id: str
    equipment_id: str
    step_id: str | None  # None: through the chamber at any of its steps
    n_pattern_substrates: int  # substrates with this pattern still unexplained when this item was tested
    n_substrates: int  # of those, how many went through the chamber
    share: float  # n_substrates / substrates with the pattern that ran the step
    peer_share: float  # the same share among mapped substrates without the pattern
    lift: float
    p_value: float  # one-sided Fisher exact (hypergeometric)
    mean_probability: float  # classifier probability of the pattern, mean over the n_substrates
    first_seen: datetime | None  # first / last run of those substrates on the chamber
    last_seen: datetime | None
    consistent: bool  # the chamber's process has a failure mode that leaves this pattern
    failure_modes: tuple[FailureModeCandidate, ...] = ()
    lots: tuple[str, ...] = field(default=(), repr=False)
    substrate_ids: tuple[str, ...] = field(default=(), repr=False)

    def label(self) -> str:
        where = f"{self.chamber_id} at {self.step_id}" if self.step_id else f"{self.chamber_id} (any step)"
        return (f"{self.pattern} maps on {self.n_substrates} substrates ({self.share:.0%} of them) that shared {where}, "
                f"peers {self.peer_share:.0%}, p={self.p_value:.1e}")


@dataclass(frozen=True)
class PatternReport:
    """What the map analysis found in one window: pattern counts and the chamber evidence, ranked."""

    n_maps: int
    counts: dict[str, int]  # pattern -> substrates (novel maps under 'unknown')
    n_novel: int
    evidence: tuple[PatternEvidence, ...]
    predictions: tuple[PatternPrediction, ...] = field(default=(), repr=False)
    seconds: float = 0.0

    def for_chamber(self, chamber_id: str) -> tuple[PatternEvidence, ...]:
        return tuple(e for e in self.evidence if e.chamber_id == chamber_id)

    def top(self, k: int = 3) -> tuple[PatternEvidence, ...]:
        return self.evidence[:k]


def _geometry(row: pd.Series, default: Geometry) -> Geometry:
    d = row.get("wafer_diameter_mm", np.nan)
    if pd.notna(d):
        return Geometry.wafer(float(d))
    w, h = row.get("glass_width_mm", np.nan), row.get("glass_height_mm", np.nan)
    if pd.notna(w) and pd.notna(h):
        return Geometry.glass(float(w), float(h))
    return default


def load_maps(store, start: datetime | None = None, end: datetime | None = None,
              geometry: Geometry = GLASS) -> list[DefectMap]:
    """One map per inspected substrate with defects (its latest inspection that found defects)."""
    defects = store.defects(start=start, end=end)
    if defects.empty:
        return []
    latest = defects.sort_values("ts").groupby("substrate_id")["inspection_id"].last()
    defects = defects[defects["inspection_id"].isin(set(latest.values))]
    ins = store.inspections(start=start, end=end)
    geo_cols = [c for c in GEOMETRY_KEYS if c in ins.columns]
    geo = ins.set_index("inspection_id")[geo_cols] if geo_cols else pd.DataFrame(index=ins["inspection_id"])
    maps = []
    for (sub, insp), g in defects.groupby(["substrate_id", "inspection_id"], sort=True):
        geom = _geometry(geo.loc[insp], geometry) if insp in geo.index and geo_cols else geometry
        maps.append(DefectMap(str(sub), geom, g["x_mm"].to_numpy(), g["y_mm"].to_numpy(),
                              tuple(g["defect_class"]), lot_id=str(g["lot_id"].iloc[0] or "")))
    return maps


@lru_cache(maxsize=2)
def default_classifier(n_maps: int = 6000, seed: int = 0) -> DefectPatternClassifier:
    """A classifier trained on simulated maps (cached in-process; ~10-30 s on a busy 2-core machine)."""
    from fabmind.models.defect_maps import train_pattern_classifier

    return train_pattern_classifier(n_maps=n_maps, seed=seed)


def _candidates(groups: pd.Series, history: pd.DataFrame, universe: int, step_counts: pd.Series) -> pd.DataFrame:
    """Per (step, chamber) and per chamber (step None): pattern hits a, pattern at step b, peers c, d."""
    from scipy.stats import hypergeom

    h = history.assign(hit=history["substrate_id"].isin(groups.index))
    n_pat = int(groups.size)
    step_pat = h.drop_duplicates(["step_id", "substrate_id"]).groupby("step_id")["hit"].sum()
    per = h.drop_duplicates(["step_id", "chamber_id", "substrate_id"]).groupby(["step_id", "chamber_id"])["hit"] \
        .agg(a="sum", n="count").reset_index()
    per["b"] = per["step_id"].map(step_pat).astype(float)
    per["d"] = per["step_id"].map(step_counts).astype(float) - per["b"]
    pooled = h.drop_duplicates(["chamber_id", "substrate_id"]).groupby("chamber_id")["hit"] \
        .agg(a="sum", n="count").reset_index()
    pooled["step_id"], pooled["b"], pooled["d"] = None, float(n_pat), float(universe - n_pat)
    c = pd.concat([per, pooled], ignore_index=True)
    c["c"] = c["n"] - c["a"]
    c = c[(c["a"] > 0) & (c["b"] > 0)].copy()
    c["share"] = c["a"] / c["b"]
    c["peer_share"] = np.where(c["d"] > 0, c["c"] / c["d"].clip(lower=1), 0.0)
    c["lift"] = c["share"] / c["peer_share"].clip(lower=1e-3)
    c["p_value"] = hypergeom.sf(c["a"] - 1, c["b"] + c["d"], c["n"], c["b"])
    return c


def pattern_evidence(store, start: datetime | None = None, end: datetime | None = None,
                     classifier: DefectPatternClassifier | None = None, *, geometry: Geometry = GLASS,
                     min_substrates: int = 3, min_probability: float = 0.5, alpha: float = 1e-3,
                     max_per_pattern: int = 3, prefer_consistent: bool = True,
                     maps: Sequence[DefectMap] | None = None) -> PatternReport:
    """Classify the maps of the window and say which chamber the substrates of each pattern shared."""
    t0 = time.perf_counter()
    clf = classifier or default_classifier()
    maps = list(maps) if maps is not None else load_maps(store, start, end, geometry)
    preds = clf.classify_maps(maps)
    counts: dict[str, int] = {}
    for p in preds:
        counts[p.label] = counts.get(p.label, 0) + 1
    n_novel = counts.get("unknown", 0)
    if not preds:
        return PatternReport(0, {}, 0, (), (), time.perf_counter() - t0)
    mapped = pd.Series({p.substrate_id: p for p in preds})
    history = store.lot_history()
    history = history[history["substrate_id"].isin(mapped.index)][["substrate_id", "lot_id", "step_id", "chamber_id",
                                                                   "start"]]
    process = store.chambers_frame().set_index("chamber_id")["process"].str.lower().to_dict() if len(history) else {}
    step_counts = history.drop_duplicates(["step_id", "substrate_id"]).groupby("step_id").size()
    universe = int(history["substrate_id"].nunique())
    evidence: list[PatternEvidence] = []
    for pattern in sorted({c for p in preds if not p.is_novel for c in p.components}):
        members = mapped[[not p.is_novel and pattern in p.components and p.probability >= min_probability
                          for p in mapped.values]]
        for _ in range(max_per_pattern):
            if len(members) < min_substrates:
                break
            cand = _candidates(members, history, universe, step_counts)
            cand = cand[(cand["p_value"] < alpha) & (cand["a"] >= min_substrates) & (cand["lift"] > 1)]
            if cand.empty:
                break
            cand["consistent"] = [bool(candidate_failure_modes(pattern, process.get(ch))) for ch in cand["chamber_id"]]
            keys = (["consistent"] if prefer_consistent else []) + ["p_value", "a"]
            best = cand.sort_values(keys, ascending=[False] * prefer_consistent + [True, False]).iloc[0]
            rows = history[(history["chamber_id"] == best["chamber_id"])
                           & (history["substrate_id"].isin(members.index))]
            if best["step_id"] is not None and pd.notna(best["step_id"]):
                rows = rows[rows["step_id"] == best["step_id"]]
            subs = tuple(sorted(rows["substrate_id"].unique()))
            evidence.append(PatternEvidence(
                rank=0, pattern=pattern, chamber_id=str(best["chamber_id"]),
                equipment_id=str(best["chamber_id"]).split("/")[0],
                step_id=None if best["step_id"] is None or pd.isna(best["step_id"]) else str(best["step_id"]),
                n_pattern_substrates=len(members), n_substrates=len(subs), share=float(best["share"]),
                peer_share=float(best["peer_share"]), lift=float(best["lift"]), p_value=float(best["p_value"]),
                mean_probability=float(np.mean([members[s].probability for s in subs])),
                first_seen=rows["start"].min().to_pydatetime(), last_seen=rows["start"].max().to_pydatetime(),
                consistent=bool(best["consistent"]),
                failure_modes=candidate_failure_modes(pattern, process.get(str(best["chamber_id"]))),
                lots=tuple(sorted(rows["lot_id"].unique())), substrate_ids=subs))
            # the chamber explains its pattern substrates at every step it ran them, not only this one
            explained = history[(history["chamber_id"] == best["chamber_id"])
                                & history["substrate_id"].isin(members.index)]["substrate_id"].unique()
            members = members.drop(list(explained))
    evidence.sort(key=lambda e: (not e.consistent, e.p_value, -e.n_substrates))
    ranked = tuple(_with_rank(e, i + 1) for i, e in enumerate(evidence))
    return PatternReport(len(preds), counts, n_novel, ranked, tuple(preds), time.perf_counter() - t0)


def _with_rank(e: PatternEvidence, rank: int) -> PatternEvidence:
    from dataclasses import replace

    return replace(e, rank=rank)
