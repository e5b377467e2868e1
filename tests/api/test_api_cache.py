"""The response and token caches (fabmind.api.cache): reused answers must never hide a change.

Every write counts on the very next request: a new alarm, an acknowledgement, a write by another
process, a revoked token, a changed role. The app here has its own copy of the small demo fab."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from fabmind.api.cache import ChangeMarker

PASSWORD = "cache-password-1"


@pytest.fixture(scope="module")
def cache_app(small_fab, tmp_path_factory):
    from fabmind.api.app import create_app
    from fabmind.config import Settings
    from fabmind.store import Store

    folder = tmp_path_factory.mktemp("cache")
    store = Store(f"sqlite:///{folder / 'fab.db'}")
    store.write_batch(small_fab.batch)
    app = create_app(Settings(db_url=store.url, home=folder / "home"), store=store)
    for role in ("viewer", "engineer"):
        app.state.directory.add_user(role, PASSWORD, role)
    app.state.tokens = {r: app.state.directory.issue_token(r, "cache tests") for r in ("viewer", "engineer")}
    yield app
    store.close()


@pytest.fixture(scope="module")
def c(cache_app):
    with TestClient(cache_app) as client:
        yield client


def _h(app, who="viewer") -> dict:
    return {"Authorization": f"Bearer {app.state.tokens[who]}"}


def _new_alarm(store, alarm_id: str, chamber_id: str, severity: int = 4):
    from fabmind.domain import Alarm

    store.upsert([Alarm(alarm_id=alarm_id, chamber_id=chamber_id, ts=datetime.now(timezone.utc), source="test.cache",
                        code="cache", severity=severity, score=9.0, limit=1.0, message="written behind the cache")])


def _chamber(overview: dict, chamber_id: str) -> dict:
    return next(ch for a in overview["areas"] for t in a["tools"] for ch in t["chambers"] if ch["chamber_id"] == chamber_id)


def test_repeated_requests_are_served_from_the_cache(cache_app, c):
    cache = cache_app.state.response_cache
    first = c.get("/api/overview", headers=_h(cache_app))
    hits = cache.hits
    again = c.get("/api/overview", headers=_h(cache_app))
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert cache.hits == hits + 1, "an unchanged store must not be queried again"


def test_new_alarm_shows_on_the_next_request(cache_app, c):
    store = cache_app.state.store
    chamber_id = store.chambers_frame()["chamber_id"].iloc[0]
    before_ov = c.get("/api/overview", headers=_h(cache_app)).json()
    before = c.get("/api/alarms", params={"limit": 5}, headers=_h(cache_app)).json()
    c.get("/api/alarms", params={"limit": 5}, headers=_h(cache_app))  # now cached
    _new_alarm(store, "cache-new-1", chamber_id)
    after = c.get("/api/alarms", params={"limit": 5}, headers=_h(cache_app)).json()
    assert after["total"] == before["total"] + 1
    assert after["items"][0]["alarm_id"] == "cache-new-1"
    after_ov = c.get("/api/overview", headers=_h(cache_app)).json()
    assert after_ov["open_alarms"] == before_ov["open_alarms"] + 1
    assert _chamber(after_ov, chamber_id)["open_alarms"] == _chamber(before_ov, chamber_id)["open_alarms"] + 1
    assert _chamber(after_ov, chamber_id)["health"] == "bad"


def test_acknowledgement_shows_on_the_next_request(cache_app, c):
    store = cache_app.state.store
    _new_alarm(store, "cache-ack-1", store.chambers_frame()["chamber_id"].iloc[1])
    raised = c.get("/api/alarms", params={"state": "raised", "limit": 1000}, headers=_h(cache_app)).json()
    assert "cache-ack-1" in [a["alarm_id"] for a in raised["items"]]
    c.get("/api/alarms", params={"state": "raised", "limit": 1000}, headers=_h(cache_app))  # cached
    r = c.post("/api/alarms/cache-ack-1/acknowledge", json={"note": "seen"}, headers=_h(cache_app, "engineer"))
    assert r.status_code == 200, r.text
    raised2 = c.get("/api/alarms", params={"state": "raised", "limit": 1000}, headers=_h(cache_app)).json()
    assert "cache-ack-1" not in [a["alarm_id"] for a in raised2["items"]]
    assert raised2["total"] == raised["total"] - 1
    acked = c.get("/api/alarms", params={"state": "acknowledged", "limit": 1000}, headers=_h(cache_app)).json()
    assert "cache-ack-1" in [a["alarm_id"] for a in acked["items"]]


def test_write_by_another_process_shows_on_the_next_request(cache_app, c):
    store = cache_app.state.store
    _new_alarm(store, "cache-proc-1", store.chambers_frame()["chamber_id"].iloc[2], severity=1)
    page = c.get("/api/alarms", params={"state": "raised", "limit": 1000}, headers=_h(cache_app)).json()
    assert "cache-proc-1" in [a["alarm_id"] for a in page["items"]]
    path = store.engine.url.database
    code = (f"import sqlite3; con = sqlite3.connect({path!r}); "
            "con.execute(\"UPDATE alarms SET state='cleared' WHERE alarm_id='cache-proc-1'\"); con.commit()")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    page2 = c.get("/api/alarms", params={"state": "raised", "limit": 1000}, headers=_h(cache_app)).json()
    assert "cache-proc-1" not in [a["alarm_id"] for a in page2["items"]]


def test_etag_answers_not_modified_until_a_change(cache_app, c):
    store = cache_app.state.store
    r = c.get("/api/overview", headers=_h(cache_app))
    etag = r.headers["etag"]
    same = c.get("/api/overview", headers={**_h(cache_app), "If-None-Match": etag})
    assert same.status_code == 304 and same.content == b""
    _new_alarm(store, "cache-etag-1", store.chambers_frame()["chamber_id"].iloc[3])
    changed = c.get("/api/overview", headers={**_h(cache_app), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["open_alarms"] == r.json()["open_alarms"] + 1


def test_not_modified_still_needs_authentication(cache_app, c):
    etag = c.get("/api/overview", headers=_h(cache_app)).headers["etag"]
    assert c.get("/api/overview", headers={"If-None-Match": etag}).status_code == 401


def test_revoked_token_is_refused_on_the_next_request(cache_app, c):
    directory = cache_app.state.directory
    token = directory.issue_token("viewer", "to revoke")
    h = {"Authorization": f"Bearer {token}"}
    assert c.get("/api/alarms", headers=h).status_code == 200
    hits = cache_app.state.auth_cache.hits
    assert c.get("/api/alarms", headers=h).status_code == 200
    assert cache_app.state.auth_cache.hits > hits, "the token lookup should have been reused"
    assert directory.revoke_token(token)
    assert c.get("/api/alarms", headers=h).status_code == 401
    assert c.get("/api/overview", headers=h).status_code == 401
    assert not directory.revoke_token(token)


def test_token_deleted_by_another_connection_is_refused(cache_app, c):
    token = cache_app.state.directory.issue_token("viewer", "deleted elsewhere")
    h = {"Authorization": f"Bearer {token}"}
    assert c.get("/api/overview", headers=h).status_code == 200
    assert c.get("/api/overview", headers=h).status_code == 200
    from fabmind.api.auth import token_hash

    con = sqlite3.connect(cache_app.state.store.engine.url.database)
    con.execute("DELETE FROM api_tokens WHERE token_hash = ?", (token_hash(token),))
    con.commit()
    con.close()
    assert c.get("/api/overview", headers=h).status_code == 401


def test_role_change_counts_on_the_next_request(cache_app, c):
    directory = cache_app.state.directory
    directory.add_user("demoted", PASSWORD, "engineer")
    token = directory.issue_token("demoted", "role change")
    h = {"Authorization": f"Bearer {token}"}
    assert c.get("/api/auth/me", headers=h).json()["role"] == "engineer"
    assert c.get("/api/auth/me", headers=h).json()["role"] == "engineer"
    directory.add_user("demoted", PASSWORD, "viewer")
    assert c.get("/api/auth/me", headers=h).json()["role"] == "viewer"
    r = c.post("/api/alarms/cache-new-1/acknowledge", json={}, headers=h)
    assert r.status_code == 403


def test_marker_changes_on_every_commit(cache_app):
    marker = ChangeMarker(cache_app.state.store.engine)
    m0 = marker.current()
    assert m0 is not None and marker.current() == m0
    cache_app.state.directory.audit("someone", "test.marker")
    m1 = marker.current()
    assert m1 != m0
    path = cache_app.state.store.engine.url.database
    subprocess.run([sys.executable, "-c", f"import sqlite3; c = sqlite3.connect({path!r}); "
                    "c.execute('CREATE TABLE IF NOT EXISTS marker_probe (x)'); "
                    "c.execute('INSERT INTO marker_probe VALUES (1)'); c.commit()"],
                   check=True, timeout=60)  # (a commit that changes nothing leaves data_version alone: fine)
    assert marker.current() not in (m0, m1)
    marker.close()
    assert marker.current() not in (m0, m1), "a reopened connection must not repeat an old marker"


def test_in_memory_store_is_not_cached():
    from sqlalchemy import create_engine

    assert ChangeMarker(create_engine("sqlite://")).current() is None


@pytest.mark.postgres
def test_postgres_marker_changes_on_commit(pg_url):
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    try:
        marker = ChangeMarker(engine)
        m0 = marker.current()
        assert m0 is not None and marker.current() == m0
        with engine.begin() as con:
            con.execute(text("CREATE TEMP TABLE cache_marker_probe (x int)"))
            con.execute(text("INSERT INTO cache_marker_probe VALUES (1)"))
        assert marker.current() != m0
    finally:
        engine.dispose()


def test_cache_switched_off_computes_every_time(cache_app, c):
    cache = cache_app.state.response_cache
    cache.enabled = False
    try:
        misses = cache.misses
        for _ in range(2):
            assert c.get("/api/overview", headers=_h(cache_app)).status_code == 200
        assert cache.misses == misses + 2
    finally:
        cache.enabled = True
