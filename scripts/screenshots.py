"""Regenerate the pictures in docs/images: ``python3 scripts/screenshots.py``.

Starts the relay as ``cintel-relay demo`` does (embedded bus, generated token), plays simulated calls
part of the way so they are live, and photographs with headless Chromium the console's board and one
call page, and the Flex plugin's panel on that call (its harness page, built by
``npm run harness:build`` in plugin-cintel-rtt). The relay runs with an operator catalog (:data:`CATALOG`), and
that call gets one result of each of its custom operators, so the insights (a CLASSIFICATION label with its tone,
EXTRACTION entity chips, JSON titled fields) are photographed in the console and in the plugin's Insights tab.
"""

import copy
import functools
import io
import json
import os
import secrets
import sys
import tempfile
import threading
from datetime import datetime, timezone
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import requests
from playwright.sync_api import expect, sync_playwright

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cintel_relay.simulator import demo  # noqa: E402
from cintel_relay.simulator import player as simulator  # noqa: E402
from cintel_relay.simulator.posts import Post, twilio_id  # noqa: E402
from tests.support import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402

#: (scenario, share of its deliveries played): calls caught at different moments.
#: The first, whose call page and panel are photographed, is the customer who texted first: caught during
#: the first call, after an SMS sent during it and a suggested response.
CALLS = [("texted-first", 0.42), ("skipped-verification", 0.8), ("moving-complete", 0.3), ("abandoned", 0.5)]


#: The shipped example catalog's two operators (by made-up ids, as if setup had created them) and an
#: EXTRACTION one, with a result of each for the photographed call.
UPSELL, CHURN, MOVE = (f"intelligence_operator_01kg2v{n}0c1d2e3f4g5h6j7k8m9" for n in "xyz")
EXTRACTION = {"key": "move-details", "name": "Move Details", "operatorId": MOVE, "outputFormat": "EXTRACTION"}
RESULTS = [
    (CHURN, "CLASSIFICATION", {"label": "HIGH"}),
    (MOVE, "EXTRACTION", {"entities": [
        {"text": "Denver, CO", "label": "ORIGIN"}, {"text": "Austin, TX", "label": "DESTINATION"},
        {"text": "March 3", "label": "MOVE_DATE"}, {"text": "upright piano", "label": "ITEM"},
    ]}),
    (UPSELL, "JSON", {"opportunity": True, "likelihood": "HIGH",
                      "evidence": {"quote": "an upright piano, two framed paintings and a sofa"}}),
]  # fmt: skip


def catalog(path: str) -> str:
    """Write the screenshots' operator catalog to ``path``."""
    with open(os.path.join(ROOT, "cintel_relay", "data", "operators.example.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    for entry, operator_id in zip(data["operators"], (UPSELL, CHURN)):
        entry["operatorId"] = operator_id
    data["operators"].append(EXTRACTION)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    return path


def with_insights(played) -> Post:
    """A rule execution for the call of ``played`` carrying one result of each of :data:`RESULTS`, shaped like
    the simulator's own last one (its conversation, trigger and communications)."""
    last = next(d for d in reversed(played) if d.path.endswith("/cintel-action"))
    body = copy.deepcopy(last.body)
    template = body["operatorResults"][0]
    body["operatorResults"] = [
        {**copy.deepcopy(template), "id": twilio_id("intelligence_operatorresult"), "outputFormat": fmt,
         "operator": {"id": operator_id, "version": 1, "parameters": None}, "result": result}
        for operator_id, fmt, result in RESULTS
    ]  # fmt: skip
    return Post(at=0, path=last.path, body=body, label="custom operators")


def play_partly(base: str, token: str) -> str:
    """Play each call of CALLS part of the way, the first with the custom operators' results; its Call SID."""
    report = simulator.Report(io.StringIO())
    sids = []
    with requests.Session() as http:
        for name, share in CALLS:
            deliveries = simulator.build_call(simulator.load_scenario(name), datetime.now(timezone.utc), speed=1000)
            played = deliveries[: int(len(deliveries) * share)]
            if not sids:
                played.append(with_insights(played))
            simulator.play(played, base, token, report, 1000, threading.Event(), http)
            sids.append(next(d.body["CallSid"] for d in played if d.form))
    if report.failed:
        sys.exit(f"screenshots: {report.failed} deliveries were refused; see the relay log")
    return sids[0]


HARNESS = os.path.join(ROOT, "plugin-cintel-rtt", "harness", "dist")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        """The script reports what it wrote, not every file it served."""


def serve_harness() -> ThreadingHTTPServer:
    """The plugin's harness page on a loopback port (the relay must allow its origin)."""
    if not os.path.isfile(os.path.join(HARNESS, "index.html")):
        sys.exit("screenshots: build the plugin harness first: cd plugin-cintel-rtt && npm run harness:build")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=HARNESS))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    port = free_port()
    token = secrets.token_hex(16)
    base = f"http://{demo.HOST}:{port}"
    harness = serve_harness()
    harness_url = f"http://127.0.0.1:{harness.server_address[1]}"
    with (
        tempfile.NamedTemporaryFile(prefix="cintel-relay-shots-", suffix=".log") as log,
        tempfile.TemporaryDirectory(prefix="cintel-relay-shots-") as home,
    ):
        operators = catalog(os.path.join(home, "operators.json"))
        proc = demo.start_relay(port, token, log, origins=(harness_url,), CINTEL_OPERATORS_FILE=operators)
        try:
            call = play_partly(base, token)
            images = os.path.join(ROOT, "docs", "images")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 720}, device_scale_factor=1)
                page.goto(base + "/console")
                # The pages' Content-Security-Policy forbids evaluated script, so wait from here.
                # One row per call, plus the texted-first customer's SMS thread (a session of its own).
                expect(page.locator("#board-rows tr")).to_have_count(len(CALLS) + 1, timeout=15000)
                page.wait_for_timeout(1500)  # durations tick past zero
                page.screenshot(path=os.path.join(images, "console-board.png"), full_page=True)
                page.set_viewport_size({"width": 1440, "height": 1000})
                page.goto(f"{base}/console/calls/{call}")
                page.wait_for_selector("#transcript li")
                page.wait_for_selector("#checklist li[data-status=met]")
                expect(page.locator("#insights li.insight")).to_have_count(len(RESULTS))
                page.wait_for_timeout(600)  # the score bar's transition ends
                page.screenshot(path=os.path.join(images, "console-call.png"))
                page.locator("#insights-panel").screenshot(path=os.path.join(images, "console-insights.png"))
                panel = browser.new_page(viewport={"width": 1280, "height": 820}, device_scale_factor=1)
                for tab in ("transcript", "agent-view", "insights"):
                    panel.goto(f"{harness_url}/index.html?backend={base}&session={call}&tab={tab}")
                    panel.wait_for_selector("text=Live")
                    if tab == "insights":
                        expect(panel.get_by_test_id("insight")).to_have_count(len(RESULTS))
                        panel.set_viewport_size({"width": 1280, "height": 480})  # the three cards, no blank below
                    panel.wait_for_timeout(800)
                    panel.screenshot(path=os.path.join(images, f"plugin-{tab}.png"))
                browser.close()
        finally:
            demo.stop_relay(proc)
            harness.shutdown()
    print(
        "wrote console-board.png, console-call.png, console-insights.png, plugin-transcript.png, "
        "plugin-agent-view.png and plugin-insights.png in docs/images"
    )


if __name__ == "__main__":
    main()
