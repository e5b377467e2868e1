"""Fault assistant on the small demo fab: built-in analyst, LLM mode over the real tools (scripted server),
actions as proposals, conversations per user, and the fallback when the endpoint misbehaves."""

from __future__ import annotations

import json
import time

import pytest

from fabmind.agents.assistant import FaultAssistant
from fabmind.agents.llm import LLMClient
from fabmind.agents.tables import llm_calls


def _truth(small_fab, fault_type: str):
    from fabmind.sim.faults import FAULT_LIBRARY

    f = next(f for f in small_fab.faults if f.fault_type == fault_type)
    return f.chamber_id, FAULT_LIBRARY[fault_type].failure_mode


def _payloads(req: dict) -> list[dict]:
    return [json.loads(m["content"]) for m in req["messages"] if m.get("role") == "tool"]


@pytest.mark.parametrize("fault_type", ["chamber_leak", "o2_mfc_drift"])
def test_builtin_analyst_locates_the_injected_fault(fab_store, small_fab, fault_type):
    store, kb = fab_store
    chamber, mode = _truth(small_fab, fault_type)
    ans = FaultAssistant(store, knowledge=kb).ask(f"What is wrong with {chamber.split('/')[0]}?", user="alice")
    assert ans.mode == "builtin" and "no LLM configured" in ans.mode_label
    assert (ans.top.chamber_id, ans.top.failure_mode) == (chamber, mode)
    assert ans.claims.n_claims > 10 and not ans.claims.unverified
    assert "**Repair**" in ans.text and f"[{ans.top.evidence[-1]}]" in ans.text
    assert ans.figures and ans.figures[0].evidence


def _llm_script(chamber: str):
    """A model that plans health -> failure modes -> final answer citing the results it got."""

    def step2(req):
        health = _payloads(req)[-1]
        assert "error" not in health, health
        h = health["result"]
        devs = {s["sensor"]: s["direction"] for s in h["top_sensors"][:3]}
        return {"tool_calls": [("failure_modes_for", json.dumps({"equipment_type": h["type_id"], "deviations": devs}))]}

    def final(req):
        p = _payloads(req)
        h, fm = p[0], p[1]
        top = fm["result"][0]
        s0 = h["result"]["top_sensors"][0]
        return {"content": (f"**Diagnosis:** {h['result']['chamber_id']} is out of control, MSPC score "
                            f"{h['result']['score']} [{h['result_id']}], driven by {s0['sensor']} "
                            f"({s0['deviation_sigma']} σ) [{h['result_id']}]. Most likely {top['failure_mode']} "
                            f"(confidence {top['confidence']}) [{fm['result_id']}].")}

    return [{"tool_calls": [("get_chamber_health", json.dumps({"chamber_id": chamber}))]}, step2, final]


def test_llm_mode_over_real_tools(fab_store, small_fab, scripted_llm):
    store, kb = fab_store
    chamber, mode = _truth(small_fab, "chamber_leak")
    server = scripted_llm(_llm_script(chamber))
    client = LLMClient(server.base_url, "scripted-model", timeout_s=10, max_retries=0)
    assistant = FaultAssistant(store, knowledge=kb, client=client)
    ans = assistant.ask(f"{chamber} alarm: what is wrong?", user="alice")
    assert ans.mode == "llm" and ans.model == f"scripted-model at {server.base_url}"
    assert not ans.claims.unverified and ans.claims.n_claims >= 4
    assert (ans.top.chamber_id, ans.top.failure_mode) == (chamber, mode)
    # the tool schemas went to the model, and every call is in the store's log with its conversation
    assert {t["function"]["name"] for t in server.requests[0]["tools"]} >= {"get_chamber_health", "draft_work_order"}
    with store.engine.connect() as c:
        rows = c.execute(llm_calls.select().where(llm_calls.c.conversation_id == ans.conversation_id)).mappings().all()
    assert len(rows) == 3 and rows[-1]["response"]["content"].startswith("**Diagnosis:**")


