from cintel_relay.streams import sse


def test_frame_bytes():
    assert sse.frame({"type": "connected", "sessionId": "CA1"}) == b'data: {"type":"connected","sessionId":"CA1"}\n\n'
    assert sse.frame(b'{"a":1}', "17-0") == b'id: 17-0\ndata: {"a":1}\n\n'


def test_comment_and_retry():
    assert sse.comment("keep-alive") == b": keep-alive\n\n"
    assert sse.retry(2000) == b"retry: 2000\n\n"


def test_frame_id():
    assert sse.frame_id(b"id: 12-3\ndata: {}\n\n") == b"12-3"
    assert sse.frame_id(b"data: {}\n\n") is None
