"""The claim checker: every number, equipment id, sensor name and date in an answer must come
from a tool result, a cited passage or the question itself.

    >>> from fabmind.agents.tools import Evidence, ToolResult
    >>> ev = Evidence("What is wrong with ETCH-03/B?")
    >>> _ = ev.add(ToolResult("R1", "get_chamber_health", {}, value={"t2": 41.27, "sensor": "RF_REFL_W"}))
    >>> check_claims("ETCH-03/B: T2 is 41.3 [R1], driven by RF_REFL_W; pressure is 2.7 mTorr.", ev).unverified_texts
    ['2.7']

Numbers match when the answer's value is the evidence value rounded to the digits written
(``41.3`` matches ``41.27``; ``12%`` matches ``0.12`` or ``12.0``). Integers 0..10 standing
alone (ranks, counts of steps) are not treated as claims. Ids, sensor names, alarm codes and
dates must appear verbatim (dates: same day; with a time, same minute) in the evidence.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from fabmind.agents.tools import Evidence, to_jsonable

CHAMBER_RE = r"[A-Z][A-Z0-9]*-\d{2,3}/[A-Z0-9]{1,3}\b"
TOOL_RE = r"[A-Z][A-Z0-9]*-\d{2,3}\b(?!/)"
CODE_RE = r"\b[A-Z]{1,3}-[A-Z]{2,5}-\d{2,4}\b"  # alarm codes E-RF-101
SENSOR_RE = r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b"  # RF_REFL_W, MATCH_C1_POS
DATETIME_RE = r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
RESULT_REF_RE = r"\[(?:R\d+(?:\s*,\s*R\d+)*|[^\]\n]{1,120}§[^\]\n]{0,120})\]"  # [R3] or [doc § section]
TIME_RE = r"\b\d{1,2}:\d{2}(?::\d{2})?\b"
NUMBER_RE = r"(?<![\w.])[-+]?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?\s*%?"

_TOKEN = re.compile(
    "|".join(f"(?P<{k}>{v})" for k, v in [
        ("ref", RESULT_REF_RE), ("datetime", DATETIME_RE), ("time", TIME_RE), ("code", CODE_RE), ("chamber", CHAMBER_RE),
        ("equipment", TOOL_RE), ("sensor", SENSOR_RE), ("number", NUMBER_RE),
    ])
)


@dataclass
class Claim:
    text: str
    kind: str  # number, chamber, equipment, sensor, code, datetime, time
    start: int
    end: int
    verified: bool = False
    sources: list[str] = field(default_factory=list)  # result ids / citations / "question"


@dataclass
class ClaimReport:
    claims: list[Claim]

    @property
    def n_claims(self) -> int:
        return len(self.claims)

    @property
    def n_verified(self) -> int:
        return sum(c.verified for c in self.claims)

    @property
    def unverified(self) -> list[Claim]:
        return [c for c in self.claims if not c.verified]

    @property
    def unverified_texts(self) -> list[str]:
        return [c.text for c in self.unverified]

    def summary(self) -> str:
        return f"{self.n_verified} of {self.n_claims} claims verified against tool results and cited passages"

    def annotate(self, text: str, marker: str = " [unverified]") -> str:
        """``text`` with each unsupported claim followed by ``marker``."""
        out, last = [], 0
        for c in sorted(self.unverified, key=lambda c: c.start):
            out.append(text[last:c.end])
            out.append(marker)
            last = c.end
        out.append(text[last:])
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"n_claims": self.n_claims, "n_verified": self.n_verified,
                "unverified": self.unverified_texts}


# --------------------------------------------------------------------------- extraction


def extract_claims(text: str) -> list[Claim]:
    claims: list[Claim] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or ""
        s = m.group(0).rstrip()
        if kind == "ref":
            continue
        if kind == "number" and (_is_list_marker(text, m.start()) or _is_exempt_integer(s)):
            continue
        claims.append(Claim(s, kind, m.start(), m.start() + len(s)))
    return claims


def _is_list_marker(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    prefix = text[line_start:pos]
    return prefix.strip() in ("", "#", "##", "###", "-", "*") and re.match(r"\d+[.)]\s", text[pos:pos + 4]) is not None


def _is_exempt_integer(s: str) -> bool:
    return re.fullmatch(r"\d+", s) is not None and int(s) <= 10


# --------------------------------------------------------------------------- evidence index


@dataclass
class _Index:
    numbers: list[tuple[float, str]] = field(default_factory=list)
    tokens: dict[str, set[str]] = field(default_factory=dict)  # exact token -> sources
    minutes: dict[str, set[str]] = field(default_factory=dict)  # 'YYYY-MM-DD HH:MM' -> sources
    days: dict[str, set[str]] = field(default_factory=dict)
    times: dict[str, set[str]] = field(default_factory=dict)  # 'HH:MM' -> sources

    def add_text(self, text: str, source: str, numbers: bool = True) -> None:
        for m in _TOKEN.finditer(text):
            kind, s = m.lastgroup, m.group(0).strip()
            if kind == "number" and not numbers:
                continue
            if kind == "number":
                v = _to_float(s)
                if v is not None:
                    self.numbers.append((v, source))
            elif kind == "datetime":
                self._add_dt(s, source)
            elif kind == "time":
                self.times.setdefault(s[:5].zfill(5), set()).add(source)
            elif kind != "ref":
                self.tokens.setdefault(s, set()).add(source)
                if kind == "chamber":  # 'ETCH-03/B' also supports the tool 'ETCH-03'
                    self.tokens.setdefault(s.split("/")[0], set()).add(source)

    def add_value(self, value: Any, source: str) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, (int, float)):
            if math.isfinite(float(value)):
                self.numbers.append((float(value), source))
            return
        if isinstance(value, str):
            self.add_text(value, source)
            return
        if isinstance(value, dict):
            for k, v in value.items():
                self.add_text(str(k), source)
                self.add_value(v, source)
            return
        if isinstance(value, (list, tuple)):
            for v in value:
                self.add_value(v, source)

    def _add_dt(self, s: str, source: str) -> None:
        day = s[:10]
        self.days.setdefault(day, set()).add(source)
        if len(s) >= 16:
            self.minutes.setdefault(f"{day} {s[11:16]}", set()).add(source)
            self.times.setdefault(s[11:16], set()).add(source)


def _to_float(s: str) -> float | None:
    s = s.replace("%", "").replace(",", ".").strip()
    try:
        return float(s)
    except ValueError:
        return None


def build_index(evidence: Evidence) -> _Index:
    idx = _Index()
    if evidence.question:
        idx.add_text(evidence.question, "question")
    for r in evidence.results:
        if r.ok:
            idx.add_value(to_jsonable(r.value), r.result_id)
            # ids in the arguments of a call the tool accepted; numbers only count when a tool returned them
            idx.add_text(json.dumps(r.arguments, default=str), r.result_id, numbers=False)
        else:  # what a tool said it could not do is evidence too (not the arguments it rejected)
            idx.add_text(r.error or "", r.result_id)
    for p in evidence.passages:
        idx.add_text(p.text, p.citation)
        idx.add_text(p.citation, p.citation)
    return idx


# --------------------------------------------------------------------------- checking


def _number_sources(claim: str, idx: _Index) -> list[str]:
    x = _to_float(claim)
    if x is None:
        return []
    is_pct = claim.endswith("%")
    body = claim.replace("%", "").strip().lstrip("+-")
    decimals = len(body.split(".")[1]) if "." in body else (len(body.split(",")[1]) if "," in body else 0)
    tol = 0.5 * 10 ** (-decimals) + 1e-9
    out: list[str] = []
    for v, src in idx.numbers:
        cands = [v, -v] if claim.startswith(("+", "-")) else [v]
        if is_pct and abs(v) <= 1.0:
            cands.append(v * 100)
        if any(abs(c - x) <= tol for c in cands):
            out.append(src)
    return sorted(set(out))


def check_claims(text: str, evidence: Evidence) -> ClaimReport:
    """Check every claim in ``text`` against ``evidence`` (tool results, passages, question)."""
    idx = build_index(evidence)
    claims = extract_claims(text)
    for c in claims:
        if c.kind == "number":
            c.sources = _number_sources(c.text, idx)
        elif c.kind == "datetime":
            s = c.text.replace("T", " ")
            if len(s) >= 16:
                c.sources = sorted(idx.minutes.get(s[:16], set()))
            else:
                c.sources = sorted(idx.days.get(s[:10], set()))
        elif c.kind == "time":
            c.sources = sorted(idx.times.get(c.text[:5].zfill(5), set()))
        else:
            c.sources = sorted(idx.tokens.get(c.text, set()))
        c.verified = bool(c.sources)
    return ClaimReport(claims)


def correction_prompt(report: ClaimReport) -> str:
    """The message sent back (once) to a model whose answer has unsupported claims."""
    items = ", ".join(f"'{c.text}'" for c in report.unverified)
    return (
        "The claim checker could not find these values in any tool result or cited passage: "
        f"{items}. Rewrite your answer using only values that appear in tool results (cite them as [R<n>]) "
        "or call a tool to get the missing evidence. Do not invent numbers, ids, sensors or dates."
    )

