"""Alert rules evaluated after each delivery: a rule that starts or stops firing appends one ``alert`` event.

Where the state lives: in the call's own slot, in what is already there. A rule's condition is a function of the
call's snapshot (the ``latest`` hash), its latest events and its age (:mod:`cintel_relay.alerts`), and the rule's
own state is its latest ``alert`` event, kept in ``latest`` like every keyed frame (``alert:<rule>``). Nothing new
is stored, and nothing needs to be kept in step.

Why in the webhook path, after the append, rather than in append.lua: the rules compare labels, JSON fields and
phrases that Lua would have to re-implement (a second home for them), and an alert is rare, so the cost that matters
is the read: one pipelined round trip to the call's slot per delivery (``HGETALL`` of ``latest``, plus the last
:data:`~cintel_relay.alerts.TAIL` log entries only when a rule reads them). Once per episode holds across replicas
without a lock: a transition's dedupe key is ``alert:<rule>:<episode>:<firing|cleared>``, the episode numbered
from the rule's previous event, so two replicas that see the same change append one event (append.lua dedupes),
and a rule fires again only after its clearing was logged.

A delivery that logs the event queues the alert for ``CINTEL_ALERT_URL`` through the reports' signed, retried
delivery queue (:mod:`cintel_relay.outbound.deliveries`), the delivery id being the dedupe key.

Time alone can make a condition true: a ``score`` rule's ``after`` seconds pass on a call that may say nothing more.
When a call starts (the hook that queues its script deadlines, :mod:`cintel_relay.bus.deadlines`), each distinct
``after`` of the rules gets one due item, ``rules:<session>:<after ms>``, at the call's start plus that; whichever
replica's runner finds it due evaluates the call's timed rules as a delivery does (:meth:`Alerting.check`, the same
code and the same dedupe keys, so an event evaluated at the same moment makes no second alert). Every other way a condition
becomes true is an event, so no other timer is needed; without such rules a call costs nothing more.
"""

import logging
from typing import Optional

import orjson

from ..alerts import TAIL, CallState, Rule, evaluate
from ..errors import Unavailable
from ..events import ALERT, snapshot_values
from ..normalize import Event, now_iso
from .keys import latest_key, log_key
from .store import REDIS_ERRORS, TOPOLOGY_ERRORS

logger = logging.getLogger(__name__)

#: The due queue's item kind of a timed re-evaluation: ``rules:<session>:<after ms>``.
KIND = "rules"


def alert_text(session: str, data: dict) -> str:
    """The Slack-compatible one-line ``text`` of an alert delivery."""
    if data["state"] == "cleared":
        return f"Cleared: {data['title']} on call {session}"
    return f"[{data['severity'].upper()}] {data['title']} on call {session}: {data['why']}"


