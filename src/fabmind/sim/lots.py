"""Lots and routing: lot starts, dispatch of each lot step to a tool, glass to chambers, run times.

A lot step goes to the tool of the step's equipment type that is free first; its glasses are spread
round-robin over the tool's chambers that are not down (PM / repair), one after the other in each
chamber. Lots wait 10 min to a few hours between steps. Everything is seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fabmind.sim.equipment import TYPES
from fabmind.sim.layout import Layout
from fabmind.sim.recipes import PRODUCTS, ROUTE

DAY = 86400.0
TRANSFER_S = 25.0
STEP_INDEX = {s.step_id: i for i, s in enumerate(ROUTE)}


@dataclass
class LotPlan:
    lot_ids: list[str]
    products: list[str]
    release_s: np.ndarray
    sizes: np.ndarray
    doe: np.ndarray  # [n_lots, n_route_steps] bool: lot step runs a designed experiment (wide setpoints)
    end_s: np.ndarray  # end of the last step (nan if the lot did not finish in the window)


@dataclass
class RunTable:
    """One row per run (glass x step), columns as arrays."""

    lot: np.ndarray  # lot index
    slot: np.ndarray  # 1..size
    step: np.ndarray  # index into ROUTE
    chamber: np.ndarray  # index into layout.chamber_ids
    start_s: np.ndarray
    end_s: np.ndarray

    def __len__(self) -> int:
        return int(self.lot.shape[0])

    def take(self, mask: np.ndarray) -> "RunTable":
        return RunTable(*(getattr(self, k)[mask] for k in ("lot", "slot", "step", "chamber", "start_s", "end_s")))


def plan_lots(layout: Layout, rng: np.random.Generator, start_date, horizon_s: float) -> LotPlan:
    every = DAY / layout.lots_per_day
    n = int(horizon_s // every)
    release = np.arange(n) * every + rng.uniform(0, 0.8 * every, n)
    products = [str(p) for p in rng.choice(list(PRODUCTS), n, p=[0.65, 0.35])]
    sizes = rng.integers(20, 26, n)
    doe = rng.random((n, len(ROUTE))) < 0.12
    lot_ids = []
    per_day: dict[int, int] = {}
    for r in release:
        d = int(r // DAY)
        per_day[d] = per_day.get(d, 0) + 1
        day = start_date + np.timedelta64(d, "D")
        lot_ids.append(f"L{str(day).replace('-', '')[2:]}-{per_day[d]:03d}")
    return LotPlan(lot_ids, products, release, sizes, doe, np.full(n, np.nan))


def _free(down: list[tuple[float, float]], t0: float, t1: float) -> tuple[bool, float]:
    """Whether the chamber is up during [t0, t1]; else the end of the blocking downtime."""
    for a, b in down:
        if a < t1 and b > t0:
            return False, b
        if a >= t1:
            break
    return True, t0


def _slot(tool, busy: list[tuple[float, float]], down, ready: float, size: int, cycle: float) -> tuple[float, list[str]]:
    """Earliest start >= ready when the tool is not busy and some chambers stay up for the whole lot step."""
    start = ready
    for _ in range(200):
        up, next_up = [], np.inf
        for c in tool.chambers:
            ok, until = _free(down.get(c, []), start, start + cycle * np.ceil(size / max(len(tool.chambers), 1)))
            if ok:
                up.append(c)
            else:
                next_up = min(next_up, until)
        if not up:
            start = float(next_up)
            continue
        end = start + cycle * np.ceil(size / len(up))
        clash = [b for a, b in busy if a < end and b > start]
        if not clash:
            return start, up
        start = max(clash)
    raise RuntimeError(f"no slot found on {tool.equipment_id} after {ready:.0f} s")


MAX_CANDIDATE_TOOLS = 8


def dispatch(layout: Layout, lots: LotPlan, down: dict[str, list[tuple[float, float]]],
             rng: np.random.Generator, horizon_s: float) -> RunTable:
    chambers = layout.chamber_ids
    ch_index = {c: i for i, c in enumerate(chambers)}
    tools = {t: layout.tools_of_type(t) for t in TYPES if layout.tools_of_type(t)}
    busy: dict[str, list[tuple[float, float]]] = {t.equipment_id: [] for t in layout.tools}
    cols: list[list[np.ndarray]] = [[], [], [], [], [], []]
    for li in range(len(lots.lot_ids)):
        t = float(lots.release_s[li])
        for eq, iv in busy.items():  # later lots are never ready before this release: forget old work
            busy[eq] = [(a, b) for a, b in iv if b > t]
        size = int(lots.sizes[li])
        finished = True
        for step_id in PRODUCTS[lots.products[li]]:
            si = STEP_INDEX[step_id]
            type_id = ROUTE[si].type_id
            spec = TYPES[type_id]
            cycle = spec.run_seconds + TRANSFER_S
            ready = t + (600.0 if si == 0 else float(rng.uniform(600.0, 3 * 3600.0)))
            cands = tools[type_id]
            if len(cands) > MAX_CANDIDATE_TOOLS:  # a lot is qualified on a few tools of the type
                cands = [cands[i] for i in rng.choice(len(cands), MAX_CANDIDATE_TOOLS, replace=False)]
            best = None
            for tool in cands:
                start, up = _slot(tool, busy[tool.equipment_id], down, ready, size, cycle)
                key = start + float(rng.random()) * 60.0
                if best is None or key < best[0]:
                    best = (key, start, tool, up)
            _, start, tool, up = best
            k = len(up)
            slots = np.arange(1, size + 1)
            order = rng.permutation(size)  # which glass goes to which chamber changes from step to step
            which = order % k
            pos = order // k
            run_start = start + pos * cycle + which * 15.0
            run_end = run_start + spec.run_seconds
            keep = run_end <= horizon_s
            ch = np.array([ch_index[up[w]] for w in which])
            for col, v in zip(cols, (np.full(size, li), slots, np.full(size, si), ch, run_start, run_end)):
                col.append(v[keep])
            step_end = float(run_end.max())
            busy[tool.equipment_id].append((start, step_end + TRANSFER_S))
            t = step_end
            if step_end > horizon_s:
                finished = False
                break
        if finished:
            lots.end_s[li] = t
    arrays = [np.concatenate(c) if c else np.zeros(0) for c in cols]
    table = RunTable(arrays[0].astype(np.int64), arrays[1].astype(np.int64), arrays[2].astype(np.int64),
                     arrays[3].astype(np.int64), arrays[4].astype(float), arrays[5].astype(float))
    return table.take(np.lexsort((table.start_s, table.chamber)))
