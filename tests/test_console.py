"""The live console in a real browser (headless Chromium), on a real gunicorn relay and redis-server,
fed by the call simulator."""

import io
import json
import os
import re
import threading
from datetime import datetime, timezone

import pytest
import requests
from playwright.sync_api import expect

from cintel_relay.simulator import player as simulator

from .support import (
    AUTH_TOKEN,
    CALL_SID,
    ROOT,
    RedisServer,
    Relay,
    adherence_result,
    communication,
    flex_env,
    operator_result,
    post_json,
    rule_execution,
    run_command,
)
from .support.browser import audit, axe_source
from .support.channels import sms
from .support.flex_relays import flex_relay_of_its_own
from .support.postcall import completed_call, deliver, summary
from .test_catalog import CHURN_ID, example
from .test_insights import UPSELL_ID

SPEED = 30  # a two-minute call plays in about four seconds
STEPS = ["greeting", "verification", "move-details", "confirmation"]
STATIC = os.path.join(ROOT, "cintel_relay", "console", "static")


#: The built-in script with Verification due within a second of the call's start: the simulator plays a call
#: 30 times faster than it was spoken, the relay's deadlines run on the relay's clock.
QUICK_SCRIPT = {
    "name": "Swift Movers intake call",
    "categories": [
        {"key": "greeting", "label": "Greeting", "weight": 10},
        {"key": "verification", "label": "Verification", "weight": 20, "withinSeconds": 1},
        {"key": "move-details", "label": "Move Details", "weight": 40},
        {"key": "confirmation", "label": "Confirmation", "weight": 30},
    ],
}


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    redis = RedisServer().start()
    script = tmp_path_factory.mktemp("script") / "script.json"
    script.write_text(json.dumps(QUICK_SCRIPT))
    server = Relay(redis.url, CINTEL_STREAM_AUTH="none", CINTEL_SCRIPT_FILE=str(script)).start()
    yield server
    server.stop()
    redis.stop()


#: A catalog rule that fires while the customer's latest utterance speaks of cancelling, and clears after one that
#: does not.
CANCEL_RULE = {
    "name": "cancel-words",
    "title": "Cancellation talk",
    "severity": "critical",
    "when": {"phrases": {"speaker": "customer", "any": ["cancel"], "window": 1}},
}


@pytest.fixture(scope="module")
def alerting_relay(tmp_path_factory):
    """A relay of its own with the cancellation rule, and a script without deadlines (no step-overdue alert)."""
    redis = RedisServer().start()
    folder = tmp_path_factory.mktemp("alerting")
    catalog = example(alerts=[CANCEL_RULE])
    catalog["operators"][0]["operatorId"] = UPSELL_ID
    catalog["operators"][1]["operatorId"] = CHURN_ID
    (folder / "operators.json").write_text(json.dumps(catalog))
    steps = [{k: v for k, v in step.items() if k != "withinSeconds"} for step in QUICK_SCRIPT["categories"]]
    (folder / "script.json").write_text(json.dumps({**QUICK_SCRIPT, "categories": steps}))
    server = Relay(
        redis.url,
        CINTEL_STREAM_AUTH="none",
        CINTEL_OPERATORS_FILE=str(folder / "operators.json"),
        CINTEL_SCRIPT_FILE=str(folder / "script.json"),
    ).start()
    yield server
    server.stop()
    redis.stop()


def new_page(browser, width, height):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(15000)
    return context, context.new_page()


@pytest.fixture
def page(browser):
    context, tab = new_page(browser, 1400, 900)
    yield tab
    context.close()


@pytest.fixture
def phone(browser):
    """A page the size of a phone's screen (iPhone 14: 390 x 844 CSS pixels)."""
    context, tab = new_page(browser, 390, 844)
    yield tab
    context.close()


NEXT_BEST_RESPONSE = "intelligence_operator_01kea27sy7ffsafmtsfp17nzx4"


