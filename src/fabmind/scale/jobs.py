"""Per-chamber jobs for a whole fab: FDC training, batch scoring, backfills, commonality over long windows.

Every task takes small arguments (the store URL, a chamber id, a time window, model file paths),
reads its own slice from the store (SQLite for one machine, PostgreSQL in production) and returns
a small typed result (fitted models are a few KB; alarms are records). Nothing bulky travels
through the scheduler, and a task has no side effect except idempotent ones (alarms are upserted
by their natural id), so a task that Dask reruns after its worker died does no harm.

Registration happens once, in the driver (:func:`train_fleet`): a training fingerprint (chamber,
recipe, window, settings, the runs it saw) is kept in the version's note, so running the same
training again returns the existing versions instead of adding duplicates.

Example::

    >>> from fabmind.scale import InProcessExecutor                                     # doctest: +SKIP
    >>> fleet = train_fleet(InProcessExecutor(), "sqlite:///fab.db", registry, start, end)  # doctest: +SKIP
    >>> scores = score_fleet(InProcessExecutor(), "sqlite:///fab.db", registry, end, end + timedelta(days=1))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fabmind.domain import Alarm, utc
from fabmind.models.anomaly import MSPC
from fabmind.models.base import SmallModel
from fabmind.models.fdc import FdcConfig, _pm, indicators, model_name, score_fdc, store_pm_ends, train_fdc
from fabmind.models.threads import one_blas_thread  # BLAS on one thread per task (small matrices)
from fabmind.scale.executor import Executor

_STORES: dict[str, Any] = {}  # worker-local connection cache: one Store (engine pool) per URL and process


def open_store(url: str) -> Any:
    """The store at ``url``, opened once per process (a worker runs many tasks on the same database)."""
    store = _STORES.get(url)
    if store is None:
        from fabmind.store import Store

        store = _STORES[url] = Store(url)
    return store


def warm_store(url: str) -> str:
    """Open the store in this process ahead of the tasks (``client.run(warm_store, url)`` on every worker)."""
    open_store(url)
    return url


def _iso(t: datetime | None) -> str:
    return utc(t).isoformat() if t is not None else ""


def _chamber_pm_ends(store: Any, chamber_id: str, given: Sequence[datetime] | None = None) -> dict[str, list[datetime]]:
    """{chamber: end times of its PMs} for one chamber (the FDC models' PM age comes from these): ``given``
    by the driver (one query for the fleet instead of one per task), else read from the store."""
    if given is not None:
        return {chamber_id: list(given)} if given else {}
    return {k: v for k, v in store_pm_ends(store, chamber_id).items() if k == chamber_id}


def _fleet_pm_ends(store_url: str, ids: Sequence[str]) -> dict[str, list[datetime]]:
    """Every chamber's PM end times from one read of the work orders ([] for a chamber without a PM)."""
    found = store_pm_ends(open_store(store_url))
    return {c: found.get(c, []) for c in ids}


def _run_batch(fn: Callable[..., Any], batch: Sequence[Sequence[Any]]) -> list[Any]:
    """One task running ``fn`` over several argument tuples (chambers), results in order."""
    return [fn(*a) for a in batch]


def batched_map(executor: Executor, fn: Callable[..., Any], args: Sequence[Sequence[Any]], keys: Sequence[str],
                progress: Callable[[int, int], None] | None = None, per_worker: int = 32) -> list[Any]:
    """``executor.map`` with the calls grouped into about ``per_worker`` tasks per worker (enough tasks that the
    last ones finish together; few enough that scheduling costs nothing).

    Per-chamber tasks are small (tens of ms to score, ~0.1 s to train); grouped, the scheduler and the
    driver handle tens of tasks instead of thousands, which left them competing with the workers for
    the same cores (measured on 1000 chambers, bench/scale.py). In-process, nothing is grouped.
    """
    workers = max(1, int(getattr(executor, "workers", 1)))
    if workers == 1 or len(args) <= workers:
        return executor.map(fn, args, keys=keys, progress=progress)
    size = max(1, -(-len(args) // (workers * per_worker)))
    cuts = [(i, min(i + size, len(args))) for i in range(0, len(args), size)]
    def step(done: int, total: int) -> None:  # batches done -> calls done (batches are equal but the last)
        progress(min(len(args), done * size), len(args))

    out = executor.map(_run_batch, [(fn, list(args[a:b])) for a, b in cuts],
                       keys=[f"{keys[a]}..{keys[b - 1]}" for a, b in cuts], progress=step if progress else None)
    return [r for part in out for r in part]


# ---------------------------------------------------------------------- training


@dataclass
class ChamberModels:
    """What training one chamber produced: one fitted MSPC per recipe with enough runs."""

    chamber_id: str
    models: dict[str, MSPC]  # recipe id -> fitted model (empty when the task saved them itself)
    fingerprints: dict[str, str]  # recipe id -> training fingerprint (idempotent registration)
    n_runs: int
    skipped: tuple[str, ...]  # recipes run in the window with too few runs to train
    seconds: float
    saved: list[dict[str, Any]] = field(default_factory=list)  # index records of versions the task wrote
    reused: list[str] = field(default_factory=list)  # recipes whose active version has this fingerprint


def _fingerprint(chamber_id: str, recipe_id: str, start: datetime | None, end: datetime | None,
                 config: FdcConfig, run_ids: Sequence[str]) -> str:
    h = hashlib.sha256(json.dumps([chamber_id, recipe_id, _iso(start), _iso(end), asdict(config)],
                                  default=str).encode())
    for r in run_ids:
        h.update(r.encode())
    return h.hexdigest()[:16]


def train_chamber(store_url: str, chamber_id: str, train_start: datetime | None, train_end: datetime,
                  config: FdcConfig = FdcConfig(), responses: dict[str, str] | None = None,
                  save: SaveTo | None = None, pm_ends: Sequence[datetime] | None = None) -> ChamberModels:
    """Fit the FDC models of one chamber (one per recipe) on its runs in ``[train_start, train_end)``.

    ``responses``: recipe id -> file of the recipe's setpoint response pooled over all its chambers
    (:func:`fit_recipe_response`, stage 1 of :func:`train_fleet`); without it a context-adjusted
    model learns the response from this chamber's runs alone, as ``train_fdc`` would for one chamber.
    Without ``save`` it is pure: reads the store, returns the models. With ``save`` it writes each new
    model as the version number the driver reserved (``ModelRegistry.save_version``: rerunning the task
    rewrites the same file) and returns only the index records; the driver records them in one write.
    ``pm_ends``: the chamber's PM end times, if the caller has them (else read from the store).
    """
    with one_blas_thread():
        res = _train_chamber(store_url, chamber_id, train_start, train_end, config, responses or {}, pm_ends)
        if save is not None:
            _save_chamber(res, save)
        return res


@dataclass(frozen=True)
class SaveTo:
    """Where a training task writes its models: the registry folder, the version number reserved for each
    recipe's model, and the fingerprint of each recipe's active version (equal -> reuse, write nothing)."""

    registry_root: str
    numbers: dict[str, int]  # recipe id -> next version number of model_name(recipe) for this chamber
    active_fingerprints: dict[str, str]  # recipe id -> fingerprint of the active version


def _save_chamber(res: ChamberModels, save: SaveTo) -> None:
    from fabmind.models.registry import ModelRegistry

    registry = ModelRegistry(save.registry_root)
    for recipe, model in res.models.items():
        fp = res.fingerprints[recipe]
        if save.active_fingerprints.get(recipe) == fp:
            res.reused.append(recipe)
        else:
            res.saved.append(registry.save_version(model, name=model_name(recipe), scope=res.chamber_id,
                                                   number=save.numbers[recipe], note=f"fp:{fp}"))
    res.models = {}  # written: nothing bulky travels back to the driver


def _train_chamber(store_url: str, chamber_id: str, train_start: datetime | None, train_end: datetime,
                   config: FdcConfig, responses: dict[str, str],
                   given_pm_ends: Sequence[datetime] | None = None) -> ChamberModels:
    t0 = time.perf_counter()
    store = open_store(store_url)
    runs = store.run_records(chamber_id=chamber_id, start=train_start, end=train_end)
    recipes = {r.recipe_id: r for r in store.recipes()}
    if not runs:
        return ChamberModels(chamber_id, {}, {}, 0, (), time.perf_counter() - t0)
    traces = store.traces([r.run_id for r in runs])
    pm_ends = _chamber_pm_ends(store, chamber_id, given_pm_ends)  # PM age, as `fabmind train` gives the models
    if responses:
        models = {}
        for recipe_id in sorted({r.recipe_id for r in runs}):
            group = [r for r in runs if r.recipe_id == recipe_id and utc(r.start) < utc(train_end)]
            X = indicators(group, traces, recipes.get(recipe_id), config.stats, config.setpoints,
                           _pm(pm_ends, chamber_id, config))
            if len(X) < config.min_train_runs:
                continue
            model = config.model()
            if recipe_id in responses:
                model.fit(X, response=pickle.loads(Path(responses[recipe_id]).read_bytes()))
            else:
                model.fit(X)
            model.metadata_.scope = chamber_id
            model.metadata_.train_start = utc(min(r.start for r in group)).isoformat()
            model.metadata_.train_end = utc(train_end).isoformat()
            models[recipe_id] = model
    else:
        fitted = train_fdc(runs, traces, recipes, train_end, config, pm_ends=pm_ends)
        models = {recipe: m for (_, recipe), m in fitted.items()}
    fps = {recipe: _fingerprint(chamber_id, recipe, train_start, train_end, config,
                                [r.run_id for r in runs if r.recipe_id == recipe] + [Path(responses.get(recipe, "")).name])
           for recipe in models}
    skipped = tuple(sorted({r.recipe_id for r in runs} - set(models)))
    return ChamberModels(chamber_id, models, fps, len(runs), skipped, time.perf_counter() - t0)


@dataclass
class FleetTraining:
    """The outcome of training a fleet: registered versions (new or already there), timings."""

    versions: list[Any]  # ModelVersion, one per (chamber, recipe) trained
    reused: int  # versions whose fingerprint was already registered (a rerun added nothing)
    chambers: int
    runs: int
    skipped: dict[str, tuple[str, ...]]  # chamber -> recipes with too few runs
    task_seconds: float  # sum over tasks (CPU time the fleet needed)
    seconds: float  # wall clock, tasks + registration


def _chamber_ids(store_url: str, chambers: Sequence[str] | None) -> list[str]:
    if chambers is not None:
        return list(chambers)
    return [c.chamber_id for c in open_store(store_url).chambers()]


def fit_recipe_response(store_url: str, recipe_id: str, chambers: Sequence[str], train_start: datetime | None,
                        train_end: datetime, config: FdcConfig = FdcConfig(),
                        pm_ends: dict[str, list[datetime]] | None = None) -> dict[str, Any]:
    """Stage 1 (one task per recipe): the recipe's setpoint response pooled over the chambers running it,
    one pool per column set (chambers with and without known PM ages), each fitted on the first
    ``config.response_pool_max`` eligible chambers in ``pool_order`` exactly as ``train_fdc`` does; only
    those chambers are read. Returns chamber -> response, for every chamber of ``chambers``.
    ``pm_ends``: the chambers' PM end times if the caller has them (else read from the store)."""
    from fabmind.models.fdc import _pooled_responses, pool_order  # the FDC room's pooling, shared

    with one_blas_thread():
        store = open_store(store_url)
        recipe = next((r for r in store.recipes() if r.recipe_id == recipe_id), None)
        pm_all = store_pm_ends(store) if pm_ends is None else pm_ends
        classes: dict[bool, list[str]] = {}
        for c in chambers:
            classes.setdefault(_pm(pm_all, c, config) is not None, []).append(c)
        out: dict[str, Any] = {}
        for members in classes.values():
            tables = {}
            for c in sorted(members, key=pool_order):
                if len(tables) >= config.response_pool_max:
                    break
                runs = [r for r in store.run_records(chamber_id=c, start=train_start, end=train_end)
                        if r.recipe_id == recipe_id and utc(r.start) < utc(train_end)]
                if runs:
                    X = indicators(runs, store.traces([r.run_id for r in runs]), recipe, config.stats,
                                   config.setpoints, _pm(pm_all, c, config))
                    if len(X) >= config.min_train_runs:
                        tables[(c, recipe_id)] = X
            pooled = _pooled_responses(tables, config.response_degree, config.response_pool_max) if tables else {}
            response = next(iter(pooled.values()), None)
            if response is not None:
                out.update({c: response for c in members})
        return out


def train_fleet(executor: Executor, store_url: str, registry: Any, train_start: datetime | None,
                train_end: datetime, chambers: Sequence[str] | None = None, config: FdcConfig = FdcConfig(),
                progress: Callable[[int, int], None] | None = None) -> FleetTraining:
    """Train every chamber's FDC models on ``executor`` and register them (active), idempotently.

    With a context-adjusted FDC config that pools the setpoint response (the default), stage 1 fits
    one response per recipe over all its chambers (a task per recipe) and writes it beside the
    registry; stage 2 (a task per chamber) reads it. The models equal ``fdc.train_fdc`` on the fleet.
    """
    t0 = time.perf_counter()
    ids = _chamber_ids(store_url, chambers)
    responses: dict[str, dict[str, str]] = {c: {} for c in ids}
    if config.adjust and config.pool_response:
        store = open_store(store_url)
        type_of = {c.chamber_id: c.type_id for c in store.chambers()}
        pm_all = store_pm_ends(store)
        # one task per recipe and column set (chambers with / without PM ages pool separately), the
        # biggest pools first: stage 1 is the serial part of fleet training, so its tasks must be small
        # and start in an order that lets the workers finish them together
        tasks: list[tuple[str, list[str]]] = []
        for r in sorted(store.recipes(), key=lambda r: r.recipe_id):
            members = [c for c in ids if type_of.get(c) == r.type_id]
            for known in (True, False):
                part = [c for c in members if (_pm(pm_all, c, config) is not None) == known]
                if part:
                    tasks.append((r.recipe_id, part))
        tasks.sort(key=lambda t: -min(len(t[1]), config.response_pool_max))
        fitted = executor.map(fit_recipe_response,
                              [(store_url, rid, cs, train_start, train_end, config,
                                {c: pm_all[c] for c in cs if c in pm_all}) for rid, cs in tasks],
                              keys=[f"response-{rid}-{i}" for i, (rid, _) in enumerate(tasks)])
        folder = Path(registry.root) / "_responses"
        folder.mkdir(parents=True, exist_ok=True)
        for (rid, _), per_chamber in zip(tasks, fitted):
            paths: dict[int, str] = {}
            for c, response in per_chamber.items():
                if id(response) not in paths:
                    blob = pickle.dumps(response, protocol=pickle.HIGHEST_PROTOCOL)
                    path = folder / f"{rid}-{hashlib.sha256(blob).hexdigest()[:12]}.pkl"  # content-addressed
                    if not path.exists():
                        path.write_bytes(blob)
                    paths[id(response)] = str(path.resolve())
                responses[c][rid] = paths[id(response)]
    # the workers write the model files (versions reserved here); the driver writes the index once
    store = open_store(store_url)
    pm_fleet = _fleet_pm_ends(store_url, ids)
    type_of = {c.chamber_id: c.type_id for c in store.chambers()}
    recipes_of: dict[str, list[str]] = {}
    for r in store.recipes():
        recipes_of.setdefault(r.type_id, []).append(r.recipe_id)
    all_recipes = sorted({r for rs in recipes_of.values() for r in rs})
    numbers = registry.next_numbers([model_name(r) for r in all_recipes], ids)
    active = registry.active_versions()
    saves = []
    for c in ids:
        mine = recipes_of.get(type_of.get(c), all_recipes)
        fps = {r: active[(model_name(r), c)].note[3:] for r in mine
               if (model_name(r), c) in active and active[(model_name(r), c)].note.startswith("fp:")}
        saves.append(SaveTo(str(Path(registry.root).resolve()), {r: numbers[(model_name(r), c)] for r in mine}, fps))
    results: list[ChamberModels] = batched_map(
        executor, train_chamber,
        [(store_url, c, train_start, train_end, config, responses[c], save, pm_fleet[c])
         for c, save in zip(ids, saves)],
        keys=[f"train-{c.replace('/', '_')}" for c in ids], progress=progress)
    return _register(registry, results, active, t0)


def _register(registry: Any, results: Sequence[ChamberModels], active: dict[tuple[str, str], Any],
              t0: float) -> FleetTraining:
    reuse = [active[(model_name(recipe), res.chamber_id)] for res in results for recipe in res.reused]
    records = [rec for res in results for rec in res.saved]
    versions = reuse + (registry.add_saved(records) if records else [])
    return FleetTraining(versions=versions, reused=len(reuse), chambers=len(results),
                         runs=sum(r.n_runs for r in results),
                         skipped={r.chamber_id: r.skipped for r in results if r.skipped},
                         task_seconds=sum(r.seconds for r in results), seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------------- scoring and backfills


@dataclass
class ChamberScores:
    chamber_id: str
    alarms: list[Alarm]
    n_scored: int
    max_score: float
    seconds: float
    saved: bool = False
    scored: Any = None  # DataFrame: run_id, chamber_id, recipe_id, start, score (one row per scored run)


def score_chamber(store_url: str, chamber_id: str, start: datetime | None, end: datetime | None,
                  model_paths: dict[str, str], save: bool = False,
                  config: FdcConfig = FdcConfig(), pm_ends: Sequence[datetime] | None = None) -> ChamberScores:
    """Score one chamber's runs in ``[start, end)`` with the given model files (recipe id -> path).

    ``save`` upserts the alarms into the store (idempotent: alarm ids are ``source:chamber:run``).
    ``pm_ends``: the chamber's PM end times, if the caller has them (else read from the store).
    """
    with one_blas_thread():
        return _score_chamber(store_url, chamber_id, start, end, model_paths, save, config, pm_ends)


def _score_chamber(store_url: str, chamber_id: str, start: datetime | None, end: datetime | None,
                   model_paths: dict[str, str], save: bool, config: FdcConfig,
                   given_pm_ends: Sequence[datetime] | None = None) -> ChamberScores:
    t0 = time.perf_counter()
    store = open_store(store_url)
    models = {(chamber_id, recipe): SmallModel.load(path) for recipe, path in model_paths.items()}
    runs = store.run_records(chamber_id=chamber_id, start=start, end=end)
    if not runs or not models:
        return ChamberScores(chamber_id, [], 0, 0.0, time.perf_counter() - t0)
    recipes = {r.recipe_id: r for r in store.recipes()}
    units = {s.name: s.unit for s in store.sensors_of_chamber(chamber_id)}
    traces = store.traces([r.run_id for r in runs])
    alarms, scored = score_fdc(models, runs, traces, recipes, units, start, config,
                               pm_ends=_chamber_pm_ends(store, chamber_id, given_pm_ends))
    if save and alarms:
        store.upsert(alarms)
    top = float(scored["score"].max()) if len(scored) else 0.0
    return ChamberScores(chamber_id, alarms, len(scored), top, time.perf_counter() - t0, save and bool(alarms),
                         scored)


@dataclass
class FleetScores:
    alarms: list[Alarm]
    n_scored: int
    chambers: int
    chambers_without_model: list[str]
    task_seconds: float
    seconds: float
    per_chamber: list[ChamberScores] = field(default_factory=list, repr=False)

    @property
    def scored(self) -> Any:
        """Every scored run (run_id, chamber_id, recipe_id, start, score) in one table."""
        import pandas as pd

        parts = [r.scored for r in self.per_chamber if r.scored is not None and len(r.scored)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=["run_id", "chamber_id", "recipe_id", "start", "score"])


def active_model_paths(registry: Any, chambers: Sequence[str]) -> dict[str, dict[str, str]]:
    """chamber -> {recipe id: absolute path of its active FDC model}, from one read of the registry."""
    out: dict[str, dict[str, str]] = {c: {} for c in chambers}
    for (name, scope), mv in registry.active_versions().items():
        if name.startswith("fdc-") and scope in out:
            out[scope][name[len("fdc-"):]] = str(Path(registry.root, mv.path).resolve())
    return out


def score_fleet(executor: Executor, store_url: str, registry: Any, start: datetime | None, end: datetime | None,
                chambers: Sequence[str] | None = None, save: bool = False, config: FdcConfig = FdcConfig(),
                progress: Callable[[int, int], None] | None = None) -> FleetScores:
    """Score every chamber's runs in a window with its active models (workers need the registry's folder)."""
    t0 = time.perf_counter()
    ids = _chamber_ids(store_url, chambers)
    paths = active_model_paths(registry, ids)
    todo = [c for c in ids if paths[c]]
    pm = _fleet_pm_ends(store_url, todo)
    results: list[ChamberScores] = batched_map(
        executor, score_chamber, [(store_url, c, start, end, paths[c], save, config, pm[c]) for c in todo],
        keys=[f"score-{c.replace('/', '_')}" for c in todo], progress=progress)
    return FleetScores(alarms=[a for r in results for a in r.alarms], n_scored=sum(r.n_scored for r in results),
                       chambers=len(results), chambers_without_model=[c for c in ids if not paths[c]],
                       task_seconds=sum(r.seconds for r in results), seconds=time.perf_counter() - t0,
                       per_chamber=results)


def windows(start: datetime, end: datetime, step: timedelta) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into consecutive windows of ``step`` (the last one shorter)."""
    if step <= timedelta(0):
        raise ValueError(f"window step must be positive, got {step}")
    out, t = [], utc(start)
    end = utc(end)
    while t < end:
        out.append((t, min(t + step, end)))
        t += step
    return out


def backfill(executor: Executor, store_url: str, registry: Any, start: datetime, end: datetime,
             step: timedelta = timedelta(days=7), chambers: Sequence[str] | None = None,
             config: FdcConfig = FdcConfig(), progress: Callable[[int, int], None] | None = None) -> FleetScores:
    """Score a long history (chamber x window tasks) with today's active models and save the alarms.

    Safe to rerun after a crash: alarms are upserted by natural id, so a second pass duplicates nothing.
    """
    t0 = time.perf_counter()
    ids = _chamber_ids(store_url, chambers)
    paths = active_model_paths(registry, ids)
    cuts = windows(start, end, step)
    pm = _fleet_pm_ends(store_url, ids)
    args = [(store_url, c, a, b, paths[c], True, config, pm[c]) for c in ids if paths[c] for a, b in cuts]
    keys = [f"backfill-{a[1].replace('/', '_')}-{a[2]:%Y%m%dT%H%M}" for a in args]
    results: list[ChamberScores] = batched_map(executor, score_chamber, args, keys=keys, progress=progress)
    return FleetScores(alarms=[a for r in results for a in r.alarms], n_scored=sum(r.n_scored for r in results),
                       chambers=len({r.chamber_id for r in results}),
                       chambers_without_model=[c for c in ids if not paths[c]],
                       task_seconds=sum(r.seconds for r in results), seconds=time.perf_counter() - t0,
                       per_chamber=results)


# ---------------------------------------------------------------------- commonality over long windows


def commonality_window(store_url: str, start: datetime, end: datetime, metric: str = "yield_pct") -> Any:
    """Yield commonality over one window (a task: reads its window's route history and yields)."""
    from fabmind.models.commonality import analyze_store
    from fabmind.models.commonality_types import CommonalityError

    try:
        return analyze_store(open_store(store_url), start=start, end=end, metric=metric)
    except CommonalityError:
        return None  # a window without route history has nothing to explain


def commonality_over(executor: Executor, store_url: str, start: datetime, end: datetime,
                     step: timedelta = timedelta(days=14), overlap: timedelta = timedelta(days=5),
                     metric: str = "yield_pct") -> list[Any]:
    """Commonality reports for a long period, one per window of ``step`` (+ ``overlap`` of route time
    before it, so lots that finished in the window keep the runs that hurt them), run in parallel."""
    cuts = windows(start, end, step)
    args = [(store_url, max(utc(start), a - overlap), b, metric) for a, b in cuts]
    reports = executor.map(commonality_window, args, keys=[f"commonality-{a:%Y%m%d}" for a, _ in cuts])
    return [r for r in reports if r is not None]