class Alerting:
    """Evaluates the rules for the sessions a delivery reached; one per app."""

    def __init__(self, bus, rules, deliveries=None, urls=()):
        self.bus = bus
        self.rules = tuple(rules)
        self.deliveries = deliveries
        self.urls = tuple(urls)
        #: The rules time alone can make fire (a ``score`` rule's ``after``), and when (ms into a call) to look.
        self.timed = tuple(r for r in self.rules if r.kind == "score" and r.params.get("after", 0) > 0)
        self.timers = sorted({int(r.params["after"] * 1000) for r in self.timed})

    def started(self, session: str, started_ms: int) -> None:
        """Queue a re-evaluation of a call that started at ``started_ms`` (Redis's clock) at each of
        :attr:`timers`; idempotent (the same item is queued again at the same time)."""
        for after_ms in self.timers:
            self.bus.due.schedule(f"{KIND}:{session}:{after_ms}", started_ms + after_ms, {"session": session})

    def fire(self, item: str, payload: dict, now_ms: int) -> None:
        """The due queue's handler: evaluate the call's timed rules now, as a delivery would; done either way."""
        self.check(payload["session"], self.timed)

    def after(self, result) -> None:
        """Evaluate, in every session the delivery logged something in, the rules that what it logged can change
        (a transcript line alone changes none of the built-in rules: then nothing is read)."""
        if result is None or not result.ids:
            return
        types = result.types
        rules = self.rules if types is None else tuple(rule for rule in self.rules if rule.reads & types)
        if not rules:
            return
        for session in result.sessions:
            self.check(session, rules)

    def _read(self, session: str, tail: bool):
        def read(node):
            with node.pipeline(transaction=False) as pipe:
                pipe.hgetall(latest_key(session))
                if tail:
                    pipe.xrevrange(log_key(session), "+", "-", count=TAIL)
                pipe.time()
                return pipe.execute()

        try:
            replies = self.bus.store.on_slot(log_key(session), read)
        except REDIS_ERRORS + TOPOLOGY_ERRORS as exc:
            raise Unavailable("Redis is unreachable; alert rules were not evaluated, retry later.") from exc
        latest, *rest = replies
        tail = rest[0] if tail else []
        seconds, micros = rest[-1]
        return latest, tail, seconds * 1000 + micros // 1000

    def check(self, session: str, rules=None) -> None:
        """Append an ``alert`` event for each of ``rules`` (default: all) whose state changed on this call."""
        rules = self.rules if rules is None else rules
        raw, tail, now_ms = self._read(session, any(rule.needs_tail for rule in rules))
        if not raw or b"ended" in raw:
            return  # nothing logged yet, or the call ended: its alerts stand as they were
        latest = snapshot_values({(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()})
        # The call's start as append.lua keeps it: the origin of its deadlines and of the rules' timers.
        started_ms = int(raw.get(b"started") or now_ms)
        # Only the kinds of events rules look back over are decoded (a call's tail is mostly transcript).
        wanted = {t.encode() for rule in rules if rule.needs_tail for t in rule.reads}
        events = [
            (fields[b"t"].decode(), orjson.loads(fields[b"f"])["data"])
            for _, fields in reversed(tail)
            if fields[b"t"] in wanted
        ]
        state = CallState(latest, events, max(0.0, (now_ms - started_ms) / 1000))
        previous = latest.get("alerts") or {}
        assert isinstance(previous, dict)  # a keyed snapshot field is an object
        for rule in rules:
            self._transition(session, rule, previous.get(rule.name), evaluate((rule,), state)[rule.name])

    def _transition(self, session: str, rule: Rule, previous: Optional[dict], firing) -> None:
        active = (previous or {}).get("state") == "firing"
        if bool(firing) == active:
            return
        episode = int((previous or {}).get("episode", 0))
        if firing:
            episode += 1
        now, before = now_iso(), previous or {}
        data = {
            "rule": rule.name,
            "title": rule.title,
            "severity": rule.severity,
            "audience": list(rule.audience),
            "state": "firing" if firing else "cleared",
            "episode": episode,
            "why": firing.why if firing else before.get("why", ""),
            # When the episode fired: a clearing says it too, so a page opened after it still shows the episode.
            "firedAt": now if firing else before.get("firedAt") or before.get("timestamp"),
            "evidence": firing.evidence if firing else [],
            "timestamp": now,
        }
        dedupe = f"alert:{rule.name}:{episode}:{data['state']}"
        logged = self.bus.ingest([Event(dedupe, {"type": ALERT, "data": data})], session)
        if not logged.ids:
            return  # another replica logged this transition (and queued its delivery)
        logger.info("alert %s", data["state"], extra={"session": session, "rule": rule.name, "episode": episode})
        if self.deliveries is not None and self.urls:
            body = {"type": ALERT, "callSid": session, **data, "text": alert_text(session, data)}
            self.deliveries.enqueue("alert", f"{session}.{dedupe}", self.urls, orjson.dumps(body), logged_ms(logged))


def logged_ms(logged) -> int:
    """When the event was stored: its log id's time (Redis's clock), in ms."""
    return int(logged.ids[0].partition("-")[0])