class Call:
    """One simulated call: its deliveries, played in a background thread, all or part of them."""

    def __init__(self, scenario: str):
        self.scenario = simulator.load_scenario(scenario)
        self.deliveries = simulator.build_call(self.scenario, datetime.now(timezone.utc), speed=SPEED)
        self.sid = self.deliveries[0].body["CallSid"]
        self.report = simulator.Report(io.StringIO())
        self._thread = None

    @property
    def conversation(self) -> str:
        return next(d.body["data"]["id"] for d in self.deliveries if d.label == "conversation created")

    def text(self, relay, comm_id, text):
        """The customer texts during the call: an SMS in the call's conversation."""
        assert post_json(relay.url, "/webhook/cor-event", sms(comm_id, text, self.conversation)).status_code == 200

    @property
    def lines(self):
        return [u["text"] for u in self.scenario["utterances"]]

    def until(self, label: str) -> int:
        """How many deliveries come up to and including the one labelled ``label``."""
        return next(n for n, d in enumerate(self.deliveries, 1) if d.label == label)

    def play(self, relay, start=0, stop=None):
        def run():
            with requests.Session() as http:
                simulator.play(
                    self.deliveries[start:stop], relay.url, AUTH_TOKEN, self.report, SPEED, threading.Event(), http
                )

        self._thread = threading.Thread(target=run)
        self._thread.start()
        return self

    def wait(self):
        self._thread.join(60)
        assert (self.report.failed, self._thread.is_alive()) == (0, False)


def open_live(page, url):
    page.goto(url)
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def test_an_empty_board_says_how_to_start_a_call_that_this_relay_accepts_and_pages_have_a_favicon():
    """The relay checks signatures against SERVER_URL, so the command the board shows must post there,
    whatever address the page was opened at; run as shown, its call is accepted."""
    relay = Relay(None, CINTEL_STREAM_AUTH="none")
    relay.env["SERVER_URL"] = relay.url.replace("127.0.0.1", "localhost")
    relay.start()
    try:
        page = requests.get(relay.url + "/console", timeout=10)
        command = re.search(r'<code id="board-simulate">([^<]*)</code>', page.text)[1]
        assert command == f"cintel-relay simulate --url {relay.env['SERVER_URL']}"
        assert "with <code>TWILIO_AUTH_TOKEN</code> set to this relay's auth token" in page.text
        icon = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', page.text)[1]
        served = requests.get(relay.url + icon, timeout=10)
        assert served.status_code == 200 and served.headers["Content-Type"].startswith("image/svg+xml")
        assert served.text.startswith("<svg")
        played = run_command(
            *command.split()[1:],
            "--scenario",
            "abandoned",
            "--speed",
            "100",
            env={**os.environ, "TWILIO_AUTH_TOKEN": AUTH_TOKEN},
            timeout=120,
        )
        assert played.returncode == 0, played.stdout + played.stderr  # every delivery accepted
    finally:
        relay.stop()


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


@pytest.mark.parametrize("viewport", ["page", "phone"])
def test_a_met_step_shows_its_evidence_and_a_missed_one_takes_a_dispute(relay, request, viewport):
    page = request.getfixturevalue(viewport)
    sid, conv = "CA" + ("e5" if viewport == "page" else "e6") * 16, f"conv_conversation_evidence_{viewport}"
    said = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    lines = [("ev1", "Thanks for calling Swift Movers."), ("ev2", "This is Dana."), ("ev3", "When do you move?")]
    for comm, text in lines:
        body = communication(f"{viewport}-{comm}", text, call_sid=sid, conversation=conv)
        body["data"]["occurredAt"] = said
        assert post_json(relay.url, "/webhook/cor-event", body).status_code == 200
    result = adherence_result(f"{viewport}-r1", greeting="Succeeded", move_details="Failed")
    result["executionDetails"]["communications"] = {"first": f"{viewport}-ev1", "last": f"{viewport}-ev2"}
    assert (
        post_json(relay.url, "/webhook/cintel-action", rule_execution([result], conversation=conv)).status_code == 200
    )

    open_live(page, f"{relay.url}/console/calls/{sid}")
    greeting = page.locator('#checklist li[data-key="greeting"]')
    expect(greeting).to_have_attribute("data-status", "met")
    expect(greeting.locator(".step-timing")).to_have_text(re.compile(r"^0:0\d$"))
    greeting.click()
    evidence = page.locator('#transcript li[data-evidence="true"] .text')
    expect(evidence).to_have_text(["Thanks for calling Swift Movers.", "This is Dana."])
    expect(evidence.first).to_be_in_viewport()

    verification = page.locator('#checklist li[data-key="verification"]')
    expect(verification).to_have_attribute("data-due", "overdue")  # announced by the relay, a second in
    expect(verification.locator(".step-status")).to_have_text("overdue")
    expect(verification.locator(".step-timing")).to_have_text("due by 0:01")

    missed = page.locator('#checklist li[data-key="move-details"]')
    missed.locator(".step-note").fill("I asked about the piano")
    missed.locator(".step-dispute-button").click()
    expect(missed.locator(".step-dispute")).to_have_text("Disputed")
    expect(missed).to_have_attribute("data-status", "missed")  # next to the verdict, never instead of it
    expect(missed.locator(".step-dispute-button")).to_have_count(0)


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


