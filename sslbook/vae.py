r"""Variational autoencoders with the "SSL prior": VAE and SimVAE, and the pieces of their ELBO.

Bizeul, Schölkopf & Allen (2024) model ``J`` semantically related observations (augmentations of
one image) as :math:`y \to z_j \to x_j`: a shared content latent :math:`y`, one representation
:math:`z_j \mid y \sim \mathcal N(y, \sigma^2 I)` per view and a shared decoder
:math:`p_\theta(x_j \mid z_j)`. With the view-wise posterior :math:`\prod_j q_\phi(z_j \mid x_j)`
the evidence lower bound of the tuple is

.. math::

    \mathrm{ELBO}_\mathrm{SSL} = \sum_j \mathbb E_q \log p_\theta(x_j\mid z_j)
    + \sum_j \mathcal H[q_\phi(z_j\mid x_j)] + \mathbb E_q \log p(z_{1:J}),

and a VAE trained on the same augmented stream differs only in the last term, the prior
(:math:`\prod_j \mathcal N(z_j; 0, I)` instead of the SSL prior). This module exposes every term
as a separate function, so a chapter can check each against a slow formula and plot them:

* :func:`reconstruction_log_likelihood` (Bernoulli or Gaussian decoder),
* :func:`gaussian_entropy`, :func:`gaussian_kl_standard`,
* :func:`standard_log_prior` (VAE) and :func:`ssl_log_prior` / :func:`ssl_log_prior_terms`
  (SimVAE: the attraction of the ``J`` latents to their mean with weight :math:`1/2\sigma^2`),
  :func:`expected_ssl_log_prior` (its expectation under Gaussian posteriors, in closed form),
* :func:`mixture_log_posterior` (the Gaussian-mixture posterior that InfoNCE's softmax equals),
* :func:`two_view_mutual_information` and :func:`within_group_variance_share`.

Models: :class:`GaussianEncoder`, :class:`Decoder`, :class:`VAE` and :class:`SimVAE` (the same
class with the SSL prior). Inputs are flattened images; a tuple of ``J`` views of ``n`` images has
shape ``(n, J, D)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .models import MLP

__all__ = [
    "LIKELIHOODS",
    "reparameterize",
    "reconstruction_log_likelihood",
    "gaussian_entropy",
    "gaussian_kl_standard",
    "standard_log_prior",
    "ssl_log_prior_terms",
    "ssl_log_prior",
    "expected_ssl_log_prior",
    "mixture_log_posterior",
    "two_view_mutual_information",
    "within_group_variance_share",
    "GaussianEncoder",
    "Decoder",
    "VAE",
    "SimVAE",
]

LIKELIHOODS = ("bernoulli", "gaussian")
_LOG_2PI = math.log(2.0 * math.pi)
Terms = dict[str, torch.Tensor]


def _groups(z: object, name: str = "z") -> torch.Tensor:
    _checks.tensor(z, name, ndim=3)
    if z.shape[0] < 1 or z.shape[1] < 1 or z.shape[2] < 1:
        raise ValueError(f"{name} must have shape (n, J, L) with n, J, L >= 1, got {tuple(z.shape)}")
    return z


def _mean_logvar(mu: object, logvar: object) -> None:
    _checks.tensor(mu, "mu")
    _checks.tensor(logvar, "logvar")
    _checks.same_shape(mu, logvar, "mu", "logvar")
    _checks.compatible(mu=mu, logvar=logvar)
    if mu.ndim < 1:
        raise ValueError("mu and logvar must have a latent dimension")


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Draw :math:`z = \mu + e^{\mathrm{logvar}/2} \odot \varepsilon`, :math:`\varepsilon \sim \mathcal N(0, I)`.

    Parameters
    ----------
    mu, logvar
        Posterior means and log-variances, same shape (any).
    generator
        CPU generator for :math:`\varepsilon` (default: torch's global generator on ``mu``'s device).
    """
    _mean_logvar(mu, logvar)
    if generator is None:
        eps = torch.randn_like(mu)
    else:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=generator.device).to(mu.device)
    return _checks.finite_output(mu + torch.exp(0.5 * logvar) * eps, "reparameterize", mu=mu, logvar=logvar)


