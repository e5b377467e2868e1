"""Yield commonality analysis: which chamber / step / recipe / time window / PM explains low yield.

Input is the fab's route history (one row per run: lot, substrate, step, chamber, recipe, start
time; ``Store.lot_history()``) and the metric per substrate or lot (``Store.yields()``). The
analysis

1. finds **excursions**: lots beyond the robust control limit (median -/+ k x 1.4826 MAD),
   grouped into episodes in time;
2. compares each glass with its **lot-mates** (glass yield - lot mean: whatever hit the whole lot
   cancels, and one bad lot no longer counts as 20 independent bad glasses), then with the
   median of its step in the same time bin (fab-wide drifts cancel);
3. for every candidate group (step x chamber, step x recipe, and a chamber pooled over all the
   steps it runs) finds the **onset** and end of its worst stretches in time (epidemic change
   points: maximum sub-arrays of the CUSUM increments, up to ``max_stretches`` per series,
   vectorised) and keeps those whose scan-statistic p-value passes ``alpha``;
4. tests the units in each stretch against their **peers: same step(s), same window, other
   chambers** (one-sided Mann-Whitney U), so a fault at another step, which dilutes every chamber
   of this step alike, does not show up here;
5. explains away: the strongest candidate is accepted, its units removed, the others re-tested
   (a chamber that merely received the bad glasses downstream falls back), and so on; a
   gradient-boosted model on the accepted candidates' indicators gives each its **tree
   importance**; p-values are corrected (Benjamini-Hochberg, or Holm) over all candidates tested;
6. adds a **time window** cause when lots yield low across all routes after removing the chamber
   causes, and a **PM event** cause when a chamber's onset follows one of its work orders.

Example::

    >>> from fabmind.models.commonality import YieldCommonality
    >>> report = YieldCommonality().analyze(history, yields, work_orders)   # doctest: +SKIP
    >>> top = report.causes[0]                                                 # doctest: +SKIP
    >>> top.chamber_id, top.onset, top.effect_size, top.p_adjusted             # doctest: +SKIP
    ('ETCH-03/B', datetime(2026, 3, 4, 7, 10, tzinfo=UTC), -4.03, 1.8e-54)

It is an analysis, not a predictor, so it does not subclass ``SmallModel``; its settings come
from the constructor only (``get_params`` / ``repr`` as in scikit-learn) and the result is typed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats
from sklearn.base import BaseEstimator

from fabmind.domain import tool_of
from fabmind.models.commonality_prep import Units, prepare_units
from fabmind.models.commonality_stats import (
    adjust_pvalues,
    detect_excursions,
    mwu_z_less,
    worst_stretches,
)
from fabmind.models.commonality_stats import (
    utc_datetime as _ts,
)
from fabmind.models.commonality_types import (
    Cause,
    CauseKind,
    CommonalityError,
    CommonalityReport,
    Excursion,
)

__all__ = [
    "Cause",
    "CauseKind",
    "CommonalityError",
    "CommonalityReport",
    "Excursion",
    "YieldCommonality",
    "adjust_pvalues",
    "analyze_store",
    "detect_excursions",
]


@dataclass(eq=False)
class _Candidate:
    kind: CauseKind
    steps: tuple[str, ...]  # the step (or, for a chamber cause, all the chamber's steps)
    key: str  # chamber or recipe id
    rows: np.ndarray  # indices into Units arrays (sorted by time) of the affected stretch
    t_on: np.datetime64
    t_off: np.datetime64
    p_scan: float = 1.0  # chance of so large a stretch anywhere in the group's series under no effect
    z: float = 0.0
    p: float = 1.0
    effect: float = 0.0
    n_peer: int = 0
    importance: float = 0.0
    window: np.ndarray | None = None  # rows of the step inside [t_on, t_off] (cached)
    own: np.ndarray | None = None  # which of them ran in this chamber / with this recipe


class YieldCommonality(BaseEstimator):
    """Rank the step x chamber / recipe / time window / PM event causes of low yield (or high defects).

    Parameters
    ----------
    k_sigma: control-limit width for excursions (robust sigmas).
    drift_sigma: the CUSUM reference value: a stretch counts only while the units run more than
        this many sigmas worse than their peers (0.5 finds shifts of about one sigma and more).
    min_evidence_sigma: the stretch's cumulative excess must exceed this many sigmas to be tested.
    alpha: significance level on the corrected p-values for a cause to be reported.
    correction: 'bh' (Benjamini-Hochberg) or 'holm'.
    max_causes: at most this many causes in the report.
    bin_hours: width of the time bins of the step baseline.
    pm_window_hours: a work order closed this long before a chamber's onset becomes a PM-event cause.
    max_stretches: at most this many separate episodes per chamber (or recipe) series.
    tree: fit the gradient-boosted importance model (LightGBM).
    seed: random seed of the tree model.
    """

    def __init__(
        self,
        k_sigma: float = 3.0,
        drift_sigma: float = 0.5,
        min_evidence_sigma: float = 6.0,
        alpha: float = 0.01,
        correction: str = "bh",
        max_causes: int = 25,
        bin_hours: float = 24.0,
        pm_window_hours: float = 12.0,
        max_stretches: int = 3,
        tree: bool = True,
        seed: int = 0,
    ):
        self.k_sigma = k_sigma
        self.drift_sigma = drift_sigma
        self.min_evidence_sigma = min_evidence_sigma
        self.alpha = alpha
        self.correction = correction
        self.max_causes = max_causes
        self.bin_hours = bin_hours
        self.pm_window_hours = pm_window_hours
        self.max_stretches = max_stretches
        self.tree = tree
        self.seed = seed

    # ------------------------------------------------------------------ public
    def analyze(
        self,
        lot_history: pd.DataFrame,
        yields: pd.DataFrame,
        work_orders: pd.DataFrame | None = None,
        metric: str = "yield_pct",
        direction: str = "low",
    ) -> CommonalityReport:
        """Excursions and ranked causes of ``metric`` (a column of ``yields``) over the data given."""
        if direction not in ("low", "high"):
            raise CommonalityError(f"direction must be 'low' or 'high', got {direction!r}")
        t0 = time.perf_counter()
        units = prepare_units(lot_history, yields, metric=metric, bin_hours=self.bin_hours)
        sign = 1.0 if direction == "low" else -1.0  # badness = sign * (peer level - value)
        excursions = detect_excursions(units.lot_metric, metric, direction, self.k_sigma)
        candidates, n_tested = self._candidates(units, sign)
        self._test_all(units, candidates, sign)
        ranked = self._explain_away(units, candidates, sign)
        if self.tree and ranked:
            self._tree_importance(units, ranked)
        p_raw = [c.p for c in ranked]
        causes = self._to_causes(units, ranked, np.array(p_raw), metric)
        window = self._time_window(units, causes, sign, metric)  # what the chamber causes leave unexplained
        if window is not None:
            n_tested += 1
            p_raw.append(window.p_value)
        p_adj = adjust_pvalues(np.array(p_raw + [1.0] * (n_tested - len(p_raw))), self.correction)
        causes = self._to_causes(units, ranked, p_adj[: len(ranked)], metric)
        if window is not None and p_adj[len(ranked)] < self.alpha:
            causes.append(replace(window, p_adjusted=float(p_adj[len(ranked)])))
        causes = self._add_pm_events(causes, work_orders)
        causes = [_with_rank(c, i + 1) for i, c in enumerate(causes[: self.max_causes])]
        return CommonalityReport(
            metric=metric,
            unit=units.unit,
            window_start=units.t_min,
            window_end=units.t_max,
            n_lots=units.n_lots,
            n_units=units.n_units,
            n_candidates=n_tested,
            correction=self.correction,
            excursions=tuple(excursions),
            causes=tuple(causes),
            seconds=time.perf_counter() - t0,
        )

    # ------------------------------------------------------------------ candidates
    def _candidates(self, u: Units, sign: float) -> tuple[list[_Candidate], int]:
        """Per (step, chamber), (step, recipe) and chamber (all its steps) group: the worst stretch by
        the epidemic change point (maximum sub-array of the CUSUM increments)."""
        out: list[_Candidate] = []
        n_tested = 0
        # > 0 where the unit does worse than its step's bin median, in units of the step's sigma
        bad = sign * (-u.resid) / u.step_sigma[u.step_code]
        all_steps = np.zeros_like(u.step_code)
        for kind, step_key, codes, names in (
            (CauseKind.STEP_CHAMBER, u.step_code, u.chamber_code, u.chambers),
            (CauseKind.RECIPE, u.step_code, u.recipe_code, u.recipes),
            (CauseKind.CHAMBER, all_steps, u.chamber_code, u.chambers),
        ):
            # rows sorted by (step, group, time) once; group boundaries by diff
            order = np.lexsort((u.t, codes, step_key))
            s_sorted, g_sorted = step_key[order], codes[order]
            bounds = np.flatnonzero((np.diff(s_sorted) != 0) | (np.diff(g_sorted) != 0)) + 1
            starts = np.concatenate([[0], bounds])
            ends = np.concatenate([bounds, [len(order)]])
            n_groups_per_step = np.bincount(s_sorted[starts], minlength=len(u.steps))
            for a, b in zip(starts, ends):
                if n_groups_per_step[s_sorted[a]] < 2 or b - a < 3:
                    continue  # one chamber (or recipe) at this step: nothing to compare with
                rows = order[a:b]
                steps = (u.steps[s_sorted[a]],)
                if kind == CauseKind.CHAMBER:
                    steps = tuple(u.steps[k] for k in np.unique(u.step_code[rows]))
                    if len(steps) < 2:
                        continue  # a one-step chamber is its step x chamber candidate already
                n_tested += 1
                for i, j, gain in worst_stretches(
                    bad[rows] - self.drift_sigma, self.max_stretches, self.min_evidence_sigma
                ):
                    # scan statistic: P(max CUSUM excursion >= h) ~ n exp(-2 delta h / sigma^2) (Siegmund)
                    p_scan = min(1.0, (b - a) * float(np.exp(-2.0 * self.drift_sigma * gain)))
                    if p_scan >= self.alpha:
                        continue
                    stretch = rows[i : j + 1]
                    out.append(
                        _Candidate(
                            kind,
                            steps,
                            str(names[g_sorted[a]]),
                            stretch,
                            u.t[stretch[0]],
                            u.t[stretch[-1]],
                            p_scan=p_scan,
                        )
                    )
        return out, n_tested

    def _test(self, u: Units, c: _Candidate, sign: float, exclude: np.ndarray | None) -> None:
        if c.window is None:
            if c.kind == CauseKind.CHAMBER:
                lo = int(np.searchsorted(u.all_t_sorted, c.t_on, side="left"))
                hi = int(np.searchsorted(u.all_t_sorted, c.t_off, side="right"))
                window = u.all_rows_sorted[lo:hi]
                codes = np.array([u.steps.index(s) for s in c.steps])
                c.window = window[np.isin(u.step_code[window], codes)]
            else:
                step = u.steps.index(c.steps[0])
                lo = int(np.searchsorted(u.step_t_sorted[step], c.t_on, side="left"))
                hi = int(np.searchsorted(u.step_t_sorted[step], c.t_off, side="right"))
                c.window = u.step_rows_sorted[step][lo:hi]
            codes = u.recipe_code if c.kind == CauseKind.RECIPE else u.chamber_code
            names = u.recipes if c.kind == CauseKind.RECIPE else u.chambers
            c.own = codes[c.window] == names.index(c.key)
        exposed_rows, peer_rows = c.window[c.own], c.window[~c.own]
        if exclude is not None:
            exposed_rows = exposed_rows[~exclude[u.unit_of_row[exposed_rows]]]
            peer_rows = peer_rows[~exclude[u.unit_of_row[peer_rows]]]
        c.rows = exposed_rows
        c.n_peer = len(peer_rows)
        if len(exposed_rows) < 3 or len(peer_rows) < 3:
            c.z, c.p, c.effect = 0.0, 1.0, 0.0
            return
        z = mwu_z_less(sign * u.value[exposed_rows], sign * u.value[peer_rows])
        c.p = max(float(special.ndtr(-z)), c.p_scan)
        c.z = min(z, float(-special.ndtri(max(c.p_scan, 1e-300))))
        c.effect = float(u.value[exposed_rows].mean() - u.value[peer_rows].mean())

    def _test_all(self, u: Units, cands: list[_Candidate], sign: float) -> None:
        for c in cands:
            self._test(u, c, sign, None)

    def _explain_away(self, u: Units, cands: list[_Candidate], sign: float) -> list[_Candidate]:
        """Greedy: accept the strongest candidate, drop its units, re-test the rest, repeat."""
        pool = sorted((c for c in cands if c.p < self.alpha), key=lambda c: -c.z)[: 3 * self.max_causes]
        explained = np.zeros(u.n_units, dtype=bool)
        ranked: list[_Candidate] = []
        while pool and len(ranked) < self.max_causes:
            best = max(pool, key=lambda c: c.z)
            pool.remove(best)
            if best.p >= self.alpha:
                break
            ranked.append(best)
            new = np.zeros(u.n_units, dtype=bool)
            new[u.unit_of_row[best.rows]] = True
            new &= ~explained
            explained |= new
            for c in pool:  # re-test only candidates whose own units were just explained
                if new[u.unit_of_row[c.window[c.own]]].any():
                    self._test(u, c, sign, explained)
        return ranked

    def _tree_importance(self, u: Units, ranked: list[_Candidate]) -> None:
        import lightgbm as lgb

        X = np.zeros((u.n_units, len(ranked)), dtype=np.float32)
        for j, c in enumerate(ranked):
            X[u.unit_of_row[c.rows], j] = 1.0
        model = lgb.LGBMRegressor(
            n_estimators=40,
            num_leaves=15,
            learning_rate=0.2,
            min_child_samples=5,
            importance_type="gain",
            random_state=self.seed,
            verbose=-1,
            n_jobs=1,
        )
        model.fit(X, u.unit_contrast)
        gain = model.feature_importances_.astype(float)
        total = gain.sum() or 1.0
        for c, g in zip(ranked, gain):
            c.importance = float(g / total)

    # ------------------------------------------------------------------ results
    def _to_causes(self, u: Units, ranked: list[_Candidate], p_adj: np.ndarray, metric: str) -> list[Cause]:
        causes = []
        for c, pa in zip(ranked, p_adj):
            if pa >= self.alpha:
                continue
            lots = tuple(sorted(set(u.lot_ids[u.lot_of_unit[u.unit_of_row[c.rows]]])))
            chamber = None if c.kind == CauseKind.RECIPE else c.key
            causes.append(
                Cause(
                    rank=0,
                    kind=c.kind,
                    metric=metric,
                    step_id=c.steps[0] if len(c.steps) == 1 else None,
                    steps=c.steps,
                    chamber_id=chamber,
                    equipment_id=tool_of(chamber) if chamber else None,
                    recipe_id=c.key if c.kind == CauseKind.RECIPE else None,
                    work_order_id=None,
                    effect_size=c.effect,
                    effect_sigma=c.effect / float(np.mean([u.step_sigma[u.steps.index(s)] for s in c.steps])),
                    p_value=c.p,
                    p_adjusted=float(pa),
                    z_score=c.z,
                    n_affected_lots=len(lots),
                    n_affected_units=len(c.rows),
                    n_peer_units=c.n_peer,
                    onset=_ts(c.t_on),
                    end=_ts(c.t_off),
                    tree_importance=c.importance,
                    affected_lots=lots,
                )
            )
        return causes

    def _time_window(self, u: Units, causes: list[Cause], sign: float, metric: str) -> Cause | None:
        """Lots low across all routes, after removing units the chamber/recipe causes explain."""
        explained_lots = set().union(*(c.affected_lots for c in causes)) if causes else set()
        lm = u.lot_metric[~u.lot_metric["lot_id"].isin(explained_lots)].sort_values("ts")
        if len(lm) < 10:
            return None
        v = lm[metric].to_numpy(dtype=float)
        center = np.median(v)
        sd = 1.4826 * np.median(np.abs(v - center)) or 1e-9
        cs = np.concatenate([[0.0], np.cumsum(sign * (center - v) - self.drift_sigma * sd)])
        gains = cs[1:] - np.minimum.accumulate(cs)[:-1]
        j = int(np.argmax(gains))
        if gains[j] < 2 * self.min_evidence_sigma * sd:
            return None
        i = int(np.argmin(cs[: j + 1]))
        inside = np.zeros(len(v), dtype=bool)
        inside[i : j + 1] = True
        if inside.sum() < 3 or (~inside).sum() < 3:
            return None
        p_scan = min(1.0, len(v) * float(np.exp(-2.0 * self.drift_sigma * gains[j] / sd)))
        p = max(
            p_scan, float(stats.mannwhitneyu(sign * v[inside], sign * v[~inside], alternative="less").pvalue)
        )
        ts = lm["ts"].to_numpy()
        lots = tuple(lm["lot_id"].to_numpy()[inside].astype(str))
        effect = float(v[inside].mean() - v[~inside].mean())
        return Cause(
            rank=0,
            kind=CauseKind.TIME_WINDOW,
            metric=metric,
            step_id=None,
            chamber_id=None,
            equipment_id=None,
            recipe_id=None,
            work_order_id=None,
            effect_size=effect,
            effect_sigma=effect / sd,
            p_value=p,
            p_adjusted=float("nan"),
            z_score=float(-special.ndtri(max(p, 1e-300))),
            n_affected_lots=len(lots),
            n_affected_units=len(lots),
            n_peer_units=int((~inside).sum()),
            onset=_ts(ts[i]),
            end=_ts(ts[j]),
            tree_importance=0.0,
            test="mann-whitney-u (one-sided), lots in window vs outside",
            affected_lots=lots,
        )

    def _add_pm_events(self, causes: list[Cause], work_orders: pd.DataFrame | None) -> list[Cause]:
        """A chamber cause whose onset follows one of its work orders gets a PM-event cause right after it."""
        if work_orders is None or work_orders.empty or "chamber_id" not in work_orders:
            return causes
        wo = work_orders.copy()
        end_col = "closed" if "closed" in wo else "opened"
        done = wo[end_col].fillna(wo["opened"]) if end_col == "closed" else wo["opened"]
        wo["_done"] = pd.to_datetime(done, utc=True).dt.tz_localize(None)  # naive UTC, as the analysis
        window = pd.Timedelta(hours=self.pm_window_hours)
        out: list[Cause] = []
        for c in causes:
            out.append(c)
            if c.kind not in (CauseKind.STEP_CHAMBER, CauseKind.CHAMBER) or c.onset is None:
                continue
            onset = pd.Timestamp(c.onset).tz_convert(None)
            mine = wo[
                (wo["chamber_id"] == c.chamber_id) & (wo["_done"] <= onset) & (wo["_done"] >= onset - window)
            ]
            if mine.empty:
                continue
            w = mine.sort_values("_done").iloc[-1]
            out.append(
                replace(
                    c,
                    kind=CauseKind.PM_EVENT,
                    work_order_id=str(w["work_order_id"]),
                    test=c.test
                    + f"; onset {(onset - w['_done']).total_seconds() / 3600:.1f} h after work order",
                )
            )
        return out


def _with_rank(c: Cause, rank: int) -> Cause:
    return replace(c, rank=rank)


def analyze_store(
    store: Any,
    start: Any = None,
    end: Any = None,
    metric: str = "yield_pct",
    per_substrate: bool = True,
    defect_class: str | None = None,
    analyzer: YieldCommonality | None = None,
) -> CommonalityReport:
    """The service function behind the CLI, the API and the yield agent's tool.

    ``metric='yield_pct'`` analyses yields (per substrate when the store has them, else per lot);
    ``metric='defect_count'`` analyses defect counts per substrate (of ``defect_class`` if given)
    and looks for spikes (direction 'high').
    """
    from fabmind.models.commonality_prep import defect_counts

    analyzer = analyzer or YieldCommonality()
    history = store.lot_history(start=start, end=end)
    if history.empty:
        raise CommonalityError(f"no route history in the store between {start} and {end}")
    work_orders = store.work_orders(start=start, end=end)
    if metric == "defect_count":
        counts = defect_counts(
            store.defects(defect_class=defect_class, start=start, end=end), history, defect_class
        )
        name = f"defects:{defect_class}" if defect_class else "defect_count"
        report = analyzer.analyze(history, counts, work_orders, metric="defect_count", direction="high")
        return report if name == "defect_count" else _rename_metric(report, name)
    yields = store.yields(start=start, end=end, per_substrate=per_substrate)
    if yields.empty and per_substrate:
        yields = store.yields(start=start, end=end, per_substrate=False)
    return analyzer.analyze(history, yields, work_orders, metric=metric, direction="low")


def _rename_metric(report: CommonalityReport, name: str) -> CommonalityReport:
    return replace(
        report,
        metric=name,
        excursions=tuple(replace(e, metric=name) for e in report.excursions),
        causes=tuple(replace(c, metric=name) for c in report.causes),
    )
