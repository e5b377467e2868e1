"""UCI SECOM: wafer pass/fail (yield) prediction before inspection, time-ordered split.

Timestamps fixed for the day/month swap of the Kaggle conversion (day <= 12: swap, see SOURCE.md),
rows sorted by time, first 70 % train, last 30 % test. Metrics: ROC-AUC and fail recall at 10 %
false-alarm rate (interpolated on the ROC curve). fabmind's YieldPassFailModel against a logistic
regression (median imputation, standardised, balanced) and a default LightGBM on all 590 sensors,
in the same run. For reference the same model under random stratified 5-fold CV (no time order).

Selection: settings are chosen inside the training 70 % only, by forward-chaining validation
(training wafers cut into 8 time blocks; fit on blocks < k, score block k, k = 3..8). Criterion:
the AUC over (fail, pass) pairs of the same validation block, i.e. the block AUCs weighted by
n_fail * n_pass. (Until this revision the plain mean of the block AUCs was used; the last block
holds 2 fails, so its AUC has a standard error near 0.2 and it had the same weight as the block with
15 fails. The plain mean's pick and its test figures are reported too.) The grid: the earlier
screened-feature settings, heavily regularised boosted stumps on all usable sensors, and recency
weighting (``fit(..., sample_weight=0.5 ** (age / half_life))``). Test figures of every grid point
and of the alternatives are in the JSON, marked as not used for selection.

Alternatives (validation and test, not in the product): logistic regression on robust-scaled
sensors plus missing-value indicators and the missing fraction; distance to the 10 nearest training
passes (kNN novelty); rank average of the chosen model and the logistic baseline. Tried earlier and
in this session, none better under forward-chaining validation: missing indicators in the trees,
L1 logistic after Mann-Whitney/FDR screening, isolation forest, PCA T2+SPE, causal rolling-median
normalisation, scaling fitted on recent wafers, extra-trees, dropping features that shift between
fit and validation periods (transductive).

``drift`` explains why the goal (AUC 0.80, recall 0.5 at 10 % FPR) is out of reach on this split:
adversarial validation (train vs test wafers), the most shifted sensors, the (in)stability of the
sensor-fail relations between periods, and a diagnostic ceiling (random CV *inside* the test period:
uses test labels, only to characterise the data, never to choose anything).

    .venv/bin/python bench/secom.py
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import datasets_dir, write_result

from fabmind.models.quality import YieldPassFailModel

PARAMS = {"max_features": 100, "num_leaves": 3, "n_estimators": 800}
STUMPS = {"max_features": None, "num_leaves": 2, "n_estimators": 200, "min_child_samples": 30,
          "colsample_bytree": 0.2}
GRID = [
    {"max_features": 20, "num_leaves": 3, "n_estimators": 800},
    {"max_features": 50, "num_leaves": 3, "n_estimators": 800},
    PARAMS,
    {"max_features": 200, "num_leaves": 3, "n_estimators": 800},
    {"max_features": 100, "num_leaves": 7, "n_estimators": 400},
    {**STUMPS, "reg_lambda": 1.0},
    {**STUMPS, "reg_lambda": 10.0},
    {**STUMPS, "reg_lambda": 10.0, "n_estimators": 400},
    {**STUMPS, "reg_lambda": 10.0, "half_life": 300},
    {**STUMPS, "reg_lambda": 10.0, "half_life": 600},
    {"max_features": 50, "num_leaves": 3, "n_estimators": 800, "half_life": 600},
]
BLOCKS = 8


def load(folder: Path) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    df = pd.read_csv(folder / "uci-secom.csv.zip")
    t = pd.to_datetime(df["Time"])
    swap = t.dt.day <= 12
    fixed = t.copy()
    fixed[swap] = pd.to_datetime({"year": t[swap].dt.year, "month": t[swap].dt.day, "day": t[swap].dt.month,
                                      "hour": t[swap].dt.hour, "minute": t[swap].dt.minute, "second": t[swap].dt.second})
    df = df.assign(ts=fixed).sort_values("ts", kind="stable").reset_index(drop=True)
    X = df[[str(i) for i in range(590)]]
    return X, (df["Pass/Fail"] == 1).astype(int).to_numpy(), df["ts"]


def recall_at_fpr(y: np.ndarray, p: np.ndarray, fpr: float = 0.10) -> float:
    from sklearn.metrics import roc_curve

    f, t, _ = roc_curve(y, p)
    return float(np.interp(fpr, f, t))


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


class Yield:
    """YieldPassFailModel from a grid point; ``half_life`` (wafers) turns on recency weighting."""

    def __init__(self, params: dict):
        self.params = dict(params)
        self.half_life = self.params.pop("half_life", None)

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "Yield":
        w = None if self.half_life is None else 0.5 ** (np.arange(len(y))[::-1] / self.half_life)
        self.model = YieldPassFailModel(**self.params).fit(X, y, sample_weight=w)
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.score(X)


class Robust:
    """Usable sensors, median / IQR scaled (clipped at +-5, NaN -> 0); optional missing indicators."""

    def __init__(self, indicators: bool = False):
        self.indicators = indicators

    def fit(self, X: pd.DataFrame) -> "Robust":
        miss, nun = X.isna().mean(), X.nunique()
        self.cols = [c for c in X.columns if miss[c] <= 0.5 and nun[c] > 1]
        self.med = X[self.cols].median()
        iqr = X[self.cols].quantile(0.75) - X[self.cols].quantile(0.25)
        self.iqr = iqr.where(iqr > 0, 1.349 * X[self.cols].std()).replace(0, 1).fillna(1)
        pat, seen = X.isna(), {}
        for c in X.columns[(miss >= 0.01) & (miss <= 0.99)]:
            seen.setdefault(pat[c].to_numpy().tobytes(), c)  # one indicator per distinct missingness pattern
        self.ind = list(seen.values())
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        Z = ((X[self.cols] - self.med) / self.iqr).clip(-5, 5).fillna(0.0)
        if not self.indicators:
            return Z
        extra = X[self.ind].isna().astype(float).add_prefix("missing_")
        return pd.concat([Z, extra, X.isna().mean(axis=1).rename("missing_fraction")], axis=1)


class LogisticMissing:
    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "LogisticMissing":
        from sklearn.linear_model import LogisticRegression

        self.prep = Robust(indicators=True).fit(X)
        self.model = LogisticRegression(C=0.01, class_weight="balanced", max_iter=5000).fit(self.prep.transform(X), y)
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.decision_function(self.prep.transform(X))


class KNNNovelty:
    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "KNNNovelty":
        from sklearn.neighbors import NearestNeighbors

        self.prep = Robust().fit(X)
        self.nn = NearestNeighbors(n_neighbors=10).fit(self.prep.transform(X).to_numpy()[y == 0])
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return self.nn.kneighbors(self.prep.transform(X).to_numpy())[0].mean(axis=1)


class Logistic:
    """The baseline: median imputation, standardised, balanced, C = 0.1, varying sensors."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "Logistic":
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.cols = X.columns[X.nunique() > 1]
        self.model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                                   LogisticRegression(C=0.1, class_weight="balanced", max_iter=3000)).fit(X[self.cols], y)
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(X[self.cols])[:, 1]


