"""What ``cintel-relay setup`` wants Twilio to hold, how that differs from what Twilio holds, and making it so.

Two resources, set up as the blog's Console walkthrough sets them up:

- a Conversation Intelligence configuration with two rules: Twilio's Script Adherence operator, its
  ``parameters.script`` rendered from the relay's script, on every communication; and Sentiment +
  Summary (+ Next Best Response with ``--suggestions``) every N communications. Both post to
  ``$SERVER_URL/webhook/cintel-action`` with memory context on.
- a Conversation Orchestrator configuration capturing VOICE to and from the Flex number, posting its
  status callbacks to ``$SERVER_URL/webhook/cor-event``, with the Intelligence configuration linked.

- each custom operator the operator catalog (``CINTEL_OPERATORS_FILE``) defines, created from its definition
  (prompt, output format and schema) and updated in place when the definition changes; the catalog's operators
  run in one more rule per trigger (``COMMUNICATION``, ``CONVERSATION_END``, ...) posting to the same webhook.

All carry :data:`MARKER` in their description: the command only ever changes or deletes a configuration or an
operator with its display name *and* that marker, never one it did not create.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, cast

from ..catalog import EMPTY, Catalog, Entry
from ..operators import DEFAULT_OPERATORS, TWILIO_OPERATORS, OperatorKind
from .control_plane import ControlPlane, ControlPlaneError, missing_credentials
from .script_text import render

CINTEL_WEBHOOK = "/webhook/cintel-action"
ORCHESTRATOR_WEBHOOK = "/webhook/cor-event"
MARKER = "Managed by cintel-relay setup"
DESCRIPTION = f"{MARKER}: real-time script adherence, sentiment and summary for Flex. Change it with the command."
DEFAULT_NAME = "cintel-relay"
_BY_KIND = {kind: operator_id for operator_id, kind in DEFAULT_OPERATORS.items()}
SCRIPT_ADHERENCE = _BY_KIND[OperatorKind.SCRIPT]
SENTIMENT = _BY_KIND[OperatorKind.SENTIMENT]
SUMMARY = _BY_KIND[OperatorKind.SUMMARY]
#: Twilio-authored Next Best Response (``--suggestions``).
NEXT_BEST_RESPONSE = _BY_KIND[OperatorKind.SUGGESTION]
#: How the plan names each operator: Twilio's own names, from the operator table.
OPERATOR_NAMES = {operator_id: operator.name for operator_id, operator in TWILIO_OPERATORS.items()}
#: Conversation grouping types (Conversations v2 spec, ``conversationGroupingType``).
GROUPINGS = ("GROUP_BY_PROFILE", "GROUP_BY_PARTICIPANT_ADDRESSES", "GROUP_BY_PARTICIPANT_ADDRESSES_AND_CHANNEL_TYPE")
CREATE, UPDATE, UP_TO_DATE, DELETE = "create", "update", "up to date", "delete"
INTELLIGENCE, ORCHESTRATOR = "Conversation Intelligence configuration", "Conversation Orchestrator configuration"
OPERATOR = "Conversation Intelligence operator"


class SetupError(ControlPlaneError):
    """The plan cannot be made: a setting is missing, or a name is taken by a configuration we did not create."""


@dataclass(frozen=True)
class Options:
    """The command line's choices."""

    name: str = DEFAULT_NAME
    summary_every: int = 5
    suggestions: bool = False
    grouping: str = GROUPINGS[0]
    memory_store: Optional[str] = None
    #: The operator catalog whose custom operators setup creates and runs.
    catalog: Catalog = EMPTY


@dataclass
class Change:
    """One resource: what happens to it, what it is now (``current``) and the body that makes it so (``body``)."""

    kind: str
    action: str
    current: Optional[dict] = None
    body: Optional[dict] = None

    @property
    def id(self) -> Optional[str]:
        """The resource's id in Twilio, once it exists."""
        return (self.current or {}).get("id")


