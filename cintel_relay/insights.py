"""An operator's result made display-ready: the ``insight`` frame's data. Pure; no I/O.

Every result of an operator that is not one of Twilio's own (those keep their special frames) becomes an
insight: ``{operatorId, operatorName, catalogKey, version, kind, fields[], raw, timestamp, operatorResultId}``.
``fields`` is what the plugin and the console render generically, each ``{key, label, value, style, tone,
description}``: ``style`` is ``text`` (a note), ``label`` (a badge with its ``tone``), ``entity`` (a chip) or
``value`` (a titled value). A JSON result follows its catalog entry's ``outputSchema``: property titles and
descriptions, enum values as labels, nested objects flattened as ``Parent › Child``. An operator the catalog does
not know is still shown, titled by the name Twilio sent or else its id, its result flattened the same way.
"""

import re
from typing import List, Optional

import orjson

from .catalog import Entry

TEXT, LABEL, ENTITY, VALUE = "text", "label", "entity", "value"
#: Deepest nesting of a JSON result that is flattened; deeper values are shown as JSON text.
MAX_DEPTH = 4
#: Most fields of one insight (a runaway result must not flood a panel).
MAX_FIELDS = 50


def _field(key: str, label: str, value: str, style: str, tone: str = "neutral", description=None) -> dict:
    return {"key": key, "label": label, "value": value, "style": style, "tone": tone, "description": description}


def humanize(name: str) -> str:
    """``churn_risk`` / ``churnRisk`` -> ``Churn risk`` (an all-caps word such as ``CITY`` stays): the title of a
    property the schema gives none."""
    words = [
        w if w.isupper() else w.lower() for w in re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_\-\s]+", " ", str(name)).split()
    ]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text else str(name)


def display(value) -> str:
    """A scalar as text: ``Yes``/``No`` for booleans, lists joined with commas, JSON for anything else."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value is None:
        return "—"
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(display(v) for v in value)
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode()
    return str(value)


def _flatten(value: dict, schema: Optional[dict], entry: Optional[Entry], key: str, label: str, depth: int) -> list:
    """Fields for an object's properties: the schema's order first, then properties it does not declare."""
    props = (schema or {}).get("properties") or {}
    names = [n for n in props if n in value] + [n for n in value if n not in props]
    fields: List[dict] = []
    for name in names:
        found = props.get(name)
        prop: dict = found if isinstance(found, dict) else {}
        title = prop.get("title") or humanize(name)
        sub_key = f"{key}.{name}" if key else str(name)
        sub_label = f"{label} › {title}" if label else title
        item = value[name]
        if isinstance(item, dict) and depth < MAX_DEPTH:
            fields += _flatten(item, prop, entry, sub_key, sub_label, depth + 1)
        elif isinstance(item, list) and item and all(isinstance(i, dict) for i in item) and depth < MAX_DEPTH:
            for n, element in enumerate(item, 1):
                fields += _flatten(element, prop.get("items"), entry, f"{sub_key}.{n}", f"{sub_label} {n}", depth + 1)
        else:
            enum = isinstance(prop.get("enum"), list)
            tone = entry.tone(item) if entry and enum else "neutral"
            fields.append(
                _field(sub_key, sub_label, display(item), LABEL if enum else VALUE, tone, prop.get("description"))
            )
    return fields


def _entities(result) -> Optional[List[dict]]:
    entities = result.get("entities") if isinstance(result, dict) else None
    if not isinstance(entities, list):
        return None
    chips = []
    for entity in entities:
        if isinstance(entity, dict) and isinstance(entity.get("text"), str) and entity["text"].strip():
            label = entity["label"] if isinstance(entity.get("label"), str) else "Entity"
            chips.append(_field("entity", humanize(label), entity["text"].strip(), ENTITY))
    return chips


def fields_of(kind: str, result, entry: Optional[Entry], text: Optional[str], obj: Optional[dict]) -> List[dict]:
    """The display fields of a result of output format ``kind``, given its text and its JSON object as
    :mod:`cintel_relay.normalize` reads them (Twilio's shapes, facts F3-F4); never empty."""
    fields: Optional[List[dict]] = None
    if kind == "TEXT" and text:
        fields = [_field("text", "Note", text, TEXT)]
    elif kind == "CLASSIFICATION":
        raw = result.get("label") if isinstance(result, dict) else result
        if isinstance(raw, str) and raw.strip():
            fields = [_field("label", "Label", raw.strip(), LABEL, entry.tone(raw) if entry else "neutral")]
    elif kind == "EXTRACTION":
        fields = _entities(result)
    if fields is None and obj is not None:
        fields = _flatten(obj, entry.output_schema if entry else None, entry, "", "", 0)
    if fields is None and text:
        fields = [_field("text", "Note", text, TEXT)]
    return (fields or [_field("result", "Result", display(result), VALUE)])[:MAX_FIELDS]
