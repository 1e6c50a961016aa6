"""Two gunicorn replicas on one Redis: any replica takes the webhook, any replica serves the stream."""

from concurrent.futures import ThreadPoolExecutor

import orjson

from cintel_relay.bus.keys import log_key

from .support import CALL_SID, SSEClient, communication, post_json


def test_webhook_on_one_replica_reaches_subscribers_on_both_in_log_order(relays, redis_client):
    subscribers = [SSEClient(relays[i % 2].url, CALL_SID) for i in range(4)]
    for sub in subscribers:
        sub.events(2)

    def post(n):
        body = communication(f"comm-{n}", f"line {n}")
        return post_json(relays[n % 2].url, "/webhook/cor-event", body).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(post, range(60))) == {200}
    logged = [(i.decode(), orjson.loads(f[b"f"])) for i, f in redis_client.xrange(log_key(CALL_SID))]
    assert len(logged) == 60
    for sub in subscribers:
        assert sub.events(60) == logged
        sub.close()


def test_resume_on_the_other_replica(relays, redis_client):
    first = SSEClient(relays[0].url, CALL_SID)
    first.events(2)
    post_json(relays[0].url, "/webhook/cor-event", communication("c1", "one"))
    seen_id, _ = first.next_event()
    first.close()
    for n in (2, 3):
        post_json(relays[1].url, "/webhook/cor-event", communication(f"c{n}", f"line {n}"))
    second = SSEClient(relays[1].url, CALL_SID, last_event_id=seen_id)
    second.next_event()
    assert [e["data"]["text"] for _, e in second.events(2)] == ["line 2", "line 3"]
    second.close()
