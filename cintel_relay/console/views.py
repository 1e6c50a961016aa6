"""The live console: a supervisor board of every live call, and a page per call.

Plain server-rendered pages; a small script fills them from the same SSE API the Flex plugin uses
(``/api/board/stream`` and ``/api/stream/<session>``), so the console shows exactly what agents see.
Access is checked on the streams; a page carries call data (who is on a call) only when streams are open.
"""

from flask import Blueprint, render_template, request

from ..extension import relay
from ..ids import session_kind, valid_session

bp = Blueprint(
    "console", __name__, template_folder="templates", static_folder="static", static_url_path="/console/static"
)

#: The pages hold a supervisor's Flex token: only the relay's own scripts, styles and API, no inline script,
#: no framing, no form posting anywhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@bp.after_request
def content_security_policy(response):
    """Every console response carries the policy."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


def _page(template: str, **context):
    ext = relay()
    return render_template(
        template,
        script_name=ext.script.name,
        embedded=ext.config.embedded,
        stream_auth=ext.access.mode,
        **context,
    )


@bp.get("/console")
def board():
    """The board: one row per live call, updated as the calls go; empty, it says how to start a simulated one."""
    config = relay().config
    # Signatures are checked against SERVER_URL when it is set, so the simulator must post (and sign) there.
    return _page(
        "board.html",
        simulate_url=config.server_url or request.host_url.rstrip("/"),
        signed=config.verify_signatures,
    )


@bp.get("/console/calls/<session_id>")
def call(session_id):
    """One call: transcript, checklist, sentiment, summary and the operator log, live; who is on the call
    comes from its board summary as the page is served."""
    valid_session(session_id)
    # Names are call data: with stream auth on they reach a browser only over a ticketed stream.
    open_streams = relay().access.mode == "none"
    summary = relay().bus.board_call(session_id) if open_streams else None
    return _page("call.html", session=session_id, summary=summary or {}, kind=session_kind(session_id))
