r"""Four Gaussian clusters with a label-related feature and a label-independent ("hidden") feature.

The data model of Yang, Li, Jiang and Li (AAAI-23), *Understanding representation learnability
of nonlinear self-supervised learning*: with :math:`e_1, e_2` the first two standard basis
vectors of :math:`\mathbb R^d`,

.. math::

    x = s\, e_1 + \tau\, h\, e_2 + \xi, \qquad \xi \sim \mathcal N(0, \rho^2 I_d),

where the label sign :math:`s \in \{+1, -1\}` and the hidden bit :math:`z \in \{0, 1\}` are
independent, and :math:`h = z` (an on/off feature, the paper's setting) or :math:`h = 2z - 1`
(a zero-mean variant). The hidden bit carries no information about the label. A positive pair is
two noisy copies :math:`x + \xi^{+}`, :math:`x + \xi^{++}` of the same sample with independent
:math:`\mathcal N(0, \rho^2 I_d)` noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _checks
from ._base import Samples

__all__ = ["HiddenFeatureData", "hidden_feature_data", "HIDDEN_KINDS", "NOISE_KINDS"]

HIDDEN_KINDS = ("onoff", "symmetric")
NOISE_KINDS = ("isotropic", "shared")


@dataclass(frozen=True)
class HiddenFeatureData(Samples):
    r"""A sample of the four-cluster hidden-feature model and its ground truth.

    Attributes
    ----------
    x
        Samples, shape ``(n, d)``.
    y
        Label, shape ``(n,)`` (int64): ``0`` for the clusters around :math:`+e_1`, ``1`` for those
        around :math:`-e_1` (the supervised target).
    z
        Hidden bit, shape ``(n,)`` (int64), independent of ``y``.
    means
        Cluster means, shape ``(4, d)``, indexed by ``cluster = 2 * y + z``.
    tau
        Strength :math:`\tau` of the hidden feature.
    noise
        Standard deviation :math:`\rho` of the data noise (the chapter's views add noise of the
        same level: ``TwoViews(GaussianNoise(noise))``).
    hidden
        ``"onoff"`` (:math:`\tau z e_2`) or ``"symmetric"`` (:math:`\tau (2z-1) e_2`).
    """

    x: torch.Tensor
    y: torch.Tensor
    z: torch.Tensor
    means: torch.Tensor
    tau: float
    noise: float
    hidden: str

    @property
    def sign(self) -> torch.Tensor:
        r"""The label as a sign :math:`s = 1 - 2y \in \{+1, -1\}`, shape ``(n,)``."""
        return 1 - 2 * self.y

    @property
    def cluster(self) -> torch.Tensor:
        """Cluster index ``2 * y + z`` in ``{0, 1, 2, 3}``, shape ``(n,)``."""
        return 2 * self.y + self.z

    def fractions(self) -> torch.Tensor:
        """Empirical cluster fractions, shape ``(4,)`` (float64), in the order of :attr:`means`."""
        counts = torch.bincount(self.cluster.cpu(), minlength=4).to(torch.float64)
        return counts / self.n


def hidden_feature_data(
    n: int = 100,
    d: int = 10,
    tau: float = 7.0,
    noise: float | None = None,
    p_hidden: float = 0.5,
    hidden: str = "onoff",
    noise_kind: str = "isotropic",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> HiddenFeatureData:
    r"""Draw ``n`` samples of the four-cluster model with a hidden feature (Yang et al., AAAI-23).

    Parameters
    ----------
    n
        Number of samples (>= 1). The paper uses :math:`n = d^2`.
    d
        Dimension (>= 2). The paper uses ``d = 10``.
    tau
        Strength :math:`\tau \ge 0` of the hidden feature (paper: 7).
    noise
        Noise level :math:`\rho \ge 0`; default :math:`d^{-3/2}` as in the paper.
    p_hidden
        Probability that the hidden bit is 1 (paper: 1/2). The label is always a fair coin.
    hidden
        ``"onoff"``: the hidden feature is :math:`\tau z e_2` (the paper's model, nonzero mean);
        ``"symmetric"``: :math:`\tau (2z - 1) e_2` (zero mean).
    noise_kind
        ``"isotropic"``: :math:`\xi \sim \mathcal N(0, \rho^2 I_d)`; ``"shared"``: one scalar
        :math:`\rho\, g` with :math:`g \sim \mathcal N(0,1)` added to every coordinate of a
        sample (what the authors' released script does).
    generator
        Source of randomness (CPU ``torch.Generator``).
    dtype, device
        Floating dtype and device of the returned tensors.

    Returns
    -------
    HiddenFeatureData
    """
    n = _checks.integer(n, "n", minimum=1)
    d = _checks.integer(d, "d", minimum=2)
    tau = _checks.positive(tau, "tau", allow_zero=True)
    rho = d**-1.5 if noise is None else _checks.positive(noise, "noise", allow_zero=True)
    p = _checks.probability(p_hidden, "p_hidden")
    _checks.choice(hidden, "hidden", HIDDEN_KINDS)
    _checks.choice(noise_kind, "noise_kind", NOISE_KINDS)
    dtype = _checks.float_dtype(dtype)
    y = (torch.rand(n, generator=generator) < 0.5).to(torch.int64)
    z = (torch.rand(n, generator=generator) < p).to(torch.int64)
    s = (1 - 2 * y).to(torch.float64)
    h = z.to(torch.float64) if hidden == "onoff" else (2 * z - 1).to(torch.float64)
    x = torch.zeros(n, d, dtype=torch.float64)
    x[:, 0] = s
    x[:, 1] = tau * h
    if noise_kind == "isotropic":
        x = x + rho * torch.randn(n, d, generator=generator, dtype=torch.float64)
    else:
        x = x + rho * torch.randn(n, 1, generator=generator, dtype=torch.float64)
    means = torch.zeros(4, d, dtype=torch.float64)
    for c in range(4):  # four cluster means, c = 2 * y + z
        yc, zc = divmod(c, 2)
        means[c, 0] = 1.0 - 2.0 * yc
        means[c, 1] = tau * (zc if hidden == "onoff" else 2 * zc - 1)
    dev = torch.device("cpu") if device is None else torch.device(device)
    return HiddenFeatureData(
        x=x.to(dtype=dtype, device=dev),
        y=y.to(dev),
        z=z.to(dev),
        means=means.to(dtype=dtype, device=dev),
        tau=tau,
        noise=rho,
        hidden=hidden,
    )
