"""Where the built book is, and whether it is current (used by the tests of the built site)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("SSLBOOK_HTML", "") or ROOT / "_build" / "html")


def stale_build_reason(html: Path = HTML, root: Path = ROOT) -> str | None:
    """Why the built book at ``html`` cannot be tested now (not built, or older than its sources),
    or ``None`` when it is current."""
    index = html / "index.html"
    if not index.exists():
        return f"the book is not built ({index} missing): run `jupyter-book build .` first"
    # Sphinx rewrites .buildinfo on every build; index.html (a redirect) only when it changes.
    built = max(p.stat().st_mtime for p in (index, html / ".buildinfo") if p.exists())
    sources = [root / "_toc.yml", root / "_config.yml", *sorted((root / "book").glob("*.md"))]
    newer = [p.name for p in sources if p.exists() and p.stat().st_mtime > built]
    if newer:
        return f"the book in {html} is older than {', '.join(newer[:3])}: rebuild with `jupyter-book build .` first"
    return None


def require_build() -> bool:
    """CI sets ``SSLBOOK_REQUIRE_BUILD=1``: a missing or stale build then fails instead of skipping."""
    return os.environ.get("SSLBOOK_REQUIRE_BUILD", "").strip() not in ("", "0")
