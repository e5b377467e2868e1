"""Import of defect maps from inspection (AOI) exports: one CSV row per defect.

Columns (case-insensitive; aliases in brackets):

* ``substrate_id`` [``glass_id``, ``wafer_id``] — required;
* ``x_mm`` [``x``], ``y_mm`` [``y``] — required, mm from the lower-left corner of the substrate's
  bounding box (``origin="center"``: from its centre);
* ``width_mm`` / ``height_mm`` for glass, ``diameter_mm`` for wafers; ``kind`` [``substrate_kind``,
  ``shape``] = ``glass`` | ``wafer`` (default: ``wafer`` when a diameter is given);
* optional: ``lot_id`` (default: the substrate id up to its last ``-``), ``defect_class`` [``class``],
  ``size_um``, ``step_id`` (default ``AOI``), ``ts`` [``inspected_at``] (default: import time).

Every row is stored or quarantined with its reason (:meth:`fabmind.store.Store.quarantine`, kind
``defect``): no substrate id, a coordinate that is not a number, missing or inconsistent substrate
dimensions, a bad class name, or a position **outside the substrate** (beyond the glass rectangle or
the wafer's circle). Good rows become one :class:`~fabmind.domain.Inspection` per substrate (its
geometry kept in ``measurements``: ``glass_width_mm``/``glass_height_mm`` or ``wafer_diameter_mm``,
which :func:`fabmind.models.defect_map_causes.load_maps` reads back) and one
:class:`~fabmind.domain.Defect` per row, with ids derived from the file's order, so a replay of the
same export duplicates nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from fabmind.sim.defect_maps import DefectMap, Geometry

ALIASES = {
    "substrate_id": ("substrate_id", "glass_id", "wafer_id", "substrate"),
    "x_mm": ("x_mm", "x"), "y_mm": ("y_mm", "y"),
    "defect_class": ("defect_class", "class", "classification"),
    "kind": ("kind", "substrate_kind", "shape"),
    "width_mm": ("width_mm", "glass_width_mm"), "height_mm": ("height_mm", "glass_height_mm"),
    "diameter_mm": ("diameter_mm", "wafer_diameter_mm"),
    "lot_id": ("lot_id", "lot"), "size_um": ("size_um", "size"), "step_id": ("step_id", "step"),
    "ts": ("ts", "inspected_at", "timestamp"),
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,80}$")


class DefectMapImportError(ValueError):
    """The export cannot be read at all (no file, required columns missing); the message says which."""


@dataclass(frozen=True)
class RejectedDefect:
    row: int  # 0-based data row of the export
    code: str  # no_substrate, bad_coordinate, bad_geometry, bad_timestamp, bad_class, outside_substrate
    reason: str
    payload: dict = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class DefectMapImportReport:
    source: str
    received: int
    stored: int
    quarantined: int
    substrates: tuple[str, ...]
    reasons: dict[str, int]  # code -> rows


def read_defect_csv(path: str | Path) -> pd.DataFrame:
    """The export as a frame with canonical column names (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DefectMapImportError(f"no defect export at {path}")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return canonical_columns(raw, str(path))


def canonical_columns(raw: pd.DataFrame, source: str = "frame") -> pd.DataFrame:
    lower = {str(c).strip().lower(): c for c in raw.columns}
    out = pd.DataFrame(index=raw.index)
    for name, options in ALIASES.items():
        for opt in options:
            if opt in lower:
                out[name] = raw[lower[opt]].astype(str).str.strip()
                break
    missing = [c for c in ("substrate_id", "x_mm", "y_mm") if c not in out]
    if missing:
        raise DefectMapImportError(f"{source}: required columns {missing} not found; columns: {list(raw.columns)}")
    if "width_mm" not in out and "diameter_mm" not in out:
        raise DefectMapImportError(f"{source}: substrate dimensions missing: give width_mm/height_mm (glass) "
                                   f"or diameter_mm (wafer)")
    return out


def _num(series: pd.Series | None, index) -> pd.Series:
    if series is None:
        return pd.Series(np.nan, index=index)
    return pd.to_numeric(series.replace("", np.nan), errors="coerce")


def _utc(text: str) -> datetime | None:
    """A timestamp (naive = UTC); None for an empty text; ValueError for an unreadable one."""
    if not text:
        return None
    t = pd.Timestamp(text)
    if pd.isna(t):
        raise ValueError(f"timestamp {text!r} is not a date/time")
    return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).to_pydatetime()


def _geometry_of(kind: str, w: float, h: float, d: float) -> Geometry:
    kind = kind.lower() or ("wafer" if np.isfinite(d) else "glass")
    if kind == "wafer":
        return Geometry.wafer(d if np.isfinite(d) else w)
    return Geometry.glass(w, h)


