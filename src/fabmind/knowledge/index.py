"""The in-memory search index over chunks: BM25 (bm25s) + dense vectors, fused.

Fusion is a convex combination of max-normalised BM25 and dense cosine scores (``fusion="convex"``, the
default, measured best on the demo fab's questions: see bench/retrieval.py) or reciprocal rank fusion
(``fusion="rrf"``); ``dense_share`` is the dense retriever's share in either (default: the embedder's
``fusion_weight``, measured per model). Before a convex fusion, dense cosines are scaled either by their
maximum (``dense_norm="max"``, negatives clipped) or as ``(cos - mean) / (max - mean)`` over the corpus
(``"mean"``): a transformer gives every passage a sizeable cosine, and subtracting that floor keeps its
best hits apart from the rest (measured: a flat optimum for the full MiniLM; worse for the static model).

The BM25 index is rebuilt from the store's chunk rows (fast: ~10k chunks/s on one core); dense vectors are
passed in (the knowledge base keeps them in the store) or encoded here.
Scores for every chunk are computed per query (sparse BM25 + one matrix-vector product), which keeps
filtering by document kind or equipment type exact and costs well under a millisecond per 10k chunks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from fabmind.knowledge.embeddings import Embedder, encode_query

RRF_K = 60  # the constant of Cormack et al. (2009); ranks beyond ~100 contribute almost nothing
CANDIDATES = 100
DENSE_SHARE = 0.5  # for an embedder that does not say its own fusion_weight

_STOPWORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have how i if in into is it its "  # noqa: SIM905
    "me my no not of on or our should so than that the their them then there these they this those to too "
    "up was we were what when where which while who why will with would you your".split()
) - {"up"}  # 'up' is a symptom direction ("RF_REFL_W:up"), keep it
_TOKEN = re.compile(r"[a-z0-9]+(?:[_\-./][a-z0-9]+)*")


@lru_cache(maxsize=1)
def _blas():
    """One BLAS thread for query-time products: on a busy host, multi-threaded BLAS made a 10k x 256
    matrix-vector product ~3-15x slower (thread hand-off), single-threaded it takes ~1.5 ms."""
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController()
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return None


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer  # PyStemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # pragma: no cover - PyStemmer is a declared dependency
        return None


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens, stemmed, stop words removed; codes (``E-RF-101``, ``RF_REFL_W``) are kept whole
    and also split into their parts so ``reflected RF`` still meets ``RF_REFL_W``."""
    tokens: list[str] = []
    for tok in _TOKEN.findall(text.lower()):
        if re.search(r"[_\-./]", tok):
            tokens.append(tok)
            tokens.extend(p for p in re.split(r"[_\-./]", tok) if p and p not in _STOPWORDS)
        elif tok not in _STOPWORDS:
            tokens.append(tok)
    stemmer = _stemmer()
    return stemmer.stemWords(tokens) if stemmer is not None else tokens


@dataclass(frozen=True)
class Hit:
    position: int  # row in the index
    score: float  # fused score (higher = better)
    bm25: float
    dense: float


