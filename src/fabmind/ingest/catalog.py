"""What a live source may send: the chambers and, per chamber, its sensors with their valid ranges.

Every connector validates against a :class:`SensorCatalog`; a reading for a chamber or sensor
the catalog does not know is quarantined, never guessed into the store::

    >>> from fabmind.domain import Chamber, Sensor
    >>> cat = SensorCatalog.from_records(
    ...     [Chamber(chamber_id="ETCH-01/A", equipment_id="ETCH-01", type_id="DRYETCH-X")],
    ...     [Sensor(type_id="DRYETCH-X", name="RF_FWD_W", unit="W", low=0, high=3000)])
    >>> cat.sensor("ETCH-01/A", "RF_FWD_W").unit
    'W'
    >>> cat.sensor("ETCH-01/A", "NOPE") is None
    True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fabmind.domain import Chamber, FabBatch, Sensor


@dataclass
class SensorCatalog:
    """Chambers (id -> equipment type) and sensors per equipment type."""

    chamber_type: dict[str, str] = field(default_factory=dict)
    sensors_by_type: dict[str, dict[str, Sensor]] = field(default_factory=dict)

    @classmethod
    def from_records(cls, chambers: Iterable[Chamber], sensors: Iterable[Sensor]) -> SensorCatalog:
        cat = cls()
        for c in chambers:
            cat.chamber_type[c.chamber_id] = c.type_id
        for s in sensors:
            cat.sensors_by_type.setdefault(s.type_id, {})[s.name] = s
        return cat

    @classmethod
    def from_batch(cls, batch: FabBatch) -> SensorCatalog:
        return cls.from_records(batch.chambers, batch.sensors)

    @classmethod
    def from_store(cls, store: Any) -> SensorCatalog:
        """Read chambers and sensors through the store's record-list queries."""
        chambers = list(store.chambers())
        sensors: list[Sensor] = []
        for type_id in sorted({c.type_id for c in chambers}):
            sensors.extend(store.sensors(type_id))
        return cls.from_records(chambers, sensors)

    def knows_chamber(self, chamber_id: str) -> bool:
        return chamber_id in self.chamber_type

    def sensors(self, chamber_id: str) -> dict[str, Sensor]:
        return self.sensors_by_type.get(self.chamber_type.get(chamber_id, ""), {})

    def sensor(self, chamber_id: str, name: str) -> Sensor | None:
        return self.sensors(chamber_id).get(name)

    def limits(self, chamber_id: str, names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Arrays ``(known, low, high)`` for ``names`` on ``chamber_id`` (unknown sensors: known=False)."""
        table = self.sensors(chamber_id)
        known = np.array([n in table for n in names], dtype=bool)
        low = np.array([table[n].low if n in table else np.nan for n in names], dtype=np.float64)
        high = np.array([table[n].high if n in table else np.nan for n in names], dtype=np.float64)
        return known, low, high
