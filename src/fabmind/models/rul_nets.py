"""Optional neural member of :class:`fabmind.models.maintenance.RULModel`: a small 1-D CNN on the raw window.

The gradient-boosting and MLP members of ``RULModel`` see hand-made window statistics (means, slopes,
EWMs, ...). This member sees the last ``w`` cycles of the sensors themselves, z-scored with one global
mean/spread per sensor (no per-operating-condition normalisation), and learns its own temporal filters:
a different view of the same history, so its errors are only partly correlated with the GBM's and the
average of both is better than either (engine-grouped CV on C-MAPSS FD001: ``bench/cmapss.py``).

The raw window travels inside the feature table as the columns ``<sensor>.raw0 .. <sensor>.raw{w-1}``
(``raw0`` = current row, ``raw{k}`` = ``k`` rows earlier, padded with the asset's first row), which
:func:`fabmind.models.maintenance.window_features` adds when called with ``raw=w``. So fitted models
pickle, validate and score like every other ``SmallModel``; a table without ``.raw`` columns simply
has no net member.

torch is optional (the ``dense`` extra): :func:`available` says whether it can be imported, and
``RULModel`` skips the member when it cannot. Training is deterministic for a given ``random_state``
and thread count (``torch.manual_seed`` per net, no cuDNN, CPU only).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

RAW_RE = re.compile(r"^(?P<sensor>.+)\.raw(?P<lag>\d+)$")


def available() -> bool:
    """True when torch can be imported (the net member is used only then)."""
    try:
        import torch  # noqa: F401
    except Exception:  # pragma: no cover - depends on the environment
        return False
    return True


def raw_columns(columns: Sequence[str]) -> tuple[list[str], int]:
    """The ``<s>.raw<k>`` columns of a feature table: (sensors in column order, window length); ([], 0) if none.

    The window is complete only when every sensor has every lag ``0 .. w-1``.
    """
    lags: dict[str, set[int]] = {}
    for c in columns:
        m = RAW_RE.match(str(c))
        if m:
            lags.setdefault(m["sensor"], set()).add(int(m["lag"]))
    if not lags:
        return [], 0
    w = min(len(v) for v in lags.values())
    sensors = [s for s, v in lags.items() if v >= set(range(w))]
    return (sensors, w) if w >= 2 and sensors else ([], 0)


def window_array(X: pd.DataFrame, sensors: Sequence[str], w: int) -> np.ndarray:
    """(rows, sensors, w) array from the ``.raw`` columns, oldest cycle first."""
    cols = [f"{s}.raw{k}" for s in sensors for k in range(w - 1, -1, -1)]
    return X[cols].to_numpy(dtype=np.float32).reshape(len(X), len(sensors), w)


def _build(n_sensors: int, w: int, n_static: int, channels: int, hidden: int, dropout: float) -> Any:
    import torch
    import torch.nn as nn

    class _Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            width = channels // 2 * w
            self.conv = nn.Sequential(
                nn.Conv1d(n_sensors, channels, 5, padding=2), nn.ReLU(),
                nn.Conv1d(channels, channels, 5, padding=2), nn.ReLU(),
                nn.Conv1d(channels, channels // 2, 3, padding=1), nn.ReLU(),
                nn.Flatten(), nn.Dropout(dropout))
            self.static = nn.Sequential(nn.Linear(n_static, hidden), nn.ReLU()) if n_static else None
            self.head = nn.Sequential(nn.Linear(width + (hidden if n_static else 0), hidden), nn.ReLU(),
                                      nn.Linear(hidden, 1))

        def forward(self, x: Any, s: Any = None) -> Any:
            h = self.conv(x)
            if self.static is not None:
                h = torch.cat([h, self.static(s)], dim=1)
            return self.head(h)

    return _Net()


class WindowCNN:
    """Small 1-D CNN (or an ensemble of ``seeds`` of them) regressing a (capped) RUL on z-scored raw windows.

    Three convolutions (kernel 5, 5, 3; ``channels``, ``channels``, ``channels/2`` filters) over the window,
    flattened, joined by a dense embedding (``hidden`` units) of the ``static`` per-row features when given
    (``RULModel`` passes its other members' inputs: window statistics + health index), then a ``hidden``-unit
    head. Trained with AdamW + one-cycle learning rate on the target scaled to ``[0, 1]`` (``/ cap``).
    The defaults are the ones chosen by engine-grouped 5-fold CV on C-MAPSS FD001 (``bench/cmapss.py``) for a
    single net: one net of 20 epochs on all rows beat 2 nets x 1/2 of the rows, 4 nets x 1/4 of the rows and
    30 epochs. Single nets vary a lot with the seed (CV RMSE 11.9-12.8 alone), so the benchmark now uses a seed
    ensemble, ``seeds=4, channels=8`` (8 filters: about 25% cheaper per net and no worse), instead of one net.
    Measured there and not kept (so not offered here): a GRU instead of the convolutions, exponential
    smoothing of the window, and nets trained on every k-th row.

    ``fit(windows, target, static=None)`` with ``windows`` of shape (rows, sensors, w); ``predict(windows, static)`` returns
    the mean of the ``seeds`` nets, clipped to ``[0, cap]``.
    """

    def __init__(self, cap: float = 125.0, seeds: int = 1, epochs: int = 20, batch_size: int = 256,
                 lr: float = 3e-3, channels: int = 16, hidden: int = 32, dropout: float = 0.3,
                 weight_decay: float = 1e-2, random_state: int = 0, n_jobs: int = 1):
        self.cap, self.seeds, self.epochs, self.batch_size, self.lr = cap, seeds, epochs, batch_size, lr
        self.channels, self.hidden, self.dropout, self.weight_decay = channels, hidden, dropout, weight_decay
        self.random_state, self.n_jobs = random_state, n_jobs

    def _prep(self, windows: np.ndarray) -> np.ndarray:
        z = (np.asarray(windows, dtype=np.float32) - self.mu_[None, :, None]) / self.sd_[None, :, None]
        return np.ascontiguousarray(z)

    def _prep_static(self, static: np.ndarray | None) -> Any:
        import torch

        if not self.n_static_:
            return torch.zeros((0,))
        z = (np.asarray(static, dtype=np.float32) - self.smu_) / self.ssd_
        return torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32))

    def fit(self, windows: np.ndarray, target: np.ndarray, static: np.ndarray | None = None) -> "WindowCNN":
        import torch

        windows = np.asarray(windows, dtype=np.float32)
        flat = windows[:, :, -1]  # every history row once (its current cycle)
        self.mu_ = flat.mean(axis=0).astype(np.float32)
        sd = flat.std(axis=0)
        self.sd_ = np.where(sd > 0, sd, 1.0).astype(np.float32)
        self.n_sensors_, self.w_ = windows.shape[1], windows.shape[2]
        self.n_static_ = 0 if static is None else int(np.asarray(static).shape[1])
        if self.n_static_:
            st = np.asarray(static, dtype=np.float32)
            self.smu_, ssd = st.mean(axis=0), st.std(axis=0)
            self.ssd_ = np.where(ssd > 0, ssd, 1.0).astype(np.float32)
        xt, stt = torch.from_numpy(self._prep(windows)), self._prep_static(static)
        yt = torch.from_numpy((np.minimum(np.asarray(target, dtype=np.float32), self.cap) / self.cap)[:, None])
        before = torch.get_num_threads()
        torch.set_num_threads(max(1, int(self.n_jobs)))
        self.states_ = []
        try:
            for k in range(self.seeds):
                torch.manual_seed(self.random_state + k)
                gen = torch.Generator().manual_seed(self.random_state + k)
                net = _build(self.n_sensors_, self.w_, self.n_static_, self.channels, self.hidden, self.dropout)
                opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
                steps = self.epochs * int(np.ceil(len(xt) / self.batch_size))
                sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=self.lr, total_steps=steps)
                net.train()
                for _ in range(self.epochs):
                    perm = torch.randperm(len(xt), generator=gen)
                    for i in range(0, len(xt), self.batch_size):
                        b = perm[i:i + self.batch_size]
                        opt.zero_grad()
                        loss = torch.nn.functional.mse_loss(net(xt[b], stt[b] if self.n_static_ else None), yt[b])
                        loss.backward()
                        opt.step()
                        sched.step()
                net.eval()
                self.states_.append({k2: v.detach().clone() for k2, v in net.state_dict().items()})
        finally:
            torch.set_num_threads(before)
        return self

    def predict(self, windows: np.ndarray, static: np.ndarray | None = None) -> np.ndarray:
        import torch

        xt, stt = torch.from_numpy(self._prep(windows)), self._prep_static(static)
        before = torch.get_num_threads()
        torch.set_num_threads(max(1, int(self.n_jobs)))
        try:
            preds = []
            net = _build(self.n_sensors_, self.w_, self.n_static_, self.channels, self.hidden, self.dropout)
            net.eval()
            with torch.no_grad():
                for state in self.states_:
                    net.load_state_dict(state)
                    preds.append(torch.cat([net(xt[i:i + 4096], stt[i:i + 4096] if self.n_static_ else None) for i in range(0, len(xt), 4096)]).numpy()[:, 0])
        finally:
            torch.set_num_threads(before)
        return np.clip(np.mean(preds, axis=0) * self.cap, 0.0, self.cap)