class RankAverage:
    def __init__(self, *members):
        self.members = members

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> "RankAverage":
        for m in self.members:
            m.fit(X, y)
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        from scipy.stats import rankdata

        return sum(rankdata(m.score(X)) for m in self.members) / (len(X) * len(self.members))


def forward_chain(make, X: pd.DataFrame, y: np.ndarray, blocks: int = BLOCKS) -> dict:
    """Each later time block scored by a model fitted on all blocks before it (training data only)."""
    cuts = np.array_split(np.arange(len(y)), blocks)
    aucs, pairs, recalls = [], [], []
    for k in range(2, blocks):
        fit_idx, val_idx = np.concatenate(cuts[:k]), cuts[k]
        yv = y[val_idx]
        if 0 < yv.sum() < len(yv):
            p = make().fit(X.iloc[fit_idx], y[fit_idx]).score(X.iloc[val_idx])
            aucs.append(_auc(yv, p))
            recalls.append(recall_at_fpr(yv, p))
            pairs.append(int(yv.sum()) * int(len(yv) - yv.sum()))
    return {"pair_weighted_auc": float(np.average(aucs, weights=pairs)), "mean_auc": float(np.mean(aucs)),
            "mean_recall_at_10pct_fpr": float(np.mean(recalls)), "blocks": [round(a, 4) for a in aucs],
            "block_fails": [int(y[c].sum()) for c in cuts[2:]]}


