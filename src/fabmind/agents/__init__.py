"""The large model's room: LLM client and tool loop, typed tools over models/store/knowledge, the fault
assistant, the yield analysis agent, the built-in analyst (no LLM), proposals and the claim checker.

    >>> from fabmind.agents import FaultAssistant, YieldAgent        # doctest: +SKIP
    >>> FaultAssistant(store, settings).ask("ETCH-03/B alarm: what is wrong?")   # doctest: +SKIP

Imports are lazy so ``import fabmind.agents`` stays cheap.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "FaultAssistant": "fabmind.agents.assistant",
    "diagnose_alarm": "fabmind.agents.assistant",
    "YieldAgent": "fabmind.agents.yield_agent",
    "LLMClient": "fabmind.agents.llm",
    "LLMError": "fabmind.agents.llm",
    "ProposalBook": "fabmind.agents.proposals",
    "Proposal": "fabmind.agents.proposals",
    "ProposalError": "fabmind.agents.proposals",
    "Conversations": "fabmind.agents.conversations",
    "check_claims": "fabmind.agents.claims",
    "fab_toolbox": "fabmind.agents.fabtools",
    "Answer": "fabmind.agents.report",
    "Report": "fabmind.agents.report",
    "ToolDeps": "fabmind.agents.tools",
    "Toolbox": "fabmind.agents.tools",
    "tool": "fabmind.agents.tools",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'fabmind.agents' has no attribute {name!r}")


__all__ = list(_EXPORTS)
