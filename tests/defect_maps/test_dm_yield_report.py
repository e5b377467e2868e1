"""The yield agent's defect-map tool and the report that cites the map pattern with the chamber."""

from __future__ import annotations

import re

import pytest

from fabmind.agents.fabtools import fab_toolbox
from fabmind.agents.results import DefectPatternSummary
from fabmind.agents.tools import Evidence, ToolDeps
from fabmind.sim.faults import FAULT_LIBRARY


@pytest.fixture(scope="module")
def report_fab(small_fab, tmp_path_factory):
    """The small demo fab (its own patterned maps, traces for FDC) with its documents in the knowledge base."""
    from fabmind.knowledge import KnowledgeBase
    from fabmind.store import Store

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('dm-report') / 'fab.db'}")
    store.write_batch(small_fab.batch)
    kb = KnowledgeBase(store.engine)
    kb.add(small_fab.batch.documents)
    yield store, kb
    store.close()


def _deps(store, kb, classifier) -> ToolDeps:
    return ToolDeps(store=store, knowledge=kb, cache={"defect_pattern_classifier": classifier})


def test_tool_returns_pattern_probability_glass_count_and_chamber(report_fab, small_fab, pattern_classifier):
    store, kb = report_fab
    deps, ev = _deps(store, kb, pattern_classifier), Evidence()
    res = fab_toolbox().call("defect_map_patterns", {"days": 4}, deps, ev)
    assert res.ok, res.error
    v: DefectPatternSummary = res.value
    assert v.n_maps > 200 and 0 < v.n_classified <= v.n_maps and sum(v.counts.values()) == v.n_maps
    assert v.model.startswith("quality/defect_pattern")
    for f in small_fab.faults:
        pattern = FAULT_LIBRARY[f.fault_type].defect_pattern
        top = next(x for x in v.findings if x.pattern == pattern)  # strongest finding of the fault's pattern
        assert top.chamber_id == f.chamber_id and top.equipment_id == f.chamber_id.split("/")[0]
        assert top.equipment_type and top.n_glass >= 3 and top.n_lots >= 1 and 0.5 <= top.mean_probability <= 1
        assert top.share > top.peer_share and top.p_value < 1e-3 and top.consistent
        assert FAULT_LIBRARY[f.fault_type].failure_mode in top.failure_modes
    one = small_fab.faults[0].chamber_id
    only = fab_toolbox().call("defect_map_patterns", {"days": 4, "chamber_id": one}, deps, ev).value
    assert only.findings and {x.chamber_id for x in only.findings} == {one}
    payload = res.payload()["result"]  # what the LLM reads
    assert {"pattern", "mean_probability", "n_glass", "chamber_id"} <= set(payload["findings"][0])


def test_tool_says_when_there_are_no_maps(store, report_fab, pattern_classifier):
    deps = ToolDeps(store=store, cache={"defect_pattern_classifier": pattern_classifier})
    res = fab_toolbox().call("defect_map_patterns", {"days": 30}, deps, Evidence())
    assert not res.ok and "no runs" in res.error  # an empty store
    fab, _ = report_fab  # a window before the first inspection
    from datetime import datetime, timezone

    early = ToolDeps(store=fab, now=datetime(2026, 1, 5, 12, tzinfo=timezone.utc),
                     cache={"defect_pattern_classifier": pattern_classifier})
    res = fab_toolbox().call("defect_map_patterns", {"days": 0.5}, early, Evidence())
    assert not res.ok and "no AOI defects between" in res.error


def test_failure_modes_for_takes_the_pattern(report_fab):
    store, kb = report_fab
    box, deps = fab_toolbox(), ToolDeps(store=store, knowledge=kb)
    r = box.call("failure_modes_for", {"equipment_type": "PECVD-X", "defect_pattern": "edge_ring",
                                        "pattern_probability": 0.9}, deps, Evidence())
    assert r.ok and r.value[0].failure_mode == FAULT_LIBRARY["heater_degradation"].failure_mode
    assert r.value[0].matched_pattern == "edge_ring" and r.value[0].confidence == pytest.approx(0.9)
    bad = box.call("failure_modes_for", {"equipment_type": "PECVD-X"}, deps, Evidence())
    assert not bad.ok and "defect_pattern" in bad.error
    worse = box.call("failure_modes_for", {"equipment_type": "PECVD-X", "defect_pattern": "center",
                                            "pattern_probability": 2}, deps, Evidence())
    assert not worse.ok and "between 0 and 1" in worse.error


def test_yield_report_cites_the_map_pattern_with_the_chamber(report_fab, small_fab, pattern_classifier):
    from fabmind.agents.yield_agent import YieldAgent

    store, kb = report_fab
    agent = YieldAgent(store, knowledge=kb)
    agent.cache["defect_pattern_classifier"] = pattern_classifier
    rep = agent.analyze(days=4)
    text = rep.text()
    named = set(re.findall(r"\*\*(\w+)\*\* defect maps on \d+ glasses .*? that shared \*\*([A-Z]+-\d+/[A-Z])", text))
    for f in small_fab.faults:
        assert (FAULT_LIBRARY[f.fault_type].defect_pattern, f.chamber_id) in named, (f, named)
    assert "defect maps" in rep.sections[0].body  # the summary cites the strongest map finding
    assert not rep.claims.unverified, rep.claims.unverified_texts  # every number from a tool result
    pat = next(r for r in rep.evidence.results if r.tool == "defect_map_patterns")
    assert f"[{pat.result_id}]" in rep.sections[2].body and "defect-patterns" in rep.sections[2].figures
    assert "defect-patterns" in {f.figure_id for f in rep.figures}
    with_pattern = [r for r in rep.evidence.results if r.tool == "failure_modes_for" and r.arguments.get("defect_pattern")]
    assert with_pattern and any(m.matched_pattern for r in with_pattern if r.ok for m in r.value[:1])
    faulty = {f.chamber_id for f in small_fab.faults}
    assert rep.diagnoses and rep.diagnoses[0].chamber_id in faulty
