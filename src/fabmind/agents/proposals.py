"""Actions the large model asks for become proposals; a person with the right role decides.

The model never writes: calling an action tool (``draft_work_order``, ``shelve_alarm``,
``change_recipe_setpoint``) records a pending :class:`Proposal` and returns it to the model.
:meth:`ProposalBook.approve` checks the approver's role (viewer < engineer < admin) and
area, then runs the action's executor (registered per tool) and records the result.

    >>> book = ProposalBook(None)          # in memory; pass a SQLAlchemy engine to persist
    >>> book.pending()
    []
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

ROLE_RANK = {"viewer": 0, "engineer": 1, "admin": 2}


class ProposalError(PermissionError):
    """A decision on a proposal that is not allowed (wrong role or area, already decided, unknown id)."""


class Proposal(BaseModel):
    proposal_id: str
    tool: str
    arguments: dict[str, Any]
    summary: str
    required_role: str
    area_id: str | None = None
    status: str = "pending"  # pending, approved, rejected, executed, failed
    created: datetime
    created_by: str
    conversation_id: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    result: dict[str, Any] | None = None
    message: str = "Proposal recorded; nothing was executed. A person with the required role must approve it."


Executor = Callable[[Any, dict[str, Any]], dict[str, Any]]  # (store, arguments) -> result


class ProposalBook:
    """Pending/decided proposals, in the store's ``proposals`` table (or in memory with ``engine=None``)."""

    def __init__(self, engine: Any = None, store: Any = None,
                 executors: dict[str, Executor] | None = None) -> None:
        self.engine = engine if engine is not None else getattr(store, "engine", None)
        self.store = store
        self.executors: dict[str, Executor] = {**default_executors(), **(executors or {})}
        self._memory: dict[str, Proposal] = {}
        if self.engine is not None:
            from fabmind.agents.tables import ensure_agent_tables

            ensure_agent_tables(self.engine)

    # ---- create -----------------------------------------------------------------------
    def propose(self, spec: Any, arguments: dict[str, Any], deps: Any) -> Proposal:
        summary = spec.summary(arguments) if spec.summary else f"{spec.name}({arguments})"
        area = arguments.get("area_id") or getattr(deps, "area_id", None)
        p = Proposal(
            proposal_id=f"P-{uuid.uuid4().hex[:10]}", tool=spec.name, arguments=_plain(arguments),
            summary=summary, required_role=spec.required_role, area_id=area,
            created=datetime.now(UTC), created_by=getattr(deps, "user", "system"),
            conversation_id=getattr(deps, "conversation_id", None),
        )
        self._save(p, new=True)
        return p

    # ---- read -------------------------------------------------------------------------
    def get(self, proposal_id: str) -> Proposal:
        if self.engine is None:
            if proposal_id not in self._memory:
                raise ProposalError(f"unknown proposal {proposal_id!r}")
            return self._memory[proposal_id]
        from sqlalchemy import select

        from fabmind.agents.tables import proposals

        with self.engine.connect() as c:
            row = c.execute(select(proposals).where(proposals.c.proposal_id == proposal_id)).mappings().first()
        if row is None:
            raise ProposalError(f"unknown proposal {proposal_id!r}")
        return Proposal(**dict(row))

    def list(self, status: str | None = None) -> list[Proposal]:
        if self.engine is None:
            items = list(self._memory.values())
        else:
            from sqlalchemy import select

            from fabmind.agents.tables import proposals

            q = select(proposals).order_by(proposals.c.created)
            with self.engine.connect() as c:
                items = [Proposal(**dict(r)) for r in c.execute(q).mappings()]
        return [p for p in items if status is None or p.status == status]

    def pending(self) -> list[Proposal]:
        return self.list("pending")

    # ---- decide -----------------------------------------------------------------------
    def approve(self, proposal_id: str, user: str, role: str, user_area: str | None = None,
                note: str | None = None) -> Proposal:
        """Approve and execute. Raises :class:`ProposalError` if ``role``/``user_area`` may not."""
        p = self._decidable(proposal_id, user, role, user_area)
        p = p.model_copy(update={"decided_by": user, "decided_at": datetime.now(UTC), "note": note})
        executor = self.executors.get(p.tool)
        if executor is None:
            p = p.model_copy(update={"status": "approved",
                                     "result": {"info": f"no executor registered for {p.tool}; apply by hand"}})
        else:
            try:
                result = executor(self.store, dict(p.arguments))
                p = p.model_copy(update={"status": "executed", "result": _plain(result)})
            except Exception as exc:  # noqa: BLE001  # a failed execution is recorded, not raised
                p = p.model_copy(update={"status": "failed", "result": {"error": f"{type(exc).__name__}: {exc}"}})
        self._save(p)
        return p

    def reject(self, proposal_id: str, user: str, role: str, user_area: str | None = None,
               note: str | None = None) -> Proposal:
        p = self._decidable(proposal_id, user, role, user_area)
        p = p.model_copy(update={"status": "rejected", "decided_by": user,
                                 "decided_at": datetime.now(UTC), "note": note})
        self._save(p)
        return p

    def _decidable(self, proposal_id: str, user: str, role: str, user_area: str | None) -> Proposal:
        p = self.get(proposal_id)
        if p.status != "pending":
            raise ProposalError(f"proposal {proposal_id} is already {p.status}")
        if role not in ROLE_RANK:
            raise ProposalError(f"unknown role {role!r}; roles are {', '.join(ROLE_RANK)}")
        if ROLE_RANK[role] < ROLE_RANK.get(p.required_role, 1):
            raise ProposalError(f"user {user!r} with role {role!r} may not decide {p.tool} proposals "
                                f"(needs {p.required_role})")
        if role != "admin" and p.area_id and user_area and user_area != p.area_id:
            raise ProposalError(f"proposal {proposal_id} is for area {p.area_id}; user {user!r} is in {user_area}")
        return p

    # ---- persistence ------------------------------------------------------------------
    def _save(self, p: Proposal, new: bool = False) -> None:
        if self.engine is None:
            self._memory[p.proposal_id] = p
            return
        from fabmind.agents.tables import proposals

        row = p.model_dump(exclude={"message"})
        with self.engine.begin() as c:
            if new:
                c.execute(proposals.insert().values(**row))
            else:
                c.execute(proposals.update().where(proposals.c.proposal_id == p.proposal_id).values(**row))


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    from fabmind.agents.tools import to_jsonable

    return to_jsonable(d)


