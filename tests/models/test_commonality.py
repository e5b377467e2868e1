"""Yield commonality: the injected chamber is found, with its onset; noise gives no causes; bad input is named."""

from __future__ import annotations

from datetime import UTC

import numpy as np
import pandas as pd
import pytest
from _commonality_synth import synthetic_fab

from fabmind.models.commonality import (
    CauseKind,
    CommonalityError,
    YieldCommonality,
    adjust_pvalues,
    detect_excursions,
)
from fabmind.models.commonality_prep import defect_counts

START = pd.Timestamp("2026-03-01")  # naive = UTC in the synthetic frames
UTC_START = START.tz_localize("UTC")


def _fab(**kw):
    base = {"days": 30, "lots_per_day": 12, "substrates": 8, "steps": 6, "chambers_per_step": 4, "seed": 1}
    base.update(kw)
    return synthetic_fab(**base)


def test_injected_chamber_is_ranked_first_with_its_onset():
    _, _, chambers = _fab()
    bad = chambers["S03"][2]
    onset = START + pd.Timedelta(days=12)
    hist, y, _ = _fab(
        faults=[
            {"step": "S03", "chamber": bad, "start": onset, "end": onset + pd.Timedelta(days=6), "drop": 4.0}
        ]
    )
    report = YieldCommonality().analyze(hist, y)
    top = report.causes[0]
    assert report.unit == "substrate"
    assert (top.kind, top.step_id, top.chamber_id) == (CauseKind.STEP_CHAMBER, "S03", bad)
    assert abs(pd.Timestamp(top.onset) - onset.tz_localize("UTC")) < pd.Timedelta(hours=12)
    assert abs(pd.Timestamp(top.end) - (onset + pd.Timedelta(days=6)).tz_localize("UTC")) < pd.Timedelta(
        hours=12
    )
    assert -5.0 < top.effect_size < -3.0  # the injected drop is 4 points
    assert top.p_adjusted < 1e-6 and top.p_value <= top.p_adjusted
    assert top.n_affected_lots > 40 and top.tree_importance > 0.5
    assert report.n_candidates == 6 * 4 + 0  # one recipe per step: only step x chamber candidates


def test_two_faults_at_two_steps_are_both_found_and_nothing_else():
    _, _, chambers = _fab()
    f1 = {
        "step": "S01",
        "chamber": chambers["S01"][0],
        "start": START + pd.Timedelta(days=5),
        "end": START + pd.Timedelta(days=12),
        "drop": 3.0,
    }
    f2 = {
        "step": "S04",
        "chamber": chambers["S04"][3],
        "start": START + pd.Timedelta(days=8),
        "end": START + pd.Timedelta(days=20),
        "drop": 2.0,
    }
    hist, y, _ = _fab(faults=[f1, f2])
    report = YieldCommonality().analyze(hist, y)
    found = {(c.step_id, c.chamber_id) for c in report.causes[:2]}
    assert found == {("S01", f1["chamber"]), ("S04", f2["chamber"])}
    assert all(c.kind == CauseKind.STEP_CHAMBER for c in report.causes)
    assert len(report.causes) <= 3  # at most one chance finding besides the two real ones


def test_no_fault_gives_no_significant_cause():
    hist, y, _ = _fab(seed=3)
    report = YieldCommonality().analyze(hist, y)
    assert report.causes == ()


def test_lot_level_yields_with_lot_routing():
    _, _, chambers = _fab(lot_routing=True)
    bad = chambers["S02"][1]
    hist, y, _ = _fab(
        lot_routing=True,
        per_substrate=False,
        faults=[{"step": "S02", "chamber": bad, "start": START + pd.Timedelta(days=15), "drop": 4.0}],
    )
    report = YieldCommonality().analyze(hist, y)
    assert report.unit == "lot" and report.n_units == report.n_lots
    assert report.causes[0].chamber_id == bad
    # the excursion's lots point at the same chamber
    assert report.excursions, "a 4-point drop on whole lots must cross the 3-sigma lot control limit"
    biggest = max(report.excursions, key=lambda e: e.n_lots)
    assert biggest.start >= (UTC_START + pd.Timedelta(days=15)).to_pydatetime()
    assert report.causes_for(biggest)[0].chamber_id == bad


