"""HTTP at the byte level, for requests no client library will send: malformed framing, bodies that drip."""

import socket
import time


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_answer(sock, timeout: float = 10.0):
    """(status, raw answer, closed): everything the server sent until it closed the connection or went quiet
    for ``timeout`` (``closed`` is False then)."""
    sock.settimeout(timeout)
    data, closed = b"", False
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.") else None
    return status, data, closed


def exchange(port: int, request: bytes, timeout: float = 10.0):
    """Send ``request`` as is and read the answer (see :func:`read_answer`)."""
    with connect(port, timeout) as sock:
        sock.sendall(request)
        return read_answer(sock, timeout)


def head(method: str, path: str, *headers: str) -> bytes:
    """A request head with these header lines (``Host`` first)."""
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode(
        "utf-8"
    )


def chunked(body: bytes, size: int = 4096) -> bytes:
    """``body`` in chunked transfer coding."""
    parts = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def drip(sock, data: bytes, interval: float, stop) -> bool:
    """Send ``data`` a byte at a time, every ``interval`` seconds, until done or ``stop()``; False when the server
    closed the connection first."""
    for byte in data:
        if stop():
            return True
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return False
        time.sleep(interval)
    return True
