"""The Undoing Memorization Mechanism (UMM) of Qiang et al. (2024), as a bi-level update.

Qiang, Song, Gu, Li, Zheng, Sun and Xiong (2024), "On the Generalization and Causal Explanation in
Self-Supervised Learning" (IJCV), repair a pre-trained self-supervised network whose later layers
have over-fitted: the early layers are frozen, and the later layers are trained again so that
their feature distribution follows the early layer's while the coding-rate reduction
:math:`\\Delta R` of the last layer is maximised, as a bi-level problem.

The paper's exact objective could not be read; this module implements the book's reconstruction
(documented in the chapter "Memorisation in self-supervised learning"). With :math:`\\theta` the
parameters of the later blocks, :math:`h^e` the frozen early features and :math:`z(\\theta)` the
last layer's output on a batch of ``2B`` views,

.. math::
    \\mathcal L_{\\rm in}(\\theta) = \\mathcal L_{\\rm SSL}(\\theta)
        + \\gamma\\,\\tfrac{1}{2B}\\textstyle\\sum_i \\mathrm{KL}\\big(P^e_{i\\cdot}\\,\\|\\,P^z_{i\\cdot}(\\theta)\\big),
    \\qquad
    \\mathcal L_{\\rm out}(\\theta) = \\mathcal L_{\\rm SSL}(\\theta') - \\lambda\\,\\Delta R\\big(z(\\theta'), \\Pi^e\\big),
    \\quad \\theta' = \\theta - \\alpha \\nabla_\\theta \\mathcal L_{\\rm in}(\\theta),

where :math:`P_{i\\cdot}` is the softmax over :math:`j \\ne i` of cosine similarities divided by a
temperature (:func:`similarity_log_distribution`) and :math:`\\Pi^e` are soft cluster memberships
of the early features (:class:`EarlyPrior`); without a prior the augmentation-pair partition is
used, as in the authors' code. Each :meth:`UMM.step` takes one Adam step on the inner loss and one
on the hyper-gradient of the outer loss through the one-step look-ahead :math:`\\theta'`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.func import functional_call

from . import _checks, coding_rate, train
from .models import MLP

__all__ = ["similarity_log_distribution", "similarity_kl", "EarlyPrior", "early_prior", "freeze_early", "UMM"]


def similarity_log_distribution(h: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    r"""Log of each sample's similarity distribution over the other samples of the batch.

    :math:`\log P_{ij}` with :math:`P_{ij} = \exp(\cos(h_i, h_j)/T) / \sum_{l \ne i}\exp(\cos(h_i, h_l)/T)`
    for :math:`j \ne i`; the diagonal is removed, so row :math:`i` lists :math:`j = 0..n-1`
    without :math:`i`.

    Parameters
    ----------
    h
        Features, shape ``(n, p)``, ``n >= 2``.
    temperature
        :math:`T > 0`.

    Returns
    -------
    torch.Tensor
        Shape ``(n, n - 1)``; each row's exponentials sum to 1.
    """
    return _similarity_log_distribution(h, temperature, "h")


def _similarity_log_distribution(h: torch.Tensor, temperature: float, name: str) -> torch.Tensor:
    """:func:`similarity_log_distribution` with the argument's name for its messages."""
    _checks.tensor(h, name, ndim=2)
    n = h.shape[0]
    if n < 2 or h.shape[1] < 1:
        raise ValueError(f"{name} needs at least two rows and one column, got shape {tuple(h.shape)}")
    t = _checks.positive(temperature, "temperature")
    if 1.0 / t > torch.finfo(h.dtype).max / 4:  # cosines / t would overflow: the only way to a non-finite result
        raise ValueError(f"temperature {t!r} is too small for {h.dtype} (cosine / temperature overflows)")
    f = _checks.unit_rows(h)  # scale-free cosines (F.normalize collapses rows of size 1e-30)
    s = (f @ f.T) / t
    off = s.flatten()[1:].reshape(n - 1, n + 1)[:, :-1].reshape(n, n - 1)  # drop the diagonal
    return torch.log_softmax(off, dim=1)


