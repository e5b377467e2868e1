"""Approvals: actions the LLM proposed (work orders, setpoint changes, alarm shelving) wait here until a
person with the right role, in the right area, approves them; only then are they executed. Audited."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from fabmind.api.auth import User
from fabmind.api.deps import DirectoryDep, Engineer, StoreDep, Viewer

router = APIRouter(prefix="/api/approvals", tags=["approvals"])


def _book(store):
    from fabmind.agents import ProposalBook

    return ProposalBook(store=store)


def proposal_area(store, proposal) -> str | None:
    """The area a proposal acts in: its own, else the area of the chamber/tool it names."""
    if proposal.area_id:
        return proposal.area_id
    args = proposal.arguments or {}
    target = args.get("chamber_id") or args.get("equipment_id")
    if not target:
        return None
    frame = store.chambers_frame()
    tool = str(target).split("/")[0]
    hit = frame.loc[frame["equipment_id"] == tool, "area_id"]
    return None if hit.empty else str(hit.iloc[0])


@router.get("")
def list_proposals(user: Viewer, store: StoreDep, status: str | None = None) -> list[dict]:
    out = []
    for p in _book(store).list(status):
        out.append({**p.model_dump(mode="json"), "area": proposal_area(store, p)})
    return sorted(out, key=lambda p: p["created"], reverse=True)


class DecisionIn(BaseModel):
    note: str = Field("", max_length=2000)


def _decide(proposal_id: str, decision: str, user: User, store, directory, note: str) -> dict:
    from fabmind.agents import ProposalError

    book = _book(store)
    try:
        p = book.get(proposal_id)
    except (KeyError, ProposalError) as exc:
        raise HTTPException(404, f"no proposal {proposal_id!r}") from exc
    area = proposal_area(store, p)
    if not user.in_area(area):
        raise HTTPException(403, f"proposal {proposal_id} acts in area {area}; {user.username} acts in {','.join(user.areas)}")
    try:
        fn = book.approve if decision == "approve" else book.reject
        decided = fn(proposal_id, user.username, user.role, user_area=area, note=note or None)
    except ProposalError as exc:
        raise HTTPException(403 if "role" in str(exc) or "area" in str(exc) else 409, str(exc)) from exc
    directory.audit(user, f"proposal.{decision}", target=p.tool, proposal_id=proposal_id,
                    detail={"arguments": p.arguments, "status": decided.status, "result": decided.result})
    return decided.model_dump(mode="json")


@router.post("/{proposal_id}/approve")
def approve(proposal_id: str, user: Engineer, store: StoreDep, directory: DirectoryDep, body: DecisionIn | None = None) -> dict:
    """Approve and execute a proposal (engineers of its area, or admins)."""
    return _decide(proposal_id, "approve", user, store, directory, (body or DecisionIn()).note)


@router.post("/{proposal_id}/reject")
def reject(proposal_id: str, user: Engineer, store: StoreDep, directory: DirectoryDep, body: DecisionIn | None = None) -> dict:
    return _decide(proposal_id, "reject", user, store, directory, (body or DecisionIn()).note)
