"""Student and instructor editions: solutions removed (and only them), and the student edition runs."""

import re
from pathlib import Path

import nbformat
import pytest

from tools import editions

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = """# T

```{exercise-start}
:label: ex-a
```
Prove it.
```{exercise-end}
```

```{solution-start} ex-a
:class: dropdown
```
Secret text.
```{code-cell} ipython3
secret = 42
```
```{solution-end}
```

After.
"""


def test_strip_solutions_removes_text_and_code():
    out = editions.strip_solutions(SAMPLE)
    assert "Secret" not in out and "secret = 42" not in out and "solution-start" not in out
    assert "Prove it." in out and "After." in out and editions.PLACEHOLDER in out
    with pytest.raises(ValueError, match="no matching solution-end"):
        editions.strip_solutions(SAMPLE.split("```{solution-end}")[0])
    with pytest.raises(TypeError, match="text"):
        editions.strip_solutions(3)


def test_editions_are_plain_markdown(written):
    from bookext.plain import leftover_myst

    for path in written["student"] + written["instructor"]:
        nb = nbformat.read(path, 4)
        left = [x for c in nb.cells if c.cell_type == "markdown" for x in leftover_myst(c.source)]
        assert not left, f"{path.name} keeps MyST syntax: {sorted(set(left))[:5]}"
        assert any("**Exercise" in c.source for c in nb.cells if c.cell_type == "markdown")
    inst = nbformat.read(written["instructor"][0], 4)
    assert any("<details>" in c.source for c in inst.cells if c.cell_type == "markdown")


def test_zipped_editions(tmp_path):
    import zipfile

    zips = editions.zip_editions(ROOT, tmp_path)
    names = zipfile.ZipFile(zips["student"]).namelist()
    assert sorted(names) == sorted(f"sslbook-student/{p.stem}.ipynb" for p in editions.chapters(ROOT))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    return editions.write_editions(ROOT, tmp_path_factory.mktemp("editions"))


def _code(nb):
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_editions_cover_every_chapter_and_student_has_no_solution(written):
    chapters = editions.chapters(ROOT)
    assert [p.stem for p in written["student"]] == [p.stem for p in chapters]
    for student, instructor, src in zip(written["student"], written["instructor"], chapters):
        s, i = nbformat.read(student, 4), nbformat.read(instructor, 4)
        text = src.read_text(encoding="utf-8")
        n_solutions = len(re.findall(r"\{solution-start\}", text))
        stext = "\n".join(c.source for c in s.cells)
        assert "solution-start" not in stext and "**Solution.**" not in stext
        assert stext.count(editions.PLACEHOLDER) == n_solutions
        assert len(_code(s)) <= len(_code(i))
        assert all(c.get("outputs", []) == [] for c in s.cells if c.cell_type == "code")
        # every code cell of the student edition is a code cell of the chapter, in order
        it = iter(_code(i))
        assert all(any(c == j for j in it) for c in _code(s))


def _names(source: str) -> tuple[set[str], set[str]]:
    """Names a cell binds and names it reads (IPython magics skipped)."""
    import ast

    code = "\n".join(ln for ln in source.splitlines() if not ln.startswith(("%", "!")))
    bound, read = set(), set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return bound, read


@pytest.mark.parametrize("chapter", [p.stem for p in editions.chapters(ROOT)])
def test_student_edition_needs_no_solution_code(chapter, tmp_path):
    """Without executing it: no cell of the student edition reads a name that only a solution binds."""
    editions.write_editions(ROOT, tmp_path, only=[chapter])
    student = _code(nbformat.read(tmp_path / "student" / f"{chapter}.ipynb", 4))
    instructor = _code(nbformat.read(tmp_path / "instructor" / f"{chapter}.ipynb", 4))
    kept = list(student)
    solution_only: set[str] = set()
    student_bound: set[str] = set()
    for cell in instructor:
        bound, read = _names(cell)
        if kept and cell == kept[0]:
            kept.pop(0)
            missing = (read & solution_only) - student_bound
            assert not missing, f"{chapter}: the student edition reads {sorted(missing)}, bound only in a solution"
            student_bound |= bound
        else:
            solution_only |= bound


@pytest.mark.chapter
@pytest.mark.parametrize("chapter", [p.stem for p in editions.chapters(ROOT)])
def test_student_edition_executes(chapter, tmp_path, request):
    from nbclient import NotebookClient

    if request.config.getoption("--chapters") == "none":
        pytest.skip("--chapters=none: chapters are not executed")

    editions.write_editions(ROOT, tmp_path, only=[chapter])
    nb = nbformat.read(tmp_path / "student" / f"{chapter}.ipynb", 4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "book")}}
    ).execute()
    assert any(o for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_only_must_name_chapters(tmp_path):
    with pytest.raises(ValueError, match="not in _toc.yml"):
        editions.write_editions(ROOT, tmp_path, only=["no-such-chapter"])
