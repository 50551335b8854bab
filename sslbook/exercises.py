"""Self-checking exercises: feedback on a computational answer without showing the solution.

A computational exercise of the book ends with a cell such as ::

    from sslbook.exercises import check
    check("hf-ex-tau", "ex_tau_b", tol=0.01)

which looks up the variable ``ex_tau_b`` in the notebook, compares it with the reference answer
within ``tol`` (absolute, per entry) and prints one line: right, or what kind of wrong (no answer
yet, not a number, not finite, wrong shape, transposed, sign flipped, off by a common factor,
right values in the wrong order, close but outside the tolerance, which entries are off). It never
raises in a student's notebook, so a blank notebook runs to the end.

The reference answers are not stored in plain text. For each entry :math:`r_i` the key holds a
salted hash of the grid index :math:`\\mathrm{round}(r_i/\\mathrm{tol})`; an answer entry
:math:`x_i` is right when the hash of :math:`\\mathrm{round}(x_i/\\mathrm{tol}) + k` matches for
some :math:`k \\in \\{-1, 0, 1\\}`. So every answer within ``tol`` of the reference is accepted and
every answer more than ``2 tol`` away is rejected. (A determined reader could search the grid:
the keys give feedback, they are not an exam lock; the grader re-runs the notebooks.)

The keys (``sslbook/_exercise_keys.py``) are written by ``python -m tools.exercise_keys`` from the
answers the book's own solutions compute: running a chapter with ``SSLBOOK_RECORD_ANSWERS=FILE``
makes every ``check`` append its answer to ``FILE``. With ``SSLBOOK_CHECKS=strict`` a failed check
raises :class:`ExerciseCheckFailed` (how the tests run the instructor edition).
``SSLBOOK_EXERCISE_KEYS=FILE`` reads the keys from a JSON file instead of the packaged ones.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import _checks

__all__ = ["check", "CheckResult", "ExerciseCheckFailed", "make_key", "keys", "grade_namespace"]

MIME = "application/vnd.sslbook.check+json"
_FACTORS = (
    2.0,
    0.5,
    10.0,
    0.1,
    4.0,
    0.25,
    math.pi,
    1 / math.pi,
    2 * math.pi,
    1 / (2 * math.pi),
    math.sqrt(2),
    1 / math.sqrt(2),
    math.e,
    1 / math.e,
)


class ExerciseCheckFailed(AssertionError):
    """A check failed while ``SSLBOOK_CHECKS=strict`` (the instructor edition must pass every check)."""


@dataclass
class CheckResult:
    """The outcome of one check.

    Attributes
    ----------
    label : str
        The exercise label, e.g. ``"hf-ex-tau"``.
    passed : bool
        Whether the answer is right within the tolerance.
    kind : str
        ``"right"``, ``"missing"``, ``"type"``, ``"not finite"``, ``"shape"``, ``"transposed"``,
        ``"sign"``, ``"factor"``, ``"order"``, ``"close"``, ``"entries"``, ``"wrong"``, ``"no key"``
        or ``"usage"`` (the call itself is wrong: its message names the argument).
    message : str
        The one-line feedback printed for the student.
    score : float
        1.0 when passed, else 0.0.
    """

    label: str
    passed: bool
    kind: str
    message: str
    score: float = field(init=False)

    def __post_init__(self):
        self.score = 1.0 if self.passed else 0.0

    def __repr__(self) -> str:  # what a notebook shows if the result is the cell's last value
        return self.message

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": self.message, MIME: asdict(self)}


def _digest(label: str, index: int, q) -> str:
    return hashlib.sha256(f"sslbook|{label}|{index}|{q}".encode()).hexdigest()[:12]


def _as_array(value, name: str = "value") -> np.ndarray:
    """A real float64 array (``_checks.array``: complex, string, ``None``, object and ``meta`` values
    are refused with a ``TypeError``/``ValueError`` naming ``name``; NaN is left to the caller)."""
    return _checks.array(value, name, finite=False)


def _grid(x, tol: float) -> np.ndarray:
    """The grid indices ``round(x / tol)`` as floats (``inf`` where the ratio overflows)."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return np.rint(np.asarray(x, dtype=float) / tol)


