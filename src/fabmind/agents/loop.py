"""The tool-calling loop: ask the model, run the tools it calls, feed results back, stop at a
final answer (or the step limit), check its claims and send it back once for correction.

The model's mistakes (bad JSON, unknown tool, wrong argument types) go back to it as tool
results with an error; endpoint failures raise :class:`~fabmind.agents.llm.LLMError`, which the
agents turn into a fallback to the built-in analyst. Every call is logged (:class:`CallLog`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fabmind.agents.claims import ClaimReport, check_claims, correction_prompt
from fabmind.agents.llm import Completion, LLMClient, LLMError, LLMRefusal, is_refusal
from fabmind.agents.tools import Evidence, Toolbox, ToolDeps, ToolResult

FINAL_NUDGE = ("Step limit reached: do not call more tools. Write your final answer now from the tool results "
               "you have, citing them as [R<n>].")


@dataclass
class LoopResult:
    answer: str
    evidence: Evidence
    claims: ClaimReport
    steps: int
    corrected: bool
    messages: list[dict[str, Any]]
    call_ids: list[str] = field(default_factory=list)

    @property
    def proposals(self) -> list[Any]:
        return [r.value for r in self.evidence.results if r.is_action and r.ok]


class CallLog:
    """Writes one ``llm_calls`` row per chat-completion call (kept in memory without an engine)."""

    def __init__(self, engine: Any = None) -> None:
        self.engine = engine
        self.memory: list[dict[str, Any]] = []
        if engine is not None:
            from fabmind.agents.tables import ensure_agent_tables

            ensure_agent_tables(engine)

    def record(self, *, agent: str, step: int, client: LLMClient, conversation_id: str | None,
               started: datetime, messages: list[dict[str, Any]], completion: Completion | None,
               tool_results: list[ToolResult], error: str | None, latency_ms: float) -> str:
        call_id = uuid.uuid4().hex
        row = {
            "call_id": call_id, "conversation_id": conversation_id, "agent": agent, "step": step,
            "model": client.model, "base_url": client.base_url, "started": started,
            "latency_ms": float(latency_ms),
            "prompt_tokens": completion.prompt_tokens if completion else None,
            "completion_tokens": completion.completion_tokens if completion else None,
            "messages": json.loads(json.dumps(messages, default=str)),
            "response": completion.as_message() if completion else None,
            "tool_results": [r.payload() | {"tool": r.tool, "arguments": r.arguments} for r in tool_results],
            "error": error,
        }
        row["tool_results"] = json.loads(json.dumps(row["tool_results"], default=str))
        self.memory.append(row)
        if self.engine is not None:
            from fabmind.agents.tables import llm_calls

            with self.engine.begin() as c:
                c.execute(llm_calls.insert().values(**row))
        return call_id


def run_tool_loop(client: LLMClient, toolbox: Toolbox, deps: ToolDeps, messages: list[dict[str, Any]], *,
                  agent: str, evidence: Evidence, log: CallLog | None = None, max_steps: int = 8,
                  on_text: Callable[[str], None] | None = None, correct_claims: bool = True) -> LoopResult:
    """Run the loop on ``messages`` (system + history + the new user message), which it extends."""
    log = log if log is not None else CallLog()
    schemas = toolbox.schemas()
    call_ids: list[str] = []
    corrected = False
    steps = 0
    budget = max_steps + 1  # one extra step for the claim-correction round
    while steps < budget:
        steps += 1
        last = steps >= max_steps + (1 if corrected else 0)
        sent = messages + ([{"role": "user", "content": FINAL_NUDGE}] if last else [])
        started = datetime.now(UTC)
        try:
            comp = client.complete(sent, tools=None if last else schemas, on_text=on_text)
        except LLMError as exc:
            call_ids.append(log.record(agent=agent, step=steps, client=client, conversation_id=deps.conversation_id,
                                       started=started, messages=sent, completion=None, tool_results=[],
                                       error=str(exc), latency_ms=_ms_since(started)))
            raise
        results: list[ToolResult] = []
        if comp.tool_calls and not last:
            messages.append(comp.as_message())
            for tc in comp.tool_calls:
                r = toolbox.call(tc.name, tc.arguments, deps, evidence)
                results.append(r)
                messages.append({"role": "tool", "tool_call_id": tc.id, "content": r.to_message()})
            call_ids.append(_log(log, agent, steps, client, deps, started, sent, comp, results))
            continue
        call_ids.append(_log(log, agent, steps, client, deps, started, sent, comp, results))
        answer = comp.content.strip()
        if comp.tool_calls and not answer:
            raise LLMError(f"the model kept calling tools after the step limit ({max_steps}) and gave no answer")
        if is_refusal(answer) and not evidence.results:
            raise LLMRefusal(f"the model refused: {answer[:200]}")
        report = check_claims(answer, evidence)
        if report.unverified and correct_claims and not corrected:
            corrected = True
            messages.append({"role": "assistant", "content": answer})
            messages.append({"role": "user", "content": correction_prompt(report)})
            continue
        messages.append({"role": "assistant", "content": answer})
        return LoopResult(answer, evidence, report, steps, corrected, messages, call_ids)
    raise LLMError(f"the model did not finish within {max_steps} steps")


def _log(log: CallLog, agent: str, step: int, client: LLMClient, deps: ToolDeps, started: datetime,
         sent: list[dict[str, Any]], comp: Completion, results: list[ToolResult]) -> str:
    return log.record(agent=agent, step=step, client=client, conversation_id=deps.conversation_id,
                      started=started, messages=sent, completion=comp, tool_results=results, error=None,
                      latency_ms=comp.latency_ms)


def _ms_since(t: datetime) -> float:
    return (datetime.now(UTC) - t).total_seconds() * 1000