def reconstruction_log_likelihood(
    x: torch.Tensor, out: torch.Tensor, likelihood: str = "bernoulli", sigma_x2: float = 1.0
) -> torch.Tensor:
    r"""Log-likelihood :math:`\log p_\theta(x\mid z)` of each sample, summed over pixels.

    Parameters
    ----------
    x
        Targets, shape ``(..., D)``; grey levels in ``[0, 1]`` for the Bernoulli decoder.
    out
        Decoder output, same shape: logits (Bernoulli) or means (Gaussian).
    likelihood
        ``"bernoulli"``: :math:`\sum_d x_d \log \pi_d + (1 - x_d)\log(1 - \pi_d)` with
        :math:`\pi = \mathrm{sigmoid}(\mathrm{out})` (minus the binary cross-entropy; for grey
        targets this is the usual unnormalised "continuous" use). ``"gaussian"``:
        :math:`-\lVert x - \mathrm{out}\rVert^2 / 2\sigma_x^2 - \tfrac D2 \log 2\pi\sigma_x^2`.
    sigma_x2
        Decoder variance :math:`\sigma_x^2 > 0` of the Gaussian likelihood.

    Returns
    -------
    torch.Tensor
        Shape ``x.shape[:-1]``.
    """
    _checks.tensor(x, "x")
    _checks.tensor(out, "out")
    _checks.same_shape(x, out, "x", "out")
    _checks.compatible(x=x, out=out)
    if x.ndim < 1:
        raise ValueError("x and out must have a pixel dimension")
    _checks.choice(likelihood, "likelihood", LIKELIHOODS)
    s2 = _checks.positive(sigma_x2, "sigma_x2")
    if likelihood == "bernoulli":
        _unit_interval(x, "x")
        value = -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(-1)
    else:
        d = x.shape[-1]
        value = -(x - out).pow(2).sum(-1) / (2.0 * s2) - 0.5 * d * (_LOG_2PI + math.log(s2))
    return _checks.finite_output(value, "the reconstruction log-likelihood", x=x, out=out)


def _unit_interval(x: torch.Tensor, name: str) -> None:
    if bool(((x < 0) | (x > 1)).any()):
        raise ValueError(f"{name} must lie in [0, 1] for the Bernoulli likelihood")


def gaussian_entropy(logvar: torch.Tensor) -> torch.Tensor:
    r"""Entropy :math:`\tfrac12\sum_l (\log 2\pi e + \mathrm{logvar}_l)` of a diagonal Gaussian.

    Parameters
    ----------
    logvar
        Log-variances, shape ``(..., L)``.

    Returns
    -------
    torch.Tensor
        Shape ``logvar.shape[:-1]``.
    """
    _checks.tensor(logvar, "logvar")
    if logvar.ndim < 1:
        raise ValueError("logvar must have a latent dimension")
    return _checks.finite_output(0.5 * (_LOG_2PI + 1.0 + logvar).sum(-1), "gaussian_entropy", logvar=logvar)