def validate_defect_rows(frame: pd.DataFrame, origin: str = "lower_left") -> tuple[pd.DataFrame, list[RejectedDefect]]:
    """Split canonical rows into good ones (with ``kind``, ``width_mm``, ``height_mm`` and lower-left
    ``x_mm``/``y_mm`` filled in) and rejected ones with the reason."""
    if origin not in ("lower_left", "center"):
        raise ValueError(f"origin={origin!r}: use 'lower_left' or 'center'")
    idx = frame.index
    x, y = _num(frame.get("x_mm"), idx), _num(frame.get("y_mm"), idx)
    w, h, d = _num(frame.get("width_mm"), idx), _num(frame.get("height_mm"), idx), _num(frame.get("diameter_mm"), idx)
    kinds = frame.get("kind", pd.Series("", index=idx)).str.lower()
    cls = frame.get("defect_class", pd.Series("", index=idx)).replace("", "unclassified")
    bad: list[RejectedDefect] = []
    keep, geoms, seen = [], [], {}
    for pos, i in enumerate(idx):
        row = frame.loc[i].to_dict()
        sub = str(row.get("substrate_id", ""))

        def reject(code: str, reason: str, pos: int = pos, row: dict = row) -> None:
            bad.append(RejectedDefect(pos, code, f"row {pos}: {reason}", row))

        if not sub or not _ID.match(sub):
            reject("no_substrate", f"substrate id {sub!r} is missing or not a valid id")
            continue
        if not (np.isfinite(x[i]) and np.isfinite(y[i])):
            reject("bad_coordinate", f"{sub}: coordinate x={row.get('x_mm')!r}, y={row.get('y_mm')!r} is not a number")
            continue
        try:
            geom = _geometry_of(kinds[i], float(w[i]), float(h[i]), float(d[i]))
        except ValueError as exc:
            reject("bad_geometry", f"{sub}: {exc}")
            continue
        first = seen.setdefault(sub, geom)
        if first != geom:
            reject("bad_geometry", f"{sub}: dimensions {geom.kind} {geom.width_mm} x {geom.height_mm} mm differ "
                                   f"from its first row ({first.kind} {first.width_mm} x {first.height_mm} mm)")
            continue
        try:
            _utc(str(row.get("ts", "") or ""))
        except ValueError as exc:
            reject("bad_timestamp", f"{sub}: {exc}")
            continue
        if not _ID.match(str(cls[i])):
            reject("bad_class", f"{sub}: defect class {cls[i]!r} is not a valid name")
            continue
        xx, yy = float(x[i]), float(y[i])
        if origin == "center":
            xx, yy = xx + geom.width_mm / 2, yy + geom.height_mm / 2
        if not geom.contains(np.array([xx]), np.array([yy]))[0]:
            where = (f"outside the wafer (diameter {geom.width_mm:g} mm): "
                     f"{np.hypot(xx - geom.width_mm / 2, yy - geom.height_mm / 2):.1f} mm from its centre"
                     if geom.kind == "wafer" else f"outside the glass 0..{geom.width_mm:g} x 0..{geom.height_mm:g} mm")
            reject("outside_substrate", f"{sub}: defect at x={xx:g}, y={yy:g} mm lies {where}")
            continue
        keep.append(i)
        geoms.append((geom.kind, geom.width_mm, geom.height_mm, xx, yy, str(cls[i])))
    good = frame.loc[keep].copy()
    g = np.array(geoms, dtype=object).reshape(-1, 6)
    good["kind"], good["width_mm"], good["height_mm"] = g[:, 0], g[:, 1].astype(float), g[:, 2].astype(float)
    good["x_mm"], good["y_mm"], good["defect_class"] = g[:, 3].astype(float), g[:, 4].astype(float), g[:, 5]
    return good, bad


def maps_from_rows(good: pd.DataFrame) -> list[DefectMap]:
    """One :class:`DefectMap` per substrate of validated rows."""
    maps = []
    for sub, g in good.groupby("substrate_id", sort=True):
        first = g.iloc[0]
        geom = Geometry(str(first["kind"]), float(first["width_mm"]), float(first["height_mm"]))
        maps.append(DefectMap(str(sub), geom, g["x_mm"].to_numpy(float), g["y_mm"].to_numpy(float),
                              tuple(g["defect_class"]), lot_id=str(g.get("lot_id", pd.Series([""])).iloc[0])))
    return maps


def import_defect_maps(source: str | Path | pd.DataFrame, store, *, name: str | None = None,
                       origin: str = "lower_left", default_ts: datetime | None = None) -> DefectMapImportReport:
    """Validate an inspection export, store the good defects and quarantine the rest with the reason."""
    from fabmind.domain import Defect, Inspection, InspectionResult

    frame = canonical_columns(source, name or "frame") if isinstance(source, pd.DataFrame) else read_defect_csv(source)
    src = name or (str(source) if not isinstance(source, pd.DataFrame) else "defect-map-frame")
    good, bad = validate_defect_rows(frame, origin)
    now = default_ts or datetime.now(UTC)
    records: list = []
    size = _num(good.get("size_um"), good.index).fillna(1.0).clip(lower=0.01)
    for sub, g in good.groupby("substrate_id", sort=True):
        first = g.iloc[0]
        step = str(first.get("step_id", "") or "AOI")
        lot = str(first.get("lot_id", "") or (sub.rsplit("-", 1)[0] if "-" in sub else sub))
        ts = _utc(str(first.get("ts", "") or "")) or now
        geo = ({"wafer_diameter_mm": float(first["width_mm"])} if first["kind"] == "wafer"
               else {"glass_width_mm": float(first["width_mm"]), "glass_height_mm": float(first["height_mm"])})
        ins_id = f"I-{sub}-{step}"
        records.append(Inspection(inspection_id=ins_id, substrate_id=sub, lot_id=lot, step_id=step,
                                  ts=ts, defect_count=len(g), result=InspectionResult.PASS,
                                  measurements=geo))
        for k, (i, r) in enumerate(g.iterrows()):
            records.append(Defect(defect_id=f"{ins_id}:{k + 1:05d}", inspection_id=ins_id, substrate_id=sub,
                                  defect_class=r["defect_class"], x_mm=float(r["x_mm"]), y_mm=float(r["y_mm"]),
                                  size_um=float(size[i])))
    if records:
        store.upsert(records)
    for rej in bad:
        store.quarantine(src, "defect", rej.reason, rej.payload, code=rej.code)
    reasons: dict[str, int] = {}
    for rej in bad:
        reasons[rej.code] = reasons.get(rej.code, 0) + 1
    return DefectMapImportReport(src, len(frame), len(good), len(bad), tuple(sorted(good["substrate_id"].unique())),
                                 reasons)
