"""Knowledge: the fab's documents, the failure-mode graph and past incidents, retrievable offline with citations.

* :class:`KnowledgeBase` — ingest Markdown, text, HTML, PDF, CSV and Excel into the store; hybrid search
  (BM25 fused with dense vectors: the shipped static model, or the full all-MiniLM-L6-v2 with the ``dense``
  extra and ``FABMIND_EMBEDDER=minilm``; chunk vectors kept in the store) returning cited :class:`Passage`
  objects.
* :class:`FailureModeGraph` — equipment type → subsystem → failure mode → symptoms → checks/repairs,
  ranked against observed sensor deviations (``KnowledgeBase.failure_modes().rank(...)``).
* ``KnowledgeBase.similar_incidents(...)`` — past tickets by text and sensor signature.
* :func:`render_for_llm` — passages as quoted, delimited evidence (documents are data, never instructions);
  :func:`detect_injection` — the check run on every chunk at ingest (``Passage.flagged``/``flag_reason``).
"""

from fabmind.knowledge.base import KnowledgeBase, create_tables
from fabmind.knowledge.embeddings import StaticEmbedder, TransformerEmbedder, load_embedder
from fabmind.knowledge.glossary import Glossary
from fabmind.knowledge.graph import FailureModeGraph
from fabmind.knowledge.incidents import IncidentIndex
from fabmind.knowledge.injection import detect_injection, render_for_llm
from fabmind.knowledge.parsers import DocumentFormatError
from fabmind.knowledge.records import (
    Chunk,
    Citation,
    DocumentReport,
    FailureMode,
    FailureModeHit,
    Incident,
    IngestReport,
    Passage,
    Symptom,
)

__all__ = [
    "Chunk",
    "Citation",
    "DocumentFormatError",
    "DocumentReport",
    "FailureMode",
    "FailureModeGraph",
    "FailureModeHit",
    "Glossary",
    "Incident",
    "IncidentIndex",
    "IngestReport",
    "KnowledgeBase",
    "Passage",
    "StaticEmbedder",
    "Symptom",
    "TransformerEmbedder",
    "create_tables",
    "detect_injection",
    "load_embedder",
    "render_for_llm",
]