def make_key(label: str, name: str, value, tol: float) -> dict:
    """The key of an exercise: its answer's variable name, tolerance, shape and entry hashes.

    Parameters
    ----------
    label : str
        The exercise label.
    name : str
        The variable the student assigns the answer to.
    value : float, array_like, bool or str
        The reference answer (a string is compared after ``strip().lower()``; booleans as 0/1).
    tol : float
        Absolute tolerance per entry (> 0); ignored for strings.

    Returns
    -------
    dict
        JSON-serialisable key, holding no reference value in plain text.
    """
    _label_and_name(label, name)
    if isinstance(value, str):
        return {"name": name, "type": "str", "hash": _digest(label, 0, value.strip().lower())}
    tol = _checks.positive(tol, "tol")
    arr = _as_array(value, "value")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"value (the reference answer of {label}) contains NaN or infinite entries")
    if arr.size == 0:
        raise ValueError(f"value (the reference answer of {label}) is empty: there is nothing to check")
    grid = _grid(arr.ravel(), tol)
    if not np.all(np.isfinite(grid)):
        raise ValueError(
            f"value / tol overflows (value up to {np.abs(arr).max():.3g}, tol {tol:g}): "
            "give a larger tol or rescale the answer"
        )
    hashes = [_digest(label, i, int(q)) for i, q in enumerate(grid)]
    return {"name": name, "type": "array", "tol": float(tol), "shape": list(arr.shape), "hashes": hashes}


def _label_and_name(label: object, name: object) -> None:
    if not isinstance(label, str) or not label:
        raise ValueError(f"label must be a non-empty string, got {label!r}")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be the answer variable's name (a Python identifier) as a string, got {name!r}")


def _check_table(table: object, where: str) -> dict[str, dict]:
    """Check a key table (label -> key as :func:`make_key` writes it); ``ValueError`` naming ``where``."""
    if not isinstance(table, dict):
        raise ValueError(f"{where} must hold a JSON object (label -> key), got {type(table).__name__}")
    for label, key in table.items():
        bad = None
        if not isinstance(key, dict) or not isinstance(key.get("name"), str) or key.get("type") not in ("str", "array"):
            bad = "a key needs a string 'name' and a 'type' of 'str' or 'array'"
        elif key["type"] == "str" and not isinstance(key.get("hash"), str):
            bad = "a string key needs a 'hash'"
        elif key["type"] == "array":
            tol, shape, hashes = key.get("tol"), key.get("shape"), key.get("hashes")
            if (
                isinstance(tol, bool)
                or not isinstance(tol, (int, float))
                or not math.isfinite(tol)
                or tol <= 0
                or not isinstance(shape, list)
                or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
                or not isinstance(hashes, list)
                or not all(isinstance(h, str) for h in hashes)
                or len(hashes) != math.prod(shape)
                or not hashes
            ):
                bad = "an array key needs a positive 'tol', a 'shape' and one string hash per entry"
        if bad:
            raise ValueError(f"{where}: the key of {label!r} is malformed ({bad})")
    return table


def keys() -> dict[str, dict]:
    """The exercise keys: from ``SSLBOOK_EXERCISE_KEYS`` (a JSON file) if set, else the packaged ones.

    Raises
    ------
    ValueError
        Naming ``SSLBOOK_EXERCISE_KEYS`` when its file cannot be read, is not JSON, or holds a
        malformed key.
    """
    path = os.environ.get("SSLBOOK_EXERCISE_KEYS")
    if path:
        where = f"SSLBOOK_EXERCISE_KEYS={path!r}"
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"{where} cannot be read: {err}") from None
        try:
            table = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{where} is not valid JSON: {err}") from None
        return _check_table(table, where)
    from ._exercise_keys import KEYS

    return KEYS


