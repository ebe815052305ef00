"""The dashboard in a real headless Chromium (Debian's chromium driven by Playwright) against a running stack:
uvicorn serving the ops app on a real port, the core populated by the flows end to end (tests/ops/stack.py).

Skipped with the reason when playwright or chromium is missing; .ci/run installs chromium, the test extra playwright.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.ops.stack import ANA_TOKEN, TOKEN, Stack

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e '.[test]')")
CHROMIUM = os.environ.get("Q2C_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install -y chromium)")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "trace-view.png"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    st = Stack(tmp_path_factory.mktemp("browser")).start()
    st.serve()
    yield st
    st.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        # launch_persistent_context would take --user-data-dir; a plain launch gets a fresh temp profile itself
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, env={**os.environ, "HOME": str(profile)})
        yield b
        b.close()


@pytest.fixture
def page(browser, stack):
    ctx = browser.new_context(viewport={"width": 1500, "height": 1000})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(15_000)
    yield pg
    ctx.close()
    assert not errors, errors


def test_token_prompt_then_live_transactions(page, stack):
    page.goto(f"{stack.base_url}/dashboard")
    page.wait_for_selector("#login-form")
    page.fill("#token-input", "wrong")
    page.click("#login-form button")
    sync_api.expect(page.locator("#login-error")).to_contain_text("refused")
    page.fill("#token-input", TOKEN)
    page.click("#login-form button")
    rows = page.locator("#tx-body tr[data-cid]")
    sync_api.expect(rows.first).to_be_visible()
    assert rows.count() >= 5
    sync_api.expect(page.locator("#tx-body")).to_contain_text("opportunity-closed-won")
    sync_api.expect(page.locator("#exc-count")).to_have_text("1")
    # the token is kept for the tab only, not in the URL
    assert page.evaluate("sessionStorage.getItem('q2c.ops.token')") == TOKEN and "token" not in page.url


def test_trace_view_across_systems(page, stack, tmp_path):
    page.goto(f"{stack.base_url}/dashboard#token={TOKEN}")
    row = page.locator(f"#tx-body tr[data-cid='{stack.info['quote_cid']}']")
    row.click()
    sync_api.expect(page.locator("#view-trace")).to_be_visible()
    grid = page.locator("#trace-grid")
    sync_api.expect(grid).to_be_visible()
    on = page.locator("#trace-stages .stage.on")
    assert on.all_inner_texts() and [t.split("\n")[0].rstrip("0123456789") for t in on.all_inner_texts()][:6] == [
        "proposal line", "project task", "time entries", "billing event", "invoice line", "payment"]
    for group in ("CRM", "PSA", "ERP", "core"):
        assert page.locator(f".trace-row[data-group='{group}']").count() > 0, group
    sync_api.expect(grid).to_contain_text("/projectTask/")
    sync_api.expect(grid).to_contain_text("customerPayment")
    page.evaluate("window.scrollTo(0, 0)")
    # docs/images/trace-view.png is refreshed with Q2C_UPDATE_SCREENSHOTS=1 (a plain run leaves the tree clean)
    shot = SCREENSHOT if os.environ.get("Q2C_UPDATE_SCREENSHOTS") == "1" else tmp_path / "trace-view.png"
    page.screenshot(path=str(shot))  # the viewport: tabs, stage bar, linked runs, first rows of the lanes
    assert shot.stat().st_size > 10_000


def test_kpis_and_simulators(page, stack):
    page.goto(f"{stack.base_url}/dashboard#token={TOKEN}")
    page.click("#tabs button[data-view='kpis']")
    sync_api.expect(page.locator("#kpi-cards .card")).to_have_count(5)
    sync_api.expect(page.locator("#kpi-charts .chart svg")).to_have_count(5)
    assert page.locator(".chart[data-series='unbilled_backlog_items'] path.line").count() == 1
    page.click("#tabs button[data-view='simulators']")
    sync_api.expect(page.locator("#sim-list .sim")).to_have_count(3)
    sync_api.expect(page.locator(".sim[data-sim='netsuite']")).to_contain_text("ns-invoice-503")
    sync_api.expect(page.locator(".sim[data-sim='netsuite']")).to_contain_text("concurrency")
    used = page.locator(".sim[data-sim='salesforce'] tr[data-tenant='acme'][data-quota='DailyApiRequests']")
    sync_api.expect(used).to_contain_text("/ 100000")  # the org's own use, not a tenant-less 0
    assert not used.inner_text().split("\t")[3].startswith("0 ")


def test_deep_link_to_a_search_and_on_to_the_trace(page, stack):
    """A link from a ticket (#q=<Opportunity id>) opens the search with that id's records in every system; a trace
    link opens the trace and the address becomes its own deep link (#trace=<correlation id>)."""
    opp = stack.info["opp_a"]
    page.goto(f"{stack.base_url}/dashboard#token={TOKEN}&q={opp}")
    sync_api.expect(page.locator("#view-search")).to_be_visible()
    sync_api.expect(page.locator("#search-body")).to_contain_text("Opportunity")
    sync_api.expect(page.locator("#search-body")).to_contain_text("workspace")
    assert "token" not in page.url and f"q={opp}" in page.url
    page.locator("#search-body a[data-cid]").first.click()
    sync_api.expect(page.locator("#view-trace")).to_be_visible()
    sync_api.expect(page.locator("#trace-view")).not_to_be_empty()
    assert "#trace=" in page.url
    page.goto(page.url)  # the trace link itself, reloaded
    sync_api.expect(page.locator("#view-trace")).to_be_visible()
    page.fill("#search-q", "no-such-id")
    page.press("#search-q", "Enter")
    sync_api.expect(page.locator("#search-body")).to_contain_text("nothing known by that id")


def test_assign_then_retry_an_exception_and_see_it_resolved(page, stack):
    """Signed in with her own token, Ana sees whom she acts as, assigns the held item (the flow made the billing-ops
    team its owner) to Jo, retries it; the queue records her as the actor of both and Jo as the owner."""
    page.goto(f"{stack.base_url}/dashboard#token={ANA_TOKEN}")
    page.click("#tabs button[data-view='exceptions']")
    sync_api.expect(page.locator("#exc-actor")).to_have_text("ana@acme.example")
    item = page.locator(f"#exc-body tr[data-id='{stack.info['parked_id']}']")
    sync_api.expect(item).to_contain_text("MISSING_MASTER_DATA")
    sync_api.expect(item.locator("td").nth(7)).to_have_text("billing-ops")
    item.locator("button[data-act='assign']").click()
    sync_api.expect(page.locator("#exc-msg")).to_contain_text("enter whom to assign it to")
    page.fill("#exc-owner", "jo@acme.example")
    item.locator("button[data-act='assign']").click()
    sync_api.expect(page.locator("#exc-msg")).to_contain_text("assigned to jo@acme.example")
    sync_api.expect(item.locator("td").nth(7)).to_have_text("jo@acme.example")
    page.fill("#exc-reason", "employee created in NetSuite")
    item.locator("button[data-act='retry']").click()
    sync_api.expect(page.locator("#exc-msg")).to_contain_text(f"#{stack.info['parked_id']} retry: now resolved")
    sync_api.expect(page.locator("#exc-body")).to_contain_text("no items")  # the open list is empty
    page.select_option("#exc-status", "")
    sync_api.expect(item).to_contain_text("resolved")
    sync_api.expect(page.locator("#exc-count")).to_have_text("")
    # the API agrees
    import httpx

    got = httpx.get(f"{stack.base_url}/exceptions/{stack.info['parked_id']}",
                    headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert got["status"] == "resolved" and got["owner"] == "jo@acme.example"
    assert {h["actor"] for h in got["history"] if h["action"] in ("assign", "retry")} == {"ana@acme.example"}


@pytest.fixture
def seeded_server(tmp_path):
    """The ops tests' seeded engine (one business item, one transient item) served by uvicorn on a real port."""
    import socket
    import threading
    import time

    import uvicorn

    from q2c_harness.ops import create_ops_app
    from tests.ops.conftest import TOKEN as SEEDED_TOKEN, seeded_engine

    engine = seeded_engine(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_ops_app(engine, token=SEEDED_TOKEN), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", SEEDED_TOKEN, engine
    server.should_exit = True
    t.join(10)
    engine.db.dispose()


def test_ignore_needs_a_reason_and_bulk_replay_by_lot(browser, seeded_server):
    base, token, engine = seeded_server
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/dashboard#token={token}")
    page.click("#tabs button[data-view='exceptions']")
    transient = page.locator("#exc-body tr", has_text="503 exhausted")
    sync_api.expect(transient).to_have_count(1)
    transient.locator("button[data-act='ignore']").click()
    sync_api.expect(page.locator("#exc-msg")).to_contain_text("a reason is required to ignore")
    page.fill("#exc-reason", "PSA test project")
    transient.locator("button[data-act='ignore']").click()
    sync_api.expect(page.locator("#exc-msg")).to_contain_text("now ignored")
    engine.state["fail"] = False  # the master data is fixed: the business item's replay will succeed
    page.fill("#exc-reason", "")
    page.select_option("#bulk-lot-name", "business")
    page.click("#bulk-lot")
    sync_api.expect(page.locator("#exc-msg")).to_contain_text("replayed 1 (business), resolved 1")
    sync_api.expect(page.locator("#exc-body")).to_contain_text("no items")
    statuses = {i.status for i in engine.exceptions.list()}
    assert statuses == {"ignored", "resolved"}
    ctx.close()
