from cintel_relay.streams import sse


def test_frame_bytes():
    assert sse.frame({"type": "connected", "sessionId": "CA1"}) == b'data: {"type":"connected","sessionId":"CA1"}\n\n'
    assert sse.frame(b'{"a":1}', "17-0") == b'id: 17-0\ndata: {"a":1}\n\n'


def test_comment_and_retry():
    assert sse.comment("keep-alive") == b": keep-alive\n\n"
    # In the same block as data: a lone retry block is an empty event to httpx-sse.
    assert sse.frame({"type": "connected"}, retry_ms=2000) == b'retry: 2000\ndata: {"type":"connected"}\n\n'
    assert sse.frame(b"{}", "1-0", retry_ms=5) == b"id: 1-0\nretry: 5\ndata: {}\n\n"


def test_frame_id():
    assert sse.frame_id(b"id: 12-3\ndata: {}\n\n") == b"12-3"
    assert sse.frame_id(b"data: {}\n\n") is None
