"""Claim checks: the one way a chapter states that a number supports a paper's claim.

:func:`claim` compares a measured value with a threshold, records the result and raises
:class:`ClaimFailed` (an ``AssertionError``) when the comparison fails. Every claim states its
*kind* (:data:`KINDS`):

``identity``
    a derived formula or an implementation checked numerically; the tolerance comes from the
    floating-point precision, not from a run;
``theorem``
    a theorem's conclusion checked on the chapter's instance;
``reproduction``
    what the paper reports, reproduced by a simulation. It must carry a :class:`Control`: the same
    quantity, measured the same way where the mechanism is absent (at initialisation, with the
    ingredient removed, on a null model, or the baseline the text contrasts with). The claim holds
    only when the measured value meets the threshold **and the control does not**; it must also
    say where its threshold comes from (``source``, see :data:`SOURCES`);
``breakdown``
    where a result stops holding (the "Where it breaks" sections).

Inside a notebook a claim displays itself as a small rich output whose machine-readable part
(MIME type :data:`MIME_TYPE`) is what the book's claims ledger and the folded check tables are
built from, so the ledger can only list claims that really ran.

Example
-------
>>> from sslbook.claims import Control, claim
>>> claim("InfoNCE keeps the representation full rank", 7.6, ">=", 6.0,
...       quantity="effective rank of Z", key="fd-infonce-rank", kind="reproduction",
...       control=Control(1.0, "the invariance-only loss"),
...       source="text: the chapter asks for at least 6 of 8 dimensions")  # doctest: +SKIP
"""

from __future__ import annotations

import html as _html
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from . import config

__all__ = [
    "ClaimFailed",
    "ClaimRecord",
    "Control",
    "claim",
    "records",
    "clear",
    "MIME_TYPE",
    "OPS",
    "KINDS",
    "SOURCES",
    "holds",
    "margin",
    "format_value",
    "format_threshold",
    "check_record",
]

MIME_TYPE = "application/vnd.sslbook.claim+json"
OPS = ("<", "<=", ">", ">=", "in")
KINDS = ("identity", "theorem", "reproduction", "breakdown")
#: Where a threshold may come from; ``source`` starts with one of these words, then ``:`` and details.
SOURCES = ("text", "paper", "stderr", "seeds", "theory", "precision")
_RECORDS: list[ClaimRecord] = []


class ClaimFailed(AssertionError):
    """Raised when a measured value does not meet its claim's threshold, or its control does."""


@dataclass(frozen=True)
class Control:
    """The control of a reproduction claim: the same quantity where the mechanism is absent.

    Parameters
    ----------
    value
        The control's measured value (Python, NumPy or one-element torch scalar).
    what
        What the control is, e.g. ``"the same network at initialisation"`` or ``"PCA"``.
    """

    value: Any
    what: str


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
    kind: str = "reproduction"
    control_value: float | None = None
    control_what: str | None = None
    control_passed: bool | None = None
    source: str | None = None
    budgets: dict = field(default_factory=dict)
    margin: float = float("nan")
    extra: dict = field(default_factory=dict)

    def _ipython_display_(self) -> None:
        """Show nothing when a notebook cell ends with ``claim(...)``: the check has already
        displayed itself, and the record's repr would repeat it."""

    def describe(self) -> str:
        """A one-line plain-text description."""
        mark = "PASS" if self.passed else "FAIL"
        text = (
            f"[{mark}] ({self.kind}) {self.statement}: {self.quantity} = {format_value(self.value)} "
            f"{format_threshold(self.op, self.threshold)}"
        )
        if self.control_value is not None:
            text += f"; control ({self.control_what}) = {format_value(self.control_value)}"
            if self.control_passed:
                text += " ALSO MEETS THE THRESHOLD"
        return text + f" (seed {self.seed}, {self.scale} scale)"

    def markdown(self) -> str:
        """The description as Markdown, for the notebook's rich output."""
        mark = "✔" if self.passed else "✘"
        verdict = "holds" if self.passed else "FAILS"
        text = (
            f"{mark} **{self.kind.capitalize()} {verdict}** ({self.key}): {self.statement}. "
            f"Measured {self.quantity} = `{format_value(self.value)}`, required "
            f"{format_threshold(self.op, self.threshold)}"
        )
        if self.control_value is not None:
            text += f"; control, {self.control_what}: `{format_value(self.control_value)}`"
        return text + f" (seed {self.seed}, {self.scale} scale)."

    def html(self) -> str:
        """The description as HTML for notebooks. The element carries the record as JSON
        (``data-claim``), from which the book's build folds a cell's checks into one table."""
        mark = "✔" if self.passed else "✘"
        verdict = "holds" if self.passed else "FAILS"
        control = ""
        if self.control_value is not None:
            control = (
                f"; control, {_html.escape(self.control_what or '')}: <code>{format_value(self.control_value)}</code>"
            )
        data = _html.escape(json.dumps(asdict(self)), quote=True)
        return (
            f'<div class="sslbook-claim" data-claim="{data}">{mark} <b>{self.kind.capitalize()} {verdict}</b> '
            f"({_html.escape(self.key)}): {_html.escape(self.statement)}. Measured "
            f"{_html.escape(self.quantity)} = <code>{format_value(self.value)}</code>, required "
            f"{_html.escape(format_threshold(self.op, self.threshold))}{control}.</div>"
        )


