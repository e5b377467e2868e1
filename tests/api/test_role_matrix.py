"""Every route × every role: allowed, or 401/403. A new route must be added to MIN_ROLE (the test says so)."""

import re

import pytest

PUBLIC = "public"
MIN_ROLE = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/logout"): PUBLIC,
    ("GET", "/api/auth/me"): "viewer",
    ("POST", "/api/auth/tokens"): "viewer",
    ("GET", "/api/auth/tokens"): "viewer",
    ("DELETE", "/api/auth/tokens/{token_id}"): "viewer",
    ("GET", "/api/users"): "admin",
    ("POST", "/api/users"): "admin",
    ("GET", "/api/audit"): "admin",
    ("GET", "/api/overview"): "viewer",
    ("GET", "/api/chambers"): "viewer",
    ("GET", "/api/chambers/{tool}/{letter}"): "viewer",
    ("GET", "/api/runs"): "viewer",
    ("GET", "/api/runs/{run_id}/trace"): "viewer",
    ("GET", "/api/work-orders"): "viewer",
    ("GET", "/api/alarms"): "viewer",
    ("GET", "/api/alarms/stream"): "viewer",
    ("GET", "/api/alarms/{alarm_id}"): "viewer",
    ("POST", "/api/alarms/{alarm_id}/verdict"): "engineer",
    ("POST", "/api/alarms/{alarm_id}/{action}"): "engineer",
    ("GET", "/api/models"): "viewer",
    ("GET", "/api/models/{name}/versions"): "viewer",
    ("POST", "/api/models/{name}/activate"): "admin",
    ("POST", "/api/models/{name}/rollback"): "admin",
    ("GET", "/api/yield/analysis"): "viewer",
    ("GET", "/api/yield/lots"): "viewer",
    ("GET", "/api/quality/defects"): "viewer",
    ("GET", "/api/knowledge/search"): "viewer",
    ("POST", "/api/assistant/ask"): "engineer",
    ("POST", "/api/assistant/ask/stream"): "engineer",
    ("GET", "/api/reports"): "viewer",
    ("POST", "/api/reports"): "engineer",
    ("GET", "/api/reports/{report_id}.{fmt}"): "viewer",
    ("GET", "/api/approvals"): "viewer",
    ("POST", "/api/approvals/{proposal_id}/approve"): "engineer",
    ("POST", "/api/approvals/{proposal_id}/reject"): "engineer",
    ("POST", "/api/ingest/files"): "engineer",
    ("GET", "/api/ingest/quarantine"): "viewer",
    ("GET", "/api/energy/breakdown"): "viewer",
    ("GET", "/api/energy/meters"): "viewer",
}
RANK = {PUBLIC: -1, "viewer": 0, "engineer": 1, "admin": 2}
# cheap arguments: path params that do not exist and bodies that fail validation, so an allowed call ends in
# 404/422 without side effects, while a forbidden one must stop at 401/403 before that
QUERY = {"/api/knowledge/search": "?q=", "/api/alarms/stream": "?seconds=0.1",
         "/api/models/{name}/versions": "?scope="}


def _operations(app):
    spec = app.openapi()
    return sorted((m.upper(), p) for p, ops in spec["paths"].items() for m in ops)


def test_every_route_has_a_role(app):
    missing = [op for op in _operations(app) if op not in MIN_ROLE]
    assert not missing, f"add these routes to MIN_ROLE: {missing}"


def _call(client, method, path, headers):
    url = re.sub(r"\{[^}]+\}", "nope", path) + QUERY.get(path, "")
    if method == "GET":
        return client.get(url, headers=headers)
    return client.request(method, url, headers=headers, content=b"{not json", )


@pytest.mark.parametrize("who", [None, "viewer", "engineer", "admin"])
def test_role_matrix(app, client, auth, who):
    failures = []
    for method, path in _operations(app):
        need = MIN_ROLE[(method, path)]
        headers = auth(who) if who else {}
        r = _call(client, method, path, headers)
        if need == PUBLIC:
            ok = r.status_code not in (401, 403)
        elif who is None:
            ok = r.status_code == 401
        elif RANK[who] < RANK[need]:
            ok = r.status_code == 403
        else:
            ok = r.status_code not in (401, 403)
        if not ok:
            failures.append(f"{method} {path} as {who or 'anonymous'}: {r.status_code} (needs {need})")
        assert r.status_code < 500, f"{method} {path} as {who}: server error {r.status_code} {r.text[:300]}"
    assert not failures, "\n".join(failures)
