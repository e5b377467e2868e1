"""Defect-map patterns: classifier quality on held-out simulated maps, novelty, speed, and pattern -> chamber
end to end through the yield report.

    .venv/bin/python bench/defect_maps.py [--quick]

1. ``simulate_maps``: 9,000 training maps and 5,400 held-out maps (seeds 11 / 12; glass 730 x 920 mm
   and 300 mm wafers alternating; 9 classes). Ours: :class:`DefectPatternClassifier` (spatial
   features + LightGBM). Baselines in the same run, same maps: LightGBM on the raw 8 x 8 map
   (defect shares per cell + log count), and on the defect count alone.
2. Novelty: (a) leave-one-pattern-out: for each spatial pattern, train without it (and without mixed
   maps containing it), score its held-out maps against the other known held-out maps (ROC AUC);
   ``novelty_auc`` is the mean; (b) patterns no fault leaves (stripe, grid) against the full model.
3. ``ms_per_map``: points -> 64 x 64 bins -> features -> probabilities + novelty, whole held-out set,
   one process (the machine is shared: 2 cores, other jobs running; the load average is recorded).
   ``default_classifier_load_seconds``: loading the cached default model (what the yield report pays
   once the model is on disk) against ``default_classifier_train_seconds`` (first use).
4. End to end, through the yield report (built-in analyst, no LLM), with the model the product uses
   (:func:`default_classifier`):
   a. ``pattern_to_chamber_top1``: 24 single-fault demo fabs (every fault type of the library on two
      chambers of its process; 10 days, fault from day 2.5, severity 0.8, seeds 100..123): the
      simulator writes the fab with its own AOI maps (``simulate``, maps on), the fab goes into
      SQLite with its documents in the knowledge base, ``YieldAgent.analyze(days=10)`` writes the
      report. Hit: the report's summary names the fault's pattern **and** its chamber (its top
      defect-map finding). Baseline (same reports): the top commonality cause names the chamber
      (chamber only; without maps a report cannot name a pattern).
   b. The same 24 fabs with the simulator's old sparse placement (``defect_maps=False``: only the
      killer defects of the yield model, ~5-15 per faulty glass at full strength): the figure the
      previous version measured on "the simulator's own maps".
   c. The default fault plan (30 days, seeds 1 and 2: 26 concurrent faults): ``in_report`` = the report
      names the fault's pattern with its chamber; ``chamber_top1`` = the first map pattern the report
      states for the fault's chamber is the fault's pattern. Both placements.
   d. ``healthy_fabs``: three demo fabs with no fault (10 days, seeds 200-202): every defect-map finding
      of their reports is a false one.
   e. Why sparse maps fail (``sparse_diagnosis``): per-glass recall on the sparse maps of seed 1 (every
      map classified), and maps drawn from the training shapes at the same defect counts, and at ten
      times those counts.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result

from fabmind.models.defect_map_features import map_features
from fabmind.models.defect_maps import DefectPatternClassifier
from fabmind.sim.defect_maps import NOVEL_PATTERNS, PATTERNS, simulate_maps

LEAVE_OUT = ("center", "edge_ring", "edge_loc", "donut", "scratch", "cluster", "random")
FINDING = re.compile(r"\*\*(\w+)\*\* defect maps on (\d+) glasses .*? that shared \*\*([A-Z]+-\d+/[A-Z0-9]+)")


def raw8(maps) -> np.ndarray:
    rows = []
    for m in maps:
        b = m.binned(64).reshape(8, 8, 8, 8).sum(axis=(1, 3)).ravel()
        rows.append(np.r_[b / max(b.sum(), 1), np.log1p(b.sum())])
    return np.array(rows)


def gbm(X, y):
    import lightgbm as lgb

    return lgb.LGBMClassifier(n_estimators=250, learning_rate=0.08, num_leaves=15, verbose=-1, n_jobs=1).fit(X, y)


def scores(y, p) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    labels = sorted(set(y))
    rec = recall_score(y, p, labels=labels, average=None, zero_division=0)
    return {"accuracy": float(accuracy_score(y, p)), "macro_f1": float(f1_score(y, p, average="macro")),
            "per_class_recall": {c: float(r) for c, r in zip(labels, rec)}}


def auc(neg: np.ndarray, pos: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.zeros(len(neg)), np.ones(len(pos))], np.r_[neg, pos]))


# --------------------------------------------------------------------------- end to end through the report

def injections(n_per_type: int = 2) -> list[tuple[str, str]]:
    """(fault type, chamber): every fault of the library on ``n_per_type`` chambers of its process, spread
    over the demo fab's tools."""
    from fabmind.sim.faults import FAULT_LIBRARY
    from fabmind.sim.layout import build_layout

    layout = build_layout("demo")
    out = []
    for k, (name, ft) in enumerate(sorted(FAULT_LIBRARY.items())):
        chambers = [c for c in layout.chamber_ids if layout.type_of(c).process in ft.equipment_process]
        step = max(1, len(chambers) // n_per_type)
        out += [(name, chambers[(k * 7 + i * step) % len(chambers)]) for i in range(n_per_type)]
    return out


def yield_report(result, classifier, days: float):
    """Store + knowledge base + the built-in yield report of a simulated fab."""
    from fabmind.agents.yield_agent import YieldAgent
    from fabmind.config import Settings
    from fabmind.knowledge import KnowledgeBase
    from fabmind.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/fab.db")
        store.write_batch(result.batch)
        kb = KnowledgeBase(store.engine)
        kb.add(result.batch.documents)
        agent = YieldAgent(store, Settings(llm_base_url="", home=Path(tmp) / "home"), knowledge=kb)
        agent.cache["defect_pattern_classifier"] = classifier
        t = time.perf_counter()
        report = agent.analyze(days=days)
        seconds = time.perf_counter() - t
        store.close()
    return report, seconds


def findings_in(text: str) -> list[tuple[str, str]]:
    """(pattern, chamber) of every defect-map statement of a report, in document order."""
    return [(m.group(1), m.group(3)) for m in FINDING.finditer(text)]


def top_cause_chamber(report) -> str | None:
    r = next((r for r in report.evidence.results if r.tool == "commonality_analysis" and r.ok), None)
    causes = r.value["causes"] if r is not None else []
    return causes[0].get("chamber_id") if causes else None


def single_fault_runs(classifier, pairs, defect_maps: bool, days: float = 10.0) -> dict:
    from fabmind.sim import simulate
    from fabmind.sim.faults import FAULT_LIBRARY

    rows, hits, base, unverified, secs = [], 0, 0, 0, []
    for k, (fault_type, chamber) in enumerate(pairs):
        t0 = time.perf_counter()
        result = simulate(days=days, seed=100 + k, scale="demo", faults=[(fault_type, chamber, 2.5, 0.8)],
                          defect_maps=defect_maps)
        report, seconds = yield_report(result, classifier, days)
        pattern = FAULT_LIBRARY[fault_type].defect_pattern
        top = findings_in(report.sections[0].body)[:1]
        hit = top == [(pattern, chamber)]
        cause = top_cause_chamber(report)
        hits += hit
        base += cause == chamber
        unverified += len(report.claims.unverified)
        secs.append(seconds)
        rows.append({"seed": 100 + k, "fault_type": fault_type, "pattern": pattern, "chamber": chamber,
                     "report_top_finding": list(top[0]) if top else None, "hit": bool(hit),
                     "named_anywhere": (pattern, chamber) in findings_in(report.text()),
                     "commonality_top_chamber": cause, "report_seconds": round(seconds, 2),
                     "unverified_claims": len(report.claims.unverified)})
        print(f"  {'maps' if defect_maps else 'sparse'} {k + 1}/{len(pairs)} {fault_type} on {chamber}: "
              f"{'hit' if hit else 'miss'} {top} ({time.perf_counter() - t0:.0f} s)", flush=True)
    n = len(pairs)
    return {"n_faults": n, "pattern_to_chamber_top1": hits / n,
            "pattern_to_chamber_named_anywhere": float(np.mean([r["named_anywhere"] for r in rows])),
            "baseline_commonality_top1_chamber": base / n, "unverified_claims_total": unverified,
            "report_seconds_median": float(np.median(secs)), "faults": rows}


def default_plan_runs(classifier, seeds, defect_maps: bool, days: float = 30.0) -> dict:
    from fabmind.sim import simulate
    from fabmind.sim.faults import FAULT_LIBRARY

    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        result = simulate(days=days, seed=seed, scale="demo", defect_maps=defect_maps)
        report, seconds = yield_report(result, classifier, days)
        named = findings_in(report.text())
        first_for = {}
        for pattern, chamber in named:
            first_for.setdefault(chamber, pattern)
        for f in result.faults:
            pattern = FAULT_LIBRARY[f.fault_type].defect_pattern
            rows.append({"seed": seed, "fault": f.fault_id, "fault_type": f.fault_type, "pattern": pattern,
                         "chamber": f.chamber_id, "in_report": (pattern, f.chamber_id) in named,
                         "chamber_top1": first_for.get(f.chamber_id) == pattern,
                         "first_pattern_for_chamber": first_for.get(f.chamber_id)})
        print(f"  {'maps' if defect_maps else 'sparse'} default plan seed {seed}: {len(result.faults)} faults, "
              f"report {seconds:.0f} s, {len(report.claims.unverified)} unverified claims "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return {"n_faults": len(rows), "in_report": float(np.mean([r["in_report"] for r in rows])),
            "chamber_top1": float(np.mean([r["chamber_top1"] for r in rows])), "faults": rows}


def healthy_runs(classifier, seeds, days: float = 10.0) -> dict:
    """False findings: demo fabs with no fault at all; every defect-map finding of their reports is false."""
    from fabmind.sim import simulate

    rows = []
    for seed in seeds:
        result = simulate(days=days, seed=seed, scale="demo", faults=None)
        report, seconds = yield_report(result, classifier, days)
        rows.append({"seed": seed, "findings": [list(x) for x in findings_in(report.text())],
                     "report_seconds": round(seconds, 2)})
        print(f"  healthy fab seed {seed}: {len(rows[-1]['findings'])} map findings ({seconds:.0f} s)", flush=True)
    return {"n_fabs": len(rows), "false_findings": sum(len(r["findings"]) for r in rows), "fabs": rows}


def sparse_diagnosis(classifier, seed: int = 1) -> dict:
    """Per-glass pattern recall on the simulator's sparse maps, against training-shape maps at the same counts."""
    from fabmind.sim import simulate
    from fabmind.sim.defect_maps import GLASS, DefectMap, generate_map
    from fabmind.sim.faults import FAULT_LIBRARY

    r = simulate(days=30, seed=seed, scale="demo", traces=False, documents=False, defect_maps=False)
    b = r.batch
    run_sub = {x.run_id: x.substrate_id for x in b.runs}
    ftype = {f.fault_id: f.fault_type for f in r.faults}
    touched: dict[str, set[str]] = {}
    for run, per in r.run_faults.items():
        for fid in per:
            touched.setdefault(run_sub[run], set()).add(FAULT_LIBRARY[ftype[fid]].defect_pattern)
    by_sub: dict[str, list] = {}
    for d in b.defects:
        by_sub.setdefault(d.substrate_id, []).append(d)
    maps, truth = [], []
    for s in sorted(i.substrate_id for i in b.inspections if i.inspection_id.endswith("-AOI")):
        ds, pats = by_sub.get(s, []), touched.get(s, set())
        truth.append("none" if not pats else next(iter(pats)) if len(pats) == 1 else "mixed")
        maps.append(DefectMap(s, GLASS, [d.x_mm for d in ds], [d.y_mm for d in ds]))
    truth_a = np.array(truth)
    n = np.array([m.n_defects for m in maps])
    pred = np.array([p.pattern for p in classifier.classify_maps(maps)])
    pat = truth_a != "none"
    rng = np.random.default_rng(5)
    per_pattern = {}
    for label in ("edge_ring", "center", "donut", "cluster", "scratch", "edge_loc"):
        sel = truth_a == label
        if sel.sum() < 5:
            continue
        ks = np.maximum(n[sel] - 3, 0)  # minus the background particles (Poisson 2.5 + scratches)
        same = [generate_map(label, rng, GLASS, n_pattern=int(k), background=2.5) for k in ks]
        ten = [generate_map(label, rng, GLASS, n_pattern=int(k) * 10, background=2.5) for k in ks]
        per_pattern[label] = {
            "n_glass": int(sel.sum()), "median_defects": float(np.median(n[sel])),
            "recall_sparse_maps": float(np.mean(pred[sel] == label)),
            "recall_training_shapes_same_counts": float(np.mean([p.pattern == label for p in classifier.classify_maps(same)])),
            "recall_training_shapes_10x_counts": float(np.mean([p.pattern == label for p in classifier.classify_maps(ten)]))}
    return {"seed": seed, "n_maps": len(maps), "n_patterned": int(pat.sum()),
            "median_defects_patterned": float(np.median(n[pat])), "median_defects_clean": float(np.median(n[~pat])),
            "recall_patterned": float(np.mean(pred[pat] == truth_a[pat])),
            "accuracy_clean": float(np.mean(pred[~pat] == "none")), "per_pattern": per_pattern}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sets (a smoke run, not the reported figures)")
    args = ap.parse_args()
    n_train, n_test, n_novel = (2700, 1800, 400) if args.quick else (9000, 5400, 1000)
    t0 = time.perf_counter()
    train, test = simulate_maps(n_train, seed=11), simulate_maps(n_test, seed=12)
    Xtr, Xte = map_features(train), map_features(test)
    ytr, yte = np.array([m.pattern for m in train]), np.array([m.pattern for m in test])
    comp_tr = [m.components for m in train]
    print(f"maps and features: {time.perf_counter() - t0:.0f} s", flush=True)
    t = time.perf_counter()
    clf = DefectPatternClassifier().fit(Xtr, ytr, components=comp_tr)
    fit_s = time.perf_counter() - t
    ours = scores(yte, np.array([p.pattern for p in clf.classify(Xte)]))
    load = os.getloadavg()[0]
    t = time.perf_counter()
    preds = clf.classify_maps(test)
    ms_per_map = (time.perf_counter() - t) / len(test) * 1000
    flagged_known = float(np.mean([p.is_novel for p in preds]))
    buckets = {}
    for lo, hi in ((0, 40), (40, 100), (100, 10**6)):
        sel = [i for i, m in enumerate(test) if lo <= m.n_defects < hi]
        buckets[f"{lo}-{hi if hi < 10**6 else 'inf'}"] = float(np.mean([preds[i].pattern == yte[i] for i in sel]))
    base8 = gbm(raw8(train), ytr)
    raw = scores(yte, base8.predict(raw8(test)))
    cnt = scores(yte, gbm(Xtr[["log_n"]], ytr).predict(Xte[["log_n"]]))
    print(f"classifier: ours F1 {ours['macro_f1']:.3f}, raw 8x8 {raw['macro_f1']:.3f}", flush=True)

    novel = simulate_maps(n_novel, seed=13, patterns=NOVEL_PATTERNS)
    known_nov = clf.novelty_score(Xte)
    unseen_nov = clf.novelty_score(map_features(novel))
    unseen = {"auc": auc(known_nov, unseen_nov),
              "flagged": float(np.mean([p.is_novel for p in clf.classify_maps(novel)]))}
    loo = {}
    for pat in LEAVE_OUT:
        keep = np.array([pat not in c and y != pat for c, y in zip(comp_tr, ytr)])
        m = DefectPatternClassifier().fit(Xtr[keep], ytr[keep], components=[c for c, k in zip(comp_tr, keep) if k])
        test_known = np.array([pat not in t.components and t.pattern != pat for t in test])
        test_out = yte == pat
        s_known, s_out = m.novelty_score(Xte[test_known]), m.novelty_score(Xte[test_out])
        loo[pat] = {"auc": auc(s_known, s_out), "flagged": float(np.mean(s_out > m.threshold_)),
                    "false_flags_known": float(np.mean(s_known > m.threshold_))}
        print(f"  leave out {pat}: AUC {loo[pat]['auc']:.3f}", flush=True)
    novelty_auc = float(np.mean([v["auc"] for v in loo.values()]))

    from fabmind.models.base import SmallModel
    from fabmind.models.defect_map_causes import default_classifier

    t = time.perf_counter()
    product = default_classifier()  # what the yield report uses (6,000 maps, seed 0), trained here in-process
    train_default_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        product.save(Path(tmp) / "m.pkl")
        t = time.perf_counter()
        SmallModel.load(Path(tmp) / "m.pkl")
        load_default_s = time.perf_counter() - t

    pairs = injections()[:6] if args.quick else injections()
    print(f"end to end: {len(pairs)} single-fault demo fabs, the simulator's maps…", flush=True)
    single = single_fault_runs(product, pairs, defect_maps=True)
    print("… and the old sparse placement", flush=True)
    single_sparse = single_fault_runs(product, pairs, defect_maps=False)
    seeds = (1,) if args.quick else (1, 2)
    print("end to end: default fault plan…", flush=True)
    plan = default_plan_runs(product, seeds, defect_maps=True)
    plan_sparse = default_plan_runs(product, seeds, defect_maps=False)
    print("healthy fabs (false findings)…", flush=True)
    healthy = healthy_runs(product, (200,) if args.quick else (200, 201, 202))
    print("why sparse maps fail…", flush=True)
    diag = sparse_diagnosis(product)
    result = {
        "n_train": n_train, "n_test": n_test, "classes": list(PATTERNS), "fit_seconds": fit_s,
        "accuracy": ours["accuracy"], "macro_f1": ours["macro_f1"], "per_class_recall": ours["per_class_recall"],
        "accuracy_by_defect_count": buckets,
        "ms_per_map": ms_per_map, "load_average_1min": load, "known_maps_flagged_novel": flagged_known,
        "novelty_auc": novelty_auc, "novelty_leave_one_out": loo, "novelty_unseen_patterns": unseen,
        "baseline_raw8x8_gbm": raw, "baseline_count_only_gbm": cnt,
        "default_classifier_train_seconds": train_default_s, "default_classifier_load_seconds": load_default_s,
        "n_faults": single["n_faults"], "pattern_to_chamber_top1": single["pattern_to_chamber_top1"],
        "baseline_commonality_top1_chamber": single["baseline_commonality_top1_chamber"],
        "end_to_end_single_faults": single, "end_to_end_single_faults_sparse_maps": single_sparse,
        "end_to_end_default_plan": plan, "end_to_end_default_plan_sparse_maps": plan_sparse,
        "healthy_fabs": healthy, "sparse_diagnosis": diag, "quick": bool(args.quick),
        "published": "WM-811K (real wafer maps) CNNs report ~0.95-0.99 accuracy; not comparable (simulated maps, "
                     "other classes, glass and wafers)",
    }
    n1, n2 = single["n_faults"], plan["n_faults"]
    rows = [
        ("accuracy", ours["accuracy"], raw["accuracy"], "0.95-0.99 (WM-811K CNNs, not comparable)"),
        ("macro_f1 (goal >= 0.95)", ours["macro_f1"], raw["macro_f1"], None),
        ("count-only baseline macro_f1", None, cnt["macro_f1"], None),
        ("novelty_auc (leave-one-pattern-out, mean)", novelty_auc, None, None),
        ("novelty_auc (unseen stripe/grid)", unseen["auc"], None, None),
        ("ms_per_map (goal <= 5, loaded 2-core CPU)", ms_per_map, None, None),
        ("default classifier: train s / load s (cached on disk)", train_default_s, load_default_s, None),
        (f"pattern_to_chamber_top1, yield report ({n1} single-fault fabs; baseline: commonality top chamber)",
         single["pattern_to_chamber_top1"], single["baseline_commonality_top1_chamber"], None),
        (f"  same, old sparse placement ({n1} fabs)", single_sparse["pattern_to_chamber_top1"],
         single_sparse["baseline_commonality_top1_chamber"], None),
        (f"default plan ({n2} concurrent faults): pattern + chamber in report (maps / sparse)", plan["in_report"],
         plan_sparse["in_report"], None),
        (f"default plan ({n2} faults): first pattern stated for the chamber right (maps / sparse)",
         plan["chamber_top1"], plan_sparse["chamber_top1"], None),
        (f"healthy demo fabs ({healthy['n_fabs']}): defect-map findings in the report (all false)",
         healthy["false_findings"], None, None),
        ("sparse maps: per-glass pattern recall (sparse / training shapes at same counts)", diag["recall_patterned"],
         float(np.mean([v["recall_training_shapes_same_counts"] for v in diag["per_pattern"].values()])), None),
    ]
    write_result("defect_maps", result, rows, header=("metric", "fabmind", "baseline / comparison (same run)",
                                                      "published"))


if __name__ == "__main__":
    main()
