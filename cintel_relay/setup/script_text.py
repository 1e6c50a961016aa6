"""The relay's script as the text the Script Adherence operator takes, and a reading of that text back.

Twilio's Script Adherence operator is given the script as one ``parameters.script`` string: a block per
category, ``Category: <label>``, what the agent must do (and by when, from the category's
``withinSeconds``), and ``Score weight: N%`` (the format of the blog's Console walkthrough). The relay's own script (``CINTEL_SCRIPT_FILE`` or the built-in one) is
the source of truth; ``cintel-relay setup`` writes this rendering to Twilio and ``cintel-relay check``
reads Twilio's copy back to say where the two disagree.
"""

import math
import re
from typing import List, Tuple

from ..script import Script, canonical

_CATEGORY = re.compile(r"^\s*Category\s*:\s*(.+?)\s*$", re.IGNORECASE)
_WEIGHT = re.compile(r"^\s*Score\s+weight\s*:\s*(\d+(?:\.\d+)?)\s*%\s*$", re.IGNORECASE)


def percentages(script: Script) -> List[Tuple[str, int]]:
    """Each category's label and its weight as a whole percentage; the percentages add up to 100.

    Weights may be written as fractions (0.1) or percentages (10): only their ratios count. Rounding
    uses the largest remainder, so 1/3, 1/3, 1/3 becomes 34, 33, 33 rather than 33, 33, 33.
    """
    total = sum(c.weight for c in script.categories)
    exact = [100.0 * c.weight / total for c in script.categories]
    whole = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: (whole[i] - exact[i], i))
    for i in by_remainder[: 100 - sum(whole)]:
        whole[i] += 1
    return [(c.label, w) for c, w in zip(script.categories, whole)]


def render(script: Script) -> str:
    """The ``parameters.script`` text for Twilio's Script Adherence operator."""
    blocks = []
    for category, (label, percent) in zip(script.categories, percentages(script)):
        lines = [f"Category: {label}"]
        action = " ".join(category.description.split())
        if category.withinSeconds is not None:
            # The blog's wording ("... within first 50 seconds of conversation"): the deadline's one source
            # is the relay's script, which also times the step.
            deadline = f"Within first {category.withinSeconds:g} seconds of conversation."
            action = f"{action} {deadline}" if action else deadline
        if action:
            lines.append(f"Action: {action}")
        lines.append(f"Score weight: {percent}%")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def parse(text: str) -> List[Tuple[str, float]]:
    """The categories and weights a Script Adherence script names, in order; a missing weight reads as 0."""
    found: List[Tuple[str, float]] = []
    for line in str(text or "").splitlines():
        category = _CATEGORY.match(line)
        weight = _WEIGHT.match(line)
        if category:
            found.append((category.group(1), 0.0))
        elif weight and found:
            found[-1] = (found[-1][0], float(weight.group(1)))
    return found


def differences(script: Script, text: str) -> List[str]:
    """What differs between the relay's script and a Script Adherence script, one phrase each; empty when they agree."""
    ours = {canonical(label): (label, float(percent)) for label, percent in percentages(script)}
    theirs = {canonical(label): (label, percent) for label, percent in parse(text)}
    problems = [f"category {ours[k][0]!r} is missing in Twilio" for k in ours if k not in theirs]
    problems += [f"Twilio has category {theirs[k][0]!r}, the relay's script does not" for k in theirs if k not in ours]
    problems += [
        f"category {ours[k][0]!r} weighs {ours[k][1]:g}% in the relay's script, {theirs[k][1]:g}% in Twilio"
        for k in ours
        if k in theirs and ours[k][1] != theirs[k][1]
    ]
    return problems
