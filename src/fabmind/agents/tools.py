"""The typed tool interface the large model (and the built-in analyst) calls.

A tool is a plain typed function whose first parameter is the shared :class:`ToolDeps`;
its JSON schema comes from the other parameters' type hints and its docstring (first
paragraph = description, ``name: text`` lines under ``Parameters``/``Args`` = argument
descriptions), as in pydantic-ai. Tools are read-only unless registered with
``action=True``: an action called by the model is never executed, it becomes a
:class:`~fabmind.agents.proposals.Proposal` that a person with the right role approves.

    >>> from fabmind.agents.tools import ToolDeps, tool, Toolbox
    >>> @tool
    ... def add(deps: ToolDeps, a: int, b: int = 1) -> int:
    ...     '''Add two integers.'''
    ...     return a + b
    >>> box = Toolbox([add])
    >>> box.schemas()[0]["function"]["parameters"]["required"]
    ['a']
    >>> box.call("add", '{"a": 2}', ToolDeps()).value
    3

Every call yields a :class:`ToolResult` with a result id (``R1``, ``R2`` ...) kept in an
:class:`Evidence` ledger, so the claim checker can tie each statement to a result.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

# --------------------------------------------------------------------------- deps


@dataclass
class ToolDeps:
    """Shared resources the tools use (pydantic-ai's ``deps``). Everything is optional so a
    tool can say what it misses instead of crashing."""

    store: Any = None  # fabmind.store.Store
    settings: Any = None  # fabmind.config.Settings
    knowledge: Any = None  # fabmind.knowledge.KnowledgeBase
    proposals: Any = None  # fabmind.agents.proposals.ProposalBook
    now: datetime | None = None  # "now" of the data (the demo fab's clock), default: latest data
    user: str = "system"
    role: str = "engineer"
    area_id: str | None = None
    conversation_id: str | None = None
    cache: dict[str, Any] = field(default_factory=dict)  # fitted models etc., per session


# --------------------------------------------------------------------------- errors


class ToolCallError(Exception):
    """A tool call the model can fix (bad JSON, unknown tool, wrong argument types, bad value).
    The message goes back to the model, the loop goes on (pydantic-ai's ``ModelRetry``)."""


class ToolUnavailable(ToolCallError):
    """The tool cannot answer with this deployment (a room or data is missing)."""


# --------------------------------------------------------------------------- results


@dataclass
class ToolResult:
    result_id: str
    tool: str
    arguments: dict[str, Any]
    value: Any = None
    error: str | None = None
    is_action: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def payload(self) -> dict[str, Any]:
        """What the model sees (JSON-able)."""
        if self.error is not None:
            return {"result_id": self.result_id, "error": self.error}
        return {"result_id": self.result_id, "result": to_jsonable(self.value)}

    def to_message(self, max_chars: int = 12000) -> str:
        text = json.dumps(self.payload(), default=str)
        if len(text) > max_chars:
            text = text[: max_chars - 40] + f'... [truncated, {len(text)} chars]"}}'
        return text


@dataclass
class Passage:
    """A cited passage from the knowledge base (document, section) usable as evidence."""

    citation: str
    text: str
    result_id: str = ""


class Evidence:
    """The ledger of tool results and passages one answer may rely on."""

    def __init__(self, question: str = "") -> None:
        self.question = question
        self.results: list[ToolResult] = []
        self.passages: list[Passage] = []

    def next_id(self) -> str:
        return f"R{len(self.results) + 1}"

    def add(self, result: ToolResult) -> ToolResult:
        self.results.append(result)
        for p in _passages_in(result):
            self.passages.append(p)
        return result

    def get(self, result_id: str) -> ToolResult:
        for r in self.results:
            if r.result_id == result_id:
                return r
        raise KeyError(f"no tool result {result_id!r} in this answer's evidence")


def _passages_in(result: ToolResult) -> list[Passage]:
    out: list[Passage] = []
    vals = result.value if isinstance(result.value, (list, tuple)) else [result.value]
    for v in vals:
        cit = getattr(v, "citation", None)
        text = getattr(v, "text", None)
        if cit is not None and isinstance(text, str):
            out.append(Passage(citation=str(cit), text=text, result_id=result.result_id))
    return out


def to_jsonable(value: Any) -> Any:
    """Typed results (pydantic models, dataclasses, enums, datetimes, numpy) -> JSON types."""
    if isinstance(value, BaseModel):
        return to_jsonable(value.model_dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return value.item()  # numpy scalar
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float):
        return round(value, 6)
    return value


# --------------------------------------------------------------------------- specs


_PARAM_LINE = re.compile(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    doc = inspect.cleandoc(doc or "")
    parts = re.split(r"\n\s*\n", doc, maxsplit=1)
    description = " ".join(parts[0].split())
    params: dict[str, str] = {}
    if len(parts) > 1:
        in_params = False
        for line in parts[1].splitlines():
            if re.match(r"^\s*(Parameters|Args|Arguments)\s*:?\s*$", line):
                in_params = True
                continue
            if in_params and re.match(r"^\s*-{3,}\s*$", line):
                continue
            m = _PARAM_LINE.match(line) if in_params else None
            if m:
                params[m.group(1)] = m.group(2).strip()
    return description, params


@dataclass
class ToolSpec:
    """A registered tool: the function, its argument model and how it is exposed."""

    name: str
    description: str
    fn: Callable[..., Any]
    args_model: type[BaseModel]
    action: bool = False
    required_role: str = "engineer"
    summary: Callable[[dict[str, Any]], str] | None = None  # one line for a proposal

    def __call__(self, deps: ToolDeps, **kwargs: Any) -> Any:
        return self.fn(deps, **kwargs)

    def schema(self) -> dict[str, Any]:
        params = self.args_model.model_json_schema()
        params.pop("title", None)
        for prop in params.get("properties", {}).values():
            prop.pop("title", None)
        params.setdefault("required", [])
        desc = self.description + (" [ACTION: becomes a proposal that a person must approve]" if self.action else "")
        return {"type": "function", "function": {"name": self.name, "description": desc, "parameters": params}}

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            model = self.args_model.model_validate(arguments)
        except ValidationError as exc:
            errs = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']} (got {e.get('input')!r})"
                for e in exc.errors()
            )
            raise ToolCallError(f"invalid arguments for {self.name}: {errs}") from None
        return {k: getattr(model, k) for k in self.args_model.model_fields}


def tool(fn: Callable[..., Any] | None = None, *, action: bool = False, required_role: str = "engineer",
         name: str | None = None, summary: Callable[[dict[str, Any]], str] | None = None) -> Any:
    """Turn a typed function ``f(deps, ...)`` into a :class:`ToolSpec` (usable as a decorator)."""

    def make(f: Callable[..., Any]) -> ToolSpec:
        hints = get_type_hints(f)
        sig = inspect.signature(f)
        description, param_docs = _parse_docstring(f.__doc__ or "")
        if not description:
            raise TypeError(f"tool {f.__name__} needs a docstring: its first line is what the model reads")
        fields: dict[str, Any] = {}
        for i, (pname, p) in enumerate(sig.parameters.items()):
            if i == 0:
                continue  # deps
            if pname not in hints:
                raise TypeError(f"tool {f.__name__}: parameter {pname!r} has no type hint")
            from pydantic import Field

            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[pname] = (hints[pname], Field(default, description=param_docs.get(pname)))
        model = create_model(  # type: ignore[call-overload]
            f"{f.__name__}_args", __config__=ConfigDict(extra="forbid"), **fields
        )
        return ToolSpec(name=name or f.__name__, description=description, fn=f, args_model=model,
                        action=action, required_role=required_role, summary=summary)

    return make(fn) if fn is not None else make


# --------------------------------------------------------------------------- registry


class Toolbox:
    """The tools one agent may use. Calls validate arguments, turn actions into proposals,
    give every result an id in the :class:`Evidence` ledger and never raise on the model's
    mistakes (those come back as error results)."""

    def __init__(self, tools: list[ToolSpec]) -> None:
        self._tools: dict[str, ToolSpec] = {}
        for t in tools:
            if t.name in self._tools:
                raise ValueError(f"two tools named {t.name!r}")
            self._tools[t.name] = t

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def __getitem__(self, name: str) -> ToolSpec:
        return self._tools[name]

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def subset(self, names: list[str]) -> Toolbox:
        return Toolbox([self._tools[n] for n in names if n in self._tools])

    def schemas(self) -> list[dict[str, Any]]:
        return [t.schema() for t in self._tools.values()]

    def call(self, name: str, arguments: str | dict[str, Any] | None, deps: ToolDeps,
             evidence: Evidence | None = None) -> ToolResult:
        evidence = evidence if evidence is not None else Evidence()
        rid = evidence.next_id()
        args: dict[str, Any] = {}
        try:
            args = self._parse_arguments(name, arguments)
            spec = self._tools.get(name)
            if spec is None:
                raise ToolCallError(f"unknown tool {name!r}; available tools: {', '.join(self._tools)}")
            kwargs = spec.validate(args)
            if spec.action:
                value = self._propose(spec, kwargs, deps)
            else:
                value = spec.fn(deps, **kwargs)
            result = ToolResult(rid, name, args, value=value, is_action=spec.action)
        except ToolCallError as exc:
            result = ToolResult(rid, name, args, error=str(exc))
        except Exception as exc:  # noqa: BLE001  # a bug or missing data in a room: report, do not crash the loop
            result = ToolResult(rid, name, args, error=f"{type(exc).__name__}: {exc}")
        return evidence.add(result)

    @staticmethod
    def _parse_arguments(name: str, arguments: str | dict[str, Any] | None) -> dict[str, Any]:
        if arguments is None or arguments == "":
            return {}
        if isinstance(arguments, dict):
            return arguments
        try:
            parsed = json.loads(arguments)
        except json.JSONDecodeError as exc:
            raise ToolCallError(
                f"arguments of {name} are not valid JSON ({exc.msg} at char {exc.pos}): {arguments[:200]!r}"
            ) from None
        if not isinstance(parsed, dict):
            raise ToolCallError(f"arguments of {name} must be a JSON object, got {type(parsed).__name__}")
        return parsed

    @staticmethod
    def _propose(spec: ToolSpec, kwargs: dict[str, Any], deps: ToolDeps) -> Any:
        from fabmind.agents.proposals import ProposalBook

        book = deps.proposals if deps.proposals is not None else ProposalBook(None)
        deps.proposals = book
        return book.propose(spec, kwargs, deps)
