"""The relay's connections to Redis: one standalone server, a Redis Cluster, or the embedded fake.

Whatever the mode, the rest of the relay sees a :class:`Store`: a command client for reads, the node
that owns a key's hash slot (scripts run there, pipelined, see :mod:`cintel_relay.bus.group_commit`), and
the pub/sub shard that carries a channel. On a cluster a channel is published with SPUBLISH in its
slot, so each worker subscribes once per shard (master) it needs, never once per stream.
"""

import logging
import os
import threading
from typing import Callable, Dict, Optional, Tuple, TypeVar

import redis
from redis.cluster import RedisCluster

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
#: Times a read on a slot's node is tried again after the slot moved or its node went away.
MAX_TOPOLOGY_RETRIES = 2

REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)
#: Cluster answers that mean "ask again once the topology is known": the slot moved or is moving.
TOPOLOGY_ERRORS = (
    redis.exceptions.MovedError,
    redis.exceptions.AskError,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
)


class Store:
    """A single Redis server (or the embedded fake): one node, one pub/sub shard, PUBLISH."""

    mode = "standalone"
    publish_command = "PUBLISH"
    #: Every key lives on this one node, so a script may touch keys of several hash slots.
    single_node = True

    def __init__(self, client, pubsub_factory: Optional[Callable]):
        self.client = client
        self._pubsub_factory = pubsub_factory

    def node_for(self, key: str) -> Tuple[str, redis.Redis]:
        """The name and client of the node that owns ``key``'s slot."""
        return "default", self.client

    def on_slot(self, key: str, read: Callable[[redis.Redis], _T]) -> _T:
        """``read(client)`` on the node that owns ``key``'s slot: a MULTI there sees every key of that slot
        in one instant, with replies parsed as on a single Redis."""
        return read(self.client)

    def shard_for(self, channel: str) -> str:
        """The name of the pub/sub shard that carries ``channel``."""
        return "default"

    def pubsub(self, shard: str):
        """A new pub/sub connection to ``shard``."""
        assert self._pubsub_factory is not None  # only ClusterStore passes none, and it overrides this
        return self._pubsub_factory()

    def subscribe(self, pubsub, channel: str):
        """Subscribe a pub/sub connection of this store to ``channel`` (SUBSCRIBE; SSUBSCRIBE on a cluster)."""
        pubsub.subscribe(channel)

    def unsubscribe(self, pubsub, channel: str):
        pubsub.unsubscribe(channel)

    def anchor(self, shard: str) -> str:
        """A channel carried by ``shard`` that no stream uses, to see a new connection confirmed."""
        return "cintel:hub"

    def refresh(self):
        """Learn the topology again (after MOVED, a failover or resharding); nothing to learn here."""

    def close(self):
        """Close the command client's connections."""
        self.client.close()


class ClusterStore(Store):
    """A Redis Cluster: scripts run on the master of their slot; channels are sharded (SPUBLISH)."""

    mode = "cluster"
    publish_command = "SPUBLISH"
    single_node = False

    def __init__(self, client: RedisCluster, node_kwargs: dict):
        super().__init__(client, None)
        self._node_kwargs = node_kwargs
        self._lock = threading.Lock()

    def node_for(self, key):
        node = self.client.get_node_from_key(key)
        return node.name, self.client.get_redis_connection(node)

    def on_slot(self, key, read):
        # redis-py's cluster pipeline leaves some replies unparsed in a transaction (XRANGE in 8.2), so the
        # transaction runs on the slot's node itself; a slot that moved (failover, resharding) is found again.
        for attempt in range(MAX_TOPOLOGY_RETRIES + 1):
            try:
                return read(self.node_for(key)[1])
            except TOPOLOGY_ERRORS + REDIS_ERRORS:
                if attempt == MAX_TOPOLOGY_RETRIES:
                    raise
                self.refresh()
        raise AssertionError("unreachable")

    def shard_for(self, channel):
        try:
            return self.client.get_node_from_key(channel).name
        except (redis.RedisError, OSError):
            # The topology is unknown for now: subscribe anywhere; the shard's MOVED reply or the
            # loss of its connection makes the hub place the channel again.
            return self.client.get_random_primary_node().name

    def anchor(self, shard):
        for n in range(100000):
            name = f"cintel:hub:{n}"
            if self.shard_for(name) == shard:
                return name
        raise redis.ConnectionError(f"no slot of {shard} is known")

    def subscribe(self, pubsub, channel):
        pubsub.ssubscribe(channel)

    def unsubscribe(self, pubsub, channel):
        pubsub.sunsubscribe(channel)

    def pubsub(self, shard):
        host, _, port = shard.rpartition(":")
        pool = redis.ConnectionPool(host=host, port=int(port), **self._node_kwargs)
        return redis.Redis(connection_pool=pool).pubsub()

    def refresh(self):
        with self._lock:
            try:
                self.client.nodes_manager.initialize()
            except (redis.RedisError, OSError) as exc:
                logger.warning("cluster topology refresh failed (%s); will retry", type(exc).__name__)


def _tls(config) -> Dict[str, object]:
    if config.redis_ssl_verify or not config.redis_url.startswith("rediss://"):
        return {}
    return {"ssl_cert_reqs": None}


def open_store(config) -> Store:
    """The Store for ``config``: the embedded fake without ``REDIS_URL``, else standalone or cluster."""
    if config.embedded:
        import fakeredis

        client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        return Store(client, client.pubsub)
    # Named connections let an operator attribute them to a worker with CLIENT LIST.
    name = f"cintel-relay:{os.getpid()}"
    tls = _tls(config)
    # RESP2 on the pub/sub connections: under RESP3 (redis-py's default since 8.0) every message is a push frame
    # that redis-py hands through its push handler, which fetches and calls a logger for each; the messages and
    # subscription replies are the same arrays either way.
    pubsub_kwargs = dict(
        socket_connect_timeout=3,
        socket_keepalive=True,
        health_check_interval=10,
        client_name=name + ":pubsub",
        protocol=2,
        **tls,
    )
    if config.redis_mode == "cluster":
        cluster = RedisCluster.from_url(
            config.redis_url,
            socket_timeout=5,
            socket_connect_timeout=3,
            client_name=name,
            max_connections=config.redis_pool_size,
            **tls,
        )
        parsed = redis.connection.parse_url(config.redis_url)
        node_kwargs = {k: v for k, v in parsed.items() if k not in ("host", "port", "db")}
        return ClusterStore(cluster, {**node_kwargs, **pubsub_kwargs})
    pool = redis.BlockingConnectionPool.from_url(
        config.redis_url,
        max_connections=config.redis_pool_size,
        timeout=10,
        socket_timeout=5,
        socket_connect_timeout=3,
        client_name=name,
        **tls,
    )
    pubsub_client = redis.Redis.from_url(config.redis_url, **pubsub_kwargs)
    return Store(redis.Redis(connection_pool=pool), pubsub_client.pubsub)
