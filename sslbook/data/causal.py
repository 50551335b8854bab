"""A synthetic causal data model in which self-supervised learning can latch onto instance detail.

The model is the book's reconstruction of the causal picture of Qiang et al. (2024), "On the
Generalization and Causal Explanation in Self-Supervised Learning" (IJCV). Three latent parts
generate an observation:

* the **class signal** :math:`S = \\mu_Y + \\sigma_S\\,\\epsilon`, caused by the label :math:`Y`;
* the **per-instance detail** :math:`N = \\sigma_N\\,\\xi`, drawn once per instance and left
  untouched by every augmentation (a background, a sensor fingerprint);
* the **style** :math:`U = \\sigma_U\\,\\zeta`, which every augmentation draws afresh.

The observation mixes them with a fixed orthogonal matrix, :math:`x = Q\\,[S; N; U]`. A view of
:math:`x` jitters the signal (:math:`S \\mapsto S + \\sigma_A \\xi'`), keeps the detail and redraws
the style. Augmentation invariance therefore rewards the detail at least as much as the signal,
although only the signal says anything about :math:`Y`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .. import _checks
from ._base import ClassMeans, Samples

__all__ = ["CausalView", "CausalData", "causal_data"]


@dataclass(frozen=True)
class CausalView:
    """The augmentation of the causal model: jitter the signal, keep the detail, redraw the style.

    A callable ``(x, generator=None) -> x'`` like the augmentations of ``sslbook.data`` (:class:`~sslbook.data.TwoViews` and its kin).
    Because the mixing matrix :math:`Q` is orthogonal, the latent parts of a batch are read off as
    ``x @ mixing``; the view changes them and mixes them back.

    Attributes
    ----------
    mixing
        Orthogonal mixing matrix :math:`Q`, shape ``(d, d)`` with ``d = d_signal + d_detail +
        d_style``; an observation is ``x = [S, N, U] @ mixing.T`` (one sample per row).
    d_signal, d_detail, d_style
        Sizes of the three latent parts, in this order.
    signal_jitter
        Standard deviation :math:`\\sigma_A \\ge 0` of the noise added to the signal.
    style_scale
        Standard deviation :math:`\\sigma_U \\ge 0` of the freshly drawn style.
    """

    mixing: torch.Tensor
    d_signal: int
    d_detail: int
    d_style: int
    signal_jitter: float = 0.5
    style_scale: float = 2.0

    def __post_init__(self) -> None:
        _checks.tensor(self.mixing, "mixing", ndim=2)
        for name in ("d_signal", "d_detail", "d_style"):
            _checks.integer(getattr(self, name), name, minimum=0)
        d = self.d_signal + self.d_detail + self.d_style
        if d < 1:
            raise ValueError("d_signal + d_detail + d_style must be >= 1")
        if tuple(self.mixing.shape) != (d, d):
            raise ValueError(
                f"mixing must have shape ({d}, {d}) for the given part sizes, got {tuple(self.mixing.shape)}"
            )
        # The latents are read off as x @ mixing, which inverts the mixing only for an orthogonal matrix.
        q = self.mixing.detach().to("cpu", torch.float64)
        tol = 100 * d * torch.finfo(self.mixing.dtype).eps
        if float((q.T @ q - torch.eye(d, dtype=torch.float64)).abs().max()) > tol:
            raise ValueError(f"mixing must be orthogonal (mixing.T @ mixing = I up to {tol:.1e})")
        _checks.positive(self.signal_jitter, "signal_jitter", allow_zero=True)
        _checks.positive(self.style_scale, "style_scale", allow_zero=True)

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.d_signal + self.d_detail + self.d_style

    def latents(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Split a batch ``x`` ``(n, d)`` into its signal, detail and style parts."""
        _checks.tensor(x, "x", ndim=2)
        if x.shape[1] != self.d:
            raise ValueError(f"x must have {self.d} features, got shape {tuple(x.shape)}")
        lat = x @ self.mixing.to(device=x.device, dtype=x.dtype)
        a, b = self.d_signal, self.d_signal + self.d_detail
        return lat[:, :a], lat[:, a:b], lat[:, b:]

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One random view of every row of ``x`` (shape ``(n, d)``)."""
        s, nd, _ = self.latents(x)
        n = x.shape[0]
        jitter = torch.randn(n, self.d_signal, generator=generator, dtype=x.dtype).to(x.device)
        style = torch.randn(n, self.d_style, generator=generator, dtype=x.dtype).to(x.device)
        lat = torch.cat([s + self.signal_jitter * jitter, nd, self.style_scale * style], dim=1)
        return lat @ self.mixing.to(device=x.device, dtype=x.dtype).T

    def to(self, device: torch.device | str) -> CausalView:
        """The same augmentation with its mixing matrix on ``device``."""
        return replace(self, mixing=self.mixing.to(device))


@dataclass(frozen=True)
class CausalData(Samples, ClassMeans):
    """A sample of the causal model and its ground truth.

    Attributes
    ----------
    x
        Observations, shape ``(n, d)``.
    y
        Labels, shape ``(n,)`` (int64), balanced over the classes.
    signal, detail, style
        The latent parts :math:`S` ``(n, d_signal)``, :math:`N` ``(n, d_detail)`` and :math:`U`
        ``(n, d_style)``; ``x = cat([signal, detail, style], 1) @ mixing.T``.
    means
        Class means of the signal, shape ``(k, d_signal)``.
    signal_noise, detail_scale
        :math:`\\sigma_S` and :math:`\\sigma_N`.
    view
        The augmentation (:class:`CausalView`), which also holds the mixing matrix and
        :math:`\\sigma_A`, :math:`\\sigma_U`.
    """

    x: torch.Tensor
    y: torch.Tensor
    signal: torch.Tensor
    detail: torch.Tensor
    style: torch.Tensor
    means: torch.Tensor
    signal_noise: float
    detail_scale: float
    view: CausalView

    @property
    def mixing(self) -> torch.Tensor:
        """The orthogonal mixing matrix :math:`Q`, shape ``(d, d)``."""
        return self.view.mixing

    def sample(self, n: int, generator: torch.Generator | None = None) -> CausalData:
        """``n`` new instances of the same model (same class means, mixing and view), e.g. a test set.

        The draws are made on the CPU with ``generator`` and moved to this sample's device.
        """
        cpu = self.to("cpu")
        return _draw(n, cpu.means, self.signal_noise, self.detail_scale, cpu.view, generator).to(self.x.device)

    def to(self, device: torch.device | str) -> CausalData:
        """A copy with every tensor (and the view's mixing matrix) on ``device``."""
        return replace(
            self,
            x=self.x.to(device),
            y=self.y.to(device),
            signal=self.signal.to(device),
            detail=self.detail.to(device),
            style=self.style.to(device),
            means=self.means.to(device),
            view=self.view.to(device),
        )


def _balanced_labels(n: int, k: int, generator: torch.Generator | None) -> torch.Tensor:
    y = torch.arange(n) % k
    return y[torch.randperm(n, generator=generator)]


def _draw(
    n: int,
    means: torch.Tensor,
    signal_noise: float,
    detail_scale: float,
    view: CausalView,
    generator: torch.Generator | None,
) -> CausalData:
    n = _checks.integer(n, "n", minimum=1)
    dtype = means.dtype
    y = _balanced_labels(n, means.shape[0], generator)
    signal = means[y] + signal_noise * torch.randn(n, view.d_signal, generator=generator, dtype=dtype)
    detail = detail_scale * torch.randn(n, view.d_detail, generator=generator, dtype=dtype)
    style = view.style_scale * torch.randn(n, view.d_style, generator=generator, dtype=dtype)
    x = torch.cat([signal, detail, style], dim=1) @ view.mixing.to(dtype).T
    return CausalData(
        x=x,
        y=y,
        signal=signal,
        detail=detail,
        style=style,
        means=means,
        signal_noise=signal_noise,
        detail_scale=detail_scale,
        view=view,
    )


def causal_data(
    n: int,
    k: int = 10,
    d_signal: int = 8,
    d_detail: int = 32,
    d_style: int = 32,
    signal_noise: float = 0.5,
    detail_scale: float = 0.3,
    style_scale: float = 2.0,
    signal_jitter: float = 0.5,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> CausalData:
    r"""Draw ``n`` instances of the causal model (class signal, instance detail, style).

    .. math::
        Y \sim \mathrm{Unif}\{0..k-1\},\quad S = \mu_Y + \sigma_S\epsilon,\quad N = \sigma_N\xi,
        \quad U = \sigma_U\zeta,\quad x = Q\,[S; N; U],

    with :math:`\mu_j \sim \mathcal N(0, I)`, standard Gaussian :math:`\epsilon, \xi, \zeta` and a
    random orthogonal :math:`Q`. Labels are balanced (``n // k`` or ``n // k + 1`` per class). The
    returned :class:`CausalData` carries its augmentation ``view`` (jitter :math:`S` by
    :math:`\sigma_A`, keep :math:`N`, redraw :math:`U`) and draws further instances of the same
    model with :meth:`CausalData.sample`.

    The defaults are the research notes' reconstruction of Qiang et al. (2024)'s setting
    (``K = 10``, ``S`` in 8 dimensions, ``N`` and ``U`` in 32 each).

    Parameters
    ----------
    n
        Number of instances (>= 1).
    k
        Number of classes :math:`k` (>= 2).
    d_signal, d_detail, d_style
        Sizes of :math:`S` (>= 1), :math:`N` and :math:`U` (>= 0).
    signal_noise, detail_scale, style_scale, signal_jitter
        :math:`\sigma_S, \sigma_N, \sigma_U, \sigma_A \ge 0`.
    generator
        Source of randomness (means, mixing, labels and latents).
    dtype
        Floating dtype of the returned tensors.

    Returns
    -------
    CausalData
    """
    n = _checks.integer(n, "n", minimum=1)
    k = _checks.integer(k, "k", minimum=2)
    ds = _checks.integer(d_signal, "d_signal", minimum=1)
    dn = _checks.integer(d_detail, "d_detail", minimum=0)
    du = _checks.integer(d_style, "d_style", minimum=0)
    sig_s = _checks.positive(signal_noise, "signal_noise", allow_zero=True)
    sig_n = _checks.positive(detail_scale, "detail_scale", allow_zero=True)
    sig_u = _checks.positive(style_scale, "style_scale", allow_zero=True)
    sig_a = _checks.positive(signal_jitter, "signal_jitter", allow_zero=True)
    dtype = _checks.float_dtype(dtype)
    d = ds + dn + du
    means = torch.randn(k, ds, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))  # Haar-distributed orthogonal matrix
    view = CausalView(mixing=q.to(dtype), d_signal=ds, d_detail=dn, d_style=du, signal_jitter=sig_a, style_scale=sig_u)
    return _draw(n, means.to(dtype), sig_s, sig_n, view, generator)
