"""The knowledge base: documents in, cited passages out.

    >>> from sqlalchemy import create_engine
    >>> from fabmind.knowledge import KnowledgeBase, create_tables
    >>> engine = create_engine("sqlite://")
    >>> create_tables(engine)  # in a real store, Alembic revision 0002 creates them
    >>> kb = KnowledgeBase(engine, embedder=None)
    >>> from fabmind.domain import Document
    >>> kb.add([Document(doc_id="etch-manual", title="Etch manual", kind="manual", content=(
    ...     "# Etch manual\\n## RF subsystem\\nReflected power above 50 W means the match is out of tune.\\n"
    ...     "## Vacuum\\nA rising base pressure points to a leak at the lid O-ring."))]).added
    1
    >>> hit = kb.search("why is the base pressure climbing", k=1)[0]
    >>> str(hit.citation)
    'Etch manual, § Vacuum'
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, delete, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from fabmind.domain import Document
from fabmind.knowledge.chunking import MAX_WORDS, make_chunks
from fabmind.knowledge.embeddings import Embedder, TransformerEmbedder, fingerprint, load_embedder
from fabmind.knowledge.glossary import Glossary
from fabmind.knowledge.graph import FailureModeGraph
from fabmind.knowledge.incidents import IncidentIndex
from fabmind.knowledge.index import HybridIndex
from fabmind.knowledge.parsers import FORMAT_BY_SUFFIX, DocumentFormatError, parse, table_kind
from fabmind.knowledge.records import Chunk, Citation, DocumentReport, Incident, IngestReport, Passage
from fabmind.knowledge.tables import (
    KNOWLEDGE_TABLES,
    VECTOR_TABLES,
    knowledge_chunks,
    knowledge_documents,
    knowledge_vectors,
)

VECTOR_WRITE_BATCH = 500


def create_tables(engine: Engine) -> None:
    """Create the knowledge tables only (tests, or a database whose migrations predate revisions 0002/0006)."""
    from fabmind.store.schema import metadata

    metadata.create_all(engine, tables=KNOWLEDGE_TABLES + VECTOR_TABLES)


@dataclass(frozen=True)
class _DocMeta:
    doc_id: str
    title: str
    kind: str
    format: str
    type_id: str
    source: str


class KnowledgeBase:
    """Ingests documents into the store and searches them (BM25 + dense, fused), every hit cited.

    ``store`` is a :class:`fabmind.store.Store` (its ``.engine`` is used) or a SQLAlchemy engine.
    ``embedder="default"`` loads the model ``FABMIND_EMBEDDER`` names (default: the shipped static model);
    ``"static"``, ``"minilm"`` (the full transformer, ``dense`` extra) or ``"auto"`` name one; ``None``
    gives BM25 alone. Chunk vectors are computed once per model and kept in the store. ``fusion`` and
    ``dense_share`` set how BM25 and dense scores are combined (see :mod:`fabmind.knowledge.index`;
    ``dense_share=None`` takes the model's measured ``fusion_weight``);
    ``glossary`` expands the query's acronyms and codes with definitions found in the documents
    (:mod:`fabmind.knowledge.glossary`).
    """

    def __init__(self, store: Any, embedder: Embedder | str | None = "default", fusion: str = "convex",
                 dense_share: float | None = None, max_words: int = MAX_WORDS, glossary: bool = True) -> None:
        self.engine: Engine = getattr(store, "engine", store)
        if isinstance(embedder, str):
            embedder = load_embedder(None if embedder == "default" else embedder)
        self.embedder: Embedder | None = embedder
        self.fusion = fusion
        self.dense_share = dense_share
        self.max_words = max_words
        self.use_glossary = glossary
        self.glossary = Glossary({}, {})
        self._state: tuple[tuple, HybridIndex, list[Chunk], dict[str, _DocMeta]] | None = None
        self._graph: tuple[tuple, FailureModeGraph] | None = None
        self._incidents: tuple[tuple, IncidentIndex] | None = None
        self._checked_at = 0.0  # monotonic time the index was last compared with the tables
        self._vector_table: bool | None = None  # whether the store has knowledge_vectors (revision 0006)
        self._static: Embedder | None = None  # for ticket similarity when the main embedder is the transformer

    RECHECK_S = 1.0  # how stale the in-memory index may be w.r.t. writes by *other* processes

    # ------------------------------------------------------------------ ingest

    def add(self, items: Iterable[str | Path | Document] | str | Path | Document, kind: str | None = None,
            type_id: str = "") -> IngestReport:
        """Ingest files, folders (recursively, known suffixes) or :class:`Document` records.

        A document whose content is unchanged (same hash) is skipped; a changed one has its chunks replaced.
        """
        if isinstance(items, (str, Path, Document)):
            items = [items]
        reports = []
        for item in items:
            if isinstance(item, Document):
                reports.append(self.add_document(item))
                continue
            path = Path(item)
            if path.is_dir():
                files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in FORMAT_BY_SUFFIX)
            elif path.is_file():
                files = [path]
            else:
                raise FileNotFoundError(f"no such document or folder: {path}")
            for f in files:
                reports.append(self.add_file(f, kind=kind, type_id=type_id))
        return IngestReport(reports)

    def add_file(self, path: Path, kind: str | None = None, type_id: str = "", doc_id: str | None = None) -> DocumentReport:
        fmt = FORMAT_BY_SUFFIX.get(path.suffix.lower())
        if fmt is None:
            raise DocumentFormatError(f"{path}: unsupported file type {path.suffix!r} ({', '.join(FORMAT_BY_SUFFIX)})")
        raw = path.read_bytes()
        content: str | bytes = raw if fmt in ("pdf", "xlsx") else raw.decode("utf-8", errors="replace")
        return self._ingest(doc_id or _doc_id_from_name(path.name), "", kind, fmt, type_id, str(path), content)

    def add_document(self, doc: Document) -> DocumentReport:
        return self._ingest(doc.doc_id, doc.title, str(doc.kind), doc.format, doc.type_id, doc.source or doc.doc_id,
                            doc.content)

    def _ingest(self, doc_id: str, title: str, kind: str | None, fmt: str, type_id: str, source: str,
                content: str | bytes) -> DocumentReport:
        data = content.encode("utf-8") if isinstance(content, str) else content
        digest = hashlib.sha256(b"%s\0%s\0" % (fmt.encode(), type_id.encode()) + data).hexdigest()
        with self.engine.connect() as conn:
            old = conn.execute(select(knowledge_documents.c.content_hash, knowledge_documents.c.n_chunks,
                                      knowledge_documents.c.flagged_chunks, knowledge_documents.c.kind)
                               .where(knowledge_documents.c.doc_id == doc_id)).first()
        if old is not None and old.content_hash == digest:
            return DocumentReport(doc_id, "unchanged", old.n_chunks, old.flagged_chunks, old.kind, fmt)
        parsed = parse(content, fmt, source or doc_id)
        if kind is None:
            kind = table_kind(parsed.columns) if parsed.columns else _kind_from_name(source or doc_id)
            kind = "other" if kind == "table" else kind
        chunks = make_chunks(doc_id, parsed.pieces, self.max_words)
        n_flagged = sum(c.flagged for c in chunks)
        has_vectors = self._has_vector_table()
        with self.engine.begin() as conn:
            if has_vectors and old is not None:  # a kept vector stays valid while its chunk's text is unchanged
                _drop_vectors(conn, doc_id, keep={c.chunk_id for c in chunks})
            conn.execute(delete(knowledge_chunks).where(knowledge_chunks.c.doc_id == doc_id))
            conn.execute(delete(knowledge_documents).where(knowledge_documents.c.doc_id == doc_id))
            conn.execute(insert(knowledge_documents).values(
                doc_id=doc_id, title=title or parsed.title or doc_id, kind=kind, format=fmt, type_id=type_id,
                source=source, content_hash=digest, n_chunks=len(chunks), flagged_chunks=n_flagged,
                ingested_at=datetime.now(UTC)))
            if chunks:
                conn.execute(insert(knowledge_chunks), [
                    {"chunk_id": c.chunk_id, "doc_id": doc_id, "ordinal": c.ordinal, "section": c.section,
                     "page": c.page, "row": c.row, "text": c.text,
                     "fields": json.dumps(c.fields) if c.fields is not None else None,
                     "flagged": c.flagged, "flag_reason": c.flag_reason} for c in chunks])
        self._checked_at = 0.0
        return DocumentReport(doc_id, "added" if old is None else "replaced", len(chunks), n_flagged, kind, fmt)

    def remove(self, doc_id: str) -> bool:
        has_vectors = self._has_vector_table()
        with self.engine.begin() as conn:
            if has_vectors:
                _drop_vectors(conn, doc_id)
            conn.execute(delete(knowledge_chunks).where(knowledge_chunks.c.doc_id == doc_id))
            n = conn.execute(delete(knowledge_documents).where(knowledge_documents.c.doc_id == doc_id)).rowcount
        self._checked_at = 0.0
        return bool(n)

    # ------------------------------------------------------------------ read

    def documents(self, kind: str | None = None) -> list[dict[str, Any]]:
        q = select(knowledge_documents).order_by(knowledge_documents.c.doc_id)
        if kind:
            q = q.where(knowledge_documents.c.kind == kind)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def chunks(self, doc_id: str | None = None, kind: str | None = None) -> list[Chunk]:
        q = (select(knowledge_chunks).join(knowledge_documents)
             .order_by(knowledge_chunks.c.doc_id, knowledge_chunks.c.ordinal))
        if doc_id:
            q = q.where(knowledge_chunks.c.doc_id == doc_id)
        if kind:
            q = q.where(knowledge_documents.c.kind == kind)
        with self.engine.connect() as conn:
            return [_chunk(r) for r in conn.execute(q)]

    def citation(self, chunk: Chunk) -> Citation:
        meta = self._meta().get(chunk.doc_id)
        return Citation(chunk.doc_id, meta.title if meta else chunk.doc_id, chunk.section, chunk.page, chunk.row,
                        meta.source if meta else "")

    # ------------------------------------------------------------------ search

    def search(self, query: str, k: int = 5, mode: str = "hybrid", kind: str | None = None,
               type_id: str | None = None, doc_id: str | None = None) -> list[Passage]:
        """The ``k`` passages that best answer ``query``; ``mode`` is ``hybrid``, ``bm25`` or ``dense``.

        Filters: ``kind`` (manual, sop, fmea, ticket, other), ``type_id`` (documents about that equipment type
        or about none), ``doc_id``.
        """
        if not query.strip():
            raise ValueError("search query is empty")
        index, chunks, docs = self._load()
        if mode != "bm25" and not index.has_dense:
            if mode == "dense":
                raise RuntimeError("dense search needs the static embedding model, which could not be loaded")
            mode = "bm25"
        mask = None
        if kind or type_id or doc_id:
            mask = np.array([(not kind or docs[c.doc_id].kind == kind)
                             and (not type_id or docs[c.doc_id].type_id in ("", type_id))
                             and (not doc_id or c.doc_id == doc_id) for c in chunks], dtype=bool)
        hits = index.search(self.glossary.expand_query(query), k=k, mode=mode, mask=mask)
        out = []
        for h in hits:
            c = chunks[h.position]
            d = docs[c.doc_id]
            scores = {"bm25": h.bm25} | ({"dense": h.dense} if index.has_dense else {})
            out.append(Passage(c.text, Citation(c.doc_id, d.title, c.section, c.page, c.row, d.source), h.score,
                               c.chunk_id, c.flagged, c.flag_reason, scores))
        return out

    def refresh(self) -> None:
        """Forget the in-memory indexes (they are also rebuilt automatically when the tables change)."""
        self._state = self._graph = self._incidents = None
        self._checked_at = 0.0

    def failure_modes(self) -> FailureModeGraph:
        """The failure-mode graph built from every FMEA table and manual in the base."""
        sig = self._signature()
        if self._graph is None or self._graph[0] != sig:
            meta = self._meta()
            fmea = [(c, self.citation(c)) for c in self.chunks(kind="fmea")]
            manuals = [(c, self.citation(c)) for c in self.chunks(kind="manual")]
            self._graph = (sig, FailureModeGraph.from_chunks(fmea, manuals, {d: m.type_id for d, m in meta.items()}))
        return self._graph[1]

    def similar_incidents(self, text: str | None = None, signature: dict[str, float] | None = None,
                          alarm_codes: Iterable[str] = (), equipment_type: str | None = None,
                          k: int = 5) -> list[Incident]:
        """Past tickets most like the situation, by symptom text and/or sensor signature ({sensor: +1/-1})."""
        sig = self._signature()
        if self._incidents is None or self._incidents[0] != sig:
            tickets = [(c, self.citation(c)) for c in self.chunks(kind="ticket")]
            self._incidents = (sig, IncidentIndex.from_chunks(tickets, self._incident_embedder()))
        return self._incidents[1].search(text, signature, alarm_codes, equipment_type, k)

    # ------------------------------------------------------------------ internals

    def _signature(self) -> tuple:
        with self.engine.connect() as conn:
            row = conn.execute(select(func.count(), func.coalesce(func.sum(knowledge_documents.c.n_chunks), 0),
                                      func.max(knowledge_documents.c.ingested_at))).one()
        return tuple(row)

    def _meta(self) -> dict[str, _DocMeta]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(knowledge_documents.c.doc_id, knowledge_documents.c.title,
                                       knowledge_documents.c.kind, knowledge_documents.c.format,
                                       knowledge_documents.c.type_id, knowledge_documents.c.source))
            return {r.doc_id: _DocMeta(*r) for r in rows}

    def _load(self) -> tuple[HybridIndex, list[Chunk], dict[str, _DocMeta]]:
        now = time.monotonic()
        if self._state is not None and now - self._checked_at < self.RECHECK_S:
            return self._state[1], self._state[2], self._state[3]
        self._checked_at = now
        sig = self._signature()
        if self._state is None or self._state[0] != sig:
            docs = self._meta()
            chunks = self.chunks()
            if self.use_glossary:
                self.glossary = Glossary.learn((c.text for c in chunks), (c.fields for c in chunks if c.fields))
            texts = [index_text(docs[c.doc_id].title, c) for c in chunks]
            index = HybridIndex(texts, self.embedder, fusion=self.fusion, dense_share=self.dense_share,
                                vectors=self._vectors(chunks, texts))
            self._state = (sig, index, chunks, docs)
        return self._state[1], self._state[2], self._state[3]


    def _incident_embedder(self) -> Embedder | None:
        """Ticket similarity encodes its own texts (symptoms, sensors, alarms) at every rebuild: with the full
        transformer that is minutes for a large ticket export, so it keeps to the static model (the one its
        weights were measured with, bench/incidents.py)."""
        if isinstance(self.embedder, TransformerEmbedder):
            if self._static is None:
                self._static = load_embedder("static")
            return self._static
        return self.embedder

    def _has_vector_table(self) -> bool:
        if self._vector_table is None:
            self._vector_table = inspect(self.engine).has_table(knowledge_vectors.name)
        return self._vector_table

    def _vectors(self, chunks: list[Chunk], texts: list[str]) -> np.ndarray | None:
        """Each chunk's dense vector: read from the store where one was kept for this model and this exact
        text, encoded (and kept) otherwise. Vectors are stored as float16; the ones just encoded are rounded
        the same way, so a search gives the same answer before and after a restart."""
        if self.embedder is None or not chunks:
            return None
        model = fingerprint(self.embedder)
        hashes = [hashlib.sha1(t.encode("utf-8")).hexdigest()[:32] for t in texts]
        kept: dict[str, tuple[str, bytes]] = {}
        if self._has_vector_table():
            with self.engine.connect() as conn:
                rows = conn.execute(select(knowledge_vectors.c.chunk_id, knowledge_vectors.c.text_hash,
                                           knowledge_vectors.c.vector).where(knowledge_vectors.c.model == model))
                kept = {r.chunk_id: (r.text_hash, r.vector) for r in rows}
        found = [kept.get(c.chunk_id) for c in chunks]
        todo = [i for i, (f, h) in enumerate(zip(found, hashes, strict=True)) if f is None or f[0] != h]
        fresh = (self.embedder.encode([texts[i] for i in todo]).astype(np.float16) if todo
                 else np.zeros((0, 0), np.float16))
        dims = fresh.shape[1] if todo else len(found[0][1]) // 2  # type: ignore[index]
        out = np.empty((len(chunks), dims), dtype=np.float32)
        for i, f in enumerate(found):
            if f is not None and f[0] == hashes[i]:
                out[i] = np.frombuffer(f[1], dtype="<f2")
        if todo:
            out[todo] = fresh
            if self._has_vector_table():
                self._keep_vectors(model, [chunks[i] for i in todo], [hashes[i] for i in todo], fresh)
        return out

    def _keep_vectors(self, model: str, chunks: list[Chunk], hashes: list[str], vectors: np.ndarray) -> None:
        ids = [c.chunk_id for c in chunks]
        try:
            with self.engine.begin() as conn:
                for i in range(0, len(ids), VECTOR_WRITE_BATCH):
                    part = ids[i:i + VECTOR_WRITE_BATCH]
                    conn.execute(delete(knowledge_vectors).where(knowledge_vectors.c.model == model,
                                                                 knowledge_vectors.c.chunk_id.in_(part)))
                conn.execute(insert(knowledge_vectors), [
                    {"chunk_id": c.chunk_id, "model": model, "doc_id": c.doc_id, "text_hash": h,
                     "dims": int(v.shape[0]), "vector": v.astype("<f2").tobytes()}
                    for c, h, v in zip(chunks, hashes, vectors, strict=True)])
        except IntegrityError:  # another process kept the same vectors meanwhile: theirs are as good
            pass


def index_text(title: str, chunk: Chunk, glossary: Glossary | None = None) -> str:
    """What is indexed for a chunk: its document title and section path give context to short passages.

    With a ``glossary`` the definitions of the codes it names are added (``RF_REFL_W`` → ``RF reflected
    power``); measured on the demo fab this helped dense but hurt BM25 (tickets and FMEA rows grow), so the
    knowledge base expands queries only."""
    extra = glossary.expand_document(chunk.text) if glossary is not None else ""
    return f"{title}\n{chunk.section}\n{chunk.text}" + (f"\n{extra}" if extra else "")


def _drop_vectors(conn: Any, doc_id: str, keep: set[str] | frozenset[str] = frozenset()) -> None:
    """Delete the kept vectors of ``doc_id``'s chunks, except those of the chunk ids in ``keep``."""
    if not keep:
        conn.execute(delete(knowledge_vectors).where(knowledge_vectors.c.doc_id == doc_id))
        return
    ids = conn.execute(select(knowledge_vectors.c.chunk_id).distinct()
                       .where(knowledge_vectors.c.doc_id == doc_id)).scalars().all()
    gone = [i for i in ids if i not in keep]
    for i in range(0, len(gone), VECTOR_WRITE_BATCH):
        conn.execute(delete(knowledge_vectors).where(knowledge_vectors.c.chunk_id.in_(gone[i:i + VECTOR_WRITE_BATCH])))


def _chunk(r: Any) -> Chunk:
    return Chunk(r.chunk_id, r.doc_id, r.ordinal, r.text, r.section, r.page, r.row,
                 json.loads(r.fields) if r.fields else None, bool(r.flagged), r.flag_reason)


def _doc_id_from_name(name: str) -> str:
    doc_id = re.sub(r"[^A-Za-z0-9_.:/\-]+", "-", name).strip("-._")
    return doc_id or "document"


def _kind_from_name(name: str) -> str:
    low = Path(name).name.lower()
    for kind, words in (("manual", ("manual",)), ("sop", ("sop", "procedure")), ("fmea", ("fmea",)),
                        ("ticket", ("ticket",))):
        if any(w in low for w in words):
            return kind
    return "other"