def _entry_ok(label: str, i: int, x: float, tol: float, h: str, reach: int = 1) -> bool:
    q = _grid(x, tol)
    if not math.isfinite(q):  # an answer so large that x / tol overflows is not within tol of a finite one
        return False
    q = int(q)
    return any(_digest(label, i, q + k) == h for k in range(-reach, reach + 1))


def _all_ok(label, flat, tol, hashes, reach=1) -> bool:
    return all(_entry_ok(label, i, x, tol, h, reach) for i, (x, h) in enumerate(zip(flat, hashes)))


def _compare(label: str, key: dict, value) -> tuple[str, str]:
    """(kind, detail) of an answer against a key."""
    if key["type"] == "str":
        if not isinstance(value, str):
            return "type", f"expected a string, got {type(value).__name__}"
        ok = _digest(label, 0, value.strip().lower()) == key["hash"]
        return ("right", "") if ok else ("wrong", "not the expected answer")
    if isinstance(value, str):
        return "type", "expected a number or an array of numbers, got a string"
    try:
        arr = _as_array(value, "the answer")
    except Exception as err:  # noqa: BLE001 - any conversion failure is feedback (e.g. a list of tensors with grad)
        return "type", f"expected a real number or an array of real numbers ({err})"
    if not np.all(np.isfinite(arr)):
        return "not finite", "contains NaN or infinity"
    shape, tol, hashes = tuple(key["shape"]), key["tol"], key["hashes"]
    if arr.shape != shape:
        if arr.ndim == 2 and arr.T.shape == shape and _all_ok(label, arr.T.ravel(), tol, hashes):
            return "transposed", f"shape {arr.shape}; the transpose is right"
        if arr.size == int(np.prod(shape)) and _all_ok(label, arr.ravel(), tol, hashes):
            return "shape", f"right numbers but shape {arr.shape}, expected {shape}"
        return "shape", f"shape {arr.shape}, expected {shape}"
    flat = arr.ravel()
    if _all_ok(label, flat, tol, hashes):
        return "right", ""
    if np.any(flat != 0) and _all_ok(label, -flat, tol, hashes):
        return "sign", "the sign is flipped"
    for f in _FACTORS:
        with np.errstate(over="ignore"):
            scaled = flat / f
        if _all_ok(label, scaled, tol, hashes):
            return "factor", f"off by a common factor of about {f:.4g}"
    if flat.size > 1:
        matched = [any(_entry_ok(label, j, x, tol, h) for j, h in enumerate(hashes)) for x in flat]
        if all(matched):
            return "order", "right values in the wrong order"
    if _all_ok(label, flat, tol, hashes, reach=10):
        return "close", f"close, but outside the tolerance (within about 10 x {tol:g})"
    if flat.size > 1:
        bad = [i for i, (x, h) in enumerate(zip(flat, hashes)) if not _entry_ok(label, i, x, tol, h)]
        idx = [np.unravel_index(i, shape) for i in bad]
        idx = [int(i[0]) if len(i) == 1 else tuple(int(j) for j in i) for i in idx]
        return "entries", f"{len(bad)} of {flat.size} entries are off: index {idx[:8]}"
    return "wrong", "not within the tolerance of the reference"


def _evaluate(label: str, name: str, namespace: dict, tol: float | None = None) -> CheckResult:
    try:
        table = keys()
    except ValueError as err:
        return CheckResult(label, False, "no key", f"? {label}: the answer keys cannot be used: {err}")
    key = table.get(label)
    if key is None or key["name"] != name or (tol is not None and key.get("tol", tol) != tol):
        return CheckResult(
            label,
            False,
            "no key",
            f"? {label}: no answer key for this label with name `{name}` and "
            f"tol {tol}; the book's keys are out of date "
            "(python -m tools.exercise_keys)",
        )
    tol_text = f" (tolerance {key['tol']:g} per entry)" if key["type"] == "array" else ""
    if name not in namespace:
        return CheckResult(
            label, False, "missing", f"✗ {label}: no answer yet: assign your answer to `{name}` and run this cell again"
        )
    kind, detail = _compare(label, key, namespace[name])
    if kind == "right":
        return CheckResult(label, True, kind, f"✓ {label}: `{name}` is right{tol_text}")
    return CheckResult(label, False, kind, f"✗ {label}: `{name}` is not right yet: {detail}{tol_text}")


