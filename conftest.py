"""The book is its own test suite: the chapter harness.

Every chapter listed in ``_toc.yml`` that is a jupytext notebook (``book/*.md`` with a
``jupytext:`` header) is read with jupytext and executed cell by cell with nbclient, in one kernel
per chapter (``--dist loadfile`` keeps a chapter on one pytest-xdist worker). Each chapter gives two
test items:

``execute``
    runs every code cell; a failing cell fails it with the cell's line in the ``.md`` source and
    the error (a failed claim check is a failing cell);
``budget and claims``
    fails when the chapter took longer than its wall-time budget (90 s at the default ``book``
    scale, ``SSLBOOK_BUDGET`` seconds if set; no budget at the ``paper`` scale), checked no claim,
    or recorded a claim that :func:`sslbook.claims.check_record` finds unsound (no kind, a
    reproduction without a control or a threshold source, a control that meets the threshold,
    a key used twice).

``--chapters=none`` runs the unit tests only (CI executes the chapters once, in the strict build,
and checks the executed notebooks afterwards: ``tests/test_executed_book.py``). Each chapter's
time and claim count are printed at the end of the run; the claims are written to
``_build/test-claims/<chapter>.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "_ext"))  # the book's tooling: bookext (toc reader, Sphinx extension)

from bookext.chapters import budget_s, chapter_problems, claim_records  # noqa: E402
from bookext.toc import toc_chapters  # noqa: E402

CELL_TIMEOUT_S = 240
_summary: dict[str, dict] = {}


def pytest_addoption(parser):
    parser.addoption(
        "--chapters", default="all", choices=("all", "none"), help="'none': unit tests only, chapters are not executed"
    )


def pytest_configure(config):
    # Unit tests use tiny matrices: one thread each is far faster than torch's default on 2 cores.
    try:
        from sslbook.config import set_threads

        set_threads(1)
    except ImportError:  # pragma: no cover - torch missing
        pass
    config.addinivalue_line("markers", "chapter: a chapter of the book, executed with nbclient")


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix != ".md" or file_path.parent != ROOT / "book":
        return None
    if parent.config.getoption("--chapters") == "none":
        return None
    if file_path.resolve() not in {p.resolve() for p in toc_chapters(ROOT)}:
        return None
    return Chapter.from_parent(parent, path=file_path)


class Chapter(pytest.File):
    """A jupytext chapter: ``execute``, then ``budget and claims``."""

    executed = None
    seconds: float | None = None

    def collect(self):
        yield ExecuteChapter.from_parent(self, name="execute")
        yield ChapterCheck.from_parent(self, name="budget and claims")


def _line_of(text: str, source: str) -> int | None:
    """The line of ``text`` (a chapter's source) where the cell ``source`` starts."""
    first = next((ln for ln in source.splitlines() if ln.strip()), "")
    if not first:
        return None
    at = text.find(first)
    return text.count("\n", 0, at) + 1 if at >= 0 else None


class ExecuteChapter(pytest.Item):
    def runtest(self):
        import jupytext
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError

        nb = jupytext.read(str(self.path))
        client = NotebookClient(
            nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(self.path.parent)}}
        )
        start = time.perf_counter()
        try:
            with client.setup_kernel():
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type == "code":
                        try:
                            client.execute_cell(cell, index)
                        except CellExecutionError as err:
                            line = _line_of(self.path.read_text(encoding="utf-8"), cell.source)
                            where = f"{self.path.name}:{line}" if line else f"cell {index}"
                            raise ChapterCellFailed(f"{where}: {err.ename}: {err.evalue}", str(err)) from None
        finally:
            self.parent.seconds = time.perf_counter() - start
            self.parent.executed = nb

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ChapterCellFailed):
            summary, full = excinfo.value.args
            tail = "\n".join(full.strip().splitlines()[-25:])
            return f"{summary}\n{tail}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: execute"


class ChapterCellFailed(Exception):
    """A cell of a chapter raised (the message names the line in the source and the error)."""


class ChapterCheck(pytest.Item):
    """Checks a chapter's wall time and its claims after all its cells ran."""

    def runtest(self):
        chapter = self.path.stem
        nb, seconds = self.parent.executed, self.parent.seconds
        if nb is None:
            pytest.skip("the chapter was not executed")
        records = claim_records(nb)
        out_dir = ROOT / "_build" / "test-claims"
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{chapter}.json").write_text(
            json.dumps({"chapter": chapter, "seconds": seconds, "claims": records}, indent=1)
        )
        self.user_properties.append(("chapter_seconds", seconds))
        self.user_properties.append(("claims", len(records)))
        problems = chapter_problems(records, seconds)
        if problems:
            pytest.fail(f"{chapter}: " + "; ".join(problems))

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: budget and claims"


def pytest_runtest_logreport(report):
    if report.nodeid.endswith("::budget and claims") and report.when == "call":
        props = dict(report.user_properties)
        name = Path(report.nodeid.split("::")[0]).stem
        _summary[name] = {
            "seconds": props.get("chapter_seconds"),
            "claims": props.get("claims"),
            "passed": report.passed,
        }


def pytest_terminal_summary(terminalreporter):
    if not _summary:
        return
    b = budget_s()
    tr = terminalreporter
    tr.section("chapter wall times")
    total = 0.0
    for name, s in sorted(_summary.items()):
        secs = s.get("seconds") or 0.0
        total += secs
        budget = f"{b:.0f} s" if b is not None else "none"
        verdict = {True: "ok", False: "FAILED", None: "-"}[s.get("passed")]
        claims = s.get("claims") if s.get("claims") is not None else "-"
        tr.write_line(f"{name:<28} {secs:7.1f} s   budget {budget:>6}   claims {claims:>3}   {verdict}")
    tr.write_line(f"{'total':<28} {total:7.1f} s")
