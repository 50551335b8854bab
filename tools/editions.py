"""Student and instructor editions of the chapters, as Jupyter notebooks.

::

    python -m tools.editions              # writes _build/editions/{student,instructor}/<chapter>.ipynb
    python -m tools.editions --out DIR

Both editions are made from the chapters listed in ``_toc.yml`` (jupytext MyST ``.md``). The
*instructor* edition keeps everything; the *student* edition drops every solution, i.e. all
text and code cells between a ``{solution-start}`` directive and its ``{solution-end}``. In both,
the Markdown is rewritten from MyST to plain Markdown and LaTeX (``bookext.plain``: theorem boxes
as bold-headed paragraphs, author-year citations, links to the published book, solutions folded),
so the notebooks read well in Jupyter, Colab or GitHub. Notebooks have no outputs: students run
them. ``zip_editions`` packs both for the site's downloads (``_downloads/editions/*.zip``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))

from bookext.toc import toc_chapters  # noqa: E402

__all__ = ["strip_solutions", "chapters", "write_editions", "zip_editions", "main"]

_SOL_START = re.compile(r"^(`{3,}|:{3,})\{solution-start\}\s*(\S*)")
_SOL_END = re.compile(r"^(`{3,}|:{3,})\{solution-end\}")
PLACEHOLDER = "*(The solution is not part of the student edition.)*"


def _skip_directive_body(lines: list[str], i: int, fence: str) -> int:
    """Index of the line after the closing fence of the directive opened at ``lines[i]``."""
    j = i + 1
    while j < len(lines) and lines[j].strip() != fence:
        j += 1
    return j + 1


def strip_solutions(text: str) -> str:
    """Remove every gated solution (``solution-start`` ... ``solution-end``) from a MyST chapter.

    Raises
    ------
    ValueError
        If a ``solution-start`` has no matching ``solution-end``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _SOL_START.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not _SOL_END.match(lines[j]):
            j += 1
        if j == len(lines):
            raise ValueError(f"solution-start at line {i + 1} has no matching solution-end")
        out.append(PLACEHOLDER)
        i = _skip_directive_body(lines, j, _SOL_END.match(lines[j]).group(1))
    return "\n".join(out) + "\n"


def chapters(root: Path) -> list[Path]:
    """The jupytext chapters listed in ``root/_toc.yml``, in order."""
    return toc_chapters(root)


def write_editions(root: Path, out: Path, only: list[str] | None = None) -> dict[str, list[Path]]:
    """Write both editions of every chapter (or of the chapters named in ``only``, by file stem)
    under ``out/student`` and ``out/instructor``."""
    import jupytext
    import yaml

    from bookext.plain import bib_citer, plain_cells, url_resolver

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    base_url = (config.get("html") or {}).get("baseurl", "")
    bib = root / "book" / "references.bib"
    cite = bib_citer(bib) if bib.exists() else None
    written: dict[str, list[Path]] = {"student": [], "instructor": []}
    selected = chapters(root)
    if only is not None:
        unknown = set(only) - {p.stem for p in selected}
        if unknown:
            raise ValueError(f"only names chapters that are not in _toc.yml: {sorted(unknown)}")
        selected = [p for p in selected if p.stem in only]
    for path in selected:
        text = path.read_text(encoding="utf-8")
        docname = path.relative_to(root).with_suffix("").as_posix()
        for edition, source in (("student", strip_solutions(text)), ("instructor", text)):
            nb = jupytext.reads(source, fmt="md:myst")
            plain_cells(nb, url_resolver(base_url, docname), cite)
            nb.metadata.pop("jupytext", None)
            nb.metadata["sslbook"] = {"edition": edition, "source": str(path.relative_to(root))}
            target = out / edition / (path.stem + ".ipynb")
            target.parent.mkdir(parents=True, exist_ok=True)
            jupytext.write(nb, target, fmt="ipynb")
            written[edition].append(target)
    return written


def zip_editions(root: Path, out: Path) -> dict[str, Path]:
    """Write both editions and pack each into ``out/<edition>.zip`` (the downloads of the site)."""
    import tempfile
    import zipfile

    out.mkdir(parents=True, exist_ok=True)
    zips = {}
    with tempfile.TemporaryDirectory() as tmp:
        written = write_editions(root, Path(tmp))
        for edition, paths in written.items():
            target = out / f"{edition}.zip"
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
                for p in paths:
                    zf.write(p, f"sslbook-{edition}/{p.name}")
            zips[edition] = target
    return zips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.editions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the book's root (with _toc.yml)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default ROOT/_build/editions)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not (root / "_toc.yml").exists():
        parser.error(f"no _toc.yml in {root}; run from the book's root or pass --root")
    out = (args.out or root / "_build" / "editions").resolve()
    written = write_editions(root, out)
    for edition, paths in written.items():
        print(f"{edition:>10}: {len(paths)} notebooks in {out / edition}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
