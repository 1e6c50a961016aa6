"""End to end: the plugin's harness page, in headless Chromium, follows a call live.

The harness bundle (``plugin-cintel-rtt/harness/dist``) must already be built
(``npm run harness:build``); this test builds nothing. It serves that folder
statically and points the page at a relay speaking the SSE contract of
``shared/DESIGN.md``. Until the relay's own fixtures are wired in, that relay is
``ContractRelay`` below: a stdlib HTTP server that implements exactly the
documented surface (``/api/script``, ``/api/stream-ticket``, ``/api/stream/<id>``
with ``id:`` lines, ``lastEventId`` resume and heartbeats) and lets the test
publish frames.
"""

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer, BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
HARNESS_DIST = ROOT / "plugin-cintel-rtt" / "harness" / "dist"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SESSION_ID = "CA0e2e0e2e0e2e0e2e0e2e0e2e0e2e0e2e"
FLEX_TOKEN = "e2e-flex-token"
SCRIPT = {
    "name": "Moving company intake",
    "categories": [
        {"key": "greeting", "label": "Greeting", "description": "Greet the caller.", "weight": 10},
        {"key": "verification", "label": "Verification", "description": "Verify identity.", "weight": 20},
        {"key": "move_details", "label": "Move Details", "description": "Dates and addresses.", "weight": 40},
        {"key": "confirmation", "label": "Confirmation", "description": "Read back.", "weight": 30},
    ],
}
WAIT_MS = 15_000


