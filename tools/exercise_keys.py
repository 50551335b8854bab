"""Write the answer keys of the self-checking exercises (``sslbook/_exercise_keys.py``).

::

    SSLBOOK_RECORD_ANSWERS=/tmp/answers.jsonl python -m pytest book/hidden-features.md -p no:xdist
    python -m tools.exercise_keys /tmp/answers.jsonl [more.jsonl ...]

Running a chapter with ``SSLBOOK_RECORD_ANSWERS`` set makes every
:func:`sslbook.exercises.check` append the answer its solution computed; this command turns them
into keys (hashes, no values: :func:`sslbook.exercises.make_key`) and merges them into the packaged
key table. Answers recorded more than once (several seeds) must agree within the tolerance.
Keys of exercises whose check cell is gone from the book are dropped.
"""

from __future__ import annotations

import argparse
import json
import pprint
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from sslbook.exercises import make_key

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "sslbook" / "_exercise_keys.py"
CHECK_CALL = re.compile(r"""check\(\s*["']([\w-]+)["']\s*,\s*["'](\w+)["']""")

__all__ = ["check_calls", "build", "main"]


def check_calls(root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """``{label: (chapter stem, answer name)}`` for every check call in ``root/book/*.md``."""
    calls = {}
    for path in sorted((root / "book").glob("*.md")):
        for label, name in CHECK_CALL.findall(path.read_text(encoding="utf-8")):
            if label in calls:
                raise ValueError(f"exercise {label} is checked twice ({calls[label][0]}, {path.stem})")
            calls[label] = (path.stem, name)
    return calls


def build(records: list[dict], old: dict, root: Path = ROOT) -> dict:
    calls = check_calls(root)
    by_label: dict[str, list[dict]] = {}
    for r in records:
        by_label.setdefault(r["label"], []).append(r)
    new = {k: v for k, v in old.items() if k in calls}
    for label, rs in by_label.items():
        if label not in calls:
            raise ValueError(f"recorded {label}, which no check cell in book/*.md names")
        first = rs[0]
        for r in rs[1:]:
            if isinstance(first["value"], str) or isinstance(r["value"], str):
                same = r["value"] == first["value"]
            else:
                a, b = np.asarray(first["value"], float), np.asarray(r["value"], float)
                slack = 0.0 if first["tol"] is None else first["tol"] / 2  # no tolerance: exact
                same = a.shape == b.shape and bool(np.all(np.abs(a - b) <= slack))
            if not same:
                raise ValueError(f"{label}: recorded answers disagree beyond tol/2: {first['value']} vs {r['value']}")
        tol = first["tol"]
        if tol is None and not isinstance(first["value"], str):
            if not set(np.ravel(first["value"]).tolist()) <= {0.0, 1.0}:
                raise ValueError(f"{label}: a numeric answer needs a stated tol in its check call")
            tol = 0.5  # a yes/no answer, recorded as 0/1
        key = make_key(label, first["name"], first["value"], tol)
        key["chapter"] = calls[label][0]
        new[label] = key
    return dict(sorted(new.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.exercise_keys", description=__doc__.split("\n\n")[0])
    parser.add_argument("records", nargs="+", type=Path, help="JSON-lines files written via SSLBOOK_RECORD_ANSWERS")
    args = parser.parse_args(argv)
    records = [json.loads(line) for p in args.records for line in p.read_text(encoding="utf-8").splitlines() if line]
    old = {}
    if TARGET.exists():
        ns: dict = {}
        exec(TARGET.read_text(encoding="utf-8"), ns)
        old = ns["KEYS"]
    table = build(records, old)
    TARGET.write_text(
        '"""Answer keys of the self-checking exercises (hashes only), written by '
        '``python -m tools.exercise_keys``."""\n\n'
        f"KEYS = {pprint.pformat(table, width=110, sort_dicts=True)}\n",
        encoding="utf-8",
    )
    if shutil.which("ruff"):  # the repository's style, so CI's format check stays clean
        subprocess.run(["ruff", "format", "--quiet", str(TARGET)], check=False)
    print(f"{len(table)} exercise keys in {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