def test_pm_event_right_before_onset_becomes_a_cause():
    _, _, chambers = _fab()
    bad = chambers["S05"][0]
    onset = START + pd.Timedelta(days=10)
    hist, y, _ = _fab(faults=[{"step": "S05", "chamber": bad, "start": onset, "drop": 3.0}])
    wo = pd.DataFrame(
        {
            "work_order_id": ["WO-1", "WO-2"],
            "equipment_id": [bad.split("/")[0]] * 2,
            "chamber_id": [bad, chambers["S05"][1]],
            "kind": ["pm", "pm"],
            "opened": [onset - pd.Timedelta(hours=8), onset - pd.Timedelta(hours=8)],
            "closed": [onset - pd.Timedelta(hours=2), onset - pd.Timedelta(hours=2)],
        }
    )
    report = YieldCommonality().analyze(hist, y, wo)
    assert report.causes[0].chamber_id == bad
    pm = [c for c in report.causes if c.kind == CauseKind.PM_EVENT]
    assert [c.work_order_id for c in pm] == ["WO-1"] and pm[0].rank == 2


def test_fab_wide_time_window_is_a_time_window_cause():
    hist, y, _ = _fab(lot_routing=True, per_substrate=False, seed=4)
    t0, t1 = START + pd.Timedelta(days=14), START + pd.Timedelta(days=17)
    inside = (y["ts"] >= t0) & (y["ts"] < t1)
    y.loc[inside, "yield_pct"] -= 3.0  # e.g. a bad glass batch: every route suffers
    report = YieldCommonality().analyze(hist, y)
    kinds = [c.kind for c in report.causes]
    assert kinds[0] == CauseKind.TIME_WINDOW
    tw = report.causes[0]
    assert (
        abs(pd.Timestamp(tw.onset) - t0.tz_localize("UTC")) < pd.Timedelta(hours=12) and tw.effect_size < -2.0
    )


def test_defect_spike_in_one_chamber_direction_high():
    _, _, chambers = _fab()
    bad = chambers["S02"][3]
    hist, _, _ = _fab()
    rng = np.random.default_rng(0)
    runs = hist[hist["step_id"] == "S02"]
    spike = runs[(runs["chamber_id"] == bad) & (runs["start"] >= START + pd.Timedelta(days=20))]
    base = runs.sample(frac=0.3, random_state=0)
    rows = pd.concat([base, spike, spike])  # spiked substrates get two extra defects
    defects = pd.DataFrame(
        {
            "lot_id": rows["lot_id"],
            "substrate_id": rows["substrate_id"],
            "defect_class": "particle",
            "x_mm": rng.uniform(0, 700, len(rows)),
        }
    )
    counts = defect_counts(defects, hist, "particle")
    assert len(counts) == hist[["lot_id", "substrate_id"]].drop_duplicates().shape[0]
    report = YieldCommonality().analyze(hist, counts, metric="defect_count", direction="high")
    assert report.causes[0].chamber_id == bad and report.causes[0].effect_size > 1.0


def test_benjamini_hochberg_and_holm_match_hand_values():
    p = np.array([0.04, 0.04, 0.03, 0.2])
    np.testing.assert_allclose(
        adjust_pvalues(np.array([0.01, 0.04, 0.03, 0.2]), "bh"), [0.04, 0.16 / 3, 0.16 / 3, 0.2]
    )
    np.testing.assert_allclose(
        adjust_pvalues(np.array([0.01, 0.04, 0.03, 0.2]), "holm"), [0.04, 0.09, 0.09, 0.2]
    )
    assert (adjust_pvalues(p, "bh") >= p).all()
    with pytest.raises(CommonalityError, match="unknown multiple-testing correction"):
        adjust_pvalues(p, "bonferroni-ish")


def test_holm_is_more_conservative_but_still_finds_a_strong_fault():
    _, _, chambers = _fab()
    bad = chambers["S00"][1]
    hist, y, _ = _fab(
        faults=[{"step": "S00", "chamber": bad, "start": START + pd.Timedelta(days=3), "drop": 3.0}]
    )
    bh = YieldCommonality(correction="bh").analyze(hist, y)
    holm = YieldCommonality(correction="holm").analyze(hist, y)
    assert holm.causes[0].chamber_id == bad == bh.causes[0].chamber_id
    assert holm.causes[0].p_adjusted >= bh.causes[0].p_adjusted


def test_excursions_group_out_of_limit_lots_in_time():
    ts = START + pd.to_timedelta(np.arange(100), unit="h")
    v = np.full(100, 90.0) + np.random.default_rng(0).normal(0, 0.5, 100)
    v[40:45] -= 5.0
    v[80:83] -= 6.0
    lots = pd.DataFrame({"lot_id": [f"L{i}" for i in range(100)], "ts": ts, "yield_pct": v})
    exc = detect_excursions(lots)
    assert [e.lots for e in exc] == [
        tuple(f"L{i}" for i in range(40, 45)),
        tuple(f"L{i}" for i in range(80, 83)),
    ]
    assert all(e.worst_value < e.control_limit < e.center_line for e in exc)


