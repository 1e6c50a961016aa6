"""What the browser tests share: the plugin's harness page, served as built, and a running demo to look at.

The harness bundle (``plugin-cintel-rtt/harness/dist``) is built by the test command
(``npm run harness:build``); these fixtures build nothing.
"""

import functools
import signal
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ..support import ROOT, free_port
from ..test_demo import start_demo, stopped, wait_ready

HARNESS_DIST = Path(ROOT) / "plugin-cintel-rtt" / "harness" / "dist"


class QuietStaticHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        """The test reads the page, not the static server's log."""


@pytest.fixture(scope="module")
def harness_origin():
    assert (HARNESS_DIST / "index.html").is_file(), (
        f"{HARNESS_DIST} is not built: run `npm run harness:build` in plugin-cintel-rtt (scripts/test.sh does)"
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietStaticHandler, directory=str(HARNESS_DIST)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory, harness_origin):
    """``cintel-relay demo`` with four calls at a time, slow enough that its pages update for minutes, and the
    harness allowed to follow its calls."""
    port = free_port()
    with open(tmp_path_factory.mktemp("demo") / "out", "w+b") as out:
        proc = start_demo(port, out, signal.SIG_DFL, "--calls", "4", "--speed", "4", "--allow-origin", harness_origin)
        wait_ready(port, out)
        yield f"http://127.0.0.1:{port}"
        proc.send_signal(signal.SIGINT)
        assert stopped(proc, out, port) == 0
