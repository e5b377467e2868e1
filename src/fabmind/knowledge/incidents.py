"""Similar past incidents: tickets matched by symptom text and by sensor signature.

A signature is ``{sensor: signed deviation}`` (sign = direction; ±1 or a z-score). Text similarity is
BM25 (plus the dense model when loaded) over each ticket's symptom text; signature similarity is the
cosine between signed sensor vectors; alarm codes add their overlap. Each hit returns the ticket's
root cause, action and downtime with a citation to its row.

    >>> from fabmind.knowledge.records import Chunk, Citation
    >>> rows = [{"ticket_id": "T-1", "symptom_text": "reflected power high, plasma unstable", "sensors": "RF_REFL_W:up",
    ...          "alarm_codes": "E-RF-101", "root_cause": "worn match capacitor", "failure_mode": "match drift",
    ...          "action": "replaced C1", "downtime_h": "4.5", "equipment_type": "ETCH-X"},
    ...         {"ticket_id": "T-2", "symptom_text": "base pressure rising overnight", "sensors": "BASE_PRESS:up",
    ...          "alarm_codes": "", "root_cause": "lid O-ring", "failure_mode": "lid leak", "action": "new O-ring",
    ...          "downtime_h": "8", "equipment_type": "ETCH-X"}]
    >>> chunks = [(Chunk(f"t#{i}", "t", i, "", fields=r), Citation("t", "tickets", r["ticket_id"], row=i + 2))
    ...           for i, r in enumerate(rows)]
    >>> idx = IncidentIndex.from_chunks(chunks, embedder=None)
    >>> idx.search(signature={"BASE_PRESS": 2.0})[0].root_cause
    'lid O-ring'
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from fabmind.knowledge.embeddings import Embedder
from fabmind.knowledge.graph import STRENGTH_CAP, _split_list, parse_symptoms
from fabmind.knowledge.index import HybridIndex
from fabmind.knowledge.records import Chunk, Citation, Incident

ALARM_WEIGHT = 0.2


def _signed(signature: Mapping[str, float]) -> dict[str, float]:
    return {s: math.copysign(min(abs(float(v)), STRENGTH_CAP), float(v)) / STRENGTH_CAP
            for s, v in signature.items() if v and math.isfinite(float(v))}


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    dot = sum(v * b[s] for s, v in a.items() if s in b)
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def _float_or_none(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


class IncidentIndex:
    def __init__(self, tickets: list[tuple[dict[str, str], Citation]], embedder: Embedder | None = None) -> None:
        self.tickets = tickets
        self.signatures: list[dict[str, float]] = []
        for fields, cite in tickets:
            try:
                sig = {s.sensor: float(s.direction) for s in parse_symptoms(fields.get("sensors", ""))}
            except ValueError as exc:
                raise ValueError(f"ticket {fields.get('ticket_id', '?')} ({cite}): {exc}") from None
            self.signatures.append(sig)
        texts = [f"{f.get('symptom_text', '')}\n{f.get('sensors', '')}\n{f.get('alarm_codes', '')}" for f, _ in tickets]
        self.index = HybridIndex(texts, embedder)

    @classmethod
    def from_chunks(cls, chunks: Iterable[tuple[Chunk, Citation]], embedder: Embedder | None = None) -> IncidentIndex:
        return cls([(c.fields, cite) for c, cite in chunks if c.fields and c.fields.get("ticket_id")], embedder)

    def __len__(self) -> int:
        return len(self.tickets)

    def search(self, text: str | None = None, signature: Mapping[str, float] | None = None,
               alarm_codes: Iterable[str] = (), equipment_type: str | None = None, k: int = 5) -> list[Incident]:
        """The ``k`` most similar tickets; give ``text``, ``signature`` or both (and optionally alarm codes)."""
        alarms = {a.strip().upper() for a in alarm_codes if a and a.strip()}
        if not (text and text.strip()) and not signature and not alarms:
            raise ValueError("similar_incidents needs symptom text, a sensor signature or alarm codes")
        n = len(self.tickets)
        if n == 0:
            return []
        text_score = np.zeros(n)
        if text and text.strip():
            bm25 = self.index.bm25_scores(text).astype(float)
            text_score = bm25 / bm25.max() if bm25.max() > 0 else bm25
            if self.index.has_dense:
                text_score = 0.5 * text_score + 0.5 * np.clip(self.index.dense_scores(text), 0, None)
        sig_score = np.zeros(n)
        if signature:
            observed = _signed(signature)
            sig_score = np.array([max(_cosine(observed, s), 0.0) for s in self.signatures])
        alarm_score = np.zeros(n)
        if alarms:
            for i, (f, _) in enumerate(self.tickets):
                codes = {a.upper() for a in _split_list(f.get("alarm_codes"))}
                alarm_score[i] = len(alarms & codes) / len(alarms | codes) if codes else 0.0
        parts = [(text_score, bool(text and text.strip())), (sig_score, bool(signature))]
        used = [s for s, on in parts if on]
        base = sum(used) / len(used) if used else np.zeros(n)
        score = (1 - ALARM_WEIGHT) * base + ALARM_WEIGHT * alarm_score if alarms and used else (
            alarm_score if alarms else base)
        if equipment_type:
            same = np.array([f.get("equipment_type", "").upper() == equipment_type.upper() for f, _ in self.tickets])
            if same.any():
                score = np.where(same, score, -1.0)
        order = np.argsort(-score, kind="stable")[:k]
        out = []
        for i in order:
            if score[i] <= 0:
                break
            f, cite = self.tickets[i]
            out.append(Incident(
                ticket_id=f.get("ticket_id", ""), opened=f.get("opened", ""), equipment_id=f.get("equipment_id", ""),
                chamber_id=f.get("chamber_id", ""), equipment_type=f.get("equipment_type", ""),
                symptom_text=f.get("symptom_text", ""), sensors={s: int(d) for s, d in self.signatures[i].items()},
                alarm_codes=tuple(_split_list(f.get("alarm_codes"))), root_cause=f.get("root_cause", ""),
                failure_mode=f.get("failure_mode", ""), action=f.get("action", ""),
                downtime_h=_float_or_none(f.get("downtime_h")), score=round(float(score[i]), 6),
                text_score=round(float(text_score[i]), 6), signature_score=round(float(sig_score[i]), 6),
                citation=cite))
        return out
