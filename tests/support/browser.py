"""The browser the tests drive, and axe-core's accessibility audit of a page in it."""

from pathlib import Path

from .processes import ROOT

#: Headless Chromium as installed by apt (never a Playwright-downloaded browser), with flags that work here.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: axe-core from the plugin's locked npm packages, injected into a page as the browser's own script (a context's
#: init script): the console's Content-Security-Policy (script-src 'self') forbids adding it to the page.
AXE = Path(ROOT) / "plugin-cintel-rtt" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_FAILING = ("serious", "critical")


def axe_source() -> str:
    assert AXE.is_file(), f"{AXE} is missing: axe-core must be a devDependency in plugin-cintel-rtt (npm ci)"
    return AXE.read_text(encoding="utf-8")


def audit(page) -> list:
    """The page's serious and critical violations of the WCAG A/AA rules, each as one readable line."""
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(str(n['target']) for n in v['nodes'][:5])}"
        for v in result["violations"]
        if v["impact"] in AXE_FAILING
    ]