@dataclass
class Plan:
    """The changes: custom operators first (the Intelligence configuration's rules name them), then the Intelligence
    configuration, then the Orchestrator one (it links the Intelligence one); deletions in the reverse order."""

    changes: List[Change] = field(default_factory=list)
    #: Things an admin should know that the plan does not change (e.g. a hand-made configuration posting here too).
    notes: List[str] = field(default_factory=list)

    @property
    def writes(self) -> List[Change]:
        """The changes that need a write (everything but "up to date")."""
        return [c for c in self.changes if c.action != UP_TO_DATE]


def _owned(resources, name: str, kind: str) -> Optional[dict]:
    """Our configuration among ``resources``; refuses to go on when the name is taken by someone else's."""
    for resource in resources:
        if resource.get("displayName") != name:
            continue
        if MARKER in (resource.get("description") or ""):
            return resource
        raise SetupError(
            f"a {kind} named {name!r} already exists ({resource.get('id')}) and cintel-relay setup did "
            "not create it, so it is left alone: choose another name with --name"
        )
    return None


def _role(rule: dict, custom=frozenset()) -> Optional[str]:
    """Which of the command's rules this is: ``script``, ``insights``, ``custom:<trigger>`` (all its operators are
    the catalog's, ``custom``), or None for a rule made by hand."""
    operators = {o.get("id") for o in rule.get("operators") or []}
    if SCRIPT_ADHERENCE in operators:
        return "script"
    if operators & {SENTIMENT, SUMMARY}:
        return "insights"
    if operators and operators <= custom:
        return "custom:" + str((rule.get("triggers") or [{}])[0].get("on"))
    return None


def placeholder_of(name: str) -> str:
    """What a rule names an operator by until Twilio has assigned its id (replaced when the plan is applied)."""
    return f"(the operator {name!r} above)"


def created_by_setup(operators, entry: Entry) -> Optional[dict]:
    """Among Twilio's ``operators``, the one this command created for a catalog entry: a custom operator with the
    entry's name as its display name and :data:`MARKER` in its description."""
    return next(
        (
            o
            for o in operators
            if o.get("author") != "TWILIO"
            and o.get("displayName") == entry.name
            and MARKER in (o.get("description") or "")
        ),
        None,
    )


def operator_body(entry: Entry) -> dict:
    """A catalog operator's create/update body (``CreateOperator``/``UpdateOperator``): the definition, marked."""
    definition = entry.definition or {}
    body = {
        "displayName": entry.name,
        "description": " ".join(filter(None, [str(definition.get("description") or "").strip(), f"({MARKER})"])),
        "prompt": definition["prompt"],
        "outputFormat": entry.output_format,
    }
    if entry.output_schema is not None:
        body["outputSchema"] = entry.output_schema
    return body


def _same_operator(current: dict, body: dict) -> bool:
    fields = ("displayName", "description", "prompt", "outputFormat", "outputSchema")
    return all(current.get(f) == body.get(f) for f in fields)


def operator_changes(control: ControlPlane, catalog: Catalog) -> List[Change]:
    """Per catalog operator with a definition: create, update in place, or up to date. A custom operator of that
    name that the command did not create is left alone, and the plan refused."""
    custom = [o for o in control.operators() if o.get("author") != "TWILIO"]
    changes = []
    for entry in catalog.entries:
        if entry.definition is None:
            continue  # an operator made in Console: the relay only runs it
        current = next((o for o in custom if entry.operator_id and o.get("id") == entry.operator_id), None)
        current = current or _owned([o for o in custom if o.get("displayName") == entry.name], entry.name, OPERATOR)
        body = operator_body(entry)
        action = CREATE if current is None else UP_TO_DATE if _same_operator(current, body) else UPDATE
        changes.append(Change(OPERATOR, action, current, body))
    return changes


def custom_rules(catalog: Catalog, operators: List[Change]) -> Dict[str, List[str]]:
    """The catalog's operators by trigger: their Twilio ids, or placeholders for those still to be created."""
    created = {c.body["displayName"]: c.id for c in operators if c.body is not None}
    rules: Dict[str, List[str]] = {}
    for entry in catalog.entries:
        trigger = (entry.definition or {}).get("trigger", "COMMUNICATION")
        operator_id = entry.operator_id or created.get(entry.name) or placeholder_of(entry.name)
        rules.setdefault(trigger, []).append(operator_id)
    return rules


