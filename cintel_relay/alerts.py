"""Alert rules over a call's state: which are firing now. Pure: no I/O (the bus reads the state, see
:class:`cintel_relay.bus.alerting.Alerting`).

A rule is the catalog's (``CINTEL_OPERATORS_FILE`` ``alerts``, docs/operators.md) or one of the two built-in ones
that were the board's fixed flags: a script step overdue, and negative sentiment. Each rule has a ``name``, a
``title``, a ``severity`` (``info``, ``warning``, ``critical``), an ``audience`` (``supervisor``, ``agent``) and
one condition under ``when``:

- ``label``: ``{"operator": <catalog key or id>, "in": [labels]}``: the operator's latest CLASSIFICATION label.
- ``field``: ``{"operator", "path": "a.b", "op": "==|!=|<|<=|>|>=|in", "value"}``: a field of its latest JSON result.
- ``sentiment``: ``{"negative": N}``: the last N sentiment results were all negative.
- ``overdue``: ``{"step": <category key>?}``: a script step (any, or that one) is overdue.
- ``score``: ``{"below": X, "after": T}``: the adherence score is below X, T seconds or more into the call.
- ``phrases``: ``{"speaker": "customer|agent", "any": [phrases], "window": N}``: one of the speaker's last N
  utterances (default 3) holds a phrase (case-insensitive).

A condition is a function of the state alone, so a rule fires when its condition becomes true and clears when it
becomes false; :class:`~cintel_relay.bus.alerting.Alerting` turns those changes into one ``alert`` event each.
"""

import operator as ops
from typing import Dict, List, Mapping, NamedTuple, Optional, Tuple

from .errors import ConfigError
from .events import ADHERENCE, INSIGHT, SENTIMENT, TRANSCRIPT

SEVERITIES = ("info", "warning", "critical")
AUDIENCES = ("supervisor", "agent")
COMPARISONS = {"==": ops.eq, "!=": ops.ne, "<": ops.lt, "<=": ops.le, ">": ops.gt, ">=": ops.ge}
#: How many of the call's latest events a phrase or sentiment-streak rule may look back over.
TAIL = 100
#: The frame types whose arrival can change each kind's condition: a rule is evaluated only after a delivery that
#: logged one of them (a ``score`` rule's ``after`` also becomes true with time alone: see ``bus.alerting``).
READS = {
    "label": frozenset({INSIGHT}),
    "field": frozenset({INSIGHT}),
    "sentiment": frozenset({SENTIMENT}),
    "overdue": frozenset({ADHERENCE}),
    "score": frozenset({ADHERENCE}),
    "phrases": frozenset({TRANSCRIPT}),
}
KINDS = tuple(READS)


class Rule(NamedTuple):
    name: str
    title: str
    severity: str
    audience: Tuple[str, ...]
    kind: str
    params: Mapping

    @property
    def needs_tail(self) -> bool:
        """True when the rule reads recent events (utterances, sentiment results), not only latest values."""
        return self.kind in ("phrases", "sentiment")

    @property
    def reads(self) -> frozenset:
        """The frame types whose arrival can change whether the rule fires."""
        return READS[self.kind]


#: The board's two flags of old, as rules: they fire for supervisors whatever the catalog says.
BUILT_IN = (
    Rule("step-overdue", "Script step overdue", "warning", ("supervisor",), "overdue", {}),
    Rule("negative-sentiment", "Negative sentiment", "warning", ("supervisor",), "sentiment", {"negative": 1}),
)


class Firing(NamedTuple):
    """A rule firing now: why, in words, and the evidence (transcript or operator result ids)."""

    why: str
    evidence: List[str]


