"""Hybrid retrieval: citations point to the answering section; BM25 alone works without the dense model."""

from __future__ import annotations

import numpy as np
import pytest

from fabmind.domain import Document
from fabmind.knowledge import KnowledgeBase
from fabmind.knowledge.index import HybridIndex, tokenize


@pytest.fixture()
def full_kb(engine, embedder, docs_dir):
    kb = KnowledgeBase(engine, embedder=embedder)
    kb.add(docs_dir, type_id="DRYETCH-X")
    kb.add(Document(doc_id="pecvd-manual", title="PECVD-X manual", kind="manual", type_id="PECVD-X",
                    content="# PECVD-X manual\n## Heater\nThe susceptor heater outer zone is zone 2.\n"
                            "## Gas\nThe SiH4 MFC is recalibrated every quarter."))
    return kb


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_citation_points_to_the_answering_section(full_kb, mode):
    hits = full_kb.search("what should I do about a possible air leak into the chamber", k=3, mode=mode)
    sections = [h.citation.section for h in hits]
    assert any(s.endswith(("Leak checking", "chamber vacuum leak")) for s in sections), sections
    top = hits[0]
    assert top.score > 0 and top.chunk_id.startswith(top.citation.doc_id + "#")
    assert set(top.scores) == {"bm25", "dense"}


def test_alarm_code_finds_manual_section_and_fmea_row(full_kb):
    hits = full_kb.search("E-RF-102", k=5)
    manual = [h for h in hits if h.citation.doc_id == "dryetch_manual.md"]
    assert manual and manual[0].citation.section.endswith("RF subsystem > Alarm codes")
    fmea = [h for h in hits if h.citation.doc_id == "fmea_dryetch.csv"]
    assert fmea and fmea[0].citation.row == 2


def test_filters_by_kind_and_equipment_type(full_kb):
    only_tickets = full_kb.search("heater power high and zone temperature low", k=5, kind="ticket")
    assert only_tickets and all(h.citation.doc_id == "tickets.csv" for h in only_tickets)
    pecvd = full_kb.search("heater zone", k=10, type_id="PECVD-X", kind="manual")
    assert {h.citation.doc_id for h in pecvd} == {"pecvd-manual"}


def test_bm25_only_without_embedding_model(engine, docs_dir):
    kb = KnowledgeBase(engine, embedder=None)
    kb.add(docs_dir)
    hits = kb.search("helium leak check around the lid", k=3)  # hybrid silently falls back to BM25
    assert hits[0].citation.section.endswith("Leak checking") or "leak" in hits[0].text.lower()
    assert set(hits[0].scores) == {"bm25"}
    with pytest.raises(RuntimeError, match="static embedding model"):
        kb.search("leak", mode="dense")
    with pytest.raises(ValueError, match="empty"):
        kb.search("  ")


def test_index_rebuilds_after_new_documents(kb):
    kb.add(Document(doc_id="a", title="A", kind="other", content="# A\n## Pump\nThe dry pump was exchanged."))
    assert kb.search("spin chuck vacuum seal", k=5) == []
    kb.add(Document(doc_id="b", title="B", kind="other", content="# B\n## Spin\nThe spin chuck vacuum seal is worn."))
    assert kb.search("spin chuck vacuum seal", k=1)[0].citation.doc_id == "b"


def test_dense_model_relates_paraphrases(embedder):
    texts = ["reflected RF power climbs and the match hunts", "photoresist dispense pump pressure low",
             "helium backside flow high at the chuck edge"]
    idx = HybridIndex(texts, embedder)
    assert idx.search("radio frequency reflection increasing, tuner unstable", k=1, mode="dense")[0].position == 0
    assert idx.search("resist coating pump delivers too little", k=1, mode="dense")[0].position == 1


def test_tokenizer_keeps_codes_and_their_parts():
    toks = tokenize("Alarm E-RF-101 on RF_REFL_W; pumps running")
    assert "e-rf-101" in toks and "rf_refl_w" in toks and "refl" in toks and "pump" in toks and "run" in toks


def test_dense_norm_mean_separates_best_hits_from_the_cosine_floor():
    class Fixed:  # a transformer-like embedder: every passage has a sizeable cosine with the query
        name = "fixed"

        def encode(self, texts):
            table = {"q": [1.0, 0.0], "a": [0.9, 0.436], "b": [0.6, 0.8], "c": [0.55, 0.835], "d": [0.1, 0.995]}
            return np.array([table[t] for t in texts], dtype=np.float32)

    idx = HybridIndex(["a", "b", "c", "d"], Fixed(), dense_share=1.0, dense_norm="mean")
    hits = idx.search("q", k=4, mode="hybrid")  # cosines 0.9, 0.6, 0.55, 0.1; mean 0.5375
    assert [h.position for h in hits] == [0, 1, 2, 3]
    assert [round(h.score, 3) for h in hits] == [1.0, 0.172, 0.034, 0.0]  # (cos - mean) / (max - mean), >= 0
    plain = HybridIndex(["a", "b", "c", "d"], Fixed(), dense_share=1.0, dense_norm="max").search("q", k=4)
    assert [round(h.score, 3) for h in plain] == [1.0, 0.667, 0.611, 0.111]  # cos / max
    with pytest.raises(ValueError, match="dense_norm"):
        HybridIndex(["a"], Fixed(), dense_norm="median")
