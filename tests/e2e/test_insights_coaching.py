"""End to end in headless Chromium: custom operators' insights (CLASSIFICATION, EXTRACTION) and a supervisor's
coaching note in the plugin's panel (its harness page) and the console's call page, on real relays fed by signed
webhooks. Two replicas: what is posted to one reaches pages streaming from the other."""

import json

import pytest
import requests
from playwright.sync_api import expect

from ..support import CALL_SID, communication, operator_result, payload, post_json, rule_execution
from ..support.fakes.twilio import sid
from ..support.flex_relays import start_flex_relay
from ..test_catalog import CHURN_ID, UNKNOWN_ID, example
from ..test_stream_auth import get_ticket

WAIT_MS = 15_000
NOTE = "Offer the storage add-on before you wrap up."


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    data = example()
    data["operators"][1]["operatorId"] = CHURN_ID
    path = tmp_path_factory.mktemp("catalog") / "operators.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def pair(redis_server, redis_client, fake_twilio, harness_origin, catalog):
    relays = [
        start_flex_relay(
            redis_server.url,
            fake_twilio.url,
            CINTEL_CORS_ORIGINS=harness_origin,
            CINTEL_AUTH_TIMEOUT="5",
            CINTEL_OPERATORS_FILE=catalog,
        )
        for _ in range(2)
    ]
    yield relays
    for relay in relays:
        relay.stop()


@pytest.fixture
def people(fake_twilio):
    """(the agent handling the call, a supervisor)."""
    worker = sid("WK")
    fake_twilio.add_task(CALL_SID, worker)
    return fake_twilio.add_user("dana", roles=("agent",), worker_sid=worker), fake_twilio.add_user(
        "sam", roles=("supervisor",)
    )


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 420, "height": 900})
    yield context.new_page()
    context.close()


def insights(relay):
    entities = {"entities": [{"text": "Austin", "label": "CITY"}, {"text": "March 3", "label": "DATE"}]}
    results = [
        operator_result("ins-1", CHURN_ID, {"label": "HIGH"}, output_format="CLASSIFICATION"),
        operator_result("ins-2", UNKNOWN_ID, entities, output_format="EXTRACTION"),
    ]
    assert post_json(relay.url, "/webhook/cintel-action", rule_execution(results)).status_code == 200


def test_the_agents_panel_shows_insights_and_a_supervisors_note_at_once(pair, people, harness_origin, page):
    agent, supervisor = people
    first, second = pair
    post_json(first.url, "/webhook/cor-event", payload("cor-participant-added.json"))
    assert post_json(
        first.url, "/webhook/cor-event", communication("c1", "We move to Austin on March 3.", "customer")
    ).ok
    page.goto(f"{harness_origin}/index.html?backend={second.url}&session={CALL_SID}&token={agent}")
    expect(page.get_by_text("Live", exact=True)).to_be_visible(timeout=WAIT_MS)
    # "Live" comes with the stream's head, before its snapshot: the line said before the page opened shows once the
    # snapshot is in, so the insights below arrive as live frames, in the order they were logged (a snapshot keeps
    # them by operator, in no order to rely on).
    expect(page.get_by_test_id("transcript-line")).to_have_count(1, timeout=WAIT_MS)

    insights(first)
    page.get_by_role("tab", name="Insights").click()
    cards = page.get_by_test_id("insight")
    expect(cards).to_have_count(2, timeout=WAIT_MS)
    expect(cards.nth(0)).to_contain_text("Churn Risk")
    expect(cards.nth(0).get_by_text("HIGH")).to_have_attribute("data-tone", "critical")
    expect(cards.nth(1).get_by_test_id("insight-entity")).to_have_text(["CITY: Austin", "DATE: March 3"])
    expect(cards.nth(1)).to_contain_text(UNKNOWN_ID)  # an operator the catalog does not list, titled by its id

    refused = requests.post(
        f"{first.url}/api/calls/{CALL_SID}/coaching",
        params={"ticket": get_ticket(first, agent)},
        json={"text": "I coach myself"},
        timeout=10,
    )
    assert refused.status_code == 403
    sent = requests.post(
        f"{first.url}/api/calls/{CALL_SID}/coaching",
        params={"ticket": get_ticket(first, supervisor, "board")},
        json={"text": NOTE},
        timeout=10,
    )
    assert sent.status_code == 201, sent.text
    card = page.get_by_test_id("coaching-card")
    expect(card).to_contain_text(f"From your supervisor: {NOTE}", timeout=WAIT_MS)
    expect(page.get_by_text("I coach myself")).to_have_count(0)
    card.get_by_role("button").click()
    expect(card).to_have_count(0)


def test_the_console_call_page_shows_insights_and_sends_a_note(pair, people, browser):
    _, supervisor = people
    first, second = pair
    assert post_json(first.url, "/webhook/cor-event", communication("c1", "Hello, Swift Movers.", "agent")).ok
    insights(first)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    console = context.new_page()
    try:
        console.goto(f"{second.url}/console/calls/{CALL_SID}#token={supervisor}")
        cards = console.locator("#insights .insight")
        expect(cards).to_have_count(2, timeout=WAIT_MS)
        churn = cards.filter(has_text="Churn Risk")  # a snapshot keeps insights by operator: no order to rely on
        expect(churn.locator(".insight-tone")).to_have_attribute("data-tone", "critical")
        expect(cards.filter(has=console.locator(".insight-entity")).locator(".insight-entity")).to_have_text(
            ["CITY: Austin", "DATE: March 3"]
        )

        console.get_by_label("Note to the agent").fill(NOTE)
        console.get_by_role("button", name="Send to agent").click()
        expect(console.locator("#coaching-result")).to_have_text("Sent.", timeout=WAIT_MS)
        expect(console.locator("#coaching .coaching-note")).to_contain_text([NOTE], timeout=WAIT_MS)
    finally:
        context.close()
