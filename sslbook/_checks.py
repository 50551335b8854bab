"""Input validation shared by every public function of :mod:`sslbook`.

Each check raises ``TypeError`` (wrong type or dtype) or ``ValueError`` (wrong shape, value,
device or non-finite entries) with a message that names the offending argument. Public functions
call them once, at their boundary; the computation behind it is not checked again.

What every tensor check rejects (issue 20): a non-tensor, a tensor on the ``meta`` device (it holds
no values), complex, integer and bool dtypes where real numbers are expected, and half precision
(``float16``/``bfloat16``: the losses, factorisations and probes need float32 or float64). Two
tensors that meet in one computation must share their device and dtype (:func:`compatible`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

#: The floating dtypes the package computes in.
FLOATS = (torch.float32, torch.float64)
#: Largest exactly representable integer label (labels are float64 on their way through NumPy).
_INT64_MAX = np.iinfo(np.int64).max


def _want(ndim: int | Sequence[int]) -> tuple[int, ...]:
    return (ndim,) if isinstance(ndim, int) else tuple(ndim)


def _dtype_error(x: torch.Tensor, name: str) -> TypeError:
    if x.is_complex():
        return TypeError(f"{name} must be real, got the complex dtype {x.dtype}")
    if x.is_floating_point():
        return TypeError(
            f"{name} must be float32 or float64, got {x.dtype} (half precision is too coarse "
            f"for these computations; convert with .float())"
        )
    return TypeError(f"{name} must be a floating-point tensor (float32 or float64), got dtype {x.dtype}")


def tensor(
    x: object, name: str, ndim: int | Sequence[int] | None = None, finite: bool = True, floating: bool = True
) -> torch.Tensor:
    """Check that ``x`` is a torch tensor with ``ndim`` dimensions and finite float32/float64 entries."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_meta:
        raise ValueError(f"{name} is on the meta device: it has a shape but no values")
    if ndim is not None and x.ndim not in _want(ndim):
        want = " or ".join(str(a) for a in _want(ndim))
        raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(x.shape)}")
    if floating and x.dtype not in FLOATS:
        raise _dtype_error(x, name)
    if finite and x.is_floating_point() and not all_finite(x):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return x


def all_finite(x: torch.Tensor) -> bool:
    """Whether every entry of ``x`` is finite.

    A NaN or infinite entry makes the sum non-finite, and one reduction plus one scalar read is 5 to
    50 times cheaper than ``torch.isfinite(x).all()``; only when the sum is not finite (also when
    large finite entries overflow it) are the entries inspected one by one.
    """
    if x.numel() == 0:
        return True
    x = x.detach()
    return math.isfinite(x.sum().item()) or bool(torch.isfinite(x).all())


def finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """Check that the floating tensor ``x`` has no NaN or infinite entry (``ValueError`` naming it)."""
    if not all_finite(x):
        raise ValueError(f"{name} contains NaN or infinite entries")
    return x


def compatible(**tensors: torch.Tensor) -> None:
    """Check that tensors which meet in one computation share a device and a dtype.

    ``ValueError`` (devices) or ``TypeError`` (dtypes) naming the first argument that differs from
    the first one given.
    """
    items = iter(tensors.items())
    first, t0 = next(items)
    for name, t in items:
        if t.device != t0.device:
            raise ValueError(f"{first} and {name} must be on the same device, got {t0.device} and {t.device}")
        if t.dtype != t0.dtype:
            raise TypeError(f"{first} and {name} must have the same dtype, got {t0.dtype} and {t.dtype}")


def pair(a: object, b: object, name_a: str = "z1", name_b: str = "z2", min_rows: int = 1) -> None:
    """Check the two views of a batch: float tensors of one shape ``(n, k)``, ``n >= min_rows``,
    ``k >= 1``, on one device with one dtype. Finiteness is left to the caller (a loss checks its
    result with :func:`finite_output`, which names a non-finite input at a fraction of the cost)."""
    tensor(a, name_a, ndim=2, finite=False)
    tensor(b, name_b, ndim=2, finite=False)
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    compatible(**{name_a: a, name_b: b})
    if a.shape[0] < min_rows:
        raise ValueError(f"{name_a} and {name_b} need a batch of at least {min_rows} samples, got {a.shape[0]}")
    if a.shape[1] < 1:
        raise ValueError(f"{name_a} and {name_b} need at least one feature column, got shape {tuple(a.shape)}")