def test_a_text_message_is_tagged_sms_and_speech_quietly_voice(relay, page):
    call = Call("moving-complete")
    call.play(relay, stop=call.until("utterance 2 (customer)")).wait()
    call.text(relay, "conv_communication_sms_tagged", "My new address is 1200 Barton Springs Rd.")
    open_live(page, f"{relay.url}/console/calls/{call.conversation}")  # the conversation's own stream
    line = page.locator("#transcript li", has_text="Barton Springs")
    expect(line.locator(".channel")).to_have_text("SMS")
    expect(line.locator(".channel")).not_to_have_class("channel channel-voice")
    open_live(page, f"{relay.url}/console/calls/{call.sid}")
    expect(page.locator("#transcript li").first.locator(".channel")).to_have_class("channel channel-voice")


def test_the_call_page_shows_texts_during_the_call_and_the_newest_suggested_response(relay, page):
    call = Call("moving-complete")
    call.play(relay, stop=call.until("utterance 2 (customer)")).wait()
    open_live(page, f"{relay.url}/console/calls/{call.sid}")
    expect(page.locator("#suggestion-panel")).to_be_hidden()
    call.text(relay, "conv_communication_sms_on_call", "Texting you the photos of the piano now.")
    expect(page.locator("#transcript li", has_text="photos of the piano").locator(".channel")).to_have_text("SMS")
    for n, text in enumerate(["Ask for the move date.", "Offer full-value protection for the piano."]):
        result = operator_result(f"intelligence_operatorresult_nbr{n}", NEXT_BEST_RESPONSE, {"text": text}, "TEXT")
        assert (
            post_json(
                relay.url, "/webhook/cintel-action", rule_execution([result], conversation=call.conversation)
            ).status_code
            == 200
        )
    expect(page.locator("#suggestion")).to_have_text("Offer full-value protection for the piano.")
    expect(page.locator("#suggestion-panel h2")).to_have_text("Suggested response")


def test_the_pages_recover_after_the_relay_restarts(relay, browser, page):
    call = Call("moving-complete")
    half = call.until("utterance 10 (customer)")
    call.play(relay, stop=half).wait()
    board = browser.new_page()
    open_live(board, relay.url + "/console")
    open_live(page, f"{relay.url}/console/calls/{call.sid}")
    expect(page.locator("#transcript .text")).to_have_text(call.lines[:10])
    relay.stop()  # SIGTERM, as a deploy does: the streams end at once and the browser reconnects
    try:
        # Reconnecting, or offline already after a few quick refusals (the backoff's jitter only shortens).
        expect(page.locator("#connection")).to_have_attribute("data-state", re.compile("reconnecting|offline"))
    finally:
        relay.start()  # a new gunicorn on the same port and Redis (the module's other tests need it too)
    # Each page backs off on its own (1, 2, 4, 8 s, jitter only shortening them): a restart slowed by a busy machine
    # can leave the board waiting out its fourth delay after the call's page is back. Both are live again before the
    # call goes on: a board that reconnects after a call has ended no longer lists it (ended calls leave the list).
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=20_000)
    expect(board.locator("#connection")).to_have_attribute("data-state", "live", timeout=20_000)
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
    assert {r["path"] for r in fake_twilio.requests} == {
        "/v1/Accounts/%s/Tokens/validate" % flex_env("")["TWILIO_ACCOUNT_SID"]
    }


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


def test_the_call_sid_stays_on_one_line_at_desktop_width(relay, page):
    call = Call("moving-complete")
    call.play(relay, stop=call.until("utterance 4 (customer)")).wait()
    open_live(page, relay.url + "/console")
    link = page.locator(f'tr[data-session="{call.sid}"] a.call-link')
    expect(link).to_have_text(call.sid)
    assert link.evaluate("(a) => a.getClientRects().length") == 1  # one line box: not broken in two
    link.click()
    expect(page.locator("#call-agent")).to_have_text("Dana Whitfield", timeout=15000)  # a page load, on a busy box
    page.wait_for_load_state("load")  # the stylesheet too: before it applies, line-height is "normal" (NaN below)
    lines = page.eval_on_selector(
        "#call-session",
        """(sid) => sid.getBoundingClientRect().height /
        parseFloat(getComputedStyle(sid).lineHeight)""",
    )
    assert round(lines, 2) == 1


