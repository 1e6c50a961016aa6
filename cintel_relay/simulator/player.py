"""Replays realistic conversations against a relay exactly as Twilio would deliver them, signed with the auth token.

:mod:`cintel_relay.simulator.deliveries` turns a scenario into its webhook deliveries; :func:`run` plays scenarios
concurrently with realistic pacing, and the ``simulate`` command reports how the relay answered.
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from typing import List, Optional

import requests

from .deliveries import Delivery, build_call, load_scenario, scenario_names
from .signing import sign_form, sign_json


def signed_request(base_url: str, delivery: Delivery, token: str):
    """(url, headers, body bytes) for a delivery, signed as Twilio signs it (:mod:`.signing`)."""
    url = base_url.rstrip("/") + delivery.path
    headers = dict(delivery.headers)
    if delivery.form:
        raw = urllib.parse.urlencode(delivery.body).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["X-Twilio-Signature"] = sign_form(url, delivery.body, token)
        return url, headers, raw
    raw = json.dumps(delivery.body, ensure_ascii=False).encode("utf-8")
    url, headers["X-Twilio-Signature"] = sign_json(url, raw, token)
    headers["Content-Type"] = "application/json"
    return url, headers, raw


class Report:
    """What a run sent and how the relay answered; prints progress as it goes. Safe across threads."""

    def __init__(self, out=sys.stdout, quiet: bool = False):
        self._out = out
        self._quiet = quiet
        self._lock = threading.Lock()
        self.calls = self.sent = self.failed = self.held = self.duplicates = 0

    def _print(self, line: str):
        self._out.write(line + "\n")
        self._out.flush()

    def call(self, sid: str, scenario: str, finished: bool):
        """A call started, or played to its end."""
        with self._lock:
            self.calls += finished
            self._print(f"{sid}  {scenario}: {'call ended' if finished else 'call started'}")

    def delivery(self, sid: str, delivery: Delivery, status: Optional[int], answer: str, body: Optional[dict]):
        """Count one delivery; a failure (no answer, or not 2xx) is always printed."""
        ok = status is not None and 200 <= status < 300
        with self._lock:
            self.sent += 1
            self.failed += not ok
            if ok and isinstance(body, dict):
                self.held += body.get("held", 0)
                self.duplicates += body.get("duplicates", 0)
            if not ok:
                self._print(f"{sid}  FAILED {delivery.label} ({delivery.path}): {answer}")
            elif not self._quiet:
                self._print(f"{sid}  {delivery.label} -> {status}")

    def summary(self) -> str:
        """One line: calls, deliveries, failures, and what the relay held and deduplicated."""
        calls = f"{self.calls} call{'' if self.calls == 1 else 's'}"
        return (
            f"{calls}, {self.sent} deliveries, {self.sent - self.failed} accepted, {self.failed} failed; "
            f"the relay held {self.held} events until their call was known "
            f"and dropped {self.duplicates} duplicates."
        )


def send(delivery: Delivery, sid: str, base_url: str, token: str, report: Report, http: requests.Session):
    """Sign and send one delivery, and report how the relay answered."""
    url, headers, raw = signed_request(base_url, delivery, token)
    try:
        response = http.post(url, data=raw, headers=headers, timeout=10)
    except requests.RequestException as exc:
        report.delivery(sid, delivery, None, f"no answer ({type(exc).__name__})", None)
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    answer = f"{response.status_code} {body.get('error', '') if isinstance(body, dict) else response.text[:200]}"
    report.delivery(sid, delivery, response.status_code, answer, body)


def first_call(deliveries: List[Delivery]) -> str:
    """The Call SID of a scenario run's first call: how the report names the run (or a part of one)."""
    return next((d.body["CallSid"] for d in deliveries if d.form), "(no call)")


