"""The executed book, after ``jupyter-book build .``: every chapter's claims and time, and the ledger.

The strict build executes each chapter once (a failing cell, e.g. a failed claim, fails the build);
these tests read what it executed (``_build/jupyter_execute``, ``_build/executed.json``) and the
HTML it wrote. Skipped, with a message, when the book has not been built; CI sets
``SSLBOOK_REQUIRE_BUILD=1`` so that there a missing build fails.
"""

from __future__ import annotations

import json
import re

import pytest
from built_book import HTML, ROOT, require_build, stale_build_reason

from bookext.chapters import chapter_problems, claim_records
from bookext.toc import toc_chapters

STALE = stale_build_reason(HTML, ROOT)
if STALE and require_build():
    raise RuntimeError(f"SSLBOOK_REQUIRE_BUILD is set but {STALE}")
pytestmark = pytest.mark.skipif(STALE is not None, reason=STALE or "")

EXECUTED = HTML.parent / "jupyter_execute"
CHAPTERS = [p.stem for p in toc_chapters(ROOT)]


def _records(chapter: str) -> list[dict]:
    path = EXECUTED / "book" / f"{chapter}.ipynb"
    assert path.exists(), f"{chapter} was not executed by the build ({path} missing)"
    return claim_records(json.loads(path.read_text(encoding="utf-8")))


def _runtime(chapter: str) -> float | None:
    info = json.loads((HTML.parent / "executed.json").read_text(encoding="utf-8"))
    entry = info.get(f"book/{chapter}")
    assert entry and entry.get("succeeded"), f"{chapter}: the build did not execute it successfully: {entry}"
    return entry.get("runtime")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_claims_and_budget(chapter):
    """Every claim has a kind, every reproduction a control that fails and a threshold source,
    keys are unique, and the chapter ran within its budget."""
    problems = chapter_problems(_records(chapter), _runtime(chapter))
    assert not problems, f"{chapter}: " + "; ".join(problems)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_claim_is_in_its_chapter_page_and_the_ledger(chapter):
    ledger = (HTML / "book" / "claims.html").read_text(encoding="utf-8")
    page = (HTML / "book" / f"{chapter}.html").read_text(encoding="utf-8")
    for r in _records(chapter):
        key = r["key"]
        assert f'id="ledger-{chapter}-{key}"' in ledger, f"the ledger does not list {chapter}/{key}"
        assert f'href="{chapter}.html#claim-{key}"' in ledger, f"the ledger row of {key} does not link to the chapter"
        assert f'id="claim-{key}"' in page, f"{chapter}.html has no folded row for {key}"
        assert f"claims.html#ledger-{chapter}-{key}" in page, f"{chapter}.html does not link {key} to the ledger"
    # no claim shows unfolded (the raw notebook output of a check)
    assert 'class="sslbook-claim"' not in page, f"{chapter}.html shows a claim check outside its fold"


def test_ledger_counts_every_claim():
    ledger = (HTML / "book" / "claims.html").read_text(encoding="utf-8")
    total = sum(len(_records(c)) for c in CHAPTERS)
    m = re.search(r"(\d+) claims checked in this build", ledger)
    assert m and int(m.group(1)) == total, f"the ledger counts {m and m.group(1)} claims, the chapters checked {total}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_downloadable_notebook_reads_anywhere(chapter):
    """The shipped .ipynb is plain CommonMark + LaTeX: rendered by a plain CommonMark renderer (as
    Jupyter, Colab or GitHub would), no MyST role, directive or target is left."""
    from markdown_it import MarkdownIt

    from bookext.plain import leftover_myst

    nb = json.loads((HTML / "_notebooks" / "book" / f"{chapter}.ipynb").read_text(encoding="utf-8"))
    md = MarkdownIt("commonmark")
    left = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        left += leftover_myst(source) + leftover_myst(md.render(source))
    assert not left, f"{chapter}.ipynb keeps MyST syntax: {sorted(set(left))[:10]}"
    solutions = [c for c in nb["cells"] if "solution" in c.get("metadata", {}).get("tags", [])]
    assert all(c["metadata"].get("jupyter", {}).get("source_hidden") for c in solutions)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_figure_is_numbered_and_cited(chapter):
    """Issue 21.1: every executed cell that draws an image carries myst-nb figure metadata (a
    caption and a name), and the chapter's prose cites the figure by that name with {numref}."""
    path = EXECUTED / "book" / f"{chapter}.ipynb"
    nb = json.loads(path.read_text(encoding="utf-8"))
    source = (ROOT / "book" / f"{chapter}.md").read_text(encoding="utf-8")
    problems = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        images = sum(
            "image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {}) for o in cell.get("outputs", [])
        )
        if not images:
            continue
        figure = cell.get("metadata", {}).get("mystnb", {}).get("figure", {})
        if images > 1:
            problems.append(f"cell {i} draws {images} images (one figure per cell)")
        shown = sum(o["output_type"] in ("display_data", "execute_result") for o in cell.get("outputs", []))
        if figure and shown > images:  # myst-nb makes every displayed output a figure of that name
            problems.append(f"figure cell {i} also displays {shown - images} other output(s), e.g. a claim")
        if not figure.get("caption") or not figure.get("name"):
            problems.append(f"cell {i} draws a figure without a caption and a name")
        elif not re.search(r"\{numref\}`(?:[^`<]*<)?" + re.escape(figure["name"]) + r">?`", source):
            problems.append(f"figure {figure['name']} is never cited with {{numref}}")
    assert not problems, f"{chapter}: " + "; ".join(problems)