def gaussian_kl_standard(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathrm{KL}(\mathcal N(\mu, \mathrm{diag}\, e^{\mathrm{logvar}}) \,\Vert\, \mathcal N(0, I))`
    :math:`= \tfrac12\sum_l (\mu_l^2 + e^{\mathrm{logvar}_l} - \mathrm{logvar}_l - 1)`.

    Equals ``-(gaussian_entropy + E_q standard_log_prior)``: the VAE's usual closed form.

    Parameters
    ----------
    mu, logvar
        Shape ``(..., L)``.

    Returns
    -------
    torch.Tensor
        Shape ``mu.shape[:-1]``.
    """
    _mean_logvar(mu, logvar)
    return _checks.finite_output(
        0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(-1), "gaussian_kl_standard", mu=mu, logvar=logvar
    )


def standard_log_prior(z: torch.Tensor) -> torch.Tensor:
    r"""The VAE prior of a tuple: :math:`\sum_j \log \mathcal N(z_j; 0, I)`.

    Parameters
    ----------
    z
        Latents, shape ``(n, J, L)``.

    Returns
    -------
    torch.Tensor
        Shape ``(n,)``.
    """
    _groups(z)
    _, j, l = z.shape
    return _checks.finite_output(-0.5 * z.pow(2).sum((1, 2)) - 0.5 * j * l * _LOG_2PI, "standard_log_prior", z=z)


def ssl_log_prior_terms(z: torch.Tensor, sigma2: float = 0.15, s2: float | None = 1.0) -> Terms:
    r"""The SSL prior :math:`\log p(z_{1:J}) = \log \int p(y)\prod_j \mathcal N(z_j; y, \sigma^2 I)\,dy`, term by term.

    With :math:`\bar z = \frac1J\sum_j z_j` and :math:`p(y) = \mathcal N(0, s^2 I)`,

    .. math::

        \log p(z_{1:J}) = \underbrace{-\frac{1}{2\sigma^2}\sum_j \lVert z_j - \bar z\rVert^2}_{\text{attraction}}
        \underbrace{- \frac{\lVert \bar z\rVert^2}{2(s^2 + \sigma^2/J)}}_{\text{center}}
        \underbrace{- \frac L2\big[(J-1)\log 2\pi\sigma^2 + \log 2\pi(J s^2 + \sigma^2)\big]}_{\text{normalizer}}.

    ``s2=None`` is the flat prior :math:`p(y) \propto 1` of Bizeul et al.'s Algorithm 1 (the
    limit :math:`s^2 \to \infty` after adding :math:`\tfrac L2 \log 2\pi s^2`): the center term
    vanishes and the normalizer is :math:`-\tfrac L2[(J-1)\log 2\pi\sigma^2 + \log J]`.

    Parameters
    ----------
    z
        Latents of ``n`` tuples of ``J`` views, shape ``(n, J, L)``.
    sigma2
        :math:`\sigma^2 = \mathrm{Var}(z_j \mid y) > 0` (Bizeul et al.'s code: 0.15).
    s2
        :math:`s^2 = \mathrm{Var}(y) > 0`, or ``None`` for the flat prior.

    Returns
    -------
    dict
        ``"attraction"``, ``"center"``, ``"normalizer"`` and ``"log_prior"`` (their sum), each of
        shape ``(n,)``.
    """
    _groups(z)
    sig2 = _checks.positive(sigma2, "sigma2")
    s2 = None if s2 is None else _checks.positive(s2, "s2")
    _, j, l = z.shape
    zbar = z.mean(1, keepdim=True)
    attraction = -(z - zbar).pow(2).sum((1, 2)) / (2.0 * sig2)
    if s2 is None:
        center = torch.zeros_like(attraction)
    else:
        center = -zbar[:, 0].pow(2).sum(-1) / (2.0 * (s2 + sig2 / j))
    normalizer = torch.full_like(attraction, _normalizer(j, l, sig2, s2))
    log_prior = _checks.finite_output(attraction + center + normalizer, "ssl_log_prior", z=z)
    return {"attraction": attraction, "center": center, "normalizer": normalizer, "log_prior": log_prior}


def _normalizer(j: int, l: int, sig2: float, s2: float | None) -> float:
    """The SSL prior's normalising constant (a number; see :func:`ssl_log_prior_terms`)."""
    if s2 is None:
        return -0.5 * l * ((j - 1) * (_LOG_2PI + math.log(sig2)) + math.log(j))
    return -0.5 * l * ((j - 1) * (_LOG_2PI + math.log(sig2)) + _LOG_2PI + math.log(j * s2 + sig2))


def ssl_log_prior(z: torch.Tensor, sigma2: float = 0.15, s2: float | None = 1.0) -> torch.Tensor:
    """The SSL prior :math:`\\log p(z_{1:J})` of each tuple, shape ``(n,)`` (see :func:`ssl_log_prior_terms`)."""
    return ssl_log_prior_terms(z, sigma2, s2)["log_prior"]


def expected_ssl_log_prior(
    mu: torch.Tensor, logvar: torch.Tensor, sigma2: float = 0.15, s2: float | None = 1.0
) -> torch.Tensor:
    r""":math:`\mathbb E_{\prod_j \mathcal N(z_j;\mu_j,\mathrm{diag}\,v_j)} \log p(z_{1:J})` in closed form.

    Uses :math:`\mathbb E \sum_j\lVert z_j - \bar z\rVert^2 = \sum_j \lVert\mu_j - \bar\mu\rVert^2
    + (1 - \tfrac1J)\sum_j \mathbf 1^\top v_j` and
    :math:`\mathbb E\lVert\bar z\rVert^2 = \lVert\bar\mu\rVert^2 + \tfrac1{J^2}\sum_j \mathbf 1^\top v_j`.

    Parameters
    ----------
    mu, logvar
        Posterior means and log-variances of the ``J`` views, shape ``(n, J, L)``.
    sigma2, s2
        As in :func:`ssl_log_prior_terms`.

    Returns
    -------
    torch.Tensor
        Shape ``(n,)``.
    """
    _groups(mu, "mu")
    _mean_logvar(mu, logvar)
    sig2 = _checks.positive(sigma2, "sigma2")
    _, j, _ = mu.shape
    tr = logvar.exp().sum((1, 2))
    mbar = mu.mean(1, keepdim=True)
    within = (mu - mbar).pow(2).sum((1, 2)) + (1.0 - 1.0 / j) * tr
    out = -within / (2.0 * sig2) + _normalizer(j, mu.shape[2], sig2, None if s2 is None else _checks.positive(s2, "s2"))
    if s2 is not None:
        v = _checks.positive(s2, "s2")
        out = out - (mbar[:, 0].pow(2).sum(-1) + tr / j**2) / (2.0 * (v + sig2 / j))
    return _checks.finite_output(out, "expected_ssl_log_prior", mu=mu, logvar=logvar)


def mixture_log_posterior(
    z: torch.Tensor, means: torch.Tensor, sigma2: float, exclude: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Log posterior :math:`\log p(y = k \mid z)` of an equal-weight isotropic Gaussian mixture.

    :math:`p(y = k\mid z) = \exp(-\lVert z - \mu_k\rVert^2/2\sigma^2) / \sum_{k'} \exp(-\lVert z - \mu_{k'}\rVert^2/2\sigma^2)`,
    the sum running over the components not excluded. For unit-norm ``z`` and ``means`` this is
    the softmax of :math:`z^\top\mu_k / \sigma^2`, InfoNCE's softmax with temperature
    :math:`\tau = \sigma^2` (Bizeul et al., 2024).

    Parameters
    ----------
    z
        Points, shape ``(n, L)``.
    means
        Component means :math:`\mu_k`, shape ``(K, L)``.
    sigma2
        Component variance :math:`\sigma^2 > 0`.
    exclude
        Optional boolean mask of shape ``(n, K)``: ``True`` removes component ``k`` from the
        mixture of point ``i`` (e.g. the anchor itself in NT-Xent); excluded entries are
        ``-inf``. At least one component per row must remain.

    Returns
    -------
    torch.Tensor
        Shape ``(n, K)``; each row's exponentials sum to one over the kept components.
    """
    _checks.tensor(z, "z", ndim=2)
    _checks.tensor(means, "means", ndim=2)
    _checks.compatible(z=z, means=means)
    if z.shape[1] < 1 or means.shape[0] < 1:
        raise ValueError(
            f"z needs at least one column and means at least one row, got shapes {tuple(z.shape)} "
            f"and {tuple(means.shape)}"
        )
    if z.shape[1] != means.shape[1]:
        raise ValueError(f"z and means must have the same dimension, got {z.shape[1]} and {means.shape[1]}")
    sig2 = _checks.positive(sigma2, "sigma2")
    logits = -torch.cdist(z, means).pow(2) / (2.0 * sig2)
    if exclude is not None:
        if not isinstance(exclude, torch.Tensor) or exclude.dtype != torch.bool:
            raise TypeError("exclude must be a boolean tensor")
        if exclude.device != z.device:
            raise ValueError(f"exclude must be on the device of z ({z.device}), got {exclude.device}")
        if exclude.shape != logits.shape:
            raise ValueError(f"exclude must have shape {tuple(logits.shape)}, got {tuple(exclude.shape)}")
        if bool(exclude.all(1).any()):
            raise ValueError("exclude removes every component of some row")
        logits = logits.masked_fill(exclude, float("-inf"))
    out = torch.log_softmax(logits, dim=1)
    # excluded entries are -inf by design; every other entry must be finite
    _checks.finite_output(
        out if exclude is None else out.masked_fill(exclude, 0.0), "mixture_log_posterior", z=z, means=means
    )
    return out


def two_view_mutual_information(sigma2: float, s2: float = 1.0, dims: int = 1) -> float:
    r"""Mutual information :math:`I(z_1; z_2)` (nats) of two views under the Gaussian SSL model.

    Per dimension :math:`(z_1, z_2)` is Gaussian with variances :math:`s^2 + \sigma^2` and
    covariance :math:`s^2`, so :math:`I = -\tfrac12 \log(1 - \rho^2)` with
    :math:`\rho = s^2/(s^2 + \sigma^2)`; it grows without bound as :math:`\sigma^2 \to 0`.

    Parameters
    ----------
    sigma2
        Within-group variance :math:`\sigma^2 > 0`.
    s2
        Content variance :math:`s^2 > 0`.
    dims
        Number of independent latent dimensions ``L >= 1`` (the information adds up).
    """
    sig2 = _checks.positive(sigma2, "sigma2")
    v = _checks.positive(s2, "s2")
    dims = _checks.integer(dims, "dims", minimum=1)
    rho = v / (v + sig2)
    return float(-0.5 * dims * math.log1p(-rho * rho))


def within_group_variance_share(z: object) -> float:
    r"""Share of the (standardised) variance of a representation that lies within augmentation groups.

    Each of the ``k`` features is standardised over all ``n J`` rows; the result is the
    within-group sum of squares :math:`\sum_{i,j}\lVert z_{ij} - \bar z_i\rVert^2` divided by the
    total sum of squares. It is 0 when the ``J`` views of every image share one representation
    (collapse, :math:`\sigma^2 \to 0` in the SSL model) and, under the Gaussian SSL model, tends
    to :math:`\sigma^2/(\sigma^2 + s^2)` for large ``n``, up to the factor :math:`(J-1)/J`.

    Parameters
    ----------
    z
        Representations of ``J >= 2`` views of each of ``n >= 2`` images, shape ``(n, J, k)``
        (tensor or array).

    Returns
    -------
    float
        A number in ``[0, 1]``.
    """
    a = _checks.array(z, "z", ndim=3)
    n, j, k = a.shape
    if n < 2 or j < 2 or k < 1:
        raise ValueError(f"z must have shape (n, J, k) with n >= 2, J >= 2, k >= 1, got {a.shape}")
    (a,) = _checks.pow2_rescale(a)  # exact: the threshold below becomes relative
    flat = a.reshape(n * j, k)
    sd = flat.std(0)
    sd[sd < 1e-12] = 1.0
    s = (a - flat.mean(0)) / sd
    within = ((s - s.mean(1, keepdims=True)) ** 2).sum()
    total = (s**2).sum()
    return float(within / total) if total > 0 else 0.0


def _widths(hidden: Sequence[int]) -> list[int]:
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"hidden must be a sequence of integers, got {type(hidden).__name__}")
    return [_checks.integer(h, f"hidden[{i}]", minimum=1) for i, h in enumerate(hidden)]


class GaussianEncoder(nn.Module):
    r"""Amortised Gaussian posterior :math:`q_\phi(z\mid x) = \mathcal N(\mu(x), \mathrm{diag}\, e^{\mathrm{logvar}(x)})`.

    An MLP body ``d_in -> hidden...`` (ReLU) followed by one linear layer to ``2 * latent``
    outputs (means and log-variances). The body is the architecture the chapter shares with
    SimCLR's encoder (``models.MLP([d_in, *hidden, latent])``).

    Parameters
    ----------
    d_in
        Input dimension (pixels).
    hidden
        Hidden widths (at least one).
    latent
        Latent dimension ``L``.
    logvar_range
        Log-variances are clamped to this interval for numerical safety.
    """

    def __init__(
        self, d_in: int, hidden: Sequence[int], latent: int, logvar_range: tuple[float, float] = (-12.0, 6.0)
    ) -> None:
        super().__init__()
        widths = _widths(hidden)
        if not widths:
            raise ValueError("hidden must hold at least one width")
        self.d_in = _checks.integer(d_in, "d_in", minimum=1)
        self.latent = _checks.integer(latent, "latent", minimum=1)
        if isinstance(logvar_range, (str, bytes)) or not isinstance(logvar_range, Sequence) or len(logvar_range) != 2:
            raise TypeError(f"logvar_range must be a (low, high) pair of numbers, got {logvar_range!r}")
        lo = _checks.real(logvar_range[0], "logvar_range[0]")
        hi = _checks.real(logvar_range[1], "logvar_range[1]")
        if not lo < hi:
            raise ValueError(f"logvar_range must be (low, high) with low < high, got {logvar_range!r}")
        self.logvar_range = (lo, hi)
        self.body = MLP([self.d_in, *widths], last_activation=True)
        self.head = nn.Linear(widths[-1], 2 * self.latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map ``x`` of shape ``(..., d_in)`` to ``(mu, logvar)``, each ``(..., latent)``."""
        _checks.tensor(x, "x", finite=False)
        if x.ndim < 1 or x.shape[-1] != self.d_in:
            raise ValueError(f"x must have {self.d_in} features in its last dimension, got shape {tuple(x.shape)}")
        lead = x.shape[:-1]
        out = self.head(self.body(x.reshape(-1, self.d_in)))  # the body checks x: finite, dtype, device
        _checks.finite_output(out, "the encoder's output", x=x)
        mu, logvar = out.chunk(2, dim=-1)
        logvar = logvar.clamp(*self.logvar_range)
        return mu.reshape(*lead, self.latent), logvar.reshape(*lead, self.latent)


class Decoder(nn.Module):
    """Decoder MLP ``latent -> hidden... -> d_out`` (ReLU); outputs logits (Bernoulli) or means (Gaussian).

    Parameters
    ----------
    latent
        Latent dimension ``L``.
    hidden
        Hidden widths (at least one), e.g. the encoder's in reverse order.
    d_out
        Output dimension (pixels).
    """

    def __init__(self, latent: int, hidden: Sequence[int], d_out: int) -> None:
        super().__init__()
        widths = _widths(hidden)
        if not widths:
            raise ValueError("hidden must hold at least one width")
        self.latent = _checks.integer(latent, "latent", minimum=1)
        self.d_out = _checks.integer(d_out, "d_out", minimum=1)
        self.net = MLP([self.latent, *widths, self.d_out])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map ``z`` of shape ``(..., latent)`` to ``(..., d_out)``."""
        _checks.tensor(z, "z")
        if z.ndim < 1 or z.shape[-1] != self.latent:
            raise ValueError(f"z must have {self.latent} features in its last dimension, got shape {tuple(z.shape)}")
        weight = self.net.layers[0][0].weight
        if z.dtype != weight.dtype or z.device != weight.device:
            raise TypeError(
                f"z must have the decoder's dtype and device ({weight.dtype}, {weight.device}), got "
                f"{z.dtype}, {z.device}"
            )
        lead = z.shape[:-1]
        return self.net(z.reshape(-1, self.latent)).reshape(*lead, self.d_out)


class VAE(nn.Module):
    r"""A VAE trained on tuples of ``J`` views with the standard prior :math:`\prod_j \mathcal N(z_j; 0, I)`.

    The loss of :meth:`terms` is
    :math:`-\big(\sum_j \log p_\theta(x_j\mid z_j) + \beta\,[\sum_j \mathcal H(q_j) + \log p(z_{1:J})]\big)`,
    averaged over the ``n`` tuples, with one reparameterised sample per view. ``beta = 1`` is
    the negative ELBO; ``beta < 1`` weights the likelihood up, as a smaller decoder variance
    does (Bizeul et al.'s code divides the reconstruction error by :math:`\sigma_x^2 \approx 0.01`).

    Parameters
    ----------
    d_in
        Input dimension (pixels).
    hidden
        Encoder hidden widths; the decoder uses them in reverse.
    latent
        Latent dimension ``L``.
    likelihood
        ``"bernoulli"`` or ``"gaussian"`` (see :func:`reconstruction_log_likelihood`).
    beta
        Weight :math:`\beta > 0` of the entropy and prior terms.
    sigma_x2
        Variance of the Gaussian likelihood.
    """

    prior = "standard"

    def __init__(
        self,
        d_in: int,
        hidden: Sequence[int],
        latent: int,
        likelihood: str = "bernoulli",
        beta: float = 1.0,
        sigma_x2: float = 1.0,
    ) -> None:
        super().__init__()
        widths = _widths(hidden)
        self.encoder = GaussianEncoder(d_in, widths, latent)
        self.decoder = Decoder(latent, widths[::-1], d_in)
        self.likelihood = _checks.choice(likelihood, "likelihood", LIKELIHOODS)
        self.beta = _checks.positive(beta, "beta")
        self.sigma_x2 = _checks.positive(sigma_x2, "sigma_x2")

    @property
    def latent(self) -> int:
        """Latent dimension ``L``."""
        return self.encoder.latent

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p(z_{1:J})` of each tuple; ``z`` has shape ``(n, J, L)``, output ``(n,)``."""
        return standard_log_prior(z)

    def log_prior_terms(self, z: torch.Tensor) -> Terms:
        """The prior's terms (for the VAE only ``"log_prior"``), each of shape ``(n,)``."""
        _groups(z)
        return self._prior_terms(z)

    def _prior_terms(self, z: torch.Tensor) -> Terms:
        return {"log_prior": standard_log_prior(z)}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior means :math:`\\mu(x)` (the representation that is probed), shape ``(..., L)``."""
        return self.encoder(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoded images (probabilities for Bernoulli, means for Gaussian), shape ``(..., D)``."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean of ``x``: shape ``(..., D)``."""
        return self.decode(self.encode(x))

    def terms(self, views: torch.Tensor, generator: torch.Generator | None = None) -> Terms:
        """The ELBO's terms on a batch of tuples, averaged over tuples.

        Parameters
        ----------
        views
            Flattened images, shape ``(n, J, D)``: ``J`` views of each of ``n`` images.
        generator
            CPU generator of the reparameterisation noise.

        Returns
        -------
        dict
            Scalar tensors ``"reconstruction"`` (:math:`\\sum_j \\log p(x_j\\mid z_j)`),
            ``"entropy"`` (:math:`\\sum_j \\mathcal H[q_j]`), ``"log_prior"`` (one-sample
            estimate of :math:`\\mathbb E_q \\log p(z_{1:J})`) and the prior's own terms,
            ``"elbo"`` (their sum) and ``"loss"``.
        """
        _groups(views, "views")
        if views.shape[-1] != self.encoder.d_in:
            raise ValueError(
                f"views must have {self.encoder.d_in} pixels in the last dimension, got shape {tuple(views.shape)}"
            )
        weight = self.encoder.head.weight
        if views.dtype != weight.dtype or views.device != weight.device:
            raise TypeError(
                f"views must have the model's dtype and device ({weight.dtype}, {weight.device}), got "
                f"{views.dtype}, {views.device}"
            )
        if self.likelihood == "bernoulli":
            _unit_interval(views, "views")
        # every term is the public function, which checks its own inputs
        mu, logvar = self.encoder(views)
        z = reparameterize(mu, logvar, generator)
        out = self.decoder(z)
        rec = reconstruction_log_likelihood(views, out, self.likelihood, self.sigma_x2).sum(1)
        ent = gaussian_entropy(logvar).sum(1)
        prior = self._prior_terms(z)
        out = {"reconstruction": rec.mean(), "entropy": ent.mean()}
        out.update({k: v.mean() for k, v in prior.items()})
        out["elbo"] = out["reconstruction"] + out["entropy"] + out["log_prior"]
        out["loss"] = -(out["reconstruction"] + self.beta * (out["entropy"] + out["log_prior"]))
        return out


