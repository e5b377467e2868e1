import threading
import time

import pytest


@pytest.fixture(scope="module")
def alarm_id(demo_store):
    frame = demo_store.alarms()
    frame = frame[~frame["chamber_id"].str.startswith("PHO")]  # not in engineer_photo's area
    assert not frame.empty, "the demo fab has alarms outside PHOTO"
    return frame.iloc[0]["alarm_id"]


def test_list_is_paginated(client, auth):
    body = client.get("/api/alarms?limit=2", headers=auth("viewer")).json()
    assert set(body) == {"items", "total", "limit", "offset"} and len(body["items"]) <= 2 and body["total"] >= 1


def test_viewer_cannot_acknowledge(client, auth, alarm_id):
    r = client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=auth("viewer"))
    assert r.status_code == 403 and "engineer role" in r.json()["detail"]


def test_engineer_of_other_area_cannot_acknowledge(client, auth, demo_store, alarm_id):
    detail = client.get(f"/api/alarms/{alarm_id}", headers=auth("viewer")).json()
    assert detail["area"] != "PHOTO"
    r = client.post(f"/api/alarms/{alarm_id}/acknowledge", headers=auth("engineer_photo"))
    assert r.status_code == 403 and detail["area"] in r.json()["detail"]


def test_life_cycle_and_audit(client, auth, alarm_id):
    h = auth("engineer")
    r = client.post(f"/api/alarms/{alarm_id}/acknowledge", json={"note": "looking"}, headers=h)
    assert r.status_code == 200 and r.json()["state"] in ("acknowledged", "cleared")
    r = client.post(f"/api/alarms/{alarm_id}/shelve", json={"minutes": 30, "note": "PM running"}, headers=h)
    if r.status_code == 200:
        assert r.json()["state"] == "shelved" and r.json()["shelved_until"]
    events = [e["event"] for e in client.get(f"/api/alarms/{alarm_id}", headers=h).json()["history"]]
    assert "acknowledged" in events
    audit = client.get("/api/audit", headers=auth("admin")).json()
    assert any(e["action"] == "alarm.acknowledge" and e["target"] == alarm_id and e["username"] == "engineer" for e in audit)


def test_unknown_action_and_alarm(client, auth, alarm_id):
    assert client.post(f"/api/alarms/{alarm_id}/explode", headers=auth("engineer")).status_code == 404
    assert client.get("/api/alarms/NO-SUCH-ALARM", headers=auth("viewer")).status_code == 404


def test_verdict_is_stored_for_retraining(client, auth, demo_store, alarm_id):
    r = client.post(f"/api/alarms/{alarm_id}/verdict", json={"verdict": "false_alarm", "note": "sensor glitch"},
                    headers=auth("engineer"))
    assert r.status_code == 200 and r.json()["verdict"]["verdict"] == "false_alarm"
    from fabmind.monitor.repository import verdicts

    assert alarm_id in set(verdicts(demo_store.engine)["alarm_id"])
    bad = client.post(f"/api/alarms/{alarm_id}/verdict", json={"verdict": "maybe"}, headers=auth("engineer"))
    assert bad.status_code == 422


def test_stream_delivers_a_change_made_meanwhile(client, auth, demo_store):
    frame = demo_store.alarms()
    target = frame.iloc[-1]["alarm_id"]

    def act_later():
        time.sleep(0.8)
        from fabmind.services.alarms import act

        act(demo_store, target, "acknowledge", "someone", note="from the stream test")

    t = threading.Thread(target=act_later)
    t.start()
    with client.stream("GET", "/api/alarms/stream?seconds=3", headers=auth("viewer")) as r:
        text = "".join(r.iter_text())
    t.join()
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "event: alarm" in text and target in text