def rows(x: torch.Tensor, name: str, minimum: int = 1, columns: int = 1) -> torch.Tensor:
    """Check that a checked 2-D tensor has at least ``minimum`` rows and ``columns`` columns."""
    if x.shape[0] < minimum or x.shape[1] < columns:
        raise ValueError(f"{name} needs at least {minimum} row(s) and {columns} column(s), got shape {tuple(x.shape)}")
    return x


def finite_output(value: torch.Tensor, what: str, **inputs: torch.Tensor) -> torch.Tensor:
    """Check a computed result (a loss, a coding rate) is finite; otherwise name the input to blame.

    Hot functions check their result rather than every input: a NaN or infinite input makes the
    result non-finite, and reading one scalar costs a few microseconds where a pass over the inputs
    costs tens. When the result is not finite, the inputs are inspected in the order given and the
    first non-finite one is named in the ``ValueError``; if they are all finite the result
    overflowed, and the error says so.
    """
    ok = math.isfinite(value.item()) if value.numel() == 1 else bool(torch.isfinite(value.detach()).all())
    if not ok:
        blame_non_finite(**inputs)
        names = ", ".join(inputs) or "its inputs"
        raise ValueError(
            f"{what} is not finite although {names} are: the computation overflowed "
            f"(rescale {names} or raise the temperature/eps)"
        )
    return value


def blame_non_finite(**inputs: object) -> None:
    """Raise ``ValueError`` naming the first input (in the order given) with a NaN or infinite entry."""
    for name, x in inputs.items():
        if isinstance(x, torch.Tensor) and torch.is_floating_point(x) and not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or infinite entries")


def unit_rows(z: torch.Tensor) -> torch.Tensor:
    """Rows of ``z`` scaled to unit Euclidean length, exactly as for ``z`` times any positive number.

    :func:`torch.nn.functional.normalize` clamps norms below ``1e-12`` (so rows of size ``1e-30``
    collapse towards 0) and a float32 norm overflows above about ``1e19``. The common case (every
    row norm between ``1e-15`` and ``1e15``, decided from the norms themselves: one small reduction)
    divides by the norms as ``normalize`` does. Otherwise each row is first divided by its largest
    absolute entry (a per-row constant, detached: the normalised row does not depend on it, so
    gradients are unchanged), which brings every nonzero row to a norm between 1 and ``sqrt(k)``.
    Zero rows stay zero, as with ``normalize``.
    """
    norms = torch.linalg.vector_norm(z, dim=1, keepdim=True)
    if z.shape[0]:
        lo, hi = torch.aminmax(norms.detach())
        if 1e-15 < lo.item() and hi.item() < 1e15:
            return z / norms
    m = z.detach().abs().amax(dim=1, keepdim=True)
    m = torch.where(m > 0, m, torch.ones_like(m))
    return torch.nn.functional.normalize(z / m, dim=1)


def pow2_unit(z: torch.Tensor) -> torch.Tensor:
    """``z`` times the power of two that brings its largest absolute entry into ``[0.5, 1)``, or
    ``z`` itself when that entry already lies in ``[2**-20, 2**20]`` (one reduction, the common case).
    Exact: a cosine of the result equals the cosine of ``z``."""
    lo, hi = torch.aminmax(z.detach())
    top = max(-lo.item(), hi.item()) if z.numel() else 0.0
    if top == 0.0 or not math.isfinite(top) or 2.0**-20 <= top <= 2.0**20:
        return z
    return torch.ldexp(z, torch.tensor(-math.frexp(top)[1], device=z.device))


