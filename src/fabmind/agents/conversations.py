"""Multi-turn conversations, kept per user (``conversations`` / ``conversation_messages`` tables).

    >>> book = Conversations(None)     # in memory; pass the store's engine to persist
    >>> cid = book.start("alice", "fault_assistant", "ETCH-03/B alarm")
    >>> book.append(cid, "user", "what is wrong with ETCH-03/B?")
    >>> [m["role"] for m in book.history(cid)]
    ['user']
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


class ConversationError(PermissionError):
    pass


class Conversations:
    def __init__(self, engine: Any = None) -> None:
        self.engine = engine
        self._mem: dict[str, dict[str, Any]] = {}
        self._msgs: dict[str, list[dict[str, Any]]] = {}
        if engine is not None:
            from fabmind.agents.tables import ensure_agent_tables

            ensure_agent_tables(engine)

    def start(self, user_id: str, agent: str, title: str = "") -> str:
        cid = f"C-{uuid.uuid4().hex[:12]}"
        now = datetime.now(UTC)
        row = {"conversation_id": cid, "user_id": user_id, "agent": agent, "title": title[:500],
               "created": now, "updated": now}
        if self.engine is None:
            self._mem[cid] = row
            self._msgs[cid] = []
        else:
            from fabmind.agents.tables import conversations

            with self.engine.begin() as c:
                c.execute(conversations.insert().values(**row))
        return cid

    def owner(self, conversation_id: str) -> str:
        return self._row(conversation_id)["user_id"]

    def check_owner(self, conversation_id: str, user_id: str) -> None:
        if self.owner(conversation_id) != user_id:
            raise ConversationError(f"conversation {conversation_id} belongs to another user")

    def append(self, conversation_id: str, role: str, content: str, mode: str = "",
               meta: dict[str, Any] | None = None) -> None:
        now = datetime.now(UTC)
        if self.engine is None:
            self._row(conversation_id)
            msgs = self._msgs[conversation_id]
            msgs.append({"conversation_id": conversation_id, "seq": len(msgs) + 1, "role": role, "content": content,
                         "mode": mode, "meta": meta, "created": now})
            self._mem[conversation_id]["updated"] = now
            return
        from sqlalchemy import func, select

        from fabmind.agents.tables import conversation_messages as m
        from fabmind.agents.tables import conversations

        with self.engine.begin() as c:
            seq = c.execute(select(func.coalesce(func.max(m.c.seq), 0)).where(
                m.c.conversation_id == conversation_id)).scalar() + 1
            c.execute(m.insert().values(conversation_id=conversation_id, seq=seq, role=role, content=content,
                                        mode=mode, meta=meta, created=now))
            c.execute(conversations.update().where(conversations.c.conversation_id == conversation_id)
                      .values(updated=now))

    def history(self, conversation_id: str) -> list[dict[str, Any]]:
        if self.engine is None:
            self._row(conversation_id)
            return list(self._msgs[conversation_id])
        from sqlalchemy import select

        from fabmind.agents.tables import conversation_messages as m

        with self.engine.connect() as c:
            rows = c.execute(select(m).where(m.c.conversation_id == conversation_id).order_by(m.c.seq)).mappings()
            return [dict(r) for r in rows]

    def for_user(self, user_id: str) -> list[dict[str, Any]]:
        if self.engine is None:
            return sorted((r for r in self._mem.values() if r["user_id"] == user_id), key=lambda r: r["updated"],
                          reverse=True)
        from sqlalchemy import select

        from fabmind.agents.tables import conversations

        with self.engine.connect() as c:
            q = select(conversations).where(conversations.c.user_id == user_id).order_by(
                conversations.c.updated.desc())
            return [dict(r) for r in c.execute(q).mappings()]

    def _row(self, conversation_id: str) -> dict[str, Any]:
        if self.engine is None:
            if conversation_id not in self._mem:
                raise ConversationError(f"unknown conversation {conversation_id!r}")
            return self._mem[conversation_id]
        from sqlalchemy import select

        from fabmind.agents.tables import conversations

        with self.engine.connect() as c:
            row = c.execute(select(conversations).where(
                conversations.c.conversation_id == conversation_id)).mappings().first()
        if row is None:
            raise ConversationError(f"unknown conversation {conversation_id!r}")
        return dict(row)
