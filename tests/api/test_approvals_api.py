"""An LLM's action is a proposal: nothing is written until a person with the right role, in the right
area, approves it; then it is executed and audited."""

import pytest


@pytest.fixture()
def proposal(demo_store):
    from fabmind.agents import ProposalBook, ToolDeps, fab_toolbox

    book = ProposalBook(store=demo_store)
    deps = ToolDeps(store=demo_store, proposals=book, user="llm-session", role="engineer")
    result = fab_toolbox().call("draft_work_order", {"chamber_id": "CVD-01/A", "failure_mode": "chamber_leak",
                                                     "action": "helium leak check of the lid O-ring"}, deps)
    assert result.error is None, result.error
    return result.value


def _cm_orders(store):
    return store.work_orders(chamber_id="CVD-01/A", kind="cm")


def test_proposal_waits_and_is_not_executed(client, auth, demo_store, proposal):
    before = len(_cm_orders(demo_store))
    listed = client.get("/api/approvals?status=pending", headers=auth("viewer")).json()
    mine = next(p for p in listed if p["proposal_id"] == proposal.proposal_id)
    assert mine["status"] == "pending" and mine["area"] == "CVD"
    assert len(_cm_orders(demo_store)) == before  # nothing written by proposing


def test_viewer_and_other_area_engineer_cannot_approve(client, auth, demo_store, proposal):
    before = len(_cm_orders(demo_store))
    r = client.post(f"/api/approvals/{proposal.proposal_id}/approve", headers=auth("viewer"))
    assert r.status_code == 403
    r = client.post(f"/api/approvals/{proposal.proposal_id}/approve", headers=auth("engineer_photo"))
    assert r.status_code == 403 and "CVD" in r.json()["detail"]
    assert len(_cm_orders(demo_store)) == before


def test_approval_executes_and_is_audited(client, auth, demo_store, proposal):
    before = len(_cm_orders(demo_store))
    r = client.post(f"/api/approvals/{proposal.proposal_id}/approve", json={"note": "agreed"}, headers=auth("engineer"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "executed" and r.json()["decided_by"] == "engineer"
    assert len(_cm_orders(demo_store)) == before + 1
    audit = client.get("/api/audit", headers=auth("admin")).json()
    assert any(e["proposal_id"] == proposal.proposal_id and e["action"] == "proposal.approve" for e in audit)
    again = client.post(f"/api/approvals/{proposal.proposal_id}/approve", headers=auth("engineer"))
    assert again.status_code in (403, 409)


def test_reject(client, auth, demo_store, proposal):
    r = client.post(f"/api/approvals/{proposal.proposal_id}/reject", json={"note": "not now"}, headers=auth("admin"))
    assert r.status_code == 200 and r.json()["status"] == "rejected"


def test_unknown_proposal(client, auth):
    assert client.post("/api/approvals/P-nope/approve", headers=auth("engineer")).status_code == 404