def pow2_rescale(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Multiply NumPy arrays by one power of two that brings their largest absolute entry to [0.5, 1).

    Multiplying by a power of two is exact (no rounding) over the whole float64 range, so a function
    that rescales its inputs this way gives the same result for ``x`` and ``x * 2**j`` and treats
    ``1e-30 * x`` like ``x``: absolute thresholds inside it become relative ones.
    """
    top = max((float(np.abs(a).max()) if a.size else 0.0) for a in arrays)
    if top == 0.0 or not math.isfinite(top):
        return arrays
    e = math.frexp(top)[1]
    return tuple(np.ldexp(a, -e) for a in arrays)


def array(x: object, name: str, ndim: int | Sequence[int] | None = None, finite: bool = True) -> np.ndarray:
    """Convert ``x`` (real array-like or tensor) to a float64 NumPy array and check it.

    Complex, string and object arrays are refused (``TypeError``): NumPy would otherwise drop the
    imaginary part or parse the strings.
    """
    if type(x) is np.ndarray and x.dtype == np.float64:  # the common case, without conversions
        a = x
    else:
        if isinstance(x, torch.Tensor):
            if x.is_meta:
                raise ValueError(f"{name} is on the meta device: it has a shape but no values")
            if x.is_complex():
                raise TypeError(f"{name} must be real, got the complex dtype {x.dtype}")
            x = x.detach().to("cpu", torch.float64 if x.is_floating_point() else x.dtype).numpy()
        if isinstance(x, (str, bytes)) or x is None:
            raise TypeError(f"{name} must be an array or tensor, got {type(x).__name__}")
        try:
            raw = np.asarray(x)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a rectangular numeric array, got {type(x).__name__}") from None
        if raw.dtype.kind == "c":
            raise TypeError(f"{name} must be real, got the complex dtype {raw.dtype}")
        if raw.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {raw.dtype}")
        a = raw.astype(np.float64, copy=False)
    if ndim is not None and a.ndim not in _want(ndim):
        want = " or ".join(str(d) for d in _want(ndim))
        raise ValueError(f"{name} must have {want} dimensions, got shape {a.shape}")
    if finite and not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite entries")
    return a


def labels(y: object, name: str, n: int | None = None) -> np.ndarray:
    """Check an integer label vector of length ``n``; return it as an int64 NumPy array.

    Float labels are accepted when they are whole numbers within the int64 range; anything else
    (fractions, NaN, values beyond int64, complex, strings) is refused.
    """
    if isinstance(y, torch.Tensor):
        if y.is_meta:
            raise ValueError(f"{name} is on the meta device: it has a shape but no values")
        y = y.detach().cpu()
        y = y.to(torch.float64).numpy() if y.is_floating_point() else y.numpy()
    if isinstance(y, (str, bytes)) or y is None:
        raise TypeError(f"{name} must be an array or tensor of integer labels, got {type(y).__name__}")
    try:
        a = np.asarray(y)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a one-dimensional array of integer labels") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise TypeError(f"{name} must hold integer labels, got non-integer values of dtype {a.dtype}")
        if a.size and float(np.abs(a).max()) >= 2.0**63:
            raise ValueError(f"{name} holds labels beyond the int64 range")
    elif a.dtype.kind == "u":
        if a.size and int(a.max()) > _INT64_MAX:
            raise ValueError(f"{name} holds labels beyond the int64 range")
    elif a.dtype.kind not in "ib":
        raise TypeError(f"{name} must hold integer labels, got dtype {a.dtype}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} must have length {n} (one label per sample), got {a.shape[0]}")
    return a.astype(np.int64)


def class_indices(*label_arrays: np.ndarray) -> tuple[list[np.ndarray], int]:
    """Map checked label arrays to ``0 .. C - 1`` (``C`` the number of distinct labels among them).

    Probes that build a one-hot or vote-count matrix use these indices, so their work grows with the
    number of classes present, not with the largest label (a label ``10**9`` or ``-1`` is a class
    like any other).
    """
    sizes = [len(a) for a in label_arrays]
    classes, inverse = np.unique(np.concatenate(label_arrays), return_inverse=True)
    out, start = [], 0
    for s in sizes:
        out.append(inverse[start : start + s].astype(np.int64))
        start += s
    return out, int(classes.size)


def same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Check two tensors have the same shape (e.g. the two views of a batch)."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def positive(x: object, name: str, allow_zero: bool = False) -> float:
    """Check a positive (or non-negative) finite real number."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    try:
        v = float(x)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got {x!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {x!r}")
    return v


def real(x: object, name: str) -> float:
    """Check a finite real number (any sign)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    try:
        v = float(x)
    except OverflowError:
        raise ValueError(f"{name} must be finite, got {x!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return v


def integer(x: object, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check an integer in ``[minimum, maximum]``."""
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(x).__name__}")
    v = int(x)
    if not -(2**63) <= v < 2**63:
        raise ValueError(f"{name} is beyond the int64 range, got {v}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {v}")
    return v


def boolean(x: object, name: str) -> bool:
    """Check a bool."""
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(x).__name__}")
    return bool(x)


