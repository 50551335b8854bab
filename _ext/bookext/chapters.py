"""What is checked of an executed chapter: its claims and its time (the chapter harness in
``conftest.py`` and the tests of the built book, ``tests/test_executed_book.py``, share this)."""

from __future__ import annotations

import json
import os
from typing import Any

DEFAULT_BUDGET_S = 90.0


def budget_s() -> float | None:
    """The per-chapter budget in seconds: 90 at the ``book`` scale (``SSLBOOK_BUDGET`` if set),
    ``None`` (no budget) at the ``paper`` scale."""
    if os.environ.get("SSLBOOK_SCALE", "book").strip().lower() == "paper":
        return None
    raw = os.environ.get("SSLBOOK_BUDGET", "").strip()
    return float(raw) if raw else DEFAULT_BUDGET_S


def claim_records(nb: Any) -> list[dict]:
    """The claim records among the outputs of an executed notebook (a dict or NotebookNode)."""
    from sslbook.claims import MIME_TYPE

    found = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []) or []:
            rec = (out.get("data") or {}).get(MIME_TYPE)
            if rec is not None:
                found.append(json.loads(rec) if isinstance(rec, str) else dict(rec))
    return found


def chapter_problems(records: list[dict], seconds: float | None) -> list[str]:
    """What is wrong with an executed chapter's claims and time (empty when nothing is): a claim
    that :func:`sslbook.claims.check_record` finds unsound, a key used twice, no claim at all, or
    a run over the budget."""
    from sslbook.claims import check_record

    problems = []
    for r in records:
        problems.extend(check_record(r))
    keys = [r.get("key") for r in records]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        problems.append(f"claim keys used more than once: {dup}")
    if not records:
        problems.append("the chapter checks no claim through sslbook.claims.claim")
    b = budget_s()
    if b is not None and seconds is not None and seconds > b:
        problems.append(f"took {seconds:.1f} s, over its budget of {b:.0f} s")
    return problems
