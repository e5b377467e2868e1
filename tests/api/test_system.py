def test_healthz_and_metrics(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["db"] == "ok"
    client.get("/api/overview")
    m = client.get("/metrics")
    assert m.status_code == 200 and "fabmind_http_requests" in m.text


def test_unauthenticated_is_problem_json(client):
    r = client.get("/api/overview")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == 401 and body["title"] == "Not authenticated" and body["instance"] == "/api/overview"


def test_bad_token_rejected(client):
    r = client.get("/api/overview", headers={"Authorization": "Bearer fm_not-a-token"})
    assert r.status_code == 401 and "invalid API token" in r.json()["detail"]


def test_login_session_and_me(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        assert c.post("/api/auth/login", json={"username": "viewer", "password": "wrong"}).status_code == 401
        r = c.post("/api/auth/login", json={"username": "viewer", "password": "test-password-1"})
        assert r.status_code == 200 and r.json()["role"] == "viewer"
        assert c.get("/api/auth/me").json()["username"] == "viewer"
        c.post("/api/auth/logout")
        assert c.get("/api/auth/me").status_code == 401


def test_tokens_are_stored_hashed(app):
    from sqlalchemy import select

    from fabmind.api.tables import api_tokens

    token = app.state.tokens["viewer"]
    with app.state.store.engine.connect() as con:
        stored = [r.token_hash for r in con.execute(select(api_tokens))]
    assert token not in stored and all(len(h) == 64 for h in stored)


def test_validation_error_names_the_field(client, auth):
    r = client.get("/api/runs?limit=0", headers=auth("viewer"))
    assert r.status_code == 422 and "limit" in r.json()["detail"]


def test_unknown_chamber_is_404(client, auth):
    r = client.get("/api/chambers/NOPE-01/A", headers=auth("viewer"))
    assert r.status_code == 404 and "NOPE-01/A" in r.json()["detail"]


def test_overview_lists_every_chamber(client, auth, demo_store):
    body = client.get("/api/overview", headers=auth("viewer")).json()
    listed = {c["chamber_id"] for a in body["areas"] for t in a["tools"] for c in t["chambers"]}
    assert listed == set(demo_store.chambers_frame()["chamber_id"])


def test_run_trace(client, auth, demo_store):
    run_id = demo_store.runs().iloc[0]["run_id"]
    body = client.get(f"/api/runs/{run_id}/trace", headers=auth("viewer")).json()
    assert body["run_id"] == run_id and len(body["sensors"]) > 10


def test_production_refuses_placeholder_secret():
    import pytest

    from fabmind.config import Settings

    with pytest.raises(ValueError, match="FABMIND_SECRET_KEY"):
        Settings(environment="production", secret_key="changeme")


def test_tokens_are_listed_without_the_secret_and_revoked_by_id(app, client, auth):
    directory = app.state.directory
    mine = directory.issue_token("engineer", "laptop")
    other = directory.issue_token("viewer", "script")
    me = {"Authorization": f"Bearer {mine}"}
    listed = client.get("/api/auth/tokens", headers=me).json()
    assert {t["username"] for t in listed} == {"engineer"} and "laptop" in {t["name"] for t in listed}
    assert all(mine not in str(t) and other not in str(t) for t in listed)
    assert client.get("/api/auth/tokens?all_users=true", headers=me).status_code == 403
    everyone = client.get("/api/auth/tokens?all_users=true", headers=auth("admin")).json()
    other_id = next(t["id"] for t in everyone if t["name"] == "script")
    # an engineer cannot revoke another user's token; the admin can
    assert client.delete(f"/api/auth/tokens/{other_id}", headers=me).status_code == 404
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    assert client.delete(f"/api/auth/tokens/{other_id}", headers=auth("admin")).status_code == 204
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    # revoking your own token ends it on the next request, and it is audited
    mine_id = next(t["id"] for t in listed if t["name"] == "laptop")
    assert client.delete(f"/api/auth/tokens/{mine_id}", headers=me).status_code == 204
    assert client.get("/api/auth/me", headers=me).status_code == 401
    actions = [(e["action"], e["target"]) for e in directory.audit_entries(20)]
    assert ("token.revoke", mine_id) in actions and ("token.revoke", other_id) in actions
    assert client.delete("/api/auth/tokens/not-hex", headers=auth("admin")).status_code == 404