def check(label: str, name: str, tol: float | None = None, *, namespace: dict | None = None) -> CheckResult:
    """Check the answer of a computational exercise and print one line of feedback.

    Parameters
    ----------
    label : str
        The exercise label, e.g. ``"hf-ex-tau"``.
    name : str
        The name of the variable that holds the answer (looked up in ``namespace``).
    tol : float, optional
        The stated absolute tolerance per entry; must equal the key's (a mismatch means the keys
        are out of date). ``None`` for string answers (for a numerical answer, ``None`` uses the
        key's tolerance, shown in the message).
    namespace : dict, optional
        Where to look ``name`` up; default: the caller's global namespace (the notebook's).

    Returns
    -------
    CheckResult
        The outcome (shown as its message; the grader reads its ``passed``).

    Raises
    ------
    ExerciseCheckFailed
        Only when the environment sets ``SSLBOOK_CHECKS=strict`` and the check fails.
    ValueError, TypeError
        Only under ``SSLBOOK_CHECKS=strict``, for a wrong call (naming the argument: ``label``,
        ``name``, ``tol``, ``namespace``); otherwise a wrong call gives a failed result of kind
        ``"usage"`` whose message names the argument, so a notebook still runs to the end.
    """
    strict = os.environ.get("SSLBOOK_CHECKS") == "strict"
    if namespace is None:
        frame = inspect.currentframe().f_back
        namespace = frame.f_globals
    try:
        _label_and_name(label, name)
        if tol is not None:
            tol = _checks.positive(tol, "tol")
        if not isinstance(namespace, dict):
            raise TypeError(
                f"namespace must be a dict (variable name -> value) or None, got {type(namespace).__name__}"
            )
    except (TypeError, ValueError) as err:
        if strict:
            raise
        shown = label if isinstance(label, str) and label else "check"
        return CheckResult(shown, False, "usage", f"✗ {shown}: this check cell is wrong, not your answer: {err}")
    record = os.environ.get("SSLBOOK_RECORD_ANSWERS")
    if record and name in namespace:
        value = namespace[name]
        value = value if isinstance(value, str) else _as_array(value, name).tolist()
        with open(record, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"label": label, "name": name, "tol": tol, "value": value}) + "\n")
        return CheckResult(label, True, "right", f"(recorded the answer of {label})")
    result = _evaluate(label, name, namespace, tol)
    if not result.passed and os.environ.get("SSLBOOK_CHECKS") == "strict":
        raise ExerciseCheckFailed(result.message)
    return result


def grade_namespace(labels: list[str], namespace: dict) -> list[dict]:
    """Check several exercises against one namespace (what ``tools.grade`` runs after a notebook).

    Returns
    -------
    list of dict
        One ``{"label", "passed", "kind", "message", "score"}`` per label.
    """
    if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple)):
        raise TypeError(f"labels must be a list of exercise labels, got {type(labels).__name__}")
    if not all(isinstance(label, str) for label in labels):
        raise TypeError(f"labels must hold strings, got {[type(label).__name__ for label in labels]}")
    if not isinstance(namespace, dict):
        raise TypeError(f"namespace must be a dict (variable name -> value), got {type(namespace).__name__}")
    table = keys()
    out = []
    for label in labels:
        key = table.get(label)
        if key is None:
            raise ValueError(f"labels: no key for exercise {label!r}")
        out.append(asdict(_evaluate(label, key["name"], namespace, key.get("tol"))))
    return out