def posts_to(resource: dict) -> List[str]:
    """The URLs an Intelligence configuration's rules post their results to."""
    return [a.get("url") for rule in resource.get("rules") or [] for a in rule.get("actions") or []]


def _rule(operators: list, every: int, url: str, on: str = "COMMUNICATION") -> dict:
    trigger: Dict[str, Any] = {"on": on}
    if on == "COMMUNICATION":
        trigger["parameters"] = {"count": every}
    return {
        "operators": operators,
        "triggers": [trigger],
        "actions": [{"type": "WEBHOOK", "method": "POST", "url": url}],
        "context": {"memory": {"enabled": True}},
    }


def intelligence_body(
    config, script, options: Options, current: Optional[dict] = None, custom: Optional[Dict[str, List[str]]] = None
) -> dict:
    """The Intelligence configuration's create/update body; rules keep the ids they have in ``current``.
    ``custom``: the catalog's operator ids by trigger (:func:`custom_rules`), one more rule each."""
    url = config.server_url + CINTEL_WEBHOOK
    insights = [{"id": SENTIMENT}, {"id": SUMMARY}] + ([{"id": NEXT_BEST_RESPONSE}] if options.suggestions else [])
    rules = {
        "script": _rule([{"id": SCRIPT_ADHERENCE, "parameters": {"script": render(script)}}], 1, url),
        "insights": _rule(insights, options.summary_every, url),
    }
    for on, ids in (custom or {}).items():
        rules[f"custom:{on}"] = _rule([{"id": i} for i in ids], 1, url, on)
    known = frozenset(i for ids in (custom or {}).values() for i in ids)
    others = []
    for existing in (current or {}).get("rules") or []:
        role = _role(existing, known)
        if role in rules and "id" not in rules[role]:
            rules[role] = {"id": existing["id"], **rules[role]}
        else:
            others.append(existing)  # a rule added by hand in Console: kept as it is
    return {
        "displayName": options.name,
        "description": DESCRIPTION,
        "rules": [*rules.values(), *others],
    }


def orchestrator_body(config, options: Options, intelligence_id: Optional[str], current: Optional[dict]) -> dict:
    """The Orchestrator configuration's create/update body; other channels and linked configurations are kept."""
    current = current or {}
    store = options.memory_store or config.memory_store_id or current.get("memoryStoreId")
    if not store:
        raise SetupError(
            "Twilio's Conversation Orchestrator needs a Memory Store to resolve profiles: set "
            "CINTEL_MEMORY_STORE_ID=mem_store_... or pass --memory-store mem_store_... (the id is in "
            "Console > Conversation Memory > Memory stores)"
        )
    number = config.flex_phone_number
    channels = dict(current.get("channelSettings") or {})
    voice = dict(channels.get("VOICE") or {})
    voice["captureRules"] = [{"from": "*", "to": number}, {"from": number, "to": "*"}]
    channels["VOICE"] = voice
    linked = [i for i in current.get("intelligenceConfigurationIds") or [] if i != intelligence_id]
    return {
        "displayName": options.name,
        "description": DESCRIPTION,
        "conversationGroupingType": options.grouping,
        "memoryStoreId": store,
        "channelSettings": channels,
        "statusCallbacks": [{"url": config.server_url + ORCHESTRATOR_WEBHOOK, "method": "POST"}],
        "intelligenceConfigurationIds": [intelligence_id or "(the Intelligence configuration above)", *linked],
        "memoryExtractionEnabled": True,
    }


def _rule_view(rule: dict) -> tuple:
    """A rule without what Twilio adds (its id, operator versions we did not pin, default counts)."""
    trigger = (rule.get("triggers") or [{}])[0]
    return (
        tuple((o.get("id"), repr(sorted((o.get("parameters") or {}).items()))) for o in rule.get("operators") or []),
        trigger.get("on"),
        (trigger.get("parameters") or {}).get("count", 1),
        tuple((a.get("type"), a.get("method"), a.get("url")) for a in rule.get("actions") or []),
        bool(((rule.get("context") or {}).get("memory") or {}).get("enabled")),
    )


