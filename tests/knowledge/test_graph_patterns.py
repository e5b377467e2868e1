"""The failure-mode graph takes a defect-map pattern as evidence, alone or next to sensor deviations."""

from __future__ import annotations

import csv
import io

import pytest

from fabmind.knowledge import FailureModeGraph
from fabmind.knowledge.graph import normalize_pattern

ROWS = [
    {"equipment_type": "CVD-X", "subsystem": "thermal", "failure_mode": "heater edge zone drift",
     "symptoms": "HEATER_POWER:up; EDGE_TEMP:down", "defect_pattern": "edge_ring", "occurrence": "3"},
    {"equipment_type": "CVD-X", "subsystem": "gas", "failure_mode": "edge gas ring clogged",
     "symptoms": "HEATER_POWER:up; EDGE_FLOW:down", "defect_pattern": "Edge ring; edge-loc", "occurrence": "2"},
    {"equipment_type": "CVD-X", "subsystem": "gas", "failure_mode": "showerhead clog",
     "symptoms": "GAS_PRESS:up", "defect_pattern": "center", "occurrence": "5"},
    {"equipment_type": "CVD-X", "subsystem": "vacuum", "failure_mode": "pump wear",
     "symptoms": "PUMP_CURRENT:up", "defect_pattern": "", "occurrence": "9"},
]


@pytest.fixture()
def graph():
    return FailureModeGraph.from_rows(ROWS)


def test_patterns_are_read_from_the_fmea_and_normalised(graph):
    assert graph.get("edge gas ring clogged").defect_patterns == ("edge_ring", "edge_loc")
    assert graph.get("pump wear").defect_patterns == ()
    assert [m.failure_mode for m in graph.by_pattern("Edge Ring")] == ["heater edge zone drift", "edge gas ring clogged"]
    assert ("CVD-X/showerhead clog", "leaves_pattern", "center") in graph.edges()
    assert normalize_pattern(" edge - ring ") == "edge_ring"


def test_pattern_alone_ranks_the_modes_that_leave_it(graph):
    hits = graph.rank("CVD-X", {}, defect_pattern={"center": 0.8})
    assert hits[0].failure_mode.failure_mode == "showerhead clog"
    assert hits[0].score == pytest.approx(0.8) and hits[0].matched_pattern == "center"
    assert all(h.score == 0 and h.matched_pattern is None for h in hits[1:])
    # a bare name counts as certain; 'none' / 'mixed' / 'unknown' carry no pattern evidence
    assert graph.rank("CVD-X", {}, defect_pattern="center")[0].score == pytest.approx(1.0)
    assert all(h.score == 0 for h in graph.rank("CVD-X", {}, defect_pattern="none"))


def test_pattern_breaks_the_tie_between_modes_with_the_same_sensors(graph):
    devs = {"HEATER_POWER": 3.0}
    plain = graph.rank("CVD-X", devs)
    a, b = plain[0], plain[1]
    assert {a.failure_mode.failure_mode, b.failure_mode.failure_mode} == {"heater edge zone drift",
                                                                         "edge gas ring clogged"}
    assert a.score == pytest.approx(b.score)
    with_loc = graph.rank("CVD-X", devs, defect_pattern={"edge_loc": 0.9})
    assert with_loc[0].failure_mode.failure_mode == "edge gas ring clogged"
    assert with_loc[0].matched_pattern == "edge_loc"
    # sensors 0.7, pattern 0.3: the weighted mean of the two scores
    assert with_loc[0].score == pytest.approx(0.7 * a.score + 0.3 * 0.9, abs=1e-5)
    assert with_loc[1].score == pytest.approx(0.7 * a.score, abs=1e-5)  # leaves edge_ring, not edge_loc


def test_pattern_does_not_outvote_clear_sensor_evidence(graph):
    hits = graph.rank("CVD-X", {"GAS_PRESS": 4.0}, defect_pattern={"edge_ring": 0.6})
    assert hits[0].failure_mode.failure_mode == "showerhead clog"  # its sensors agree fully
    ring = next(h for h in hits if h.failure_mode.failure_mode == "heater edge zone drift")
    assert ring.matched_pattern == "edge_ring" and 0 < ring.score < hits[0].score


def test_without_pattern_the_scores_are_unchanged(graph):
    devs, alarms = {"GAS_PRESS": 2.0, "HEATER_POWER": 1.0}, ["E-X-1"]
    before = [(h.failure_mode.failure_mode, h.score) for h in graph.rank("CVD-X", devs, alarm_codes=alarms)]
    after = [(h.failure_mode.failure_mode, h.score) for h in graph.rank("CVD-X", devs, alarm_codes=alarms,
                                                                        defect_pattern=None)]
    assert before == after
    rows = [{k: v for k, v in r.items() if k != "defect_pattern"} for r in ROWS]
    no_patterns = FailureModeGraph.from_rows(rows)
    assert [h.score for h in no_patterns.rank("CVD-X", devs, defect_pattern="center")] == \
        [h.score for h in no_patterns.rank("CVD-X", devs)]


def test_bad_probability_names_the_pattern(graph):
    with pytest.raises(ValueError, match="'center'.*1.5"):
        graph.rank("CVD-X", {}, defect_pattern={"center": 1.5})


def test_the_simulated_fmea_says_which_pattern_each_failure_mode_leaves(small_fab):
    from fabmind.sim.faults import FAULT_LIBRARY

    (doc,) = [d for d in small_fab.batch.documents if str(d.kind.value if hasattr(d.kind, "value") else d.kind) == "fmea"]
    graph = FailureModeGraph.from_rows(list(csv.DictReader(io.StringIO(doc.content))))
    for ft in FAULT_LIBRARY.values():
        modes = [m for m in graph.modes if m.failure_mode == ft.failure_mode]
        assert modes and all(m.defect_patterns == (ft.defect_pattern,) for m in modes)
    hit = graph.rank("PECVD-X", {}, defect_pattern={"edge_ring": 0.95})[0]
    assert hit.failure_mode.failure_mode == FAULT_LIBRARY["heater_degradation"].failure_mode
