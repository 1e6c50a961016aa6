"""The live console in a real browser (headless Chromium), on a real gunicorn relay and redis-server,
fed by the call simulator."""

import io
import threading
from datetime import datetime, timezone

import pytest
import requests
from playwright.sync_api import expect

from cintel_relay import simulator

from .flex_support import flex_relay_of_its_own
from .support import AUTH_TOKEN, RedisServer, Relay, flex_env

SPEED = 30  # a two-minute call plays in about four seconds
STEPS = ["greeting", "verification", "move-details", "confirmation"]


@pytest.fixture(scope="module")
def relay():
    redis = RedisServer().start()
    server = Relay(redis.url, CINTEL_STREAM_AUTH="none").start()
    yield server
    server.stop()
    redis.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15000)
    yield context.new_page()
    context.close()


class Call:
    """One simulated call: its deliveries, played in a background thread, all or part of them."""

    def __init__(self, scenario: str):
        self.scenario = simulator.load_scenario(scenario)
        self.deliveries = simulator.build_call(self.scenario, datetime.now(timezone.utc), speed=SPEED)
        self.sid = self.deliveries[0].body["CallSid"]
        self.report = simulator.Report(io.StringIO())
        self._thread = None

    @property
    def lines(self):
        return [u["text"] for u in self.scenario["utterances"]]

    def until(self, label: str) -> int:
        """How many deliveries come up to and including the one labelled ``label``."""
        return next(n for n, d in enumerate(self.deliveries, 1) if d.label == label)

    def play(self, relay, start=0, stop=None):
        def run():
            with requests.Session() as http:
                simulator.play(self.deliveries[start:stop], relay.url, AUTH_TOKEN, self.report, SPEED,
                               threading.Event(), http)
        self._thread = threading.Thread(target=run)
        self._thread.start()
        return self

    def wait(self):
        self._thread.join(60)
        assert (self.report.failed, self._thread.is_alive()) == (0, False)


def open_live(page, url):
    page.goto(url)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def test_the_board_lists_calls_as_they_happen_and_flags_the_troubled_one(relay, page):
    open_live(page, relay.url + "/console")
    expect(page.locator("#board-empty")).to_be_visible()
    good, bad = Call("moving-complete").play(relay), Call("skipped-verification").play(relay)
    good_row = page.locator(f'tr[data-session="{good.sid}"]')
    bad_row = page.locator(f'tr[data-session="{bad.sid}"]')
    expect(bad_row.locator(".agent-name")).to_have_text("Marcus Bell")
    expect(bad_row.locator(".flag")).to_have_text(["Verification overdue", "Negative sentiment"])
    expect(bad_row).to_have_attribute("data-flagged", "true")
    expect(good_row.locator(".agent-name")).to_have_text("Dana Whitfield")
    good.wait()
    bad.wait()
    expect(good_row).to_have_attribute("data-ended", "true")
    expect(good_row.locator(".score")).to_have_text("100%")
    expect(good_row.locator(".flag")).to_have_count(0)
    expect(good_row.locator(".utterance")).to_have_text(good.lines[-1])
    expect(bad_row.locator(".score")).to_have_text("80%")
    expect(page.locator("#board-empty")).to_be_hidden()


def test_a_board_opened_mid_call_gets_the_live_calls_from_its_snapshot(relay, page):
    call = Call("moving-complete")
    call.play(relay, stop=call.until("utterance 7 (agent)")).wait()
    open_live(page, relay.url + "/console")
    row = page.locator(f'tr[data-session="{call.sid}"]')
    expect(row.locator(".utterance")).to_have_text(call.lines[6])
    expect(row.locator(".sub").first).to_have_text("Customer Jordan Reyes")
    expect(row.locator(".score")).to_have_text("30%")
    expect(row).to_have_attribute("data-ended", "false")
    row.locator("a.call-link").click()
    expect(page).to_have_url(f"{relay.url}/console/calls/{call.sid}")
    expect(page.locator("#transcript .text")).to_have_text(call.lines[:7])
    expect(page.locator("#call-agent")).to_have_text("Dana Whitfield")
    expect(page.locator("#call-customer")).to_have_text("Jordan Reyes")


