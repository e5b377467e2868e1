"""NASA C-MAPSS FD001 remaining useful life: standard protocol (see datasets/cmapss/SOURCE.md).

Train on train_FD001 (piecewise-linear target capped at ``CAP``; the CNN members learn from every cycle of every
engine, the LightGBM member from the cycles with a complete 30-cycle window, ``MIN_AGE``), predict one
RUL per test engine at its last cycle, compare with RUL_FD001 (uncapped truth). Metrics: RMSE and the
PHM08/NASA score. Baselines in the same run: the configuration before this one (LightGBM member on every
row), the second-round configuration (30-cycle features only), the older configuration (cap 125, no CNN),
LightGBM and a ridge regression on the last cycle's raw sensor values; the model's own members alone.
``train_seconds`` is wall time of feature building + fit on this (shared, 2-core) machine;
``train_cpu_seconds`` the CPU time of the same span and ``load_average`` the 1-minute load before/after it.

    .venv/bin/python bench/cmapss.py          # fit on the training engines, score the test engines once
    .venv/bin/python bench/cmapss.py --cv     # only the engine-grouped CV used for the choices (no test data)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import datasets_dir, write_result

from fabmind.models.maintenance import RULModel, rul_target, window_features

COLS = ["unit", "cycle", "os1", "os2", "os3"] + [f"s{i}" for i in range(1, 22)]
# the 14 informative sensors (s1, s5, s6, s10, s16, s18, s19 are constant in FD001)
SENSORS = [f"s{i}" for i in (2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21)]
# all choices below by engine-grouped 5-fold CV on the training engines (see the "selection" note in the JSON)
CAP = 130.0          # CV RMSE 11.87 (125) / 11.61 (130) / 11.66 (135) / 11.94 (140), RULModel without the CNN member;
                     # re-checked with GBM + 4 CNN members (lr 3e-3, net_weight 0.7): 11.75 (125) / 11.53 (130)
NUM_LEAVES = 7       # 31 -> 15 -> 7: CV RMSE 12.04 -> 11.86 -> 11.79 (cap 125)
RAW = 30             # raw window of the CNN members: the last 30 cycles of the 14 sensors (40: no better in CV)
MLP_WEIGHT = 0.0     # no MLP members: beside 4 CNN members they no longer help (CV 11.43 without, 11.47 with one)
LONG = {"long": (60,), "history": True}  # long-window + whole-history mean/std/slope features (third round)
NET_EXCLUDE = ("mean60", "std60", "slope60", "stdall", "slopeall")  # ... which the CNN's static branch does not get
NET_WEIGHT = 0.3     # blend weight of the CNN ensemble, CV (fifth round) 0.3 / 0.4 / 0.5: see SELECTION
MIN_AGE = 30         # the LightGBM member learns from complete 30-cycle windows only (fifth round; CNN: all rows)
NET = {"seeds": 4, "channels": 8, "lr": 0.005}  # seed ensemble: 4 nets (seeds 0-3, all rows, 20 epochs), 8 filters
CHOSEN = dict(cap=CAP, num_leaves=NUM_LEAVES, mlp_weight=MLP_WEIGHT, net_weight=NET_WEIGHT, net_params=NET,
              net_exclude=NET_EXCLUDE, min_age=MIN_AGE)
# the configuration before this one (third round: every row, net_weight 0.4), on the same feature table
BEFORE = dict(CHOSEN, net_weight=0.4, min_age=0)
# the configuration of the second round (GBM + 4 CNNs on the 30-cycle features only, net_weight 0.8)
SECOND = dict(cap=CAP, num_leaves=NUM_LEAVES, mlp_weight=MLP_WEIGHT, net_weight=0.8, net_params=NET)
PREVIOUS = {"cap": 125.0, "num_leaves": 7, "net_weight": 0.0}  # the configuration before the CNN member
CV_CUTS, CV_MIN_PREFIX = 20, 31  # CV: cuts per held-out engine; shortest history kept (the shortest test engine)


SELECTION = (
    "all choices by engine-grouped 5-fold CV on the 100 training engines (8 random cuts per held-out engine, true RUL "
    "5-150, uncapped truth); the test truth was not used for any choice. Earlier: health index (CV RMSE 12.24 -> 12.04) "
    "and num_leaves 7 (-> 11.79 in that run; 11.87 with this CV's folds and cuts). Target cap of RULModel without the "
    "CNN member: 125 -> 11.87 (NASA 184 per 100 cuts), 130 -> 11.61 (189), 135 -> 11.66 (206), 140 -> 11.94 (234): cap 130. "
    "CNN member (cap 130, blend weight 0.3; CNN alone / blend): 2 nets x 1/2 rows 12.02 / 11.57, 4 nets x 1/4 rows "
    "13.70 / 11.98, 1 net 20 epochs 12.11 / 11.43 (chosen), 1 net 30 epochs 12.33 / 11.51; CNN without the static "
    "feature branch (cap 125, fold 1 only) 16.5-17.0 vs 12.4 with it, and exponential smoothing of the window (alpha "
    "0.3) worse (17.0 vs 16.5). Blend weight 0.2/0.3/0.4/0.5: 11.46/11.43/11.44/11.48. Same CNN member at cap 125: "
    "11.87 -> 11.76 (so cap 130 kept). CV figure of the chosen model: 11.43 (RULModel before: 11.87). On the test set "
    "these CV gains did not carry over (see rmse_without_cnn, rmse_previous_config and the paired bootstrap intervals); "
    "nothing was changed after seeing the test figures. "
    "ISSUE 3 ROUND (the second-round configuration, `SECOND`). CV made more test-like and reproducible "
    "(`bench/cmapss.py --cv`): the same "
    "engine-grouped 5 folds (engines permuted with seed 0), 20 cuts per held-out engine with true RUL drawn uniformly "
    "from 5..min(150, life-31) so every cut history keeps >= 31 cycles like the shortest test engine, uncapped truth; "
    "figures below are RMSE (NASA per 100 cuts) of that CV, so they are not comparable with the figures above. "
    "Config before (GBM + 2 MLPs + one 16-filter CNN, net_weight 0.3): 11.91 (211.8); net_weight 0.2/0.4/0.5: "
    "11.90/11.96/12.03. Members alone: GBM 12.82, 2 MLPs 12.39, GBM+2 MLPs 11.96 (214.8); one 16-filter CNN alone, "
    "seeds 0-3: 12.84/12.24/11.94/12.00 (the seed matters a lot), their ensembles of 2/3/4 nets alone: "
    "12.11/11.81/11.69. Test-time averaging over the last cycles (predict at T, T-1..T-k, subtract the offsets) on "
    "the config before, k = 2/4/6/9: mean 12.07/12.22/12.36/12.60, median 12.07/12.24/12.38/12.64, only where all "
    "predictions < 0.9 cap 12.01/12.08/12.16/12.26: all worse, rejected. MLPs: single seeds 12.39/12.62/12.65/12.50, "
    "4 MLPs 12.35 vs 2 12.39, GBM+4 MLPs 11.97 vs 11.96: no gain; one MLP does as well as two in every blend. GBM + "
    "2 MLPs + 2/3/4 16-filter CNNs, net_weight 0.4: 11.76/11.67/11.64, 0.5: 11.76/11.64/11.60. 12 epochs instead of 20 "
    "(cheaper nets, 4 of them alone 11.80 vs 11.69; blends about 0.1 worse): rejected. Batch 512 with lr 6e-3 (one "
    "net): 13.04 alone vs 12.84, blend 11.97 vs 11.91: rejected. GRU member (WindowCNN arch='gru' in commit 87159f6, removed later as unused; 16 units; 1.4x the "
    "CNN's time), seeds 0/1 alone 11.96/12.60, GBM + 1 MLP + 2 GRUs (net_weight 0.5) 11.73 vs 11.75 with 2 CNNs: "
    "not taken. Window 40 instead of 30 (16 filters, seed 0): alone 13.20 vs 12.84, blend 12.06 vs 11.91. 8 filters "
    "instead of 16 (about 25% cheaper per net): seeds 0-5 alone 12.15/12.12/11.93/11.88/11.83/12.29, ensembles of "
    "2..6 alone 11.90/11.79/11.69/11.63/11.64; GBM + n of them without MLPs (n = 3/4/5/6), net_weight 0.6: "
    "11.63/11.58/11.56/11.56, 0.7: 11.59/11.53/11.51/11.51, 0.8: 11.61/11.53/11.50/11.51, 0.9: 11.67/11.59/11.54/11.55; "
    "with one MLP (mlp_weight 0.5), 0.6: 11.60/11.55/11.54/11.54; 4 nets chosen for time (5 would be ~8 s more). "
    "Cap 125 with GBM + 4 nets (net_weight 0.7): 11.75 (187.9) vs 130: 11.53 (200.6): cap 130 kept (RMSE is the "
    "goal; the NASA score favours 125). Window 40 with 8 filters, 4 nets: 11.54 (198.7) vs 11.53 at 30: 30 kept. "
    "Learning rate of the 4 nets (net_weight 0.7 / 0.8): 3e-3 11.53/11.53, 5e-3 11.44/11.43, 8e-3 11.51/11.52: 5e-3; "
    "its net_weight 0.6/0.7/0.8/0.9: 11.50/11.44/11.43 (197.9)/11.47, with one MLP at 0.8: 11.47. Not measured: "
    "per-sensor min-max instead of z-score (an affine rescaling of the same inputs). Chosen: GBM + 4 CNNs (8 filters, "
    "lr 5e-3, seeds 0-3), no MLP, net_weight 0.8: CV 11.43 (197.9) vs 11.91 (211.8) for the config before "
    "(`--cv`, whole RULModel refitted per fold: 11.42 (198.3) vs 11.91 (211.8)). The test set was scored once, with "
    "this configuration, after all choices. "
    "SECOND ROUND (issue 3, same `--cv` protocol and cuts; the chosen blend reproduces 11.43 (197.9) from the cached "
    "fold predictions): decision rule fixed beforehand, test scored again only if a design's CV is <= 11.33; none "
    "reached it, so the test set was NOT scored again and the configuration above is unchanged. (1) Trajectory-"
    "similarity member (SimilarityRUL, measured in commit a83240b and removed after it: not used; after Wang et al. 2008: linear health index of "
    "the 14 sensors, library trajectories of the fold's training engines smoothed, the query's last N cycles slid "
    "along every trajectory, remaining life after the best match averaged over the k nearest, inverse-distance "
    "weights). Figures: RMSE alone; blended into GBM + 4 CNNs as (1 - s) chosen + s member at s = 0.05/0.1/0.2/0.3. "
    "HI on capped RUL/130, exponential library fit, no per-trajectory cap (blends at s = 0.1/0.2/0.3): N = 40, k = 10: "
    "16.84 (unclipped 19.94), 11.51/11.71/12.04; N = 30: 18.60, 11.54/11.84/12.30; N = 60: 16.46, 11.52/11.72/12.03. "
    "With every trajectory's estimate capped at 130 before averaging: N = 40: 16.67, 11.47/11.54/11.77/12.10; N = 60: "
    "16.42, 11.48/11.56/11.78/12.11; whole history: 18.27, 11.52/11.64/11.99/12.47; N = 60, k = 20: 17.26, "
    "11.48/11.57/11.83/12.22; quadratic fit of the query window: 16.27, 11.46/11.52/11.73/12.03; quadratic library "
    "fit: 18.55, 11.48/11.57/11.89/12.36; uniform weights: 16.49, 11.48/11.56/11.79/12.12; causal EWM (alpha 0.1) of "
    "library and query instead of the fits: 16.83, 11.47/11.55/11.79/12.13. Two-end HI target (1 on the first 20, 0 "
    "on the last 20 cycles, Wang's labelling), N = 60, k = 10: 15.63, 11.46/11.51/11.69/11.95 (best alone); with "
    "query quadratic fit 15.66, 11.46/11.51/11.68/11.93; k = 5: 15.81, 11.45/11.50/11.67/11.94; N = 80: 15.93, "
    "11.47/11.53/11.72/12.00; exp(-d/d_min) weights: 15.62, 11.46/11.51/11.69/11.95; EWM alpha 0.05/0.1/0.2: "
    "16.92/16.29/16.17, best blends 11.47/11.45/11.45 at s = 0.05; N = 30 with EWM 0.1: 16.53, 11.46/11.52/11.73/12.05. "
    "Multivariate matching on the 14 EWM-smoothed standardised sensors (scratch code, not in the class), N = 60 / 30: "
    "20.73 / 20.91, s = 0.05: 11.53/11.53. Every similarity blend is worse than 11.43 at every weight: its errors "
    "correlate 0.76 with the chosen blend's and are larger in every true-RUL band (5-25 ... 125-150), so it is not "
    "used. (2) More CNN seeds (8 filters, lr 5e-3; GBM + n nets, n = 4/5/6) at net_weight 0.7: 11.44/11.43/11.45, "
    "0.8: 11.43/11.42 (197.2)/11.44, 0.9: 11.47/11.45/11.47: at most 0.01 better for ~8 s more training, not taken. "
    "THIRD ROUND (this configuration; same `--cv` protocol, folds and cuts; the same decision rule: score the test "
    "again only if CV <= 11.33). Figures from a scratch harness that caches each fold's member predictions, in which "
    "the second-round configuration reproduces 11.42 (198.3). (1) Where the error is, by true RUL of the cut (RMSE, "
    "bias, share of the squared error): 0-25 2.1/+0.5/0.00, 25-50 4.3/+0.9/0.02, 50-75 8.7/+2.9/0.11, 75-100 "
    "15.0/+6.7/0.29, 100-125 11.5/+1.1/0.19, 125-150 18.0/-15.8/0.38: the onset of degradation is seen late. (2) A "
    "second stage on the blend's prediction, cross-fitted over the CV folds: isotonic on the prediction 11.45, "
    "monotone LightGBM on prediction + age 11.50, vs 11.42: the high band is not predictable from these, not used. "
    "(3) Longer windows for the LightGBM member (LightGBM alone, base 12.82; mean/std/slope over the last L cycles "
    "added to the 30-cycle features; L = 400 is the whole history, whose mean duplicated cummean in the harness): "
    "L = 60 12.23 (with an EWM of alpha 0.05 too: 12.22), 90 12.02 (12.04), 120 11.87, 150 11.70, 200 11.37, 300 "
    "11.41, 400 11.40; two lengths: 60+120 11.66, 60+400 11.17, 90+400 11.28, 120+400 11.36, 90+200+400 11.38; "
    "90+400 with num_leaves 15 11.23, with colsample 0.3 11.35. (4) With the CNN ensemble: nets whose static branch "
    "also gets the 90+400 features, CNN alone 12.18 (11.55 without them), blends at net_weight 0.2/0.3/0.4/0.5 "
    "11.15/11.14/11.18/11.25; nets without them in the static branch blended with the new LightGBM at net_weight "
    "0.3/0.4/0.5/0.6: 60+400 10.94/10.93/10.95/11.01, 90+400 10.99-11.05, 90+400 num_leaves 15 11.00-11.07, 120+400 "
    "11.03-11.07, 400 only 11.04-11.08. Chosen: the 60-cycle window and the whole history "
    "(`window_features(long=(60,), history=True)`, which does not repeat cummean), kept out of the CNN's static "
    "branch (`net_exclude`), net_weight 0.4. `bench/cmapss.py --cv` through the benchmark's own code: 11.00 (188.9) "
    "vs 11.42 (198.3) for the second-round configuration, a CV gain of 0.42, so the test set was scored once "
    "more, with this configuration, after all the choices above (test RMSE 11.10, NASA 183.6). "
    "FOURTH ROUND (after that test scoring; CV only, decision rule fixed beforehand: score the test again only if "
    "CV <= 10.90, i.e. 0.10 better than 11.00; none reached it, so the test set was NOT scored again and the "
    "configuration above is unchanged). Harness figures, RMSE of GBM + the 4 chosen nets at net_weight 0.3/0.4/0.5 "
    "(the chosen model reproduces 11.03/11.01/11.02 there). LightGBM settings: min_child_samples 20 / 100: "
    "11.01/10.99/11.00, 11.00/10.98/10.99; 1200 trees at learning rate 0.015: 10.98/10.96/10.98; 400 / 900 trees: "
    "11.07/11.03/11.03, 11.01/10.99/11.01; num_leaves 4 / 11: 11.32/11.24/11.19, 10.95/10.94/10.96; colsample 0.7: "
    "11.06/11.03/11.03; seed ensembles of 2/3/5 LightGBMs: 11.01/11.00/11.01, 10.99/10.97/10.99, 10.98/10.97/10.99. "
    "Quadratic (curvature) coefficient per sensor over the whole history, alone / also over 60 cycles: "
    "11.05/11.03/11.04, 11.07/11.04/11.05. CNN variants (4 nets each, blended with the chosen LightGBM at 0.3/0.4/0.5; "
    "CNN alone in brackets): static branch with all features, robust scaling (median, IQR, clipped at +-5 sigma) "
    "[11.67] 11.05/11.04/11.06; raw window minus the engine's own first-20-cycle mean [11.64] 11.08/11.07/11.09; "
    "raw window = the last 120 cycles in 30 blocks of 4 [11.69] 11.08/11.07/11.10; each of these three averaged with "
    "the chosen nets (8 nets, net_weight 0.4/0.5): 10.96/10.94, 11.03/11.03, 11.02/11.03. Best: 10.94, short of 10.90. "
    "FIFTH ROUND (this configuration; same protocol, folds and cuts; same rule: the test again only if CV <= 10.90). "
    "Which rows the LightGBM member learns from (LightGBM alone / blended with the third-round nets at net_weight "
    "0.3/0.4/0.5): every row (third round) 11.31 / 11.03/11.01/11.02; rows with age >= 31 10.94 / 10.74/10.75/10.80; "
    "rows with true RUL <= 150 plus every 3rd of the older ones 11.08 / 10.87/10.87/10.90; both 11.12 / "
    "10.86/10.85/10.88; age >= 30, i.e. a complete 30-cycle window, as every scored engine has (the rule taken): "
    "10.90 / 10.70/10.71/10.76. The nets trained on those rows only: alone 11.91 (11.55 on every row), whole model "
    "10.83 at net_weight 0.4, so the nets keep every row. Target cap of the LightGBM member (every row) 125/135/140: "
    "11.43 / 11.12/11.08/11.08, 11.38 / 11.05/11.02/11.02, 11.48 / 11.10/11.04/11.02: 130 kept. Chosen: "
    "RULModel(min_age=30) (LightGBM member and health index on complete windows, CNN on every row), net_weight 0.3. "
    "`bench/cmapss.py --cv` through the benchmark's own code: 10.71 (177.1) vs 11.00 (188.9) for the third-round "
    "configuration, a CV gain of 0.29, so the test set was scored once more, with this configuration, after these "
    "choices"
)


def load(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    read = lambda name: pd.read_csv(folder / name, sep=r"\s+", header=None, names=COLS)
    return read("train_FD001.txt"), read("test_FD001.txt"), np.loadtxt(folder / "RUL_FD001.txt")


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def paired_bootstrap(a: np.ndarray, b: np.ndarray, true: np.ndarray, draws: int = 2000) -> list[float]:
    """95% interval of RMSE(a) - RMSE(b) over test engines resampled with replacement (reporting only)."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(true), size=(draws, len(true)))
    ea, eb = (a - true)[idx] ** 2, (b - true)[idx] ** 2
    diff = np.sqrt(ea.mean(axis=1)) - np.sqrt(eb.mean(axis=1))
    return [float(np.percentile(diff, 2.5)), float(np.percentile(diff, 97.5))]


