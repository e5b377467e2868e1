"""Quality: in-line metrology, final AOI with defect maps, and per-glass / per-lot yield.

* Every run has an expected step yield and outcomes from :mod:`fabmind.sim.process` (setpoints,
  PM age, fault strength). Five glasses per lot step are measured (thickness / CD ...).
* Faults shed defects of their class in their spatial pattern (``FaultType.defect_pattern``) on the
  glasses they processed (Poisson, mean ``defect_rate * strength``); every glass also gets random
  particles and the odd handling scratch.
* Glass yield = ``100 * prod(step yields) * exp(-0.008 * defects)`` with a little noise; lot yield is
  the mean over its glasses. So a chamber fault lowers the yield of the glasses it touched.

Defect coordinates are mm from the glass's lower-left corner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PATTERNS = ("edge_ring", "center", "scratch", "random", "donut", "edge_loc", "cluster")
DEFECT_KILL = 0.008
BASE_PARTICLES = 2.5
BASE_SCRATCH = 0.12
SIZE_UM = {"particle": 3.0, "scratch": 40.0, "pinhole": 2.0, "residue": 8.0, "cd_error": 5.0, "thin_film": 20.0,
           "edge_thin_film": 25.0, "film_nonuniform": 20.0, "plasma_damage": 10.0, "coating_void": 30.0}


def pattern_xy(pattern: str, n: int, rng: np.random.Generator, width: float, height: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` defect positions (mm, lower-left origin) following a spatial pattern."""
    if n == 0:
        return np.zeros(0), np.zeros(0)
    cx, cy, half = width / 2, height / 2, min(width, height) / 2
    if pattern == "random":
        x, y = rng.uniform(0, width, n), rng.uniform(0, height, n)
    elif pattern == "center":
        x, y = cx + rng.normal(0, 0.15 * half, n), cy + rng.normal(0, 0.15 * half, n)
    elif pattern == "cluster":
        ox, oy = rng.uniform(0.2 * width, 0.8 * width), rng.uniform(0.2 * height, 0.8 * height)
        x, y = ox + rng.normal(0, 0.05 * half, n), oy + rng.normal(0, 0.05 * half, n)
    elif pattern in ("donut", "edge_ring"):
        # rectangle rings: a band at a fixed relative distance from the centre (Chebyshev-like)
        rel = rng.uniform(0.45, 0.6, n) if pattern == "donut" else rng.uniform(0.9, 0.99, n)
        side = rng.integers(0, 4, n)
        t = rng.uniform(-1, 1, n)
        ux = np.where(side < 2, t, np.where(side == 2, 1.0, -1.0))
        uy = np.where(side < 2, np.where(side == 0, 1.0, -1.0), t)
        x, y = cx + ux * rel * width / 2, cy + uy * rel * height / 2
    elif pattern == "edge_loc":
        side = rng.integers(0, 4)
        d = np.abs(rng.normal(0, 0.04 * half, n))
        along = rng.uniform(0.1, 0.9, n)
        x = [d, width - d, along * width, along * width][side]
        y = [along * height, along * height, d, height - d][side]
    elif pattern == "scratch":
        x0, y0 = rng.uniform(0.1 * width, 0.9 * width), rng.uniform(0.1 * height, 0.9 * height)
        ang = rng.uniform(0, np.pi)
        length = rng.uniform(0.2, 0.6) * half * 2
        s = rng.uniform(-0.5, 0.5, n) * length
        x = x0 + s * np.cos(ang) + rng.normal(0, 1.0, n)
        y = y0 + s * np.sin(ang) + rng.normal(0, 1.0, n)
    else:
        raise ValueError(f"unknown defect pattern {pattern!r}; known: {', '.join(PATTERNS)}")
    return np.clip(x, 0.5, width - 0.5), np.clip(y, 0.5, height - 0.5)


@dataclass
class DefectTable:
    """Defects found at final AOI: glass index, class, pattern, run index (-1: not from a fault), x, y, size."""

    substrate: np.ndarray
    defect_class: list[str]
    x_mm: np.ndarray
    y_mm: np.ndarray
    size_um: np.ndarray
    run: np.ndarray


def fault_defects(run_sub: np.ndarray, strengths: list[tuple[np.ndarray, np.ndarray, float, str, str]],
                  rng: np.random.Generator, width: float, height: float) -> tuple[list, np.ndarray]:
    """Defects shed by faults. ``strengths``: (run indices, strength, defect_rate, class, pattern) per fault.

    Returns the defect rows and the number of fault defects per run index.
    """
    rows = []
    per_run: dict[int, int] = {}
    for runs, s, rate, cls, pattern in strengths:
        counts = rng.poisson(rate * s)
        for r, c in zip(runs[counts > 0], counts[counts > 0]):
            x, y = pattern_xy(pattern, int(c), rng, width, height)
            rows.append((int(run_sub[r]), cls, x, y, int(r)))
            per_run[int(r)] = per_run.get(int(r), 0) + int(c)
    return rows, per_run


def base_defects(n_sub: int, rng: np.random.Generator, width: float, height: float) -> list:
    rows = []
    n_part = rng.poisson(BASE_PARTICLES, n_sub)
    n_scr = rng.random(n_sub) < BASE_SCRATCH
    for i in range(n_sub):
        if n_part[i]:
            x, y = pattern_xy("random", int(n_part[i]), rng, width, height)
            rows.append((i, "particle", x, y, -1))
        if n_scr[i]:
            k = int(rng.integers(4, 12))
            x, y = pattern_xy("scratch", k, rng, width, height)
            rows.append((i, "scratch", x, y, -1))
    return rows


def defect_table(rows: list, rng: np.random.Generator) -> DefectTable:
    if not rows:
        z = np.zeros(0)
        return DefectTable(z.astype(int), [], z, z, z, z.astype(int))
    sub = np.concatenate([np.full(len(r[2]), r[0]) for r in rows])
    cls = [r[1] for r in rows for _ in range(len(r[2]))]
    x = np.concatenate([r[2] for r in rows])
    y = np.concatenate([r[3] for r in rows])
    run = np.concatenate([np.full(len(r[2]), r[4]) for r in rows])
    base = np.array([SIZE_UM.get(c, 5.0) for c in cls])
    size = np.round(base * rng.lognormal(0, 0.4, len(cls)), 2)
    order = np.lexsort((x, sub))
    return DefectTable(sub[order], [cls[i] for i in order], np.round(x[order], 2), np.round(y[order], 2),
                       size[order], run[order])


def substrate_yield(log_param: np.ndarray, n_defects: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Final glass yield (%) from the summed log step-yields and the defect count."""
    y = 100.0 * np.exp(log_param - DEFECT_KILL * n_defects) * (1.0 - np.abs(rng.normal(0, 0.01, n_defects.shape)))
    return np.clip(np.round(y, 3), 0.0, 100.0)
