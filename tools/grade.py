"""Grade a folder of returned student notebooks: one table of scores per student and exercise.

::

    python -m tools.grade FOLDER --out scores.csv [--timeout 600]

``FOLDER`` holds the students' notebooks of the student edition, either as
``FOLDER/<student>/<chapter>.ipynb`` or as ``FOLDER/<student>.ipynb`` (one chapter each). Each
notebook is executed afresh with nbclient (errors in the student's cells do not stop it), and
then every self-checking exercise of its chapter is checked against the final values of the
answer variables (:func:`sslbook.exercises.grade_namespace`), so printed outputs in the returned
file count for nothing. The chapter is read from the notebook's metadata (``sslbook.source``,
written by ``tools.editions``) or else from the file name.

The CSV has one row per student and notebook, one column per exercise (1 right, 0 not; empty
where the exercise is not in that chapter), ``total`` and ``out_of``; a second file
``<out>.feedback.csv`` has the one-line feedback of every check.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
from pathlib import Path

__all__ = ["grade_notebook", "grade_folder", "main"]

_MARK = "SSLBOOK-GRADE:"


def _chapter_of(nb, path: Path) -> str:
    src = (nb.metadata.get("sslbook") or {}).get("source")
    return Path(src).stem if src else path.stem


def _labels(chapter: str) -> list[str]:
    from sslbook.exercises import keys

    return sorted(label for label, k in keys().items() if k.get("chapter") == chapter)


def grade_notebook(path: Path, *, timeout: int = 600) -> tuple[str, list[dict]]:
    """Run one notebook and check its exercises.

    Returns
    -------
    chapter : str
    results : list of dict
        One per exercise of the chapter (``label``, ``passed``, ``kind``, ``message``, ``score``).
    """
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, 4)
    chapter = _chapter_of(nb, path)
    labels = _labels(chapter)
    if not labels:
        return chapter, []
    probe = (
        "import json as _j\nfrom sslbook.exercises import grade_namespace as _g\n"
        f"print({_MARK!r} + _j.dumps(_g({labels!r}, globals())))"
    )
    nb.cells = [c for c in nb.cells if c.cell_type == "code"] + [nbformat.v4.new_code_cell(probe)]
    env_keys = os.environ.get("SSLBOOK_EXERCISE_KEYS")
    with tempfile.TemporaryDirectory() as tmp:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": tmp}}
        )
        old = os.environ.pop("SSLBOOK_CHECKS", None)  # a student's failing check must not stop the run
        try:
            client.execute()
        finally:
            if old is not None:
                os.environ["SSLBOOK_CHECKS"] = old
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    for line in text.splitlines():
        if line.startswith(_MARK):
            return chapter, json.loads(line[len(_MARK) :])
    errors = [o for o in nb.cells[-1].outputs if o.get("output_type") == "error"]
    why = f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else "no output"
    raise RuntimeError(f"{path}: the grading cell did not report ({why}; keys from {env_keys or 'the package'})")


def _submissions(folder: Path) -> list[tuple[str, Path]]:
    subs = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        rel = path.relative_to(folder)
        subs.append((rel.parts[0] if len(rel.parts) > 1 else path.stem, path))
    return subs


def grade_folder(folder: Path, out: Path, *, timeout: int = 600) -> list[dict]:
    """Grade every notebook under ``folder`` and write the score table to ``out`` (CSV).

    Returns
    -------
    list of dict
        The rows written (``student``, ``notebook``, ``chapter``, one key per exercise, ``total``,
        ``out_of``).
    """
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise ValueError(f"folder must be a directory of notebooks, got {folder}")
    subs = _submissions(folder)
    if not subs:
        raise ValueError(f"no .ipynb files under {folder}")
    rows, feedback, labels = [], [], []
    for student, path in subs:
        chapter, results = grade_notebook(path, timeout=timeout)
        row = {"student": student, "notebook": str(path.relative_to(folder)), "chapter": chapter}
        for r in results:
            row[r["label"]] = int(r["passed"])
            feedback.append(
                {
                    "student": student,
                    "chapter": chapter,
                    "label": r["label"],
                    "score": int(r["passed"]),
                    "kind": r["kind"],
                    "message": r["message"],
                }
            )
            if r["label"] not in labels:
                labels.append(r["label"])
        row["total"] = sum(int(r["passed"]) for r in results)
        row["out_of"] = len(results)
        rows.append(row)
        print(f"{student:>20} {chapter:>20}: {row['total']}/{row['out_of']}")
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = ["student", "notebook", "chapter", *labels, "total", "out_of"]
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, restval="")
        w.writeheader()
        w.writerows(rows)
    with out.with_suffix(".feedback.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["student", "chapter", "label", "score", "kind", "message"])
        w.writeheader()
        w.writerows(feedback)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder of returned student notebooks")
    parser.add_argument("--out", type=Path, default=Path("scores.csv"), help="the score table (CSV)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    rows = grade_folder(args.folder, args.out, timeout=args.timeout)
    print(f"{len(rows)} notebooks graded; scores in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
