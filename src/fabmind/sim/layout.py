"""The plant: site, areas, tools and their chambers, sized by ``scale``.

``scale="demo"``: 14 tools (5 PECVD, 5 dry etch, 4 coat tracks) with 2-4 chambers each, 38 chambers;
``scale="small"``: one tool per area, 8 chambers, for fast tests; an ``int``: about that many chambers
(at least 8), split 40 % CVD, 38 % etch, the rest photo. Lot starts per day grow with the chamber count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fabmind.domain import Area, Chamber, EnergyMeter, Equipment, Site
from fabmind.sim.equipment import DRYETCH, PECVD, TRACK, TYPES, TypeSpec

AREA_NAMES = {"CVD": "thin film (PECVD)", "ETCH": "dry etch", "PHOTO": "photolithography"}
LETTERS = "ABCDEFGH"


@dataclass(frozen=True)
class ToolDef:
    equipment_id: str
    type_id: str
    chambers: tuple[str, ...]

    @property
    def meter_id(self) -> str:
        return f"EM-{self.equipment_id}"


@dataclass(frozen=True)
class Substrate:
    """Glass size; defect coordinates are in mm from the lower-left corner (0..width, 0..height)."""

    kind: str = "glass"
    width_mm: float = 730.0
    height_mm: float = 920.0


@dataclass
class Layout:
    site_id: str
    scale: str
    tools: list[ToolDef]
    lots_per_day: float
    substrate: Substrate = field(default_factory=Substrate)

    @property
    def chamber_ids(self) -> list[str]:
        return [c for t in self.tools for c in t.chambers]

    @property
    def chamber_type(self) -> dict[str, str]:
        return {c: t.type_id for t in self.tools for c in t.chambers}

    def type_of(self, chamber_id: str) -> TypeSpec:
        try:
            return TYPES[self.chamber_type[chamber_id]]
        except KeyError:
            raise KeyError(f"chamber {chamber_id!r} is not in this fab; chambers: {', '.join(self.chamber_ids)}") from None

    def tools_of_type(self, type_id: str) -> list[ToolDef]:
        return [t for t in self.tools if t.type_id == type_id]

    def tool(self, equipment_id: str) -> ToolDef:
        for t in self.tools:
            if t.equipment_id == equipment_id:
                return t
        raise KeyError(f"tool {equipment_id!r} is not in this fab")

    def plant_records(self) -> dict[str, list]:
        """Site, areas, equipment types, sensors, tools, chambers and energy meters as domain records."""
        used = [TYPES[t] for t in dict.fromkeys(t.type_id for t in self.tools)]
        return {
            "sites": [Site(site_id=self.site_id, name="fabmind demo display fab")],
            "areas": [Area(area_id=a, site_id=self.site_id, name=AREA_NAMES[a])
                      for a in dict.fromkeys(t.area_id for t in used)],
            "equipment_types": [t.domain_type() for t in used],
            "sensors": [s for t in used for s in t.domain_sensors()],
            "equipment": [Equipment(equipment_id=t.equipment_id, area_id=TYPES[t.type_id].area_id, type_id=t.type_id,
                                    name=f"{TYPES[t.type_id].name} #{t.equipment_id[-2:]}") for t in self.tools],
            "chambers": [Chamber(chamber_id=c, equipment_id=t.equipment_id, type_id=t.type_id)
                         for t in self.tools for c in t.chambers],
            "energy_meters": [EnergyMeter(meter_id=t.meter_id, equipment_id=t.equipment_id) for t in self.tools],
        }


def _tools(spec: TypeSpec, chamber_counts: list[int]) -> list[ToolDef]:
    out = []
    for i, n in enumerate(chamber_counts):
        eq = f"{spec.code}-{i + 1:02d}"
        out.append(ToolDef(eq, spec.type_id, tuple(f"{eq}/{LETTERS[j]}" for j in range(n))))
    return out


def _split(n: int, per_tool: int) -> list[int]:
    """``n`` chambers into tools of ``per_tool`` (the last tool takes 2..4)."""
    n = max(n, 2)
    counts = [per_tool] * (n // per_tool)
    rest = n - sum(counts)
    if rest:
        if rest >= 2 or not counts:
            counts.append(max(rest, 2))
        else:
            counts[-1] += rest
    return counts


def build_layout(scale: str | int) -> Layout:
    if scale == "demo":
        tools = (_tools(PECVD, [3, 3, 4, 2, 3]) + _tools(DRYETCH, [3, 3, 2, 4, 3]) + _tools(TRACK, [2, 2, 2, 2]))
        return Layout("FAB1", "demo", tools, lots_per_day=8.0)
    if scale == "small":
        tools = _tools(PECVD, [3]) + _tools(DRYETCH, [3]) + _tools(TRACK, [2])
        return Layout("FAB1", "small", tools, lots_per_day=4.0)
    if isinstance(scale, int) and not isinstance(scale, bool):
        if scale < 8:
            raise ValueError(f"scale={scale}: a fab needs at least 8 chambers")
        n_cvd = round(scale * 0.40)
        n_etch = round(scale * 0.38)
        n_pho = scale - n_cvd - n_etch
        tools = _tools(PECVD, _split(n_cvd, 3)) + _tools(DRYETCH, _split(n_etch, 3)) + _tools(TRACK, _split(n_pho, 2))
        if max(len(_split(n_cvd, 3)), len(_split(n_etch, 3)), len(_split(n_pho, 2))) > 999:
            raise ValueError(f"scale={scale}: too many tools for 3-digit tool numbers")
        n = sum(len(t.chambers) for t in tools)
        return Layout("FAB1", str(scale), tools, lots_per_day=round(n * 0.21, 2))
    raise ValueError(f"scale={scale!r}: use 'demo', 'small' or a number of chambers")
