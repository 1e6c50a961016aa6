"""Adherence deadlines: timed in the due queue from the call's start, announced ``overdue`` with no webhook after.

When a call's first event is logged, append.lua returns the call's start (the relay's clock) until the
deadlines are scheduled; :meth:`Deadlines.started` then queues ``deadline:<session>:<category>`` for each
category with ``withinSeconds``. Whichever replica's :class:`~cintel_relay.bus.due.DueRunner` finds one due
appends an adherence event with ``due: overdue`` through the bus; its dedupe key makes a lease that ran out
harmless (announced once), and append.lua logs nothing when the step was met meanwhile. What it logged then goes
to ``after`` (the alert rules: an overdue step is the built-in ``step-overdue`` rule's, with no webhook to follow).
"""

import logging

from ..ids import is_call_sid
from ..normalize import deadline_event
from ..script import Script

logger = logging.getLogger(__name__)

#: The due queue's item kind of a deadline: ``deadline:<session>:<category>``.
KIND = "deadline"


class Deadlines:
    """Schedules and fires the deadlines of one script's categories."""

    def __init__(self, bus, script: Script, after=None):
        self.bus = bus
        self.script = script
        #: Called with what an announcement logged (:meth:`cintel_relay.bus.alerting.Alerting.after`).
        self.after = after

    def started(self, session: str, started_ms: int):
        """Queue each deadline of a call that started at ``started_ms`` (Redis's clock); idempotent. A
        conversation's text thread is no call: its steps have no clock to be late against."""
        for category in self.script.categories if is_call_sid(session) else ():
            if category.withinSeconds is not None:
                due_ms = started_ms + int(category.withinSeconds * 1000)
                payload = {"session": session, "category": category.key}
                self.bus.due.schedule(f"{KIND}:{session}:{category.key}", due_ms, payload)
        self.bus.deadlines_scheduled(session)

    def fire(self, item: str, payload: dict, now_ms: int):
        """The due queue's handler: announce the category overdue (unless met); done either way."""
        session, category = payload["session"], payload["category"]
        if self.script.find(category) is None:
            logger.warning("deadline of a category the script no longer has dropped", extra={"session": session})
            return None
        outcome = self.bus.ingest([deadline_event(self.script, session, category)], session)
        if outcome.ids:
            logger.info("adherence step overdue", extra={"session": session, "category": category})
            if self.after is not None:
                self.after(outcome)
        return None
