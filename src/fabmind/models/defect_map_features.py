"""Spatial features of a binned defect map: what the pattern classifier reads.

All features are invariant to rotation of the substrate (sector shares are sorted, angles enter only
through concentration measures) and comparable between glass and wafers: radii are ranked over the
substrate's bins, so each of the ``N_BANDS`` radial bands covers the same area on any geometry
(Chebyshev radius on glass, so bands follow the rectangle; Euclidean on wafers).

Feature groups (names in :data:`FEATURE_NAMES`):

* counts — ``log_n`` (log1p of the defect count), ``occupancy`` (share of bins with a defect);
* radial density — ``band_0..band_9``: defect share of each equal-area band from the centre out,
  divided by the band's area share (1 = uniform), ``r_mean``/``r_std`` of the area-ranked radius;
* angular — sorted shares of 12 sectors, their entropy and the mean resultant length, over the whole
  map and over the outer 20 % (``edge_*``: an edge ring is spread, an edge-local patch is not);
* moments — distance of the centroid from the centre, spread and elongation of the covariance;
* line (Radon) — the point set projected on 18 directions into 32 bins: the sharpest projection
  (``radon_peak_max``), the flattest one and their ratio (a line is sharp at one angle only), the
  share of defects within one bin of the sharpest line, and how many separated peaks it has;
* concentration — on the map smoothed with a Gaussian (1.5 bins): peak density, the share of
  defects in the hottest 2 % / 10 % of the area, and the size, share, elongation and radius of the
  largest (and the share of the second largest) connected hot region.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from fabmind.sim.defect_maps import BINS, DefectMap, substrate_mask

N_BANDS, N_SECTORS, N_ANGLES, N_PROJ = 10, 12, 18, 32
EDGE_FROM = 0.8  # outer 20 % of the area is the edge zone


def _names() -> list[str]:
    names = ["log_n", "occupancy", *[f"band_{i}" for i in range(N_BANDS)], "r_mean", "r_std"]
    for zone in ("sector", "edge"):
        names += [f"{zone}_top1", f"{zone}_top3", f"{zone}_entropy", f"{zone}_resultant"]
    names += ["edge_share", "centroid_r", "spread", "elongation",
              "radon_peak_max", "radon_peak_min", "radon_peak_ratio", "line_share", "line_peaks",
              "peak_density", "hot2_share", "hot10_share",
              "blob_share", "blob_area", "blob_elongation", "blob_r", "blob2_share", "n_blobs"]
    return names


FEATURE_NAMES: tuple[str, ...] = tuple(_names())


class _Grid:
    """Per-geometry constants: which bin falls in which band, sector, edge zone and projection bin."""

    def __init__(self, kind: str, bins: int):
        mask = substrate_mask(kind, bins).ravel()
        c = (np.arange(bins) + 0.5) / bins * 2 - 1
        u, v = (a.ravel() for a in np.meshgrid(c, c))
        r = np.hypot(u, v) if kind == "wafer" else np.maximum(np.abs(u), np.abs(v))
        self.mask, self.n_mask = mask, int(mask.sum())
        idx = np.nonzero(mask)[0]
        from scipy.stats import rankdata

        # bins at the same radius share their (average) rank, so a turned map falls in the same bands
        rank = (rankdata(np.round(r[idx], 9), method="average") - 0.5) / self.n_mask
        self.idx, self.u, self.v, self.rr = idx, u[idx], v[idx], rank  # rr: area-ranked radius in (0, 1)
        band = np.minimum((rank * N_BANDS).astype(int), N_BANDS - 1)
        self.band = np.eye(N_BANDS)[band]  # [bins_on_substrate, band]
        self.band_share = self.band.mean(axis=0)
        theta = np.arctan2(v[idx], u[idx])
        self.cos, self.sin = np.cos(theta), np.sin(theta)
        sector = np.minimum(((theta + np.pi) / (2 * np.pi) * N_SECTORS).astype(int), N_SECTORS - 1)
        self.sector = np.eye(N_SECTORS)[sector]
        self.edge = (rank >= EDGE_FROM).astype(float)
        ang = np.linspace(0, np.pi, N_ANGLES, endpoint=False)
        proj = np.outer(self.u, np.cos(ang)) + np.outer(self.v, np.sin(ang))  # [bins, angles]
        lim = np.abs(proj).max(axis=0) + 1e-9
        pbin = np.minimum(((proj / lim + 1) / 2 * N_PROJ).astype(int), N_PROJ - 1)
        from scipy import sparse

        rows = np.repeat(np.arange(idx.size), N_ANGLES)
        cols = (np.tile(np.arange(N_ANGLES), idx.size) * N_PROJ + pbin.ravel())
        self.radon = sparse.csr_matrix((np.ones(rows.size, np.float32), (rows, cols)), shape=(idx.size, N_ANGLES * N_PROJ))
        for name in ("u", "v", "rr", "band", "band_share", "cos", "sin", "sector", "edge"):
            setattr(self, name, getattr(self, name).astype(np.float32))


@lru_cache(maxsize=8)
def _grid(kind: str, bins: int) -> _Grid:
    return _Grid(kind, bins)


def _sorted_share_stats(shares: np.ndarray) -> np.ndarray:
    """top-1 share, top-3 share and normalised entropy of rows of sector shares (rows sum to 1 or 0)."""
    s = -np.sort(-shares, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.nansum(np.where(shares > 0, shares * np.log(shares), 0.0), axis=1) / np.log(shares.shape[1])
    return np.column_stack([s[:, 0], s[:, :3].sum(axis=1), ent])


def _blobs(dens: np.ndarray, counts: np.ndarray, ndimage) -> np.ndarray:
    """Largest hot connected regions of every map at once: ``dens`` is the smoothed density on the full grid
    ``[maps, bins, bins]`` (1 = the map's mean over the substrate). Columns: largest region's defect share,
    area share, elongation, centroid radius; second region's share; regions holding >= 5 % of the defects."""
    n_maps, bins, _ = dens.shape
    peak = dens.reshape(n_maps, -1).max(axis=1)
    hot = dens > np.maximum(3.0, 0.25 * peak)[:, None, None]
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = True  # 8-connected within a map, never across maps
    lab, n = ndimage.label(hot, structure=structure)
    out = np.zeros((n_maps, 6))
    if n == 0:
        return out
    flat = lab.ravel()
    on = flat > 0
    lab_on = flat[on] - 1
    w = counts.ravel()[on]
    c = (np.arange(bins) + 0.5) / bins * 2 - 1
    x = np.broadcast_to(c[None, None, :], dens.shape).ravel()[on]
    y = np.broadcast_to(c[None, :, None], dens.shape).ravel()[on]
    map_of = np.broadcast_to(np.arange(n_maps)[:, None, None], dens.shape).ravel()[on]
    region_map = np.zeros(n, int)
    region_map[lab_on] = map_of
    sums = [np.bincount(lab_on, weights=a, minlength=n) for a in (w, w * x, w * y, w * x * x, w * y * y, w * x * y)]
    area = np.bincount(lab_on, minlength=n)
    total = counts.reshape(n_maps, -1).sum(axis=1)
    share = sums[0] / np.maximum(total[region_map], 1e-9)
    order = np.lexsort((-share, region_map))  # by map, largest share first
    first = np.ones(n, bool)
    first[1:] = region_map[order][1:] != region_map[order][:-1]
    best = order[first]
    second_pos = np.nonzero(first)[0] + 1
    has_second = (second_pos < n)
    has_second[has_second] = region_map[order[second_pos[has_second]]] == region_map[best[has_second]]
    m = region_map[best]
    sw = np.maximum(sums[0][best], 1e-9)
    mx, my = sums[1][best] / sw, sums[2][best] / sw
    cuu, cvv, cuv = sums[3][best] / sw - mx**2, sums[4][best] / sw - my**2, sums[5][best] / sw - mx * my
    tr, det = cuu + cvv, cuu * cvv - cuv**2
    disc = np.sqrt(np.maximum(tr**2 / 4 - det, 0))
    l1, l2 = tr / 2 + disc, np.maximum(tr / 2 - disc, 0)
    out[m, 0] = share[best]
    out[m, 1] = area[best] / (bins * bins)
    out[m, 2] = np.where(l1 > 1e-12, 1 - l2 / np.maximum(l1, 1e-12), 0.0)
    out[m, 3] = np.hypot(mx, my)
    out[m[has_second], 4] = share[order[second_pos[has_second]]]
    out[:, 5] = np.bincount(region_map, weights=(share >= 0.05).astype(float), minlength=n_maps)
    return out


def binned_features(counts: np.ndarray, kinds: Sequence[str]) -> np.ndarray:
    """Feature matrix ``[n_maps, len(FEATURE_NAMES)]`` of binned maps ``[n_maps, bins, bins]``."""
    from scipy import ndimage

    counts = np.asarray(counts, dtype=np.float32)
    if counts.ndim != 3 or counts.shape[1] != counts.shape[2]:
        raise ValueError(f"binned maps must be [n_maps, bins, bins], got shape {counts.shape}")
    if len(kinds) != len(counts):
        raise ValueError(f"{len(counts)} maps but {len(kinds)} substrate kinds")
    bins = counts.shape[1]
    out = np.zeros((len(counts), len(FEATURE_NAMES)))
    kinds_arr = np.asarray(kinds)
    for kind in np.unique(kinds_arr):
        rows = np.nonzero(kinds_arr == kind)[0]
        out[rows] = _features_one_kind(counts[rows], str(kind), bins, ndimage)
    return out


def _features_one_kind(counts: np.ndarray, kind: str, bins: int, ndimage) -> np.ndarray:
    g = _grid(kind, bins)
    flat = counts.reshape(len(counts), -1)
    w = flat if g.n_mask == flat.shape[1] else flat[:, g.idx]
    n = w.sum(axis=1)
    nz = np.maximum(n, 1e-9)
    q = w / nz[:, None]
    cols: list[np.ndarray] = [np.log1p(n), (w > 0).sum(axis=1) / g.n_mask]
    cols += list((q @ g.band / g.band_share).T)
    r_mean = q @ g.rr
    cols += [r_mean, np.sqrt(np.maximum(q @ g.rr**2 - r_mean**2, 0))]
    sect = q @ g.sector
    cols += list(_sorted_share_stats(sect).T)
    cols.append(np.hypot(q @ g.cos, q @ g.sin))
    we = w * g.edge
    ne = np.maximum(we.sum(axis=1), 1e-9)
    qe = we / ne[:, None]
    cols += list(_sorted_share_stats(qe @ g.sector).T)
    cols += [np.hypot(qe @ g.cos, qe @ g.sin), we.sum(axis=1) / nz]
    mu, mv = q @ g.u, q @ g.v
    cuu, cvv, cuv = q @ g.u**2 - mu**2, q @ g.v**2 - mv**2, q @ (g.u * g.v) - mu * mv
    tr, det = cuu + cvv, cuu * cvv - cuv**2
    disc = np.sqrt(np.maximum(tr**2 / 4 - det, 0))
    l1, l2 = tr / 2 + disc, np.maximum(tr / 2 - disc, 0)
    cols += [np.hypot(mu, mv), np.sqrt(np.maximum(tr, 0)), np.where(l1 > 1e-12, 1 - l2 / np.maximum(l1, 1e-12), 0)]
    h = np.asarray(g.radon.T.dot(q.T)).T.reshape(len(q), N_ANGLES, N_PROJ)  # [maps, angles, proj bins]
    peak = h.max(axis=2)
    best = peak.argmax(axis=1)
    hb = h[np.arange(len(q)), best]  # projection at the sharpest angle
    pos = hb.argmax(axis=1)
    padded = np.pad(hb, ((0, 0), (1, 1)))
    line = padded[np.arange(len(q)), pos] + padded[np.arange(len(q)), pos + 1] + padded[np.arange(len(q)), pos + 2]
    local_max = (hb > np.maximum(np.roll(hb, 1, axis=1), np.roll(hb, -1, axis=1))) & (hb > 2.0 / N_PROJ * 1.5)
    cols += [peak.max(axis=1), peak.min(axis=1), peak.max(axis=1) / np.maximum(peak.min(axis=1), 1e-3), line,
             local_max.sum(axis=1).astype(float)]
    smooth = ndimage.gaussian_filter(counts, sigma=(0, 1.5, 1.5), mode="constant")
    dens = smooth.reshape(len(q), -1)[:, g.idx] / (nz / g.n_mask)[:, None]  # mean density on the substrate = 1
    k2, k10 = max(1, int(0.02 * g.n_mask)), max(1, int(0.10 * g.n_mask))
    top10 = np.argpartition(-dens, k10, axis=1)[:, :k10]
    d10, q10 = np.take_along_axis(dens, top10, axis=1), np.take_along_axis(q, top10, axis=1)
    top2 = np.argpartition(-d10, k2, axis=1)[:, :k2]
    cols += [dens.max(axis=1), np.take_along_axis(q10, top2, axis=1).sum(axis=1), q10.sum(axis=1)]
    full = np.zeros((len(q), bins * bins))
    full[:, g.idx] = dens
    blobs = _blobs(full.reshape(len(q), bins, bins), counts, ndimage)
    cols += list(blobs.T)
    return np.column_stack(cols)


def map_features(maps: Sequence[DefectMap], bins: int = BINS) -> pd.DataFrame:
    """The feature table (one row per map, index = substrate id) of defect maps."""
    if not len(maps):
        return pd.DataFrame(columns=list(FEATURE_NAMES), dtype=float)
    counts = np.stack([m.binned(bins) for m in maps])
    values = binned_features(counts, [m.geometry.kind for m in maps])
    return pd.DataFrame(values, columns=list(FEATURE_NAMES), index=[m.substrate_id for m in maps])
