"""End to end: the plugin's panel (its harness page, outside Flex) in headless Chromium, against a real
relay (gunicorn, Redis, Flex stream auth against a fake Twilio) fed by signed webhooks.

The harness is served by the ``harness_origin`` fixture (tests/e2e/conftest.py).
"""

import pytest
from playwright.sync_api import expect

from ..support import CALL_SID, adherence_result, communication, payload, post_json, rule_execution
from ..support.channels import sms
from ..support.fakes.twilio import sid
from ..support.flex_relays import start_flex_relay

WAIT_MS = 15_000


@pytest.fixture
def relay(redis_server, redis_client, fake_twilio, harness_origin):
    relay = start_flex_relay(
        redis_server.url, fake_twilio.url, CINTEL_CORS_ORIGINS=harness_origin, CINTEL_AUTH_TIMEOUT="5"
    )
    yield relay
    relay.stop()


@pytest.fixture
def agent_token(fake_twilio):
    """A signed-in agent whose worker has the call's task."""
    worker = sid("WK")
    fake_twilio.add_task(CALL_SID, worker)
    return fake_twilio.add_user("dana", roles=("agent",), worker_sid=worker)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 420, "height": 760})
    yield context.new_page()
    context.close()


def say(relay, n, text, speaker):
    assert (
        post_json(relay.url, "/webhook/cor-event", communication(f"comm-{n}", text, speaker=speaker)).status_code == 200
    )


def text_message(relay, n, text):
    """The customer's SMS in the call's conversation (a conversation grouped by profile holds both)."""
    assert post_json(relay.url, "/webhook/cor-event", sms(f"comm-{n}", text)).status_code == 200


def adherence(relay, n, **verdicts):
    assert (
        post_json(
            relay.url, "/webhook/cintel-action", rule_execution([adherence_result(f"res-{n}", **verdicts)])
        ).status_code
        == 200
    )


def test_panel_follows_a_call_live_and_survives_a_relay_restart(relay, agent_token, harness_origin, page):
    post_json(relay.url, "/webhook/cor-event", payload("cor-participant-added.json"))
    page.goto(f"{harness_origin}/index.html?backend={relay.url}&session={CALL_SID}&token={agent_token}")
    expect(page.get_by_text("Live", exact=True)).to_be_visible(timeout=WAIT_MS)

    say(relay, 1, "Thanks for contacting Swift Movers. This is Dana.", "agent")
    say(relay, 2, "Hi, I'm moving from Denver to Austin on March 3.", "customer")
    lines = page.get_by_test_id("transcript-line")
    expect(lines).to_have_count(2, timeout=WAIT_MS)
    expect(lines.nth(0)).to_contain_text("Agent")
    expect(lines.nth(1)).to_contain_text("Denver to Austin")

    page.get_by_role("tab", name="Agent view").click()
    expect(page.get_by_test_id("checklist-move-details")).to_contain_text("Move Details", timeout=WAIT_MS)
    adherence(relay, 1, greeting="Succeeded", verification="NotEvaluated")
    expect(page.get_by_test_id("checklist-greeting")).to_have_attribute("data-status", "met", timeout=WAIT_MS)
    expect(page.get_by_test_id("checklist-verification")).to_have_attribute("data-status", "pending")
    expect(page.get_by_test_id("score-value")).to_have_text("10%")
    unread = page.get_by_test_id("unread-count")
    expect(unread).to_contain_text("1")
    expect(unread.locator('[data-paste-element$="_ICON"]')).to_have_count(0)  # news, not an error

    relay.stop()
    expect(page.get_by_text("Live", exact=True)).to_have_count(0, timeout=WAIT_MS)
    relay.start()  # same port, same Redis: the panel reconnects with a new ticket and resumes
    adherence(relay, 2, greeting="Failed", verification="Succeeded")
    expect(page.get_by_test_id("checklist-verification")).to_have_attribute("data-status", "met", timeout=WAIT_MS)
    expect(page.get_by_test_id("checklist-greeting")).to_have_attribute("data-status", "met")
    expect(page.get_by_test_id("score-value")).to_have_text("30%")
    page.get_by_role("tab", name="Transcript").click()
    say(relay, 3, "Let me confirm the date and both cities.", "agent")
    expect(lines).to_have_count(3, timeout=WAIT_MS)
    expect(lines.nth(2)).to_contain_text("confirm the date")


