"""Defect maps: where the defects of one glass or wafer sit, by the spatial pattern their cause leaves.

An AOI map is a set of defect positions on a substrate. Its *pattern* points at the cause: an edge
ring at chuck / heater edge zones, a centre blob at gas distribution, a line at handling, a donut at
plasma uniformity, a random spread at particles (see :data:`fabmind.sim.faults.FAULT_LIBRARY`,
``defect_pattern``). This module generates such maps with realistic noise and re-places the demo
fab's defects so that every inspected glass carries the pattern of the faults it went through.

* :class:`Geometry` — rectangular glass (``width_mm`` x ``height_mm``) or round wafer (diameter);
  coordinates are mm from the lower-left corner of the substrate's bounding box.
* :class:`DefectMap` — one substrate's defects; :meth:`DefectMap.binned` gives the 64 x 64 count map.
* :func:`generate_map` / :func:`simulate_maps` — labelled maps for training and benchmarks: the
  pattern classes in :data:`PATTERNS` (``none`` and ``mixed`` included) plus :data:`NOVEL_PATTERNS`
  that no fault leaves (only used to test novelty detection). Every map gets random background
  particles and now and then a short handling scratch; rings and donuts may be partial arcs;
  rotation-invariant patterns get a random orientation.
* :func:`apply_patterns` — post-processing of a :class:`~fabmind.sim.SimResult` that
  :func:`fabmind.sim.simulate` runs by default (``defect_maps=True``): re-places the AOI defects of
  every inspected substrate from the ground truth (which faults touched it, how strongly),
  deterministically from the seed, with realistic counts (``DEFECTS_PER_STRENGTH``). Yields are left as
  the simulator computed them from its killer defects (the map holds every AOI detection, killers
  and sub-killers).

Shapes live in unit coordinates ``u, v`` in ``[-1, 1]``; the *radius* is Chebyshev
(``max(|u|, |v|)``) on glass, so rings follow the rectangle, and Euclidean on wafers.

    >>> import numpy as np
    >>> m = generate_map("edge_ring", np.random.default_rng(0), GLASS, n_pattern=120, background=0)
    >>> m.n_defects, m.pattern, m.binned().shape
    (120, 'edge_ring', (64, 64))
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

#: Pattern classes the classifier knows. ``none``: background only; ``mixed``: two causes at once.
PATTERNS: tuple[str, ...] = ("none", "random", "center", "edge_ring", "edge_loc", "donut", "scratch", "cluster",
                             "mixed")
#: Patterns no fault of the library leaves: used to measure novelty detection, never for training.
NOVEL_PATTERNS: tuple[str, ...] = ("stripe", "grid")
#: The spatial patterns that can be combined into ``mixed``.
MIXABLE: tuple[str, ...] = ("random", "center", "edge_ring", "edge_loc", "donut", "scratch", "cluster")
#: Typical defect class of each pattern (what AOI calls the defects of that cause).
PATTERN_DEFECT_CLASS: dict[str, str] = {
    "random": "particle", "center": "thin_film", "edge_ring": "edge_thin_film", "edge_loc": "film_nonuniform",
    "donut": "plasma_damage", "scratch": "scratch", "cluster": "particle", "stripe": "coating_streak",
    "grid": "repeater",
}
BINS = 64


@dataclass(frozen=True)
class Geometry:
    """A substrate: ``kind`` ``'glass'`` (rectangle) or ``'wafer'`` (disc of diameter ``width_mm``)."""

    kind: str
    width_mm: float
    height_mm: float

    def __post_init__(self) -> None:
        if self.kind not in ("glass", "wafer"):
            raise ValueError(f"substrate kind {self.kind!r}: use 'glass' or 'wafer'")
        if not (self.width_mm > 0 and self.height_mm > 0 and np.isfinite(self.width_mm + self.height_mm)):
            raise ValueError(f"substrate size {self.width_mm} x {self.height_mm} mm: both must be positive")
        if self.kind == "wafer" and abs(self.width_mm - self.height_mm) > 1e-6:
            raise ValueError(f"a wafer is round: width {self.width_mm} != height {self.height_mm} mm")

    @classmethod
    def glass(cls, width_mm: float, height_mm: float) -> Geometry:
        return cls("glass", float(width_mm), float(height_mm))

    @classmethod
    def wafer(cls, diameter_mm: float = 300.0) -> Geometry:
        return cls("wafer", float(diameter_mm), float(diameter_mm))

    @property
    def area_mm2(self) -> float:
        return self.width_mm * self.height_mm * (np.pi / 4 if self.kind == "wafer" else 1.0)

    def contains(self, x_mm: np.ndarray, y_mm: np.ndarray) -> np.ndarray:
        """True where a position (mm, lower-left origin) lies on the substrate (edge included)."""
        u, v = self.to_unit(np.asarray(x_mm, float), np.asarray(y_mm, float))
        eps = 1e-9
        if self.kind == "wafer":
            return np.hypot(u, v) <= 1 + eps
        return (np.abs(u) <= 1 + eps) & (np.abs(v) <= 1 + eps)

    def to_unit(self, x_mm: np.ndarray, y_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return 2 * np.asarray(x_mm) / self.width_mm - 1, 2 * np.asarray(y_mm) / self.height_mm - 1

    def from_unit(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(u) + 1) * self.width_mm / 2, (np.asarray(v) + 1) * self.height_mm / 2


GLASS = Geometry.glass(730.0, 920.0)  # the demo fab's glass (fabmind.sim.layout.Substrate)
WAFER_300 = Geometry.wafer(300.0)


@dataclass
class DefectMap:
    """The defects of one substrate. ``pattern`` is the ground truth for simulated maps ('' when unknown)."""

    substrate_id: str
    geometry: Geometry
    x_mm: np.ndarray
    y_mm: np.ndarray
    defect_class: tuple[str, ...] = ()
    pattern: str = ""
    lot_id: str = ""
    components: tuple[str, ...] = ()  # the single patterns a simulated map is made of (two for 'mixed')

    def __post_init__(self) -> None:
        self.x_mm = np.asarray(self.x_mm, dtype=float).ravel()
        self.y_mm = np.asarray(self.y_mm, dtype=float).ravel()
        if self.x_mm.shape != self.y_mm.shape:
            raise ValueError(f"{self.substrate_id}: {self.x_mm.size} x values but {self.y_mm.size} y values")

    @property
    def n_defects(self) -> int:
        return int(self.x_mm.size)

    def binned(self, bins: int = BINS) -> np.ndarray:
        """Defect counts on a ``bins`` x ``bins`` grid over the bounding box, ``[row=y, col=x]``, row 0 at the bottom."""
        u, v = self.geometry.to_unit(self.x_mm, self.y_mm)
        iu = np.clip(((u + 1) / 2 * bins).astype(int), 0, bins - 1)
        iv = np.clip(((v + 1) / 2 * bins).astype(int), 0, bins - 1)
        return np.bincount(iv * bins + iu, minlength=bins * bins).reshape(bins, bins).astype(np.float32)


def substrate_mask(kind: str, bins: int = BINS) -> np.ndarray:
    """Bins that touch the substrate (all of them for glass, those touching the inscribed disc for wafers)."""
    c = (np.arange(bins) + 0.5) / bins * 2 - 1
    u, v = np.meshgrid(c, c)
    half_diagonal = np.sqrt(2) / bins
    return np.hypot(u, v) <= 1.0 + half_diagonal if kind == "wafer" else np.ones((bins, bins), bool)


# --------------------------------------------------------------------------- shapes in unit coordinates

def _polar(r: np.ndarray, theta: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(theta), np.sin(theta)
    if kind == "glass":  # Chebyshev radius: the ring follows the rectangle
        k = np.maximum(np.abs(c), np.abs(s))
        return r * c / k, r * s / k
    return r * c, r * s


def _arc(rng: np.random.Generator, n: int) -> np.ndarray:
    """Angles of a ring, half the time a partial arc (55-100 % of the circumference)."""
    cover = 1.0 if rng.random() < 0.5 else rng.uniform(0.55, 1.0)
    return rng.uniform(0, 2 * np.pi) + rng.uniform(0, 2 * np.pi * cover, n)


def _shape(pattern: str, n: int, rng: np.random.Generator, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positions of one pattern in unit coordinates (may fall off the substrate; the caller drops those)."""
    if pattern == "random":
        r, t = np.sqrt(rng.random(n)), rng.uniform(0, 2 * np.pi, n)
        if kind == "wafer":
            return _polar(r, t, kind)
        return rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    if pattern == "center":
        c = rng.normal(0, 0.05, 2)
        sd = rng.uniform(0.1, 0.28)
        return c[0] + rng.normal(0, sd, n), c[1] + rng.normal(0, sd, n)
    if pattern == "donut":
        r0, w = rng.uniform(0.35, 0.65), rng.uniform(0.03, 0.09)
        return _polar(r0 + rng.normal(0, w, n), _arc(rng, n), kind)
    if pattern == "edge_ring":
        w = rng.uniform(0.015, 0.06)
        return _polar(1 - np.abs(rng.normal(0, w, n)), _arc(rng, n), kind)
    if pattern == "edge_loc":
        w, spread = rng.uniform(0.02, 0.1), rng.uniform(0.1, 0.4)
        t = rng.uniform(0, 2 * np.pi) + rng.normal(0, spread, n)
        return _polar(1 - np.abs(rng.normal(0, w, n)), t, kind)
    if pattern == "cluster":
        k = 1 if rng.random() < 0.7 else 2
        which = rng.integers(0, k, n)
        cr, ct = rng.uniform(0.3, 0.8, k), rng.uniform(0, 2 * np.pi, k)
        cu, cv = _polar(cr, ct, kind)
        sd = rng.uniform(0.025, 0.07, k)
        return cu[which] + rng.normal(0, 1, n) * sd[which], cv[which] + rng.normal(0, 1, n) * sd[which]
    if pattern == "scratch":
        return _scratch(n, rng, length=rng.uniform(0.5, 1.6))
    if pattern == "stripe":  # parallel coater streaks across the whole substrate
        k = int(rng.integers(3, 7))
        off = np.linspace(-0.8, 0.8, k)[rng.integers(0, k, n)] + rng.normal(0, 0.01, n)
        a, s = rng.uniform(0, np.pi), rng.uniform(-1.4, 1.4, n)
        return off * -np.sin(a) + s * np.cos(a), off * np.cos(a) + s * np.sin(a)
    if pattern == "grid":  # a reticle repeater: the same spot in every exposure shot
        k = int(rng.integers(3, 6))
        pitch = 2.0 / k
        cell = rng.integers(0, k, (n, 2))
        spot = rng.uniform(0.2, 0.8, 2) * pitch
        return (-1 + cell[:, 0] * pitch + spot[0] + rng.normal(0, 0.01, n),
                -1 + cell[:, 1] * pitch + spot[1] + rng.normal(0, 0.01, n))
    raise ValueError(f"unknown defect pattern {pattern!r}; known: {', '.join(PATTERNS + NOVEL_PATTERNS)}")


