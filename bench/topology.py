"""Start what a benchmark needs on loopback: a redis-server and relay replicas (real gunicorn)."""

import os
import re
import subprocess

from tests.support import RedisReplica, RedisServer, Relay

PUBLIC_URL = "http://bench.local"
TOKEN = "bench-auth-token"
#: Every bench client comes from 127.0.0.1 and stands for many agents, each behind its own address: the
#: per-address limit on stream opens (CINTEL_STREAM_OPENS_PER_MINUTE) is lifted so it counts per agent.
CLIENT_ENV = {"CINTEL_STREAM_OPENS_PER_MINUTE": 10**9}


def worker_pids(master_pid: int):
    """The gunicorn worker processes under a master."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master_pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return int(re.search(r"VmRSS:\s+(\d+)", fh.read()).group(1))


class Topology:
    """redis-server plus ``replicas`` single-worker relays; ``env`` adds relay settings. With
    ``redis_replicas``, that many Redis replicas follow the primary (for CINTEL_REDIS_WAIT_REPLICAS)."""

    def __init__(self, replicas=2, redis_replicas=0, **env):
        self.redis = RedisServer().start()
        self.redis_replicas = [RedisReplica(self.redis).start() for _ in range(redis_replicas)]
        self.relays = [
            Relay(
                self.redis.url,
                SERVER_URL=PUBLIC_URL,
                TWILIO_AUTH_TOKEN=TOKEN,
                CINTEL_HEARTBEAT_SECONDS=15,
                CINTEL_LOG_LEVEL="WARNING",
                **{**CLIENT_ENV, **env},
            ).start()
            for _ in range(replicas)
        ]

    @property
    def urls(self):
        return [relay.url for relay in self.relays]

    def worker_pid(self, index=0) -> int:
        return worker_pids(self.relays[index].proc.pid)[0]

    @property
    def worker_pids(self):
        """Every replica's worker processes, one list per replica."""
        return [worker_pids(relay.proc.pid) for relay in self.relays]

    def close(self):
        for relay in self.relays:
            relay.stop()
        for replica in self.redis_replicas:
            replica.stop()
        self.redis.stop()


def machine() -> dict:
    with open("/proc/cpuinfo") as fh:
        model = re.search(r"model name\s*:\s*(.*)", fh.read())
    # The load average says how much else the machine was doing: others' processes share its cores.
    return {
        "cpus": os.cpu_count(),
        "cpu": model.group(1) if model else "unknown",
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }
