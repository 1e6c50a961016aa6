"""Small read-only endpoints: the script, liveness and readiness."""

from flask import Blueprint, jsonify

from .errors import Unavailable
from .extension import relay

bp = Blueprint("api", __name__)


@bp.get("/api/script")
def script():
    """The script the checklist is built from."""
    return jsonify(relay().script.to_dict())


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify({"ok": True})


@bp.get("/readyz")
def readyz():
    """Redis answers; a load balancer should send traffic only when this is 200."""
    ext = relay()
    body = {
        "bus": "embedded" if ext.config.embedded else "redis",
        "signatures": ext.verifier.enabled,
        "streamAuth": ext.config.stream_auth,
    }
    try:
        ext.bus.ping()
    except Unavailable as exc:
        return jsonify({**body, "ready": False, "error": exc.message}), 503
    return jsonify({**body, "ready": True})