def _scratch(n: int, rng: np.random.Generator, length: float) -> tuple[np.ndarray, np.ndarray]:
    """A (slightly curved, sometimes broken) line: a robot blade or cassette slot scratch."""
    p0 = _polar(np.sqrt(rng.random()) * 0.6, rng.uniform(0, 2 * np.pi), "wafer")
    a, bend = rng.uniform(0, np.pi), rng.normal(0, 0.25)
    s = rng.uniform(-0.5, 0.5, 4 * n + 8) * length
    if rng.random() < 0.5:  # broken line: one gap
        g = rng.uniform(-0.3, 0.3) * length
        s = s[np.abs(s - g) > 0.08 * length]
    s = s[:n] if s.size >= n else np.resize(s, n)
    w = rng.uniform(0.003, 0.01)
    along, across = s, bend * s**2 + rng.normal(0, w, n)
    return (p0[0] + along * np.cos(a) - across * np.sin(a), p0[1] + along * np.sin(a) + across * np.cos(a))


def _inside(u: np.ndarray, v: np.ndarray, kind: str) -> np.ndarray:
    return np.hypot(u, v) <= 1.0 if kind == "wafer" else (np.abs(u) <= 1.0) & (np.abs(v) <= 1.0)


def place_pattern(pattern: str, n: int, rng: np.random.Generator, geometry: Geometry,
                  parts: tuple[str, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` defect positions (mm, lower-left origin) of ``pattern`` on the substrate (fewer if some fell off).

    ``mixed`` combines two patterns of :data:`MIXABLE` (``parts``, or two drawn at random).
    """
    if n <= 0 or pattern == "none":
        return np.zeros(0), np.zeros(0)
    if pattern == "mixed":
        a, b = parts if parts is not None else rng.choice(MIXABLE, 2, replace=False)
        k = round(n * rng.uniform(0.4, 0.6))
        xa, ya = place_pattern(str(a), k, rng, geometry)
        xb, yb = place_pattern(str(b), n - k, rng, geometry)
        return np.concatenate([xa, xb]), np.concatenate([ya, yb])
    u, v = _shape(pattern, n, rng, geometry.kind)
    keep = _inside(u, v, geometry.kind)
    return geometry.from_unit(u[keep], v[keep])


def background_defects(rng: np.random.Generator, geometry: Geometry, mean: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Random particles every substrate collects, and now and then (10 %) a short handling scratch."""
    lam = float(np.clip(rng.lognormal(np.log(5.0), 0.7), 0, 30)) if mean is None else float(mean)
    x, y = place_pattern("random", int(rng.poisson(lam)), rng, geometry)
    if mean is None and rng.random() < 0.10:
        u, v = _scratch(int(rng.integers(3, 9)), rng, length=rng.uniform(0.1, 0.3))
        keep = _inside(u, v, geometry.kind)
        sx, sy = geometry.from_unit(u[keep], v[keep])
        x, y = np.concatenate([x, sx]), np.concatenate([y, sy])
    return x, y


def pattern_count(pattern: str, rng: np.random.Generator) -> int:
    """How many defects a pattern sheds on one map: log-uniform 20..300 (random spreads 60..400)."""
    lo, hi = (60, 400) if pattern == "random" else (20, 300)
    return int(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def generate_map(pattern: str, rng: np.random.Generator, geometry: Geometry = GLASS, *, n_pattern: int | None = None,
                 background: float | None = None, substrate_id: str = "") -> DefectMap:
    """One labelled map: ``pattern`` (``n_pattern`` defects, default :func:`pattern_count`) plus background noise.

    ``background``: mean number of random particles (default: varies per map, 0..30, with an occasional
    short handling scratch); ``0`` gives a clean map.
    """
    n = pattern_count(pattern, rng) if n_pattern is None else int(n_pattern)
    parts = tuple(str(p) for p in rng.choice(MIXABLE, 2, replace=False)) if pattern == "mixed" else None
    px, py = place_pattern(pattern, n if pattern != "none" else 0, rng, geometry, parts)
    bx, by = background_defects(rng, geometry, background)
    cls = (PATTERN_DEFECT_CLASS.get(parts[0] if parts else pattern, "particle"),) * px.size + ("particle",) * bx.size
    components = parts if parts else () if pattern == "none" else (pattern,)
    return DefectMap(substrate_id, geometry, np.concatenate([px, bx]), np.concatenate([py, by]), cls, pattern,
                     components=components)



def simulate_maps(n: int, seed: int = 0, patterns: tuple[str, ...] = PATTERNS,
                  geometries: tuple[Geometry, ...] = (GLASS, WAFER_300)) -> list[DefectMap]:
    """``n`` labelled maps, patterns and geometries in turn (balanced), deterministic from ``seed``."""
    rng = np.random.default_rng([int(seed), 0xDEFEC7])
    return [generate_map(patterns[i % len(patterns)], rng, geometries[(i // len(patterns)) % len(geometries)],
                         substrate_id=f"SIM-{seed}-{i:06d}") for i in range(n)]


# --------------------------------------------------------------------------- the demo fab's maps

#: AOI detections per glass a fault of strength 1 sheds in its pattern (killer and sub-killer defects together;
#: the yield model of :mod:`fabmind.sim.quality` counts only the killers, ``FaultType.defect_rate``).
DEFECTS_PER_STRENGTH = 60.0
#: A fault's pattern is visible (part of the true label) from this many of its defects on one map.
MIN_VISIBLE = 15


@dataclass
class MapTruth:
    """What :func:`apply_patterns` did: the new result and, per inspected substrate, its true pattern."""

    result: object  # fabmind.sim.SimResult with re-placed defects
    patterns: dict[str, str]  # substrate_id -> pattern ('none' when no fault left a visible pattern)
    components: dict[str, tuple[str, ...]]  # substrate_id -> the visible single patterns
    faults: dict[str, tuple[str, ...]] = field(default_factory=dict)  # substrate_id -> fault ids that shed defects


def _touched(result) -> dict[str, dict[str, float]]:
    """substrate_id -> {fault_id: strongest strength over the substrate's runs}."""
    run_sub = {r.run_id: r.substrate_id for r in result.batch.runs}
    touched: dict[str, dict[str, float]] = {}
    for run_id, strengths in result.run_faults.items():
        per = touched.setdefault(run_sub[run_id], {})
        for fid, s in strengths.items():
            per[fid] = max(per.get(fid, 0.0), s)
    return touched


def apply_patterns(result, seed: int = 0, defects_per_strength: float = DEFECTS_PER_STRENGTH,
                   min_visible: int = MIN_VISIBLE, geometry: Geometry | None = None) -> MapTruth:
    """Re-place the AOI defects of every inspected substrate so its map shows the patterns of its faults.

    For each substrate with a final AOI inspection: the faults of the library that touched any of its
    runs (``result.run_faults``) shed ``Poisson(defects_per_strength * strength)`` defects in the
    fault's ``defect_pattern``; every map gets background particles (and now and then a short handling
    scratch). The true label is the pattern (``mixed`` when two patterns are visible, ``none`` when no
    pattern has ``min_visible`` defects). Deterministic from ``seed`` (its own random stream: the rest
    of the simulation is unchanged); the input result is not changed. Yields are left as the simulator
    computed them from its killer defects: the map holds every AOI detection, killers and sub-killers.
    The returned result carries the truth too (``map_patterns``, ``map_components``, ``map_faults``).

    Why not the simulator's own few defects per glass (``FaultType.defect_rate``, ~5-15 at full
    strength)? A map of ~9 defects carries no recognisable pattern: on the demo fab the classifier
    found the pattern of 6.5 % of such glasses, and maps drawn from the training shapes at the same
    counts fared no better (1-23 % per pattern), against 70-98 % at ten times the count
    (``bench/defect_maps.py``, ``native_sim_maps``).
    """
    from fabmind.sim.engine import rng_for
    from fabmind.sim.faults import FAULT_LIBRARY
    from fabmind.sim.quality import SIZE_UM
    from fabmind.sim.records import new_defect

    batch = result.batch
    if geometry is None:
        sub = result.layout.substrate
        geometry = Geometry(sub.kind, sub.width_mm, sub.height_mm)
    fault_type = {f.fault_id: f.fault_type for f in result.faults}
    touched = _touched(result)
    aoi = sorted((i for i in batch.inspections if i.inspection_id.endswith("-AOI")), key=lambda i: i.inspection_id)
    rng = rng_for(seed, "defect_maps")
    classes: list[str] = []
    class_of: dict[str, int] = {}
    xs, ys, cls_idx, owner = [], [], [], []
    patterns, parts, faults_of = {}, {}, {}
    for k, ins in enumerate(aoi):
        visible, shed = [], []
        for fid, s in sorted(touched.get(ins.substrate_id, {}).items()):
            ft = FAULT_LIBRARY.get(fault_type.get(fid, ""))
            if ft is None:
                continue
            x, y = place_pattern(ft.defect_pattern, int(rng.poisson(defects_per_strength * s)), rng, geometry)
            if x.size:
                c = class_of.setdefault(ft.defect_class, len(class_of))
                xs.append(x), ys.append(y), cls_idx.append(np.full(x.size, c)), owner.append(np.full(x.size, k))
                shed.append(fid)
                if x.size >= min_visible:
                    visible.append(ft.defect_pattern)
        bx, by = background_defects(rng, geometry, None)
        c = class_of.setdefault("particle", len(class_of))
        xs.append(bx), ys.append(by), cls_idx.append(np.full(bx.size, c)), owner.append(np.full(bx.size, k))
        kinds = sorted(set(visible))
        patterns[ins.substrate_id] = "none" if not kinds else kinds[0] if len(kinds) == 1 else "mixed"
        parts[ins.substrate_id] = tuple(kinds)
        faults_of[ins.substrate_id] = tuple(shed)
    classes = list(class_of)
    own = np.concatenate(owner) if owner else np.zeros(0, int)
    x_all = np.round(np.concatenate(xs), 2).tolist() if xs else []
    y_all = np.round(np.concatenate(ys), 2).tolist() if ys else []
    ci = np.concatenate(cls_idx) if cls_idx else np.zeros(0, int)
    base = np.array([SIZE_UM.get(c, 5.0) for c in classes])[ci] if classes else np.zeros(0)
    size = np.maximum(np.round(base * rng.lognormal(0, 0.4, own.size), 2), 0.01).tolist()
    counts = np.bincount(own, minlength=len(aoi)).tolist()
    cls_all = [classes[c] for c in ci.tolist()]
    defects = []
    j = 0
    for k, ins in enumerate(aoi):  # owner blocks are contiguous, in inspection order
        prefix, iid, sid = f"D-{ins.substrate_id}-", ins.inspection_id, ins.substrate_id
        for n in range(1, counts[k] + 1):
            defects.append(new_defect(defect_id=f"{prefix}{n:04d}", inspection_id=iid, substrate_id=sid,
                                      defect_class=cls_all[j], x_mm=x_all[j], y_mm=y_all[j], size_um=size[j]))
            j += 1
    n_of = {ins.inspection_id: counts[k] for k, ins in enumerate(aoi)}
    inspections = [i.model_copy(update={"defect_count": n_of[i.inspection_id]}) if i.inspection_id in n_of else i
                   for i in batch.inspections]
    new_batch = replace(batch, defects=defects, inspections=inspections)
    new_result = replace(result, batch=new_batch, map_patterns=patterns, map_components=parts, map_faults=faults_of)
    return MapTruth(new_result, patterns, parts, faults_of)