def choice(x: object, name: str, options: Sequence[str]) -> str:
    """Check that ``x`` is one of ``options``."""
    if not isinstance(x, str):
        raise TypeError(f"{name} must be a string, one of {tuple(options)}, got {type(x).__name__}")
    if x not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {x!r}")
    return x


def probability(x: object, name: str) -> float:
    """Check a number in ``[0, 1]``."""
    v = positive(x, name, allow_zero=True)
    if v > 1:
        raise ValueError(f"{name} must lie in [0, 1], got {x!r}")
    return v


def float_dtype(dtype: object, name: str = "dtype") -> torch.dtype:
    """Check a floating torch dtype the package computes in (float32 or float64)."""
    if not isinstance(dtype, torch.dtype) or dtype not in FLOATS:
        raise TypeError(f"{name} must be a floating torch.dtype (torch.float32 or torch.float64), got {dtype!r}")
    return dtype


def work(count: float, limit: float, what: str) -> None:
    """Refuse a request whose work (steps, matrix entries) exceeds ``limit``: ``ValueError`` saying
    why (``what`` names the arguments at fault and what to change)."""
    if not count <= limit:
        raise ValueError(f"{what}: {count:.3g} exceeds the limit {limit:.3g}")


def symmetric(a: torch.Tensor, name: str = "a") -> torch.Tensor:
    """Check a square, non-empty, symmetric matrix (to a tolerance relative to its largest entry)."""
    tensor(a, name, ndim=2)
    if a.shape[0] != a.shape[1] or a.shape[0] < 1:
        raise ValueError(f"{name} must be square and non-empty, got shape {tuple(a.shape)}")
    # relative tolerance: a matrix of size 1e-30 is judged like the same matrix of size 1
    if not torch.allclose(a, a.T, atol=1e-8 * float(a.abs().max())):
        raise ValueError(f"{name} must be symmetric")
    return a


def times(t) -> tuple[torch.Tensor, bool]:
    """``t`` as a 1-D float64 tensor of non-negative times, and whether it was a scalar."""
    if isinstance(t, torch.Tensor):
        tensor(t, "t", ndim=(0, 1))
        tt, scalar = t.detach().to(torch.float64).cpu(), t.ndim == 0
    elif isinstance(t, (int, float)) and not isinstance(t, bool):
        tt, scalar = torch.tensor(real(t, "t"), dtype=torch.float64), True
    else:
        try:
            tt = torch.as_tensor([positive(v, "t", allow_zero=True) for v in t], dtype=torch.float64)
        except TypeError:
            raise TypeError(f"t must be a number, a sequence of numbers or a tensor, got {type(t).__name__}") from None
        scalar = False
    tt = tt.reshape(-1)
    if tt.numel() == 0 or not bool(torch.isfinite(tt).all()) or bool((tt < 0).any()):
        raise ValueError("t must hold at least one finite non-negative time")
    return tt, scalar


def instance(x: object, cls: type, name: str) -> object:
    """Check that ``x`` is an instance of the package's class ``cls`` (e.g. an ``sslbook.models.MLP``)."""
    if not isinstance(x, cls):
        raise TypeError(f"{name} must be an {cls.__module__}.{cls.__qualname__}, got {type(x).__name__}")
    return x


def model_input(x: torch.Tensor, d_in: int, weight: torch.Tensor, name: str = "x") -> None:
    """Check a batch ``(n, d_in)`` of finite inputs on the device and in the dtype of ``weight``."""
    if not (
        type(x) is torch.Tensor
        and x.ndim == 2
        and x.dtype is weight.dtype
        and x.device == weight.device
        and not x.is_meta
    ):  # the common case in one expression; otherwise the checks below name the problem
        tensor(x, name, ndim=2, finite=False)
        if x.device != weight.device:
            raise ValueError(f"{name} must be on the model's device {weight.device}, got {x.device}")
        if x.dtype != weight.dtype:
            raise TypeError(
                f"{name} must have the model's dtype {weight.dtype}, got {x.dtype} (convert x or the model)"
            )
    if x.shape[1] != d_in:
        raise ValueError(f"{name} must have {d_in} features (shape (n, {d_in})), got shape {tuple(x.shape)}")
    finite(x, name)