def format_value(v: float | None) -> str:
    """A measured value as the book prints it (4 significant digits, or scientific notation)."""
    if v is None:
        return "–"
    v = float(v)
    if math.isnan(v):
        return "nan"
    if v == 0 or (1e-3 <= abs(v) < 1e5):
        return f"{v:.4g}"
    return f"{v:.3e}"


def format_threshold(op: str, threshold: Any) -> str:
    """``op threshold`` as text: ``≥ 0.9``, ``in [0, 1]``."""
    if op == "in":
        lo, hi = threshold
        return f"in [{format_value(lo)}, {format_value(hi)}]"
    sym = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}[op]
    return f"{sym} {format_value(threshold)}"


def holds(value: float, op: str, threshold: Any) -> bool:
    """Whether ``value op threshold`` is true (NaN never holds)."""
    value = float(value)
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
    if op == "in":
        lo, hi = threshold
        return lo <= value <= hi
    raise ValueError(f"op must be one of {OPS}, got {op!r}")


def margin(value: float, op: str, threshold: Any) -> float:
    """Signed distance of ``value`` from the threshold, positive on the side where the claim holds
    (for ``"in"``, the distance to the nearer end)."""
    value = float(value)
    if op in ("<", "<="):
        return float(threshold) - value
    if op in (">", ">="):
        return value - float(threshold)
    lo, hi = threshold
    return min(value - lo, hi - value)


def check_record(record: Mapping[str, Any]) -> list[str]:
    """Problems of a recorded claim (a :class:`ClaimRecord` as a dict, e.g. read from an executed
    notebook): an unknown kind, a reproduction without a control or threshold source, a value that
    does not meet its threshold, a control that does. Empty when the claim is sound."""
    key = record.get("key", "?")
    problems = []
    kind = record.get("kind")
    if kind not in KINDS:
        problems.append(f"claim {key!r}: kind {kind!r} is not one of {KINDS}")
    try:
        ok = holds(record["value"], record["op"], record["threshold"])
    except (KeyError, TypeError, ValueError) as err:
        return problems + [f"claim {key!r}: malformed record ({err})"]
    if not ok or not record.get("passed"):
        problems.append(f"claim {key!r}: value {record['value']} does not meet {record['op']} {record['threshold']}")
    cv = record.get("control_value")
    if kind == "reproduction":
        if cv is None:
            problems.append(f"claim {key!r}: a reproduction without a control")
        if not record.get("source"):
            problems.append(f"claim {key!r}: a reproduction without a threshold source")
    if cv is not None and holds(cv, record["op"], record["threshold"]):
        problems.append(
            f"claim {key!r}: its control ({record.get('control_what')}) = {cv} also meets "
            f"{record['op']} {record['threshold']}"
        )
    return problems


def _to_float(value: Any, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        if value.is_complex():
            raise TypeError(f"{name} must be a real number, got a complex tensor")
        value = value.detach().cpu().item()
    elif isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"{name} must be a scalar, got an array of shape {value.shape}")
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    out = float(value)
    if math.isnan(out):
        raise ValueError(f"{name} is NaN: the measurement failed")
    return out


def _text(s: Any, name: str) -> str:
    if not isinstance(s, str):
        raise TypeError(f"{name} must be a string, got {type(s).__name__}")
    if not s.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return s.strip()


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
    bundle = {
        MIME_TYPE: asdict(record),
        "text/html": record.html(),
        "text/markdown": record.markdown(),
        "text/plain": record.describe(),
    }
    display(bundle, raw=True)


def _append_log(record: ClaimRecord) -> None:
    path = os.environ.get("SSLBOOK_CLAIMS_LOG", "").strip()
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(record)) + "\n")