def test_llm_invented_number_is_flagged_in_the_answer(fab_store, small_fab, scripted_llm):
    store, kb = fab_store
    chamber, _ = _truth(small_fab, "chamber_leak")
    invented = f"{chamber} is leaking at 4.7 mTorr/min [R1]."
    server = scripted_llm([{"tool_calls": [("get_chamber_health", json.dumps({"chamber_id": chamber}))]},
                           {"content": invented}, {"content": invented}])
    client = LLMClient(server.base_url, "m", timeout_s=10, max_retries=0)
    ans = FaultAssistant(store, knowledge=kb, client=client).ask("what is wrong?", user="alice")
    assert ans.claims.unverified_texts == ["4.7"] and "4.7 [unverified]" in ans.text
    assert "4.7" in server.requests[2]["messages"][-1]["content"]  # sent back once for correction


def test_llm_action_becomes_proposal_nothing_written(fab_store, scripted_llm):
    store, kb = fab_store
    n_wo = len(store.work_orders())
    args = {"chamber_id": "CVD-01/A", "failure_mode": "chamber vacuum leak", "action": "replace the lid O-ring"}
    server = scripted_llm([
        {"tool_calls": [("draft_work_order", json.dumps(args))]},
        lambda req: {"content": f"Drafted proposal {_payloads(req)[0]['result']['proposal_id']} for CVD-01/A "
                                f"[{_payloads(req)[0]['result_id']}]; it waits for approval."},
    ])
    assistant = FaultAssistant(store, knowledge=kb, client=LLMClient(server.base_url, "m", max_retries=0))
    ans = assistant.ask("open a work order for CVD-01/A", user="bob", area_id="CVD")
    [p] = ans.proposals
    assert p.status == "pending" and p.created_by == "bob" and p.tool == "draft_work_order"
    assert len(store.work_orders()) == n_wo
    assert assistant.proposals.get(p.proposal_id).status == "pending"


def test_conversation_kept_per_user(fab_store, small_fab):
    store, kb = fab_store
    chamber, _ = _truth(small_fab, "o2_mfc_drift")
    a = FaultAssistant(store, knowledge=kb)
    first = a.ask(f"What is wrong with {chamber}?", user="carol")
    second = a.ask(f"And {chamber} over the last 36 h?", user="carol", conversation_id=first.conversation_id)
    hist = a.conversations.history(first.conversation_id)
    assert [m["role"] for m in hist] == ["user", "assistant", "user", "assistant"]
    assert hist[1]["mode"] == "builtin" and hist[1]["meta"]["claims"]["n_claims"] > 0
    assert not second.claims.unverified
    assert a.conversations.for_user("carol")[0]["conversation_id"] == first.conversation_id
    from fabmind.agents.conversations import ConversationError

    with pytest.raises(ConversationError):
        a.ask("hi", user="mallory", conversation_id=first.conversation_id)


@pytest.mark.parametrize("script,reason", [
    (None, "LLMUnavailable"),  # endpoint down
    ([{"sleep": 2.0, "content": "late"}], "LLMTimeout"),  # slow
    ([{"raw": "{\"not\": \"a completion\""}], "LLMBadResponse"),  # garbage
    ([{"refusal": "I can't help with equipment."}], "LLMRefusal"),
    ([{"content": "I'm sorry, but I cannot help with that."}], "LLMRefusal"),
])
def test_bad_endpoint_falls_back_to_builtin(fab_store, small_fab, scripted_llm, script, reason):
    store, kb = fab_store
    chamber, mode = _truth(small_fab, "chamber_leak")
    url = "http://127.0.0.1:9/v1" if script is None else scripted_llm(script).base_url
    client = LLMClient(url, "m", timeout_s=0.5, max_retries=0)
    t0 = time.perf_counter()
    ans = FaultAssistant(store, knowledge=kb, client=client).ask(f"What is wrong with {chamber}?", user="dan")
    assert time.perf_counter() - t0 < 10
    assert ans.mode == f"builtin (fallback: {reason})"
    assert "no LLM answer" in ans.mode_label and ans.warnings and "built-in analyst answered" in ans.warnings[0]
    assert (ans.top.chamber_id, ans.top.failure_mode) == (chamber, mode)
