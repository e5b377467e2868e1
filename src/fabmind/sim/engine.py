"""The simulator: plans maintenance, faults and lots, dispatches runs, and computes every run's condition.

:class:`Simulator` holds the plant and the injected faults; :meth:`Simulator.run` produces a
:class:`SimResult` whose ``batch`` is the fab's data and whose ``faults`` are the ground truth.
Random streams are split by purpose (``pm``, ``lots``, ``trace`` per chamber ...) so injecting a
fault changes only what the fault touches: the same chamber's noise is identical with and without it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np

from fabmind.domain import FabBatch, InjectedFault, utc
from fabmind.sim import maintenance as mt
from fabmind.sim.energy import ENERGY_WASTE, EnergyPlan
from fabmind.sim.faults import FAULT_LIBRARY, fault_type as get_fault_type
from fabmind.sim.layout import Layout, build_layout
from fabmind.sim.lots import dispatch, plan_lots
from fabmind.sim.process import response_batch
from fabmind.sim.recipes import RECIPES, ROUTE

DAY = 86400.0
DEFAULT_START = datetime(2026, 1, 5, tzinfo=timezone.utc)


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """An independent random stream per purpose, stable across code changes elsewhere."""
    words = [int(seed) & 0xFFFFFFFF] + [zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng(words)


@dataclass
class FaultSpec:
    """A fault to inject. ``start``: datetime, timedelta from the start, or days (float) from the start."""

    fault_type: str
    chamber_id: str
    start: datetime | timedelta | float
    severity: float = 0.7
    duration_days: float | None = None  # None: repaired by a CM after 2-6 days (seeded)


@dataclass
class WasteSpec:
    waste_type: str
    equipment_id: str
    start: datetime | timedelta | float
    severity: float = 1.0
    duration_days: float | None = None  # None: until the end of the window


@dataclass
class SimResult:
    """What a simulation produced: the fab's records and the ground truth behind them."""

    batch: FabBatch
    faults: list[InjectedFault]  # chamber faults from FAULT_LIBRARY (ground truth)
    layout: Layout
    energy_waste: list[InjectedFault] = field(default_factory=list)  # fault_type in ENERGY_WASTE
    start: datetime = DEFAULT_START
    end: datetime = DEFAULT_START
    run_faults: dict[str, dict[str, float]] = field(default_factory=dict)  # run_id -> {fault_id: strength}
    # defect-map ground truth (fabmind.sim.defect_maps.apply_patterns), per AOI-inspected substrate:
    map_patterns: dict[str, str] = field(default_factory=dict)  # true pattern ('none', 'mixed' ...)
    map_components: dict[str, tuple[str, ...]] = field(default_factory=dict)  # visible single patterns
    map_faults: dict[str, tuple[str, ...]] = field(default_factory=dict)  # fault ids that shed defects on it

    def fault_runs(self, fault_id: str) -> list[str]:
        """Run ids the fault affected (strength > 0), in time order."""
        return [r for r, f in self.run_faults.items() if fault_id in f]


@dataclass
class RunState:
    """Arrays over all runs (aligned with the dispatch table) that the record builders need."""

    setpoints: dict[str, np.ndarray]  # parameter -> value (nan where the run's recipe lacks it)
    recipe: np.ndarray  # recipe id per run (object array)
    pm_age: np.ndarray
    strengths: list[tuple[int, np.ndarray, np.ndarray]]  # (fault index, run indices, strength)
    outcomes: dict[str, np.ndarray]  # yield_pct and measured outcomes (nan where not applicable)