def _problems(raw, n: int, catalog_operators: Mapping[str, str], taken: set) -> List[str]:
    if not isinstance(raw, dict):
        return [f"alerts[{n}]: must be an object with name, severity and when"]
    name = raw.get("name")
    label = f"alerts[{n}] ({name})" if isinstance(name, str) and name else f"alerts[{n}]"
    found = []
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum() or len(name) > 40:
        found.append(f"{label}: name must be letters, digits, - or _ (e.g. churn-high)")
    elif name in taken:
        found.append(f"{label}: name {name!r} is taken (by an earlier rule, or a built-in one)")
    if raw.get("severity", "warning") not in SEVERITIES:
        found.append(f"{label}: severity must be one of {', '.join(SEVERITIES)}")
    audience = raw.get("audience", ["supervisor"])
    if not isinstance(audience, list) or not audience or any(a not in AUDIENCES for a in audience):
        found.append(f"{label}: audience must list {' and/or '.join(AUDIENCES)}")
    when = raw.get("when")
    if not isinstance(when, dict) or len(when) != 1 or next(iter(when)) not in KINDS:
        return found + [f"{label}: when must hold exactly one of {', '.join(KINDS)}"]
    kind, params = next(iter(when.items()))
    if not isinstance(params, dict):
        return found + [f"{label}: when.{kind} must be an object"]
    if kind in ("label", "field") and params.get("operator") not in catalog_operators:
        found.append(f"{label}: when.{kind}.operator {params.get('operator')!r} is not a catalog operator's key or id")
    if kind == "label" and not (isinstance(params.get("in"), list) and params["in"]):
        found.append(f"{label}: when.label.in must list the labels that fire it")
    if kind == "field":
        if not isinstance(params.get("path"), str) or not params["path"]:
            found.append(f"{label}: when.field.path must name a field, e.g. likelihood or evidence.quote")
        if params.get("op", "==") not in (*COMPARISONS, "in"):
            found.append(f"{label}: when.field.op must be one of {', '.join(COMPARISONS)} or in")
        if "value" not in params:
            found.append(f"{label}: when.field.value is missing")
    if kind == "sentiment" and not (isinstance(params.get("negative"), int) and 1 <= params["negative"] <= 20):
        found.append(f"{label}: when.sentiment.negative must be a whole number from 1 to 20")
    if kind == "score":
        below, after = params.get("below"), params.get("after", 0)
        if not isinstance(below, (int, float)) or not isinstance(after, (int, float)) or after < 0:
            found.append(f"{label}: when.score needs below (0-100) and after (seconds, 0 or more)")
    if kind == "phrases":
        phrases = params.get("any")
        if params.get("speaker", "customer") not in ("customer", "agent"):
            found.append(f"{label}: when.phrases.speaker must be customer or agent")
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p.strip() for p in phrases):
            found.append(f"{label}: when.phrases.any must list words or phrases")
        if not (isinstance(params.get("window", 3), int) and 1 <= params.get("window", 3) <= 20):
            found.append(f"{label}: when.phrases.window must be 1 to 20 utterances")
    return found


def parse_rules(raw_rules, catalog_operators: Mapping[str, str]) -> Tuple[Rule, ...]:
    """The catalog's rules after the built-in ones. ``catalog_operators``: each catalog key and id -> the
    operator's id or name the insight carries (its ``operatorId`` when known, else its key).

    :raises ConfigError: every mistake, one line each, naming the rule.
    """
    taken = {rule.name for rule in BUILT_IN}
    rules, problems = list(BUILT_IN), []
    for n, raw in enumerate(raw_rules):
        found = _problems(raw, n, catalog_operators, taken)
        if found:
            problems += found
            continue
        kind, params = next(iter(raw["when"].items()))
        if kind in ("label", "field"):
            params = {**params, "operator": catalog_operators[params["operator"]]}
        if kind == "phrases":
            params = {**params, "any": [p.strip().casefold() for p in params["any"]]}
        taken.add(raw["name"])
        rules.append(
            Rule(
                raw["name"],
                str(raw.get("title") or raw["name"]),
                raw.get("severity", "warning"),
                tuple(raw.get("audience", ["supervisor"])),
                kind,
                params,
            )
        )
    if problems:
        raise ConfigError("\n".join(f"CINTEL_OPERATORS_FILE: {line}" for line in problems))
    return tuple(rules)


class CallState(NamedTuple):
    """What rules read: the snapshot's latest values, the call's latest events (oldest first), and its age."""

    latest: Mapping[str, object]
    tail: List[Tuple[str, dict]]
    seconds: float