# Cells of one board row that overlap on screen, and cells whose content is wider than the cell (cut off).
BOARD_LAYOUT = """(row) => {
    const cells = [...row.cells].map((cell) => [cell.className, cell.getBoundingClientRect(), cell]);
    const overlaps = [];
    cells.forEach(([a, ra], i) => cells.slice(i + 1).forEach(([b, rb]) => {
        const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
        const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
        if (x > 0.5 && y > 0.5) overlaps.push(a + " / " + b);
    }));
    const clipped = cells.filter(([, , cell]) => cell.scrollWidth > cell.clientWidth + 1).map(([name]) => name);
    const link = row.querySelector(".call-link");
    return {overlaps, clipped, linkLines: link.getClientRects().length,
            pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth};
}"""


def test_the_board_fits_a_phone(relay, phone):
    call = Call("skipped-verification")
    call.play(relay, stop=call.until("script adherence after utterance 14")).wait()  # still live, flagged
    open_live(phone, relay.url + "/console")
    row = phone.locator(f'tr[data-session="{call.sid}"]')
    expect(row.locator(".flag")).to_have_count(2)
    assert row.evaluate(BOARD_LAYOUT) == {"overlaps": [], "clipped": [], "linkLines": 1, "pageOverflow": 0}
    # With the table's head hidden, each value is shown under its column's name.
    assert row.locator(".col-agent").evaluate("(td) => getComputedStyle(td, '::before').content") == '"Agent"'
    row.locator("a.call-link").click()
    expect(phone.locator("#transcript .text")).to_have_text(call.lines)
    expect(phone.locator("#call-status")).to_have_text("In progress")
    assert phone.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0


def test_a_call_page_says_when_the_relay_knows_no_such_call_and_fills_in_when_it_starts(relay, page):
    call = Call("moving-complete")
    open_live(page, f"{relay.url}/console/calls/{call.sid}")
    expect(page.locator("#call-unknown")).to_have_text(
        f"No call {call.sid} is known to the relay: it has not started or its data expired. "
        "This page fills in by itself if the call starts."
    )
    expect(page.locator("#call-status")).to_have_text("Not known")
    call.play(relay, stop=call.until("utterance 2 (customer)")).wait()
    expect(page.locator("#transcript .text")).to_have_text(call.lines[:2])
    expect(page.locator("#call-unknown")).to_be_hidden()
    expect(page.locator("#call-status")).to_have_text("In progress")


def test_a_call_page_opened_after_the_data_expired_says_so(relay, page):
    """An ended call's data expires (CINTEL_COMPLETED_TTL); a bookmarked page then says what happened."""
    sid = "CA" + "0123456789abcdef" * 2
    page.goto(f"{relay.url}/console/calls/{sid}")
    expect(page.locator("#call-unknown")).to_contain_text(f"No call {sid} is known to the relay")
    assert requests.get(f"{relay.url}/api/board/calls/{sid}", timeout=5).json() == {
        "error": f"No call {sid} is known to the relay: it has not started or its data expired.",
        "code": "not_found",
    }


def test_with_flex_auth_an_unknown_call_is_named_only_to_a_signed_in_supervisor(flex_relay, fake_twilio, page):
    sid = "CA" + "fedcba9876543210" * 2
    refused = requests.get(f"{flex_relay.url}/api/board/calls/{sid}", timeout=5)
    assert (refused.status_code, "error" in refused.json()) == (401, True)
    supervisor = fake_twilio.add_user("sup_sky", roles=("supervisor",))
    open_live(page, f"{flex_relay.url}/console/calls/{sid}#token={supervisor}")
    expect(page.locator("#call-unknown")).to_contain_text(f"No call {sid} is known to the relay")


def test_the_call_page_heads_the_post_call_summary_and_keeps_it_against_a_late_running_one(relay, page):
    completed_call([relay, relay])
    open_live(page, f"{relay.url}/console/calls/{CALL_SID}")
    deliver(relay, rule_execution([summary("sum-final-console", "Moving Denver to Austin on May 3")]))
    expect(page.locator("#summary-title")).to_have_text("Post-call summary")
    late = summary("sum-running-console", "A running summary, delivered late", post=False)
    late["executionDetails"]["communications"] = {"first": "c1", "last": "c2"}
    deliver(relay, rule_execution([late]))
    expect(page.locator("#oplog > li")).to_have_count(2)  # the late result arrived, and was logged
    expect(page.locator("#summary")).to_have_text("Moving Denver to Austin on May 3")