def _same_intelligence(current: dict, body: dict) -> bool:
    return (current.get("displayName"), current.get("description")) == (body["displayName"], body["description"]) and [
        _rule_view(r) for r in current.get("rules") or []
    ] == [_rule_view(r) for r in body["rules"]]


def _same_orchestrator(current: dict, body: dict) -> bool:
    def view(resource):
        voice = (resource.get("channelSettings") or {}).get("VOICE") or {}
        captured = sorted((r.get("from"), r.get("to")) for r in voice.get("captureRules") or [])
        return (
            resource.get("displayName"),
            resource.get("description"),
            resource.get("conversationGroupingType"),
            resource.get("memoryStoreId"),
            captured,
            [(c.get("url"), c.get("method", "POST")) for c in resource.get("statusCallbacks") or []],
            list(resource.get("intelligenceConfigurationIds") or []),
            bool(resource.get("memoryExtractionEnabled")),
        )

    return view(current) == view(body)


def missing(env: Mapping[str, str], deleting: bool = False) -> List[str]:
    """Every setting the command needs that ``env`` lacks, credentials first, each naming what to set: all at
    once, rather than one per run."""
    found = []
    no_credentials = missing_credentials(env)
    if no_credentials:
        found.append(no_credentials)
    if deleting:
        return found
    if not env.get("SERVER_URL", "").strip():
        found.append(
            "SERVER_URL is not set: set it to the relay's public https URL (on Heroku: heroku apps:info -s | "
            "grep web_url); Twilio posts the webhooks there"
        )
    if not env.get("TWILIO_FLEX_PHONE_NUMBER", "").strip():
        found.append(
            "TWILIO_FLEX_PHONE_NUMBER is not set: set it to the Flex number (E.164, e.g. +18005550199) "
            "whose calls Conversation Orchestrator should capture"
        )
    return found


def plan(control: ControlPlane, config, script, options: Options) -> Plan:
    """Compare Twilio with what the relay's configuration, script and operator catalog want (see :func:`missing`);
    nothing is written."""
    operators = operator_changes(control, options.catalog) if options.catalog.entries else []
    everything = list(control.intelligence_configurations())
    intel = _owned(everything, options.name, INTELLIGENCE)
    url = config.server_url + CINTEL_WEBHOOK
    notes = [
        f"the {INTELLIGENCE} {c.get('displayName')!r} ({c.get('id')}) was not made by this command and also posts "
        f"to {url}: once this one works, delete that one in Console, or every result reaches the relay twice"
        for c in everything
        if c is not intel and url in posts_to(c)
    ]
    body = intelligence_body(config, script, options, intel, custom_rules(options.catalog, operators))
    intel_action = CREATE if intel is None else UP_TO_DATE if _same_intelligence(intel, body) else UPDATE
    orch = _owned(control.orchestrator_configurations(), options.name, ORCHESTRATOR)
    orch_body = orchestrator_body(config, options, (intel or {}).get("id"), orch)
    orch_action = CREATE if orch is None else UP_TO_DATE if _same_orchestrator(orch, orch_body) else UPDATE
    return Plan(
        [
            *operators,
            Change(INTELLIGENCE, intel_action, intel, body),
            Change(ORCHESTRATOR, orch_action, orch, orch_body),
        ],
        notes,
    )


def delete_plan(control: ControlPlane, options: Options) -> Plan:
    """The configurations the command created under this name, Orchestrator first (it links the other), then the
    custom operators it created for the catalog's entries (the configuration's rules named them)."""
    orch = _owned(control.orchestrator_configurations(), options.name, ORCHESTRATOR)
    intel = _owned(control.intelligence_configurations(), options.name, INTELLIGENCE)
    names = {entry.name for entry in options.catalog.entries if entry.definition is not None}
    operators = [
        o
        for o in (control.operators() if names else [])
        if o.get("author") != "TWILIO" and o.get("displayName") in names and MARKER in (o.get("description") or "")
    ]
    configurations = [(ORCHESTRATOR, orch), (INTELLIGENCE, intel)]
    return Plan(
        [Change(kind, DELETE, current) for kind, current in configurations if current is not None]
        + [Change(OPERATOR, DELETE, o) for o in operators]
    )


