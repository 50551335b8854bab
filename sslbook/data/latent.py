r"""A linear latent model with a planted semantic subspace, and its anchors, positives and negatives.

Each input is :math:`x = U_s s + U_\nu \nu + \mu + \varepsilon` with a *semantic* latent
:math:`s \sim \mathcal N(0, \mathrm{diag}(\sigma_s^2))` living in the planted subspace
:math:`\mathrm{span}\,U_s`, a *nuisance* latent :math:`\nu \sim \mathcal N(0, \sigma_\nu^2 I)` in an
orthogonal subspace :math:`\mathrm{span}\,U_\nu`, an optional constant mean :math:`\mu` and small
isotropic noise :math:`\varepsilon`. A positive keeps the semantic latent (up to a small jitter) and
redraws the nuisance and the noise; a negative is another anchor.

With nuisance variances larger than the semantic ones, principal component analysis finds the
nuisance subspace, while any loss that rewards agreement between an anchor and its positive finds
:math:`\mathrm{span}\,U_s`. This is the setting of the learning-dynamics chapter
(reconstruction of the experiments of Esser, Mukherjee & Ghoshdastidar 2023).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .. import _checks
from ._base import Samples

__all__ = ["PlantedViews", "planted_subspace_views"]


@dataclass(frozen=True)
class PlantedViews(Samples):
    """Anchors, positives and negatives drawn from the planted-subspace model, with its ground truth.

    Attributes
    ----------
    x
        Anchors, shape ``(n, d)``.
    x_pos
        Positives (one augmentation of each anchor), shape ``(n, d)``.
    x_neg
        Negatives (``x_neg[i]`` is another anchor ``x[j]``, ``j != i``), shape ``(n, d)``.
    semantic_basis
        Orthonormal basis :math:`U_s` of the planted semantic subspace, shape ``(d, r)``.
    nuisance_basis
        Orthonormal basis :math:`U_\\nu` of the nuisance subspace, shape ``(d, m)``
        (``m = 0`` allowed).
    semantic_std
        Standard deviations :math:`\\sigma_s` of the semantic latents, shape ``(r,)``.
    mean
        The constant mean :math:`\\mu` added to every sample, shape ``(d,)``.
    """

    x: torch.Tensor
    x_pos: torch.Tensor
    x_neg: torch.Tensor
    semantic_basis: torch.Tensor
    nuisance_basis: torch.Tensor
    semantic_std: torch.Tensor
    mean: torch.Tensor

    @property
    def stacked(self) -> torch.Tensor:
        """Anchors, positives and negatives stacked row-wise, shape ``(3n, d)`` (the sample-space
        order of :func:`sslbook.dynamics.coupling_matrix`)."""
        return torch.cat([self.x, self.x_pos, self.x_neg], dim=0)


def _derangement(n: int, generator: torch.Generator | None) -> torch.Tensor:
    """A random permutation without fixed points (a random cyclic order, shifted by one)."""
    order = torch.randperm(n, generator=generator)
    perm = torch.empty(n, dtype=torch.long)
    perm[order] = order.roll(-1)
    return perm


def planted_subspace_views(
    n: int,
    d: int = 20,
    semantic_std: Sequence[float] = (2.0, 1.6, 1.3),
    n_nuisance: int = 5,
    nuisance_std: float = 2.5,
    noise_std: float = 0.1,
    jitter: float = 0.1,
    mean_shift: float = 0.0,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> PlantedViews:
    r"""Draw ``n`` anchors with one positive and one negative each from the planted-subspace model.

    Anchor :math:`x_i = U_s s_i + U_\nu \nu_i + \mu + \varepsilon_i`; positive
    :math:`x_i^+ = U_s(s_i + \texttt{jitter}\cdot\xi_i) + U_\nu \nu_i' + \mu + \varepsilon_i'`
    (fresh nuisance and noise, :math:`\xi_i \sim \mathcal N(0, \mathrm{diag}(\sigma_s^2))`);
    negative :math:`x_i^- = x_{\pi(i)}` for a random permutation :math:`\pi` without fixed points.
    The bases are a uniformly random orthonormal frame split into :math:`U_s` and :math:`U_\nu`, and
    :math:`\mu` is ``mean_shift`` times a unit vector of the same frame orthogonal to both (a random
    unit vector when ``r + n_nuisance == d``).

    For this model :math:`\mathbb E[x x^{+\top}] = U_s \Sigma_s^2 U_s^\top + \mu\mu^\top` and
    :math:`\mathbb E[x x^{-\top}] = \mu\mu^\top`, so the population contrastive matrix is
    :math:`U_s\Sigma_s^2U_s^\top` whatever the nuisance (Esser, Mukherjee & Ghoshdastidar 2023,
    setting reconstructed in the chapter).

    Parameters
    ----------
    n
        Number of anchors (>= 2, so that negatives exist).
    d
        Ambient dimension (>= ``r + n_nuisance``).
    semantic_std
        Standard deviations of the ``r`` semantic latents (positive numbers, ``r >= 1``).
    n_nuisance
        Number of nuisance directions (>= 0).
    nuisance_std
        Standard deviation of each nuisance latent (>= 0).
    noise_std
        Standard deviation of the isotropic noise (>= 0).
    jitter
        Relative size of the semantic jitter of a positive (>= 0).
    mean_shift
        Norm of the constant mean added to every sample (>= 0).
    generator
        Source of randomness.
    dtype
        Floating dtype of the returned tensors (default float64).

    Returns
    -------
    PlantedViews
    """
    n = _checks.integer(n, "n", minimum=2)
    d = _checks.integer(d, "d", minimum=1)
    if isinstance(semantic_std, torch.Tensor):
        sig = semantic_std.detach().to(torch.float64).flatten()
    else:
        if isinstance(semantic_std, (str, bytes)) or not isinstance(semantic_std, Sequence):
            raise TypeError(f"semantic_std must be a sequence of numbers, got {type(semantic_std).__name__}")
        sig = torch.tensor([_checks.positive(s, "semantic_std") for s in semantic_std], dtype=torch.float64)
    if sig.numel() == 0:
        raise ValueError("semantic_std must hold at least one standard deviation")
    if not bool(torch.isfinite(sig).all()) or bool((sig <= 0).any()):
        raise ValueError("semantic_std must hold finite positive numbers")
    r = sig.numel()
    m = _checks.integer(n_nuisance, "n_nuisance", minimum=0)
    if r + m > d:
        raise ValueError(f"d must be at least len(semantic_std) + n_nuisance = {r + m}, got {d}")
    nu_std = _checks.positive(nuisance_std, "nuisance_std", allow_zero=True)
    eps_std = _checks.positive(noise_std, "noise_std", allow_zero=True)
    jit = _checks.positive(jitter, "jitter", allow_zero=True)
    shift = _checks.positive(mean_shift, "mean_shift", allow_zero=True)
    dtype = _checks.float_dtype(dtype)

    f64 = torch.float64
    # One random orthonormal frame: semantic directions, nuisance directions and (when there is
    # room) a direction for the mean that carries no variance of its own.
    extra = 1 if r + m < d else 0
    frame, _ = torch.linalg.qr(torch.randn(d, r + m + extra, generator=generator, dtype=f64))
    u_s, u_nu = frame[:, :r], frame[:, r : r + m]
    direction = frame[:, -1] if extra else torch.randn(d, generator=generator, dtype=f64)
    mu = shift * direction / direction.norm()

    s = torch.randn(n, r, generator=generator, dtype=f64) * sig
    s_pos = s + jit * torch.randn(n, r, generator=generator, dtype=f64) * sig
    nu, nu_pos = (nu_std * torch.randn(2, n, m, generator=generator, dtype=f64)).unbind(0)
    eps, eps_pos = (eps_std * torch.randn(2, n, d, generator=generator, dtype=f64)).unbind(0)
    x = s @ u_s.T + nu @ u_nu.T + mu + eps
    x_pos = s_pos @ u_s.T + nu_pos @ u_nu.T + mu + eps_pos
    x_neg = x[_derangement(n, generator)]
    return PlantedViews(
        x=x.to(dtype),
        x_pos=x_pos.to(dtype),
        x_neg=x_neg.to(dtype),
        semantic_basis=u_s.to(dtype),
        nuisance_basis=u_nu.to(dtype),
        semantic_std=sig.to(dtype),
        mean=mu.to(dtype),
    )
