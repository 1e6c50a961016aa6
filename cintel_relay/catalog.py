"""The operator catalog (``CINTEL_OPERATORS_FILE``): operators beyond Twilio's own, and how each result is shown.

Pure: :func:`parse_catalog` validates a loaded JSON document and reports every mistake at once, one line each,
naming the entry; :mod:`cintel_relay.insights` renders results with it. Each entry has a ``key`` of the catalog's
own, a display ``name``, and either the ``operatorId`` of an operator that exists in Twilio or the ``definition``
``cintel-relay setup`` creates it from (the id Twilio assigns is learned when the relay starts,
:mod:`cintel_relay.setup.operator_ids`). How a result is shown follows its output format: ``TEXT`` a note, ``CLASSIFICATION`` a label with a tone per label, ``EXTRACTION`` entity
chips, ``JSON`` titled fields following the ``outputSchema``. See docs/operators.md.
"""

import json
import re
from typing import List, Mapping, NamedTuple, Optional, Tuple

from .errors import ConfigError
from .operators import TWILIO_OPERATORS

OUTPUT_FORMATS = ("TEXT", "CLASSIFICATION", "EXTRACTION", "JSON")
#: How a label or a value is coloured; the plugin and the console map each to their own palette.
TONES = ("neutral", "positive", "warning", "critical")
#: When Twilio runs an operator of a rule (Intelligence v3 ``Rule.triggers[].on``; facts F7).
TRIGGERS = ("COMMUNICATION", "CONVERSATION_END", "CONVERSATION_INACTIVE")
#: Twilio's pattern for an operator id (``intelligence_operator_`` and a TTID).
OPERATOR_ID = r"intelligence_operator_[0-9a-z]{26}"
_KEY = r"[a-z][a-z0-9_-]{0,39}"
MAX_PROMPT = 4000


class Entry(NamedTuple):
    """One catalog operator."""

    key: str
    name: str
    output_format: str
    #: The Twilio operator id, when it is known (given, or learned from Twilio at start).
    operator_id: Optional[str] = None
    #: What setup creates the operator from: ``{description, prompt, outputFormat, outputSchema?, trigger}``.
    definition: Optional[dict] = None
    output_schema: Optional[dict] = None
    #: A label or enum value (upper-cased) -> tone.
    tones: Mapping[str, str] = {}

    def tone(self, value: object) -> str:
        return self.tones.get(str(value).strip().upper(), "neutral")


class Catalog(NamedTuple):
    """The validated catalog: its entries, and lookups by operator id and by name."""

    entries: Tuple[Entry, ...] = ()
    #: The alert rules, as written (validated by :mod:`cintel_relay.alerts`).
    alerts: Tuple[dict, ...] = ()

    def find(self, operator_id: str, name: Optional[str] = None) -> Optional[Entry]:
        """The entry for a result's operator: by id, else (an operator setup created, whose id the relay has
        not learned) by the name the webhook gave it, ignoring case."""
        for entry in self.entries:
            if entry.operator_id and entry.operator_id == operator_id:
                return entry
        wanted = (name or "").strip().casefold()
        if wanted:
            for entry in self.entries:
                if entry.operator_id is None and entry.name.casefold() == wanted:
                    return entry
        return None

    def by_key(self, key: str) -> Optional[Entry]:
        return next((entry for entry in self.entries if entry.key == key), None)

    def with_ids(self, ids: Mapping[str, str]) -> "Catalog":
        """The catalog with each entry in ``ids`` (key -> operator id Twilio assigned) given that id."""
        entries = tuple(entry._replace(operator_id=ids.get(entry.key, entry.operator_id)) for entry in self.entries)
        return self._replace(entries=entries)


EMPTY = Catalog()


def _schema_problems(schema, where: str) -> List[str]:
    """Mistakes in a JSON operator's ``outputSchema``: an object schema with properties, titles as strings."""
    if not isinstance(schema, dict):
        return [f"{where}: must be a JSON Schema object"]
    if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        return [f'{where}: must be {{"type": "object", "properties": {{...}}}}']
    problems = []
    for name, prop in schema["properties"].items():
        at = f"{where}.properties.{name}"
        if not isinstance(prop, dict):
            problems.append(f"{at}: must be an object")
            continue
        for text in ("title", "description"):
            if text in prop and not isinstance(prop[text], str):
                problems.append(f"{at}.{text}: must be a string")
        if "enum" in prop and (not isinstance(prop["enum"], list) or not prop["enum"]):
            problems.append(f"{at}.enum: must be a non-empty list")
        if prop.get("type") == "object" and "properties" in prop:
            problems += _schema_problems(prop, at)
    return problems


