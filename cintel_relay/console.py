"""The live console: a supervisor board of every live call, and a page per call.

Plain server-rendered pages; a small script fills them from the same SSE API the Flex plugin uses
(``/api/board/stream`` and ``/api/stream/<session>``), so the console shows exactly what agents see.
"""

from flask import Blueprint, current_app, render_template

from .stream import valid_session

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console/static")


def _page(template: str, **context):
    ext = current_app.extensions["cintel"]
    return render_template(template, script_name=ext.script.name, embedded=ext.config.embedded, **context)


@bp.get("/console")
def board():
    """The board: one row per live call, updated as the calls go."""
    return _page("board.html")


@bp.get("/console/calls/<session_id>")
def call(session_id):
    """One call: transcript, checklist, sentiment, summary and the operator log, live."""
    return _page("call.html", session=valid_session(session_id))
