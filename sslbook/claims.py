"""Claim checks: the one way a chapter states that a number supports a paper's claim.

:func:`claim` compares a measured value with a threshold, records the result and raises
:class:`ClaimFailed` (an ``AssertionError``) when the comparison fails. Inside a notebook it also
displays the claim as a small rich output whose machine-readable part (MIME type
:data:`MIME_TYPE`) is what the book's claims ledger is built from, so the ledger can only list
claims that really ran.

Example
-------
>>> from sslbook.claims import claim
>>> claim("InfoNCE keeps the representation full rank", 7.6, ">=", 6.0,
...       quantity="effective rank of Z", key="infonce-rank")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from . import config

__all__ = ["ClaimFailed", "ClaimRecord", "claim", "records", "clear", "MIME_TYPE", "OPS"]

MIME_TYPE = "application/vnd.sslbook.claim+json"
OPS = ("<", "<=", ">", ">=", "in")
_RECORDS: list["ClaimRecord"] = []


class ClaimFailed(AssertionError):
    """Raised when a measured value does not meet its claim's threshold."""


@dataclass(frozen=True)
class ClaimRecord:
    """One checked claim: what was stated, what was measured, and whether it held."""

    key: str
    statement: str
    quantity: str
    value: float
    op: str
    threshold: Any
    passed: bool
    seed: int
    scale: str
    extra: dict = field(default_factory=dict)

    def _ipython_display_(self) -> None:
        """Show nothing when a notebook cell ends with ``claim(...)``: the check has already
        displayed itself, and the record's repr would repeat it."""

    def describe(self) -> str:
        """A one-line plain-text description."""
        mark = "PASS" if self.passed else "FAIL"
        return f"[{mark}] {self.statement}: {self.quantity} = {_fmt(self.value)} {_op_text(self.op, self.threshold)} (seed {self.seed}, {self.scale} scale)"

    def markdown(self) -> str:
        """The description as Markdown, for the notebook's rich output."""
        mark = "✔" if self.passed else "✘"
        verdict = "holds" if self.passed else "FAILS"
        return (f"{mark} **Claim {verdict}** ({self.key}): {self.statement}. "
                f"Measured {self.quantity} = `{_fmt(self.value)}`, required {_op_text(self.op, self.threshold, md=True)} "
                f"(seed {self.seed}, {self.scale} scale).")


def _fmt(v: float) -> str:
    if v == 0 or (1e-3 <= abs(v) < 1e5):
        return f"{v:.4g}"
    return f"{v:.3e}"


def _op_text(op: str, threshold: Any, md: bool = False) -> str:
    if op == "in":
        lo, hi = threshold
        return f"in [{_fmt(lo)}, {_fmt(hi)}]"
    sym = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}[op]
    return f"{sym} {_fmt(threshold)}"


def _to_float(value: Any, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.detach().cpu().item()
    elif isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"{name} must be a scalar, got an array of shape {value.shape}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def _holds(value: float, op: str, threshold: Any) -> bool:
    if math.isnan(value):
        return False
    if op == "<":
        return value < threshold
    if op == "<=":
        return value <= threshold
    if op == ">":
        return value > threshold
    if op == ">=":
        return value >= threshold
    lo, hi = threshold
    return lo <= value <= hi


def _display(record: ClaimRecord) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # a machine without IPython: plain output
        print(record.describe(), flush=True)
        return
    if get_ipython() is None:  # a plain Python script (e.g. a chapter converted to .py)
        print(record.describe(), flush=True)
        return
    bundle = {MIME_TYPE: asdict(record), "text/markdown": record.markdown(), "text/plain": record.describe()}
    display(bundle, raw=True)


def _append_log(record: ClaimRecord) -> None:
    path = os.environ.get("SSLBOOK_CLAIMS_LOG", "").strip()
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(record)) + "\n")


def claim(statement: str, value: Any, op: str, threshold: Any, *, quantity: str, key: str,
          extra: dict | None = None) -> ClaimRecord:
    """Check ``value op threshold``, record it and raise :class:`ClaimFailed` if it fails.

    Parameters
    ----------
    statement
        The paper's claim in one line, in the book's words.
    value
        The measured number (Python, NumPy or one-element torch scalar).
    op
        One of ``"<"``, ``"<="``, ``">"``, ``">="`` or ``"in"`` (closed interval).
    threshold
        A real number, or ``(low, high)`` for ``op="in"``. Choose it as a reader would accept
        as evidence for the claim, not as the smallest margin that passes.
    quantity
        What was measured, e.g. ``"sin of the largest principal angle to the Fisher subspace"``.
    key
        A short identifier, unique within the chapter (``"ssl-learns-e2"``).
    extra
        Optional JSON-serialisable details (e.g. per-seed values) stored with the record.

    Returns
    -------
    ClaimRecord
        The record (also kept in :func:`records`).

    Raises
    ------
    ClaimFailed
        If the comparison does not hold (NaN never holds).
    TypeError, ValueError
        For malformed arguments.
    """
    for name, s in (("statement", statement), ("quantity", quantity), ("key", key)):
        if not isinstance(s, str):
            raise TypeError(f"{name} must be a string, got {type(s).__name__}")
        if not s.strip():
            raise ValueError(f"{name} must be a non-empty string")
    if not isinstance(op, str) or op not in OPS:
        raise ValueError(f"op must be one of {OPS}, got {op!r}")
    v = _to_float(value, "value")
    if op == "in":
        if not isinstance(threshold, Sequence) or isinstance(threshold, str) or len(threshold) != 2:
            raise ValueError(f"threshold must be a (low, high) pair for op='in', got {threshold!r}")
        lo, hi = (_to_float(t, "threshold") for t in threshold)
        if not lo <= hi:
            raise ValueError(f"threshold must satisfy low <= high, got {threshold!r}")
        thr: Any = [lo, hi]
    else:
        thr = _to_float(threshold, "threshold")
    if isinstance(thr, float) and math.isnan(thr):
        raise ValueError("threshold must not be NaN")
    extra = dict(extra or {})
    try:
        json.dumps(extra)
    except TypeError as err:
        raise TypeError(f"extra must be JSON-serialisable: {err}") from None
    record = ClaimRecord(key=key, statement=statement.strip(), quantity=quantity.strip(), value=v, op=op,
                         threshold=thr, passed=_holds(v, op, thr), seed=config.seed(), scale=config.scale(),
                         extra=extra)
    _RECORDS.append(record)
    _display(record)
    _append_log(record)
    if not record.passed:
        raise ClaimFailed(record.describe())
    return record


def records() -> list[ClaimRecord]:
    """All claims checked in this process so far, in order."""
    return list(_RECORDS)


def clear() -> None:
    """Forget the recorded claims (used by tests)."""
    _RECORDS.clear()