def _shift_auc(a: pd.Series, b: pd.Series) -> float:
    """max(AUC, 1 - AUC) of telling b's values from a's (non-missing values only)."""
    a, b = a.dropna().to_numpy(), b.dropna().to_numpy()
    if len(a) < 10 or len(b) < 10:
        return float("nan")
    r = pd.Series(np.r_[a, b]).rank().to_numpy()
    auc = (r[len(a):].sum() - len(b) * (len(b) + 1) / 2) / (len(a) * len(b))
    return float(max(auc, 1 - auc))


def _fail_auc(x: pd.Series, y: np.ndarray) -> float:
    """AUC of a sensor's value for fail vs pass (non-missing rows), 0.5 when undefined."""
    ok = x.notna().to_numpy()
    yy = y[ok]
    if yy.sum() < 3 or yy.sum() == len(yy) or x[ok].nunique() < 2:
        return 0.5
    return _auc(yy, x[ok].to_numpy())


def drift_report(X: pd.DataFrame, y: np.ndarray, n: int, headline_make) -> dict:
    import lightgbm as lgb
    from scipy.stats import spearmanr
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    Xtr, Xte, ytr, yte = X.iloc[:n], X.iloc[n:], y[:n], y[n:]
    adv = lgb.LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=15, n_jobs=1, verbose=-1, random_state=0)
    d = np.r_[np.zeros(n), np.ones(len(y) - n)]
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    adv_auc = _auc(d, cross_val_predict(adv, X, d, cv=cv, method="predict_proba")[:, 1])
    filled = X.fillna(X.iloc[:n].median())  # values only: missingness hidden
    adv_auc_values = _auc(d, cross_val_predict(adv, filled, d, cv=cv, method="predict_proba")[:, 1])
    m = int(n * 0.7)  # the same inside training: first 70 % vs last 30 % of the training wafers
    d_in = np.r_[np.zeros(m), np.ones(n - m)]
    adv_auc_in_train = _auc(d_in, cross_val_predict(adv, Xtr, d_in, cv=cv, method="predict_proba")[:, 1])
    gain = pd.Series(adv.fit(X, d).booster_.feature_importance("gain"), index=X.columns)
    gain = gain / gain.sum()
    top = []
    for c in gain.sort_values(ascending=False).index[:10]:
        top.append({"sensor": c, "adversarial_gain_share": round(float(gain[c]), 4),
                    "shift_auc": round(_shift_auc(Xtr[c], Xte[c]), 3),
                    "missing_train": round(float(Xtr[c].isna().mean()), 3),
                    "missing_test": round(float(Xte[c].isna().mean()), 3),
                    "median_train": float(Xtr[c].median()), "median_test": float(Xte[c].median())})
    varying = [c for c in X.columns if X[c].nunique() > 1]
    shift = pd.Series({c: _shift_auc(Xtr[c], Xte[c]) for c in varying}).dropna()
    auc_tr = pd.Series({c: _fail_auc(Xtr[c], ytr) for c in varying})
    auc_te = pd.Series({c: _fail_auc(Xte[c], yte) for c in varying})
    best50 = (auc_tr - 0.5).abs().sort_values(ascending=False).index[:50]
    holds = np.sign(auc_tr[best50] - 0.5) == np.sign(auc_te[best50] - 0.5)
    pat = X.isna()
    part = pat.columns[(pat.mean() > 0.01) & (pat.mean() < 0.99)]
    keys = pat[part].astype(int).astype(str).agg("".join, axis=1)
    unseen = ~keys.iloc[n:].isin(set(keys.iloc[:n]))
    # diagnostic ceiling: random stratified CV inside the test period (test labels; not used for any choice)
    ceiling = {}
    for name, make in (("chosen_setting", headline_make), ("logistic_baseline", Logistic)):
        res = []
        for rep in range(3):
            p = np.zeros(len(yte))
            for a, b in StratifiedKFold(5, shuffle=True, random_state=rep).split(Xte, yte):
                p[b] = make().fit(Xte.iloc[a], yte[a]).score(Xte.iloc[b])
            res.append((_auc(yte, p), recall_at_fpr(yte, p)))
        ceiling[name] = {"roc_auc": float(np.mean([r[0] for r in res])),
                         "recall_at_10pct_fpr": float(np.mean([r[1] for r in res]))}
    return {
        "adversarial_auc_train_vs_test": adv_auc,
        "adversarial_auc_values_only": adv_auc_values,
        "adversarial_auc_inside_training_first70_vs_last30": adv_auc_in_train,
        "adversarial_note": "5-fold CV LightGBM telling test wafers from training wafers; 0.5 = no shift",
        "top_shifted_sensors": top,
        "sensors_shift_auc_over_0.7": int((shift > 0.7).sum()),
        "sensors_shift_auc_over_0.6": int((shift > 0.6).sum()),
        "sensors_compared": int(len(shift)),
        "fail_relation_spearman_train_vs_test": float(spearmanr(auc_tr, auc_te)[0]),
        "top50_train_sensors_same_direction_in_test": float(holds.mean()),
        "top50_train_sensors_mean_abs_auc_minus_half": {"train": float((auc_tr[best50] - 0.5).abs().mean()),
                                                        "test": float((auc_te[best50] - 0.5).abs().mean())},
        "fail_rate": {"first_500_wafers": float(y[:500].mean()), "rest_of_train": float(y[500:n].mean()),
                      "test": float(yte.mean())},
        "test_wafers_with_missingness_pattern_unseen_in_train": float(unseen.mean()),
        "within_test_period_random_5fold_cv_diagnostic": ceiling,
    }