def test_agent_without_the_task_sees_an_error_and_no_transcript(relay, fake_twilio, harness_origin, page):
    stranger = fake_twilio.add_user("eve", roles=("agent",), worker_sid=sid("WK"))
    say(relay, 1, "Secret account details.", "customer")
    page.goto(f"{harness_origin}/index.html?backend={relay.url}&session={CALL_SID}&token={stranger}")
    expect(page.get_by_text("Live", exact=True)).to_have_count(0)
    expect(page.get_by_text("You are not allowed to follow this call (403).")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Secret account details.")).to_have_count(0)


def test_a_text_the_customer_sends_during_the_call_shows_on_it_tagged_sms(relay, agent_token, harness_origin, page):
    post_json(relay.url, "/webhook/cor-event", payload("cor-participant-added.json"))
    page.goto(f"{harness_origin}/index.html?backend={relay.url}&session={CALL_SID}&token={agent_token}")
    expect(page.get_by_text("Live", exact=True)).to_be_visible(timeout=WAIT_MS)
    say(relay, 1, "Can you text me the quote?", "customer")
    text_message(relay, 2, "My new address is 1200 Barton Springs Rd.")
    lines = page.get_by_test_id("transcript-line")
    expect(lines).to_have_count(2, timeout=WAIT_MS)
    expect(lines.nth(1)).to_contain_text("1200 Barton Springs Rd.")
    expect(lines.nth(0).get_by_test_id("channel-tag")).to_have_text("Voice")
    expect(lines.nth(1).get_by_test_id("channel-tag")).to_have_text("SMS")


def test_the_panel_announces_a_newly_met_step_in_its_live_region(relay, agent_token, harness_origin, page):
    post_json(relay.url, "/webhook/cor-event", payload("cor-participant-added.json"))
    page.goto(f"{harness_origin}/index.html?backend={relay.url}&session={CALL_SID}&token={agent_token}")
    expect(page.get_by_text("Live", exact=True)).to_be_visible(timeout=WAIT_MS)
    announcer = page.get_by_test_id("announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")
    expect(announcer).to_have_text("")
    # "Live" is the stream's head; a step met before the panel has its snapshot is history, not news. A line on
    # screen means the snapshot is in (a stream sends it before any live frame).
    say(relay, 1, "Thanks for calling Swift Movers.", "agent")
    expect(page.get_by_test_id("transcript-line")).to_have_count(1, timeout=WAIT_MS)
    adherence(relay, 1, greeting="Succeeded", verification="NotEvaluated")
    expect(announcer).to_have_text("Step Greeting met.", timeout=WAIT_MS)
    transcript = page.get_by_role("region", name="Transcript, scrollable")
    for _ in range(6):  # the three tabs are one stop, then the transcript
        page.keyboard.press("Tab")
        if transcript.evaluate("node => node === document.activeElement"):
            break
    expect(transcript).to_be_focused()


@pytest.mark.parametrize("width, height", [(420, 760), (390, 844)], ids=["flex panel", "phone"])
def test_a_met_step_shows_its_evidence_and_a_missed_one_takes_a_dispute(
    relay, agent_token, harness_origin, browser, width, height
):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    post_json(relay.url, "/webhook/cor-event", payload("cor-participant-added.json"))
    page.goto(f"{harness_origin}/index.html?backend={relay.url}&session={CALL_SID}&token={agent_token}")
    expect(page.get_by_text("Live", exact=True)).to_be_visible(timeout=WAIT_MS)
    say(relay, 1, "Thanks for contacting Swift Movers. This is Dana.", "agent")
    say(relay, 2, "Hi, I'm moving from Denver to Austin on March 3.", "customer")
    for n in range(3, 12):
        say(relay, n, f"Small talk, line {n}.", "agent" if n % 2 else "customer")
    result = adherence_result("res-evidence", greeting="Succeeded", verification="Failed")
    result["executionDetails"]["communications"] = {"first": "comm-1", "last": "comm-2"}
    assert post_json(relay.url, "/webhook/cintel-action", rule_execution([result])).status_code == 200

    page.get_by_role("tab", name="Agent view").click()
    expect(page.get_by_test_id("checklist-greeting")).to_have_attribute("data-status", "met", timeout=WAIT_MS)
    page.get_by_test_id("evidence-greeting").click()
    expect(page.get_by_role("tab", name="Transcript")).to_have_attribute("aria-selected", "true")
    marked = page.locator('[data-testid="transcript-line"][data-evidence="true"]')
    expect(marked).to_have_count(2)
    expect(marked.nth(0)).to_contain_text("This is Dana.")
    expect(marked.nth(1)).to_contain_text("Denver to Austin")
    expect(marked.nth(0)).to_be_in_viewport()

    page.get_by_role("tab", name="Agent view").click()
    page.get_by_test_id("dispute-note-verification").fill("I confirmed both cities at 0:20")
    page.get_by_test_id("dispute-verification").click()
    expect(page.get_by_test_id("disputed-verification")).to_have_text("Disputed", timeout=WAIT_MS)
    expect(page.get_by_test_id("checklist-verification")).to_have_attribute("data-status", "missed")
    context.close()