def test_bad_input_is_named():
    hist, y, _ = _fab(days=3)
    with pytest.raises(CommonalityError, match="no route history"):
        YieldCommonality().analyze(hist.iloc[0:0], y)
    with pytest.raises(CommonalityError, match="no route history for any lot"):
        YieldCommonality().analyze(hist, y.assign(lot_id="X" + y["lot_id"]))
    with pytest.raises(CommonalityError, match=r"lacks columns \['chamber_id'\]"):
        YieldCommonality().analyze(hist.drop(columns="chamber_id"), y)
    with pytest.raises(CommonalityError, match="yields table is empty"):
        YieldCommonality().analyze(hist, y.iloc[0:0])
    with pytest.raises(CommonalityError, match="direction"):
        YieldCommonality().analyze(hist, y, direction="up")


def test_store_backed_analysis_and_cli_on_the_small_demo_fab(demo_store, small_fab):
    """The service function reads the store's frames; the CLI prints the same report as JSON."""
    import json

    import typer
    from typer.testing import CliRunner

    from fabmind.cli.yield_cmds import register
    from fabmind.models.commonality import analyze_store

    report = analyze_store(demo_store)
    injected = {f.chamber_id for f in small_fab.faults}
    assert report.unit == "substrate" and report.n_lots > 5
    assert report.causes and report.causes[0].chamber_id in injected
    assert all(c.p_adjusted < 0.01 for c in report.causes)

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps typer's sub-command parsing
    url = demo_store.engine.url.render_as_string(hide_password=False)
    out = CliRunner().invoke(app, ["analyze-yield", "--db", url, "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)
    assert payload["causes"][0]["chamber_id"] == report.causes[0].chamber_id
    table = CliRunner().invoke(app, ["analyze-yield", "--db", url, "--top", "3"])
    assert table.exit_code == 0 and "ranked causes" in table.output


def test_causes_for_ranks_by_lots_explained_then_by_time():
    from datetime import datetime, timedelta

    from fabmind.models.commonality_types import Cause, CommonalityReport, Excursion

    t = datetime(2026, 3, 10, tzinfo=UTC)

    def cause(rank, chamber, lots, onset_days):
        return Cause(
            rank=rank,
            kind=CauseKind.STEP_CHAMBER,
            metric="yield_pct",
            step_id="S1",
            chamber_id=chamber,
            equipment_id=chamber.split("/")[0],
            recipe_id=None,
            work_order_id=None,
            effect_size=-2.0,
            effect_sigma=-1.0,
            p_value=1e-9,
            p_adjusted=1e-8,
            z_score=6.0,
            n_affected_lots=len(lots),
            n_affected_units=len(lots),
            n_peer_units=100,
            onset=t + timedelta(days=onset_days),
            end=t + timedelta(days=onset_days + 2),
            tree_importance=0.5,
            affected_lots=tuple(lots),
        )

    causes = (
        cause(1, "ETCH-01/A", ["L1"], 0),
        cause(2, "ETCH-02/A", ["L2", "L3"], 0),
        cause(3, "ETCH-03/A", ["L9"], -3),
        cause(4, "ETCH-04/A", ["L8"], -30),
    )
    exc = Excursion(
        excursion_id="E1",
        metric="yield_pct",
        direction="low",
        start=t + timedelta(days=1),
        end=t + timedelta(days=2),
        lots=("L2", "L3", "L1"),
        control_limit=80.0,
        center_line=85.0,
        sigma=1.5,
        mean_value=78.0,
        worst_value=76.0,
    )
    report = CommonalityReport(
        metric="yield_pct",
        unit="substrate",
        window_start=None,
        window_end=None,
        n_lots=10,
        n_units=100,
        n_candidates=10,
        correction="bh",
        excursions=(exc,),
        causes=causes,
        seconds=0.1,
    )
    # most excursion lots explained first, then causes active in the 5 days before; not the old one
    assert [c.chamber_id for c in report.causes_for(exc)] == ["ETCH-02/A", "ETCH-01/A", "ETCH-03/A"]


def test_mann_whitney_z_matches_scipy_with_and_without_ties():
    from scipy import stats

    from fabmind.models.commonality_stats import mwu_z_less

    rng = np.random.default_rng(0)
    for rounded in (False, True):
        x, y = rng.normal(0, 1, 50), rng.normal(0.4, 1, 80)
        if rounded:  # integer-like values: many ties (defect counts)
            x, y = np.round(x), np.round(y)
        expected = stats.mannwhitneyu(x, y, alternative="less", method="asymptotic").pvalue
        assert stats.norm.sf(mwu_z_less(x, y)) == pytest.approx(expected, rel=1e-9)