def claim(
    statement: str,
    value: Any,
    op: str,
    threshold: Any,
    *,
    quantity: str,
    key: str,
    kind: str,
    control: Control | None = None,
    source: str | None = None,
    budgets: Mapping[str, str] | None = None,
    extra: dict | None = None,
) -> ClaimRecord:
    """Check ``value op threshold`` (and that the control fails it), record it, raise if it fails.

    Parameters
    ----------
    statement
        The paper's claim in one line, in the book's words (inline math as ``$...$``).
    value
        The measured number (Python, NumPy or one-element torch scalar); NaN is an error.
    op
        One of ``"<"``, ``"<="``, ``">"``, ``">="`` or ``"in"`` (closed interval).
    threshold
        A real number, or ``(low, high)`` for ``op="in"``. Choose it as a reader would accept
        as evidence for the claim, never from a failing run.
    quantity
        What was measured, e.g. ``"sin of the largest principal angle to the Fisher subspace"``.
    key
        A short identifier, unique within the chapter, starting with the chapter's prefix.
    kind
        One of :data:`KINDS`: ``"identity"``, ``"theorem"``, ``"reproduction"``, ``"breakdown"``.
    control
        Required for a reproduction, allowed for every kind: the same quantity where the mechanism
        is absent. The claim fails when the control also meets the threshold.
    source
        Where the threshold comes from: one of :data:`SOURCES`, a colon, and the details, e.g.
        ``"seeds: worst of seeds 0-4 of this chapter was 0.87"``. Required for a reproduction;
        identities default to ``"precision"``.
    budgets
        For a comparison of methods: each method's budget (steps x learning rate, samples seen,
        probe), e.g. ``{"SSL": "5000 steps x 0.04", "LS": "5000 steps x 0.04"}``.
    extra
        Optional JSON-serialisable details (e.g. per-seed values) stored with the record.

    Returns
    -------
    ClaimRecord
        The record (also kept in :func:`records`).

    Raises
    ------
    ClaimFailed
        If the value does not meet the threshold, or the control does.
    TypeError, ValueError
        For malformed arguments (naming the argument), a NaN value or control, an unknown kind,
        a reproduction without a control or a threshold source.
    """
    statement = _text(statement, "statement")
    quantity = _text(quantity, "quantity")
    key = _text(key, "key")
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a string, one of {KINDS}; got {type(kind).__name__}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
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
    cv = cwhat = cpassed = None
    if control is not None:
        if not isinstance(control, Control):
            raise TypeError(f"control must be a sslbook.claims.Control(value, what), got {type(control).__name__}")
        cv = _to_float(control.value, "control.value")
        cwhat = _text(control.what, "control.what")
        cpassed = holds(cv, op, thr)
    elif kind == "reproduction":
        raise ValueError(
            f"control is required for a reproduction claim ({key!r}): give Control(value, what), "
            "the same quantity where the mechanism is absent"
        )
    if source is None:
        if kind == "reproduction":
            raise ValueError(
                f"source is required for a reproduction claim ({key!r}): where the threshold comes "
                f"from, starting with one of {SOURCES}"
            )
        source = "precision" if kind == "identity" else None
    if source is not None:
        source = _text(source, "source")
        head = source.split(":", 1)[0].strip()
        if head not in SOURCES:
            raise ValueError(f"source must start with one of {SOURCES} (then ':' and details), got {source!r}")
    budget_map: dict[str, str] = {}
    if budgets is not None:
        if not isinstance(budgets, Mapping):
            raise TypeError(f"budgets must be a mapping of method to budget, got {type(budgets).__name__}")
        for name, b in budgets.items():
            budget_map[_text(name, "budgets key")] = _text(b, f"budgets[{name!r}]")
    extra = dict(extra or {})
    try:
        json.dumps(extra)
    except (TypeError, ValueError) as err:
        raise TypeError(f"extra must be JSON-serialisable: {err}") from None
    passed = holds(v, op, thr) and not cpassed
    record = ClaimRecord(
        key=key,
        statement=statement,
        quantity=quantity,
        value=v,
        op=op,
        threshold=thr,
        passed=passed,
        seed=config.seed(),
        scale=config.scale(),
        kind=kind,
        control_value=cv,
        control_what=cwhat,
        control_passed=cpassed,
        source=source,
        budgets=budget_map,
        margin=margin(v, op, thr),
        extra=extra,
    )
    _RECORDS.append(record)
    _display(record)
    _append_log(record)
    if not record.passed:
        if cpassed:
            raise ClaimFailed(
                f"claim {key!r}: the control ({cwhat}) = {format_value(cv)} also meets "
                f"{format_threshold(op, thr)} (measured {format_value(v)}), so the check cannot "
                f"tell the mechanism from its absence. {record.describe()}"
            )
        raise ClaimFailed(record.describe())
    return record


def records() -> list[ClaimRecord]:
    """All claims checked in this process so far, in order."""
    return list(_RECORDS)


def clear() -> None:
    """Forget the recorded claims (used by tests)."""
    _RECORDS.clear()
