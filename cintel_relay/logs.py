"""Logging: one JSON object per line, carrying the request id; gunicorn's own logs in the same shape.

Records carry ids, counts and timings only: never transcript text, tokens or signatures. The query
string is never logged either (stream URLs may carry tickets).
"""

import itertools
import logging
import os
import re
import sys
import time
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Iterator, Optional

import orjson
from flask import has_request_context, request
from gunicorn.glogging import Logger as GunicornBaseLogger

REQUEST_ID_HEADER = "X-Request-Id"
#: Where a request's log fields live: the WSGI environ, which gunicorn's access logger also sees.
ENVIRON_KEY = "cintel.log"
# An id a client sends is kept only if it cannot forge or bloat a log line (Heroku's router sends a UUID).
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: The log fields of the request a greenlet serves on a lean route (each greenlet has its own context).
_LEAN_FIELDS: ContextVar[Optional[dict]] = ContextVar("cintel_log_fields", default=None)
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time, level, logger, message, the ``extra`` fields and the request's ids."""

    def format(self, record):
        extra = {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}
        if record.exc_info:
            extra["exception"] = self.formatException(record.exc_info)
        return json_line(record.created, record.levelname, record.name, record.getMessage(), extra)


def json_line(created: float, level: str, logger: str, message: str, extra: dict) -> str:
    """One record's JSON line: time, level, logger, message, ``extra``, then the request's ids it lacks."""
    entry = {
        "time": datetime.fromtimestamp(created, timezone.utc).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": logger,
        "message": message,
    }
    entry.update(extra)
    fields = request.environ.get(ENVIRON_KEY, {}) if has_request_context() else _LEAN_FIELDS.get()
    for key, value in (fields or {}).items():
        entry.setdefault(key, value)
    return orjson.dumps(entry, default=str).decode()


def _lighter_records():
    """Records without what the JSON line never shows (the caller's file and line, thread and process names):
    the logging docs' "Optimization" switches, which spare a stack walk and three lookups per record."""
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


def setup_logging(level="INFO"):
    """Send every record, and every Python warning, to stderr as a JSON line, at ``level`` (``CINTEL_LOG_LEVEL``)."""
    _lighter_records()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.captureWarnings(True)


def init_app(app):
    """Give every request an id (the client's ``X-Request-Id`` when sane), echoed in the response."""
    app.before_request(_begin)
    app.after_request(_end)


def annotate(environ=None, **fields):
    """Add ids (session, conversation) to this request's log records and its access-log line (``environ``: the
    request's, for the lean routes; Flask's current request's by default)."""
    environ = request.environ if environ is None else environ
    environ.setdefault(ENVIRON_KEY, {}).update((k, v) for k, v in fields.items() if v)


def _request_ids():
    """32 hex digits, unique without a syscall each: this process's random half, then a count. Set apart from
    uuid4 (16 random bytes from the kernel per request) because an id only has to tell requests apart."""
    prefix = None
    for n in itertools.count():
        if n % (1 << 32) == 0:  # a fresh random half now and then, so a long-lived process never repeats one
            prefix = os.urandom(8).hex()
        yield f"{prefix}{n % (1 << 32):016x}"


_ids: Iterator[str] = _request_ids()


def _reset_request_ids():
    global _ids
    _ids = _request_ids()


os.register_at_fork(after_in_child=_reset_request_ids)  # a forked worker draws a random half of its own


def begin(environ, session=None):
    """Give a request its id (the client's ``X-Request-Id`` when sane) and its log fields, in ``environ``; the
    records logged meanwhile in this greenlet carry them (a lean route has no Flask request context)."""
    sent = environ.get("HTTP_X_REQUEST_ID", "")
    request_id = sent if _CLIENT_REQUEST_ID.fullmatch(sent) else next(_ids)
    environ["cintel.started"] = time.perf_counter()
    fields = environ.setdefault(ENVIRON_KEY, {})
    fields["request_id"] = request_id
    if session:
        fields["session"] = session
    _LEAN_FIELDS.set(fields)


def forget():
    """The request is answered: later records of this greenlet (a keep-alive connection's) are not its."""
    _LEAN_FIELDS.set(None)


def end(environ, headers):
    """Echo the request id in ``headers`` (a list of pairs) and record how long the app took to answer."""
    fields = environ.get(ENVIRON_KEY)
    if fields and "request_id" in fields:  # absent when a hook registered ahead of ours answered the request
        headers.append((REQUEST_ID_HEADER, fields["request_id"]))
        fields["app_ms"] = round((time.perf_counter() - environ["cintel.started"]) * 1000, 2)


def _begin():
    begin(request.environ, (request.view_args or {}).get("session_id"))


def _end(response):
    headers: list = []
    end(request.environ, headers)
    for name, value in headers:
        response.headers[name] = value
    return response


#: What the access line reads of a request's environ, besides its log fields (:data:`ENVIRON_KEY`).
ACCESS_KEYS = ("REQUEST_METHOD", "PATH_INFO", "REMOTE_ADDR")
#: What gunicorn still reads of the environ once the app has returned (then the access line's keys).
_GUNICORN_AFTER_APP = ("wsgi.file_wrapper",)


def keep_for_access(environ):
    """Drop what an answered request's environ holds beyond what its access line and gunicorn still read: a
    stream keeps its environ for its whole life, and the headers, the body reader and gunicorn's callbacks in
    it are ~1 KiB an idle stream does not need. Call it once the response has started."""
    kept = {key: environ[key] for key in ACCESS_KEYS + _GUNICORN_AFTER_APP + (ENVIRON_KEY,) if key in environ}
    environ.clear()  # frees the dict's table too, which deleting keys one by one would leave at full size
    environ.update(kept)


def _status_code(resp):
    """The response's status as a number: gunicorn's own error answers (a malformed request) carry only ``status``."""
    code = getattr(resp, "status_code", None)
    if code is None:
        head = str(resp.status or "").split(" ", 1)[0]
        code = int(head) if head.isdigit() else None
    return code


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's error and access logs as JSON lines; an access line carries the app's request fields.

    The access line is written when the response is complete, so for a stream ``duration_ms`` is how
    long the stream was open, while ``app_ms`` is the time the app took to start answering.
    """

    def setup(self, cfg):
        super().setup(cfg)
        _lighter_records()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        method, path, remote = (environ.get(key) for key in ACCESS_KEYS)
        entry = {
            "method": method,
            "path": path,
            "status": _status_code(resp),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "remote": remote,
            **environ.get(ENVIRON_KEY, {}),
        }
        handlers = self._plain_handlers()
        if handlers is None:
            self.access_log.info("%s %s %s", method, path, entry["status"], extra=entry)
            return
        # The line JsonFormatter would write, written as StreamHandler writes it, without building a LogRecord (one
        # per request, most of what the access log cost).
        line = json_line(time.time(), "INFO", self.access_log.name, f"{method} {path} {entry['status']}", entry)
        for handler in handlers:
            with handler.lock:
                handler.stream.write(line + handler.terminator)
                handler.flush()

    def _plain_handlers(self):
        """The access log's handlers when each only writes JsonFormatter's line to a stream (gunicorn's ``accesslog``
        of ``-`` or a file), so a line can be written without a LogRecord; else None (filters, syslog, levels)."""
        log = self.access_log
        if log.filters or not log.isEnabledFor(logging.INFO):
            return None
        for handler in log.handlers:
            if (
                type(handler) not in (logging.StreamHandler, logging.FileHandler)
                or type(handler.formatter) is not JsonFormatter
                or handler.filters
                or handler.level > logging.INFO
                or handler.stream is None
            ):
                return None
        return log.handlers
