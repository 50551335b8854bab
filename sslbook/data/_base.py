"""Shape properties and validators shared by the data-set containers of :mod:`sslbook.data`."""

from __future__ import annotations

import torch

from .. import _checks


class Samples:
    """Mixin for a container whose samples are the rows of ``x``, shape ``(n, d)``."""

    x: torch.Tensor

    @property
    def n(self) -> int:
        """Number of samples (rows of ``x``)."""
        return self.x.shape[0]

    @property
    def d(self) -> int:
        """Dimension of a sample (columns of ``x``)."""
        return self.x.shape[1]


class ClassMeans:
    """Mixin for a container with one mean per class (or mixture component), ``means`` of shape ``(k, d)``."""

    means: torch.Tensor

    @property
    def k(self) -> int:
        """Number of classes (mixture components): rows of ``means``."""
        return self.means.shape[0]


def covariance(cov: torch.Tensor | float, d: int, name: str = "cov") -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a shared covariance (matrix or positive number); return it and its Cholesky factor (float64)."""
    if isinstance(cov, torch.Tensor):
        _checks.tensor(cov, name, ndim=2)
        if cov.shape != (d, d):
            raise ValueError(f"{name} must have shape ({d}, {d}) to match means, got {tuple(cov.shape)}")
        cov64 = cov.detach().to("cpu", torch.float64)
        if not torch.allclose(cov64, cov64.T, atol=1e-10):
            raise ValueError(f"{name} must be symmetric")
        try:
            chol = torch.linalg.cholesky(cov64)
        except RuntimeError:
            raise ValueError(f"{name} must be positive definite") from None
        return cov64, chol
    s = _checks.positive(cov, name)
    return s * torch.eye(d, dtype=torch.float64), (s**0.5) * torch.eye(d, dtype=torch.float64)


def mixing_weights(weights: torch.Tensor | None, k: int, name: str = "weights") -> torch.Tensor:
    """Validate mixing weights of length ``k`` (``None``: uniform); return them as float64."""
    if weights is None:
        return torch.full((k,), 1.0 / k, dtype=torch.float64)
    _checks.tensor(weights, name, ndim=1)
    if weights.shape[0] != k:
        raise ValueError(f"{name} must have length {k} (one per mean), got {weights.shape[0]}")
    w = weights.detach().to("cpu", torch.float64)
    if bool((w < 0).any()) or abs(float(w.sum()) - 1.0) > 1e-6:
        raise ValueError(f"{name} must be non-negative and sum to 1")
    return w


def means_matrix(means: torch.Tensor, name: str = "means") -> torch.Tensor:
    """Validate a ``(k, d)`` matrix of means (k, d >= 1); return it as float64 on the CPU."""
    _checks.tensor(means, name, ndim=2)
    if means.shape[0] < 1 or means.shape[1] < 1:
        raise ValueError(f"{name} must have shape (k, d) with k, d >= 1, got {tuple(means.shape)}")
    return means.detach().to("cpu", torch.float64)


def sym_power(a: torch.Tensor, power: float) -> torch.Tensor:
    """``a ** power`` for a symmetric positive-definite matrix ``a`` (float64), via ``eigh``."""
    vals, vecs = torch.linalg.eigh(a)
    return (vecs * vals.clamp_min(torch.finfo(a.dtype).tiny) ** power) @ vecs.T