def similarity_kl(h_early: torch.Tensor, z_late: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    r"""Mean KL divergence from the early layer's similarity distributions to the late layer's.

    :math:`\frac1n \sum_i \mathrm{KL}(P^e_{i\cdot} \,\|\, P^z_{i\cdot})`, both from
    :func:`similarity_log_distribution` of the same batch: zero when the two layers rank and
    weigh every sample's neighbours alike. The book's reconstruction of UMM's "align the later
    layers' feature distribution with the early layer's" (Qiang et al. 2024).

    Parameters
    ----------
    h_early
        Early-layer features (the target), shape ``(n, p)``.
    z_late
        Late-layer features, shape ``(n, k)`` (same ``n``).
    temperature
        :math:`T > 0`, shared by both layers.

    Returns
    -------
    torch.Tensor
        A non-negative scalar, differentiable in both arguments.
    """
    _checks.tensor(h_early, "h_early", ndim=2)
    _checks.tensor(z_late, "z_late", ndim=2)
    if h_early.shape[0] != z_late.shape[0]:
        raise ValueError(
            f"h_early and z_late must have the same number of rows, got {h_early.shape[0]} and {z_late.shape[0]}"
        )
    if h_early.device != z_late.device:
        raise ValueError(f"h_early and z_late must be on the same device, got {h_early.device} and {z_late.device}")
    log_p = _similarity_log_distribution(h_early, temperature, "h_early")
    log_q = _similarity_log_distribution(z_late, temperature, "z_late")
    return (log_p.exp() * (log_p - log_q)).sum(1).mean()


@dataclass(frozen=True)
class EarlyPrior:
    r"""Soft cluster memberships read off (frozen) early-layer features.

    :math:`\pi_{ij} \propto \exp(-\|h_i - c_j\|^2 / T)` for centers :math:`c_j`; used as the
    partition :math:`\Pi^e` of :func:`sslbook.coding_rate.coding_rate_reduction_soft`.

    Attributes
    ----------
    centers
        Cluster centers, shape ``(C, p)``.
    temperature
        :math:`T > 0`.
    """

    centers: torch.Tensor
    temperature: float

    def __post_init__(self) -> None:
        _checks.tensor(self.centers, "centers", ndim=2)
        if self.centers.shape[0] < 1 or self.centers.shape[1] < 1:
            raise ValueError(f"centers needs at least one row and one column, got shape {tuple(self.centers.shape)}")
        _checks.positive(self.temperature, "temperature")

    def memberships(self, h: torch.Tensor) -> torch.Tensor:
        """Soft memberships of the rows of ``h`` ``(n, p)``: shape ``(n, C)``, rows summing to 1."""
        _checks.tensor(h, "h", ndim=2)
        if h.device != self.centers.device:
            raise ValueError(f"h must be on the centers' device {self.centers.device}, got {h.device}")
        c = self.centers.to(h.dtype)
        if h.shape[1] != c.shape[1]:
            raise ValueError(f"h must have {c.shape[1]} features like the centers, got shape {tuple(h.shape)}")
        return _checks.finite_output(
            torch.softmax(-torch.cdist(h, c).pow(2) / self.temperature, dim=1),
            "EarlyPrior.memberships (distances overflow)",
            h=h,
        )


def early_prior(
    h: torch.Tensor, n_clusters: int = 20, iters: int = 50, generator: torch.Generator | None = None
) -> EarlyPrior:
    """Fit an :class:`EarlyPrior` to features ``h`` ``(n, p)`` by k-means (Lloyd's iterations).

    Centres start at ``n_clusters`` distinct random rows (drawn with ``generator``); the
    temperature is the median over samples of the squared distance to the nearest centre, so a
    typical sample belongs mostly, but not only, to its own cluster.
    """
    _checks.tensor(h, "h", ndim=2)
    h = h.detach()
    n = h.shape[0]
    if n < 2 or h.shape[1] < 1:
        raise ValueError(f"h needs at least two rows and one column, got shape {tuple(h.shape)}")
    k = _checks.integer(n_clusters, "n_clusters", minimum=2, maximum=n)
    iters = _checks.integer(iters, "iters", minimum=1)
    centers = h[torch.randperm(n, generator=generator)[:k].to(h.device)].clone()
    for _ in range(iters):
        assign = torch.cdist(h, centers).argmin(1)
        onehot = F.one_hot(assign, k).to(h.dtype)
        counts = onehot.sum(0)
        means = (onehot.T @ h) / counts.clamp_min(1.0)[:, None]
        centers = torch.where((counts > 0)[:, None], means, centers)  # an empty cluster keeps its center
    d2 = _checks.finite_output(torch.cdist(h, centers).pow(2).min(1).values, "early_prior's distances", h=h)
    temperature = float(d2.median().clamp_min(1e-8))
    return EarlyPrior(centers=centers, temperature=temperature)


def freeze_early(model: MLP, n_early: int) -> list[torch.nn.Parameter]:
    """Freeze the first ``n_early`` blocks of ``model`` and return the parameters of the others.

    The frozen blocks stop requiring gradients and are put in evaluation mode (batch
    normalisation uses its running statistics), so their output is a fixed function of the input.
    """
    _checks.instance(model, MLP, "model")
    n_early = _checks.integer(n_early, "n_early", minimum=1, maximum=len(model.layers) - 1)
    for block in model.layers[:n_early]:
        block.eval()
        for p in block.parameters():
            p.requires_grad_(False)
    return [p for block in model.layers[n_early:] for p in block.parameters()]


class UMM:
    r"""The bi-level Undoing Memorization Mechanism step (book's reconstruction, see module doc).

    Parameters
    ----------
    model
        A pre-trained :class:`~sslbook.models.MLP`, trained in place (copy it first to keep it).
    n_early
        Number of frozen early blocks (``1 <= n_early < len(model.layers)``); the last frozen
        block's output is the early feature :math:`h^e`.
    ssl_loss
        The self-supervised loss ``ssl_loss(z1, z2)`` of the two views' outputs.
    prior
        An :class:`EarlyPrior` of the early features for the outer :math:`\Delta R`; ``None``
        uses the augmentation-pair partition (:func:`sslbook.coding_rate.pair_coding_rate_reduction`).
    gamma
        Weight :math:`\gamma \ge 0` of the similarity-KL term of the inner problem.
    lam
        Weight :math:`\lambda \ge 0` of :math:`\Delta R` in the outer problem (maximised).
    inner_lr
        Look-ahead step :math:`\alpha > 0`.
    lr
        Learning rate of both Adam optimisers.
    temperature
        Temperature of the similarity distributions.
    eps
        Distortion :math:`\epsilon` of the coding rates (features are L2-normalised).
    second_order
        Differentiate through the look-ahead (``True``) or treat the inner gradient as a
        constant (first-order, as in first-order DARTS).
    """

    def __init__(
        self,
        model: MLP,
        n_early: int,
        ssl_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        prior: EarlyPrior | None = None,
        gamma: float = 1.0,
        lam: float = 5.0,
        inner_lr: float = 1e-3,
        lr: float = 1e-3,
        temperature: float = 0.1,
        eps: float = 0.5,
        second_order: bool = True,
    ) -> None:
        if not callable(ssl_loss):
            raise TypeError("ssl_loss must be callable")
        if prior is not None and not isinstance(prior, EarlyPrior):
            raise TypeError(f"prior must be an EarlyPrior or None, got {type(prior).__name__}")
        if not isinstance(second_order, bool):
            raise TypeError(f"second_order must be a bool, got {type(second_order).__name__}")
        _checks.instance(model, MLP, "model")
        self.model = model
        self.late_parameters = freeze_early(model, n_early)
        self.n_early = int(n_early)
        self.ssl_loss = ssl_loss
        self.prior = prior
        self.gamma = _checks.positive(gamma, "gamma", allow_zero=True)
        self.lam = _checks.positive(lam, "lam", allow_zero=True)
        self.inner_lr = _checks.positive(inner_lr, "inner_lr")
        self.lr = _checks.positive(lr, "lr")
        self.temperature = _checks.positive(temperature, "temperature")
        self.eps = _checks.positive(eps, "eps")
        self.second_order = second_order
        self._late = torch.nn.Sequential(*model.layers[n_early:])
        self._names = [name for name, _ in self._late.named_parameters()]
        self.inner_optimizer = train.make_optimizer("adam", self.late_parameters, self.lr)
        self.outer_optimizer = train.make_optimizer("adam", self.late_parameters, self.lr)

    def early(self, x: torch.Tensor) -> torch.Tensor:
        """Frozen early features :math:`h^e` of ``x`` (no gradient)."""
        _checks.model_input(x, self.model.widths[0], self.model.layers[0][0].weight)  # finite, width, device, dtype
        with torch.no_grad():
            for block in self.model.layers[: self.n_early]:
                block.eval()
                x = block(x)
        return x

    def late(self, h: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Output of the later blocks on early features ``h``, optionally with substituted parameters."""
        _checks.tensor(h, "h", ndim=2)
        width = self.model.widths[self.n_early]
        if h.shape[1] != width:
            raise ValueError(
                f"h must have {width} features (the output width of the early blocks), got shape {tuple(h.shape)}"
            )
        first = self.late_parameters[0] if self.late_parameters else None
        if first is not None and (h.dtype != first.dtype or h.device != first.device):
            raise TypeError(
                f"h must have the dtype and device of the later blocks ({first.dtype}, {first.device}), "
                f"got {h.dtype}, {h.device}"
            )
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of parameter names to tensors, got {type(params).__name__}")
        if params is None:
            return self._late(h)
        return functional_call(self._late, dict(params), (h,))

    def terms(
        self, x1: torch.Tensor, x2: torch.Tensor, params: Mapping[str, torch.Tensor] | None = None
    ) -> dict[str, torch.Tensor]:
        r"""The three terms on a batch of two views ``x1``, ``x2`` ``(B, d)``.

        Returns ``"ssl"`` (:math:`\mathcal L_{\rm SSL}`), ``"similarity_kl"`` (:func:`similarity_kl` of the
        early and late features) and ``"reduction"`` (:math:`\Delta R` of the normalised outputs under the
        prior's memberships, or the pair partition), each a scalar tensor.
        """
        weight = self.model.layers[0][0].weight
        _checks.model_input(x1, self.model.widths[0], weight, "x1")
        _checks.model_input(x2, self.model.widths[0], weight, "x2")
        _checks.same_shape(x1, x2, "x1", "x2")
        if x1.shape[0] < 2:
            raise ValueError(f"x1 and x2 need at least two rows (a batch), got shape {tuple(x1.shape)}")
        b = x1.shape[0]
        h = self.early(torch.cat([x1, x2], dim=0))
        z = self.late(h, params)
        z1, z2 = z[:b], z[b:]
        out = {"ssl": self.ssl_loss(z1, z2), "similarity_kl": similarity_kl(h, z, self.temperature)}
        if self.prior is None:
            out["reduction"] = coding_rate.pair_coding_rate_reduction(z1, z2, self.eps)["reduction"]
        else:
            out["reduction"] = coding_rate.coding_rate_reduction_soft(
                F.normalize(z, dim=1), self.prior.memberships(h), self.eps
            )["reduction"]
        return out

    def inner_loss(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        r""":math:`\mathcal L_{\rm in} = \mathcal L_{\rm SSL} + \gamma\,\mathrm{KL}`."""
        return terms["ssl"] + self.gamma * terms["similarity_kl"]

    def outer_loss(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        r""":math:`\mathcal L_{\rm out} = \mathcal L_{\rm SSL} - \lambda\,\Delta R`."""
        return terms["ssl"] - self.lam * terms["reduction"]

    def gradients(
        self, x1: torch.Tensor, x2: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], dict[str, torch.Tensor]]:
        """Inner gradient and outer hyper-gradient on the views ``x1``, ``x2``, without updating.

        1. inner gradient :math:`g = \\nabla_\\theta \\mathcal L_{\\rm in}(\\theta)`;
        2. look-ahead :math:`\\theta' = \\theta - \\alpha g` and hyper-gradient
           :math:`\\nabla_\\theta \\mathcal L_{\\rm out}(\\theta')`, through :math:`g` (Hessian-vector
           term included) when ``second_order``, with :math:`g` held constant otherwise.

        Returns
        -------
        tuple
            ``(inner_gradient, hyper_gradient, terms)``: two lists of tensors shaped like
            :attr:`late_parameters`, and the detached terms ``"ssl"``, ``"similarity_kl"`` (at
            :math:`\\theta`), ``"reduction"`` (at :math:`\\theta'`), ``"inner"`` and ``"outer"``.
        """
        params = dict(zip(self._names, self.late_parameters))
        t_in = self.terms(x1, x2)
        inner = self.inner_loss(t_in)
        grads = torch.autograd.grad(inner, self.late_parameters, create_graph=self.second_order)
        look = {
            name: p - self.inner_lr * (g if self.second_order else g.detach())
            for (name, p), g in zip(params.items(), grads)
        }
        t_out = self.terms(x1, x2, look)
        outer = self.outer_loss(t_out)
        hyper = list(torch.autograd.grad(outer, self.late_parameters))
        terms = {
            "ssl": t_in["ssl"],
            "similarity_kl": t_in["similarity_kl"],
            "reduction": t_out["reduction"],
            "inner": inner,
            "outer": outer,
        }
        return [g.detach() for g in grads], hyper, {k: v.detach() for k, v in terms.items()}

    def step(self, x1: torch.Tensor, x2: torch.Tensor) -> dict[str, float]:
        """One bi-level update on the views ``x1``, ``x2``; returns the terms as numbers.

        Computes :meth:`gradients`, then takes an Adam step with the inner gradient and an Adam
        step with the hyper-gradient (two optimisers on the same parameters).
        """
        self._late.train()
        grads, hyper, terms = self.gradients(x1, x2)
        self._apply(self.inner_optimizer, grads)
        self._apply(self.outer_optimizer, hyper)
        out = {name: float(v) for name, v in terms.items()}
        out["loss"] = out["outer"]
        return out

    def _apply(self, optimizer: torch.optim.Optimizer, gradients: list[torch.Tensor]) -> None:
        """One step of ``optimizer`` with the given gradients of :attr:`late_parameters`."""
        for p, g in zip(self.late_parameters, gradients):
            p.grad = g
        optimizer.step()
        for p in self.late_parameters:
            p.grad = None

    def fit(
        self,
        x: torch.Tensor,
        view: Callable[..., torch.Tensor],
        steps: int,
        batch_size: int = 100,
        generator: torch.Generator | None = None,
        every: int = 10,
        monitor: Mapping[str, Callable[[], float]] | None = None,
        progress: bool | None = None,
    ) -> train.History:
        """Run ``steps`` bi-level updates on mini-batches of ``x`` with two random views each.

        Parameters
        ----------
        x
            Training inputs, shape ``(n, d)``.
        view
            Augmentation ``view(x, generator=...)``.
        steps, batch_size, every
            Number of updates, batch size and recording period.
        generator
            Source of the batches and views.
        monitor
            Named callables recorded (without gradients) every ``every`` steps and at the end.
        progress
            Show a tqdm progress bar (default: only at the ``paper`` scale, as in
            :func:`sslbook.train.fit`).

        Returns
        -------
        sslbook.train.History
            The terms returned by :meth:`step`, and the monitors.
        """
        _checks.model_input(x, self.model.widths[0], self.model.layers[0][0].weight)
        if x.shape[0] < 2:
            raise ValueError(f"x needs at least two rows, got shape {tuple(x.shape)}")
        if not callable(view):
            raise TypeError("view must be callable")
        batch_size = _checks.integer(batch_size, "batch_size", minimum=2, maximum=x.shape[0])
        steps = _checks.integer(steps, "steps", minimum=1)
        batches = train.minibatches(x.shape[0], batch_size, generator=generator)

        def step(t: int) -> dict[str, torch.Tensor]:
            # train.fit's optimiser is the outer one: this step takes the inner Adam step itself and
            # returns a loss whose gradient is the hyper-gradient (and whose value is the outer loss).
            xb = x[next(batches).to(x.device)]
            self._late.train()
            grads, hyper, terms = self.gradients(view(xb, generator=generator), view(xb, generator=generator))
            self._apply(self.inner_optimizer, grads)
            surrogate = sum((p * h).sum() for p, h in zip(self.late_parameters, hyper))
            return {**terms, "loss": terms["outer"] + (surrogate - surrogate.detach())}

        try:
            return train.fit(
                step,
                self.late_parameters,
                steps,
                None,
                optimizer=self.outer_optimizer,
                monitor=monitor,
                every=every,
                progress=progress,
                desc="UMM",
            )
        finally:
            for p in self.late_parameters:
                p.grad = None
