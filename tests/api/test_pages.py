import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def browser(app):
    with TestClient(app) as c:
        r = c.post("/login", data={"username": "engineer", "password": "test-password-1", "next": "/"},
                   follow_redirects=False)
        assert r.status_code == 303
        yield c


def test_pages_need_login(app):
    with TestClient(app) as c:
        r = c.get("/alarms", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/alarms"


def test_wrong_password_shows_error(app):
    with TestClient(app) as c:
        r = c.post("/login", data={"username": "engineer", "password": "nope", "next": "/"})
        assert r.status_code == 200 and "wrong password" in r.text


def test_overview_shows_every_chamber(browser, demo_store):
    html = browser.get("/").text
    for cid in demo_store.chambers_frame()["chamber_id"]:
        assert cid in html


def test_chamber_page_has_trends(browser, demo_store):
    cid = demo_store.chambers_frame()["chamber_id"].iloc[0]
    html = browser.get(f"/chambers/{cid}").text
    assert cid in html and "<svg" in html and "Sensor trends" in html


def test_alarm_page_says_which_sensors(browser, demo_store):
    frame = demo_store.alarms()
    with_contrib = frame[frame["contributions"].map(lambda c: bool(c))]
    aid = (with_contrib if not with_contrib.empty else frame).iloc[0]["alarm_id"]
    html = browser.get(f"/alarms/{aid}").text
    assert aid in html or frame.iloc[0]["chamber_id"] in html
    if not with_contrib.empty:
        assert "σ" in html


@pytest.mark.parametrize("path", ["/yield", "/energy", "/reports", "/assistant", "/approvals", "/alarms?state=all"])
def test_every_page_renders(browser, path):
    r = browser.get(path)
    assert r.status_code == 200 and "<main>" in r.text


def test_yield_page_shows_control_limits_and_causes(browser):
    html = browser.get("/yield").text
    assert "LCL" in html and 'id="causes"' in html