def _definition_problems(definition, where: str) -> List[str]:
    if not isinstance(definition, dict):
        return [f"{where}: must be an object with prompt, outputFormat and trigger"]
    problems = []
    prompt = definition.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        problems.append(f"{where}.prompt: missing; write the instructions the operator follows")
    elif len(prompt) > MAX_PROMPT:
        problems.append(f"{where}.prompt: {len(prompt)} characters; keep it to {MAX_PROMPT}")
    if "description" in definition and not isinstance(definition["description"], str):
        problems.append(f"{where}.description: must be a string")
    trigger = definition.get("trigger", "COMMUNICATION")
    if trigger not in TRIGGERS:
        problems.append(f"{where}.trigger: {trigger!r} is not one of {', '.join(TRIGGERS)}")
    return problems


def _entry(raw, n: int, seen_keys: set, seen_ids: set) -> Tuple[Optional[Entry], List[str]]:
    """One entry, or None and its mistakes (each line names the entry by position and key)."""
    if not isinstance(raw, dict):
        return None, [f"operators[{n}]: must be an object with key, name and operatorId or definition"]
    key = raw.get("key")
    label = f"operators[{n}] ({key})" if isinstance(key, str) and key else f"operators[{n}]"
    problems = []
    if not isinstance(key, str) or not re.fullmatch(_KEY, key):
        problems.append(f"{label}: key must be lowercase letters, digits, - or _ (e.g. churn-risk)")
    elif key in seen_keys:
        problems.append(f"{label}: key {key!r} is used by an earlier entry")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{label}: name missing; it is the title agents see")
    operator_id, definition = raw.get("operatorId"), raw.get("definition")
    if operator_id is None and definition is None:
        problems.append(
            f"{label}: give operatorId (an operator that exists in Twilio) or definition (setup creates it)"
        )
    if operator_id is not None:
        if not isinstance(operator_id, str) or not re.fullmatch(OPERATOR_ID, operator_id):
            problems.append(f"{label}: operatorId {operator_id!r} is not an intelligence_operator_... id")
        elif operator_id in TWILIO_OPERATORS:
            problems.append(
                f"{label}: operatorId {operator_id} is Twilio's {TWILIO_OPERATORS[operator_id].name}, which the relay "
                "already shows; list only other operators"
            )
        elif operator_id in seen_ids:
            problems.append(f"{label}: operatorId {operator_id} is listed twice")
    if definition is not None:
        problems += _definition_problems(definition, f"{label}: definition")
    source = definition if isinstance(definition, dict) else raw
    fmt = source.get("outputFormat")
    if fmt not in OUTPUT_FORMATS:
        where = "definition.outputFormat" if source is definition else "outputFormat"
        problems.append(f"{label}: {where} {fmt!r} is not one of {', '.join(OUTPUT_FORMATS)}")
    schema = source.get("outputSchema")
    if fmt == "JSON" and (schema is not None or source is definition):
        problems += _schema_problems(schema, f"{label}: outputSchema")
    elif schema is not None and fmt in OUTPUT_FORMATS:
        problems.append(f"{label}: outputSchema is for JSON operators only, not {fmt}")
    tones = raw.get("tones", {})
    if not isinstance(tones, dict) or any(t not in TONES for t in tones.values()):
        problems.append(f"{label}: tones must map labels to one of {', '.join(TONES)}")
    if problems:
        return None, problems
    assert isinstance(key, str) and isinstance(name, str) and isinstance(fmt, str)  # checked above
    seen_keys.add(key)
    if operator_id:
        seen_ids.add(operator_id)
    return (
        Entry(
            key=key,
            name=name.strip(),
            output_format=fmt,
            operator_id=operator_id,
            definition=definition,
            output_schema=schema,
            tones={str(k).strip().upper(): v for k, v in tones.items()},
        ),
        [],
    )


def parse_catalog(data, source: str = "CINTEL_OPERATORS_FILE") -> Catalog:
    """Validate a loaded catalog document.

    :raises ConfigError: every mistake, one line each, naming the entry.
    """
    if not isinstance(data, dict) or not isinstance(data.get("operators", []), list):
        raise ConfigError(f'{source}: the catalog must be {{"operators": [...], "alerts": [...]}}')
    entries, problems = [], []
    seen_keys: set = set()
    seen_ids: set = set()
    for n, raw in enumerate(data.get("operators", [])):
        entry, found = _entry(raw, n, seen_keys, seen_ids)
        problems += found
        if entry:
            entries.append(entry)
    alerts = data.get("alerts", [])
    if not isinstance(alerts, list) or not all(isinstance(a, dict) for a in alerts):
        problems.append("alerts: must be a list of rule objects")
        alerts = []
    if problems:
        raise ConfigError("\n".join(f"{source}: {line}" for line in problems))
    return Catalog(tuple(entries), tuple(alerts))


def load_catalog(path: Optional[str]) -> Catalog:
    """The catalog in ``path`` (JSON), or an empty one.

    :raises ConfigError: the file cannot be read, or names its mistakes.
    """
    if not path:
        return EMPTY
    source = f"CINTEL_OPERATORS_FILE={path}"
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{source}: cannot be read as JSON ({exc}): fix the file or unset it.") from exc
    return parse_catalog(data, source)