class ContractRelay:
    """A relay stand-in that serves one session's event log over SSE, per the contract."""

    def __init__(self):
        self.log = []  # [(event id, frame)] in stream order
        self.tickets = []  # Authorization headers seen on ticket requests
        self.stream_queries = []  # query dicts of every stream request
        self._changed = threading.Condition()
        self._generation = 0  # bumped to drop every open stream
        self._stopping = False
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _cors(self):
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
                self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")

            def _json(self, status, body):
                payload = json.dumps(body).encode()
                self.send_response(status)
                self._cors()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_OPTIONS(self):
                self.send_response(204)
                self._cors()
                self.end_headers()

            def do_GET(self):
                url = urlparse(self.path)
                if url.path == "/api/script":
                    self._json(200, SCRIPT)
                elif url.path == f"/api/stream/{SESSION_ID}":
                    relay._stream(self, parse_qs(url.query))
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if urlparse(self.path).path != "/api/stream-ticket" or body.get("sessionId") != SESSION_ID:
                    self._json(404, {"error": "not found"})
                    return
                relay.tickets.append(self.headers.get("Authorization"))
                self._json(200, {"ticket": f"ticket-{len(relay.tickets)}", "expiresAt": "2099-01-01T00:00:00Z",
                                 "auth": "flex"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self.server.shutdown()
        self.server.server_close()

    def publish(self, frame):
        """Append a frame to the session log with the next Redis-style id and wake the streams."""
        with self._changed:
            self.log.append((f"1764079200000-{len(self.log)}", frame))
            self._changed.notify_all()

    def drop_streams(self):
        """Close every open stream, as a replica restart or a network blip would."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def _stream(self, handler, query):
        self.stream_queries.append(query)
        if query.get("ticket", [""])[0] not in {f"ticket-{n}" for n in range(1, len(self.tickets) + 1)}:
            handler._json(401, {"error": "invalid ticket"})
            return
        handler.send_response(200)
        handler._cors()
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.end_headers()

        def send(frame, event_id=None):
            lines = (f"id: {event_id}\n" if event_id else "") + f"data: {json.dumps(frame)}\n\n"
            handler.wfile.write(lines.encode())
            handler.wfile.flush()

        with self._changed:
            generation = self._generation
            ids = [event_id for event_id, _ in self.log]
        resume_from = query.get("lastEventId", [None])[0]
        try:
            send({"type": "connected", "sessionId": SESSION_ID})
            if resume_from in ids:
                position = ids.index(resume_from) + 1
            else:
                send({"type": "initial", "transcript": [], "operatorResults": [], "adherence": None,
                      "sentiment": None, "summary": None, "callStatus": {"status": "in-progress"}})
                position = 0
            while True:
                with self._changed:
                    while (position >= len(self.log) and generation == self._generation
                           and not self._stopping):
                        if not self._changed.wait(timeout=1.0):
                            break
                    if self._stopping or generation != self._generation:
                        return
                    pending = self.log[position:]
                position += len(pending)
                for event_id, frame in pending:
                    send(frame, event_id)
                if not pending:
                    handler.wfile.write(b": heartbeat\n\n")
                    handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


class QuietStaticHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def relay():
    relay = ContractRelay()
    relay.start()
    yield relay
    relay.stop()


@pytest.fixture
def harness_url():
    assert (HARNESS_DIST / "index.html").is_file(), (
        f"{HARNESS_DIST} is not built: run `npm run harness:build` in plugin-cintel-rtt first"
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(QuietStaticHandler, directory=str(HARNESS_DIST)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def transcript(text, speaker, n):
    return {"type": "transcript", "data": {"id": f"GC{n:04d}", "timestamp": "2026-11-25T14:00:00Z",
                                           "speaker": speaker, "text": text}}


def adherence(greeting, verification, score):
    statuses = {"greeting": greeting, "verification": verification}
    return {"type": "adherence", "data": {
        "categories": [{"key": c["key"], "label": c["label"], "weight": c["weight"],
                        "status": statuses.get(c["key"], "pending")} for c in SCRIPT["categories"]],
        "score": score, "explanation": "Greeting done.", "timestamp": "2026-11-25T14:00:05Z",
        "operatorResultId": "OR0001"}}


def test_transcript_and_checklist_update_live(relay, harness_url, page):
    page.goto(f"{harness_url}?backend={relay.url}&session={SESSION_ID}&token={FLEX_TOKEN}")
    expect(page.get_by_text("Live", exact=True)).to_be_visible(timeout=WAIT_MS)
    assert relay.tickets == [f"Bearer {FLEX_TOKEN}"]
    expect(page.get_by_text("No one has spoken yet on this call.")).to_be_visible()

    relay.publish(transcript("Thanks for calling Swift Movers, this is Dana.", "agent", 1))
    relay.publish(transcript("I need to move next month.", "customer", 2))
    lines = page.get_by_test_id("transcript-line")
    expect(lines).to_have_count(2, timeout=WAIT_MS)
    expect(lines.nth(0)).to_contain_text("Agent")
    expect(lines.nth(1)).to_contain_text("I need to move next month.")

    page.get_by_role("tab", name="Agent view").click()
    greeting = page.get_by_test_id("checklist-greeting")
    expect(greeting).to_have_attribute("data-status", "pending", timeout=WAIT_MS)
    expect(page.get_by_test_id("checklist-confirmation")).to_contain_text("Confirmation")

    relay.publish(adherence("met", "pending", 10))
    expect(greeting).to_have_attribute("data-status", "met", timeout=WAIT_MS)
    expect(page.get_by_test_id("score-value")).to_have_text("10%")
    expect(page.get_by_text("Greeting done.")).to_be_visible()


def test_resumes_after_a_dropped_stream_without_losing_events(relay, harness_url, page):
    page.goto(f"{harness_url}?backend={relay.url}&session={SESSION_ID}&token={FLEX_TOKEN}")
    relay.publish(transcript("Before the drop.", "agent", 1))
    lines = page.get_by_test_id("transcript-line")
    expect(lines).to_have_count(1, timeout=WAIT_MS)
    last_id = relay.log[-1][0]

    relay.drop_streams()
    relay.publish(transcript("Said while the stream was down.", "customer", 2))

    expect(lines).to_have_count(2, timeout=WAIT_MS)
    expect(lines.nth(1)).to_contain_text("Said while the stream was down.")
    resumed = relay.stream_queries[-1]
    assert resumed["lastEventId"] == [last_id]
    assert resumed["ticket"] == [f"ticket-{len(relay.tickets)}"] and len(relay.tickets) >= 2