def bootstrap_ci(y: np.ndarray, p: np.ndarray, reps: int = 2000) -> dict:
    rng = np.random.default_rng(0)
    auc, rec = [], []
    for _ in range(reps):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            auc.append(_auc(y[i], p[i]))
            rec.append(recall_at_fpr(y[i], p[i]))
    return {"roc_auc_95": np.percentile(auc, [2.5, 97.5]).round(3).tolist(),
            "recall_at_10pct_fpr_95": np.percentile(rec, [2.5, 97.5]).round(3).tolist()}


def main() -> None:
    import lightgbm as lgb
    from sklearn.model_selection import StratifiedKFold

    warnings.filterwarnings("ignore")
    X, y, ts = load(datasets_dir() / "secom")
    assert ts.is_monotonic_increasing, "timestamps not monotonic after the day/month fix"
    n = int(len(y) * 0.7)
    Xtr, Xte, ytr, yte = X.iloc[:n], X.iloc[n:], y[:n], y[n:]

    def key(g: dict) -> str:
        return json.dumps(g, sort_keys=True)

    inner = {key(g): forward_chain(lambda g=g: Yield(g), Xtr, ytr) for g in GRID}
    chosen = json.loads(max(inner, key=lambda k: inner[k]["pair_weighted_auc"]))
    chosen_by_mean = json.loads(max(inner, key=lambda k: inner[k]["mean_auc"]))
    print("chosen by forward-chaining inside training:", chosen, flush=True)
    test_scores = {key(g): Yield(g).fit(Xtr, ytr).score(Xte) for g in GRID}
    p = test_scores[key(chosen)]
    p_fixed = test_scores[key(PARAMS)]
    p_mean = test_scores[key(chosen_by_mean)]
    p_lr = Logistic().fit(Xtr, ytr).score(Xte)
    gbm = lgb.LGBMClassifier(n_jobs=1, verbose=-1, random_state=0).fit(Xtr, ytr)
    p_gbm = gbm.predict_proba(Xte)[:, 1]
    p_cv = np.zeros(len(y))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        p_cv[te] = Yield(chosen).fit(X.iloc[tr], y[tr]).score(X.iloc[te])
    alternatives = {
        "logistic_baseline": Logistic,
        "logistic_robust_missing_indicators": LogisticMissing,
        "knn_novelty_10_passes": KNNNovelty,
        "rank_average_chosen_and_logistic": lambda: RankAverage(Yield(chosen), Logistic()),
    }
    alt = {}
    for name, make in alternatives.items():
        s = p_lr if name == "logistic_baseline" else make().fit(Xtr, ytr).score(Xte)
        alt[name] = {"validation": forward_chain(make, Xtr, ytr),
                     "test_roc_auc": _auc(yte, s), "test_recall_at_10pct_fpr": recall_at_fpr(yte, s)}
    grid_out = {k: {"validation": v, "test_roc_auc": _auc(yte, test_scores[k]),
                    "test_recall_at_10pct_fpr": recall_at_fpr(yte, test_scores[k])} for k, v in inner.items()}
    from scipy.stats import spearmanr

    candidates = {**grid_out, **alt}
    best_any = max(candidates, key=lambda k: candidates[k]["validation"]["pair_weighted_auc"])
    val_test_rho = float(spearmanr([c["validation"]["pair_weighted_auc"] for c in candidates.values()],
                                   [c["test_roc_auc"] for c in candidates.values()])[0])
    result = {
        "roc_auc": _auc(yte, p),
        "recall_at_10pct_fpr": recall_at_fpr(yte, p),
        "bootstrap_95": bootstrap_ci(yte, p),
        "params": chosen,
        "validation_of_chosen": inner[key(chosen)],
        "selection": "max pair-weighted forward-chaining AUC inside the training 70 % (see docstring)",
        "chosen_by_plain_mean_auc": {"params": chosen_by_mean, "roc_auc": _auc(yte, p_mean),
                                     "recall_at_10pct_fpr": recall_at_fpr(yte, p_mean)},
        "fixed_params_roc_auc": _auc(yte, p_fixed),
        "fixed_params_recall_at_10pct_fpr": recall_at_fpr(yte, p_fixed),
        "baseline_logreg_roc_auc": _auc(yte, p_lr),
        "baseline_logreg_recall_at_10pct_fpr": recall_at_fpr(yte, p_lr),
        "baseline_lgbm_default_roc_auc": _auc(yte, p_gbm),
        "baseline_lgbm_default_recall_at_10pct_fpr": recall_at_fpr(yte, p_gbm),
        "random_5fold_cv_roc_auc": _auc(y, p_cv),
        "random_5fold_cv_recall_at_10pct_fpr": recall_at_fpr(y, p_cv),
        "split": f"time-ordered: train {n} wafers ({int(ytr.sum())} fails) to {ts.iloc[n - 1]}, "
                 f"test {len(y) - n} ({int(yte.sum())} fails)",
        "fixed_params": PARAMS,
        "grid_test_figures_not_used_for_selection": grid_out,
        "alternatives_test_figures_not_used_for_selection": alt,
        "best_by_validation_any_candidate": {
            "candidate": best_any, "validation_pair_weighted_auc": candidates[best_any]["validation"]["pair_weighted_auc"],
            "test_roc_auc": candidates[best_any]["test_roc_auc"],
            "test_recall_at_10pct_fpr": candidates[best_any]["test_recall_at_10pct_fpr"],
            "note": "over the product grid and the alternatives; the headline is restricted to product settings"},
        "validation_vs_test_auc_spearman_over_candidates": val_test_rho,
        "validation_auc_range_over_candidates": [min(c["validation"]["pair_weighted_auc"] for c in candidates.values()),
                                                 max(c["validation"]["pair_weighted_auc"] for c in candidates.values())],
        "test_auc_range_over_candidates": [min(c["test_roc_auc"] for c in candidates.values()),
                                           max(c["test_roc_auc"] for c in candidates.values())],
        "drift": drift_report(X, y, n, lambda: Yield(chosen)),
        "published": {"xgboost_fail_recall_random_split": [0.29, 0.38]},
        "goal": {"roc_auc": 0.80, "recall_at_10pct_fpr": 0.5},
    }
    dr = result["drift"]
    result["goal_gap"] = {"roc_auc": result["roc_auc"] - 0.80, "recall_at_10pct_fpr": result["recall_at_10pct_fpr"] - 0.5}
    result["note"] = (
        f"Goal not reached: AUC {result['roc_auc']:.3f} (95 % bootstrap {result['bootstrap_95']['roc_auc_95']}) vs 0.80. "
        f"Test wafers are almost perfectly separable from training wafers (adversarial AUC {dr['adversarial_auc_train_vs_test']:.3f}, "
        f"{dr['adversarial_auc_values_only']:.3f} with missingness hidden); the sensor-fail relations do not carry over "
        f"(Spearman {dr['fail_relation_spearman_train_vs_test']:.2f} between per-sensor fail AUCs of the periods, "
        f"{dr['top50_train_sensors_same_direction_in_test']:.0%} of the 50 best training sensors keep their direction); even random CV "
        f"inside the test period reaches only AUC {dr['within_test_period_random_5fold_cv_diagnostic']['chosen_setting']['roc_auc']:.2f} "
        f"(logistic {dr['within_test_period_random_5fold_cv_diagnostic']['logistic_baseline']['roc_auc']:.2f}). "
        f"Validation inside training cannot rank the candidates for the test period: Spearman "
        f"{val_test_rho:.2f} between validation and test AUC over {len(candidates)} candidates, test AUCs "
        f"{result['test_auc_range_over_candidates'][0]:.3f}-{result['test_auc_range_over_candidates'][1]:.3f}.")
    rows = [
        ("roc_auc (time-ordered)", result["roc_auc"], result["baseline_logreg_roc_auc"], None),
        ("recall_at_10pct_fpr (time-ordered)", result["recall_at_10pct_fpr"],
         result["baseline_logreg_recall_at_10pct_fpr"], "XGBoost recall 0.29-0.38 (random split, thr 0.5/0.1)"),
        ("  chosen setting's forward-chaining validation AUC (pair-weighted)",
         result["validation_of_chosen"]["pair_weighted_auc"],
         alt["logistic_baseline"]["validation"]["pair_weighted_auc"], None),
        ("roc_auc / recall, pick by plain mean block AUC (previous criterion)",
         f"{result['chosen_by_plain_mean_auc']['roc_auc']:.4f} / {result['chosen_by_plain_mean_auc']['recall_at_10pct_fpr']:.4f}",
         None, None),
        (f"roc_auc / recall, best validation of any candidate ({best_any[:40]}, not product)",
         f"{candidates[best_any]['test_roc_auc']:.4f} / {candidates[best_any]['test_recall_at_10pct_fpr']:.4f}", None, None),
        ("roc_auc / recall, fixed earlier setting (time-ordered)", result["fixed_params_roc_auc"],
         result["baseline_lgbm_default_roc_auc"], None),
        ("  recall_at_10pct_fpr, fixed setting / default LightGBM", result["fixed_params_recall_at_10pct_fpr"],
         result["baseline_lgbm_default_recall_at_10pct_fpr"], None),
        ("roc_auc (random 5-fold CV, reference)", result["random_5fold_cv_roc_auc"], None, None),
        ("recall_at_10pct_fpr (random 5-fold CV, reference)", result["random_5fold_cv_recall_at_10pct_fpr"], None,
         "XGBoost 0.29-0.38 (random 80/20)"),
        ("drift: adversarial AUC train vs test (values only)", dr["adversarial_auc_train_vs_test"],
         dr["adversarial_auc_values_only"], None),
        ("drift: diagnostic random CV inside test period, AUC (uses test labels)",
         dr["within_test_period_random_5fold_cv_diagnostic"]["chosen_setting"]["roc_auc"],
         dr["within_test_period_random_5fold_cv_diagnostic"]["logistic_baseline"]["roc_auc"], None),
    ]
    write_result("secom", result, rows, header=("metric", "fabmind YieldPassFailModel",
                                              "baseline logistic regression / default LightGBM", "published"))
    print(result["note"])


if __name__ == "__main__":
    main()
