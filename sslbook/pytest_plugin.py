"""pytest plugin that makes the book its own test suite (loaded by the book's root ``conftest.py``).

Every chapter listed in ``_toc.yml`` that is a jupytext notebook (``book/*.md`` with a
``jupytext:`` header) is read through jupytext and executed cell by cell with nbval, in one kernel
per chapter (run with ``--dist loadfile`` under pytest-xdist so a chapter stays on one worker).
After its cells, each chapter gets one more test item, ``budget and claims``, which fails when

* the chapter took longer than its wall-time budget (90 s at the default ``book`` scale,
  ``SSLBOOK_BUDGET`` seconds if set; no budget at the ``paper`` scale), or
* the chapter checked no claim through :func:`sslbook.claims.claim`, or a recorded claim's value
  contradicts its threshold.

Each chapter's time and claim count are printed at the end of the run; the claims are written
to ``_build/test-claims/<chapter>.json``.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path.cwd()  # the book's root (with _toc.yml); set from pytest's rootdir in pytest_configure
DEFAULT_BUDGET_S = 90.0
CLAIM_MIME = "application/vnd.sslbook.claim+json"

_durations: dict[str, float] = defaultdict(float)
_summary: dict[str, dict] = {}


def toc_chapters(root: Path | None = None) -> list[Path]:
    """Paths of the pages listed in ``_toc.yml`` that are jupytext notebooks, in toc order."""
    import yaml

    root = ROOT if root is None else root
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names: list[str] = [toc["root"]]

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                names.append(e["file"])
            walk(e.get("sections"))
            for part in e.get("parts", []) or []:
                walk(part.get("chapters"))

    for part in toc.get("parts", []) or []:
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    out = []
    for name in names:
        path = root / (name if name.endswith(".md") else name + ".md")
        if path.exists() and path.read_text(encoding="utf-8").lstrip().startswith("---") and "\njupytext:" in path.read_text(encoding="utf-8")[:400]:
            out.append(path)
    return out


def budget_s() -> float | None:
    """The per-chapter budget in seconds (``None`` at the paper scale)."""
    if os.environ.get("SSLBOOK_SCALE", "book").strip().lower() == "paper":
        return None
    raw = os.environ.get("SSLBOOK_BUDGET", "").strip()
    return float(raw) if raw else DEFAULT_BUDGET_S


def pytest_configure(config):
    global ROOT
    ROOT = Path(config.rootpath).resolve()
    # Unit tests use tiny matrices: one thread each is far faster than torch's default on 2 cores.
    try:
        from sslbook.config import set_threads

        set_threads(1)
    except ImportError:  # pragma: no cover - torch missing
        pass
    # Chapters run in the interpreter running pytest (no kernelspec needed), with a sane cell
    # timeout; nbval's options exist because nbval is installed as a plugin.
    if hasattr(config.option, "nbval_current_env"):
        config.option.nbval_current_env = True
        if config.option.nbval_cell_timeout == 2000:
            config.option.nbval_cell_timeout = 240
    config.addinivalue_line("markers", "chapter: a chapter of the book, executed with nbval")


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix != ".md" or file_path.parent != ROOT / "book":
        return None
    if file_path.resolve() not in {p.resolve() for p in toc_chapters()}:
        return None
    return Chapter.from_parent(parent, path=file_path)


try:
    from nbval.plugin import IPyNbCell, IPyNbFile, find_comment_markers, find_metadata_tags
except ImportError:  # pragma: no cover - nbval is in requirements.txt
    IPyNbFile = None


if IPyNbFile is not None:

    class Chapter(IPyNbFile):
        """A jupytext chapter: its code cells as nbval items, then the budget-and-claims item."""

        def collect(self):
            import jupytext

            self.nb = jupytext.read(str(self.path))
            n = 0
            for cell in self.nb.cells:
                if cell.cell_type != "code":
                    continue
                from collections import defaultdict as _dd

                options = _dd(bool, find_metadata_tags(cell.metadata))
                options.update(dict(find_comment_markers(cell.source)))
                options.setdefault("check", False)  # converted chapters store no outputs
                item = IPyNbCell.from_parent(self, name=f"Cell {n}", cell_num=n, cell=cell, options=options)
                item.add_marker("chapter")
                yield item
                n += 1
            yield ChapterCheck.from_parent(self, name="budget and claims")


class ChapterCheck(pytest.Item):
    """Checks a chapter's wall time and its claims after all its cells ran."""

    def runtest(self):
        chapter = self.path.stem
        elapsed = _durations[str(self.path)]
        cells = [i for i in self.session.items if isinstance(i, IPyNbCell) and i.parent is self.parent]
        records = []
        for c in cells:
            for out in getattr(c, "test_outputs", None) or []:
                data = out.get("data") or {}
                if CLAIM_MIME in data:
                    rec = data[CLAIM_MIME]
                    records.append(dict(rec) if not isinstance(rec, str) else json.loads(rec))
        out_dir = ROOT / "_build" / "test-claims"
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{chapter}.json").write_text(json.dumps({"chapter": chapter, "seconds": elapsed, "claims": records}, indent=1))
        _summary[chapter] = {"seconds": elapsed, "claims": len(records)}
        self.user_properties.append(("chapter_seconds", elapsed))
        self.user_properties.append(("claims", len(records)))
        problems = []
        from sslbook.claims import check_record

        for r in records:
            problems.extend(check_record(r))
        keys = [r.get("key") for r in records]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            problems.append(f"claim keys used more than once: {dup}")
        if not records:
            problems.append("the chapter checks no claim through sslbook.claims.claim")
        b = budget_s()
        if b is not None and elapsed > b:
            problems.append(f"took {elapsed:.1f} s, over its budget of {b:.0f} s")
        if problems:
            pytest.fail(f"{chapter}: " + "; ".join(problems))

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: budget and claims"


