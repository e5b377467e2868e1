"""Is a small CNN worth adding for defect-map patterns? Same maps as ``bench/defect_maps.py``, CPU only.

    PYTHONPATH=/path/to/torch .venv/bin/python bench/defect_maps_cnn.py [--epochs 8]

torch is *not* a fabmind dependency; this script measures the alternative the classifier was chosen
against. Input: log1p of the 64 x 64 binned counts, the substrate mask, and the log defect count
(broadcast); random 90-degree turns and flips while training (rotation invariance). Four conv
blocks, global average + max pooling, one linear layer. Reported: accuracy, macro-F1, fit seconds
and ms per map (bins + forward pass) against the feature + LightGBM classifier in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

from fabmind.models.defect_maps import DefectPatternClassifier
from fabmind.sim.defect_maps import simulate_maps, substrate_mask


def tensors(maps):
    counts = np.stack([m.binned() for m in maps])
    masks = np.stack([substrate_mask(m.geometry.kind) for m in maps]).astype(np.float32)
    n = counts.reshape(len(maps), -1).sum(axis=1)
    x = np.stack([np.log1p(counts), masks, np.broadcast_to(np.log1p(n)[:, None, None] / 6, counts.shape)], axis=1)
    return x.astype(np.float32)


def main() -> None:
    try:
        import torch
        from torch import nn
    except ImportError:
        sys.exit("torch is not installed (it is not a fabmind dependency); put a CPU build on PYTHONPATH")
    from sklearn.metrics import accuracy_score, f1_score

    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    train, test = simulate_maps(9000, seed=11), simulate_maps(5400, seed=12)
    classes = sorted({m.pattern for m in train})
    ytr = torch.tensor([classes.index(m.pattern) for m in train])
    yte = np.array([m.pattern for m in test])
    xtr = torch.from_numpy(tensors(train))

    def block(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(block(3, 16), block(16, 32), block(32, 64), block(64, 64))
            self.head = nn.Linear(128, len(classes))

        def forward(self, x):
            h = self.body(x)
            return self.head(torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1))

    net = Net()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=args.epochs * ((len(xtr) + 127) // 128))
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 128):
            idx = perm[i : i + 128]
            xb = torch.rot90(xtr[idx], int(torch.randint(0, 4, ())), dims=(2, 3))
            if torch.rand(()) < 0.5:
                xb = torch.flip(xb, dims=(3,))
            loss = nn.functional.cross_entropy(net(xb), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {epoch + 1}: loss {loss.item():.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    fit_s = time.perf_counter() - t0
    net.eval()
    t = time.perf_counter()
    with torch.no_grad():
        xte = torch.from_numpy(tensors(test))
        logits = torch.cat([net(xte[i : i + 512]) for i in range(0, len(xte), 512)])
    cnn_ms = (time.perf_counter() - t) / len(test) * 1000
    pred = np.array(classes)[logits.argmax(dim=1).numpy()]
    cnn = {"accuracy": float(accuracy_score(yte, pred)), "macro_f1": float(f1_score(yte, pred, average="macro")),
           "fit_seconds": fit_s, "ms_per_map": cnn_ms, "epochs": args.epochs}
    t = time.perf_counter()
    clf = DefectPatternClassifier().fit_maps(train)
    gbm_fit = time.perf_counter() - t
    t = time.perf_counter()
    p = np.array([q.pattern for q in clf.classify_maps(test)])
    gbm_ms = (time.perf_counter() - t) / len(test) * 1000
    ours = {"accuracy": float(accuracy_score(yte, p)), "macro_f1": float(f1_score(yte, p, average="macro")),
            "fit_seconds": gbm_fit, "ms_per_map": gbm_ms}
    rows = [("macro_f1", ours["macro_f1"], cnn["macro_f1"], None), ("accuracy", ours["accuracy"], cnn["accuracy"], None),
            ("fit seconds (loaded 2-core CPU)", ours["fit_seconds"], cnn["fit_seconds"], None),
            ("ms_per_map", ours["ms_per_map"], cnn["ms_per_map"], None)]
    write_result("defect_maps_cnn", {"features_lightgbm": ours, "cnn": cnn, "torch": torch.__version__}, rows,
                 header=("metric", "features + LightGBM (shipped)", "small CNN (torch, not shipped)", "published"))


if __name__ == "__main__":
    main()
