r"""Gaussian mixtures with a shared covariance, the book's basic synthetic data, and their
Fisher (LDA) subspace.

A mixture :math:`\sum_j \pi_j \mathcal N(\mu_j, \Sigma)` is described by its means (``(k, d)``),
its shared covariance (``(d, d)``) and its weights (``(k,)``). Besides the sampler
:func:`gaussian_mixture`, this module computes the between-class scatter, the LDA directions and
the Fisher subspace :math:`\mathcal S_F = \operatorname{span}\{\Sigma^{-1}(\mu_j - \bar\mu)\}`
(the optimal subspace of Bansal, Kavis & Sanghavi, 2024, arXiv:2411.03517), and builds the
mixtures of that paper's experiments: means at a prescribed Mahalanobis separation and
"spiked" non-isotropic covariances.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .. import _checks
from ..geometry import orthonormalize, random_frame
from ._base import ClassMeans, Samples, covariance, means_matrix, mixing_weights, sym_power

__all__ = [
    "Mixture",
    "gaussian_mixture",
    "between_class_scatter",
    "lda_directions",
    "fisher_subspace",
    "spiked_covariance",
    "separated_means",
]


@dataclass(frozen=True)
class Mixture(Samples, ClassMeans):
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
    weights
        Mixing weights, shape ``(k,)`` (``None``: uniform).
    """

    x: torch.Tensor
    y: torch.Tensor
    means: torch.Tensor
    cov: torch.Tensor
    weights: torch.Tensor | None = None

    def fisher_subspace(self) -> torch.Tensor:
        """Orthonormal basis ``(d, m)`` (float64) of the mixture's Fisher subspace; see
        :func:`fisher_subspace`."""
        return fisher_subspace(self.means, self.cov, self.weights)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Mixture:
        """``n`` new samples of the same mixture (its stored means, covariance and weights, in
        its dtype), e.g. a test set; drawn on the CPU with ``generator``, moved to this sample's
        device."""
        weights = None if self.weights is None else self.weights.double().cpu()
        fresh = gaussian_mixture(
            n, self.means.double().cpu(), self.cov.double().cpu(), weights, generator, self.x.dtype
        )
        return replace(self, x=fresh.x.to(self.x.device), y=fresh.y.to(self.y.device))


