"""Replays realistic conversations against a relay exactly as Twilio would post them, signed with the auth token.

:mod:`cintel_relay.simulator.posts` turns a scenario into the webhooks it posts; :func:`run` plays scenarios
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

from .posts import Post, build_call, load_scenario, scenario_names
from .signing import sign_form, sign_json


def signed_request(base_url: str, post: Post, token: str):
    """(url, headers, body bytes) for a post, signed as Twilio signs it (:mod:`.signing`)."""
    url = base_url.rstrip("/") + post.path
    headers = dict(post.headers)
    if post.form:
        raw = urllib.parse.urlencode(post.body).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["X-Twilio-Signature"] = sign_form(url, post.body, token)
        return url, headers, raw
    raw = json.dumps(post.body, ensure_ascii=False).encode("utf-8")
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

    def posted(self, sid: str, post: Post, status: Optional[int], answer: str, body: Optional[dict]):
        """Count one post; a failure (no answer, or not 2xx) is always printed."""
        ok = status is not None and 200 <= status < 300
        with self._lock:
            self.sent += 1
            self.failed += not ok
            if ok and isinstance(body, dict):
                self.held += body.get("held", 0)
                self.duplicates += body.get("duplicates", 0)
            if not ok:
                self._print(f"{sid}  FAILED {post.label} ({post.path}): {answer}")
            elif not self._quiet:
                self._print(f"{sid}  {post.label} -> {status}")

    def summary(self) -> str:
        """One line: calls, posts, failures, and what the relay held and deduplicated."""
        calls = f"{self.calls} call{'' if self.calls == 1 else 's'}"
        return (
            # "deliveries" here: the summary's wording, which scripts and tests read, predates the name "posts".
            f"{calls}, {self.sent} deliveries, {self.sent - self.failed} accepted, {self.failed} failed; "
            f"the relay held {self.held} events until their call was known "
            f"and dropped {self.duplicates} duplicates."
        )


def send(post: Post, sid: str, base_url: str, token: str, report: Report, http: requests.Session):
    """Sign and send one post, and report how the relay answered."""
    url, headers, raw = signed_request(base_url, post, token)
    try:
        response = http.post(url, data=raw, headers=headers, timeout=10)
    except requests.RequestException as exc:
        report.posted(sid, post, None, f"no answer ({type(exc).__name__})", None)
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    answer = f"{response.status_code} {body.get('error', '') if isinstance(body, dict) else response.text[:200]}"
    report.posted(sid, post, response.status_code, answer, body)


def first_call(posts: List[Post]) -> str:
    """The Call SID of a scenario run's first call: how the report names the run (or a part of one)."""
    return next((d.body["CallSid"] for d in posts if d.form), "(no call)")


def play(
    posts: List[Post],
    base_url: str,
    token: str,
    report: Report,
    speed: float,
    stop: threading.Event,
    http: requests.Session,
) -> bool:
    """Send a run's posts at their pace; False when ``stop`` cut it short, in which case its calls are
    hung up at once (the remaining posts that end a call that rang, or the conversation, are sent) so
    nothing stays live on the relay."""
    sid = first_call(posts)
    rang = set()
    started = time.monotonic()
    for n, post in enumerate(posts):
        if stop.wait(max(0.0, started + post.at / speed - time.monotonic())):
            for closing in posts[n:]:
                if closing.hangs_up and (not closing.form or closing.body["CallSid"] in rang):
                    send(closing, sid, base_url, token, report, http)
            return False
        send(post, sid, base_url, token, report, http)
        if post.form:
            rang.add(post.body["CallSid"])
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
            posts = build_call(scenario, datetime.now(timezone.utc), speed)
            sid = first_call(posts)
            report.call(sid, scenario["name"], finished=False)
            if play(posts, base_url, token, report, speed, stop, http):
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
    """``cintel-relay simulate``: exit status 1 when any post was not accepted."""
    token = args.token or os.environ.get("TWILIO_AUTH_TOKEN", "").strip()
    if not token:
        sys.exit("cintel-relay simulate: no auth token: pass --token, or set TWILIO_AUTH_TOKEN to the relay's token.")
    report = simulate(args, args.url, token, threading.Event())
    sys.exit(1 if report.failed else 0)
