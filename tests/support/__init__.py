"""Test support, by concern; every name is re-exported here, so ``from .support import X`` works for all of them."""

from .browser import CHROMIUM, CHROMIUM_ARGS
from .flex import TICKET_SECRET, flex_env
from .metrics import METRICS_TOKEN, metric, scrape
from .payloads import (
    CALL_SID,
    CONVERSATION,
    PAYLOADS,
    SCRIPT_OPERATOR,
    SENTIMENT_OPERATOR,
    SUMMARY_OPERATOR,
    adherence_result,
    communication,
    conversation_closed,
    operator_result,
    payload,
    post_call,
    result_events,
    rule_execution,
)
from .processes import ROOT, answers, free_port, run_command, running, running_all, wait_for
from .races import race_held_results
from .receiver import Receiver
from .redis_server import TLS_REDIS_PASSWORD, RedisReplica, RedisServer, TLSRedisServer, flushed_client
from .relays import SERVE, SESSION_REDIS, Relay, RelayFactory, base_env
from .signing import AUTH_TOKEN, form_request, json_request, post_form, post_json, sign
from .sse import EMPTY_SNAPSHOT, SSEClient, parse_block

__all__ = [
    "run_command",
    "flushed_client",
    "running",
    "running_all",
    "result_events",
    "AUTH_TOKEN",
    "CALL_SID",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "CONVERSATION",
    "METRICS_TOKEN",
    "PAYLOADS",
    "SERVE",
    "ROOT",
    "SCRIPT_OPERATOR",
    "SENTIMENT_OPERATOR",
    "SESSION_REDIS",
    "SUMMARY_OPERATOR",
    "TICKET_SECRET",
    "TLS_REDIS_PASSWORD",
    "TLSRedisServer",
    "RedisReplica",
    "RedisServer",
    "Receiver",
    "Relay",
    "RelayFactory",
    "EMPTY_SNAPSHOT",
    "SSEClient",
    "race_held_results",
    "adherence_result",
    "answers",
    "base_env",
    "communication",
    "conversation_closed",
    "flex_env",
    "form_request",
    "free_port",
    "json_request",
    "metric",
    "operator_result",
    "parse_block",
    "payload",
    "post_call",
    "post_form",
    "post_json",
    "rule_execution",
    "scrape",
    "sign",
    "wait_for",
]
