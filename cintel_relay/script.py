"""The agent's script: its definition, and the adherence state derived from Script Adherence results.

A category may carry ``withinSeconds``: the step is due that many seconds after the call starts (the
blog's "within first 50 seconds of conversation"). The script's ``lateCredit`` (0 to 1, default 1) is the
share of its weight a step met after its deadline still earns in the score. The relay decides, per
category, whether a step was done ``on_time``, ``late``, is ``overdue`` or still ``open`` (append.lua).
"""

import json
import math
import re
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Optional, Tuple

from .errors import ConfigError

MET, MISSED, PENDING = "met", "missed", "pending"


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    description: str
    weight: float
    #: Seconds from the call's start by which the step is due; None: no deadline.
    withinSeconds: Optional[float] = None


#: The share of its weight a step met after its deadline earns, unless the script says otherwise.
DEFAULT_LATE_CREDIT = 1.0


@dataclass(frozen=True)
class Script:
    name: str
    categories: Tuple[Category, ...]
    lateCredit: float = DEFAULT_LATE_CREDIT

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "lateCredit": self.lateCredit,
            "categories": [asdict(c) for c in self.categories],
        }

    def find(self, raw_key) -> Optional[Category]:
        """The category a model's ``category_key`` names, matched by key or label, tolerantly."""
        wanted = canonical(raw_key)
        for category in self.categories:
            if wanted in (canonical(category.key), canonical(category.label)):
                return category
        return None


def canonical(key) -> str:
    """Fold case, whitespace and punctuation: "Move Details", "move-details" and "MOVE_DETAILS" agree."""
    return re.sub(r"[\W_]+", "", str(key)).casefold()


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _within(entry, source: str) -> Optional[float]:
    """A category's ``withinSeconds``: absent or null for no deadline, else a positive number of seconds."""
    value = entry.get("withinSeconds")
    if value is None:
        return None
    if not _number(value) or value <= 0:
        raise ConfigError(
            f"script {source}: category {entry.get('key')!r} has withinSeconds={value!r}; "
            "give a positive number of seconds from the call's start, or leave it out for no deadline."
        )
    return float(value)


def _late_credit(data, source: str) -> float:
    value = data.get("lateCredit", DEFAULT_LATE_CREDIT)
    if not _number(value) or not 0 <= value <= 1:
        raise ConfigError(
            f"script {source} has lateCredit={value!r}; give a number from 0 (a late step earns nothing) "
            "to 1 (a late step counts in full, the default)."
        )
    return float(value)


def parse_script(data, source: str) -> Script:
    """Build a :class:`Script` from its JSON form, or say what is wrong with it."""
    try:
        categories = tuple(
            Category(
                key=str(c["key"]),
                label=str(c.get("label") or c["key"]),
                description=str(c.get("description") or ""),
                weight=float(c["weight"]),
                withinSeconds=_within(c, source),
            )
            for c in data["categories"]
        )
        name = str(data.get("name") or "Script")
        late_credit = _late_credit(data, source)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"script {source} is not valid ({exc!r}): it needs categories, each with key and a numeric weight."
        ) from exc
    if not categories or any(c.weight < 0 for c in categories) or sum(c.weight for c in categories) <= 0:
        raise ConfigError(f"script {source} needs at least one category and positive weights.")
    if len({canonical(c.key) for c in categories}) != len(categories):
        raise ConfigError(f"script {source} has two categories whose keys differ only in case or punctuation.")
    return Script(name=name, categories=categories, lateCredit=late_credit)


def load_script(path: Optional[str] = None) -> Script:
    """Load the script from ``path``, or the packaged moving-company script of Twilio's sample."""
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"CINTEL_SCRIPT_FILE={path!r} cannot be read as JSON ({exc}): fix the file or unset it."
            ) from exc
        return parse_script(data, path)
    text = resources.files("cintel_relay").joinpath("data/script.json").read_text(encoding="utf-8")
    return parse_script(json.loads(text), "(built-in)")


#: The verdicts of Twilio's Script Adherence operator; any other value (``NotEvaluated``, ...) is no verdict.
SUCCEEDED, FAILED = "succeeded", "failed"


def _status(criteria) -> str:
    verdicts = [str(c.get("criteria_met", "")).strip().casefold() for c in criteria if isinstance(c, dict)]
    evaluated = [v for v in verdicts if v in (SUCCEEDED, FAILED)]
    if FAILED in evaluated:
        return MISSED
    return MET if evaluated else PENDING


def evaluate(script: Script, result) -> Optional[dict]:
    """Checklist state from one Script Adherence result, or None when the result is not one.

    Only evaluated criteria count, as in Twilio's reference parser (``parse_script_adherence`` in its
    CI quickstart): a category is missed when a criterion failed, met when at least one was evaluated and
    all evaluated ones succeeded, pending otherwise (nothing evaluated yet).
    Stickiness across results (a category once met stays met) and the weighted score are applied by the
    bus (append.lua), atomically, where the call's merged state is known.
    """
    if not isinstance(result, dict) or not isinstance(result.get("categories"), list):
        return None
    verdicts = {}
    for entry in result["categories"]:
        if not isinstance(entry, dict):
            continue
        category = script.find(entry.get("category_key", ""))
        if category is not None and isinstance(entry.get("criteria"), list):
            verdicts[category.key] = _status(entry["criteria"])
    explanation = result.get("explanation")
    return {
        **checklist(script, verdicts),
        "explanation": explanation if isinstance(explanation, str) else None,
    }


def checklist(script: Script, verdicts: Optional[dict] = None) -> dict:
    """The script's categories with their verdicts (pending when none), deadlines and the late credit: the
    base of every ``adherence`` frame, which append.lua merges with the call's state."""
    categories = [
        {
            "key": c.key,
            "label": c.label,
            "weight": c.weight,
            "status": (verdicts or {}).get(c.key, PENDING),
            "withinSeconds": c.withinSeconds,
        }
        for c in script.categories
    ]
    return {"categories": categories, "lateCredit": script.lateCredit}
