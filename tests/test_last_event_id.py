"""A ``Last-Event-ID`` that is not a stream id (Unicode digits, numbers past 64 bits) counts as unknown: the
stream carries on with a fresh snapshot instead of being cut after ``connected``."""

import urllib.parse

import pytest

from cintel_relay.ids import is_event_id

from .support import CALL_SID, SSEClient
from .test_stream import say

NOT_IDS = [
    "²-1",
    "1-²",
    "\u0661\u0662\u0663-0",
    "0-\u0661",
    "18446744073709551616-0",
    "0-18446744073709551616",
    "9" * 40 + "-0",
    "1-1-1",
    "-1",
    "1-",
    " 1-0",
    "1-0\n",
]


@pytest.mark.parametrize("text", NOT_IDS)
def test_what_is_not_a_stream_id(text):
    assert not is_event_id(text)


def test_what_is_a_stream_id():
    assert all(is_event_id(text) for text in ("0-0", "1764576000000-0", "18446744073709551615-18446744073709551615"))


@pytest.mark.parametrize("text", NOT_IDS[:7])
def test_a_stream_resumed_from_a_non_id_gets_a_fresh_snapshot(relays, redis_client, text):
    relay = relays[0]
    say(relay, 1)
    openers = [lambda: SSEClient(relay.url, CALL_SID, query="?" + urllib.parse.urlencode({"lastEventId": text}))]
    if all(ord(c) < 256 for c in text):
        openers.append(lambda: SSEClient(relay.url, CALL_SID, last_event_id=text))  # headers travel as latin-1
    for n, open_stream in enumerate(openers):
        # Each stream opens only now, so its snapshot is of the log as it stands: the line said so far.
        stream = open_stream()
        assert stream.next_event()[1]["type"] == "connected"
        _, snapshot = stream.next_event()
        said = ["line 1"] + [f"line {2 + k}" for k in range(n)]
        assert snapshot["type"] == "initial" and [t["text"] for t in snapshot["transcript"]] == said
        say(relay, 2 + n)
        assert stream.next_event()[1]["type"] == "transcript"
        stream.close()