class SimVAE(VAE):
    r"""SimVAE (Bizeul et al., 2024): the :class:`VAE` with the SSL prior :func:`ssl_log_prior`.

    Nothing else differs: the same encoder, decoder, likelihood and entropy. The prior's
    attraction term pulls the ``J`` latents of one image towards their mean with weight
    :math:`1/2\sigma^2`.

    Parameters
    ----------
    d_in, hidden, latent, likelihood, beta, sigma_x2
        As in :class:`VAE`.
    sigma2
        :math:`\sigma^2 = \mathrm{Var}(z_j\mid y)` (default 0.15, Bizeul et al.'s code).
    s2
        :math:`s^2 = \mathrm{Var}(y)` (default 1), or ``None`` for the flat prior of Algorithm 1.
    """

    prior = "ssl"

    def __init__(
        self,
        d_in: int,
        hidden: Sequence[int],
        latent: int,
        likelihood: str = "bernoulli",
        beta: float = 1.0,
        sigma_x2: float = 1.0,
        sigma2: float = 0.15,
        s2: float | None = 1.0,
    ) -> None:
        super().__init__(d_in, hidden, latent, likelihood, beta, sigma_x2)
        self.sigma2 = _checks.positive(sigma2, "sigma2")
        self.s2 = None if s2 is None else _checks.positive(s2, "s2")

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        return ssl_log_prior(z, self.sigma2, self.s2)

    def _prior_terms(self, z: torch.Tensor) -> Terms:
        return ssl_log_prior_terms(z, self.sigma2, self.s2)
