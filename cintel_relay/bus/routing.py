"""What route.lua is told about each event of a conversation: a :class:`Route` (where the event may belong)
and the :class:`RouteRecord` that carries it, with the event, in the script's ARGV.

The record's field order lives here only: :func:`record_lua` hands it to the Lua (as ``route_field``
offsets and a ``route_record`` constructor, prepended to route.lua and ingest.lua by the script loader),
so neither the Python nor the Lua spells a record by position.
"""

from typing import List, NamedTuple, Optional, Tuple, Union

import orjson

from ..normalize import Event


class Route(NamedTuple):
    """Where an event of a conversation may belong (see route.lua for each kind)."""

    kind: str
    comm: str = ""
    call: str = ""
    refs: Tuple[str, ...] = ()


class RouteRecord(NamedTuple):
    """One item of route.lua's ARGV (and of a conversation's pending list, JSON-encoded in this order).

    ``dedupe``, ``type``, ``ends`` and ``frame`` are the event ('' for a record that only tells the
    conversation something); ``kind``, ``comm``, ``call`` and ``refs`` are its :class:`Route`, ``refs``
    joined by spaces. An ``unhold`` record carries, as its ``frame``, a pending entry to remove."""

    dedupe: str = ""
    type: str = ""
    ends: str = ""
    frame: Union[str, bytes] = ""
    kind: str = ""
    comm: str = ""
    call: str = ""
    refs: str = ""

    @classmethod
    def of(cls, route: Route, event: Optional[Event] = None) -> "RouteRecord":
        """The record of ``event`` routed by ``route``; without an event, the route alone (a call it registers)."""
        where = dict(kind=route.kind, comm=route.comm, call=route.call, refs=" ".join(route.refs))
        if event is None:
            return cls(**where)
        return cls(event.dedupe, event.type, "1" if event.ends else "0", orjson.dumps(event.frame), **where)

    @classmethod
    def ended(cls, call: str) -> "RouteRecord":
        """Tells the conversation that its call ``call`` ended."""
        return cls(kind="ended", call=call)

    @classmethod
    def unhold(cls, entry: Union[str, bytes]) -> "RouteRecord":
        """Takes ``entry``, a held event now in its logs, off the conversation's pending list."""
        return cls(frame=entry, kind="unhold")

    def to_args(self) -> List[Union[str, bytes]]:
        return list(self)


def record_lua() -> str:
    """Lua defining ``route_field`` (each field's offset in a record), ``route_width`` (fields per record) and
    ``route_record(fields)`` (a record's ARGV values from a table of named fields, '' for each one missing)."""
    offsets = ", ".join(f"{name} = {i}" for i, name in enumerate(RouteRecord._fields))
    values = ", ".join(f"fields.{name} or ''" for name in RouteRecord._fields)
    return (
        f"local route_field = {{{offsets}}}\nlocal route_width = {len(RouteRecord._fields)}\n"
        f"local function route_record(fields) return {{{values}}} end\n"
    )
