"""A scripted OpenAI-compatible chat-completions server on loopback (a real HTTP server thread).

Each POST /v1/chat/completions takes the next step of the script. A step is a dict:
  {"content": "..."}                         final answer
  {"tool_calls": [("name", '{"json": 1}'), ...]}   tool calls (arguments sent verbatim, may be malformed)
  {"sleep": 3.0, ...}                        wait before answering (timeouts)
  {"status": 500, "body": "..."}             HTTP error
  {"raw": "not json"}                        garbage 200 body
  {"refusal": "I can't help"}                OpenAI-style refusal
or a callable(request_json) -> step (to answer from the tool results it was sent).
Streaming requests (``stream: true``) get Server-Sent Events chunks.
When the script runs out, the server answers HTTP 500 'script exhausted'.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class ScriptedLLM:
    def __init__(self, script: list[dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", 0))
                req = json.loads(self.rfile.read(n) or b"{}")
                with outer._lock:
                    outer.requests.append(req)
                    step = outer.script.pop(0) if outer.script else {"status": 500, "body": "script exhausted"}
                if callable(step):
                    step = step(req)
                outer._answer(self, req, step)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ responses
    def _answer(self, h: BaseHTTPRequestHandler, req: dict[str, Any], step: dict[str, Any]) -> None:
        if step.get("sleep"):
            time.sleep(step["sleep"])
        try:
            if "status" in step:
                body = json.dumps({"error": {"message": step.get("body", "error"), "type": "server_error"}})
                return self._send(h, step["status"], body.encode(), "application/json")
            if "raw" in step:
                return self._send(h, 200, step["raw"].encode(), "application/json")
            message: dict[str, Any] = {"role": "assistant", "content": step.get("content")}
            finish = "stop"
            if step.get("refusal"):
                message = {"role": "assistant", "content": None, "refusal": step["refusal"]}
            if step.get("tool_calls"):
                message["tool_calls"] = [
                    {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
                    for i, (n, a) in enumerate(step["tool_calls"])
                ]
                finish = "tool_calls"
            if req.get("stream"):
                return self._stream(h, message, finish)
            body = {"id": "cmpl-1", "object": "chat.completion", "created": int(time.time()), "model": req.get("model"),
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}
            self._send(h, 200, json.dumps(body).encode(), "application/json")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    @staticmethod
    def _stream(h: BaseHTTPRequestHandler, message: dict[str, Any], finish: str) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()

        def chunk(delta: dict[str, Any], fin: str | None = None) -> None:
            c = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "m",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": fin}]}
            h.wfile.write(f"data: {json.dumps(c)}\n\n".encode())
            h.wfile.flush()

        chunk({"role": "assistant"})
        text = message.get("content") or ""
        for i in range(0, len(text), 8):
            chunk({"content": text[i:i + 8]})
        for i, tc in enumerate(message.get("tool_calls") or []):
            args = tc["function"]["arguments"]
            chunk({"tool_calls": [{"index": i, "id": tc["id"], "type": "function",
                                   "function": {"name": tc["function"]["name"], "arguments": args[:5]}}]})
            chunk({"tool_calls": [{"index": i, "function": {"arguments": args[5:]}}]})
        chunk({}, finish)
        h.wfile.write(b"data: [DONE]\n\n")
        h.wfile.flush()


@pytest.fixture()
def scripted_llm():
    servers: list[ScriptedLLM] = []

    def make(script: list[Any]) -> ScriptedLLM:
        s = ScriptedLLM(script)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()



# --------------------------------------------------------------------------- a small fab with its documents


@pytest.fixture(scope="session")
def fab_store(small_fab, tmp_path_factory):
    """The small demo fab (faults injected) in its own SQLite store, with its documents in the knowledge base.

    Separate from ``demo_store`` because the agents write (knowledge tables, proposals, conversations)."""
    from fabmind.knowledge import KnowledgeBase
    from fabmind.store import Store

    path = tmp_path_factory.mktemp("agents") / "fab.db"
    store = Store(f"sqlite:///{path}")
    store.write_batch(small_fab.batch)
    kb = KnowledgeBase(store.engine)
    kb.add(small_fab.batch.documents)
    yield store, kb
    store.close()
