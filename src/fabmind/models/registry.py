"""Model registry: versions with metadata, the active version per scope, rollback.

File based (no database needed): ``<root>/<name>/<scope>/v<N>.pkl`` plus its metadata
sidecar, and one ``<root>/index.json`` that lists versions, the active one and the activation
history per ``(name, scope)``. A *scope* is a chamber id (``ETCH-01/A``) or an equipment type
(``DRYETCH-X``); :meth:`ModelRegistry.resolve` prefers the chamber's own model.

Example::

    >>> import tempfile, numpy as np
    >>> from fabmind.models.anomaly import MSPC
    >>> from fabmind.models.registry import ModelRegistry
    >>> reg = ModelRegistry(tempfile.mkdtemp())
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> reg.register(MSPC(n_components=1).fit(X), scope="ETCH-01/A").version
    'mspc:ETCH-01/A:v1'
    >>> reg.register(MSPC(n_components=2).fit(X), scope="ETCH-01/A").version
    'mspc:ETCH-01/A:v2'
    >>> reg.rollback("mspc", "ETCH-01/A").version
    'mspc:ETCH-01/A:v1'
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fabmind.models.base import ModelError, SmallModel


@dataclass(frozen=True)
class ModelVersion:
    name: str
    scope: str
    version: str  # '<name>:<scope>:v<N>' -- what alarms and reports cite
    number: int
    path: str
    family: str
    created: str
    n_train: int = 0
    train_start: str = ""
    train_end: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    note: str = ""
    active: bool = False


class ModelRegistry:
    """Saved models by name and scope. ``root`` is usually ``Settings().models_dir``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @classmethod
    def from_settings(cls, settings: Any) -> ModelRegistry:
        return cls(settings.models_dir)

    # ---- index -------------------------------------------------------------------------
    @property
    def _index_path(self) -> Path:
        return self.root / "index.json"

    def _read(self) -> dict[str, Any]:
        if not self._index_path.exists():
            return {"format": 1, "models": {}}
        return json.loads(self._index_path.read_text())

    def _write(self, index: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(index, f, indent=1, sort_keys=True)
        os.replace(tmp, self._index_path)  # atomic: a crash never leaves half an index

    def _entry(self, index: dict[str, Any], name: str, scope: str, create: bool = False) -> dict[str, Any]:
        models = index["models"]
        if create:
            return models.setdefault(name, {}).setdefault(scope, {"versions": [], "active": None, "history": []})
        try:
            return models[name][scope]
        except KeyError:
            raise ModelError(f"registry has no model {name!r} for scope {scope!r}") from None

    @staticmethod
    def _as_version(rec: dict[str, Any], active: int | None) -> ModelVersion:
        return ModelVersion(**{**rec, "active": rec["number"] == active})

    # ---- public API ------------------------------------------------------------------------
    def register(self, model: SmallModel, *, scope: str, name: str | None = None,
                 metrics: dict[str, float] | None = None, activate: bool = True, note: str = "") -> ModelVersion:
        """Save a fitted model as the next version of ``(name, scope)``; make it active by default."""
        index = self._read()
        mv = self._add(index, model, scope, name, metrics, activate, note)
        self._write(index)
        return mv

    def register_many(self, items: list[tuple[SmallModel, str, str | None]], *, activate: bool = True,
                      notes: list[str] | None = None) -> list[ModelVersion]:
        """``register`` for many ``(model, scope, name)`` at once: one index write (fleets of chambers)."""
        index = self._read()
        notes = notes or [""] * len(items)
        out = [self._add(index, m, scope, name, None, activate, note) for (m, scope, name), note in zip(items, notes)]
        self._write(index)
        return out

    def active_versions(self) -> dict[tuple[str, str], ModelVersion]:
        """Every active version, keyed by ``(name, scope)``, from one read of the index."""
        out = {}
        for name, scopes in self._read()["models"].items():
            for scope, entry in scopes.items():
                for r in entry["versions"]:
                    if r["number"] == entry["active"]:
                        out[(name, scope)] = self._as_version(r, entry["active"])
        return out

    def _add(self, index: dict[str, Any], model: SmallModel, scope: str, name: str | None,
             metrics: dict[str, float] | None, activate: bool, note: str) -> ModelVersion:
        name = name or model.metadata.name
        entry = self._entry(index, name, scope, create=True)
        number = max((v["number"] for v in entry["versions"]), default=0) + 1
        rec = self.save_version(model, name=name, scope=scope, number=number, metrics=metrics, note=note)
        return self._append(entry, rec, activate)

    @staticmethod
    def _append(entry: dict[str, Any], rec: dict[str, Any], activate: bool) -> ModelVersion:
        entry["versions"].append(rec)
        if activate:
            entry["active"] = rec["number"]
            entry["history"].append(rec["number"])
        return ModelRegistry._as_version(rec, entry["active"])

    def next_numbers(self, names: list[str], scopes: list[str]) -> dict[tuple[str, str], int]:
        """The number the next version of each ``(name, scope)`` will get (1 for a new one): what a worker
        passes to :meth:`save_version` so that the driver only has to :meth:`add_saved` the records."""
        models = self._read()["models"]
        return {(n, s): max((v["number"] for v in models.get(n, {}).get(s, {}).get("versions", [])), default=0) + 1
                for n in names for s in scopes}

    def save_version(self, model: SmallModel, *, name: str, scope: str, number: int,
                     metrics: dict[str, float] | None = None, note: str = "") -> dict[str, Any]:
        """Write ``model`` as version ``number`` of ``(name, scope)`` and return its index record, without
        touching the index. Safe on a worker: writing the same version again (a rerun task) replaces the
        file with an equal one; the version becomes visible only when :meth:`add_saved` records it."""
        meta = model.metadata
        version = f"{name}:{scope}:v{number}"
        meta.version, meta.scope = version, scope
        if metrics:
            meta.metrics.update({k: float(v) for k, v in metrics.items()})
        rel = Path(name) / scope.replace("/", "__") / f"v{number}.pkl"
        model.save(self.root / rel)
        return dict(name=name, scope=scope, version=version, number=number, path=str(rel), family=meta.family,
                    created=datetime.now(UTC).isoformat(timespec="seconds"), n_train=meta.n_train,
                    train_start=meta.train_start, train_end=meta.train_end, metrics=dict(meta.metrics), note=note)

    def add_saved(self, records: list[dict[str, Any]], *, activate: bool = True) -> list[ModelVersion]:
        """Record versions written by :meth:`save_version` (one index write). A record whose number is already
        taken in the index (the registry moved on since :meth:`next_numbers`) is refused."""
        index = self._read()
        out = []
        for rec in records:
            entry = self._entry(index, rec["name"], rec["scope"], create=True)
            if any(v["number"] == rec["number"] for v in entry["versions"]):
                raise ModelError(f"registry: {rec['version']} was registered meanwhile; train again")
            if not (self.root / rec["path"]).exists():
                raise ModelError(f"registry: no model file for {rec['version']} at {self.root / rec['path']}")
            out.append(self._append(entry, rec, activate))
        self._write(index)
        return out

    def versions(self, name: str, scope: str) -> list[ModelVersion]:
        entry = self._entry(self._read(), name, scope)
        return [self._as_version(r, entry["active"]) for r in entry["versions"]]

    def scopes(self, name: str) -> list[str]:
        return sorted(self._read()["models"].get(name, {}))

    def names(self) -> list[str]:
        return sorted(self._read()["models"])

    def active(self, name: str, scope: str) -> ModelVersion | None:
        index = self._read()
        try:
            entry = self._entry(index, name, scope)
        except ModelError:
            return None
        for r in entry["versions"]:
            if r["number"] == entry["active"]:
                return self._as_version(r, entry["active"])
        return None

    def activate(self, name: str, scope: str, version: str | int) -> ModelVersion:
        """Make an existing version the active one (by number or full version string)."""
        index = self._read()
        entry = self._entry(index, name, scope)
        number = version if isinstance(version, int) else int(str(version).rsplit(":v", 1)[-1].lstrip("v"))
        recs = [r for r in entry["versions"] if r["number"] == number]
        if not recs:
            known = [r["number"] for r in entry["versions"]]
            raise ModelError(f"{name}@{scope} has no version {version!r}; known: {known}")
        entry["active"] = number
        entry["history"].append(number)
        self._write(index)
        return self._as_version(recs[0], number)

    def rollback(self, name: str, scope: str) -> ModelVersion:
        """Re-activate the version that was active before the current one."""
        index = self._read()
        entry = self._entry(index, name, scope)
        hist = entry["history"]
        current = entry["active"]
        previous = next((n for n in reversed(hist[:-1]) if n != current), None)
        if previous is None:
            raise ModelError(f"{name}@{scope}: no earlier active version to roll back to")
        entry["active"] = previous
        hist.append(previous)
        self._write(index)
        rec = next(r for r in entry["versions"] if r["number"] == previous)
        return self._as_version(rec, previous)

    def load(self, name: str, scope: str, version: str | int | None = None) -> SmallModel:
        """The active (or the given) version of a model, ready to score."""
        if version is None:
            mv = self.active(name, scope)
            if mv is None:
                raise ModelError(f"registry has no active model {name!r} for scope {scope!r}")
        else:
            number = version if isinstance(version, int) else int(str(version).rsplit(":v", 1)[-1].lstrip("v"))
            mv = next((v for v in self.versions(name, scope) if v.number == number), None)
            if mv is None:
                raise ModelError(f"{name}@{scope} has no version {version!r}")
        return SmallModel.load(self.root / mv.path)

    def resolve(self, name: str, chamber_id: str, type_id: str | None = None) -> ModelVersion | None:
        """The active model for a chamber: its own, else its equipment type's, else ``None``."""
        return self.active(name, chamber_id) or (self.active(name, type_id) if type_id else None)
