"""``cintel-relay setup`` against a hostile control plane (issue 24 B7, B8, B11, B12): credentials go only to the
configured Twilio APIs, paging and answers are bounded, control-plane strings reach the terminal escaped, and a
malformed answer or a redirect is one clear line, never a traceback or a silent empty list."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cintel_relay.setup.control_plane import MAX_ANSWER_BYTES, MAX_PAGES

from .support.fakes.twilio_control import relay_env, run_setup

LISTS = {"intelligence": "/v3/ControlPlane/Configurations", "conversations": "/v2/ControlPlane/Configurations"}


@pytest.fixture
def elsewhere():
    """A server that is not one of the configured APIs; it records what reaches it."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            """Quiet."""

        def do_GET(self):
            seen.append(self.headers.get("Authorization"))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.seen = seen
    server.url = f"http://localhost:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def one_line_failure(done) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("cintel-relay setup:")]
    return line


@pytest.mark.parametrize("where", ["statusUrl", "Location"])
def test_an_operation_on_another_host_is_not_followed_with_the_credentials(fake, elsewhere, where):
    """B7: a 202 naming another host got the API key and secret sent to it."""
    url = f"{elsewhere.url}/v2/ControlPlane/Operations/x"

    def hostile(api, method, path, query):
        if api == "conversations" and method == "POST":
            return (202, {"statusUrl": url} if where == "statusUrl" else {}, {"Location": url, "Retry-After": "0"})
        return None

    fake.hostile = hostile
    line = one_line_failure(run_setup(relay_env(fake), "--yes"))
    assert f"localhost:{elsewhere.server_address[1]}" in line and "credentials go nowhere else" in line
    assert elsewhere.seen == []


def test_paging_that_never_ends_stops_at_the_bound(fake):
    """B8: every page naming a new nextToken paged forever."""
    pages = []

    def hostile(api, method, path, query):
        if path == LISTS[api]:
            pages.append(query.get("pageToken"))
            return 200, {"items": [], "meta": {"key": "items", "nextToken": f"t{len(pages)}"}}, {}
        return None

    fake.hostile = hostile
    line = one_line_failure(run_setup(relay_env(fake)))
    assert f"past {MAX_PAGES} pages" in line and len(pages) == MAX_PAGES


def test_an_oversized_answer_is_not_read_whole(fake):
    """B8: pages had no size cap."""
    big = b'{"items": [], "pad": "' + b"x" * (MAX_ANSWER_BYTES + 10) + b'"}'
    fake.hostile = lambda api, method, path, query: (200, big, {}) if path == LISTS[api] else None
    line = one_line_failure(run_setup(relay_env(fake)))
    assert "larger than 8 MiB" in line


def test_control_characters_from_the_control_plane_reach_the_terminal_escaped(fake):
    """B11: a name or message holding escape sequences (clipboard write, screen clear) was printed raw."""
    evil = "\x1b]52;c;ZXZpbA==\x07\x1b[2J\u202e"
    fake.add_intelligence("cintel-relay", description=f"someone else's {evil}")

    def hostile(api, method, path, query):
        if method == "POST":
            return 400, {"code": 20001, "message": f"no {evil} thanks", "status": 400}, {}
        return None

    fake.hostile = hostile
    done = run_setup(relay_env(fake), "--yes", "--name", "other")
    output = done.stdout + done.stderr
    assert done.returncode == 1 and "no \\x1b]52;c;ZXZpbA==\\x07\\x1b[2J\\u202e thanks" in output
    assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output


@pytest.mark.parametrize(
    "page, problem",
    [
        ({"items": [], "meta": "a string"}, "meta is not an object"),
        ({"items": [], "meta": {"key": "items", "nextToken": {"an": "object"}}}, "nextToken is not a string"),
        ({"items": "not a list", "meta": {"key": "items"}}, "not a list of objects"),
        ({"items": [1, 2], "meta": {"key": "items"}}, "not a list of objects"),
    ],
)
def test_a_malformed_list_is_one_clear_line(fake, page, problem):
    """B12: a malformed answer was a traceback."""
    fake.hostile = lambda api, method, path, query: (200, page, {}) if path == LISTS[api] else None
    line = one_line_failure(run_setup(relay_env(fake)))
    assert "malformed" in line and problem in line


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_on_a_list_is_one_clear_line_not_an_empty_list(fake, status):
    """B12: a 3xx read as an empty list planned to create everything and exited 0."""
    moved = {"Location": "https://example.com/elsewhere"}
    fake.hostile = lambda api, method, path, query: (status, b"", moved) if path == LISTS[api] else None
    line = one_line_failure(run_setup(relay_env(fake), "--yes"))
    assert f"HTTP {status}" in line and "redirect" in line
    assert fake.writes == []
