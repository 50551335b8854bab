"""Static checks of the built book in ``_build/html`` (run after ``jupyter-book build .``).

Skipped, with a message, when the book has not been built; ``.ci/run`` runs them after its strict
build.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"

from built_book import require_build, stale_build_reason  # noqa: E402

from bookext.toc import toc_chapters as _toc_chapters  # noqa: E402


def toc_chapters():
    return _toc_chapters(ROOT)


STALE = stale_build_reason(HTML, ROOT)
if STALE and require_build():
    raise RuntimeError(f"SSLBOOK_REQUIRE_BUILD is set but {STALE}")
pytestmark = pytest.mark.skipif(STALE is not None, reason=STALE or "")


def pages() -> list[Path]:
    return sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts)


def test_every_chapter_has_a_page():
    for chapter in toc_chapters():
        page = HTML / "book" / (chapter.stem + ".html")
        assert page.exists(), f"{page} missing"


def test_no_script_or_stylesheet_from_the_internet():
    remote = re.compile(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//[^"]+"[^>]*>')
    offenders = {}
    for page in pages():
        found = [
            m
            for m in remote.findall(page.read_text(encoding="utf-8"))
            if "<script" in m or 'rel="stylesheet"' in m or "preload" in m
        ]
        if found:
            offenders[str(page.relative_to(HTML))] = found[:3]
    assert not offenders, f"pages load resources from the internet: {offenders}"


def test_mathjax_served_locally():
    notation = (HTML / "book" / "notation.html").read_text(encoding="utf-8")
    m = re.search(r'<script[^>]+src="([^"]*tex-chtml\.js)[^"]*"', notation)
    assert m, "no MathJax script on the notation page"
    target = (HTML / "book" / m.group(1).split("?")[0]).resolve()
    assert target.exists() and target.is_relative_to(HTML), f"MathJax not served from the book: {m.group(1)}"


def test_claims_ledger_lists_every_chapter():
    ledger = (HTML / "book" / "claims.html").read_text(encoding="utf-8")
    for chapter in toc_chapters():
        assert f'id="ledger-{chapter.stem}"' in ledger, f"the claims ledger does not list {chapter.stem}"


def test_editions_download_from_the_site():
    import zipfile

    for edition in ("student", "instructor"):
        path = HTML / "_downloads" / "editions" / f"{edition}.zip"
        assert path.exists(), f"{path} missing: the build writes the editions"
        names = zipfile.ZipFile(path).namelist()
        assert len(names) == len(toc_chapters()), names
