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
from pathlib import Path

import numpy as np
import pandas as pd

from fabmind.models.base import SmallModel
from fabmind.models.defect_maps import DefectPatternClassifier, PatternPrediction
from fabmind.sim.defect_maps import GLASS, DefectMap, Geometry

GEOMETRY_KEYS = ("glass_width_mm", "glass_height_mm", "wafer_diameter_mm")
#: Maps with fewer defects are not classified (pattern 'none'). On the demo fab's glass with the
#: simulator's own ~9 defects per faulty glass, the classifier found 6.5 % of the patterns, and maps
#: drawn from the training shapes at those counts 1-23 % per pattern (``bench/defect_maps.py``).
MIN_DEFECTS = 10


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
    n_sparse: int = 0  # maps under min_defects defects: counted as 'none', not classified

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
    defects = defects.sort_values(["substrate_id", "inspection_id"], kind="stable")
    keys = defects["substrate_id"].astype(str).to_numpy() + "\x00" + defects["inspection_id"].astype(str).to_numpy()
    cut = np.r_[0, np.nonzero(keys[1:] != keys[:-1])[0] + 1, len(keys)]  # one block per (substrate, inspection)
    x, y = defects["x_mm"].to_numpy(float), defects["y_mm"].to_numpy(float)
    cls, subs = defects["defect_class"].to_numpy(), defects["substrate_id"].to_numpy()
    insps, lots = defects["inspection_id"].to_numpy(), defects["lot_id"].to_numpy()
    geo_of: dict[str, Geometry] = {}
    maps = []
    for a, b in zip(cut[:-1], cut[1:]):
        insp = insps[a]
        if insp not in geo_of:
            geo_of[insp] = _geometry(geo.loc[insp], geometry) if geo_cols and insp in geo.index else geometry
        maps.append(DefectMap(str(subs[a]), geo_of[insp], x[a:b], y[a:b], tuple(cls[a:b]),
                              lot_id=str(lots[a] or "")))
    return maps


_TRAINED: dict[tuple[int, int], DefectPatternClassifier] = {}
#: The code a trained default classifier depends on: a change in any of them retrains it.
CLASSIFIER_SOURCES = ("fabmind.sim.defect_maps", "fabmind.models.defect_map_features", "fabmind.models.defect_maps")


def classifier_fingerprint(n_maps: int = 6000, seed: int = 0) -> str:
    """12 hex digits over the training recipe (sizes, seed), the code of :data:`CLASSIFIER_SOURCES` and
    the LightGBM / scikit-learn versions: the name of the cached model file."""
    import hashlib
    import importlib
    import inspect
    from importlib.metadata import version

    h = hashlib.sha256(f"{n_maps}:{seed}:{version('lightgbm')}:{version('scikit-learn')}".encode())
    for name in CLASSIFIER_SOURCES:
        h.update(inspect.getsource(importlib.import_module(name)).encode())
    return h.hexdigest()[:12]


def default_classifier(n_maps: int = 6000, seed: int = 0, cache_dir: str | Path | None = None) -> DefectPatternClassifier:
    """The pattern classifier trained on ``n_maps`` simulated maps, trained once and then reused.

    Training takes ~20 s on a busy 2-core machine (features ~12 s, LightGBM ~8 s), so the model is kept
    in-process and, with ``cache_dir`` (e.g. ``Settings.models_dir``), on disk as
    ``defect_pattern-<fingerprint>.pkl`` (:func:`classifier_fingerprint`: a code or library change
    trains a new one); loading it takes ~0.1 s.
    """
    key = (int(n_maps), int(seed))
    if key in _TRAINED:
        return _TRAINED[key]
    path = Path(cache_dir) / f"defect_pattern-{classifier_fingerprint(*key)}.pkl" if cache_dir is not None else None
    clf: DefectPatternClassifier | None = None
    if path is not None and path.exists():
        try:
            loaded = SmallModel.load(path)
            clf = loaded if isinstance(loaded, DefectPatternClassifier) else None
        except Exception:  # noqa: BLE001  # a damaged or foreign file: train a new one over it
            clf = None
    if clf is None:
        from fabmind.models.defect_maps import train_pattern_classifier

        clf = train_pattern_classifier(n_maps=key[0], seed=key[1])
        if path is not None:
            _save_atomically(clf, path)
    _TRAINED[key] = clf
    return clf


def _save_atomically(clf: DefectPatternClassifier, path: Path) -> None:
    """Write via a temporary name and rename, so a reader never sees half a file (parallel test runs)."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".pkl", dir=path.parent)
    os.close(fd)
    try:
        clf.save(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the models folder is shared like the other models
        os.replace(Path(tmp).with_suffix(".json"), path.with_suffix(".json"))
        os.replace(tmp, path)
    finally:
        for p in (Path(tmp), Path(tmp).with_suffix(".json")):
            p.unlink(missing_ok=True)


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


def _too_few(m: DefectMap) -> PatternPrediction:
    """A map with too few defects to carry a pattern: 'none', not classified (probability nan)."""
    return PatternPrediction(m.substrate_id, "none", float("nan"), 0.0, False, m.n_defects, ())


def pattern_evidence(store, start: datetime | None = None, end: datetime | None = None,
                     classifier: DefectPatternClassifier | None = None, *, geometry: Geometry = GLASS,
                     min_substrates: int = 3, min_probability: float = 0.5, alpha: float = 1e-3,
                     max_per_pattern: int = 3, prefer_consistent: bool = True, min_defects: int = MIN_DEFECTS,
                     maps: Sequence[DefectMap] | None = None) -> PatternReport:
    """Classify the maps of the window and say which chamber the substrates of each pattern shared.

    Maps with fewer than ``min_defects`` defects are not classified: they count as ``none`` (and as
    peers in the chamber tests). A handful of defects carries no recognisable pattern (see
    :data:`MIN_DEFECTS`), and skipping them saves most of the classification time on a fab where
    most glass is clean.
    """
    t0 = time.perf_counter()
    clf = classifier or default_classifier()
    maps = list(maps) if maps is not None else load_maps(store, start, end, geometry)
    dense = [m for m in maps if m.n_defects >= min_defects]
    classified = iter(clf.classify_maps(dense))
    preds = [next(classified) if m.n_defects >= min_defects else _too_few(m) for m in maps]
    counts: dict[str, int] = {}
    for p in preds:
        counts[p.label] = counts.get(p.label, 0) + 1
    n_novel = counts.get("unknown", 0)
    if not preds:
        return PatternReport(0, {}, 0, (), (), time.perf_counter() - t0, 0)
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
    return PatternReport(len(preds), counts, n_novel, ranked, tuple(preds), time.perf_counter() - t0,
                         len(maps) - len(dense))


def _with_rank(e: PatternEvidence, rank: int) -> PatternEvidence:
    from dataclasses import replace

    return replace(e, rank=rank)
