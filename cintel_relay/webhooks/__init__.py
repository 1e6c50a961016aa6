"""Webhook routes, one module per Twilio source, and what they share: verify, parse, load, ingest.

Each source's handler is ``handle(ext, req) -> (IngestResult or None, extra answer fields)``: ``ext`` is the
app's :class:`~cintel_relay.app.Components`, ``req`` a werkzeug request. :func:`lean_webhook` serves it
without Flask's request machinery (see :mod:`cintel_relay.server.lean`); the Flask view of the same route
(:func:`flask_view`) answers what the lean dispatcher does not take (another method, HEAD) the same way.
"""

from typing import Callable, Optional, Tuple
from urllib.parse import parse_qsl

import orjson
from flask import Response, request
from marshmallow import ValidationError
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request

from .. import logs, schemas
from ..errors import BadRequest, InvalidPayload, RelayError, UnsupportedMediaType
from ..extension import relay
from ..security import json_body
from ..server.bodies import BODY
from .signature import form_params

#: A source's handler: (the app's components, the request) -> (what the bus did, extra answer fields).
Handler = Callable[..., Tuple[Optional[object], dict]]


def _stringify_keys(messages):
    if isinstance(messages, dict):
        return {str(k): _stringify_keys(v) for k, v in messages.items()}
    return messages


def load(schema, data, what: str):
    """Load ``data`` with a marshmallow schema, or :class:`InvalidPayload` naming the fields."""
    try:
        return schemas.load(schema, data)
    except ValidationError as exc:
        raise InvalidPayload(
            f"{what} does not match the expected schema.", fields=_stringify_keys(exc.messages)
        ) from exc


def signed_json(ext, req, lone_surrogates: bool = False) -> dict:
    """The JSON object body of a Twilio-signed request (see :func:`json_body` for ``lone_surrogates``)."""
    ext.verifier.verify(req, json_body=True)
    body = json_body("the body", lone_surrogates, req)
    if not isinstance(body, dict):
        raise InvalidPayload("the body must be a JSON object.", fields={"_schema": ["Not an object."]})
    return body


def signed_form(ext, req, reads) -> dict:
    """The parameters of a Twilio-signed request: the form of a POST (``application/x-www-form-urlencoded``),
    the query of a GET (``StatusCallbackMethod=GET``).

    A parameter in ``reads`` (the names the relay uses) sent twice is refused: Twilio's signature sorts
    repeated values, so their order (and so which one a reader takes) is not signed. Any other parameter
    may repeat (a SIP header set twice): the relay never reads it, so its order changes nothing.
    """
    form = req.method == "POST" and req.mimetype == "application/x-www-form-urlencoded"
    # Parsed once, with a cap on its size, before the signature is checked (see signature.form_params).
    params = form_params(req.get_data(cache=True)) if form else MultiDict()
    ext.verifier.verify(req, json_body=False, params=params)
    if req.method == "GET":
        params = req.args
    elif not form:
        raise UnsupportedMediaType("send the body as application/x-www-form-urlencoded.")
    repeated = sorted(name for name, values in params.lists() if len(values) > 1 and name in reads)
    if repeated:
        raise BadRequest(
            f"parameters sent more than once: {', '.join(repeated)}; Twilio sends each once.", code="repeated_parameter"
        )
    return params.to_dict()


def accepted_body(ext, relay_metrics, result=None, extra=None) -> dict:
    """The 200 answer's body, once the alert rules have seen what was logged (a Redis failure there is a 503, and
    Twilio's retry evaluates them again): Twilio only needs a 2xx; the counts help whoever debugs a delivery."""
    if result:
        ext.alerts.after(result)
        relay_metrics.ingested(result)
    counts = result.as_dict() if result else {"logged": 0, "held": 0, "duplicates": 0}
    return {"ok": True, **counts, **(extra or {})}


def flask_view(handle: Handler):
    """A Flask view answering with ``handle``."""

    def view():
        ext = relay()
        result, extra = handle(ext, request)
        body = accepted_body(ext, ext.metrics, result, extra)
        return Response(orjson.dumps(body), mimetype="application/json")

    view.__name__ = handle.__name__
    view.__doc__ = handle.__doc__
    return view


class WebhookRequest:
    """What a webhook's handler reads of its request, straight from the WSGI environ, as werkzeug's request gives it.

    Building werkzeug's request (its URL parts, its headers object) and asking it for the query, three headers and the
    media type cost a webhook more than its signature check; each answer here is werkzeug's own expression (tests
    compare the two). The body is the bytes :class:`~cintel_relay.server.bodies.BodyGate` read; whatever else a handler
    asks (``host_url``, without ``SERVER_URL``) is werkzeug's request's, built then."""

    __slots__ = ("_args", "_werkzeug", "environ", "headers")

    def __init__(self, environ):
        self.environ = environ
        self.headers = _Headers(environ)
        self._args = self._werkzeug = None

    @property
    def method(self) -> str:
        return self.environ.get("REQUEST_METHOD", "GET").upper()

    @property
    def path(self) -> str:
        return "/" + self.environ.get("PATH_INFO", "").encode("latin1").decode(errors="replace").lstrip("/")

    @property
    def mimetype(self) -> str:
        return self.environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()

    @property
    def args(self) -> ImmutableMultiDict:
        if self._args is None:
            query = self.environ.get("QUERY_STRING", "").encode("latin1").decode()
            self._args = ImmutableMultiDict(parse_qsl(query, keep_blank_values=True, errors="werkzeug.url_quote"))
        return self._args

    def get_data(self, cache=True):
        body = self.environ.get(BODY)
        return self._request().get_data(cache) if body is None else body

    def _request(self) -> Request:
        if self._werkzeug is None:
            self._werkzeug = Request(self.environ)
        return self._werkzeug

    def __getattr__(self, name):
        return getattr(self._request(), name)


class _Headers:
    """A request's headers by name, as werkzeug's ``EnvironHeaders.get`` finds them in the environ."""

    __slots__ = ("environ",)

    def __init__(self, environ):
        self.environ = environ

    def get(self, name: str, default=None):
        key = name.upper().replace("-", "_")
        return self.environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key, default)


def lean_webhook(app, lean, route: str, handle: Handler):
    """``handle`` as a lean WSGI handler: the answer, status, headers, metrics and log fields of its Flask view."""
    ext = relay(app)
    relay_metrics = ext.metrics

    def serve(environ, start_response, _rest):
        logs.begin(environ)
        try:
            result, extra = handle(ext, WebhookRequest(environ))
            return lean.answer(environ, start_response, route, 200, accepted_body(ext, relay_metrics, result, extra))
        except RelayError as exc:
            return lean.error(exc, environ, start_response, route)
        except HTTPException as exc:
            return lean.http_error(exc, environ, start_response, route)
        except Exception as exc:
            return lean.unexpected(exc, environ, start_response, route)
        finally:
            logs.forget()

    return serve