def test_the_call_page_shows_the_transcript_and_ticks_the_checklist_in_order(relay, page):
    call = Call("moving-complete")
    open_live(page, f"{relay.url}/console/calls/{call.sid}")
    expect(page.locator("#checklist li")).to_have_count(4)
    page.evaluate("""() => {
        window.ticks = [];
        new MutationObserver(() => {
            document.querySelectorAll('#checklist li[data-status="met"]').forEach((li) => {
                if (!window.ticks.includes(li.dataset.key)) window.ticks.push(li.dataset.key);
            });
        }).observe(document.getElementById('checklist'), {childList: true, subtree: true, attributes: true});
    }""")
    call.play(relay).wait()
    expect(page.locator("#transcript .text")).to_have_text(call.lines)
    expect(page.locator("#transcript li").first).to_have_attribute("data-speaker", "agent")
    expect(page.locator("#call-status")).to_have_text("Completed")
    assert page.evaluate("window.ticks") == STEPS
    expect(page.locator("#call-score")).to_have_text("100%")
    expect(page.locator("#call-sentiment")).to_have_text("positive")
    expect(page.locator("#summary")).to_have_text(call.scenario["utterances"][-1]["summary"])
    expect(page.locator("#oplog-count")).not_to_have_text("0 results")


def test_the_pages_recover_after_the_relay_restarts(relay, browser, page):
    call = Call("moving-complete")
    half = call.until("utterance 10 (customer)")
    call.play(relay, stop=half).wait()
    board = browser.new_page()
    open_live(board, relay.url + "/console")
    open_live(page, f"{relay.url}/console/calls/{call.sid}")
    expect(page.locator("#transcript .text")).to_have_text(call.lines[:10])
    relay.stop()  # SIGTERM, as a deploy does: the streams end at once and the browser reconnects
    expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    relay.start()  # a new gunicorn on the same port and Redis
    call.play(relay, start=half).wait()
    expect(page.locator("#transcript .text")).to_have_text(call.lines)
    expect(page.locator('#checklist li[data-status="met"]')).to_have_count(4)
    expect(page.locator("#call-status")).to_have_text("Completed")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    row = board.locator(f'tr[data-session="{call.sid}"]')
    expect(row).to_have_attribute("data-ended", "true")
    expect(row.locator(".score")).to_have_text("100%")
    board.close()


@pytest.fixture(scope="module")
def flex_relay(twilio_server):
    """A relay with Flex stream auth, asking the fake Twilio who the console's user is."""
    with flex_relay_of_its_own(twilio_server.url, CINTEL_AUTH_TIMEOUT="5") as server:
        yield server


def test_with_flex_auth_a_supervisors_token_opens_the_board_and_the_call(flex_relay, fake_twilio, page):
    supervisor = fake_twilio.add_user("sup_sam", roles=("supervisor",))
    call = Call("moving-complete")
    call.play(flex_relay, stop=call.until("utterance 4 (customer)")).wait()
    open_live(page, f"{flex_relay.url}/console#token={supervisor}")
    assert "token" not in page.url  # taken out of the address bar (and never sent: it was a fragment)
    row = page.locator(f'tr[data-session="{call.sid}"]')
    expect(row.locator(".utterance")).to_have_text(call.lines[3])
    row.locator("a.call-link").click()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(page.locator("#transcript .text")).to_have_text(call.lines[:4])
    assert {r["path"] for r in fake_twilio.requests} == {"/v1/Accounts/%s/Tokens/validate" % flex_env("")[
        "TWILIO_ACCOUNT_SID"]}


def test_with_flex_auth_the_console_needs_a_supervisor(flex_relay, fake_twilio, browser, page):
    page.goto(flex_relay.url + "/console")
    expect(page.locator("#connection")).to_have_attribute("data-state", "refused")
    expect(page.locator("#connection .label")).to_contain_text("Sign-in needed")
    agent = fake_twilio.add_user("agent_dana", roles=("agent",), worker_sid="WK" + "3" * 32)
    agents_page = browser.new_page()
    agents_page.goto(f"{flex_relay.url}/console#token={agent}")
    expect(agents_page.locator("#connection")).to_have_attribute("data-state", "refused")
    expect(agents_page.locator("#connection .label")).to_contain_text("supervisor's Flex token")
    expect(agents_page.locator("#board-rows tr")).to_have_count(0)
    agents_page.close()
