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

__all__ = ["check", "CheckResult", "ExerciseCheckFailed", "make_key", "keys", "grade_namespace"]

MIME = "application/vnd.sslbook.check+json"
_FACTORS = (2.0, 0.5, 10.0, 0.1, 4.0, 0.25, math.pi, 1 / math.pi, 2 * math.pi, 1 / (2 * math.pi),
            math.sqrt(2), 1 / math.sqrt(2), math.e, 1 / math.e)


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
        ``"sign"``, ``"factor"``, ``"order"``, ``"close"``, ``"entries"``, ``"wrong"`` or ``"no key"``.
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


def _as_array(value) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensors
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=float)
    return arr


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
    if not isinstance(label, str) or not label:
        raise ValueError(f"label must be a non-empty string, got {label!r}")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a Python identifier, got {name!r}")
    if isinstance(value, str):
        return {"name": name, "type": "str", "hash": _digest(label, 0, value.strip().lower())}
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}")
    arr = _as_array(value)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"the reference answer of {label} is not finite: {arr}")
    hashes = [_digest(label, i, int(np.rint(v / tol))) for i, v in enumerate(arr.ravel())]
    return {"name": name, "type": "array", "tol": float(tol), "shape": list(arr.shape), "hashes": hashes}


def keys() -> dict[str, dict]:
    """The exercise keys: from ``SSLBOOK_EXERCISE_KEYS`` (a JSON file) if set, else the packaged ones."""
    path = os.environ.get("SSLBOOK_EXERCISE_KEYS")
    if path:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    from ._exercise_keys import KEYS

    return KEYS


def _entry_ok(label: str, i: int, x: float, tol: float, h: str, reach: int = 1) -> bool:
    q = int(np.rint(x / tol))
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
        arr = _as_array(value)
    except (TypeError, ValueError):
        return "type", f"expected a number or an array of numbers, got {type(value).__name__}"
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
        if _all_ok(label, flat / f, tol, hashes):
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
    table = keys()
    key = table.get(label)
    if key is None or key["name"] != name or (tol is not None and key.get("tol", tol) != tol):
        return CheckResult(label, False, "no key", f"? {label}: no answer key for `{name}` (tol {tol}); "
                                                   "the book's keys are out of date (python -m tools.exercise_keys)")
    tol_text = f" (tolerance {key['tol']:g} per entry)" if key["type"] == "array" else ""
    if name not in namespace:
        return CheckResult(label, False, "missing",
                           f"✗ {label}: no answer yet: assign your answer to `{name}` and run this cell again")
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
        are out of date). ``None`` for string answers.
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
    """
    if not isinstance(label, str) or not label:
        raise ValueError(f"label must be a non-empty string, got {label!r}")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be the answer variable's name as a string, got {name!r}")
    if tol is not None and not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number or None, got {tol!r}")
    if namespace is None:
        frame = inspect.currentframe().f_back
        namespace = frame.f_globals
    record = os.environ.get("SSLBOOK_RECORD_ANSWERS")
    if record and name in namespace:
        value = namespace[name]
        value = value if isinstance(value, str) else _as_array(value).tolist()
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
    table = keys()
    out = []
    for label in labels:
        key = table.get(label)
        if key is None:
            raise ValueError(f"no key for exercise {label!r}")
        out.append(asdict(_evaluate(label, key["name"], namespace, key.get("tol"))))
    return out
