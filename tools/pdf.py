"""The whole executed book as one PDF, printed by Chromium from the built HTML.

::

    jupyter-book build .                    # first: the executed HTML book
    python -m tools.pdf                     # _build/pdf/sslbook.pdf: the student PDF (no solutions)
    python -m tools.pdf --solutions         # _build/pdf/sslbook-instructor.pdf: with the solutions
    python -m tools.pdf --check             # build the student PDF and check it (CI does this)

Why this route: the book's pages already render everything a reader sees (MathJax, numbered
theorems and figures, the executed outputs) and the browser test installs Debian's Chromium, so
printing those pages costs nothing more; the LaTeX route would need a TeX installation of a few GB
and a second rendering of every output. Each page of ``_toc.yml`` is printed with the book's print
stylesheet (code wrapped, never cut; no navigation; solutions left out unless ``--solutions``)
after MathJax has typeset it, and the pages are merged in order with one bookmark per page.

``--check`` fails unless every chapter title is in the PDF's text, the page count is sane, and every
visible code line of every chapter (code that is not folded: not plotting code hidden with
``hide-input``, not a claim check, not a solution) appears whole in the text.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))

from bookext.toc import toc_chapters, toc_docnames  # noqa: E402

HTML = ROOT / "_build" / "html"
OUT = ROOT / "_build" / "pdf"
SKIP = {"book/claims", "book/status", "book/api"}  # long tables made for the screen; the HTML has them
SHOW_SOLUTIONS = """<style>@media print { div.solution { display: block !important; } }</style>
<script>document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".toggle-hidden").forEach(e => e.classList.remove("toggle-hidden"));
  document.querySelectorAll("div.solution details, details.dropdown").forEach(d => d.open = true);
});</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("Chromium not found: run `bash .ci/browser-setup` (Debian's chromium) first")


def print_page(browser: str, page: Path, target: Path) -> None:
    """Print one HTML page to ``target`` with Chromium, after its scripts (MathJax) have run."""
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tempfile.mkdtemp(prefix='sslbook-pdf-')}",
        "--no-pdf-header-footer",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=30000",
        f"--print-to-pdf={target}",
        page.as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if not target.exists() or target.stat().st_size == 0:
        raise RuntimeError(f"Chromium printed nothing for {page.name}: {proc.stderr.strip()[-500:]}")


def build(solutions: bool = False) -> Path:
    """Print every page of the book and merge them; returns the PDF's path."""
    from pypdf import PdfWriter

    if not (HTML / "index.html").exists():
        raise SystemExit(f"{HTML} has no built book: run `jupyter-book build .` first")
    browser = chromium()
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sslbook-pdf-"))
    writer = PdfWriter()
    made = []
    try:
        for doc in toc_docnames(ROOT):
            if doc in SKIP:
                continue
            page = HTML / f"{doc}.html"
            if not page.exists():
                continue
            if solutions:  # a copy beside the page (same relative links) that shows the solutions
                copy = page.with_name(f"_print_{page.name}")
                copy.write_text(
                    page.read_text(encoding="utf-8").replace("</head>", SHOW_SOLUTIONS + "</head>", 1), encoding="utf-8"
                )
                made.append(copy)
                page = copy
            target = work / (doc.replace("/", "_") + ".pdf")
            print_page(browser, page, target)
            start = len(writer.pages)
            writer.append(str(target))
            title = re.search(r"<title>(.*?)(?: &#8212;.*)?</title>", page.read_text(encoding="utf-8"), re.S)
            writer.add_outline_item(title=title.group(1).strip() if title else doc, page_number=start)
            print(f"printed {doc} ({len(writer.pages) - start} pages)", flush=True)
        out = OUT / ("sslbook-instructor.pdf" if solutions else "sslbook.pdf")
        writer.add_metadata({"/Title": "sslbook: the theory of self-supervised learning, executed"})
        with open(out, "wb") as fh:
            writer.write(fh)
    finally:
        for copy in made:
            copy.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    return out


def visible_code_lines(chapter: Path) -> list[str]:
    """Code lines a reader of the printed chapter sees: cells not hidden, not checks, not solutions."""
    text = chapter.read_text(encoding="utf-8")
    lines, out, in_solution, i = text.splitlines(), [], False, 0
    while i < len(lines):
        line = lines[i]
        if "{solution-start}" in line:
            in_solution = True
        elif "{solution-end}" in line:
            in_solution = False
        elif line.startswith("```{code-cell}"):
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            src = "\n".join(body)  # the whole cell, its metadata included
            if body and body[0].strip() == "---":  # a YAML metadata block (tags, a figure caption)
                end = next((j for j in range(1, len(body)) if body[j].strip() == "---"), 0)
                body = body[end + 1 :]
            hidden = re.search(r"tags:.*(hide-input|hide-cell|remove-input|remove-cell)", src)
            if not (in_solution or hidden or "claim(" in src):
                out += [ln for ln in body if ln.strip() and not ln.startswith((":tags:", "---"))]
        i += 1
    return out


def _squash(s: str) -> str:
    s = s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", "", s)


def check(pdf: Path) -> list[str]:
    """Problems of the printed book (empty when it passes)."""
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    text = "\n".join(p.extract_text() or "" for p in reader.pages)
    flat = _squash(text)
    problems = []
    chapters = toc_chapters(ROOT)
    if not 10 * len(chapters) <= len(reader.pages) <= 150 * len(chapters):
        problems.append(f"{len(reader.pages)} pages for {len(chapters)} chapters")
    for chapter in chapters:
        title = re.search(r"^# (.+)$", chapter.read_text(encoding="utf-8"), re.M).group(1)
        title = re.sub(r"[`*$]", "", title)
        if _squash(title) not in flat:
            problems.append(f"chapter title missing: {title!r}")
        cut = [ln.strip() for ln in visible_code_lines(chapter) if _squash(ln) not in flat]
        if cut:
            problems.append(f"{chapter.stem}: {len(cut)} code lines not found whole, e.g. {cut[:3]}")
    if "Solution to" in text and pdf.name == "sslbook.pdf":
        problems.append("the student PDF contains solutions")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pdf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--solutions", action="store_true", help="the instructor PDF, with solutions")
    parser.add_argument("--check", action="store_true", help="check the PDF after building it")
    args = parser.parse_args(argv)
    pdf = build(solutions=args.solutions)
    print(f"wrote {pdf}")
    if args.check:
        problems = check(pdf)
        for p in problems:
            print("PDF check FAILED:", p)
        if problems:
            return 1
        print("PDF check passed: every chapter title, sane page count, every visible code line whole")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
