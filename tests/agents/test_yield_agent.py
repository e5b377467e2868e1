"""Yield analysis agent: complete report from the built-in analyst and from a (scripted) LLM."""

from __future__ import annotations

import json

from fabmind.agents.analyst_yield import SECTION_TITLES
from fabmind.agents.llm import LLMClient
from fabmind.agents.yield_agent import YieldAgent, split_sections


def test_builtin_report_is_complete_and_verified(fab_store, small_fab):
    store, kb = fab_store
    rep = YieldAgent(store, knowledge=kb).analyze(days=4)
    assert [s.title for s in rep.sections] == list(SECTION_TITLES)
    assert rep.mode == "builtin" and not rep.claims.unverified and rep.claims.n_claims > 20
    faulty = {f.chamber_id for f in small_fab.faults}
    assert rep.diagnoses and rep.diagnoses[0].chamber_id in faulty
    ids = {f.figure_id for f in rep.figures}
    assert {"yield-causes", "yield-trend"} <= ids and any(i.startswith("contrib-") for i in ids)
    placed = [f for s in rep.sections for f in s.figures]
    assert set(placed) <= ids and placed
    assert rep.window_start < rep.window_end


def test_llm_report_sections_and_fallback(fab_store, scripted_llm):
    store, kb = fab_store

    def final(req):
        p = [json.loads(m["content"]) for m in req["messages"] if m.get("role") == "tool"]
        s = p[0]["result"]
        return {"content": f"## Summary\n{s['n_lots']} lots at {s['mean_yield_pct']} % [{p[0]['result_id']}].\n"
                           f"## Root causes\nUnknown; yield was 12.3 % lower.\n## Open questions\nNone."}

    server = scripted_llm([{"tool_calls": [("get_yield_summary", '{"days": 4}'),
                                           ("commonality_analysis", '{"days": 4}')]}, final, final])
    rep = YieldAgent(store, knowledge=kb, client=LLMClient(server.base_url, "m", max_retries=0)).analyze(days=4)
    assert rep.mode == "llm" and [s.title for s in rep.sections] == list(SECTION_TITLES)
    assert rep.claims.unverified_texts == ["12.3 %"]
    assert "12.3 % [unverified]" in rep.sections[2].body
    assert "not covered by the model" in rep.sections[1].body
    assert "yield-causes" in rep.sections[2].figures  # charts of the evidence it gathered
    down = YieldAgent(store, knowledge=kb, client=LLMClient("http://127.0.0.1:9/v1", "m", timeout_s=1,
                                                            max_retries=0)).analyze(days=4)
    assert down.mode == "builtin (fallback: LLMUnavailable)" and down.warnings


def test_split_sections_tolerates_free_form():
    secs = split_sections("Intro line.\n## 1. Summary of findings\nA.\n## Extra notes\nB.")
    assert secs[0].title == "Summary" and secs[0].body.startswith("Intro line.") and "A." in secs[0].body
    assert secs[-1].title == "Extra notes"