def test_an_sms_only_conversation_is_shown_as_a_conversation_without_a_call_checklist(relay, page):
    """Last in the module: the conversation stays on the module relay's board (the board tests want it empty)."""
    conv = "conv_conversation_console_sms_only"
    open_live(page, relay.url + "/console")
    assert post_json(relay.url, "/webhook/cor-event", sms("console-sms-1", "Do you move pianos?", conv)).ok
    row = page.locator(f'tr[data-session="{conv}"]')
    expect(row).to_have_attribute("data-kind", "conversation")
    expect(row.locator(".col-call .sub")).to_have_text("SMS conversation · Customer not known yet")
    expect(row.locator(".col-agent .sub")).to_have_text("Open")
    expect(row.locator(".step-chip")).to_have_count(0)
    row.locator(".call-link").click()
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(page.locator("#call-kind")).to_have_text("SMS conversation")
    expect(page.locator("#call-status")).to_have_text("Open")
    expect(page.locator(".line .text")).to_have_text(["Do you move pianos?"])
    expect(page.locator("#checklist-panel")).to_be_hidden()
    expect(page).to_have_title(f"Conversation {conv} · cintel-relay console")
    # A call's page keeps its checklist, pending steps and all, from the first paint.
    call = Call("moving-complete")
    open_live(page, relay.url + f"/console/calls/{call.sid}")
    expect(page.locator("#call-kind")).to_have_text("Call")
    expect(page.locator("#checklist-panel .step")).to_have_count(len(STEPS))


@pytest.fixture
def audited_page(browser):
    """A desktop page with axe-core loaded as the browser's own script (the CSP forbids adding it to the page)."""
    context, tab = new_page(browser, 1400, 900)
    context.add_init_script(script=axe_source())
    yield tab
    context.close()


def test_the_call_page_lists_its_alerts_live_and_from_the_snapshot_firing_then_cleared(
    alerting_relay, browser, audited_page
):
    relay, page = alerting_relay, audited_page
    sid, conv = "CA" + "a1" * 16, "conv_conversation_alerts"

    def say(comm, text, speaker="customer"):
        body = communication(comm, text, speaker, call_sid=sid, conversation=conv)
        assert post_json(relay.url, "/webhook/cor-event", body).status_code == 200

    say("al1", "Hi, this is Dana from Swift Movers.", "agent")
    open_live(page, f"{relay.url}/console/calls/{sid}")
    expect(page.locator("#alerts-empty")).to_be_visible()

    say("al2", "I might cancel the move.")
    alert = page.locator('#alerts li[data-rule="cancel-words"]')
    expect(alert).to_have_attribute("data-state", "firing")
    expect(alert.locator(".alert-title")).to_have_text("Cancellation talk")
    expect(alert.locator(".alert-severity")).to_have_text("Critical")
    expect(alert.locator(".alert-severity")).to_have_attribute("data-severity", "critical")
    expect(alert.locator(".alert-state")).to_have_text("Firing")
    expect(alert.locator(".alert-why")).to_have_text("the customer said 'cancel'")
    expect(alert.locator(".alert-when")).to_have_text(re.compile(r"^Fired \S+"))
    expect(alert.locator(".alert-quote")).to_have_text("I might cancel the move.")
    expect(page.locator("#alerts-note")).to_have_text("1 firing")
    expect(page.locator("#alerts-empty")).to_be_hidden()
    assert audit(page) == []

    # A page opened now has it from the snapshot, with its evidence.
    context, opened = new_page(browser, 1400, 900)
    try:
        open_live(opened, f"{relay.url}/console/calls/{sid}")
        found = opened.locator('#alerts li[data-rule="cancel-words"]')
        expect(found).to_have_attribute("data-state", "firing")
        expect(found.locator(".alert-quote")).to_have_text("I might cancel the move.")
    finally:
        context.close()

    say("al3", "Actually, the date works after all.")
    expect(alert).to_have_attribute("data-state", "cleared")
    expect(alert.locator(".alert-state")).to_have_text("Cleared")
    expect(alert.locator(".alert-when")).to_have_text(re.compile(r"^Fired \S.*, cleared \S+"))
    expect(alert.locator(".alert-quote")).to_have_text("I might cancel the move.")  # what fired the episode
    expect(page.locator("#alerts-note")).to_have_text("0 firing")
    alert.locator(".alert-show").click()
    expect(page.locator('#transcript li[data-evidence="true"] .text')).to_have_text(["I might cancel the move."])
    assert audit(page) == []

    page.reload()  # the snapshot holds the rule's clearing
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(alert).to_have_attribute("data-state", "cleared")
    expect(alert.locator(".alert-when")).to_have_text(re.compile(r"^Fired \S.*, cleared \S+"))  # firedAt
    expect(alert.locator(".alert-why")).to_have_text("the customer said 'cancel'")