class Simulator:
    """A seeded demo fab. Inject faults, then run it.

    >>> sim = Simulator(seed=1, scale="small")
    >>> sim.inject("rf_match_degradation", "ETCH-01/A", start=1.0, severity=0.8)
    >>> result = sim.run(days=2)
    >>> result.faults[0].fault_type, result.faults[0].chamber_id
    ('rf_match_degradation', 'ETCH-01/A')
    """

    def __init__(self, seed: int = 0, scale: str | int = "demo", start: datetime | None = None, *,
                 traces: bool = True, documents: bool = True, defect_maps: bool = True):
        self.seed = int(seed)
        self.defect_maps = defect_maps
        self.layout = build_layout(scale)
        self.start = utc(start) if start is not None else DEFAULT_START
        self.traces = traces
        self.documents = documents
        self.fault_specs: list[FaultSpec] = []
        self.waste_specs: list[WasteSpec] = []

    def _seconds(self, when: datetime | timedelta | float) -> float:
        if isinstance(when, datetime):
            return (utc(when) - self.start).total_seconds()
        if isinstance(when, timedelta):
            return when.total_seconds()
        return float(when) * DAY

    def inject(self, fault_type: str, chamber_id: str, start: datetime | timedelta | float,
               severity: float = 0.7, duration_days: float | None = None) -> None:
        """Inject a fault of the library into a chamber (recorded as ground truth when the run is made)."""
        ft = get_fault_type(fault_type)
        proc = self.layout.type_of(chamber_id).process
        if proc not in ft.equipment_process:
            raise ValueError(f"fault {fault_type!r} applies to {ft.equipment_process} chambers, "
                             f"{chamber_id} is a {proc} chamber")
        if not 0 < severity <= 1:
            raise ValueError(f"severity={severity}: must be in (0, 1]")
        self.fault_specs.append(FaultSpec(fault_type, chamber_id, start, float(severity), duration_days))

    def inject_energy_waste(self, waste_type: str, equipment_id: str, start: datetime | timedelta | float,
                            severity: float = 1.0, duration_days: float | None = None) -> None:
        """Inject energy waste with a known source on a tool (see :data:`fabmind.sim.energy.ENERGY_WASTE`)."""
        if waste_type not in ENERGY_WASTE:
            raise KeyError(f"unknown energy waste {waste_type!r}; known: {', '.join(ENERGY_WASTE)}")
        self.layout.tool(equipment_id)
        if not 0 < severity <= 1:
            raise ValueError(f"severity={severity}: must be in (0, 1]")
        self.waste_specs.append(WasteSpec(waste_type, equipment_id, start, float(severity), duration_days))

    # ------------------------------------------------------------------ planning

    def _plan_faults(self, horizon: float, pm: mt.PmPlan, with_defaults: bool) -> list[mt.PlannedFault]:
        specs = [(s.fault_type, s.chamber_id, self._seconds(s.start), s.severity, s.duration_days)
                 for s in self.fault_specs]
        if with_defaults:
            specs += [(*d, None) for d in mt.default_faults(self.layout, rng_for(self.seed, "faults"), horizon, pm)]
        planned = []
        for k, (ft, ch, start_s, sev, dur) in enumerate(specs):
            end, hours = mt.resolve_end(ft, start_s, dur, horizon, rng_for(self.seed, "repair", k, ft, ch))
            planned.append(mt.PlannedFault(f"F-{k + 1:03d}", ft, ch, start_s, sev, end, hours))
        return planned

    def _plan_waste(self, horizon: float, with_defaults: bool) -> EnergyPlan:
        items = []
        for w in self.waste_specs:
            a = self._seconds(w.start)
            items.append((w.waste_type, w.equipment_id, a, None if w.duration_days is None else a + w.duration_days * DAY,
                          w.severity))
        if with_defaults:
            rng = rng_for(self.seed, "waste")
            tools = self.layout.tools
            for k, waste in enumerate(("idle_no_standby", "exhaust_damper_stuck_open")[: 1 + (len(tools) > 3)]):
                tool = tools[int(rng.integers(len(tools)))]
                a = float(rng.uniform(0.2, 0.6) * horizon)
                items.append((waste, tool.equipment_id, a, None, 1.0))
        return EnergyPlan(items)

    def _run_state(self, runs, lots, pm: mt.PmPlan, faults: list[mt.PlannedFault]) -> RunState:
        n = len(runs)
        recipe = np.array([ROUTE[s].recipe_id for s in range(len(ROUTE))], dtype=object)[runs.step]
        names = sorted({p.name for r in RECIPES.values() for p in r.params})
        setpoints = {k: np.full(n, np.nan) for k in names}
        rng = rng_for(self.seed, "setpoints")
        lotstep = runs.lot * len(ROUTE) + runs.step
        doe = lots.doe[runs.lot, runs.step]
        for rid, r in RECIPES.items():
            m = np.nonzero(recipe == rid)[0]
            if m.size == 0:
                continue
            _, inv = np.unique(lotstep[m], return_inverse=True)
            for p in r.params:
                span = p.high - p.low
                level = rng.normal(0, 0.15 * span, inv.max() + 1)[inv] * doe[m]
                v = p.default + level + rng.normal(0, 0.01 * span, m.size)
                setpoints[p.name][m] = np.round(np.clip(v, p.low, p.high), 3)
        chambers = self.layout.chamber_ids
        pm_age = np.zeros(n)
        for ci, ch in enumerate(chambers):
            m = runs.chamber == ci
            pm_age[m] = pm.age_days(ch, runs.start_s[m])
        strengths = []
        loss = np.zeros(n)
        outcome_names = sorted({o for r in RECIPES.values() for o in (r.outcome, r.second)})
        shift = {o: np.zeros(n) for o in outcome_names}
        for fi, f in enumerate(faults):
            idx = np.nonzero(runs.chamber == chambers.index(f.chamber_id))[0]
            s = f.strength(runs.start_s[idx])
            keep = s > 0
            if keep.any():
                strengths.append((fi, idx[keep], s[keep]))
                ft = FAULT_LIBRARY[f.fault_type]
                loss[idx[keep]] += ft.yield_effect * s[keep]
                for o, v in ft.outcome_shift.items():
                    shift[o][idx[keep]] += v * s[keep]
        outcomes = {o: np.full(n, np.nan) for o in ["yield_pct", *outcome_names]}
        for rid in RECIPES:
            m = np.nonzero(recipe == rid)[0]
            if m.size == 0:
                continue
            sp = {p.name: setpoints[p.name][m] for p in RECIPES[rid].params}
            out = response_batch(rid, sp, pm_age[m], {o: v[m] for o, v in shift.items()}, loss[m])
            for o, v in out.items():
                outcomes[o][m] = v
        return RunState(setpoints, recipe, pm_age, strengths, outcomes)

    # ------------------------------------------------------------------ run

    def run(self, days: float = 30, default_faults: bool = False) -> SimResult:
        """Simulate ``days`` days from the start; ``default_faults`` adds the seeded default fault plan."""
        from fabmind.sim.records import build_batch

        if days <= 0:
            raise ValueError(f"days={days}: must be positive")
        horizon = float(days) * DAY
        pm = mt.plan_pm(self.layout, rng_for(self.seed, "pm"), horizon)
        faults = self._plan_faults(horizon, pm, default_faults)
        waste = self._plan_waste(horizon, default_faults)
        down = mt.downtime(pm, faults)
        lots = plan_lots(self.layout, rng_for(self.seed, "lots"), np.datetime64(self.start.date()), horizon)
        runs = dispatch(self.layout, lots, down, rng_for(self.seed, "dispatch"), horizon)
        state = self._run_state(runs, lots, pm, faults)
        result = build_batch(self, horizon, pm, faults, waste, down, lots, runs, state)
        if self.defect_maps:  # AOI maps whose spatial pattern follows the faults each glass went through
            from fabmind.sim.defect_maps import apply_patterns

            result = apply_patterns(result, seed=self.seed).result
        return result


