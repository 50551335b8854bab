"""Every chapter follows the chapter template (``book/_template.md``): a text-only check.

Overview, learning objectives, prerequisites with time to run, the reconstruction note, Setup,
The claims (C1..Cn with the keys that test each), Where it breaks, Summary, Exercises, in this
order; one label prefix shared by the chapter's labels and claim keys; ``{cite:p}``/``{cite:t}``
only; links to other chapters with ``{doc}``; no timing or test code; code cells of at most
about 40 lines; no reference to research notes that readers do not have.
"""

from __future__ import annotations

import re

import pytest
from built_book import ROOT

from bookext.toc import toc_chapters

CHAPTERS = toc_chapters(ROOT)
MAX_CELL_LINES = 45  # "at most about 40"
MAX_CODE_COLUMNS = 88  # code reads without a horizontal scroll bar at the page's width
ORDER = [
    ("overview", r"^## Overview\s*$"),
    ("learning objectives", r"^```\{admonition\} Learning objectives"),
    ("prerequisites", r"^\*\*Prerequisites\.\*\*"),
    ("reconstruction note", r"^```\{note\}"),
    ("setup", r"^## Setup\s*$"),
    ("the claims", r"^## The claims\s*$"),
    ("where it breaks", r"^## Where it breaks\s*$"),
    ("summary", r"^## Summary\s*$"),
    ("exercises", r"^## Exercises\s*$"),
]


def _text(path):
    return path.read_text(encoding="utf-8")


def _code_cells(text: str) -> list[tuple[int, list[str]]]:
    cells, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].startswith("```{code-cell}"):
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            cells.append((start, [ln for ln in body if not ln.startswith(":tags:") and ln.strip() != "---"]))
        i += 1
    return cells


def _prose(text: str) -> str:
    """The chapter without its code cells."""
    return re.sub(r"```\{code-cell\}.*?\n```", "", text, flags=re.S)


def test_the_template_is_not_in_the_book():
    assert (ROOT / "book" / "_template.md").exists()
    assert "_template" not in {p.stem for p in CHAPTERS}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_sections_in_order(path):
    text = _text(path)
    at = 0
    for name, pattern in ORDER:
        m = re.compile(pattern, re.M).search(text, at)
        assert m, (
            f"{path.name}: no '{name}' section after line {text.count(chr(10), 0, at) + 1} (see book/_template.md)"
        )
        at = m.end()
    note = re.search(r"^```\{note\}.*?^```", text, re.M | re.S)
    assert note and "reconstruct" in note.group(0).lower(), (
        f"{path.name}: the first note must be the reconstruction note"
    )
    prereq = re.search(r"^\*\*Prerequisites\.\*\*(.*?)\n\n", text, re.M | re.S)
    assert prereq and re.search(r"\b(second|minute)s?\b|\d+ ?s\b", prereq.group(1)), (
        f"{path.name}: the prerequisites do not say how long the chapter takes to run"
    )
    claims = text[re.search(r"^## The claims\s*$", text, re.M).end() :]
    claims = claims[: re.search(r"^## ", claims, re.M).start()]
    assert re.search(r"\*\*C1\.\*\*", claims), f"{path.name}: The claims does not list C1..Cn"
    assert re.search(r"`[a-z]+-[a-z0-9-]+`", claims), f"{path.name}: The claims does not name the keys that test them"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_one_label_prefix(path):
    text = _text(path)
    target = re.search(r"^\(([\w-]+)\)=\s*\n# ", text, re.M)
    assert target, f"{path.name}: no target before the title"
    labels = re.findall(r"^:label: ([\w-]+)", text, re.M)
    labels += [t for t in re.findall(r"^\(([\w-]+)\)=", text, re.M) if t != target.group(1)]
    keys = re.findall(r"\bkey=f?[\"']([\w{}-]+)[\"']", text)
    prefixes = {name.split("-")[0] for name in labels + keys if "-" in name}
    assert len(prefixes) == 1, f"{path.name}: labels and claim keys use several prefixes: {sorted(prefixes)}"
    bare = [n for n in labels + keys if "-" not in n]
    assert not bare, f"{path.name}: labels or keys without the chapter's prefix: {bare}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_citations_links_and_words(path):
    prose = _prose(_text(path))
    other = re.findall(r"\{cite(?::(\w+))?\}", prose)
    assert all(o in ("p", "t") for o in other), f"{path.name}: citations other than {{cite:p}}/{{cite:t}}: {set(other)}"
    stems = {p.stem for p in CHAPTERS} | {"notation", "glossary", "course", "claims", "status", "intro"}
    md_links = [m for m in re.findall(r"\]\(([\w-]+)\.(?:md|html|ipynb)[^)]*\)", prose) if m in stems]
    assert not md_links, f"{path.name}: links to other chapters as Markdown links, use {{doc}}: {md_links}"
    assert "research notes" not in prose.lower(), f"{path.name}: refers to research notes, which readers do not have"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_code_cells_are_short_and_hold_no_timing_or_test_code(path):
    for line, body in _code_cells(_text(path)):
        code = "\n".join(body)
        assert len(body) <= MAX_CELL_LINES, f"{path.name}:{line}: a code cell of {len(body)} lines (at most ~40)"
        assert not re.search(r"time\.perf_counter|time\.time\(\)|^%%?time", code, re.M), (
            f"{path.name}:{line}: timing code in the narrative (benchmarks live in tools/)"
        )
        assert not re.search(r"^\s*(import pytest|from pytest)", code, re.M), f"{path.name}:{line}: test code"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_code_lines_fit_the_page(path):
    for start, body in _code_cells(_text(path)):
        for offset, ln in enumerate(body):
            assert len(ln) <= MAX_CODE_COLUMNS, (
                f"{path.name}: a code line of {len(ln)} characters near line {start + offset + 1} "
                f"(at most {MAX_CODE_COLUMNS}): {ln[:60]}..."
            )
