"""Defect-map tool: the spatial pattern of the inspected glass and the chamber the patterned glass shared.

A thin wrapper over :func:`fabmind.models.defect_map_causes.pattern_evidence`: the AOI maps of the
window are classified (:class:`~fabmind.models.defect_maps.DefectPatternClassifier`), and for each
pattern a one-sided Fisher test says which chamber its glasses went through more than their peers.

The classifier comes from ``deps.cache["defect_pattern_classifier"]`` when a deployment (or a test)
puts one there, else :func:`~fabmind.models.defect_map_causes.default_classifier`, cached on disk under
``Settings.models_dir`` (trained once on simulated maps, ~20 s; loaded in ~0.1 s afterwards).
"""

from __future__ import annotations

from typing import Any

from fabmind.agents.fabtools.fdc import _store
from fabmind.agents.fabtools.production import window
from fabmind.agents.results import DefectPatternSummary, PatternFinding
from fabmind.agents.tools import ToolDeps, ToolUnavailable, tool

CLASSIFIER_KEY = "defect_pattern_classifier"


def pattern_classifier(deps: ToolDeps) -> Any:
    """The deployment's pattern classifier (``deps.cache``) or the default one, cached under the models folder."""
    clf = deps.cache.get(CLASSIFIER_KEY)
    if clf is None:
        from fabmind.models.defect_map_causes import default_classifier

        models_dir = getattr(deps.settings, "models_dir", None)
        clf = deps.cache[CLASSIFIER_KEY] = default_classifier(cache_dir=models_dir)
    return clf


def pattern_report(deps: ToolDeps, days: float) -> Any:
    """The :class:`~fabmind.models.defect_map_causes.PatternReport` of the last ``days`` (cached per session)."""
    key = f"defect_maps:{days}"
    if key not in deps.cache:
        from fabmind.models.defect_map_causes import pattern_evidence

        store = _store(deps)
        start, end = window(deps, days)
        deps.cache[key] = pattern_evidence(store, start, end, classifier=pattern_classifier(deps), max_per_pattern=4)
    return deps.cache[key]


def _types(deps: ToolDeps) -> dict[str, str]:
    key = "chamber_types"
    if key not in deps.cache:
        frame = _store(deps).chambers_frame()
        deps.cache[key] = dict(zip(frame["chamber_id"], frame["type_id"]))
    return deps.cache[key]


def _finding(e: Any, types: dict[str, str]) -> PatternFinding:
    return PatternFinding(
        rank=e.rank, pattern=e.pattern, chamber_id=e.chamber_id, equipment_id=e.equipment_id,
        equipment_type=str(types.get(e.chamber_id, "")), step_id=e.step_id, n_glass=e.n_substrates,
        n_pattern_glass=e.n_pattern_substrates, share=round(e.share, 3), peer_share=round(e.peer_share, 3),
        p_value=float(f"{e.p_value:.2g}"), mean_probability=round(e.mean_probability, 2),
        first_seen=e.first_seen, last_seen=e.last_seen, n_lots=len(e.lots), lots_sample=tuple(e.lots[:5]),
        consistent=e.consistent, failure_modes=tuple(m.failure_mode for m in e.failure_modes))


@tool
def defect_map_patterns(deps: ToolDeps, days: float = 30.0, chamber_id: str | None = None,
                        top: int = 8) -> DefectPatternSummary:
    """Spatial patterns of the AOI defect maps (edge ring, centre, donut, scratch, cluster ...) over the last days, and for each pattern the chamber its glasses shared: pattern, classifier probability, number of glasses, chamber, step, share against peers, Fisher p.

    Parameters:
        days: how many days back from now
        chamber_id: only findings on this chamber, e.g. CVD-02/A
        top: how many pattern -> chamber findings (strongest first)
    """
    rep = pattern_report(deps, days)
    if rep.n_maps == 0:
        start, end = window(deps, days)
        raise ToolUnavailable(f"no AOI defects between {start:%Y-%m-%d} and {end:%Y-%m-%d}")
    types = _types(deps)
    items = [e for e in rep.evidence if chamber_id is None or e.chamber_id == chamber_id]
    clf = pattern_classifier(deps)
    meta = getattr(clf, "metadata_", None)
    model = "/".join(x for x in (getattr(meta, "family", ""), getattr(meta, "name", ""),
                                 getattr(meta, "version", "")) if x) or type(clf).__name__
    start, end = window(deps, days)
    return DefectPatternSummary(
        window_start=start, window_end=end, n_maps=rep.n_maps, n_classified=rep.n_maps - rep.n_sparse,
        counts=dict(sorted(rep.counts.items(), key=lambda kv: -kv[1])), n_novel=rep.n_novel,
        findings=tuple(_finding(e, types) for e in items[:top]), model=model)
