"""Webhook blueprints, one module per Twilio source, and what they share: verify, parse, load, ingest."""

import orjson
from flask import Response, current_app, request
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from .. import metrics
from ..errors import BadRequest, InvalidPayload, UnsupportedMediaType
from ..security import json_body
from .signature import form_params


def relay():
    """The app's relay extension (config, bus, hub, script, verifier)."""
    return current_app.extensions["cintel"]


def _stringify_keys(messages):
    if isinstance(messages, dict):
        return {str(k): _stringify_keys(v) for k, v in messages.items()}
    return messages


def load(schema, data, what: str):
    """Load ``data`` with a marshmallow schema, or :class:`InvalidPayload` naming the fields."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidPayload(
            f"{what} does not match the expected schema.", fields=_stringify_keys(exc.messages)
        ) from exc


def signed_json(lone_surrogates: bool = False) -> dict:
    """The JSON object body of a Twilio-signed request (see :func:`json_body` for ``lone_surrogates``)."""
    relay().verifier.verify(request, json_body=True)
    body = json_body("the body", lone_surrogates)
    if not isinstance(body, dict):
        raise InvalidPayload("the body must be a JSON object.", fields={"_schema": ["Not an object."]})
    return body


def signed_form(reads) -> dict:
    """The parameters of a Twilio-signed request: the form of a POST (``application/x-www-form-urlencoded``),
    the query of a GET (``StatusCallbackMethod=GET``).

    A parameter in ``reads`` (the names the relay uses) sent twice is refused: Twilio's signature sorts
    repeated values, so their order (and so which one a reader takes) is not signed. Any other parameter
    may repeat (a SIP header set twice): the relay never reads it, so its order changes nothing.
    """
    form = request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded"
    # Parsed once, with a cap on its size, before the signature is checked (see signature.form_params).
    params = form_params(request.get_data(cache=True)) if form else MultiDict()
    relay().verifier.verify(request, json_body=False, params=params)
    if request.method == "GET":
        params = request.args
    elif not form:
        raise UnsupportedMediaType("send the body as application/x-www-form-urlencoded.")
    repeated = sorted(name for name, values in params.lists() if len(values) > 1 and name in reads)
    if repeated:
        raise BadRequest(
            f"parameters sent more than once: {', '.join(repeated)}; Twilio sends each once.", code="repeated_parameter"
        )
    return params.to_dict()


def accepted(result=None, **extra):
    """The 200 answer, once the alert rules have seen what was logged (a Redis failure there is a 503, and Twilio's
    retry evaluates them again): Twilio only needs a 2xx; the counts help whoever debugs a delivery."""
    if result:
        relay().alerts.after(result)
        metrics.of(current_app).ingested(result)
    body = {"ok": True, **(result.as_dict() if result else {"logged": 0, "held": 0, "duplicates": 0}), **extra}
    return Response(orjson.dumps(body), mimetype="application/json")