# --------------------------------------------------------------------------- executors


def _execute_work_order(store: Any, args: dict[str, Any]) -> dict[str, Any]:
    from fabmind.domain import WorkOrder, tool_of

    if store is None:
        raise RuntimeError("no store to write the work order to")
    chamber = args.get("chamber_id")
    wo = WorkOrder(
        work_order_id=f"WO-AI-{uuid.uuid4().hex[:8]}",
        equipment_id=args.get("equipment_id") or tool_of(chamber),
        chamber_id=chamber,
        kind=args.get("kind", "cm"),
        opened=datetime.now(UTC),
        failure_mode=args.get("failure_mode", ""),
        description=args.get("description", ""),
        action=args.get("action", ""),
    )
    store.upsert([wo])
    return {"work_order_id": wo.work_order_id}


def _execute_shelve(store: Any, args: dict[str, Any]) -> dict[str, Any]:
    if store is None:
        raise RuntimeError("no store holding the alarm")
    store.set_alarm_state(args["alarm_id"], "shelved", message=f"shelved {args.get('hours', 8)} h: {args['reason']}")
    return {"alarm_id": args["alarm_id"], "state": "shelved"}


def default_executors() -> dict[str, Executor]:
    """Executors fabmind ships (work orders, alarm shelving in the store). Recipe changes are executed by the
    room that owns recipes (``ProposalBook(executors={"change_recipe_setpoint": fn})``); without an executor,
    approval records the decision only."""
    return {"draft_work_order": _execute_work_order, "shelve_alarm": _execute_shelve}
