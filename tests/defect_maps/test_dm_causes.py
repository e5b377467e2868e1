"""Pattern -> cause on the small demo fab: the substrates of each pattern point at the faulty chamber."""

from __future__ import annotations

from fabmind.models.defect_map_causes import (
    PatternReport,
    candidate_failure_modes,
    pattern_evidence,
    pattern_failure_modes,
)
from fabmind.sim.defect_maps import PATTERNS
from fabmind.sim.faults import FAULT_LIBRARY


def test_mapping_pattern_to_failure_modes_comes_from_the_fault_library():
    modes = pattern_failure_modes()
    assert set(modes) == {f.defect_pattern for f in FAULT_LIBRARY.values()}
    assert set(modes) <= set(PATTERNS)
    photo_ring = candidate_failure_modes("edge_ring", "photo")
    assert [m.fault_type for m in photo_ring] == ["hotplate_zone_failure"]
    assert {m.fault_type for m in candidate_failure_modes("edge_ring")} == {
        "heater_degradation", "chuck_temp_nonuniformity", "hotplate_zone_failure"}
    assert candidate_failure_modes("none") == ()


def test_evidence_names_the_faulty_chamber_for_each_pattern(patterned_store, small_fab, pattern_classifier):
    report = pattern_evidence(patterned_store, classifier=pattern_classifier)
    assert isinstance(report, PatternReport) and report.n_maps > 200
    assert sum(report.counts.values()) == report.n_maps
    for fault in small_fab.faults:
        pattern = FAULT_LIBRARY[fault.fault_type].defect_pattern
        items = [e for e in report.evidence if e.pattern == pattern]
        assert items, f"no evidence for {pattern}"
        top = items[0]
        assert top.chamber_id == fault.chamber_id, (pattern, [e.label() for e in items])
        assert top.p_value < 1e-3 and top.share > top.peer_share and top.consistent
        assert fault.fault_type in {m.fault_type for m in top.failure_modes}
        assert top.n_substrates == len(top.substrate_ids) >= 3 and top.lots
        assert top.first_seen <= top.last_seen
    assert [e.rank for e in report.evidence] == list(range(1, len(report.evidence) + 1))
    assert report.for_chamber(report.evidence[0].chamber_id)[0] is report.evidence[0]
    assert "shared" in report.evidence[0].label()


def test_an_empty_store_gives_an_empty_report(store, pattern_classifier):
    report = pattern_evidence(store, classifier=pattern_classifier)
    assert report.n_maps == 0 and report.evidence == ()
