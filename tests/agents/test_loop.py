"""The tool-calling loop against a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest

from fabmind.agents.llm import LLMBadResponse, LLMClient, LLMRefusal, LLMTimeout, LLMUnavailable
from fabmind.agents.loop import CallLog, run_tool_loop
from fabmind.agents.proposals import ProposalBook
from fabmind.agents.tools import Evidence, Toolbox, ToolDeps, tool


@dataclass
class Health:
    chamber_id: str
    t2: float
    top_sensor: str


@tool
def get_health(deps: ToolDeps, chamber_id: str, hours: int = 24) -> Health:
    """Health of one chamber.

    Parameters:
        chamber_id: chamber like ETCH-03/B
        hours: look-back window
    """
    return Health(chamber_id, 41.27, "RF_REFL_W")


@tool
def trend(deps: ToolDeps, chamber_id: str, sensor: str) -> dict[str, float]:
    """Trend slope of one sensor."""
    return {"slope_per_day": 0.83, "last": 118.4}


WRITES: list[str] = []


@tool(action=True, summary=lambda a: f"work order for {a['chamber_id']}")
def draft_work_order(deps: ToolDeps, chamber_id: str, description: str) -> str:
    """Draft a corrective work order."""
    WRITES.append(chamber_id)  # must never run from the loop
    return "written"


BOX = Toolbox([get_health, trend, draft_work_order])


def _msgs(q: str) -> list[dict]:
    return [{"role": "system", "content": "You are a fab assistant."}, {"role": "user", "content": q}]


def _tool_payloads(req: dict) -> list[dict]:
    return [json.loads(m["content"]) for m in req["messages"] if m.get("role") == "tool"]


def _client(server, **kw) -> LLMClient:
    kw.setdefault("timeout_s", 5.0)
    kw.setdefault("max_retries", 0)
    return LLMClient(server.base_url, "scripted", **kw)


def test_schema_from_type_hints_and_docstring():
    s = get_health.schema()["function"]
    assert s["description"] == "Health of one chamber."
    assert s["parameters"]["required"] == ["chamber_id"]
    assert s["parameters"]["properties"]["hours"]["type"] == "integer"
    assert s["parameters"]["properties"]["chamber_id"]["description"] == "chamber like ETCH-03/B"
    assert "ACTION" in draft_work_order.schema()["function"]["description"]


def test_multi_step_plan_cites_results(scripted_llm):
    def final(req):
        payloads = _tool_payloads(req)
        h, t = payloads[0], payloads[1]
        return {"content": f"ETCH-03/B: T2 {h['result']['t2']:.1f} [{h['result_id']}], driven by "
                           f"{h['result']['top_sensor']}, rising {t['result']['slope_per_day']} per day [{t['result_id']}]."}

    server = scripted_llm([
        {"tool_calls": [("get_health", '{"chamber_id": "ETCH-03/B"}')]},
        {"tool_calls": [("trend", '{"chamber_id": "ETCH-03/B", "sensor": "RF_REFL_W"}')]},
        final,
    ])
    log = CallLog()
    ev = Evidence("what is wrong with ETCH-03/B?")
    res = run_tool_loop(_client(server), BOX, ToolDeps(), _msgs(ev.question), agent="test", evidence=ev, log=log)
    assert res.steps == 3
    assert [r.tool for r in res.evidence.results] == ["get_health", "trend"]
    assert res.answer.startswith("ETCH-03/B: T2 41.3 [R1]")
    assert res.claims.n_claims >= 4 and not res.claims.unverified
    assert len(log.memory) == 3 and log.memory[0]["prompt_tokens"] == 11
    assert log.memory[0]["tool_results"][0]["result_id"] == "R1"
    # the second request carried the first tool result back to the model
    assert _tool_payloads(server.requests[1])[0]["result"]["t2"] == pytest.approx(41.27)


def test_malformed_tool_calls_go_back_to_the_model(scripted_llm):
    server = scripted_llm([
        {"tool_calls": [("get_health", '{"chamber_id": "ETCH-03/B"'),  # bad JSON
                        ("no_such_tool", "{}"),
                        ("get_health", '{"chamber_id": "ETCH-03/B", "hours": "many"}'),  # wrong type
                        ("get_health", '{"chamber": "ETCH-03/B"}')]},  # wrong name
        {"tool_calls": [("get_health", '{"chamber_id": "ETCH-03/B"}')]},
        {"content": "T2 is 41.27 [R5]."},
    ])
    ev = Evidence("q")
    res = run_tool_loop(_client(server), BOX, ToolDeps(), _msgs("q"), agent="test", evidence=ev)
    errors = [p.get("error", "") for p in _tool_payloads(server.requests[1])]
    assert "not valid JSON" in errors[0]
    assert "unknown tool 'no_such_tool'" in errors[1]
    assert "hours" in errors[2] and "integer" in errors[2]
    assert "chamber_id" in errors[3] and "Field required" in errors[3]
    assert res.evidence.results[-1].ok and res.answer == "T2 is 41.27 [R5]."
    assert not res.claims.unverified


def test_invented_number_is_sent_back_once_then_flagged(scripted_llm):
    server = scripted_llm([
        {"tool_calls": [("get_health", '{"chamber_id": "ETCH-03/B"}')]},
        {"content": "T2 is 41.3 [R1]; chamber pressure is 87.5 mTorr."},  # 87.5 is invented
        {"content": "T2 is 41.3 [R1]; chamber pressure is 87.5 mTorr."},  # the model insists
    ])
    res = run_tool_loop(_client(server), BOX, ToolDeps(), _msgs("q"), agent="test", evidence=Evidence("q"))
    assert res.corrected
    assert "87.5" in server.requests[2]["messages"][-1]["content"]  # the correction prompt named it
    assert res.claims.unverified_texts == ["87.5"]
    assert "87.5 [unverified]" in res.claims.annotate(res.answer)


def test_correction_round_fixes_the_answer(scripted_llm):
    server = scripted_llm([
        {"tool_calls": [("get_health", '{"chamber_id": "ETCH-03/B"}')]},
        {"content": "T2 is 52.0 on ETCH-07/A."},
        {"content": "T2 is 41.3 on ETCH-03/B [R1]."},
    ])
    res = run_tool_loop(_client(server), BOX, ToolDeps(), _msgs("q"), agent="test", evidence=Evidence("q"))
    assert res.corrected and not res.claims.unverified and res.claims.n_verified == 2


def test_action_tool_becomes_a_proposal_and_writes_nothing(scripted_llm):
    WRITES.clear()
    server = scripted_llm([
        {"tool_calls": [("draft_work_order", '{"chamber_id": "ETCH-03/B", "description": "replace RF match"}')]},
        lambda req: {"content": f"Proposed {_tool_payloads(req)[0]['result']['proposal_id']} for ETCH-03/B [R1]."},
    ])
    book = ProposalBook(None)
    deps = ToolDeps(proposals=book, user="alice")
    res = run_tool_loop(_client(server), BOX, deps, _msgs("fix it"), agent="test", evidence=Evidence("fix it"))
    assert WRITES == []
    [p] = book.pending()
    assert p.tool == "draft_work_order" and p.status == "pending" and p.created_by == "alice"
    assert p.summary == "work order for ETCH-03/B"
    assert res.proposals[0].proposal_id == p.proposal_id


def test_streaming_final_answer(scripted_llm):
    server = scripted_llm([
        {"tool_calls": [("get_health", '{"chamber_id": "ETCH-03/B"}')]},
        {"content": "T2 is 41.27 [R1], top sensor RF_REFL_W."},
    ])
    pieces: list[str] = []
    res = run_tool_loop(_client(server), BOX, ToolDeps(), _msgs("q"), agent="test", evidence=Evidence("q"),
                        on_text=pieces.append)
    assert len(pieces) > 2 and "".join(pieces) == res.answer
    assert server.requests[0]["stream"] is True
    assert res.evidence.results[0].ok  # tool-call arguments reassembled from deltas


def test_step_limit_forces_final_answer(scripted_llm):
    server = scripted_llm([{"tool_calls": [("get_health", '{"chamber_id": "ETCH-03/B"}')]}] * 3
                          + [{"content": "T2 is 41.27 [R1]."}])
    res = run_tool_loop(_client(server), BOX, ToolDeps(), _msgs("q"), agent="test", evidence=Evidence("q"),
                        max_steps=4)
    assert res.steps == 4 and "tools" not in server.requests[3]  # last call offered no tools


def test_timeout_is_bounded(scripted_llm):
    server = scripted_llm([{"sleep": 3.0, "content": "late"}, {"sleep": 3.0, "content": "late"}])
    client = _client(server, timeout_s=0.5, max_retries=1, backoff_s=0.05)
    t0 = time.perf_counter()
    with pytest.raises(LLMTimeout, match="did not answer within 0.5 s"):
        client.complete(_msgs("q"))
    assert time.perf_counter() - t0 < 2.5


def test_endpoint_down():
    client = LLMClient("http://127.0.0.1:9/v1", "m", timeout_s=1.0, max_retries=1, backoff_s=0.01)
    with pytest.raises(LLMUnavailable, match="unreachable"):
        client.complete(_msgs("q"))


def test_server_error_retried_then_succeeds(scripted_llm):
    server = scripted_llm([{"status": 503, "body": "loading model"}, {"content": "fine"}])
    comp = _client(server, max_retries=2, backoff_s=0.01).complete(_msgs("q"))
    assert comp.content == "fine" and len(server.requests) == 2


def test_garbage_and_refusal(scripted_llm):
    server = scripted_llm([{"raw": "<html>proxy error</html>"}, {"refusal": "I cannot help with that."},
                           {"content": "I'm sorry, I can't help with that."}])
    client = _client(server)
    with pytest.raises(LLMBadResponse, match="not a chat completion"):
        client.complete(_msgs("q"))
    with pytest.raises(LLMRefusal, match="refused"):
        client.complete(_msgs("q"))
    with pytest.raises(LLMRefusal):
        run_tool_loop(client, BOX, ToolDeps(), _msgs("q"), agent="t", evidence=Evidence("q"))


def test_calls_logged_in_store(scripted_llm, tmp_path):
    from sqlalchemy import create_engine, select

    from fabmind.agents.tables import llm_calls

    engine = create_engine(f"sqlite:///{tmp_path / 'log.db'}")
    server = scripted_llm([{"tool_calls": [("get_health", '{"chamber_id": "ETCH-03/B"}')]},
                           {"content": "T2 41.27 [R1]"}])
    run_tool_loop(_client(server), BOX, ToolDeps(conversation_id="c1"), _msgs("q"), agent="test",
                  evidence=Evidence("q"), log=CallLog(engine))
    with engine.connect() as c:
        rows = c.execute(select(llm_calls).order_by(llm_calls.c.step)).mappings().all()
    assert [r["step"] for r in rows] == [1, 2]
    assert rows[0]["response"]["tool_calls"][0]["function"]["name"] == "get_health"
    assert rows[0]["tool_results"][0]["result"]["t2"] == pytest.approx(41.27)
    assert rows[1]["conversation_id"] == "c1" and rows[1]["latency_ms"] > 0
