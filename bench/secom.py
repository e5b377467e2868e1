"""UCI SECOM: wafer pass/fail (yield) prediction before inspection, time-ordered split.

Timestamps fixed for the day/month swap of the Kaggle conversion (day <= 12: swap, see SOURCE.md),
rows sorted by time, first 70 % train, last 30 % test. Metrics: ROC-AUC and fail recall at 10 %
false-alarm rate (interpolated on the ROC curve). fabmind's YieldPassFailModel against a logistic
regression (median imputation, standardised, balanced) and a default LightGBM on all 590 sensors,
in the same run. For reference the same model under random stratified 5-fold CV (no time order).

Hyper-parameters are chosen inside the training 70 % only, by forward-chaining validation (training
wafers cut into 8 time blocks; fit on blocks < k, score block k, k = 3..8; mean ROC-AUC), from a small
grid (screened features 20-200, tree size); the headline is the chosen setting. ``fixed_*`` is the
setting used before (max_features 100, 3 leaves, 800 trees), for comparison. Also tried this session,
none better under forward-chaining validation (so not in the product): a logistic member blended with
the trees, missing-count / missing-indicator features, causal drift normalisation (value minus the
rolling median of the previous 50 / 150 wafers, over their IQR), isolation forest / PCA T²+SPE fitted
on passes, extra-trees.

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
GRID = [
    {"max_features": 20, "num_leaves": 3, "n_estimators": 800},
    {"max_features": 50, "num_leaves": 3, "n_estimators": 800},
    PARAMS,
    {"max_features": 200, "num_leaves": 3, "n_estimators": 800},
    {"max_features": 100, "num_leaves": 7, "n_estimators": 400},
]
BLOCKS = 8


def load(folder: Path) -> tuple[pd.DataFrame, np.ndarray, pd.Series]:
    df = pd.read_csv(folder / "uci-secom.csv.zip")
    t = pd.to_datetime(df["Time"])
    swap = t.dt.day <= 12
    fixed = t.copy()
    fixed[swap] = pd.to_datetime({"year": t[swap].dt.year, "month": t[swap].dt.day, "day": t[swap].dt.month,
                                      "hour": t[swap].dt.hour, "minute": t[swap].dt.minute, "second": t[swap].dt.second})
    df["ts"] = fixed
    df = df.sort_values("ts", kind="stable").reset_index(drop=True)
    X = df[[str(i) for i in range(590)]]
    return X, (df["Pass/Fail"] == 1).astype(int).to_numpy(), df["ts"]


def recall_at_fpr(y: np.ndarray, p: np.ndarray, fpr: float = 0.10) -> float:
    from sklearn.metrics import roc_curve

    f, t, _ = roc_curve(y, p)
    return float(np.interp(fpr, f, t))


def forward_chain_auc(params: dict, X: pd.DataFrame, y: np.ndarray, blocks: int = BLOCKS) -> list[float]:
    """ROC-AUC of each later time block, the model fitted on all blocks before it (training data only)."""
    from sklearn.metrics import roc_auc_score

    cuts = np.array_split(np.arange(len(y)), blocks)
    out = []
    for k in range(2, blocks):
        fit_idx, val_idx = np.concatenate(cuts[:k]), cuts[k]
        if 0 < y[val_idx].sum() < len(val_idx):
            p = YieldPassFailModel(**params).fit(X.iloc[fit_idx], y[fit_idx]).score(X.iloc[val_idx])
            out.append(float(roc_auc_score(y[val_idx], p)))
    return out


def main() -> None:
    import lightgbm as lgb
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    warnings.filterwarnings("ignore")
    X, y, ts = load(datasets_dir() / "secom")
    assert ts.is_monotonic_increasing, "timestamps not monotonic after the day/month fix"
    n = int(len(y) * 0.7)
    Xtr, Xte, ytr, yte = X.iloc[:n], X.iloc[n:], y[:n], y[n:]
    inner = {json.dumps(g, sort_keys=True): forward_chain_auc(g, Xtr, ytr) for g in GRID}
    chosen = json.loads(max(inner, key=lambda k: np.mean(inner[k])))
    print("chosen by forward-chaining inside training:", chosen, flush=True)
    p = YieldPassFailModel(**chosen).fit(Xtr, ytr).score(Xte)
    p_fixed = YieldPassFailModel(**PARAMS).fit(Xtr, ytr).score(Xte)
    varying = Xtr.columns[Xtr.nunique() > 1]
    lr = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                       LogisticRegression(C=0.1, class_weight="balanced", max_iter=3000)).fit(Xtr[varying], ytr)
    p_lr = lr.predict_proba(Xte[varying])[:, 1]
    gbm = lgb.LGBMClassifier(n_jobs=1, verbose=-1, random_state=0).fit(Xtr, ytr)
    p_gbm = gbm.predict_proba(Xte)[:, 1]
    p_cv = np.zeros(len(y))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        p_cv[te] = YieldPassFailModel(**chosen).fit(X.iloc[tr], y[tr]).score(X.iloc[te])
    result = {
        "roc_auc": float(roc_auc_score(yte, p)),
        "recall_at_10pct_fpr": recall_at_fpr(yte, p),
        "fixed_params_roc_auc": float(roc_auc_score(yte, p_fixed)),
        "fixed_params_recall_at_10pct_fpr": recall_at_fpr(yte, p_fixed),
        "baseline_logreg_roc_auc": float(roc_auc_score(yte, p_lr)),
        "baseline_logreg_recall_at_10pct_fpr": recall_at_fpr(yte, p_lr),
        "baseline_lgbm_default_roc_auc": float(roc_auc_score(yte, p_gbm)),
        "baseline_lgbm_default_recall_at_10pct_fpr": recall_at_fpr(yte, p_gbm),
        "random_5fold_cv_roc_auc": float(roc_auc_score(y, p_cv)),
        "random_5fold_cv_recall_at_10pct_fpr": recall_at_fpr(y, p_cv),
        "split": f"time-ordered: train {n} wafers ({int(ytr.sum())} fails) to {ts.iloc[n - 1]}, "
                 f"test {len(y) - n} ({int(yte.sum())} fails)",
        "params": chosen,
        "fixed_params": PARAMS,
        "forward_chaining_auc": {k: {"mean": float(np.mean(v)), "blocks": v} for k, v in inner.items()},
        "published": {"xgboost_fail_recall_random_split": [0.29, 0.38]},
        "goal": {"roc_auc": 0.80, "recall_at_10pct_fpr": 0.5},
    }
    rows = [
        ("roc_auc (time-ordered)", result["roc_auc"], result["baseline_logreg_roc_auc"], None),
        ("recall_at_10pct_fpr (time-ordered)", result["recall_at_10pct_fpr"],
         result["baseline_logreg_recall_at_10pct_fpr"], "XGBoost recall 0.29-0.38 (random split, thr 0.5/0.1)"),
        ("roc_auc / recall, fixed earlier setting (time-ordered)", result["fixed_params_roc_auc"],
         result["baseline_lgbm_default_roc_auc"], None),
        ("  recall_at_10pct_fpr, fixed setting / default LightGBM", result["fixed_params_recall_at_10pct_fpr"],
         result["baseline_lgbm_default_recall_at_10pct_fpr"], None),
        ("roc_auc (random 5-fold CV, reference)", result["random_5fold_cv_roc_auc"], None, None),
        ("recall_at_10pct_fpr (random 5-fold CV, reference)", result["random_5fold_cv_recall_at_10pct_fpr"], None,
         "XGBoost 0.29-0.38 (random 80/20)"),
    ]
    write_result("secom", result, rows, header=("metric", "fabmind YieldPassFailModel",
                                              "baseline logistic regression / default LightGBM", "published"))


if __name__ == "__main__":
    main()