def pytest_runtest_logreport(report):
    # Sum setup (kernel start) and call times of a chapter's cells, per chapter file.
    if "::Cell " in report.nodeid and report.when in ("setup", "call", "teardown"):
        path = str(ROOT / report.nodeid.split("::")[0])
        _durations[path] += report.duration
        name = Path(path).stem
        _summary.setdefault(name, {"seconds": 0.0, "claims": None})
        _summary[name]["seconds"] = _durations[path]
    if report.nodeid.endswith("::budget and claims") and report.when == "call":
        props = dict(report.user_properties)
        name = Path(report.nodeid.split("::")[0]).stem
        if "claims" in props:
            _summary.setdefault(name, {})["claims"] = props["claims"]
        _summary[name]["passed"] = report.passed


def pytest_terminal_summary(terminalreporter):
    if not _summary:
        return
    b = budget_s()
    tr = terminalreporter
    tr.section("chapter wall times")
    total = 0.0
    for name, s in sorted(_summary.items()):
        secs = s.get("seconds", 0.0)
        total += secs
        budget = f"{b:.0f} s" if b is not None else "none"
        verdict = {True: "ok", False: "FAILED", None: "-"}[s.get("passed")]
        tr.write_line(f"{name:<28} {secs:7.1f} s   budget {budget:>6}   claims {s.get('claims') if s.get('claims') is not None else '-':>3}   {verdict}")
    tr.write_line(f"{'total':<28} {total:7.1f} s")



def stale_build_reason(html: Path, root: Path | None = None) -> str | None:
    """Why the built book at ``html`` cannot be tested now (not built, or older than its sources),
    or ``None`` when it is current. Used by the tests of the built site."""
    root = ROOT if root is None else root
    index = html / "index.html"
    if not index.exists():
        return f"the book is not built ({index} missing): run `jupyter-book build .` first"
    # Sphinx rewrites .buildinfo on every build; index.html (a redirect) only when it changes.
    built = max(p.stat().st_mtime for p in (index, html / ".buildinfo") if p.exists())
    sources = [root / "_toc.yml", root / "_config.yml", *sorted((root / "book").glob("*.md"))]
    newer = [p.name for p in sources if p.exists() and p.stat().st_mtime > built]
    if newer:
        return f"the build in {html} is older than {', '.join(newer[:3])}: rebuild with `jupyter-book build .` first"
    return None
