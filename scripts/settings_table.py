"""Write README's settings table from cintel_relay/settings.py: ``python3 scripts/settings_table.py``.

tests/test_settings.py fails while README's table differs from what this writes.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cintel_relay.settings import markdown_table  # noqa: E402

README = os.path.join(ROOT, "README.md")
#: README's table sits between these two lines.
START, END = "<!-- settings table: scripts/settings_table.py writes it -->", "<!-- end of settings table -->"
BLOCK = re.compile(re.escape(START) + r"\n.*?" + re.escape(END), re.S)


def readme_table(text: str) -> str:
    """The table between the markers of README's ``text``."""
    found = BLOCK.search(text)
    if not found:
        raise SystemExit(f"README.md has no settings table between {START!r} and {END!r}")
    return found[0][len(START) + 1 : -len(END)]


def main():
    """Rewrite README's table."""
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    readme_table(text)
    with open(README, "w", encoding="utf-8") as fh:
        fh.write(BLOCK.sub(lambda _: f"{START}\n{markdown_table()}{END}", text))


if __name__ == "__main__":
    main()
