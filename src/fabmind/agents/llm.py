"""Client for any OpenAI-compatible chat-completions endpoint with tool calling
(vLLM, Ollama, llama.cpp server, LM Studio, cloud APIs).

Why the ``openai`` package with a small hand-written loop (:mod:`fabmind.agents.loop`) and
not pydantic-ai: ``openai`` is already a dependency and speaks exactly the wire format all
these servers implement; the loop we need is ~150 lines, and owning it lets us do what a
framework would hide or make awkward: our own retry/backoff and deadline per call (local
servers are slow and flaky in different ways than clouds), feeding malformed tool calls back
to the model with our own messages, turning action tools into proposals, logging every call
into our store's ``llm_calls`` table, the claim checker's one correction round, and the fall
back to the built-in analyst on any endpoint failure. pydantic-ai's good ideas (tools as typed
functions with a ``deps`` dataclass, schema from type hints + docstring, errors that say who
must act, a scripted model for offline tests) are taken over in :mod:`fabmind.agents.tools`
and the tests' scripted server, without the extra dependency tree.

    >>> from fabmind.config import Settings
    >>> LLMClient.from_settings(Settings(llm_base_url="")) is None   # no LLM: built-in analyst
    True
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_REFUSAL_RE = re.compile(
    r"^\s*(I'?m sorry|I am sorry|I can(?:no|')t (?:help|assist|do)|I cannot|As an AI|I'?m not able to|"
    r"I am unable|I'?m unable)", re.IGNORECASE)


class LLMError(RuntimeError):
    """The large model could not give an answer; the message says why (the agents fall back)."""


class LLMUnavailable(LLMError):
    """The endpoint is down, unreachable, or keeps failing (5xx, rate limit) after retries."""


class LLMTimeout(LLMError):
    """The endpoint did not answer within the per-call timeout (after retries)."""


class LLMBadResponse(LLMError):
    """The endpoint answered with something that is not a chat completion."""


class LLMRefusal(LLMError):
    """The model refused to answer."""


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model wrote it (may be malformed)


@dataclass
class Completion:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float = 0.0
    refusal: str | None = None

    def as_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            msg["tool_calls"] = [
                {"id": tc.id, "type": "function", "function": {"name": tc.name, "arguments": tc.arguments}}
                for tc in self.tool_calls
            ]
        return msg


class LLMClient:
    """One endpoint + model. :meth:`complete` does one chat completion with retries and a deadline."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout_s: float = 30.0,
                 max_retries: int = 2, backoff_s: float = 0.5, stream: bool = False,
                 temperature: float | None = 0.0) -> None:
        if not base_url:
            raise ValueError("LLMClient needs a base_url (FABMIND_LLM_BASE_URL), e.g. http://127.0.0.1:8000/v1")
        self.base_url = base_url.rstrip("/")
        self.model = model or "default"
        self.timeout_s = float(timeout_s)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.stream = stream
        self.temperature = temperature
        import httpx
        import openai

        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=api_key or "not-needed", max_retries=0,
            timeout=httpx.Timeout(self.timeout_s, connect=min(5.0, self.timeout_s)),
        )

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> LLMClient | None:
        """The configured client, or ``None`` when no endpoint is configured (built-in analyst)."""
        if not settings.llm_base_url:
            return None
        return cls(settings.llm_base_url, settings.llm_model, settings.llm_api_key.get_secret_value(),
                   timeout_s=settings.llm_timeout_s, **kwargs)

    def describe(self) -> str:
        return f"{self.model} at {self.base_url}"

    # ------------------------------------------------------------------ one call
    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None,
                 on_text: Callable[[str], None] | None = None) -> Completion:
        """One chat completion. Streams text deltas to ``on_text`` when given (or when the client
        was built with ``stream=True``). Retries connection errors, timeouts, 429 and 5xx with
        exponential backoff; raises an :class:`LLMError` subclass naming the endpoint otherwise."""
        import openai

        kwargs: dict[str, Any] = {"model": self.model, "messages": messages}
        if tools:
            kwargs["tools"] = tools
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        stream = self.stream or on_text is not None
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            t0 = time.perf_counter()
            try:
                if stream:
                    comp = self._stream(kwargs, on_text, t0)
                else:
                    resp = self._client.chat.completions.create(**kwargs)
                    comp = self._parse(resp)
                comp.latency_ms = (time.perf_counter() - t0) * 1000
                return comp
            except (openai.APITimeoutError, LLMTimeout) as exc:
                last = LLMTimeout(f"LLM endpoint {self.base_url} did not answer within {self.timeout_s:g} s")
                last.__cause__ = exc
            except openai.APIConnectionError as exc:
                last = LLMUnavailable(f"LLM endpoint {self.base_url} is unreachable: {exc.__cause__ or exc}")
            except (openai.RateLimitError, openai.InternalServerError) as exc:
                last = LLMUnavailable(f"LLM endpoint {self.base_url} failed: HTTP {exc.status_code}: "
                                      f"{_short(exc.message)}")
            except openai.APIStatusError as exc:  # 4xx: not worth retrying
                raise LLMBadResponse(f"LLM endpoint {self.base_url} rejected the request: HTTP {exc.status_code}: "
                                     f"{_short(exc.message)} (model {self.model!r})") from None
            except LLMError:
                raise
            except Exception as exc:  # noqa: BLE001  # garbage body, wrong JSON shape ...
                raise LLMBadResponse(f"LLM endpoint {self.base_url} returned something that is not a chat "
                                     f"completion ({type(exc).__name__}: {_short(str(exc))})") from None
        assert last is not None
        raise last

    # ------------------------------------------------------------------ parsing
    def _parse(self, resp: Any) -> Completion:
        choices = getattr(resp, "choices", None)
        if not choices:
            raise LLMBadResponse(f"LLM endpoint {self.base_url} returned no choices: {_short(str(resp))}")
        ch = choices[0]
        msg = ch.message
        calls = [ToolCall(tc.id or f"call_{i}", tc.function.name or "", tc.function.arguments or "")
                 for i, tc in enumerate(msg.tool_calls or [])]
        usage = getattr(resp, "usage", None)
        return self._checked(Completion(
            content=msg.content or "", tool_calls=calls, finish_reason=ch.finish_reason,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            refusal=getattr(msg, "refusal", None),
        ))

    def _stream(self, kwargs: dict[str, Any], on_text: Callable[[str], None] | None, t0: float) -> Completion:
        content: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        finish, usage, refusal = None, None, None
        n_chunks = 0
        stream = self._client.chat.completions.create(stream=True, **kwargs)
        try:
            for chunk in stream:
                n_chunks += 1
                if time.perf_counter() - t0 > self.timeout_s:
                    raise LLMTimeout(f"LLM endpoint {self.base_url} streamed for more than {self.timeout_s:g} s")
                usage = getattr(chunk, "usage", None) or usage
                if not chunk.choices:
                    continue
                ch = chunk.choices[0]
                finish = ch.finish_reason or finish
                d = ch.delta
                if d is None:
                    continue
                if getattr(d, "refusal", None):
                    refusal = (refusal or "") + d.refusal
                if d.content:
                    content.append(d.content)
                    if on_text is not None:
                        on_text(d.content)
                for tc in d.tool_calls or []:
                    slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                    if tc.id:
                        slot["id"] = tc.id
                    if tc.function is not None:
                        slot["name"] += tc.function.name or ""
                        slot["arguments"] += tc.function.arguments or ""
        finally:
            stream.close()
        if n_chunks == 0:
            raise LLMBadResponse(f"LLM endpoint {self.base_url} sent an empty stream")
        return self._checked(Completion(
            content="".join(content),
            tool_calls=[ToolCall(c["id"] or f"call_{i}", c["name"], c["arguments"]) for i, c in sorted(calls.items())],
            finish_reason=finish, prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None), refusal=refusal,
        ))

    def _checked(self, comp: Completion) -> Completion:
        if comp.refusal or comp.finish_reason == "content_filter":
            raise LLMRefusal(f"the model at {self.base_url} refused: {_short(comp.refusal or comp.content or 'content filter')}")
        if not comp.tool_calls and not comp.content.strip():
            raise LLMBadResponse(f"LLM endpoint {self.base_url} returned an empty answer "
                                 f"(finish_reason={comp.finish_reason})")
        return comp


def is_refusal(text: str) -> bool:
    """A final answer that is a refusal rather than an answer."""
    return bool(_REFUSAL_RE.match(text or ""))


def _short(s: Any, n: int = 200) -> str:
    s = str(s)
    try:
        s = json.dumps(json.loads(s))
    except (ValueError, TypeError):
        pass
    return s if len(s) <= n else s[:n] + "..."
