"""The failure-mode graph: built from FMEA + manuals, ranked by agreement with observed deviations."""

from __future__ import annotations

import pytest

from fabmind.knowledge import FailureModeGraph
from fabmind.knowledge.graph import parse_symptoms


@pytest.fixture()
def graph(kb, docs_dir):
    kb.add(docs_dir, type_id="DRYETCH-X")
    kb.add(docs_dir / "fmea_dryetch.csv", type_id="")  # no-op: same content, same type → skipped
    return kb.failure_modes()


def test_graph_structure_from_fmea(graph):
    assert graph.equipment_types() == ["DRYETCH-X", "PECVD-X"]
    vac = graph.failure_modes("DRYETCH-X", subsystem="vacuum")
    assert {m.failure_mode for m in vac} == {"throttle valve sticking", "dry pump degradation", "chamber vacuum leak"}
    leak = graph.get("chamber vacuum leak")
    assert leak.checks == ("rate-of-rise test", "helium leak check") and leak.rpn == 8 * 3 * 3
    assert leak.citation.row == 5 and leak.citation.doc_id == "fmea_dryetch.csv"
    assert ("DRYETCH-X/chamber vacuum leak", "raises", "E-VAC-220") in graph.edges()
    assert [m.failure_mode for m in graph.by_alarm("e-chk-401")] == ["electrostatic chuck temperature non-uniformity"]


def test_manual_sections_are_linked(graph):
    hit = graph.rank("DRYETCH-X", {"RF_REFL_W": 3, "MATCH_C1_POS_PCT": -3})[0]
    assert hit.failure_mode.failure_mode == "RF match network degradation"
    assert any(c.section.endswith("Alarm codes") for c in hit.manual_sections)


@pytest.mark.parametrize("deviations, expected", [
    ({"RF_REFL_W": 4.0, "MATCH_C1_POS_PCT": -2.5, "RF_VDC_V": -1.0}, "RF match network degradation"),
    ({"THROTTLE_POS_PCT": 3.0, "CHAMBER_PRESS_MTORR": 2.5}, "throttle valve sticking"),
    ({"THROTTLE_POS_PCT": 1.5, "CHAMBER_PRESS_MTORR": 2.0, "OES_N2_INT": 5.0}, "chamber vacuum leak"),
    ({"PUMP_CURRENT_A": 4.0, "PUMP_TEMP_C": 3.0, "THROTTLE_POS_PCT": 1.0}, "dry pump degradation"),
    ({"HE_BACKSIDE_FLOW_SCCM": 1, "HE_BACKSIDE_PRESS_TORR": -1}, "electrostatic chuck temperature non-uniformity"),
])
def test_rank_puts_the_consistent_mode_first(graph, deviations, expected):
    hits = graph.rank("DRYETCH-X", deviations)
    assert hits[0].failure_mode.failure_mode == expected
    assert hits[0].score > hits[1].score
    assert all(m.equipment_type == "DRYETCH-X" for m in (h.failure_mode for h in hits))


def test_direction_matters_and_evidence_is_reported(graph):
    # same sensors as the O2 MFC drift but both in the wrong direction
    hits = graph.rank("DRYETCH-X", {"O2_FLOW_SCCM": -3, "OES_ENDPOINT_INT": 3})
    o2 = next(h for h in hits if h.failure_mode.failure_mode == "O2 mass flow controller drift")
    assert o2.score == 0 and set(o2.contradicted) == {"O2_FLOW_SCCM", "OES_ENDPOINT_INT"}
    hit = graph.rank("DRYETCH-X", {"THROTTLE_POS_PCT": 2, "CHAMBER_PRESS_MTORR": 2, "ESC_CURRENT_UA": 1})[0]
    assert set(hit.matched) == {"THROTTLE_POS_PCT", "CHAMBER_PRESS_MTORR"} and hit.unexplained == ("ESC_CURRENT_UA",)


def test_alarm_codes_break_ties(graph):
    # throttle up alone fits throttle sticking, pump and leak; the alarm says which
    hits = graph.rank("DRYETCH-X", {"THROTTLE_POS_PCT": 2.0}, alarm_codes=["E-VAC-221"])
    assert hits[0].failure_mode.failure_mode == "chamber vacuum leak" and hits[0].matched_alarms == ("E-VAC-221",)


def test_unknown_equipment_type_names_the_known_ones(graph):
    with pytest.raises(KeyError, match="PECVD-X"):
        graph.rank("SPUTTER-Z", {"X": 1})


def test_symptom_parsing_errors_name_the_token():
    assert parse_symptoms("A:up; B:down") == parse_symptoms(" A : up ;B:down ")
    with pytest.raises(ValueError, match="'A:sideways'"):
        parse_symptoms("A:sideways")
    with pytest.raises(ValueError, match="bad mode"):
        FailureModeGraph.from_rows([{"equipment_type": "X", "failure_mode": "bad mode", "symptoms": "A"}])