def _insight(state: CallState, operator: str) -> Optional[dict]:
    insights = state.latest.get("insights")
    if not isinstance(insights, dict):
        return None
    found = insights.get(operator)
    if found is None:  # an operator matched by name: the insight carries the catalog key
        found = next((i for i in insights.values() if isinstance(i, dict) and i.get("catalogKey") == operator), None)
    return found if isinstance(found, dict) else None


def _at(value, path: str):
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _overdue(state: CallState, step: Optional[str]) -> Optional[Firing]:
    adherence = state.latest.get("adherence")
    if not isinstance(adherence, dict) or not isinstance(adherence.get("categories"), list):
        return None
    categories: List[dict] = adherence["categories"]
    later_met, late = False, []  # type: bool, List[dict]
    for category in reversed(categories):
        status = category.get("status")
        if "due" in category:  # the relay's deadlines decide (a step past its withinSeconds)
            overdue = category.get("due") == "overdue"
        else:  # no deadlines: missed, or skipped (a later step is met while it is not)
            overdue = status == "missed" or (status != "met" and later_met)
        later_met = later_met or status == "met"
        if overdue and (step is None or category.get("key") == step):
            late.insert(0, category)
    if not late:
        return None
    evidence = [e for c in late for e in c.get("evidence") or []] + [str(adherence.get("operatorResultId") or "")]
    return Firing(", ".join(f"{c.get('label') or c.get('key')} overdue" for c in late), [e for e in evidence if e])


def condition(rule: Rule, state: CallState) -> Optional[Firing]:
    """Whether ``rule`` fires on ``state``: a :class:`Firing`, or None."""
    p = rule.params
    if rule.kind == "overdue":
        return _overdue(state, p.get("step"))
    if rule.kind == "sentiment":
        results = [d for t, d in state.tail if t == "sentiment"][-p["negative"] :]
        if len(results) == p["negative"] and all(str(d.get("label")).lower() == "negative" for d in results):
            return Firing(
                f"sentiment negative {p['negative']} time(s) in a row",
                [str(d.get("operatorResultId")) for d in results if d.get("operatorResultId")],
            )
        return None
    if rule.kind in ("label", "field"):
        insight = _insight(state, p["operator"])
        if insight is None:
            return None
        evidence = [str(insight.get("operatorResultId") or "")]
        name = insight.get("operatorName")
        if rule.kind == "label":
            labels = [f["value"] for f in insight.get("fields") or [] if f.get("style") == "label"]
            hits = [label for label in labels if str(label).upper() in {str(w).upper() for w in p["in"]}]
            return Firing(f"{name}: {hits[0]}", evidence) if hits else None
        value = _at(insight.get("raw"), p["path"])
        op = p.get("op", "==")
        try:
            hit = value in p["value"] if op == "in" else value is not None and COMPARISONS[op](value, p["value"])
        except TypeError:  # a value of another type than the rule's: it does not fire
            hit = False
        return Firing(f"{name}: {p['path']} is {value!r}", evidence) if hit else None
    if rule.kind == "score":
        adherence = state.latest.get("adherence")
        score = adherence.get("score") if isinstance(adherence, dict) else None
        if isinstance(score, (int, float)) and score < p["below"] and state.seconds >= p.get("after", 0):
            return Firing(f"adherence score {score:g}% below {p['below']:g}% after {int(state.seconds)} s", [])
        return None
    speaker = p.get("speaker", "customer")
    said = [d for t, d in state.tail if t == "transcript" and d.get("speaker") == speaker][-p.get("window", 3) :]
    hits = [(d, w) for d in said for w in p["any"] if w in str(d.get("text", "")).casefold()]
    if not hits:
        return None
    words = sorted({w for _, w in hits})
    return Firing(
        f"the {speaker} said {', '.join(repr(w) for w in words)}",
        list(dict.fromkeys(str(d.get("id")) for d, _ in hits)),
    )


def evaluate(rules, state: CallState) -> Dict[str, Optional[Firing]]:
    """Every rule's condition on ``state``, by rule name."""
    return {rule.name: condition(rule, state) for rule in rules}
