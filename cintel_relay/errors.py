"""Exception types, and the boundary that turns them into JSON error responses."""

import logging

from flask import g, jsonify, request
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the variable and the fix."""


class RelayError(Exception):
    """An error with an HTTP status and a JSON body."""

    status = 400
    code = "bad_request"

    def __init__(self, message, code=None, headers=None, **details):
        super().__init__(message)
        self.message = message
        self.details = details
        #: A more specific code than the class's (e.g. ``ticket_expired``), and extra response headers.
        self.code = code or type(self).code
        self.headers = headers or {}

    def body(self):
        return {"error": self.message, "code": self.code, **self.details}


class BadRequest(RelayError):
    """The request cannot be parsed (bad JSON, bad encoding, bad id)."""


class UnsupportedMediaType(RelayError):
    status = 415
    code = "unsupported_media_type"


class InvalidPayload(RelayError):
    """The body parsed but does not match the schema; ``fields`` names what is wrong."""

    status = 422
    code = "invalid_payload"


class SignatureError(RelayError):
    """The request is not signed by Twilio with our auth token."""

    status = 403
    code = "invalid_signature"


class BodyTimeout(RelayError):
    """The request body did not arrive within ``CINTEL_BODY_TIMEOUT``."""

    status = 408
    code = "body_timeout"


class BodyTooLarge(RelayError):
    """The body is past a limit: its size, its chunks or its form's parameters."""

    status = 413
    code = "request_entity_too_large"

    @classmethod
    def past(cls, limit: int, configurable: bool) -> "BodyTooLarge":
        """Over ``limit`` bytes: the message names the limit, and the setting that raises it when it is
        ``CINTEL_MAX_BODY_BYTES`` (a ticket request's is fixed)."""
        how = "send less, or raise the limit with CINTEL_MAX_BODY_BYTES" if configurable else "send less"
        return cls(f"the body is larger than {limit} bytes, the most this endpoint takes: {how}.", limit=limit)


#: The Twilio services the relay asks before it grants access, by the ``source`` their 503s carry.
TWILIO_SERVICES = {"token_validation": "Twilio's token validation", "taskrouter": "TaskRouter"}


class Unavailable(RelayError):
    """What the relay needs cannot be reached (Redis, unless ``source`` names a Twilio service); retry later."""

    status = 503
    code = "unavailable"

    def __init__(self, message, code=None, headers=None, source: str = "redis", **details):
        super().__init__(message, code=code, headers=headers, **details)
        #: ``redis``, or the key of :data:`TWILIO_SERVICES` that could not be asked (metrics count them apart).
        self.source = source


class Conflict(RelayError):
    """The request contradicts the stored state (a dispute already open, a step already met)."""

    status = 409
    code = "conflict"


class Unauthorized(RelayError):
    """No credential, or one that is forged, expired or not Twilio's."""

    status = 401
    code = "unauthorized"


class Forbidden(RelayError):
    """A valid identity that may not see this session."""

    status = 403
    code = "forbidden"


class NotFound(RelayError):
    """The relay has no record of what was asked for."""

    status = 404
    code = "not_found"


class RateLimited(RelayError):
    """Too many requests or streams for one identity; ``Retry-After`` says when to come back."""

    status = 429
    code = "rate_limited"


def error_parts(exc: RelayError):
    """(status, headers, JSON body, what was unavailable or None) of the answer to ``exc``: one home for the
    app's error handler and the lean routes (:mod:`cintel_relay.server.lean`)."""
    headers = dict(exc.headers)
    source = None
    if isinstance(exc, Unavailable):
        headers.setdefault("Retry-After", "5")
        source = exc.source
    return exc.status, headers, exc.body(), source


def http_error_parts(exc: HTTPException):
    """(status, JSON body) of the answer to a werkzeug HTTP error (a 405, a malformed request)."""
    return exc.code or 500, {"error": exc.description, "code": exc.name.lower().replace(" ", "_")}


def register_error_handlers(app):
    """Make every error, expected or not, a JSON response with the right status."""

    @app.errorhandler(RelayError)
    def relay_error(exc):
        status, headers, body, source = error_parts(exc)
        response = jsonify(body)
        response.status_code = status
        response.headers.update(headers)
        if source is not None:
            g.unavailable_source = source
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code == 413:  # werkzeug's, for a declared Content-Length past the request's limit
            limit = request.max_content_length or 0
            return relay_error(BodyTooLarge.past(limit, configurable=limit == app.config["MAX_CONTENT_LENGTH"]))
        status, body = http_error_parts(exc)
        response = jsonify(body)
        response.status_code = status
        return response

    @app.errorhandler(Exception)
    def unexpected(exc):
        logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
        response = jsonify({"error": "internal error; the relay logged it", "code": "internal_error"})
        response.status_code = 500
        return response
