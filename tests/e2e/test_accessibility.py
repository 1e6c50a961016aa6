"""The console by keyboard and screen reader, in headless Chromium: the board keeps keyboard focus while it
updates, and the call page says what changed through its live region."""

import re

import pytest
from playwright.sync_api import expect

from ..support import (
    CALL_SID,
    SENTIMENT_OPERATOR,
    RedisServer,
    Relay,
    adherence_result,
    communication,
    operator_result,
    payload,
    post_json,
    rule_execution,
)

#: The user's pace: one key every 0.7 s, slow enough for the board to update between keys.
KEY_PAUSE_MS = 700


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


def focused_link(page):
    """The text of the call link that has keyboard focus, or None."""
    return page.evaluate(
        "() => document.activeElement.matches('a.call-link') ? document.activeElement.textContent : null"
    )


def row_versions(page):
    return page.eval_on_selector_all("#board-rows tr", "rows => rows.map(r => r.dataset.session + r.dataset.version)")


def test_the_keyboard_opens_the_third_call_on_a_board_that_is_updating(demo, page):
    page.goto(demo + "/console")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(page.locator("#board-rows tr").nth(3)).to_be_attached()  # four calls at a time
    links = []
    for _ in range(12):  # the brand link, then one stop per call
        page.keyboard.press("Tab")
        page.wait_for_timeout(KEY_PAUSE_MS)
        if (link := focused_link(page)) and link not in links:
            links.append(link)
        if len(links) == 3:
            break
    assert len(links) == 3, links
    third = links[-1]
    seen = row_versions(page)
    page.wait_for_function(
        "seen => [...document.querySelectorAll('#board-rows tr')].some("
        "r => !seen.includes(r.dataset.session + r.dataset.version))",
        arg=seen,
    )
    page.wait_for_timeout(KEY_PAUSE_MS)  # the board went on updating while the user looked
    assert focused_link(page) == third
    expect(page.locator(f'tr[data-session="{third}"] .steps li').first).to_have_attribute(
        "title", re.compile(r"^.+: (met|missed|overdue|pending)$")
    )
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{demo}/console/calls/{third}")


def test_the_board_says_each_steps_status_in_words_and_ended_calls_are_not_faded(demo, page):
    page.goto(demo + "/console")
    steps = page.locator("#board-rows tr .steps li")
    expect(steps.first).to_be_attached()
    names = steps.locator(".step-name").all_text_contents()
    assert names and all(name.split(": ")[-1] in ("met", "missed", "overdue", "pending") for name in names), names
    assert page.locator("#board-rows tr .steps").first.get_attribute("aria-label") == "Script steps"
    expect(page.locator("#announcer")).to_have_text(re.compile(r"^\d+ live calls?, \d+ needs? attention"))
    ended = page.locator('#board-rows tr[data-ended="true"]').first
    expect(ended).to_be_attached(timeout=120_000)
    assert ended.evaluate("row => getComputedStyle(row).opacity") == "1"


def test_the_call_page_announces_a_step_met_and_an_alert(relay, page):
    assert post_json(relay.url, "/webhook/cor-event", payload("cor-participant-added.json")).status_code == 200
    page.goto(f"{relay.url}/console/calls/{CALL_SID}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    announcer = page.locator("#announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")
    expect(announcer).to_have_text("")

    result = adherence_result("res-1", greeting="Succeeded", verification="NotEvaluated")
    assert post_json(relay.url, "/webhook/cintel-action", rule_execution([result])).status_code == 200
    expect(announcer).to_have_text("Step Greeting met.")

    negative = operator_result("res-2", SENTIMENT_OPERATOR, {"label": "NEGATIVE"}, "CLASSIFICATION")
    assert post_json(relay.url, "/webhook/cintel-action", rule_execution([negative])).status_code == 200
    expect(announcer).to_have_text("Alert: the customer's sentiment turned negative.")


def test_the_scrolling_transcript_takes_keyboard_focus_at_phone_width(relay, browser):
    context = browser.new_context(viewport={"width": 400, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{relay.url}/console/calls/{CALL_SID}")
        transcript = page.get_by_role("list", name="Transcript")
        expect(transcript).to_be_attached()
        for _ in range(4):  # the brand link, the board link in the crumbs (hidden on a phone), the transcript
            page.keyboard.press("Tab")
            if transcript.evaluate("node => node === document.activeElement"):
                break
        expect(transcript).to_be_focused()
        assert transcript.evaluate("node => getComputedStyle(node).outlineStyle") != "none"
    finally:
        context.close()


def test_the_board_announces_the_connection_lost_and_back(relay, page):
    page.goto(f"{relay.url}/console")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    announcer = page.locator("#announcer")
    relay.stop()
    expect(announcer).to_contain_text("Connection lost")
    relay.start()  # same port, same Redis
    expect(announcer).to_contain_text("Connection back", timeout=40_000)


def tab_to(page, selector: str, limit: int = 80):
    """Press Tab until the element matching ``selector`` has focus (keyboard only); fails after ``limit`` presses."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never took keyboard focus in {limit} presses of Tab")


def test_by_keyboard_alone_a_step_is_disputed_and_a_coaching_note_sent(relay, page):
    sid, conversation = "CA" + "6b" * 16, "conv_keyboard_only"
    line = communication("kb-1", "Thanks for calling Swift Movers", call_sid=sid, conversation=conversation)
    assert post_json(relay.url, "/webhook/cor-event", line).status_code == 200
    verdicts = adherence_result("kb-res-1", greeting="Succeeded", verification="Failed")
    assert post_json(relay.url, "/webhook/cintel-action", rule_execution([verdicts], conversation)).status_code == 200
    page.goto(f"{relay.url}/console/calls/{sid}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    step = page.locator('#checklist [data-key="verification"]')
    expect(step).to_contain_text("missed")

    tab_to(page, '[aria-label="Note for the dispute of Verification"]')
    page.keyboard.type("Asked for the move date at 0:35")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "I did this"
    page.keyboard.press("Enter")
    expect(step).to_contain_text("Disputed")

    tab_to(page, "#coaching-text")
    page.keyboard.type("Confirm the move date before pricing")
    tab_to(page, "#coaching-send", limit=3)
    page.keyboard.press("Enter")
    expect(page.locator("#coaching li")).to_contain_text("Confirm the move date before pricing")
