"""Actions become proposals; only a person with the right role (and area) can approve, then it executes."""

from __future__ import annotations

from datetime import UTC

import pytest

from fabmind.agents.fabtools import fab_toolbox
from fabmind.agents.proposals import ProposalBook, ProposalError
from fabmind.agents.tools import Evidence, ToolDeps

ARGS = {"chamber_id": "CVD-01/A", "failure_mode": "chamber vacuum leak", "action": "replace lid O-ring"}


def test_action_call_records_a_pending_proposal_and_writes_nothing(store):
    book = ProposalBook(store=store)
    before = len(store.work_orders())
    r = fab_toolbox().call("draft_work_order", ARGS, ToolDeps(store=store, proposals=book, user="bob",
                                                             area_id="CVD"), Evidence())
    assert r.ok and r.is_action and r.value.status == "pending" and r.value.area_id == "CVD"
    assert "nothing was executed" in r.value.message
    assert len(store.work_orders()) == before
    assert [p.proposal_id for p in ProposalBook(store=store).pending()] == [r.value.proposal_id]  # persisted


def test_roles_and_areas(store):
    book = ProposalBook(store=store)
    deps = ToolDeps(store=store, proposals=book, user="bob", area_id="CVD")
    box = fab_toolbox()
    wo = box.call("draft_work_order", ARGS, deps).value
    recipe = box.call("change_recipe_setpoint", {"recipe_id": "R1", "parameter": "RF_W", "value": 800.0,
                                                 "reason": "yield"}, deps).value
    with pytest.raises(ProposalError, match="role 'viewer'"):
        book.approve(wo.proposal_id, "vic", "viewer")
    with pytest.raises(ProposalError, match="area CVD"):
        book.approve(wo.proposal_id, "eve", "engineer", user_area="ETCH")
    with pytest.raises(ProposalError, match="needs admin"):
        book.approve(recipe.proposal_id, "eve", "engineer", user_area="CVD")
    assert len(store.work_orders()) == 0
    done = book.approve(wo.proposal_id, "carl", "engineer", user_area="CVD")
    assert done.status == "executed" and done.decided_by == "carl"
    [row] = store.work_orders().to_dict("records")
    assert row["work_order_id"] == done.result["work_order_id"] and row["chamber_id"] == "CVD-01/A"
    with pytest.raises(ProposalError, match="already executed"):
        book.reject(wo.proposal_id, "carl", "admin")
    rejected = book.reject(recipe.proposal_id, "ann", "admin", note="not now")
    assert rejected.status == "rejected" and book.pending() == []


def test_shelve_alarm_executes_only_after_approval(store):
    from datetime import datetime

    from fabmind.domain import Alarm

    store.upsert([Alarm(alarm_id="A-1", chamber_id="ETCH-01/A", ts=datetime(2026, 1, 7, tzinfo=UTC),
                        source="mspc")])
    book = ProposalBook(store=store)
    p = fab_toolbox().call("shelve_alarm", {"alarm_id": "A-1", "reason": "known drift", "hours": 4},
                           ToolDeps(store=store, proposals=book)).value
    assert store.alarm_records()[0].state == "raised"
    assert book.approve(p.proposal_id, "eve", "engineer").status == "executed"
    assert store.alarm_records()[0].state == "shelved"


def test_diagnose_alarm_for_the_monitor(fab_store, small_fab):
    from fabmind.agents import diagnose_alarm
    from fabmind.domain import Alarm

    store, kb = fab_store
    f = next(f for f in small_fab.faults if f.fault_type == "chamber_leak")
    alarm = Alarm(alarm_id="A-LEAK", chamber_id=f.chamber_id, ts=max(r.end for r in small_fab.batch.runs),
                  source="mspc")
    text = diagnose_alarm(store, alarm, knowledge=kb)
    assert text.startswith(f"**{f.chamber_id}**") and "chamber vacuum leak" in text