def nasa_score(pred: np.ndarray, true: np.ndarray) -> float:
    d = pred - true
    return float(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0).sum())


def features(df: pd.DataFrame, raw: int = RAW, long: bool = True) -> pd.DataFrame:
    """The models' feature table: 30-cycle window features (+ ``LONG`` ones when ``long``) + the raw window."""
    return window_features(df, unit="unit", order="cycle", sensors=SENSORS, window=30, short=10, raw=raw,
                           **(LONG if long else {}))


def cv_cuts(train: pd.DataFrame, held: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Test-like cuts of held-out training engines: per engine ``CV_CUTS`` true RULs drawn uniformly from
    5 .. min(150, life - CV_MIN_PREFIX); returns (index labels of the rows at the cuts, uncapped true RUL)."""
    idx, truth = [], []
    for u in held:
        rows = train.index[train["unit"] == u]
        life = len(rows)
        r = rng.integers(5, min(150, life - CV_MIN_PREFIX) + 1, size=CV_CUTS)
        idx += list(rows[life - 1 - r])
        truth += list(r)
    return np.array(idx), np.array(truth, dtype=float)


def cross_validate(configs: dict[str, tuple[bool, dict]]) -> dict[str, dict]:
    """Engine-grouped 5-fold CV on the 100 training engines (folds: engines permuted with seed 0, every 5th).

    The features are causal, so the rows of a full training history at a cut are exactly the features of the
    history cut there: features are built once, each fold's model is fitted on its training engines' rows and
    scored at the cuts of its held-out engines (``cv_cuts``, seed 1 per fold) against the uncapped truth. No test data.
    ``configs``: name -> (long features or not, RULModel keyword arguments).
    """
    train, _, _ = load(datasets_dir() / "cmapss")
    y = rul_target(train, unit="unit", order="cycle")
    tables = {lg: features(train, long=lg) for lg in {lg for lg, _ in configs.values()}}
    units = train["unit"].to_numpy()
    perm = np.random.default_rng(0).permutation(np.unique(units))
    out = {}
    for name, (lg, cfg) in configs.items():
        X = tables[lg]
        errs = []
        for i in range(5):
            held = perm[i::5]
            fit = ~np.isin(units, held)
            model = RULModel(**cfg).fit(X[fit], y[fit])
            idx, truth = cv_cuts(train, held, np.random.default_rng(1))  # the same draws in every fold
            errs.append(model.predict(X.loc[idx]) - truth)
        d = np.concatenate(errs)
        out[name] = {"rmse": rmse(d, 0.0), "nasa_score_per_100_cuts": nasa_score(d, 0.0) * 100 / len(d)}
        print(name, out[name], flush=True)
    return out


def main() -> None:
    train, test, true_rul = load(datasets_dir() / "cmapss")
    y = rul_target(train, unit="unit", order="cycle")  # uncapped; RULModel caps at its own ``cap``
    last = test.groupby("unit").tail(1).index

    load_before = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    model = RULModel(**CHOSEN).fit(features(train), y)
    train_seconds, train_cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    load_after = os.getloadavg()[0]
    X_test = features(test).loc[last]
    pred = model.predict(X_test)
    inputs = model._inputs(X_test)
    gbm_only = np.clip(model.gbm_.predict(inputs), 0, CAP)
    net_only = model.net_.predict(model._windows(X_test), model._net_static(inputs)) \
        if model.net_ is not None else np.full(len(last), np.nan)
    # baselines in the same run: the configuration before this one (every row for the LightGBM member), the
    # second-round configuration (30-cycle features only) and the configuration before the CNN member; the chosen
    # model without its CNN members is its own LightGBM member (gbm_only)
    t1 = time.perf_counter()
    before = RULModel(**BEFORE).fit(features(train), y)
    before_seconds = time.perf_counter() - t1
    p_before = before.predict(X_test)
    second = RULModel(**SECOND).fit(features(train, long=False), y)
    p_second = second.predict(features(test, long=False).loc[last])
    prev = RULModel(**PREVIOUS).fit(features(train, 0, long=False), y)
    p_prev = prev.predict(features(test, 0, long=False).loc[last])

    import lightgbm as lgb
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y125 = np.minimum(y, 125.0)
    raw_test = test.loc[last, SENSORS]
    base_lgb = lgb.LGBMRegressor(n_estimators=300, verbose=-1, n_jobs=1, random_state=0).fit(train[SENSORS], y125)
    p_lgb = np.clip(base_lgb.predict(raw_test), 0, None)
    base_lin = make_pipeline(StandardScaler(), Ridge()).fit(train[SENSORS], y125)
    p_lin = np.clip(base_lin.predict(raw_test), 0, None)

    capped = np.minimum(true_rul, CAP)
    result = {
        "rmse": rmse(pred, true_rul),
        "nasa_score": nasa_score(pred, true_rul),
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu_seconds,
        "load_average_1min_before_after_training": [load_before, load_after],
        "cnn_member": model.net_ is not None,
        "rmse_gbm_only": rmse(gbm_only, true_rul),
        "nasa_score_gbm_only": nasa_score(gbm_only, true_rul),
        "rmse_cnn_only": rmse(net_only, true_rul),
        "nasa_score_cnn_only": nasa_score(net_only, true_rul),
        "rmse_vs_capped_truth": rmse(pred, capped),
        "rmse_config_before": rmse(p_before, true_rul),
        "nasa_score_config_before": nasa_score(p_before, true_rul),
        "train_seconds_config_before": before_seconds,
        "rmse_minus_config_before_95ci": paired_bootstrap(pred, p_before, true_rul),
        "rmse_second_round_config": rmse(p_second, true_rul),
        "nasa_score_second_round_config": nasa_score(p_second, true_rul),
        "rmse_minus_second_round_config_95ci": paired_bootstrap(pred, p_second, true_rul),
        "rmse_previous_config": rmse(p_prev, true_rul),
        "nasa_score_previous_config": nasa_score(p_prev, true_rul),
        "baseline_lgbm_last_cycle_rmse": rmse(p_lgb, true_rul),
        "baseline_lgbm_last_cycle_nasa_score": nasa_score(p_lgb, true_rul),
        "baseline_ridge_last_cycle_rmse": rmse(p_lin, true_rul),
        "baseline_ridge_last_cycle_nasa_score": nasa_score(p_lin, true_rul),
        "rmse_minus_previous_config_95ci": paired_bootstrap(pred, p_prev, true_rul),
        "rmse_minus_gbm_only_95ci": paired_bootstrap(pred, gbm_only, true_rul),
        "published_best": {"method": "MTSTAN", "rmse": 10.97, "nasa_score": 175.36},
        "goal": {"rmse": 11.0, "train_seconds": 60},
        "selection": SELECTION,
        "protocol": f"FD001, train on train_FD001 (CNN members every cycle, LightGBM member cycles >= {MIN_AGE}), "
                    f"target min(RUL,{CAP:g}), last test cycle vs uncapped RUL_FD001",
        "model": f"RULModel(cap={CAP:g}, num_leaves={NUM_LEAVES}, mlp_weight={MLP_WEIGHT:g}): LightGBM on causal "
                 f"window features (w=30, plus {LONG}: 60-cycle and whole-history mean/std/slope) + linear health "
                 f"index, fitted on the rows with age >= {MIN_AGE} (complete windows), averaged (net_weight "
                 f"{NET_WEIGHT}) with an ensemble of CNN members "
                 f"(fabmind.models.rul_nets.WindowCNN, {NET}: nets with seeds 0-{NET['seeds'] - 1}, 20 epochs each on "
                 f"all rows) on the raw 30-cycle window + the same features except {NET_EXCLUDE}; train_seconds also "
                 f"covers building the features",
        "config_before": "third-round configuration: the same RULModel with the LightGBM member fitted on every "
                         "row and net_weight 0.4 (bench result before: RMSE 11.10, NASA 183.6, 34.7 s; retrained in "
                         "this run: rmse_config_before)",
        "second_round_config": "the same RULModel without the long-window features, every row, net_weight 0.8 "
                               "(bench result then: RMSE 11.57, NASA 190.6, 29.2 s; retrained in this run)",
        "previous_config": "RULModel(cap=125, num_leaves=7), no CNN member (bench result before: RMSE 11.85, NASA 189.2)",
    }
    rows = [
        ("rmse", result["rmse"], result["rmse_config_before"], 10.97),
        ("nasa_score", result["nasa_score"], result["nasa_score_config_before"], 175.36),
        ("rmse (second-round config / cap 125 config before the CNN)", result["rmse_second_round_config"],
         result["rmse_previous_config"], None),
        ("rmse (LightGBM member only / CNN member only)", result["rmse_gbm_only"], result["rmse_cnn_only"], None),
        ("rmse (last-cycle LightGBM / ridge baselines)", result["baseline_lgbm_last_cycle_rmse"],
         result["baseline_ridge_last_cycle_rmse"], None),
        ("train_seconds (wall; CPU in col 3)", train_seconds, train_cpu_seconds, None),
        ("train_seconds of the config before (wall, same run)", before_seconds, None, None),
    ]
    write_result("cmapss", result, rows,
                 header=("metric", "fabmind RULModel", "config before (LightGBM on every row), same run",
                         "published MTSTAN"))


if __name__ == "__main__":
    if "--cv" in sys.argv[1:]:
        cross_validate({"chosen": (True, CHOSEN), "before": (True, BEFORE)})
    else:
        main()
