"""The claim checker: numbers, ids, sensors and dates tied to tool results, passages or the question."""

from __future__ import annotations

from datetime import UTC, datetime

from fabmind.agents.claims import check_claims, extract_claims
from fabmind.agents.tools import Evidence, Passage, ToolResult


def _ev(value, question: str = "") -> Evidence:
    ev = Evidence(question)
    ev.add(ToolResult("R1", "t", {"chamber_id": "ETCH-03/B"}, value=value))
    return ev


def test_kinds_extracted():
    kinds = {c.text: c.kind for c in extract_claims(
        "ETCH-03/B on ETCH-03: RF_REFL_W rose 41.3 W since 2026-01-07 13:54, alarm E-RF-101 at 10:32 [R1].")}
    assert kinds == {"ETCH-03/B": "chamber", "ETCH-03": "equipment", "RF_REFL_W": "sensor", "41.3": "number",
                     "2026-01-07 13:54": "datetime", "E-RF-101": "code", "10:32": "time"}


def test_numbers_match_by_rounding_and_percent():
    ev = _ev({"t2": 41.2749, "share": 0.4312, "limit": 12.0})
    rep = check_claims("T2 41.3, 41.27 and 41; share 43% of the limit 12.0; 41.4 is wrong; 44% too.", ev)
    assert rep.unverified_texts == ["41.4", "44%"]


def test_small_integers_and_list_markers_are_not_claims():
    rep = check_claims("1. check the match\n2. replace 3 parts in 2 steps", _ev({}))
    assert rep.n_claims == 0


def test_ids_sensors_dates_must_appear_in_evidence():
    ev = _ev({"chamber_id": "ETCH-03/B", "top": ["RF_REFL_W"], "since": datetime(2026, 1, 7, 13, 54, tzinfo=UTC)})
    rep = check_claims("ETCH-03/B (tool ETCH-03): RF_REFL_W up since 2026-01-07 13:54; PUMP_CURRENT_A on ETCH-07/A "
                       "since 2026-01-08", ev)
    assert rep.unverified_texts == ["PUMP_CURRENT_A", "ETCH-07/A", "2026-01-08"]
    assert rep.n_verified == 4


def test_question_and_passages_are_evidence():
    ev = Evidence("ETCH-03/B alarm at 10:32: what now?")
    ev.passages.append(Passage("Manual § RF", "Keep reflected power below 2.5 % of forward.", "R2"))
    rep = check_claims("The 10:32 alarm on ETCH-03/B: keep reflected power below 2.5 % [Manual § RF].", ev)
    assert not rep.unverified and rep.n_claims == 3


def test_numbers_in_rejected_or_argument_values_do_not_count():
    ev = Evidence("q")
    ev.add(ToolResult("R1", "t", {"hours": 87.5}, value={"ok": True}))
    ev.add(ToolResult("R2", "t", {"x": 1}, error="chamber ETCH-99/Z unknown"))
    rep = check_claims("Over 87.5 hours; ETCH-99/Z is unknown.", ev)
    assert rep.unverified_texts == ["87.5"]


def test_annotate_marks_only_unverified():
    rep = check_claims("T2 41.3 and 99.9", _ev({"t2": 41.3}))
    assert rep.annotate("T2 41.3 and 99.9") == "T2 41.3 and 99.9 [unverified]"
    assert rep.summary() == "1 of 2 claims verified against tool results and cited passages"
