"""Student and instructor editions of the chapters, as Jupyter notebooks.

::

    python -m tools.editions              # writes _build/editions/{student,instructor}/<chapter>.ipynb
    python -m tools.editions --out DIR

Both editions are made from the chapters listed in ``_toc.yml`` (jupytext MyST ``.md``). The
*instructor* edition keeps everything; the *student* edition drops every solution, i.e. all
text and code cells between a ``{solution-start}`` directive and its ``{solution-end}``. In both,
the exercise and solution directives are turned into plain headings so the notebooks read well in
Jupyter, where MyST directives are not rendered. Notebooks have no outputs: students run them.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))

from bookext.toc import toc_chapters  # noqa: E402

__all__ = ["strip_solutions", "to_notebook_markdown", "chapters", "write_editions", "main"]

_SOL_START = re.compile(r"^(`{3,}|:{3,})\{solution-start\}\s*(\S*)")
_SOL_END = re.compile(r"^(`{3,}|:{3,})\{solution-end\}")
_EX_START = re.compile(r"^(`{3,}|:{3,})\{exercise-start\}(.*)$")
_EX_END = re.compile(r"^(`{3,}|:{3,})\{exercise-end\}")
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


def to_notebook_markdown(text: str) -> str:
    """Turn the gated exercise/solution directives into headings Jupyter can display."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    n_ex = 0
    while i < len(lines):
        line = lines[i]
        m_ex = _EX_START.match(line)
        m_sol = _SOL_START.match(line)
        if m_ex:
            n_ex += 1
            title = m_ex.group(2).strip()
            out.append(f"**Exercise {n_ex}**{(' (' + title + ')') if title else ''}.")
            i = _skip_directive_body(lines, i, m_ex.group(1))
        elif m_sol:
            out.append("**Solution.**")
            i = _skip_directive_body(lines, i, m_sol.group(1))
        elif _EX_END.match(line) or _SOL_END.match(line):
            fence = (_EX_END.match(line) or _SOL_END.match(line)).group(1)
            i = _skip_directive_body(lines, i, fence)
        else:
            out.append(line)
            i += 1
    return "\n".join(out) + "\n"


def chapters(root: Path) -> list[Path]:
    """The jupytext chapters listed in ``root/_toc.yml``, in order."""
    return toc_chapters(root)


def write_editions(root: Path, out: Path, only: list[str] | None = None) -> dict[str, list[Path]]:
    """Write both editions of every chapter (or of the chapters named in ``only``, by file stem)
    under ``out/student`` and ``out/instructor``."""
    import jupytext

    written: dict[str, list[Path]] = {"student": [], "instructor": []}
    selected = chapters(root)
    if only is not None:
        unknown = set(only) - {p.stem for p in selected}
        if unknown:
            raise ValueError(f"only names chapters that are not in _toc.yml: {sorted(unknown)}")
        selected = [p for p in selected if p.stem in only]
    for path in selected:
        text = path.read_text(encoding="utf-8")
        for edition, source in (("student", strip_solutions(text)), ("instructor", text)):
            nb = jupytext.reads(to_notebook_markdown(source), fmt="md:myst")
            nb.metadata.pop("jupytext", None)
            nb.metadata["sslbook"] = {"edition": edition, "source": str(path.relative_to(root))}
            target = out / edition / (path.stem + ".ipynb")
            target.parent.mkdir(parents=True, exist_ok=True)
            jupytext.write(nb, target, fmt="ipynb")
            written[edition].append(target)
    return written


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
