"""Gaussian mixtures with a shared covariance, the book's basic synthetic data."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _checks

__all__ = ["Mixture", "gaussian_mixture"]


@dataclass(frozen=True)
class Mixture:
    """A sample of a Gaussian mixture and its ground truth.

    Attributes
    ----------
    x
        Samples, shape ``(n, d)``.
    y
        Component of each sample, shape ``(n,)`` (int64).
    means
        Component means, shape ``(k, d)``.
    cov
        Shared covariance, shape ``(d, d)``.
    """

    x: torch.Tensor
    y: torch.Tensor
    means: torch.Tensor
    cov: torch.Tensor

    @property
    def n(self) -> int:
        """Number of samples."""
        return self.x.shape[0]

    @property
    def d(self) -> int:
        """Ambient dimension."""
        return self.x.shape[1]

    @property
    def k(self) -> int:
        """Number of components."""
        return self.means.shape[0]


def gaussian_mixture(n: int, means: torch.Tensor, cov: torch.Tensor | float = 1.0,
                     weights: torch.Tensor | None = None, generator: torch.Generator | None = None,
                     dtype: torch.dtype = torch.float32) -> Mixture:
    r"""Draw ``n`` samples from :math:`\sum_j \pi_j\, \mathcal N(\mu_j, \Sigma)`.

    Parameters
    ----------
    n
        Number of samples (>= 1).
    means
        Component means :math:`\mu_j`, shape ``(k, d)``.
    cov
        Shared covariance :math:`\Sigma`: a ``(d, d)`` symmetric positive-definite matrix, or a
        positive number ``s`` for :math:`s I`.
    weights
        Mixing weights :math:`\pi`, shape ``(k,)``, non-negative, summing to 1 (default uniform).
    generator
        Source of randomness.
    dtype
        Floating dtype of the returned tensors.
    """
    n = _checks.integer(n, "n", minimum=1)
    _checks.tensor(means, "means", ndim=2)
    k, d = means.shape
    means = means.to(torch.float64)
    if isinstance(cov, torch.Tensor):
        _checks.tensor(cov, "cov", ndim=2)
        if cov.shape != (d, d):
            raise ValueError(f"cov must have shape ({d}, {d}) to match means, got {tuple(cov.shape)}")
        cov64 = cov.to(torch.float64)
        if not torch.allclose(cov64, cov64.T, atol=1e-10):
            raise ValueError("cov must be symmetric")
        try:
            chol = torch.linalg.cholesky(cov64)
        except RuntimeError:
            raise ValueError("cov must be positive definite") from None
    else:
        s = _checks.positive(cov, "cov")
        cov64 = s * torch.eye(d, dtype=torch.float64)
        chol = (s**0.5) * torch.eye(d, dtype=torch.float64)
    if weights is None:
        w = torch.full((k,), 1.0 / k, dtype=torch.float64)
    else:
        _checks.tensor(weights, "weights", ndim=1)
        if weights.shape[0] != k:
            raise ValueError(f"weights must have length {k} (one per mean), got {weights.shape[0]}")
        w = weights.to(torch.float64)
        if bool((w < 0).any()) or abs(float(w.sum()) - 1.0) > 1e-6:
            raise ValueError("weights must be non-negative and sum to 1")
    y = torch.multinomial(w, n, replacement=True, generator=generator)
    eps = torch.randn(n, d, generator=generator, dtype=torch.float64)
    x = means[y] + eps @ chol.T
    return Mixture(x=x.to(dtype), y=y, means=means.to(dtype), cov=cov64.to(dtype))
