"""Maintenance and faults over time: PM schedule, fault plans, CM repairs, chamber downtime, equipment alarms.

Times inside the simulator are float seconds since the simulation start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fabmind.sim.equipment import TYPES
from fabmind.sim.faults import ALARM_TEXT, FAULT_LIBRARY, NUISANCE_ALARMS, applicable
from fabmind.sim.layout import Layout

DAY = 86400.0
PM_INTERVAL_DAYS = {"cvd": 7.0, "etch": 6.0, "photo": 10.0}
PM_HOURS = {"cvd": 6.0, "etch": 5.0, "photo": 3.0}
PM_TEXT = {
    "cvd": ("weekly PM: chamber wet clean, showerhead inspection, O-ring check, seasoning",
            "wet clean done, lid O-ring replaced, 10 seasoning runs, particle check passed"),
    "etch": ("PM: chamber wet clean, dielectric window clean, ESC surface check, seasoning",
             "wet clean done, window cleaned, ESC He leak rate checked, seasoning and particle check passed"),
    "photo": ("PM: cup clean, nozzle clean, hot plate calibration",
              "cup and nozzle cleaned, hot plate checked with thermocouple glass"),
}


@dataclass
class PlannedFault:
    """A fault in the simulator's plan (times in seconds since start)."""

    fault_id: str
    fault_type: str
    chamber_id: str
    start_s: float
    severity: float
    end_s: float | None  # when the CM work order takes the chamber down (None: not repaired in the window)
    cm_hours: float = 0.0

    def strength(self, t_s: np.ndarray) -> np.ndarray:
        t = np.asarray(t_s, dtype=float)
        s = FAULT_LIBRARY[self.fault_type].strength(self.severity, (t - self.start_s) / DAY)
        if self.end_s is not None:
            s = np.where(t < self.end_s, s, 0.0)
        return s


@dataclass
class PmPlan:
    """PM windows per chamber: arrays of start and end seconds (the first one may lie before 0)."""

    starts: dict[str, np.ndarray]
    ends: dict[str, np.ndarray]

    def age_days(self, chamber_id: str, t_s: np.ndarray) -> np.ndarray:
        """Days since the end of the last PM before each time."""
        ends = self.ends[chamber_id]
        k = np.searchsorted(ends, t_s, side="right") - 1
        return (np.asarray(t_s) - ends[np.maximum(k, 0)]) / DAY

    def first_end_after(self, chamber_id: str, t_s: float) -> float | None:
        ends = self.ends[chamber_id]
        after = ends[ends > t_s]
        return float(after[0]) if after.size else None


def plan_pm(layout: Layout, rng: np.random.Generator, horizon_s: float) -> PmPlan:
    starts, ends = {}, {}
    for ch in layout.chamber_ids:
        proc = layout.type_of(ch).process
        every = PM_INTERVAL_DAYS[proc] * DAY
        phase = rng.uniform(0.2, 1.0) * every
        s = np.arange(phase - every, horizon_s + every, every) + rng.uniform(-0.1, 0.1, 1) * DAY
        starts[ch] = s
        ends[ch] = s + PM_HOURS[proc] * 3600.0
    return PmPlan(starts, ends)