def _resolve(body: dict, ids: Dict[str, str]) -> dict:
    """The Intelligence body with each placeholder replaced by the id Twilio assigned that operator."""
    for rule in body.get("rules") or []:
        for operator in rule.get("operators") or []:
            operator["id"] = ids.get(operator.get("id"), operator.get("id"))
    return body


def _write(change: Change, progress, create, update):
    """Create or update what ``change`` names from its body (nothing when it is up to date); ``current`` becomes
    what Twilio answered. An operator is updated in place: its id stays the one the Intelligence rules name."""
    assert change.body is not None
    if change.action == CREATE:
        progress(f"creating the {change.kind} {change.body['displayName']!r}")
        change.current = create(change.body)
    elif change.action == UPDATE:
        progress(f"updating the {change.kind} {change.id}{' in place' if change.kind == OPERATOR else ''}")
        change.current = update(cast(str, change.id), change.body)


def apply(control: ControlPlane, config, options: Options, planned: Plan) -> dict:
    """Carry the plan out, Intelligence first; the ids of what exists afterwards."""
    ids: Dict[str, Any] = {}
    assigned: Dict[str, str] = {}
    deleters = {
        ORCHESTRATOR: control.delete_orchestrator,
        INTELLIGENCE: control.delete_intelligence,
        OPERATOR: control.delete_operator,
    }
    for change in planned.changes:
        progress = control.progress
        # A change to delete or update has the resource Twilio listed as ``current``, and so its id.
        config_id = cast(str, change.id)
        if change.action == DELETE:
            progress(f"deleting the {change.kind} {change.id}")
            deleters[change.kind](config_id)
        elif change.kind == OPERATOR:
            assert change.body is not None  # operator_changes() gives each change a body
            _write(change, progress, control.create_operator, control.update_operator)
            assert change.current is not None
            name = change.body["displayName"]
            assigned[placeholder_of(name)] = cast(str, change.id)
            ids.setdefault("operatorIds", {})[name] = change.id
        elif change.kind == INTELLIGENCE:
            assert change.body is not None  # plan() gives both of its changes a body
            _resolve(change.body, assigned)
            _write(change, progress, control.create_intelligence, control.update_intelligence)
            # Created or updated just now, else up to date: the configuration plan() found.
            assert change.current is not None
            ids["intelligenceConfigurationId"] = change.id
            ids["ruleIds"] = {_role(r) or r["id"]: r["id"] for r in change.current.get("rules") or []}
        else:
            body = orchestrator_body(config, options, ids["intelligenceConfigurationId"], change.current)
            if change.action == CREATE:
                progress(f"creating the {ORCHESTRATOR} {body['displayName']!r}")
                change.current = {"id": control.create_orchestrator(body)}
            elif change.action == UPDATE:
                progress(f"updating the {ORCHESTRATOR} {change.id}")
                control.update_orchestrator(config_id, body)
            ids["orchestratorConfigurationId"] = change.id
    return ids


def ids_of(planned: Plan) -> dict:
    """The ids a plan's resources have now (None for those it would create)."""
    intel, orch = (next(c for c in planned.changes if c.kind == kind) for kind in (INTELLIGENCE, ORCHESTRATOR))
    ids = {
        "intelligenceConfigurationId": intel.id,
        "orchestratorConfigurationId": orch.id,
        "ruleIds": {_role(r) or r["id"]: r["id"] for r in (intel.current or {}).get("rules") or []},
    }
    operators = {c.body["displayName"]: c.id for c in planned.changes if c.kind == OPERATOR and c.body}
    if operators:
        ids["operatorIds"] = operators
    return ids
