"""UCI Steel Plates Faults: 7-class defect classification, accuracy by stratified 10-fold CV.

fabmind's DefectClassifier (LightGBM, temperature-calibrated probabilities) against a random forest
(500 trees) in the same run, on the same folds. Also reports macro-F1 and the log-loss / expected
calibration error of the calibrated probabilities vs the uncalibrated LightGBM.

The headline model uses the classifier's ``context`` option: defects found on the same plate group
(conveyor length + plate thickness + steel grade) and, finer, in the same 200,000-unit block of
``Y_Minimum`` along it (an added column ``Y_block``) tend to be of the same kind, so the model also sees
each group's smoothed class frequencies, learned from the training fold's labels only (cross-fitted
inside the training fold; test rows use the training rows of their group). ``accuracy_no_context`` is
the same classifier on the 27 raw columns. The context design (groups, smoothing 5, block size) was
chosen on CV split seeds 1-3 (accuracy 0.821 / 0.826 / 0.828), never on the seed-0 folds reported here.

    .venv/bin/python bench/steel_plates.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

from _common import datasets_dir, write_result

from fabmind.models.quality import DefectClassifier

PARAMS = {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 10, "colsample_bytree": 0.5}
PLATE = ("Length_of_Conveyer", "Steel_Plate_Thickness", "TypeOfSteel_A300")
CONTEXT = [PLATE, (*PLATE, "Y_block")]
Y_BLOCK = 200_000


def load(folder: Path) -> tuple[pd.DataFrame, np.ndarray]:
    names = [line.strip() for line in (folder / "Faults27x7_var").read_text().splitlines() if line.strip()]
    rows = [line.strip().strip('"').split("\t") for line in (folder / "Faults.NNA").read_text().splitlines() if line.strip()]
    df = pd.DataFrame(np.array(rows, dtype=float), columns=names)
    return df[names[:27]], np.array(names[27:])[df[names[27:]].to_numpy().argmax(axis=1)]


def ece(proba: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    conf = proba.max(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def main() -> None:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import f1_score, log_loss
    from sklearn.model_selection import StratifiedKFold

    X, y = load(datasets_dir() / "steel_plates_faults")
    Xc = X.assign(Y_block=(X["Y_Minimum"] // Y_BLOCK).astype(int))
    folds = list(StratifiedKFold(10, shuffle=True, random_state=0).split(X, y))
    classes = np.unique(y)
    p_cal = np.zeros((len(y), len(classes)))
    p_raw = np.zeros_like(p_cal)
    p_rf = np.zeros_like(p_cal)
    p_plain = np.zeros_like(p_cal)
    t0 = time.perf_counter()
    for tr, te in folds:
        m = DefectClassifier(**PARAMS, context=CONTEXT).fit(Xc.iloc[tr], y[tr])
        p_cal[te] = m.predict_proba(Xc.iloc[te])
        p_raw[te] = m.gbm_.predict_proba(m._inputs(Xc.iloc[te]))
    seconds = time.perf_counter() - t0
    for tr, te in folds:  # temperature scaling does not change the argmax: accuracy needs no calibration
        p_plain[te] = DefectClassifier(**PARAMS, calibration="none").fit(X.iloc[tr], y[tr]).predict_proba(X.iloc[te])
    for tr, te in folds:
        rf = RandomForestClassifier(500, n_jobs=1, random_state=0).fit(X.iloc[tr], y[tr])
        p_rf[te] = rf.predict_proba(X.iloc[te])
    pred, pred_rf = classes[p_cal.argmax(1)], classes[p_rf.argmax(1)]
    fold_acc = [float((pred[te] == y[te]).mean()) for _, te in folds]
    result = {
        "accuracy": float((pred == y).mean()),
        "accuracy_fold_std": float(np.std(fold_acc)),
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "log_loss_calibrated": float(log_loss(y, p_cal, labels=classes)),
        "log_loss_uncalibrated": float(log_loss(y, p_raw, labels=classes)),
        "ece_calibrated": ece(p_cal, pred == y),
        "ece_uncalibrated": ece(p_raw, classes[p_raw.argmax(1)] == y),
        "accuracy_no_context": float((classes[p_plain.argmax(1)] == y).mean()),
        "macro_f1_no_context": float(f1_score(y, classes[p_plain.argmax(1)], average="macro")),
        "baseline_rf_accuracy": float((pred_rf == y).mean()),
        "baseline_rf_macro_f1": float(f1_score(y, pred_rf, average="macro")),
        "cv_seconds": seconds,
        "params": PARAMS,
        "context": [list(c) for c in CONTEXT],
        "context_note": f"Y_block = Y_Minimum // {Y_BLOCK}; group class frequencies cross-fitted inside each "
                        "training fold; design chosen on CV seeds 1-3 (0.821/0.826/0.828), reported on seed 0",
        "published": {"random_forest": 0.785, "gradient_boosting_max": 0.801},
        "goal": {"accuracy": 0.82},
    }
    rows = [
        ("accuracy (10-fold CV)", result["accuracy"], result["baseline_rf_accuracy"], "RF 0.785 / GB <= 0.801"),
        ("accuracy, same classifier without context (27 raw columns)", result["accuracy_no_context"], None, None),
        ("macro-F1", result["macro_f1"], result["baseline_rf_macro_f1"], None),
        ("log-loss (calibrated / uncalibrated)", result["log_loss_calibrated"], result["log_loss_uncalibrated"], None),
        ("ECE (calibrated / uncalibrated)", result["ece_calibrated"], result["ece_uncalibrated"], None),
    ]
    write_result("steel_plates", result, rows,
                 header=("metric", "fabmind DefectClassifier", "baseline RF 500 (same folds) / uncalibrated", "published"))


if __name__ == "__main__":
    main()