def default_faults(layout: Layout, rng: np.random.Generator, horizon_s: float, pm: PmPlan) -> list[tuple]:
    """A default fault plan: ``(fault_type, chamber_id, start_s, severity)`` covering the library.

    About one fault per 90 chamber-days (at least three); fault types cycle through the library with
    the processes interleaved (so three faults hit CVD, etch and photo), on distinct chambers where possible.
    """
    chambers = list(layout.chamber_ids)
    n = max(3, round(len(chambers) * horizon_s / DAY / 90))
    pools: dict[str, list[str]] = {}
    for i in rng.permutation(len(chambers)):
        pools.setdefault(layout.type_of(chambers[i]).process, []).append(chambers[i])
    groups = {p: [str(f) for f in rng.permutation([f.fault_type for f in FAULT_LIBRARY.values()
                                                  if f.equipment_process[0] == p])] for p in ("cvd", "etch", "photo")}
    cycle = []
    while any(groups.values()):
        for p in ("cvd", "etch", "photo"):
            if groups[p]:
                cycle.append(groups[p].pop())
    used: dict[str, int] = {}
    plan = []
    for k in range(n):
        ft = FAULT_LIBRARY[cycle[k % len(cycle)]]
        procs = [p for p in ft.equipment_process if p in pools]
        if not procs:
            continue
        proc = min(procs, key=lambda p: (used.get(p, 0), procs.index(p)))
        pool = pools[proc]
        chamber = pool[used.get(proc, 0) % len(pool)]
        used[proc] = used.get(proc, 0) + 1
        start = float(rng.uniform(0.15, 0.7) * horizon_s)
        if ft.fault_type == "particle_after_pm":
            after = pm.first_end_after(chamber, start)
            if after is not None and after < horizon_s * 0.9:
                start = after + 60.0
        plan.append((ft.fault_type, chamber, start, float(round(rng.uniform(0.5, 1.0), 3))))
    return plan


def resolve_end(fault_type: str, start_s: float, duration_days: float | None, horizon_s: float,
                rng: np.random.Generator) -> tuple[float | None, float]:
    """When the CM takes the chamber down (None if after the window) and its repair hours."""
    ft = FAULT_LIBRARY[fault_type]
    days = float(rng.uniform(2.0, 6.0)) if duration_days is None else float(duration_days)
    hours = float(ft.downtime_h * rng.uniform(0.7, 1.5))
    end = start_s + days * DAY
    return (end if end < horizon_s else None), hours


def downtime(pm: PmPlan, faults: list[PlannedFault]) -> dict[str, list[tuple[float, float]]]:
    down: dict[str, list[tuple[float, float]]] = {ch: list(zip(pm.starts[ch], pm.ends[ch])) for ch in pm.starts}
    for f in faults:
        if f.end_s is not None:
            down[f.chamber_id].append((f.end_s, f.end_s + f.cm_hours * 3600.0))
    return {ch: sorted(v) for ch, v in down.items()}


def equipment_alarms(faults: list[PlannedFault], layout: Layout, rng: np.random.Generator,
                     horizon_s: float) -> list[tuple[str, str, float, str, int, str]]:
    """Alarms as ``(alarm_id, chamber_id, t_s, code, severity, message)``.

    A fault raises its k-th alarm code when its strength first reaches ``0.45 + 0.2 k`` (never for weak
    faults); idle nuisance alarms (door, host comms, transfer retry) fall at random on every chamber.
    """
    out = []
    for f in faults:
        ft = FAULT_LIBRARY[f.fault_type]
        t = np.arange(f.start_s, min(f.end_s if f.end_s is not None else horizon_s, horizon_s), 600.0)
        if t.size == 0:
            continue
        s = f.strength(t)
        for k, code in enumerate(ft.alarm_codes):
            hit = np.nonzero(s >= 0.45 + 0.2 * k)[0]
            if hit.size:
                out.append((f"A-{f.fault_id}-{k + 1}", f.chamber_id, float(t[hit[0]]), code, 3,
                            f"{ALARM_TEXT[code][1]} ({f.chamber_id})"))
    for ch in layout.chamber_ids:
        n = rng.poisson(0.15 * horizon_s / DAY)
        times = np.sort(rng.uniform(0, horizon_s, n))
        codes = rng.choice(len(NUISANCE_ALARMS), n)
        for i, (t, c) in enumerate(zip(times, codes)):
            code = NUISANCE_ALARMS[int(c)]
            out.append((f"A-{ch.replace('/', '-')}-N{i + 1:03d}", ch, float(t), code, 1,
                        f"{ALARM_TEXT[code][1]} ({ch})"))
    return out


def process_of(layout: Layout, chamber_id: str) -> str:
    return TYPES[layout.chamber_type[chamber_id]].process
