"""Charts as data, built from the tool results an answer relied on (same in LLM and built-in mode)."""

from __future__ import annotations

import re
from typing import Any

from fabmind.agents.report import Figure, Series
from fabmind.agents.results import ChamberHealth, ChamberRanking, DefectPatternSummary, SensorTrend
from fabmind.agents.tools import Evidence


def figure_id(*parts: str) -> str:
    """A file- and anchor-safe figure id: ``figure_id("contrib", "ETCH-03/B") == "contrib-ETCH-03_B"``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(parts))


def figures_from_evidence(evidence: Evidence, max_figures: int = 8) -> list[Figure]:
    figs: list[Figure] = []
    seen: set[str] = set()
    for r in evidence.results:
        if not r.ok:
            continue
        for f in _figures_of(r.tool, r.value, r.result_id):
            if f.figure_id not in seen:
                seen.add(f.figure_id)
                figs.append(f)
    return figs[:max_figures]


def _figures_of(tool: str, value: Any, rid: str) -> list[Figure]:
    if isinstance(value, ChamberRanking):
        return [_contrib(h, rid) for h in value.chambers[:1] if h.abnormal] + [_ranking(value, rid)]
    if isinstance(value, ChamberHealth):
        return [_contrib(value, rid)]
    if isinstance(value, SensorTrend) and value.points:
        hl = [(value.baseline_mean, "baseline mean")] if value.baseline_mean == value.baseline_mean else []
        return [Figure(figure_id("trend", value.chamber_id, value.sensor), f"{value.sensor} on {value.chamber_id}",
                       "line", [Series(value.feature, [p.ts for p in value.points], [p.value for p in value.points])],
                       xlabel="run start", ylabel=value.unit or value.sensor, hlines=hl, evidence=(rid,),
                       caption=f"Run means of {value.feature} [{rid}]")]
    if tool == "commonality_analysis" and isinstance(value, dict) and value.get("causes"):
        causes = value["causes"]
        return [Figure("yield-causes", "Ranked causes of low yield (effect in sigmas)", "hbar",
                       [Series("effect", [c["label"] for c in causes], [abs(c["effect_sigma"]) for c in causes])],
                       xlabel="|effect| (sigma of normal yield)", evidence=(rid,),
                       caption=f"Commonality analysis, ranked causes [{rid}]")]
    if isinstance(value, DefectPatternSummary) and value.findings:
        fs = value.findings
        return [Figure("defect-patterns", "Defect-map patterns and the chamber their glasses shared", "hbar",
                       [Series("glasses", [f"{f.pattern} @ {f.chamber_id}" for f in fs], [f.n_glass for f in fs])],
                       xlabel="glasses with the pattern through the chamber", evidence=(rid,),
                       caption=f"Defect-map pattern -> chamber findings [{rid}]")]
    if tool == "get_yield_trend" and isinstance(value, dict) and value.get("days"):
        hl = []
        if "control_limit" in value:
            hl = [(value["control_limit"], "control limit"), (value["center_line"], "centre line")]
        return [Figure("yield-trend", "Daily mean lot yield", "line",
                       [Series("yield %", value["days"], value["mean_yield_pct"])], xlabel="day",
                       ylabel="yield %", hlines=hl, evidence=(rid,), caption=f"Daily mean lot yield [{rid}]")]
    return []


def _contrib(h: ChamberHealth, rid: str) -> Figure:
    return Figure(figure_id("contrib", h.chamber_id), f"Sensors driving the MSPC statistic on {h.chamber_id}", "hbar",
                  [Series("share", [s.sensor for s in h.top_sensors], [s.contribution for s in h.top_sensors])],
                  xlabel="share of the statistic", evidence=(rid,),
                  caption=f"Contributions on {h.chamber_id}, score {h.score} [{rid}]")


def _ranking(r: ChamberRanking, rid: str) -> Figure:
    return Figure("chamber-ranking", "Chamber health score (1 = control limit)", "hbar",
                  [Series("score", [h.chamber_id for h in r.chambers], [h.score for h in r.chambers])],
                  hlines=[(1.0, "limit")], xlabel="MSPC score / limit", evidence=(rid,),
                  caption=f"Chambers ranked by FDC score [{rid}]")
