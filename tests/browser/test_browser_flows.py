"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright; no browser
download): log in, see the overview, open the alarm list and an alarm, acknowledge it, ask the assistant,
write and open a report. Screenshots go to tests/artifacts/ (ignored by git).

The server is uvicorn on a free loopback port, in a thread, on its own copy of the small demo fab (so the
acknowledgement here does not change the session's shared ``demo_store``)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORD = "browser-pass-1"
TIMEOUT_MS = 20_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                       "(apt-get install chromium chromium-driver; .ci/run does it)"),
]


@pytest.fixture(scope="module")
def server(small_fab, tmp_path_factory):
    """(base URL, store) of a live uvicorn server on the small demo fab with its documents in the knowledge base."""
    import uvicorn

    from fabmind.api.app import create_app
    from fabmind.config import Settings
    from fabmind.knowledge import KnowledgeBase
    from fabmind.store import Store

    folder = tmp_path_factory.mktemp("browser")
    store = Store(f"sqlite:///{folder / 'fab.db'}")
    store.write_batch(small_fab.batch)
    app = create_app(Settings(db_url=store.url, home=folder / "home"), store=store)
    kb = KnowledgeBase(store)
    kb.add(small_fab.batch.documents)
    app.state.knowledge = kb
    for name, role in (("engineer", "engineer"), ("viewer", "viewer")):
        app.state.directory.add_user(name, PASSWORD, role)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2, lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 15 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store
    srv.should_exit = True
    thread.join(10)
    sock.close()
    store.close()


@pytest.fixture(scope="module")
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield browser
        browser.close()


class Page:
    """A logged-in page that records JavaScript errors and alert() dialogs (the dashboard alerts on API errors)."""

    def __init__(self, browser, base: str, username: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(f"{base}/")  # not logged in: redirected to the login form
        assert "/login" in self.page.url
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.click("#login")
        self.page.wait_for_url(f"{base}/")

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"browser-{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


def test_engineer_flow(chromium, server, small_fab):
    from playwright.sync_api import expect

    base, store = server
    t0 = time.monotonic()
    b = Page(chromium, base, "engineer")
    page = b.page
    try:
        # overview: every chamber, coloured by its health (open alarms → warn/bad, none → ok)
        expect(page.locator("header .who")).to_contain_text("engineer")
        chambers = page.locator("a.chamber")
        expect(chambers).to_have_count(len(store.chambers_frame()))
        healthy = page.locator("a.chamber.h-ok")
        unhealthy = page.locator("a.chamber.h-warn, a.chamber.h-bad")
        assert healthy.count() >= 1 and unhealthy.count() >= 1, "demo fab has both healthy and alarmed chambers"
        colour = lambda loc: loc.evaluate("el => getComputedStyle(el).backgroundColor")
        assert colour(healthy.first) != colour(unhealthy.first), "health is shown by colour"
        open_alarms = set(store.alarms(state=["raised", "acknowledged"])["chamber_id"])
        shown = {t.split("·")[0].strip() for t in unhealthy.all_inner_texts()}
        assert shown == open_alarms, "exactly the chambers with open alarms are marked"
        b.shot("01-overview")

        # alarm list
        page.click("header a[href='/alarms']")
        page.wait_for_url(f"{base}/alarms")
        rows = page.locator("#alarm-table tbody tr[id^='alarm-']")
        assert rows.count() >= 1
        b.shot("02-alarms")

        # open a raised alarm and acknowledge it
        raised = rows.filter(has=page.locator("button", has_text="ack")).first
        alarm_id = raised.get_attribute("id").removeprefix("alarm-")
        raised.locator("a.alarm-link").click()
        page.wait_for_url(f"{base}/alarms/{alarm_id}")
        expect(page.locator("#alarm-state")).to_have_text("raised")
        expect(page.locator("h1")).to_contain_text(store.alarms().set_index("alarm_id").loc[alarm_id, "chamber_id"])
        b.shot("03-alarm-raised")
        page.click("#ack")
        expect(page.locator("#alarm-state")).to_have_text("acknowledged")
        expect(page.locator("#ack")).to_have_count(0)
        expect(page.locator("ul li", has_text="acknowledged")).not_to_have_count(0)
        api = page.request.get(f"{base}/api/alarms/{alarm_id}")  # the session cookie authenticates the API too
        assert api.ok and api.json()["state"] == "acknowledged" and api.json()["acked_by"] == "engineer"
        b.shot("04-alarm-acknowledged")

        # ask the assistant about a chamber with an injected fault: streamed answer + verified-claims badge
        fault = small_fab.faults[0]
        page.click("header a[href='/assistant']")
        page.fill("#question", f"What is wrong with {fault.chamber_id} and what do I do?")
        page.click("#ask")
        badge = page.locator("#chat .msg.answer .claims-badge")
        expect(badge).to_be_visible(timeout=30_000)
        expect(badge).to_contain_text("claims verified")
        assert "badge-ok" in (badge.get_attribute("class") or ""), badge.inner_text()
        expect(page.locator("#chat .msg.answer")).to_contain_text(fault.chamber_id)
        b.shot("05-assistant")

        # write a report over the demo window and open it
        page.click("header a[href='/reports']")
        expect(page.locator("#report-list")).to_contain_text("no reports yet")
        page.fill("#days", "4")
        page.click("#new-report")
        link = page.locator("#report-list a.report-link").first
        expect(link).to_be_visible(timeout=30_000)
        title = link.inner_text()
        b.shot("06-reports")
        link.click()
        page.wait_for_url(f"{base}/reports/R*")
        assert title.split()[0] in page.content()
        assert page.locator("body").inner_text().strip()
        b.shot("07-report")

        assert not b.errors, f"JavaScript errors: {b.errors}"
        assert not b.dialogs, f"error dialogs shown: {b.dialogs}"
    except Exception:
        b.shot("failure")
        raise
    finally:
        b.close()
    assert time.monotonic() - t0 < 60


def test_viewer_reads_but_cannot_act(chromium, server):
    from playwright.sync_api import expect

    base, store = server
    b = Page(chromium, base, "viewer")
    try:
        b.page.goto(f"{base}/alarms")
        expect(b.page.locator("#alarm-table tbody tr[id^='alarm-']")).not_to_have_count(0)
        expect(b.page.locator("#alarm-table button")).to_have_count(0)
        alarm_id = store.alarms()["alarm_id"].iloc[0]
        b.page.goto(f"{base}/alarms/{alarm_id}")
        expect(b.page.locator("#alarm-state")).to_be_visible()
        expect(b.page.locator("#ack")).to_have_count(0)
        b.page.goto(f"{base}/assistant")
        expect(b.page.locator("#ask-form")).to_have_count(0)
        # and the API refuses the action even when called from the viewer's session
        r = b.page.request.post(f"{base}/api/alarms/{alarm_id}/acknowledge", data={})
        assert r.status == 403
        b.shot("08-viewer")
        assert not b.errors, f"JavaScript errors: {b.errors}"
    finally:
        b.close()
