"""A customer's HTTP endpoint for outbound deliveries: records every request and answers as scripted."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List, NamedTuple


class Received(NamedTuple):
    headers: dict
    body: bytes


class Receiver:
    """Answers each POST with the next status of ``statuses`` (then 200); with ``hold``, keeps the first
    request unanswered until :meth:`release` (a sender that dies meanwhile never hears back)."""

    def __init__(self, statuses=(), hold=False):
        self.statuses = list(statuses)
        self.received: List[Received] = []
        self.holding = threading.Event()
        self._release = threading.Event()
        self._hold = hold
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.received.append(Received(dict(self.headers), body))
                    first = len(receiver.received) == 1
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if first and receiver._hold:
                    receiver.holding.set()
                    receiver._release.wait(30)
                    return  # the sender is gone: no answer
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/reports"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self):
        self._release.set()

    def stop(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()
