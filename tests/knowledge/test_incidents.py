"""Similar past incidents by symptom text and by sensor signature."""

from __future__ import annotations

import pytest

from fabmind.knowledge import KnowledgeBase


@pytest.fixture()
def kb_tickets(engine, embedder, docs_dir):
    kb = KnowledgeBase(engine, embedder=embedder)
    kb.add(docs_dir / "tickets.csv")
    return kb


def test_by_text(kb_tickets):
    hits = kb_tickets.similar_incidents(text="foreline pressure up and the pump is running hot", k=3)
    top = hits[0]
    assert top.ticket_id == "TK-0003" and top.root_cause == "dry pump rotor deposits and worn bearings"
    assert top.action == "exchanged the dry pump" and top.downtime_h == 11.0
    assert top.citation.row == 4 and top.citation.section == "TK-0003"
    assert top.text_score > 0 and top.signature_score == 0


def test_by_signature(kb_tickets):
    hits = kb_tickets.similar_incidents(signature={"CHAMBER_PRESS_MTORR": 2.0, "OES_N2_INT": 4.0}, k=5)
    assert hits[0].ticket_id == "TK-0005" and hits[0].failure_mode == "chamber vacuum leak"
    assert hits[0].sensors == {"CHAMBER_PRESS_MTORR": 1, "OES_N2_INT": 1}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # the opposite direction matches nothing
    assert kb_tickets.similar_incidents(signature={"OES_N2_INT": -3.0}) == []


def test_text_and_signature_and_equipment_type(kb_tickets):
    hits = kb_tickets.similar_incidents(text="film thin at the edge", signature={"HEATER_Z2_TEMP_C": -3},
                                        equipment_type="PECVD-X", k=5)
    assert [h.ticket_id for h in hits] == ["TK-0004"]
    both = hits[0]
    assert both.score == pytest.approx((both.text_score + both.signature_score) / 2)


def test_alarm_codes_help(kb_tickets):
    hits = kb_tickets.similar_incidents(signature={"THROTTLE_POS_PCT": 1}, alarm_codes=["E-VAC-201"], k=2)
    assert hits[0].ticket_id == "TK-0002" and hits[0].alarm_codes == ("E-VAC-201",)


def test_needs_some_evidence(kb_tickets):
    with pytest.raises(ValueError, match="symptom text"):
        kb_tickets.similar_incidents()
