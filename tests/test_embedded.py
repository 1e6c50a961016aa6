"""The embedded mode: no REDIS_URL, one process, fakeredis inside; and the ``cintel-relay`` command."""

import os
import subprocess
import sysconfig

import requests

from .support import (
    CALL_SID,
    ROOT,
    SSEClient,
    base_env,
    communication,
    free_port,
    post_json,
    run_command,
    wait_for,
)


def test_embedded_relay_serves_webhooks_and_streams(start_relay):
    relay = start_relay(redis_url=None)
    assert requests.get(relay.url + "/readyz", timeout=5).json() == {
        "bus": "embedded",
        "ready": True,
        "signatures": True,
        "streamAuth": "none",
    }
    client = SSEClient(relay.url, CALL_SID)
    client.events(2)
    assert post_json(relay.url, "/webhook/cor-event", communication("c1", "hello")).status_code == 200
    assert client.next_event()[1]["data"]["text"] == "hello"
    client.close()
    relay.stop()
    assert "embedded in-process bus" in relay.output()
    assert "CINTEL_STREAM_AUTH=none: streams are NOT authenticated" in relay.output()


def test_embedded_mode_refuses_several_workers():
    env = base_env(PORT=free_port(), WEB_CONCURRENCY=2)
    result = run_command("serve", env=env, timeout=30)
    assert result.returncode != 0
    assert "WEB_CONCURRENCY=2 but REDIS_URL is unset" in result.stderr


def test_console_script_runs_the_server():
    port = free_port()
    env = base_env(PORT=port, CINTEL_BIND_HOST="127.0.0.1")
    proc = subprocess.Popen(
        [os.path.join(sysconfig.get_path("scripts"), "cintel-relay"), "serve"],  # the installed console script
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _ok(f"http://127.0.0.1:{port}/healthz"), timeout=30, what="cintel-relay serve")
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)


def _ok(url):
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False