def play(
    deliveries: List[Delivery],
    base_url: str,
    token: str,
    report: Report,
    speed: float,
    stop: threading.Event,
    http: requests.Session,
) -> bool:
    """Send a run's deliveries at their pace; False when ``stop`` cut it short, in which case its calls are
    hung up at once (the remaining deliveries that end a call that rang, or the conversation, are sent) so
    nothing stays live on the relay."""
    sid = first_call(deliveries)
    rang = set()
    started = time.monotonic()
    for n, delivery in enumerate(deliveries):
        if stop.wait(max(0.0, started + delivery.at / speed - time.monotonic())):
            for closing in deliveries[n:]:
                if closing.hangs_up and (not closing.form or closing.body["CallSid"] in rang):
                    send(closing, sid, base_url, token, report, http)
            return False
        send(delivery, sid, base_url, token, report, http)
        if delivery.form:
            rang.add(delivery.body["CallSid"])
    return True


def run(
    base_url: str,
    token: str,
    scenarios: List[dict],
    calls: int,
    speed: float,
    loop: bool,
    report: Report,
    stop: threading.Event,
) -> Report:
    """Play ``calls`` calls at once, cycling through ``scenarios``; with ``loop``, start a new call as one
    ends until ``stop`` is set."""

    def worker(first: int):
        http = requests.Session()
        number = first
        while not stop.is_set():
            scenario = scenarios[number % len(scenarios)]
            deliveries = build_call(scenario, datetime.now(timezone.utc), speed)
            sid = first_call(deliveries)
            report.call(sid, scenario["name"], finished=False)
            if play(deliveries, base_url, token, report, speed, stop, http):
                report.call(sid, scenario["name"], finished=True)
            number += calls
            if not loop or stop.wait(3.0 / speed):
                break
        http.close()

    threads = [threading.Thread(target=worker, args=(n,), name=f"call-{n}", daemon=True) for n in range(calls)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        stop.set()
        for thread in threads:
            thread.join()
    return report


def add_arguments(parser: argparse.ArgumentParser, standalone: bool = True):
    """The ``simulate`` command's options; ``demo`` takes only the ones about calls (it sets the rest)."""
    if standalone:
        default_url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        parser.add_argument("--url", default=default_url, help=f"the relay's base URL (default: {default_url})")
        parser.add_argument("--token", help="the relay's Twilio auth token, to sign with (default: $TWILIO_AUTH_TOKEN)")
        parser.add_argument("--loop", action="store_true", help="keep starting new calls until Ctrl-C")
        parser.add_argument("--quiet", action="store_true", help="print only calls starting and ending, and failures")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=scenario_names(),
        help="scenario to play; repeat for several (default: all of them)",
    )
    parser.add_argument("--calls", type=_positive(int), help="calls at the same time (default: one per scenario)")
    parser.add_argument(
        "--speed",
        type=_positive(float),
        default=1.0,
        help="speed factor: 1 is real time, 10 plays a two-minute call in 12 seconds (default: 1)",
    )


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be above zero, not {text}")
        return value

    return parse


def simulate(args, base_url: str, token: str, stop: threading.Event, out=sys.stdout) -> Report:
    """Run the simulator with parsed options; Ctrl-C (or ``stop``) ends the calls, with a summary."""
    scenarios = [load_scenario(name) for name in (args.scenario or scenario_names())]
    report = Report(out, quiet=args.quiet)
    run(base_url, token, scenarios, args.calls or len(scenarios), args.speed, args.loop, report, stop)
    out.write(report.summary() + "\n")
    return report


def main(args):
    """``cintel-relay simulate``: exit status 1 when any delivery was not accepted."""
    token = args.token or os.environ.get("TWILIO_AUTH_TOKEN", "").strip()
    if not token:
        sys.exit("cintel-relay simulate: no auth token: pass --token, or set TWILIO_AUTH_TOKEN to the relay's token.")
    report = simulate(args, args.url, token, threading.Event())
    sys.exit(1 if report.failed else 0)
