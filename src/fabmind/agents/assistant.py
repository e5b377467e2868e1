"""The equipment fault assistant: answers an engineer's question or an alarm with cited evidence.

With an LLM configured (``FABMIND_LLM_BASE_URL``) the model plans the tool calls; without one,
or when the endpoint is down, slow, returns garbage or refuses, the built-in analyst runs its
fixed plan over the same tools. Either way the answer's claims are checked, and the answer says
which mode produced it.

    >>> from fabmind.agents.assistant import FaultAssistant
    >>> assistant = FaultAssistant(store)                          # doctest: +SKIP
    >>> answer = assistant.ask("ETCH-03/B T² alarm - what is wrong?", user="alice")   # doctest: +SKIP
    >>> answer.top.failure_mode, answer.mode_label, answer.claims.summary()         # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fabmind.agents.analyst_fault import run_fault_plan
from fabmind.agents.claims import check_claims
from fabmind.agents.conversations import Conversations
from fabmind.agents.fabtools import fab_toolbox
from fabmind.agents.figures import figures_from_evidence
from fabmind.agents.llm import LLMClient, LLMError
from fabmind.agents.loop import CallLog, run_tool_loop
from fabmind.agents.prompts import FAULT_ASSISTANT
from fabmind.agents.proposals import ProposalBook
from fabmind.agents.report import MODE_BUILTIN, MODE_LLM, Answer, Diagnosis
from fabmind.agents.results import ChamberHealth, ChamberRanking, FailureModeCandidate
from fabmind.agents.tools import Evidence, Toolbox, ToolDeps

_AUTO = object()


class AgentBase:
    """What both agents share: store, LLM client (or none), tools, proposals, call log, tool cache."""

    agent = "agent"

    def __init__(self, store: Any = None, settings: Any = None, *, client: Any = _AUTO, knowledge: Any = None,
                 toolbox: Toolbox | None = None, proposals: ProposalBook | None = None,
                 conversations: Conversations | None = None, now: datetime | None = None,
                 max_steps: int | None = None) -> None:
        if settings is None:
            from fabmind.config import Settings

            settings = Settings(llm_base_url="")
        self.store = store
        self.settings = settings
        self.client: LLMClient | None = LLMClient.from_settings(settings) if client is _AUTO else client
        self.knowledge = knowledge
        self.toolbox = toolbox or fab_toolbox()
        engine = getattr(store, "engine", None)
        self.proposals = proposals or ProposalBook(engine, store=store)
        self.conversations = conversations or Conversations(engine)
        self.log = CallLog(engine)
        self.now = now
        self.max_steps = max_steps or settings.llm_max_steps
        self.cache: dict[str, Any] = {}

    def deps(self, user: str = "system", role: str = "engineer", area_id: str | None = None,
             conversation_id: str | None = None) -> ToolDeps:
        deps = ToolDeps(store=self.store, settings=self.settings, knowledge=self.knowledge, proposals=self.proposals,
                        now=self.now, user=user, role=role, area_id=area_id, conversation_id=conversation_id,
                        cache=self.cache)
        return deps

    def data_now(self, deps: ToolDeps) -> str:
        try:
            from fabmind.agents.fabtools.fdc import data_now

            return f"{data_now(deps):%Y-%m-%d %H:%M} UTC"
        except Exception:  # noqa: BLE001  # no store / no runs: the model will find out from the tools
            return "unknown"


class FaultAssistant(AgentBase):
    agent = "fault_assistant"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ledgers: dict[str, Evidence] = {}

    def ask(self, question: str, *, user: str = "engineer", role: str = "engineer", area_id: str | None = None,
            conversation_id: str | None = None, hours: float = 12.0,
            on_text: Callable[[str], None] | None = None) -> Answer:
        """Answer one question (a new conversation, or a follow-up in ``conversation_id`` of this user)."""
        t0 = time.perf_counter()
        if conversation_id is None:
            conversation_id = self.conversations.start(user, self.agent, question[:120])
        else:
            self.conversations.check_owner(conversation_id, user)
        history = self.conversations.history(conversation_id)
        deps = self.deps(user, role, area_id, conversation_id)
        evidence = self._ledger(conversation_id, question)
        warnings: list[str] = []
        answer: Answer | None = None
        if self.client is not None:
            try:
                answer = self._ask_llm(question, history, deps, evidence, on_text)
            except LLMError as exc:
                warnings.append(f"LLM unavailable, built-in analyst answered instead: {exc}")
                evidence = self._ledger(conversation_id, question, fresh=True)
                answer = self._ask_builtin(question, deps, evidence, hours,
                                           mode=f"{MODE_BUILTIN} (fallback: {type(exc).__name__})")
        if answer is None:
            answer = self._ask_builtin(question, deps, evidence, hours, mode=MODE_BUILTIN)
        answer.conversation_id = conversation_id
        answer.warnings = warnings + answer.warnings
        answer.figures = figures_from_evidence(evidence)
        answer.seconds = time.perf_counter() - t0
        self.conversations.append(conversation_id, "user", question)
        self.conversations.append(conversation_id, "assistant", answer.text, answer.mode, meta={
            "claims": answer.claims.to_dict(), "model": answer.model, "warnings": answer.warnings,
            "diagnoses": [d.__dict__ for d in answer.diagnoses[:5]],
            "proposals": [p.proposal_id for p in answer.proposals]})
        return answer

    # ------------------------------------------------------------------ modes
    def _ask_llm(self, question: str, history: list[dict[str, Any]], deps: ToolDeps, evidence: Evidence,
                 on_text: Callable[[str], None] | None) -> Answer:
        assert self.client is not None
        messages = [{"role": "system", "content": FAULT_ASSISTANT.format(now=self.data_now(deps))}]
        messages += [{"role": m["role"], "content": m["content"]} for m in history[-12:]]
        messages.append({"role": "user", "content": question})
        res = run_tool_loop(self.client, self.toolbox, deps, messages, agent=self.agent, evidence=evidence,
                            log=self.log, max_steps=self.max_steps, on_text=on_text)
        text = res.claims.annotate(res.answer) if res.claims.unverified else res.answer
        return Answer(question, text, MODE_LLM, self.client.describe(), diagnoses_from_evidence(evidence),
                      evidence, res.claims, proposals=res.proposals)

    def _ask_builtin(self, question: str, deps: ToolDeps, evidence: Evidence, hours: float, mode: str) -> Answer:
        text, diagnoses = run_fault_plan(question, self.toolbox, deps, evidence, hours)
        claims = check_claims(text, evidence)
        if claims.unverified:
            text = claims.annotate(text)
        return Answer(question, text, mode, "built-in analyst", diagnoses, evidence, claims)

    def _ledger(self, conversation_id: str, question: str, fresh: bool = False) -> Evidence:
        ev = self._ledgers.get(conversation_id)
        if ev is None or fresh:
            ev = Evidence(question)
            self._ledgers[conversation_id] = ev
        else:  # follow-up: earlier results stay citable, the new question joins the context
            ev.question += "\n" + question
        return ev


def diagnose_alarm(store: Any, alarm: Any, settings: Any = None, knowledge: Any = None) -> str:
    """The fault assistant's answer (Markdown) for a new alarm, as of the alarm's time (for the monitor:
    the diagnosis is waiting when the engineer opens the alarm). Uses the LLM only if ``settings`` has one."""
    assistant = FaultAssistant(store, settings, knowledge=knowledge, now=alarm.ts)
    question = f"{alarm.chamber_id} alarm {alarm.alarm_id} ({alarm.source}) at {alarm.ts:%Y-%m-%d %H:%M}: what is wrong?"
    return assistant.ask(question, user="monitor").text


def diagnoses_from_evidence(evidence: Evidence) -> list[Diagnosis]:
    """Ranked (chamber, failure mode) pairs from the health and failure-mode results an LLM gathered."""
    healths: dict[str, tuple[ChamberHealth, str]] = {}
    out: list[Diagnosis] = []
    for r in evidence.results:
        if not r.ok:
            continue
        if isinstance(r.value, ChamberHealth):
            healths[r.value.type_id] = (r.value, r.result_id)
        elif isinstance(r.value, ChamberRanking) and r.value.chambers:
            h = r.value.chambers[0]
            healths.setdefault(h.type_id, (h, r.result_id))
        elif r.tool == "failure_modes_for" and isinstance(r.value, list):
            for m in r.value[:3]:
                if not isinstance(m, FailureModeCandidate):
                    continue
                h, rid = healths.get(m.equipment_type, (None, ""))
                out.append(Diagnosis(rank=len(out) + 1, chamber_id=h.chamber_id if h else "",
                                     equipment_id=h.equipment_id if h else "", subsystem=m.subsystem,
                                     failure_mode=m.failure_mode, confidence=m.confidence,
                                     evidence=tuple(x for x in (rid, r.result_id) if x), actions=m.actions,
                                     checks=m.checks))
    return out
