r"""Positive pairs drawn from mixture models, the augmentation model of Bansal, Kavis & Sanghavi
(2024, arXiv:2411.03517).

* :class:`SameComponentPairs`: an "augmentation" of a sample of a shared-covariance Gaussian
  mixture is another independent draw from the same component (v1/v2 of the paper); with
  ``redraw = p > 0`` the positive's component is redrawn from the mixing weights with
  probability ``p`` (a noisy, coupled augmentation in the spirit of v3).
* :class:`TwoModalityMixture`: two modalities that share a class ``c`` and each carry private
  clusters of their own (the "noise" that CLIP filters out), built by
  :func:`two_modality_mixture`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .. import _checks
from ..geometry import orthonormalize, random_frame
from ._base import ClassMeans, covariance, means_matrix, mixing_weights, sym_power
from .mixtures import Mixture, fisher_subspace, gaussian_mixture

__all__ = ["PositivePairs", "SameComponentPairs", "PairedSample", "TwoModalityMixture", "two_modality_mixture"]


@dataclass(frozen=True)
class PositivePairs:
    """A batch of positive pairs: row ``i`` of ``x1`` and ``x2`` is a pair.

    Attributes
    ----------
    x1, x2
        The two views, shape ``(n, d)``.
    y1, y2
        Their components, shape ``(n,)`` (equal unless the positive's component was redrawn).
    """

    x1: torch.Tensor
    x2: torch.Tensor
    y1: torch.Tensor
    y2: torch.Tensor

    @property
    def n(self) -> int:
        """Number of pairs."""
        return self.x1.shape[0]

    @property
    def d(self) -> int:
        """Dimension of a view (columns of ``x1``)."""
        return self.x1.shape[1]


@dataclass(frozen=True, eq=False, repr=False)
class SameComponentPairs(ClassMeans):
    r"""Positive pairs of :math:`\sum_j \pi_j \mathcal N(\mu_j, \Sigma)`: two independent draws from
    one component.

    Draw :math:`c \sim \pi`, then :math:`x_1, x_2 \overset{iid}{\sim} \mathcal N(\mu_c, \Sigma)`.
    With probability ``redraw`` the second view's component is replaced by a fresh
    :math:`c' \sim \pi` (it may coincide with ``c``), which shrinks the cross-moment
    :math:`\mathbb E[x_1 x_2^\top]` from :math:`\sum_j \pi_j \mu_j\mu_j^\top` towards
    :math:`\bar\mu\bar\mu^\top`.

    Parameters
    ----------
    means
        Component means, shape ``(k, d)``.
    cov
        Shared covariance, ``(d, d)`` positive definite, or a positive number for a multiple of ``I``.
    weights
        Mixing weights, shape ``(k,)`` (default uniform).
    redraw
        Probability in ``[0, 1]`` that the positive's component is redrawn.

    The sampler is frozen: after construction ``means``, ``cov`` (a ``(d, d)`` matrix) and
    ``weights`` hold the validated float64 values and cannot be reassigned.
    """

    means: torch.Tensor
    cov: torch.Tensor | float = 1.0
    weights: torch.Tensor | None = None
    redraw: float = 0.0
    _chol: torch.Tensor = field(init=False)
    _cache: dict = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        means = means_matrix(self.means)
        cov, chol = covariance(self.cov, means.shape[1])
        validated = {
            "means": means,
            "cov": cov,
            "_chol": chol,
            "weights": mixing_weights(self.weights, means.shape[0]),
            "redraw": _checks.probability(self.redraw, "redraw"),
        }
        for name, value in validated.items():
            object.__setattr__(self, name, value)

    @property
    def d(self) -> int:
        """Dimension."""
        return self.means.shape[1]

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> PositivePairs:
        """Draw ``n`` positive pairs (on the CPU with ``generator``, then moved to ``device``)."""
        n = _checks.integer(n, "n", minimum=1)
        dtype = _checks.float_dtype(dtype)
        means, chol_t = self._cast(dtype)
        y1 = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        y2 = y1
        if self.redraw > 0:
            fresh = torch.multinomial(self.weights, n, replacement=True, generator=generator)
            swap = torch.rand(n, generator=generator, dtype=torch.float64) < self.redraw
            y2 = torch.where(swap, fresh, y1)
        eps = torch.randn(2, n, self.d, generator=generator, dtype=dtype) @ chol_t
        x1 = (means[y1] + eps[0]).to(device=device)
        x2 = (means[y2] + eps[1]).to(device=device)
        return PositivePairs(x1=x1, x2=x2, y1=y1, y2=y2)

    def _cast(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Means and transposed Cholesky factor in ``dtype`` (cached: sampling is in the hot loop)."""
        if dtype not in self._cache:
            self._cache[dtype] = (self.means.to(dtype), self._chol.T.to(dtype).contiguous())
        return self._cache[dtype]

    __call__ = sample

    def mixture(self, n: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> Mixture:
        """``n`` plain (unpaired) samples of the mixture, e.g. a labelled test set."""
        return gaussian_mixture(n, self.means, self.cov, self.weights, generator=generator, dtype=dtype)

    def second_moments(self) -> dict[str, torch.Tensor]:
        r"""Population moments of a pair: ``"total"`` :math:`\mathbb E[x_1x_1^\top] = \Sigma + \sum_j\pi_j\mu_j\mu_j^\top`
        and ``"cross"`` :math:`\mathbb E[x_1x_2^\top] = (1-p)\sum_j\pi_j\mu_j\mu_j^\top + p\,\bar\mu\bar\mu^\top`
        (float64, ``(d, d)``)."""
        raw = (self.means.T * self.weights) @ self.means
        mbar = self.weights @ self.means
        cross = (1 - self.redraw) * raw + self.redraw * torch.outer(mbar, mbar)
        return {"total": self.cov + raw, "cross": cross}

    def fisher_subspace(self) -> torch.Tensor:
        """Orthonormal basis ``(d, m)`` of the mixture's Fisher subspace (see :func:`fisher_subspace`)."""
        return fisher_subspace(self.means, self.cov, self.weights)

    def __repr__(self) -> str:
        return f"SameComponentPairs(k={self.k}, d={self.d}, redraw={self.redraw})"


@dataclass(frozen=True)
class PairedSample:
    """A sample of a :class:`TwoModalityMixture`: row ``i`` of ``x`` and ``y`` is a matched pair.

    Attributes
    ----------
    x, y
        Modality 1 and 2, shapes ``(n, d1)`` and ``(n, d2)``.
    c
        Shared class, shape ``(n,)``.
    p, q
        Private clusters of modality 1 and 2, shape ``(n,)`` each.
    """

    x: torch.Tensor
    y: torch.Tensor
    c: torch.Tensor
    p: torch.Tensor
    q: torch.Tensor

    @property
    def n(self) -> int:
        """Number of pairs."""
        return self.x.shape[0]

    @property
    def d1(self) -> int:
        """Dimension of modality 1 (columns of ``x``)."""
        return self.x.shape[1]

    @property
    def d2(self) -> int:
        """Dimension of modality 2 (columns of ``y``)."""
        return self.y.shape[1]


@dataclass(frozen=True, eq=False, repr=False)
class TwoModalityMixture:
    r"""Two modalities with a shared class and private clusters (our reading of the paper's CLIP model).

    A pair is drawn as :math:`c \sim \pi`, :math:`p \sim \pi^{(1)}`, :math:`q \sim \pi^{(2)}`
    independently, and

    .. math:: x = a_c + b_p + \Sigma_1^{1/2}\varepsilon_1, \qquad y = e_c + f_q + \Sigma_2^{1/2}\varepsilon_2,

    with independent standard Gaussian :math:`\varepsilon`'s. The private clusters ``p``, ``q``
    are structure a modality has on its own, independent of everything in the other modality.

    Parameters
    ----------
    shared1, private1
        Means :math:`a_c` ``(k, d1)`` and :math:`b_p` ``(k1, d1)`` of modality 1.
    cov1
        Covariance :math:`\Sigma_1` ``(d1, d1)`` or a positive number.
    shared2, private2
        Means :math:`e_c` ``(k, d2)`` and :math:`f_q` ``(k2, d2)`` of modality 2.
    cov2
        Covariance :math:`\Sigma_2` ``(d2, d2)`` or a positive number.
    weights, private_weights1, private_weights2
        Weights of ``c``, ``p`` and ``q`` (default uniform).

    The model is frozen: after construction every field holds its validated float64 value
    (covariances as matrices) and cannot be reassigned. Sizes: ``k`` shared classes, dimensions
    ``d1``, ``d2`` and ``k1``, ``k2`` private clusters.
    """

    shared1: torch.Tensor
    private1: torch.Tensor
    cov1: torch.Tensor | float
    shared2: torch.Tensor
    private2: torch.Tensor
    cov2: torch.Tensor | float
    weights: torch.Tensor | None = None
    private_weights1: torch.Tensor | None = None
    private_weights2: torch.Tensor | None = None
    _cache: dict = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        shared = (means_matrix(self.shared1, "shared1"), means_matrix(self.shared2, "shared2"))
        private = (means_matrix(self.private1, "private1"), means_matrix(self.private2, "private2"))
        for j in (0, 1):
            if private[j].shape[1] != shared[j].shape[1]:
                raise ValueError(
                    f"private{j + 1} must have {shared[j].shape[1]} columns like shared{j + 1}, "
                    f"got shape {tuple(private[j].shape)}"
                )
        if shared[0].shape[0] != shared[1].shape[0]:
            raise ValueError(
                f"shared1 and shared2 must have one row per shared class, got {shared[0].shape[0]} "
                f"and {shared[1].shape[0]}"
            )
        c1, l1 = covariance(self.cov1, shared[0].shape[1], "cov1")
        c2, l2 = covariance(self.cov2, shared[1].shape[1], "cov2")
        validated = {
            "shared1": shared[0],
            "private1": private[0],
            "cov1": c1,
            "shared2": shared[1],
            "private2": private[1],
            "cov2": c2,
            "weights": mixing_weights(self.weights, shared[0].shape[0], "weights"),
            "private_weights1": mixing_weights(self.private_weights1, private[0].shape[0], "private_weights1"),
            "private_weights2": mixing_weights(self.private_weights2, private[1].shape[0], "private_weights2"),
        }
        for name, value in validated.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_chol", (l1, l2))

    @property
    def _shared(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.shared1, self.shared2

    @property
    def _private(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.private1, self.private2

    @property
    def _cov(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.cov1, self.cov2

    @property
    def _pweights(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.private_weights1, self.private_weights2

    @property
    def k(self) -> int:
        """Number of shared classes."""
        return self.shared1.shape[0]

    @property
    def d1(self) -> int:
        """Dimension of modality 1."""
        return self.shared1.shape[1]

    @property
    def d2(self) -> int:
        """Dimension of modality 2."""
        return self.shared2.shape[1]

    @property
    def k1(self) -> int:
        """Number of private clusters of modality 1."""
        return self.private1.shape[0]

    @property
    def k2(self) -> int:
        """Number of private clusters of modality 2."""
        return self.private2.shape[0]

    def _modality(self, modality: int) -> int:
        m = _checks.integer(modality, "modality", minimum=1, maximum=2)
        return m - 1

    def cov(self, modality: int) -> torch.Tensor:
        """Covariance of the Gaussian noise of ``modality`` (1 or 2), float64."""
        return self._cov[self._modality(modality)]

    def means(self, modality: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(shared, private)`` means of ``modality`` (1 or 2), float64."""
        j = self._modality(modality)
        return self._shared[j], self._private[j]

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> PairedSample:
        """Draw ``n`` matched pairs (on the CPU with ``generator``, then moved to ``device``)."""
        n = _checks.integer(n, "n", minimum=1)
        dtype = _checks.float_dtype(dtype)
        if dtype not in self._cache:
            self._cache[dtype] = tuple(
                (self._shared[j].to(dtype), self._private[j].to(dtype), self._chol[j].T.to(dtype).contiguous())
                for j in (0, 1)
            )
        (a, b, l1), (e, f, l2) = self._cache[dtype]
        c = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        p = torch.multinomial(self._pweights[0], n, replacement=True, generator=generator)
        q = torch.multinomial(self._pweights[1], n, replacement=True, generator=generator)
        d1, d2 = self.d1, self.d2
        x = a[c] + b[p] + torch.randn(n, d1, generator=generator, dtype=dtype) @ l1
        y = e[c] + f[q] + torch.randn(n, d2, generator=generator, dtype=dtype) @ l2
        return PairedSample(x=x.to(device=device), y=y.to(device=device), c=c, p=p, q=q)

    __call__ = sample

    def joint_labels(self, sample: PairedSample, modality: int = 1) -> torch.Tensor:
        """Component of each sample within ``modality``'s own mixture: ``c * k1 + p`` (modality 1) or
        ``c * k2 + q`` (modality 2)."""
        if not isinstance(sample, PairedSample):
            raise TypeError(f"sample must be a PairedSample, got {type(sample).__name__}")
        j = self._modality(modality)
        priv = sample.p if j == 0 else sample.q
        return sample.c * (self.k1, self.k2)[j] + priv

    def component_means(self, modality: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Means ``(k * k1, d1)`` or ``(k * k2, d2)`` and weights of ``modality``'s own mixture over the pairs
        (shared class, private cluster), ordered as :meth:`joint_labels`."""
        j = self._modality(modality)
        a, b = self._shared[j], self._private[j]
        means = (a[:, None, :] + b[None, :, :]).reshape(-1, a.shape[1])
        weights = (self.weights[:, None] * self._pweights[j][None, :]).reshape(-1)
        return means, weights

    def shared_subspace(self, modality: int = 1) -> torch.Tensor:
        r"""Orthonormal basis of :math:`\mathcal S_c = \operatorname{span}\{\Sigma^{-1}(a_c - \bar a)\}`,
        the part of the Fisher subspace that is about the shared class."""
        j = self._modality(modality)
        return fisher_subspace(self._shared[j], self._cov[j], self.weights)

    def private_subspace(self, modality: int = 1) -> torch.Tensor:
        r"""Orthonormal basis of :math:`\mathcal S_p = \operatorname{span}\{\Sigma^{-1}(b_p - \bar b)\}`
        (raises ``ValueError`` if the modality has a single private cluster)."""
        j = self._modality(modality)
        if (self.k1, self.k2)[j] < 2:
            raise ValueError(f"modality {modality} has a single private cluster: its private subspace is {{0}}")
        return fisher_subspace(self._private[j], self._cov[j], self._pweights[j])

    def fisher_subspace(self, modality: int = 1) -> torch.Tensor:
        """Orthonormal basis of the Fisher subspace of ``modality``'s own mixture over
        (shared class, private cluster) components."""
        means, weights = self.component_means(modality)
        return fisher_subspace(means, self._cov[self._modality(modality)], weights)

    def variance_split(self, weight, modality: int = 1) -> dict[str, float]:
        r"""Where the within-component variance of the features :math:`W x` goes.

        With :math:`G = W\Sigma^{1/2}` (the encoder in whitened coordinates), :math:`\|G\|_F^2` is
        the total within-component variance of the features. It is split orthogonally into the
        part in the whitened shared subspace :math:`U_c = \Sigma^{1/2}\mathcal S_c`, the part in
        the whitened private subspace (orthogonalised against :math:`U_c`) and the rest.

        Parameters
        ----------
        weight
            Encoder weight ``(r, d)`` of the given modality (tensor or array).
        modality
            1 or 2.

        Returns
        -------
        dict
            ``"shared"``, ``"private"`` and ``"rest"``: fractions summing to 1.
        """
        j = self._modality(modality)
        w = _checks.array(weight, "weight", ndim=2)
        d = (self.d1, self.d2)[j]
        if w.shape[1] != d:
            raise ValueError(f"weight must have {d} columns for modality {modality}, got shape {w.shape}")
        half = sym_power(self._cov[j], 0.5)
        g = torch.as_tensor(w, dtype=torch.float64) @ half
        total = float((g * g).sum())
        if total <= 0:
            raise ValueError("weight is zero: its features have no variance to split")
        u_c = orthonormalize(half @ self.shared_subspace(modality))
        proj_c = g @ u_c
        shared = float((proj_c * proj_c).sum()) / total
        if (self.k1, self.k2)[j] >= 2:
            u_both = orthonormalize(torch.cat([u_c, half @ self.private_subspace(modality)], dim=1))
            proj_both = g @ u_both
            both = float((proj_both * proj_both).sum()) / total
        else:
            both = shared
        return {"shared": shared, "private": both - shared, "rest": 1.0 - both}

    def __repr__(self) -> str:
        return f"TwoModalityMixture(k={self.k}, d1={self.d1}, d2={self.d2}, k1={self.k1}, k2={self.k2})"


def _simplex(k: int) -> torch.Tensor:
    """``k`` vertices of a regular simplex centred at 0 with unit norm, in ``k - 1`` coordinates."""
    centered = torch.eye(k, dtype=torch.float64) - 1.0 / k
    basis = torch.linalg.svd(centered)[2][: k - 1]  # rows span the centred subspace
    v = centered @ basis.T
    return v / v.norm(dim=1, keepdim=True)


def two_modality_mixture(
    k: int = 4,
    d1: int = 20,
    d2: int = 16,
    private1: int = 3,
    private2: int = 2,
    cov1: torch.Tensor | float = 1.0,
    cov2: torch.Tensor | float = 1.0,
    radius: float = 3.0,
    private_radius: float | None = None,
    generator: torch.Generator | None = None,
) -> TwoModalityMixture:
    r"""A :class:`TwoModalityMixture` whose shared and private structure are orthogonal after whitening.

    In each modality, the whitened shared means :math:`\Sigma^{-1/2}a_c` are the vertices of a
    regular simplex of radius ``radius`` in a random ``(k - 1)``-dimensional subspace, and the
    whitened private means are a regular simplex of radius ``private_radius`` in a random
    subspace orthogonal to it. The Fisher subspace of each modality is then the direct sum
    :math:`\mathcal S_c \oplus \mathcal S_p` of its shared and private parts.

    Parameters
    ----------
    k
        Number of shared classes (>= 2).
    d1, d2
        Dimensions; need ``d1 >= k + private1 - 2`` and ``d2 >= k + private2 - 2``.
    private1, private2
        Numbers of private clusters (>= 1; 1 means no private structure).
    cov1, cov2
        Covariances ``(d, d)`` or positive numbers.
    radius
        Whitened norm of the shared means (> 0).
    private_radius
        Whitened norm of the private means (default ``radius``).
    generator
        Source of randomness.
    """
    k = _checks.integer(k, "k", minimum=2)
    d1 = _checks.integer(d1, "d1", minimum=1)
    d2 = _checks.integer(d2, "d2", minimum=1)
    k1 = _checks.integer(private1, "private1", minimum=1)
    k2 = _checks.integer(private2, "private2", minimum=1)
    r = _checks.positive(radius, "radius")
    rp = r if private_radius is None else _checks.positive(private_radius, "private_radius")
    for name, d, kp in (("d1", d1, k1), ("d2", d2, k2)):
        if d < (k - 1) + (kp - 1):
            raise ValueError(
                f"{name} must be >= {(k - 1) + (kp - 1)} to hold the shared and private simplices, got {d}"
            )
    out = []
    for name, d, kp, cov in (("cov1", d1, k1, cov1), ("cov2", d2, k2, cov2)):
        c64, _ = covariance(cov, d, name)
        half = sym_power(c64, 0.5)
        frame = random_frame(d, (k - 1) + (kp - 1), generator=generator)
        shared = r * _simplex(k) @ frame[:, : k - 1].T
        if kp >= 2:
            private = rp * _simplex(kp) @ frame[:, k - 1 :].T
        else:
            private = torch.zeros(1, d, dtype=torch.float64)
        out.append((shared @ half, private @ half, c64))
    (a, b, s1), (e, f, s2) = out
    return TwoModalityMixture(a, b, s1, e, f, s2)