def simulate(days: float = 30, seed: int = 0, scale: str | int = "demo", start: datetime | None = None,
             faults: str | list | None = "default", *, traces: bool = True, documents: bool = True,
             defect_maps: bool = True) -> SimResult:
    """Simulate the demo fab. Same arguments, same data (trace arrays included).

    ``faults``: ``"default"`` (a seeded plan covering the fault library and two energy-waste events),
    ``None`` (a healthy fab) or a list of :class:`FaultSpec` / dicts with the same fields / tuples
    ``(fault_type, chamber_id, start, severity)``. ``traces=False`` skips the sensor traces (for large
    fabs when only routes and yields are needed); ``documents=False`` skips the documents.
    ``defect_maps`` (default): every AOI-inspected glass gets a defect map whose spatial pattern follows
    the faults it went through (:func:`fabmind.sim.defect_maps.apply_patterns`; truth in
    ``SimResult.map_patterns``); ``False`` keeps the simulator's few killer defects per glass instead.
    """
    sim = Simulator(seed=seed, scale=scale, start=start, traces=traces, documents=documents, defect_maps=defect_maps)
    if isinstance(faults, list):
        for f in faults:
            if isinstance(f, FaultSpec):
                sim.inject(f.fault_type, f.chamber_id, f.start, f.severity, f.duration_days)
            elif isinstance(f, dict):
                sim.inject(**f)
            else:
                sim.inject(*f)
    elif faults not in (None, "default"):
        raise ValueError(f"faults={faults!r}: use 'default', None or a list of FaultSpec")
    return sim.run(days, default_faults=faults == "default")
