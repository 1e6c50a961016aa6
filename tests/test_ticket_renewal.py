"""The console in a real browser when its stream ticket runs out: the relay ends the stream, and the page
trades its Flex token for a fresh ticket on every reconnect and resumes; a token that has expired meanwhile
gets none, and the page says so. The pages' Content-Security-Policy blocks nothing they use."""

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from .support import CALL_SID, communication, post_json
from .support.flex_relays import flex_relay_of_its_own

#: Long enough for the page to load and stream before the token's first ticket runs out, on a loaded machine.
SHORT_TOKEN_SECONDS = 10


@pytest.fixture(scope="module")
def flex_relay(twilio_server):
    with flex_relay_of_its_own(twilio_server.url, CINTEL_AUTH_TIMEOUT="5") as relay:
        yield relay


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(15000)
    page = context.new_page()
    page.csp_violations = []
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and page.csp_violations.append(message.text),
    )
    page.stream_tickets = []
    page.on("request", lambda request: "/api/stream/" in request.url and page.stream_tickets.append(ticket_of(request)))
    yield page
    context.close()


def ticket_of(request):
    return parse_qs(urlparse(request.url).query).get("ticket", [None])[0]


def say(relay, n, text):
    assert post_json(relay.url, "/webhook/cor-event", communication(f"renewal-{n}", text)).status_code == 200


def test_the_call_page_fetches_a_fresh_ticket_when_its_ticket_runs_out(flex_relay, fake_twilio, page):
    token = fake_twilio.add_user("sup_sam", roles=["supervisor"], expires_in=SHORT_TOKEN_SECONDS)
    page.goto(f"{flex_relay.url}/console/calls/{CALL_SID}#token={token}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    # The token stays valid from now on (as a refreshed Flex session would be); its first ticket, minted
    # already, still ends with the token's first expiry.
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    fake_twilio.users[token]["expiration"] = later.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    first = page.stream_tickets[0]
    say(flex_relay, 1, "before the ticket ran out")
    expect(page.locator("#transcript .text")).to_have_text(["before the ticket ran out"])
    # However late this test looks (a loaded machine), a later stream request carries another ticket.
    for _ in range((SHORT_TOKEN_SECONDS + 20) * 5):
        if any(ticket not in (None, first) for ticket in page.stream_tickets):
            break
        page.wait_for_timeout(200)
    assert any(ticket not in (None, first) for ticket in page.stream_tickets), page.stream_tickets
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    say(flex_relay, 2, "after a fresh ticket")
    expect(page.locator("#transcript .text")).to_have_text(["before the ticket ran out", "after a fresh ticket"])
    assert len(set(page.stream_tickets)) == len(page.stream_tickets), (
        "a reconnect reused a ticket instead of a fresh one"
    )
    assert page.csp_violations == []


def test_a_token_that_expired_gets_no_new_ticket_and_the_page_says_so(flex_relay, fake_twilio, page):
    token = fake_twilio.add_user("sup_gone", roles=["supervisor"], expires_in=SHORT_TOKEN_SECONDS)
    page.goto(f"{flex_relay.url}/console/calls/{CALL_SID}#token={token}")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    expect(page.locator("#connection")).to_have_attribute(
        "data-state", "refused", timeout=(SHORT_TOKEN_SECONDS + 20) * 1000
    )
    expect(page.locator("#connection .label")).to_contain_text("expired")
    assert page.csp_violations == []
