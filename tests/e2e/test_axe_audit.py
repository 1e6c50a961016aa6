"""axe-core's WCAG 2.0/2.1 A and AA rules on every page a supervisor or agent uses, with the demo's live
calls on them, at desktop (1400 px) and phone (400 px) width: any serious or critical violation fails.

axe-core comes from the plugin's locked npm packages (``plugin-cintel-rtt/node_modules``), injected into
each page as a script; nothing is fetched at run time.
"""

import pytest
import requests
from playwright.sync_api import expect

from ..support.browser import audit
from ..support.browser import axe_source as read_axe

WIDTHS = [1400, 400]
#: Each tab of the panel, and what shows once its live data is there.
TABS = {
    "transcript": '[data-testid="transcript-line"]',
    "agent-view": '[data-testid^="checklist-"]',
    "operator-log": 'ul[aria-label="Operator results"] > li',
}


@pytest.fixture(scope="module")
def axe_source():
    return read_axe()


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def page(request, browser, axe_source):
    context = browser.new_context(viewport={"width": request.param, "height": 900})
    context.set_default_timeout(20000)
    # As the browser's own script, before the page's (see support.browser.AXE): the CSP must not be turned off for it.
    context.add_init_script(script=axe_source)
    yield context.new_page()
    context.close()


@pytest.fixture
def live_call(demo):
    """A call the demo is playing now, with something said on it already."""
    calls = requests.get(demo + "/api/board", timeout=5).json()["calls"]
    spoken = [c for c in calls if not c.get("ended") and c.get("lastUtterance")] or calls
    assert spoken, "the demo has no calls on its board"
    return spoken[0]["session"]


def test_the_board(demo, page):
    page.goto(demo + "/console")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(page.locator("#board-rows tr").nth(2)).to_be_attached()
    assert audit(page) == []


def test_the_call_page(demo, live_call, page):
    page.goto(f"{demo}/console/calls/{live_call}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(page.locator("#transcript li").first).to_be_attached()
    expect(page.locator("#oplog li").first).to_be_attached()
    assert audit(page) == []


@pytest.mark.parametrize("tab", TABS)
def test_the_plugin_panel(demo, harness_origin, live_call, page, tab):
    page.goto(f"{harness_origin}/index.html?backend={demo}&session={live_call}&tab={tab}")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()
    expect(page.locator(TABS[tab]).first).to_be_visible()
    assert audit(page) == []
