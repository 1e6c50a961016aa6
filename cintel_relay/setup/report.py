"""The plan of ``cintel-relay setup`` as a Flex admin reads it: each resource marked create, update or up to date.

A resource is described as lines of ``what: value``; a creation shows every line with ``+``, an update
only the lines that change (``-`` what Twilio has now, ``+`` what it will have), a deletion its name.
"""

import difflib
import json
from typing import List

from .plan import CREATE, DELETE, INTELLIGENCE, OPERATOR, OPERATOR_NAMES, UP_TO_DATE, UPDATE, Plan


def _operators(rule: dict) -> str:
    return " + ".join(OPERATOR_NAMES.get(o.get("id"), o.get("id")) for o in rule.get("operators") or [])


def _rule_lines(number: int, rule: dict) -> List[str]:
    trigger = (rule.get("triggers") or [{}])[0]
    count = (trigger.get("parameters") or {}).get("count", 1)
    when = (
        ("on every communication" if count == 1 else f"every {count} communications")
        if trigger.get("on") == "COMMUNICATION"
        else f"on {trigger.get('on')}"
    )
    memory = "on" if ((rule.get("context") or {}).get("memory") or {}).get("enabled") else "off"
    lines = [f"rule {number}: {_operators(rule)}, {when}, memory context {memory}"]
    lines += [f"rule {number} posts to: {a.get('method')} {a.get('url')}" for a in rule.get("actions") or []]
    for operator in rule.get("operators") or []:
        for key, value in sorted((operator.get("parameters") or {}).items()):
            lines += _parameter_lines(f"rule {number} {key}", str(value))
    return lines


def _parameter_lines(prefix: str, text: str) -> List[str]:
    """A parameter's text line by line; a script's lines name their category, so a changed weight says whose."""
    lines, category = [], ""
    for line in filter(str.strip, text.splitlines()):
        if line.lower().startswith("category:"):
            category = f" [{line.split(':', 1)[1].strip()}]"
        lines.append(f"{prefix}{category} | {line}")
    return lines


def describe(kind: str, resource: dict) -> List[str]:
    """A configuration or an operator (as Twilio holds it, or as a request body) as ``what: value`` lines."""
    lines = [f"display name: {resource.get('displayName')}", f"description: {resource.get('description')}"]
    if kind == OPERATOR:
        lines.append(f"output format: {resource.get('outputFormat')}")
        lines += [f"prompt | {line}" for line in filter(str.strip, str(resource.get("prompt") or "").splitlines())]
        if resource.get("outputSchema") is not None:
            lines.append(f"output schema: {json.dumps(resource['outputSchema'], sort_keys=True)}")
        return lines
    if kind == INTELLIGENCE:
        for number, rule in enumerate(resource.get("rules") or [], 1):
            lines += _rule_lines(number, rule)
        return lines
    lines += [
        f"grouping: {resource.get('conversationGroupingType')}",
        f"memory store: {resource.get('memoryStoreId')}",
        "memory extraction (observations and summaries): "
        + ("on" if resource.get("memoryExtractionEnabled") else "off"),
    ]
    for channel, settings in sorted((resource.get("channelSettings") or {}).items()):
        lines += [
            f"{channel} capture: from {r.get('from')} to {r.get('to')}" for r in settings.get("captureRules") or []
        ]
    lines += [
        f"status callback: {c.get('method', 'POST')} {c.get('url')}" for c in resource.get("statusCallbacks") or []
    ]
    lines += [f"intelligence configuration: {i}" for i in resource.get("intelligenceConfigurationIds") or []]
    return lines


def render_plan(planned: Plan) -> str:
    """The plan as text: a heading per resource, then its lines."""
    out = []
    for change in planned.changes:
        name = (change.body or change.current or {}).get("displayName")
        suffix = f" ({change.id})" if change.id else ""
        out.append(f"{change.kind} {name!r}{suffix}: {change.action}")
        if change.action == CREATE:
            assert change.body is not None  # plan() gives every change it makes a body
            out += [f"  + {line}" for line in describe(change.kind, change.body)]
        elif change.action == UPDATE:
            # plan() updates only a configuration it found (``current``), to its body.
            assert change.current is not None and change.body is not None
            diff = difflib.ndiff(describe(change.kind, change.current), describe(change.kind, change.body))
            out += [f"  {line}" for line in diff if line[:2] in ("- ", "+ ")]
    counts = {
        action: sum(c.action == action for c in planned.changes) for action in (CREATE, UPDATE, UP_TO_DATE, DELETE)
    }
    out += [f"Note: {note}." for note in planned.notes]
    if not planned.changes:
        out.append("Nothing to delete: no configuration or operator created by cintel-relay setup has this name.")
    elif not planned.writes:
        out.append("Everything is up to date: nothing to do.")
    elif counts[DELETE]:
        out.append(f"Plan: {counts[DELETE]} to delete.")
    else:
        out.append(f"Plan: {counts[CREATE]} to create, {counts[UPDATE]} to update, {counts[UP_TO_DATE]} up to date.")
    return "\n".join(out)
