"""When a call's report is final, and what happens then: stored for ``CINTEL_REPORT_TTL`` and delivered.

A call settles ``CINTEL_REPORT_SETTLE_SECONDS`` after it completes, so the results Twilio computes when the
conversation ends (facts F7, F11) are in it; a post-call result brings that forward to :data:`POST_CALL_GRACE`
seconds (others of the same rule often follow within a second). Settling is a due item ``settle:<CallSid>``
(:mod:`cintel_relay.bus.due`): any replica does it, once. It builds the report, and if it says something new
(the first time, or a result arrived since) stores it with the next ``revision`` and queues one delivery per
``CINTEL_REPORT_URL``; with Twilio credentials it first reads the conversation back from Twilio's APIs and
merges what the relay missed (:mod:`.reconcile`). A result reaching a settled call schedules settling again,
which sends a revised report.
"""

import logging
from typing import Optional

import orjson

from ..bus.event_bus import EventBus, IngestResult
from ..bus.store import REDIS_ERRORS, TOPOLOGY_ERRORS
from ..errors import Unavailable
from ..events import snapshot_values
from ..ids import is_call_sid
from ..outbound.deliveries import Deliveries
from .builder import CallRecord, build_report, iso_ms, same_content
from .reconcile import Reconciler

logger = logging.getLogger(__name__)

KIND = "settle"
#: Seconds a call settles after a post-call result (or a result reaching an already settled call).
POST_CALL_GRACE = 5.0


class Reports:
    """Builds, settles, stores and delivers call reports; lives in ``relay().reports``."""

    def __init__(self, bus: EventBus, config, script, deliveries: Deliveries):
        self.bus = bus
        self.config = config
        self.script_name = script.name
        self.deliveries = deliveries
        self.reconciler = Reconciler(bus, config, script)

    # --- reading -------------------------------------------------------------------------------

    def _record(self, call_sid: str):
        log, latest, stored = self.bus.call_data(call_sid)
        conversation = latest.get("conversation")
        record = CallRecord(
            call_sid=call_sid,
            log=log,
            latest=snapshot_values(latest),
            ended="ended" in latest,
            conversation=conversation.decode() if conversation else None,
            script_name=self.script_name,
        )
        return record, (orjson.loads(stored) if stored else None)

    def report(self, call_sid: str) -> Optional[dict]:
        """The call's report: the settled one once there is one, else built from its live data; None when the
        relay knows nothing of the call."""
        record, stored = self._record(call_sid)
        if stored is not None:
            return stored
        return build_report(record) if record.log else None

    # --- settling ------------------------------------------------------------------------------

    def followed(self, result: IngestResult, ended: bool = False, post_call: bool = False):
        """Schedule settling for the calls a webhook's events reached: ``settle`` seconds after a call ended,
        :data:`POST_CALL_GRACE` after a post-call result or after any result reaching a settled call."""
        calls = [s for s in result.sessions if is_call_sid(s)]
        for call_sid in calls:
            if ended and not post_call:
                self.schedule(call_sid, self.config.report_settle_seconds)
            elif post_call or self.bus.has_report(call_sid):
                self.schedule(call_sid, min(POST_CALL_GRACE, self.config.report_settle_seconds))

    def schedule(self, call_sid: str, after_seconds: float):
        """Settle ``call_sid`` in ``after_seconds`` (or sooner, if it is already due sooner)."""
        try:
            seconds, micros = self.bus.redis.time()
            now_ms = seconds * 1000 + micros // 1000
            self.bus.due.schedule(f"{KIND}:{call_sid}", now_ms + int(after_seconds * 1000), {}, keep_earlier=True)
        except REDIS_ERRORS + TOPOLOGY_ERRORS as exc:
            raise Unavailable("Redis is unreachable; the call's report was not scheduled, retry later.") from exc

    def settle(self, item: str, payload: dict, now_ms: int) -> Optional[int]:
        """The due handler of ``settle:<CallSid>``: store the final report if it says something new, and queue
        its deliveries. Run again after a lease ran out, it finds the same report and queues the same ids."""
        call_sid = item.partition(":")[2]
        record, stored = self._record(call_sid)
        if not record.log or not record.ended:
            return None  # expired, or live again: its completion schedules settling anew
        if self.reconciler.enabled and record.conversation and self.reconciler.merge(record.conversation):
            record, stored = self._record(call_sid)
        report = build_report(record)
        if stored is not None and same_content(stored, report):
            return None
        revision = (stored or {}).get("revision", 0) + 1
        report.update(final=True, revision=revision, settledAt=iso_ms(now_ms))
        body = orjson.dumps(report)
        if self.config.report_urls:
            # Queued before the report is stored: a replica dying in between leaves it to settle again,
            # which queues the same delivery ids (so nothing is sent twice under different ids).
            self.deliveries.enqueue("report", f"report.{call_sid}.{revision}", self.config.report_urls, body, now_ms)
        self.bus.store_report(call_sid, body, self.config.report_ttl)
        logger.info("call report settled", extra={"session": call_sid, "revision": revision})
        return None