def gaussian_mixture(
    n: int,
    means: torch.Tensor,
    cov: torch.Tensor | float = 1.0,
    weights: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> Mixture:
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
    dtype = _checks.float_dtype(dtype)  # an integer or bool dtype would truncate the samples
    means = means_matrix(means)
    k, d = means.shape
    cov64, chol = covariance(cov, d)
    w = mixing_weights(weights, k)
    y = torch.multinomial(w, n, replacement=True, generator=generator)
    eps = torch.randn(n, d, generator=generator, dtype=torch.float64)
    x = means[y] + eps @ chol.T
    return Mixture(x=x.to(dtype), y=y, means=means.to(dtype), cov=cov64.to(dtype), weights=w.to(dtype))


def between_class_scatter(means: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    r"""Between-class scatter :math:`M = \sum_j \pi_j (\mu_j - \bar\mu)(\mu_j - \bar\mu)^\top`,
    with :math:`\bar\mu = \sum_j \pi_j \mu_j`.

    Parameters
    ----------
    means
        Shape ``(k, d)``.
    weights
        Shape ``(k,)``, non-negative, summing to 1 (default uniform).

    Returns
    -------
    torch.Tensor
        Shape ``(d, d)``, float64, symmetric positive semi-definite of rank at most ``k - 1``.
    """
    mu = means_matrix(means)
    w = mixing_weights(weights, mu.shape[0])
    centered = mu - w @ mu
    return (centered.T * w) @ centered


def lda_directions(
    means: torch.Tensor, cov: torch.Tensor | float, weights: torch.Tensor | None = None, rtol: float = 1e-9
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Fisher's linear discriminant directions of a shared-covariance mixture.

    Solves the generalised eigenproblem :math:`M v = \rho\, \Sigma v` (between-class scatter
    ``M``, within-class covariance :math:`\Sigma`) and keeps the eigenpairs with
    :math:`\rho > 0`. The same vectors solve :math:`M v = \lambda (\Sigma + M) v` with
    :math:`\lambda = \rho / (1 + \rho)` (total instead of within-class scatter).

    Parameters
    ----------
    means
        Component means, shape ``(k, d)``.
    cov
        Shared covariance, ``(d, d)`` positive definite, or a positive number ``s`` for ``s I``.
    weights
        Mixing weights, shape ``(k,)`` (default uniform).
    rtol
        Eigenvalues below ``rtol`` times the largest count as zero.

    Returns
    -------
    rho : torch.Tensor
        The ``m`` positive generalised eigenvalues, descending, float64 (``m = rank M <= k - 1``).
    vectors : torch.Tensor
        Shape ``(d, m)``, float64, normalised so that :math:`V^\top \Sigma V = I`.

    Raises
    ------
    ValueError
        If all means coincide (``M = 0``: there is nothing to discriminate).
    """
    mu = means_matrix(means)
    cov64, _ = covariance(cov, mu.shape[1])
    rtol = _checks.positive(rtol, "rtol")
    m = between_class_scatter(mu, weights)
    w_half = sym_power(cov64, -0.5)
    k_mat = w_half @ m @ w_half
    rho, q = torch.linalg.eigh(0.5 * (k_mat + k_mat.T))
    order = torch.argsort(rho, descending=True)
    rho, q = rho[order], q[:, order]
    # Means that coincide up to rounding (e.g. equal float32 rows averaged in float64) leave a
    # scatter of the order of the rounding error: compare the centred means with the means' size.
    w = mixing_weights(weights, mu.shape[0])
    spread = float((mu - w @ mu).abs().max())
    if float(rho[0]) <= 0 or spread <= 64 * torch.finfo(torch.float64).eps * max(float(mu.abs().max()), 1e-300):
        raise ValueError("the means coincide: the between-class scatter is zero and there is no Fisher subspace")
    keep = rho > rtol * rho[0]
    return rho[keep], w_half @ q[:, keep]


def fisher_subspace(
    means: torch.Tensor, cov: torch.Tensor | float, weights: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Orthonormal basis of the Fisher (LDA) subspace
    :math:`\mathcal S_F = \operatorname{span}\{\Sigma^{-1}(\mu_j - \bar\mu)\} = \operatorname{range}(\Sigma^{-1} M)`.

    This is the subspace in which the rows of an optimal linear encoder of the mixture lie
    (Bansal, Kavis & Sanghavi, 2024): projecting onto it keeps the Bayes-optimal classifier.

    Parameters
    ----------
    means
        Component means, shape ``(k, d)``.
    cov
        Shared covariance, ``(d, d)`` positive definite, or a positive number for a multiple of ``I``.
    weights
        Mixing weights, shape ``(k,)`` (default uniform).

    Returns
    -------
    torch.Tensor
        Shape ``(d, m)``, float64, orthonormal columns; column ``j`` lies in the span of the top
        ``j + 1`` LDA directions (QR of :func:`lda_directions`' vectors).
    """
    _, vectors = lda_directions(means, cov, weights)
    return orthonormalize(vectors)


def spiked_covariance(
    d: int,
    n_spikes: int = 3,
    spike_var: float = 25.0,
    diag_low: float = 0.5,
    diag_high: float = 1.5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""A random non-isotropic covariance :math:`\Sigma = \operatorname{diag}(s) + v\, V V^\top`.

    ``s`` has i.i.d. entries uniform on ``[diag_low, diag_high]`` and ``V`` is a uniformly random
    ``(d, n_spikes)`` orthonormal frame: a few high-variance "noise" directions on top of a
    moderately anisotropic diagonal. ``spike_var = 0`` and ``diag_low = diag_high = 1`` give
    the identity (the isotropic control).

    Parameters
    ----------
    d
        Dimension (>= 1).
    n_spikes
        Number of spike directions, ``0 <= n_spikes <= d``.
    spike_var
        Extra variance :math:`v \ge 0` along each spike.
    diag_low, diag_high
        Range of the diagonal, ``0 < diag_low <= diag_high``.
    generator
        Source of randomness.

    Returns
    -------
    torch.Tensor
        Shape ``(d, d)``, float64, symmetric positive definite.
    """
    d = _checks.integer(d, "d", minimum=1)
    n_spikes = _checks.integer(n_spikes, "n_spikes", minimum=0, maximum=d)
    v = _checks.positive(spike_var, "spike_var", allow_zero=True)
    lo = _checks.positive(diag_low, "diag_low")
    hi = _checks.positive(diag_high, "diag_high")
    if hi < lo:
        raise ValueError(f"diag_high must be >= diag_low, got {diag_high!r} < {diag_low!r}")
    diag = lo + (hi - lo) * torch.rand(d, generator=generator, dtype=torch.float64)
    cov = torch.diag(diag)
    if n_spikes > 0 and v > 0:
        frame = random_frame(d, n_spikes, generator=generator)
        cov = cov + v * frame @ frame.T
    return 0.5 * (cov + cov.T)


def separated_means(
    k: int,
    d: int,
    cov: torch.Tensor | float = 1.0,
    separation: float = 3.0,
    weights: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Random component means at a prescribed average Mahalanobis norm.

    Draws ``k`` i.i.d. :math:`\mathcal N(0, I_d)` vectors, centres them (weighted mean zero) and
    rescales them so that :math:`\frac1k\sum_j \sqrt{\mu_j^\top \Sigma^{-1} \mu_j}` equals
    ``separation``. The directions are drawn without regard to :math:`\Sigma`, so for a
    non-isotropic :math:`\Sigma` the span of the means differs from the Fisher subspace.

    Parameters
    ----------
    k
        Number of components (>= 2).
    d
        Dimension (>= 1).
    cov
        Shared covariance, ``(d, d)`` positive definite, or a positive number.
    separation
        Average Mahalanobis norm of the centred means (> 0).
    weights
        Mixing weights used for centring (default uniform).
    generator
        Source of randomness.

    Returns
    -------
    torch.Tensor
        Shape ``(k, d)``, float64.
    """
    k = _checks.integer(k, "k", minimum=2)
    d = _checks.integer(d, "d", minimum=1)
    cov64, _ = covariance(cov, d)
    sep = _checks.positive(separation, "separation")
    w = mixing_weights(weights, k)
    raw = torch.randn(k, d, generator=generator, dtype=torch.float64)
    centered = raw - w @ raw
    maha = torch.sqrt(torch.einsum("kd,de,ke->k", centered, torch.linalg.inv(cov64), centered))
    return centered * (sep / float(maha.mean()))
