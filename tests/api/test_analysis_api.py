import io

import pytest


@pytest.fixture(scope="module")
def knowledge(demo_store, small_fab, app):
    from fabmind.knowledge import KnowledgeBase

    kb = KnowledgeBase(demo_store)
    kb.add(small_fab.batch.documents)
    app.state.knowledge = kb
    return kb


def test_yield_analysis_names_a_faulty_chamber(client, auth, small_fab):
    body = client.get("/api/yield/analysis", headers=auth("viewer")).json()
    assert body["causes"], "causes ranked"
    faulty = {f.chamber_id for f in small_fab.faults}
    assert body["causes"][0]["chamber_id"] in faulty
    assert {"p_value", "effect_size", "n_affected_lots", "onset"} <= set(body["causes"][0])


def test_defects_by_class(client, auth):
    body = client.get("/api/quality/defects", headers=auth("viewer")).json()
    assert body["total"] == sum(body["by_class"].values()) > 0


def test_knowledge_search_is_cited(client, auth, knowledge):
    hits = client.get("/api/knowledge/search?q=chamber pressure rises helium leak&k=3", headers=auth("viewer")).json()
    assert hits and all(h["citation"]["doc_id"] for h in hits)


def test_assistant_answer_is_checked(client, auth, knowledge, small_fab):
    fault = small_fab.faults[0]
    r = client.post("/api/assistant/ask", json={"question": f"{fault.chamber_id} alarm: what is wrong and what do I do?"},
                    headers=auth("engineer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mode"].startswith("builtin") and body["claims"]["total"] >= 1
    assert body["claims"]["verified"] == body["claims"]["total"]
    assert fault.chamber_id in body["text"]


def test_assistant_stream(client, auth, knowledge, small_fab):
    q = {"question": f"What is wrong with {small_fab.faults[0].chamber_id}?"}
    with client.stream("POST", "/api/assistant/ask/stream", json=q, headers=auth("engineer")) as r:
        text = "".join(r.iter_text())
    assert "event: answer" in text


def test_report_create_list_download(client, auth):
    r = client.post("/api/reports", json={"days": 4}, headers=auth("engineer"))
    assert r.status_code == 201, r.text
    meta = r.json()
    assert meta["claims_total"] >= 1 and "html" in meta["formats"]
    assert any(m["report_id"] == meta["report_id"] for m in client.get("/api/reports", headers=auth("viewer")).json())
    html = client.get(f"/api/reports/{meta['report_id']}.html", headers=auth("viewer"))
    assert html.status_code == 200 and "<html" in html.text.lower()
    assert client.get("/api/reports/R00000000-000000-0000.html", headers=auth("viewer")).status_code == 404


def test_ingest_upload_quarantines_bad_rows(client, auth, demo_store):
    csv = "lot_id,product_id,start,size\nLUP-1,P1,2026-01-05T00:00:00Z,25\nbad lot,P1,2026-01-05T00:00:00Z,999\n"
    r = client.post("/api/ingest/files", data={"kind": "lots"}, files={"file": ("lots.csv", io.BytesIO(csv.encode()), "text/csv")},
                    headers=auth("engineer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rows"] == 2 and body["stored"] == 1 and body["quarantined"] == 1 and body["reconciled"]
    q = client.get("/api/ingest/quarantine", headers=auth("viewer")).json()
    assert q["total"] >= 1
    bad = client.post("/api/ingest/files", data={"kind": "nonsense"}, files={"file": ("x.csv", io.BytesIO(b"a\n1\n"))},
                      headers=auth("engineer"))
    assert bad.status_code == 422 and "kind" in bad.json()["detail"]


def test_energy_breakdown(client, auth):
    body = client.get("/api/energy/breakdown", headers=auth("viewer")).json()
    assert body["total_kwh"] > 0 and abs(sum(body["by_tool"].values()) - body["total_kwh"]) < 1e-6 * body["total_kwh"] + 1e-6
    assert all(w["kwh"] >= 0 for w in body["waste"])
    assert client.get("/api/energy/meters", headers=auth("viewer")).json()
