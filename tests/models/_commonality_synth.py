"""Synthetic route history + yields for the commonality tests (no simulator needed).

Each substrate of each lot goes through every step on a random chamber of that step; its yield
is ``base + noise`` minus ``drop`` when it ran in the faulty chamber at the faulty step inside the
fault window. Returned frames have the columns of ``Store.lot_history()`` / ``Store.yields()``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_fab(
    days: int = 30,
    lots_per_day: int = 12,
    substrates: int = 8,
    steps: int = 6,
    chambers_per_step: int = 4,
    faults: list[dict] | None = None,
    seed: int = 0,
    noise: float = 2.0,
    per_substrate: bool = True,
    lot_routing: bool = False,
):
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-03-01")
    n_lots = days * lots_per_day
    lot_start = start + pd.to_timedelta(np.sort(rng.uniform(0, days * 24, n_lots)), unit="h")
    lot_ids = np.array([f"L{i:05d}" for i in range(n_lots)])
    step_ids = [f"S{k:02d}" for k in range(steps)]
    chambers = {
        s: [
            f"T{k:02d}{j // 2:01d}-{10 + k:02d}/{'ABCD'[j % 4]}".replace(
                f"T{k:02d}{j // 2:01d}", f"TL{k}{j // 2}"
            )
            for j in range(chambers_per_step)
        ]
        for k, s in enumerate(step_ids)
    }
    sub = np.repeat(np.arange(n_lots), substrates)
    sub_ids = np.array([f"{lot_ids[l]}-{i:02d}" for l, i in zip(sub, np.tile(np.arange(substrates), n_lots))])
    yield_pct = 92.0 + rng.normal(0, noise, len(sub))
    frames = []
    for k, s in enumerate(step_ids):
        # lot routing: the whole lot runs in one chamber at the step; else each substrate picks one
        ch = (
            rng.integers(0, chambers_per_step, n_lots)[sub]
            if lot_routing
            else rng.integers(0, chambers_per_step, len(sub))
        )
        t = lot_start[sub] + pd.to_timedelta(k * 6 + rng.uniform(0, 2, len(sub)), unit="h")
        cid = np.array(chambers[s])[ch]
        frames.append(
            pd.DataFrame(
                {
                    "lot_id": lot_ids[sub],
                    "substrate_id": sub_ids,
                    "product_id": "P1",
                    "step_id": s,
                    "seq": k,
                    "chamber_id": cid,
                    "equipment_id": [c.split("/")[0] for c in cid],
                    "recipe_id": f"R-{s}",
                    "start": t,
                    "end": t + pd.Timedelta(minutes=5),
                }
            )
        )
        for f in faults or []:
            if f["step"] != s:
                continue
            hit = (cid == f["chamber"]) & (t >= f["start"]) & (t < f.get("end", pd.Timestamp.max))
            yield_pct[hit] -= f["drop"]
    hist = pd.concat(frames, ignore_index=True)
    ts = lot_start[sub] + pd.Timedelta(hours=steps * 6 + 4)
    y = pd.DataFrame(
        {"lot_id": lot_ids[sub], "substrate_id": sub_ids, "ts": ts, "yield_pct": np.clip(yield_pct, 0, 100)}
    )
    if not per_substrate:
        y = y.groupby("lot_id", as_index=False).agg(ts=("ts", "max"), yield_pct=("yield_pct", "mean"))
        y["substrate_id"] = ""
    return hist, y, chambers
