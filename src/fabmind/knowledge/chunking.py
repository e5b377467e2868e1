"""Structural pieces → chunks of bounded size, each keeping its section path, page and row.

Long sections are split at paragraph boundaries, then at sentence boundaries; table rows are never split.
Every chunk is checked for instruction-like text (:mod:`fabmind.knowledge.injection`).
"""

from __future__ import annotations

import re

from fabmind.knowledge.injection import detect_injection
from fabmind.knowledge.parsers import Piece
from fabmind.knowledge.records import Chunk

MAX_WORDS = 160
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")


def _split_long(text: str, max_words: int) -> list[str]:
    if len(text.split()) <= max_words:
        return [text]
    units: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        if len(para.split()) <= max_words:
            units.append(para)
        else:
            units.extend(_SENTENCE_END.split(para))
    parts: list[str] = []
    buf: list[str] = []
    n = 0
    for unit in units:
        w = len(unit.split())
        if buf and n + w > max_words:
            parts.append("\n".join(buf))
            buf, n = [], 0
        if w > max_words:  # a single run-on sentence: hard split by words
            words = unit.split()
            parts.extend(" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words))
            continue
        buf.append(unit)
        n += w
    if buf:
        parts.append("\n".join(buf))
    return [p.strip() for p in parts if p.strip()]


def make_chunks(doc_id: str, pieces: list[Piece], max_words: int = MAX_WORDS) -> list[Chunk]:
    chunks: list[Chunk] = []
    for piece in pieces:
        texts = [piece.text] if piece.fields is not None else _split_long(piece.text, max_words)
        for text in texts:
            reason = detect_injection(text)
            ordinal = len(chunks)
            chunks.append(Chunk(
                chunk_id=f"{doc_id}#{ordinal}", doc_id=doc_id, ordinal=ordinal, text=text, section=piece.section,
                page=piece.page, row=piece.row, fields=piece.fields, flagged=bool(reason), flag_reason=reason,
            ))
    return chunks