class HybridIndex:
    """BM25 + dense index over a list of texts, queried as ``bm25``, ``dense`` or ``hybrid``.

        >>> idx = HybridIndex(["RF matching network tuning", "helium backside cooling leak"], embedder=None)
        >>> [h.position for h in idx.search("backside helium flow", k=1, mode="bm25")]
        [1]
    """

    def __init__(self, texts: list[str], embedder: Embedder | None = None, fusion: str = "convex",
                 dense_share: float | None = None, vectors: np.ndarray | None = None,
                 dense_norm: str | None = None) -> None:
        import bm25s

        if fusion not in ("rrf", "convex"):
            raise ValueError(f"fusion {fusion!r}: use 'rrf' or 'convex'")
        self.size = len(texts)
        self.fusion = fusion
        if dense_share is None:
            dense_share = float(getattr(embedder, "fusion_weight", DENSE_SHARE))
        if not 0.0 <= dense_share <= 1.0:
            raise ValueError(f"dense_share={dense_share}: must be in [0, 1]")
        self.dense_share = dense_share
        self.dense_norm = dense_norm or str(getattr(embedder, "fusion_norm", "max"))
        if self.dense_norm not in ("max", "mean"):
            raise ValueError(f"dense_norm={self.dense_norm!r}: use 'max' or 'mean'")
        self._bm25 = bm25s.BM25()
        corpus = [tokenize(t) or [""] for t in texts]
        if self.size:
            self._bm25.index(corpus, show_progress=False)
        self._vocab = self._bm25.vocab_dict if self.size else {}
        self.embedder = embedder
        if vectors is not None and len(vectors) != self.size:
            raise ValueError(f"{len(vectors)} vectors for {self.size} texts")
        if embedder is None or not self.size:
            self._vectors = None
        else:
            self._vectors = np.ascontiguousarray(vectors if vectors is not None else embedder.encode(texts),
                                                 dtype=np.float32)

    @property
    def has_dense(self) -> bool:
        return self._vectors is not None

    def bm25_scores(self, query: str) -> np.ndarray:
        tokens = [t for t in tokenize(query) if t in self._vocab]
        if not tokens or not self.size:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)

    def dense_scores(self, query: str) -> np.ndarray:
        if self._vectors is None or self.embedder is None:
            raise RuntimeError("this index has no dense vectors (no embedding model loaded)")
        q = encode_query(self.embedder, query)
        blas = _blas()
        if blas is None:
            return self._vectors @ q
        with blas.limit(limits=1, user_api="blas"):
            return self._vectors @ q

    def search(self, query: str, k: int = 5, mode: str = "hybrid", mask: np.ndarray | None = None) -> list[Hit]:
        """Top ``k`` rows for ``query``; ``mask`` (bool per row) restricts the candidates."""
        if mode not in ("hybrid", "bm25", "dense"):
            raise ValueError(f"mode {mode!r}: use 'hybrid', 'bm25' or 'dense'")
        if not self.size:
            return []
        if mode == "hybrid" and not self.has_dense:
            mode = "bm25"
        bm25 = self.bm25_scores(query) if mode != "dense" else np.zeros(self.size, np.float32)
        dense = self.dense_scores(query) if mode != "bm25" else np.zeros(self.size, np.float32)
        allowed = np.ones(self.size, bool) if mask is None else mask
        if mode == "bm25":
            fused = np.where(allowed & (bm25 > 0), bm25, -np.inf)
        elif mode == "dense":
            fused = np.where(allowed, dense, -np.inf)
        elif self.fusion == "rrf":
            fused = self._rrf(bm25, dense, allowed)
        else:
            fused = self._convex(bm25, dense, allowed)
        top = _top(fused, k)
        return [Hit(int(i), float(fused[i]), float(bm25[i]), float(dense[i])) for i in top]

    def _rrf(self, bm25: np.ndarray, dense: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        fused = np.zeros(self.size, dtype=np.float64)
        for scores, weight, floor in ((bm25, 1 - self.dense_share, 0.0), (dense, self.dense_share, -np.inf)):
            masked = np.where(allowed & (scores > floor), scores, -np.inf)
            top = _top(masked, CANDIDATES)
            fused[top] += weight / (RRF_K + np.arange(1, len(top) + 1))
        return np.where(allowed & (fused > 0), fused, -np.inf)

    def _convex(self, bm25: np.ndarray, dense: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        b = bm25 / bm25.max() if bm25.max() > 0 else bm25
        if self.dense_norm == "mean":
            top, floor = dense.max(), dense.mean()
            d = np.clip((dense - floor) / (top - floor), 0, None) if top > floor else np.zeros_like(dense)
        else:
            d = np.clip(dense, 0, None)
            d = d / d.max() if d.max() > 0 else d
        w = self.dense_share
        return np.where(allowed, (1 - w) * b + w * d, -np.inf)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best finite scores, best first."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=int)
    part = np.argpartition(-scores, k - 1)[:k]
    part = part[np.isfinite(scores[part])]
    return part[np.argsort(-scores[part], kind="stable")]
